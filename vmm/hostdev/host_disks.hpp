// The disks Dom0 drives, by the names Linux would give them: vda, vdb
// (virtio-blk), sda (AHCI), nvme0n1 (NVMe), and their partitions (vda1,
// nvme0n1p2) from the GPT or MBR. xl.cfg targets name them as /dev/vda1;
// opening one gives a File for the image formats. A volume is opened
// writable by one user at a time and not at all while another has it open
// (Xen's "device already in use"), so two guests never share a writable
// image. Portable: Dom0 registers what its drivers found; the host tests
// register simulated disks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "drivers/block/block_device.hpp"
#include "lib/allocator.hpp"
#include "lib/str.hpp"
#include "vmm/block/file.hpp"
#include "vmm/block/opener.hpp"
#include "vmm/control/xl.hpp"

namespace vmm::hostdev {

inline constexpr char dev_prefix[] = "/dev/";

class HostDisks final : public block::FileOpener {
public:
    static constexpr unsigned max_disks = 8;
    static constexpr unsigned max_volumes = 64;
    static constexpr size_t name_size = 24;

    struct Volume {
        char name[name_size] = "";
        char path[sizeof dev_prefix + name_size] = "";  // "/dev/" and the name
        unsigned disk = 0;
        unsigned partition = 0;   // 0: the whole disk
        uint64_t offset = 0, size = 0;  // bytes
        char label[40] = "";      // GPT partition name
        block::File* file = nullptr;
        unsigned readers = 0;
        bool writer = false;
    };

    explicit HostDisks(lib::Allocator& a) : alloc_(a) {}
    HostDisks(const HostDisks&) = delete;
    HostDisks& operator=(const HostDisks&) = delete;
    ~HostDisks();

    // Registers a disk: `whole` is its File (a DiskFile), `kind` the name
    // stem ("vd", "sd", "nvme"). Reads its partition table; a disk without
    // one is a whole-disk volume only. The disk's name goes to *name_out.
    lib::Status add_disk(const char* kind, const drivers::BlockDevice& dev, block::File& whole,
                         const char** name_out = nullptr);

    // FileOpener: "/dev/<volume>" (relative_to is not used: volumes have
    // absolute names).
    lib::Result<block::File*> open(lib::StrView name, lib::StrView relative_to, bool writable) override;
    void close(block::File* f) override;
    lib::StrView resolved_name(block::File* f) override;
    bool owns(const block::File* f) const;

    // lsblk: NAME, SIZE, the model or partition name, who has it open.
    void list(xl::Output& out) const;

    size_t volume_count() const { return volume_count_; }
    const Volume& volume(size_t i) const { return volumes_[i]; }
    size_t disk_count() const { return disk_count_; }
    // What the last add_disk found wrong with the disk's partition table
    // (null if nothing), and whether it fell back on the GPT's backup.
    const char* table_problem() const { return problem_; }
    bool used_backup_table() const { return used_backup_; }

private:
    struct Disk {
        char name[name_size] = "";
        const drivers::BlockDevice* dev = nullptr;
        block::File* whole = nullptr;
    };
    Volume* find(lib::StrView name);
    Volume* by_file(const block::File* f);
    lib::Status add_partitions(unsigned disk);

    lib::Allocator& alloc_;
    Disk disks_[max_disks];
    size_t disk_count_ = 0;
    Volume volumes_[max_volumes];
    size_t volume_count_ = 0;
    unsigned kind_counts_[4] = {};  // vd, sd, nvme, other
    const char* problem_ = nullptr;
    bool used_backup_ = false;
};

// Routes xl.cfg targets: /dev/... to the host disks, the rest to Dom0's
// files (and their backing files likewise).
class TargetOpener final : public block::FileOpener {
public:
    TargetOpener(block::FileOpener& files, HostDisks* disks) : files_(files), disks_(disks) {}
    lib::Result<block::File*> open(lib::StrView name, lib::StrView relative_to, bool writable) override;
    void close(block::File* f) override;
    lib::StrView resolved_name(block::File* f) override;
    static bool is_host_disk(lib::StrView name);

private:
    block::FileOpener& files_;
    HostDisks* disks_;
};

}  // namespace vmm::hostdev
