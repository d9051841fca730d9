#include "vmm/control/domain_disks.hpp"

#include "lib/civil_time.hpp"
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
    if (host_disk) {
        // A volume with snapshots: its disk is the top of its chain, a qcow2
        // overlay whatever format= says of the image it began with.
        if (auto f = chain_.open(d.target, {}, false)) {
            const auto* v = chain_.volume(d.target);
            if (v && v->has_table) opt.format = block::Format::automatic;
            chain_.close(*f);
        }
    }
    const char* detail = nullptr;
    opt.detail = &detail;
    auto dev = block::open_image(alloc_, chain_, d.target, {}, opt);
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
    k.blk->set_event_idx_offered(d.event_idx);
    k.ioevent = d.ioevent;
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

// --- Live snapshots ---------------------------------------------------------

namespace {

const char* snapshot_error(lib::Error e)
{
    switch (e) {
    case lib::Error::out_of_range: return "no room left on its volume for another layer (or 31 snapshots already)";
    case lib::Error::unsupported: return "a raw image fills its volume: only qcow2 and vhd images can have snapshots";
    case lib::Error::io: return "the disk reported an I/O error";
    case lib::Error::exists: return "a snapshot of that name exists";
    case lib::Error::no_memory: return "out of memory in Dom0";
    default: return lib::error_name(e);
    }
}

}  // namespace

size_t DomainDisks::snapshot_disks(size_t* idx, xl::Output& out)
{
    size_t n = 0;
    for (size_t i = 0; i < count_; ++i) {
        const Disk& k = disks_[i];
        if (k.dev->read_only() || !hostdev::TargetOpener::is_host_disk(k.target)) continue;
        if (!chain_.volume(k.target)) continue;
        idx[n++] = i;
    }
    if (n == 0)
        out.print("xl: the domain has no writable disk on a host volume (disk= target /dev/..., access=rw): "
                  "nothing to snapshot\n");
    return n;
}

bool DomainDisks::has_snapshot(lib::StrView name)
{
    for (size_t i = 0; i < count_; ++i)
        if (auto* v = chain_.volume(disks_[i].target); v && v->has_table && v->chain.find(name) >= 0) return true;
    return false;
}

lib::Status DomainDisks::snapshot_create(lib::StrView name, uint64_t created, xl::Output& out)
{
    if (!block::VolumeChain::valid_name(name)) {
        out.print("xl: invalid snapshot name '%.*s': 1-47 characters of A-Z a-z 0-9 . _ + -, not starting with '.'\n",
                  int(name.size()), name.data());
        return lib::Error::invalid;
    }
    size_t idx[max_disks];
    const size_t n = snapshot_disks(idx, out);
    if (n == 0) return lib::Error::not_found;
    // Every disk is checked before any changes: a snapshot is all the
    // domain's disks or none of them.
    for (size_t j = 0; j < n; ++j) {
        Disk& k = disks_[idx[j]];
        auto* v = chain_.volume(k.target);
        auto end = block::layer_end(*k.dev);
        block::VolumeChain dry = v->chain;
        lib::Status s = end ? dry.push(name, dry.top().offset + *end, block::Format::qcow2, created, v->file->size())
                            : lib::Status(end.error());
        if (!s) {
            out.print("xl: %s (%s): cannot take snapshot '%.*s': %s\n", k.vdev, k.target, int(name.size()),
                      name.data(), snapshot_error(s.error()));
            return s;
        }
    }
    for (size_t j = 0; j < n; ++j) {
        Disk& k = disks_[idx[j]];
        auto* v = chain_.volume(k.target);
        const block::VolumeChain before = v->chain;
        auto s = block::chain_snapshot(alloc_, chain_, *v, *k.dev, name, created);
        block::BlockDevice* top = nullptr;
        if (s) {
            block::OpenOptions opt;
            opt.writable = true;
            auto d = block::open_image(alloc_, chain_, k.target, {}, opt);
            if (d && k.blk->replace_disk(**d).ok()) top = *d;
            else {
                if (d) (void)(*d)->close();
                s = d ? lib::Status(lib::Error::invalid) : lib::Status(d.error());
                // The guest goes on with the layer it had: the table must
                // not call it frozen.
                (void)v->chain.restore(*v->file, before);
                v->has_table = before.stored();
            }
        }
        if (!s) {
            out.print("xl: %s (%s): snapshot '%.*s' failed: %s%s\n", k.vdev, k.target, int(name.size()), name.data(),
                      snapshot_error(s.error()), j ? "; the disks before it have it" : "");
            return s;
        }
        (void)k.dev->close();  // the frozen layer: flushed and marked clean
        k.dev = top;
    }
    return {};
}

