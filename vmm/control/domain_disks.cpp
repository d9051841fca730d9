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
        const DiskConfig& d = cfg.disks[i];
        auto refuse = [&](const char* why) {
            out.print("xl: disk %zu (%s): %s\n", i + 1, d.vdev, why);
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
                out.print("xl: disk %zu (%s): the same disk as %s\n", i + 1, d.vdev, disks_[j].vdev);
                return lib::Error::exists;
            }
        auto fmt = image_format(d.format);
        if (!fmt) return refuse("only raw, qcow2 and vhd images are supported");
        if (d.readwrite) {
            out.print("xl: disk %zu (%s): target '%s' is one of Dom0's files, which are read-only: use access=ro\n",
                      i + 1, d.vdev, d.target);
            return lib::Error::denied;
        }
        block::OpenOptions opt;
        opt.writable = false;
        opt.format = *fmt;
        const char* detail = nullptr;
        opt.detail = &detail;
        auto dev = block::open_image(alloc_, opener_, d.target, {}, opt);
        if (!dev) {
            out.print("xl: disk %zu (%s): cannot open '%s' as %s: %s%s%s\n", i + 1, d.vdev, d.target,
                      disk_format_name(d.format), open_error(dev.error()), detail ? ": " : "", detail ? detail : "");
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
        const unsigned queues = cfg.vcpus < max_queues ? (cfg.vcpus ? cfg.vcpus : 1) : max_queues;
        k.blk = block::make_in<virtio::VirtioBlk>(alloc_, *k.dev, serial, queues);
        if (!k.blk) {
            out.print("xl: disk %zu (%s): out of memory in Dom0\n", i + 1, d.vdev);
            return lib::Error::no_memory;
        }
        if (auto s = pc.attach_virtio(*k.blk, k.slot, alloc_); !s.ok()) {
            out.print("xl: disk %zu (%s): cannot plug it in at PCI slot %u: %s\n", i + 1, d.vdev, k.slot,
                      lib::error_name(s.error()));
            return s;
        }
    }
    return {};
}

void DomainDisks::close()
{
    for (size_t i = 0; i < count_; ++i) {
        Disk& k = disks_[i];
        block::destroy_in(alloc_, k.blk);
        if (k.dev) (void)k.dev->close();  // read-only: nothing to flush
        k = Disk{};
    }
    count_ = 0;
}

}  // namespace vmm
