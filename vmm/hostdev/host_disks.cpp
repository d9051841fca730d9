#include "vmm/hostdev/host_disks.hpp"

#include "lib/format.hpp"
#include "vmm/block/buffer.hpp"
#include "vmm/block/partition/partition_file.hpp"
#include "vmm/block/partition/partition_table.hpp"

namespace vmm::hostdev {
namespace {

unsigned kind_index(lib::StrView kind)
{
    if (kind == "vd") return 0;
    if (kind == "sd") return 1;
    if (kind == "nvme") return 2;
    return 3;
}

// vda, vdb, ... vdz; sda...; nvme0n1, nvme1n1.
void disk_name(char* out, size_t cap, const char* kind, unsigned n)
{
    if (lib::StrView(kind) == "nvme") lib::format(out, cap, "nvme%un1", n);
    else lib::format(out, cap, "%s%c", kind, char('a' + n % 26));
}

// Sizes as lsblk prints them: 512B, 1K, 20M, 1.5G.
void human_size(char* out, size_t cap, uint64_t bytes)
{
    const char units[] = "BKMGTP";
    unsigned u = 0;
    uint64_t whole = bytes, tenth = 0;
    while (whole >= 1024 && u + 1 < sizeof units - 1) {
        tenth = (whole % 1024) * 10 / 1024;
        whole /= 1024;
        ++u;
    }
    if (whole < 10 && tenth && u) lib::format(out, cap, "%lu.%lu%c", whole, tenth, units[u]);
    else lib::format(out, cap, "%lu%c", whole, units[u]);
}

}  // namespace

HostDisks::~HostDisks()
{
    for (size_t i = 0; i < volume_count_; ++i)
        if (volumes_[i].partition) {
            auto* f = static_cast<block::PartitionFile*>(volumes_[i].file);
            block::destroy_in(alloc_, f);
        }
}

lib::Status HostDisks::add_disk(const char* kind, const drivers::BlockDevice& dev, block::File& whole,
                                const char** name_out)
{
    if (disk_count_ == max_disks || volume_count_ == max_volumes) return lib::Error::no_memory;
    unsigned k = kind_index(kind);
    if (k == 3 || kind_counts_[k] >= 26) return lib::Error::unsupported;
    unsigned index = unsigned(disk_count_);
    Disk& d = disks_[disk_count_++];
    disk_name(d.name, sizeof d.name, kind, kind_counts_[k]++);
    d.dev = &dev;
    d.whole = &whole;
    Volume& v = volumes_[volume_count_++];
    v = Volume{};
    lib::copy_cstr(v.name, sizeof v.name, d.name);
    lib::format(v.path, sizeof v.path, "%s%s", dev_prefix, v.name);
    v.disk = index;
    v.size = whole.size();
    v.file = &whole;
    if (name_out) *name_out = d.name;
    return add_partitions(index);
}

lib::Status HostDisks::add_partitions(unsigned index)
{
    Disk& d = disks_[index];
    auto* table = block::make_in<block::PartitionTable>(alloc_);
    if (!table) return lib::Error::no_memory;
    uint32_t ss = d.dev->info().sector_size;
    lib::Status s = block::read_partition_table(*d.whole, ss, *table);
    problem_ = table->problem;
    used_backup_ = table->used_backup;
    if (s.error() == lib::Error::not_found) s = {};  // a disk without a table: the whole disk only
    for (unsigned i = 0; s.ok() && i < table->count; ++i) {
        const block::Partition& p = table->parts[i];
        if (volume_count_ == max_volumes) {
            s = lib::Error::no_memory;
            break;
        }
        auto* f = block::make_in<block::PartitionFile>(alloc_, *d.whole, p.first_lba * ss, p.sectors * ss);
        if (!f) {
            s = lib::Error::no_memory;
            break;
        }
        Volume& v = volumes_[volume_count_++];
        v = Volume{};
        // Linux's names: a disk whose name ends in a digit takes a 'p'.
        size_t len = lib::StrView(d.name).size();
        bool digit = len && d.name[len - 1] >= '0' && d.name[len - 1] <= '9';
        lib::format(v.name, sizeof v.name, "%s%s%u", d.name, digit ? "p" : "", p.number);
        lib::format(v.path, sizeof v.path, "%s%s", dev_prefix, v.name);
        v.disk = index;
        v.partition = p.number;
        v.offset = p.first_lba * ss;
        v.size = p.sectors * ss;
        lib::copy_cstr(v.label, sizeof v.label, p.name);
        v.file = f;
    }
    block::destroy_in(alloc_, table);
    return s;
}

HostDisks::Volume* HostDisks::find(lib::StrView name)
{
    for (size_t i = 0; i < volume_count_; ++i)
        if (lib::StrView(volumes_[i].name) == name) return &volumes_[i];
    return nullptr;
}

HostDisks::Volume* HostDisks::by_file(const block::File* f)
{
    for (size_t i = 0; i < volume_count_; ++i)
        if (volumes_[i].file == f) return &volumes_[i];
    return nullptr;
}

bool HostDisks::owns(const block::File* f) const
{
    for (size_t i = 0; i < volume_count_; ++i)
        if (volumes_[i].file == f) return true;
    return false;
}

lib::Result<block::File*> HostDisks::open(lib::StrView name, lib::StrView, bool writable)
{
    if (!name.starts_with(dev_prefix)) return lib::Error::not_found;
    Volume* v = find(name.substr(sizeof dev_prefix - 1));
    if (!v) return lib::Error::not_found;
    if (writable && !v->file->writable()) return lib::Error::denied;
    // One writer and nobody else, or readers only. A partition and its
    // whole disk are distinct names for overlapping bytes: a writer on
    // either excludes the other.
    for (size_t i = 0; i < volume_count_; ++i) {
        const Volume& o = volumes_[i];
        if (o.disk != v->disk || !(o.readers || o.writer)) continue;
        bool overlap = &o == v || o.partition == 0 || v->partition == 0;
        if (!overlap) continue;
        if (o.writer || writable) return lib::Error::busy;
    }
    if (writable) v->writer = true;
    else ++v->readers;
    return v->file;
}

void HostDisks::close(block::File* f)
{
    Volume* v = by_file(f);
    if (!v) return;
    if (v->writer) v->writer = false;
    else if (v->readers) --v->readers;
}

lib::StrView HostDisks::resolved_name(block::File* f)
{
    Volume* v = by_file(f);
    return v ? lib::StrView(v->path) : lib::StrView();
}

void HostDisks::list(xl::Output& out) const
{
    out.print("%-12s %7s %-4s %s\n", "NAME", "SIZE", "USE", "MODEL/LABEL");
    for (size_t i = 0; i < volume_count_; ++i) {
        const Volume& v = volumes_[i];
        char size[16];
        human_size(size, sizeof size, v.size);
        const char* use = v.writer ? "rw" : v.readers ? "ro" : "-";
        const char* what = v.partition ? v.label : disks_[v.disk].dev->info().model;
        out.print("%s%-*s %7s %-4s %s\n", v.partition ? "`-" : "", v.partition ? 10 : 12, v.name, size, use, what);
    }
    if (!volume_count_) out.print("(no disks: Dom0 found no virtio-blk, AHCI or NVMe disk)\n");
}

bool TargetOpener::is_host_disk(lib::StrView name) { return name.starts_with(dev_prefix); }

lib::Result<block::File*> TargetOpener::open(lib::StrView name, lib::StrView relative_to, bool writable)
{
    if (is_host_disk(name)) {
        if (!disks_) return lib::Error::not_found;
        return disks_->open(name, relative_to, writable);
    }
    // A relative backing-file name under a host disk has nothing to be
    // relative to: host volumes are a flat namespace.
    if (is_host_disk(relative_to)) return lib::Error::not_found;
    return files_.open(name, relative_to, writable);
}

void TargetOpener::close(block::File* f)
{
    if (disks_ && disks_->owns(f)) disks_->close(f);
    else files_.close(f);
}

lib::StrView TargetOpener::resolved_name(block::File* f)
{
    if (disks_ && disks_->owns(f)) return disks_->resolved_name(f);
    return files_.resolved_name(f);
}

}  // namespace vmm::hostdev