lib::Status DomainDisks::snapshot_delete(lib::StrView name, xl::Output& out)
{
    size_t idx[max_disks];
    const size_t n = snapshot_disks(idx, out);
    if (n == 0) return lib::Error::not_found;
    bool any = false;
    for (size_t j = 0; j < n; ++j) {
        auto* v = chain_.volume(disks_[idx[j]].target);
        const int i = v->has_table ? v->chain.find(name) : -1;
        if (i < 0) continue;
        any = true;
        if (uint32_t(i) + 2 != v->chain.count()) {
            out.print("xl: %s: '%.*s' is not the newest snapshot (that is '%s'): only the newest can be deleted; "
                      "snapshot-revert to an older one gives up the newer ones\n",
                      disks_[idx[j]].vdev, int(name.size()), name.data(), v->chain.layer(v->chain.count() - 2).snapshot);
            return lib::Error::busy;
        }
    }
    if (!any) {
        out.print("xl: no snapshot '%.*s'\n", int(name.size()), name.data());
        return lib::Error::not_found;
    }
    for (size_t j = 0; j < n; ++j) {
        Disk& k = disks_[idx[j]];
        auto* v = chain_.volume(k.target);
        if (!v->has_table || v->chain.find(name) < 0) continue;
        // Copies the snapshot's layer into the top: the data stays, safely
        // (a cut-short copy leaves the top reading what it read before).
        if (auto s = block::delete_newest_snapshot(alloc_, *v, *k.dev, name); !s) {
            out.print("xl: %s (%s): deleting snapshot '%.*s' failed: %s\n", k.vdev, k.target, int(name.size()),
                      name.data(), snapshot_error(s.error()));
            return s;
        }
    }
    return {};
}

void DomainDisks::snapshot_list(xl::Output& out)
{
    out.print("%-20s %-24s %-5s %-10s %s\n", "Name", "Creation Time", "Vdev", "Layer MiB", "Target");
    for (size_t i = 0; i < count_; ++i) {
        const Disk& k = disks_[i];
        const auto* v = chain_.volume(k.target);
        if (!v || !v->has_table) continue;
        for (uint32_t l = 0; l + 1 < v->chain.count(); ++l) {
            const auto& layer = v->chain.layer(l);
            const int64_t t = int64_t(layer.created);
            const lib::CivilDate d = lib::civil_from_days(t / 86400);
            const int64_t s = t % 86400;
            char when[32];
            lib::format(when, sizeof when, "%04lld-%02u-%02u %02lld:%02lld:%02lld UTC", (long long)d.year, d.month,
                        d.day, (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
            out.print("%-20s %-24s %-5s %-10llu %s\n", layer.snapshot, when, k.vdev,
                      (unsigned long long)((layer.length + (1u << 20) - 1) >> 20), k.target);
        }
    }
}

lib::Status DomainDisks::revert(const DomainConfig& cfg, lib::StrView name, xl::Output& out)
{
    bool any = false;
    for (size_t i = 0; i < cfg.disk_count; ++i) {
        const DiskConfig& d = cfg.disks[i];
        if (!d.readwrite || !hostdev::TargetOpener::is_host_disk(d.target)) continue;
        auto v = chain_.hold(d.target, true);
        if (!v) {
            out.print("xl: %s (%s): cannot open it to revert: %s\n", d.vdev, d.target, host_open_error(v.error()));
            return lib::err(v.error());
        }
        auto s = (*v)->has_table && (*v)->chain.find(name) >= 0 ? block::revert_volume(alloc_, chain_, **v, name)
                                                                : lib::Status(lib::Error::not_found);
        chain_.release(*v);
        if (s) any = true;
        else if (s.error() != lib::Error::not_found) {
            out.print("xl: %s (%s): revert to '%.*s' failed: %s\n", d.vdev, d.target, int(name.size()), name.data(),
                      snapshot_error(s.error()));
            return s;
        }
    }
    if (!any) {
        out.print("xl: no disk of the domain has snapshot '%.*s'\n", int(name.size()), name.data());
        return lib::Error::not_found;
    }
    return {};
}

}  // namespace vmm
