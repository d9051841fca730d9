#include "vmm/control/domain_disks.hpp"

#include "lib/format.hpp"
#include "vmm/block/buffer.hpp"
#include "vmm/block/image.hpp"

namespace vmm {
namespace {

lib::Result<block::Format> image_format(DiskFormat f)
{
    switch (f) {
    case DiskFormat::raw: return block::Format::raw;
    case DiskFormat::qcow2: return block::Format::qcow2;
    case DiskFormat::vhd: return block::Format::vpc;
    case DiskFormat::qcow:
    case DiskFormat::qed:
    case DiskFormat::empty: break;
    }
    return lib::err(lib::Error::unsupported);
}

const char* open_error(lib::Error e)
{
    switch (e) {
    case lib::Error::not_found: return "no such file in Dom0's files";
    case lib::Error::invalid:
    case lib::Error::truncated:
    case lib::Error::bad_checksum:
    case lib::Error::corrupt: return "not a valid image of that format";
    case lib::Error::unsupported: return "uses a feature of the format that is not supported";
    case lib::Error::no_memory: return "out of memory in Dom0";
    default: return lib::error_name(e);
    }
}

const char* host_open_error(lib::Error e)
{
    switch (e) {
    case lib::Error::not_found: return "no such disk or partition in Dom0 (lsblk lists them)";
    case lib::Error::busy: return "in use: another domain has it open, or has it writable";
    case lib::Error::denied: return "the disk is read-only";
    case lib::Error::io: return "the disk reported an I/O error";
    default: return open_error(e);
    }
}

}  // namespace

bool DomainDisks::disk_index(lib::StrView v, unsigned& index, uint32_t& devid)
{
    // The letters after the prefix name the disk; anything after them is a
    // partition, which virtio-blk cannot present on its own.
    auto letter = [&](lib::StrView rest, char last) {
        if (rest.size() != 1 || rest[0] < 'a' || rest[0] > last) return false;
        index = unsigned(rest[0] - 'a');
        return true;
    };
    bool ok = false;
    if (v.starts_with("xvd")) {
        ok = letter(v.substr(3), 'z');
        devid = (202u << 8) | (index << 4);
    } else if (v.starts_with("hd")) {
        ok = letter(v.substr(2), 'd');
        devid = index < 2 ? (3u << 8) | (index << 6) : (22u << 8) | ((index - 2) << 6);
    } else if (v.starts_with("sd")) {
        ok = letter(v.substr(2), 'p');
        devid = (8u << 8) | (index << 4);
    } else if (v.starts_with("d")) {
        auto n = lib::parse_u64(v.substr(1));
        ok = n.ok() && *n < 26 && (v.size() == 2 || v[1] != '0');
        if (ok) {
            index = unsigned(*n);
            devid = (202u << 8) | (index << 4);
        }
    }
    return ok && index < max_disks;
}

lib::Status DomainDisks::attach(const DomainConfig& cfg, platform::PcPlatform& pc, xl::Output& out)
{
    for (size_t i = 0; i < cfg.disk_count; ++i) {
        char label[64];
        lib::format(label, sizeof label, "disk %zu (%s)", i + 1, cfg.disks[i].vdev);
        TRY(attach_one(cfg.disks[i], label, cfg.vcpus, pc, false, out));
    }
    return {};
}

lib::Status DomainDisks::hot_attach(const DiskConfig& d, uint32_t vcpus, platform::PcPlatform& pc, xl::Output& out)
{
    const size_t before = count_;
    auto s = attach_one(d, d.vdev, vcpus, pc, true, out);
    if (!s.ok() && count_ > before) remove(count_ - 1);  // its function is already gone (hotplug_virtio)
    return s;
}

int DomainDisks::find(uint32_t devid) const
{
    for (size_t i = 0; i < count_; ++i)
        if (disks_[i].devid == devid) return int(i);
    return -1;
}

void DomainDisks::remove(size_t i)
{
    if (i >= count_) return;
    Disk& k = disks_[i];
    block::destroy_in(alloc_, k.blk);
    if (k.dev) (void)k.dev->close();
    for (size_t j = i; j + 1 < count_; ++j) disks_[j] = disks_[j + 1];
    disks_[--count_] = Disk{};
}

lib::Status DomainDisks::attach_one(const DiskConfig& d, const char* label, uint32_t vcpus, platform::PcPlatform& pc,
                                    bool hot, xl::Output& out)
{
    auto refuse = [&](const char* why) {
        out.print("xl: %s: %s\n", label, why);
        return lib::Status(lib::Error::unsupported);
    };
    if (d.cdrom) return refuse("CD-ROM drives are not supported yet (devtype=cdrom)");
    if (d.backend[0]) return refuse("disks served by another domain (backend=) are not supported; Dom0 serves them");
    if (d.script[0]) return refuse("hotplug scripts (script=) are not supported");
    unsigned index = 0;
    uint32_t devid = 0;
    if (!disk_index(d.vdev, index, devid))
        return refuse("virtio-blk presents whole disks only: use one of xvda-xvdh (hda-hdd, sda-sdh, d0-d7), "
                      "not a partition or a later disk");
    for (size_t j = 0; j < count_; ++j)
        if (disks_[j].index == index) {
            if (hot)
                out.print("xl: %s: vdev in use: the domain has %s (%s)%s\n", label, disks_[j].vdev, disks_[j].target,
                          pc.eject_pending(disks_[j].slot) ? ", which is being detached" : "");
            else out.print("xl: %s: the same disk as %s\n", label, disks_[j].vdev);
            return lib::Error::exists;
        }
    auto fmt = image_format(d.format);
    if (!fmt) return refuse("only raw, qcow2 and vhd images are supported");
    bool host_disk = hostdev::TargetOpener::is_host_disk(d.target);
    if (d.readwrite && !host_disk) {
        out.print("xl: %s: target '%s' is one of Dom0's files, which are read-only: use access=ro\n", label, d.target);
        return lib::Error::denied;
    }
    block::OpenOptions opt;
    opt.writable = d.readwrite;
    opt.format = *fmt;
    const char* detail = nullptr;
    opt.detail = &detail;
    auto dev = block::open_image(alloc_, opener_, d.target, {}, opt);
    if (!dev && host_disk) {
        out.print("xl: %s: cannot open '%s' as %s: %s%s%s\n", label, d.target, disk_format_name(d.format),
                  host_open_error(dev.error()), detail ? ": " : "", detail ? detail : "");
        return lib::err(dev.error());
    }
    if (!dev) {
        out.print("xl: %s: cannot open '%s' as %s: %s%s%s\n", label, d.target, disk_format_name(d.format),
                  open_error(dev.error()), detail ? ": " : "", detail ? detail : "");
        return lib::err(dev.error());
    }
    Disk& k = disks_[count_++];
    k = Disk{};
    lib::copy_cstr(k.vdev, sizeof k.vdev, d.vdev);
    lib::copy_cstr(k.target, sizeof k.target, d.target);
    k.index = index;
    k.slot = first_slot + index;
    k.devid = devid;
    k.dev = *dev;
    // GET_ID: "hv-" and the vdev, so the guest can tell its disks apart
    // (/sys/block/vda/serial).
    char serial[virtio::blk_id_bytes + 1];
    lib::format(serial, sizeof serial, "hv-%s", d.vdev);
    const unsigned queues = vcpus < max_queues ? (vcpus ? vcpus : 1) : max_queues;
    k.blk = block::make_in<virtio::VirtioBlk>(alloc_, *k.dev, serial, queues);
    if (!k.blk) {
        out.print("xl: %s: out of memory in Dom0\n", label);
        return lib::Error::no_memory;
    }
    auto s = hot ? pc.hotplug_virtio(*k.blk, k.slot, alloc_) : pc.attach_virtio(*k.blk, k.slot, alloc_);
    if (!s.ok()) {
        out.print("xl: %s: cannot plug it in at PCI slot %u: %s\n", label, k.slot, lib::error_name(s.error()));
        return s;
    }
    return {};
}

void DomainDisks::close()
{
    for (size_t i = 0; i < count_; ++i) {
        Disk& k = disks_[i];
        block::destroy_in(alloc_, k.blk);
        if (k.dev) (void)k.dev->close();  // a writable image flushes its metadata and data here
        k = Disk{};
    }
    count_ = 0;
}

}  // namespace vmm
