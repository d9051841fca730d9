// A domain's disks: the xl.cfg disk= entries opened as images, on the host's
// disks and partitions (targets /dev/vda1, /dev/nvme0n1p2: vmm/hostdev,
// read-write) or among Dom0's files (the boot cpio archive, read-only), and
// plugged into its PC platform as virtio-blk functions, one PCI slot per disk.
//
// The vdev picks the slot, so the guest's disk order follows the names and
// not the order of the list: xvda (or hda, sda, d0) is disk 0 at 00:10.0,
// xvdb disk 1 at 00:11.0, up to 8 disks (xvdh; slots 8-15 are left to the
// vifs' virtio-net functions). Linux calls them vda, vdb,
// ... in slot order. Partition vdevs (xvda1), CD-ROMs, driver domains
// (backend=) and hotplug scripts (script=) are refused with a message, as is
// access=rw for an image among Dom0's files: the archive is read-only. xl block-attach adds a disk to a
// running guest the same way (PCI hotplug), block-detach takes it out. A
// disk on a host volume can have live snapshots (vmm/block/chain): its image
// is then the top of the volume's chain, opened in whatever format it has.
// Portable (messages go to an
// xl::Output, memory comes from an Allocator), host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/allocator.hpp"
#include "lib/result.hpp"
#include "vmm/block/archive/cpio_opener.hpp"
#include "vmm/block/chain/volume_chain.hpp"
#include "vmm/block/device.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/control/xl_cfg.hpp"
#include "vmm/files/cpio.hpp"
#include "vmm/hostdev/host_disks.hpp"
#include "vmm/platform/pc_platform.hpp"
#include "vmm/virtio/virtio_blk.hpp"

namespace vmm {

class DomainDisks {
public:
    static constexpr unsigned first_slot = 16;  // disk 0 at 00:10.0
    static constexpr unsigned max_disks = 8;    // slots 16-23
    static constexpr unsigned max_queues = 4;  // request queues per disk: one per vCPU up to this

    struct Disk {
        char vdev[xl_vdev_size] = "";
        char target[xl_path_size] = "";
        unsigned index = 0;  // 0 for xvda/hda/sda/d0, 1 for xvdb, ...
        unsigned slot = 0;
        uint32_t devid = 0;  // Xen's device number (xen-vbd-interface(7)), as xl block-list shows it
        block::BlockDevice* dev = nullptr;
        virtio::VirtioBlk* blk = nullptr;
        // The doorbell fast path, as on vifs: whether Dom0 is to bind each
        // request queue's notify register to an event port (disk= ioevent),
        // the ports bound (0: the write is forwarded as MMIO) and the notify
        // address they are bound at (0: none; they follow BAR4 when the
        // guest moves it, and a hot-plugged disk gets them once the guest
        // has assigned its BAR). Dom0 binds and closes them: this class
        // makes no hypercalls.
        bool ioevent = false;
        uint32_t bell[max_queues] = {};
        uint64_t bells_at = 0;
    };

    DomainDisks(const files::CpioArchive& files, lib::Allocator& a, hostdev::HostDisks* host = nullptr)
        : files_(files, a), opener_(files_, host), chain_(opener_, a), alloc_(a)
    {
    }
    DomainDisks(const DomainDisks&) = delete;
    DomainDisks& operator=(const DomainDisks&) = delete;
    ~DomainDisks() { close(); }

    // Opens every disk of cfg and attaches it to pc. On failure, says why
    // on `out` in xl's words; what was opened stays until close().
    lib::Status attach(const DomainConfig& cfg, platform::PcPlatform& pc, xl::Output& out);
    // xl block-attach: opens one more disk and hot-plugs it into the running
    // guest (PcPlatform::hotplug_virtio). On failure says why on `out` and
    // leaves nothing of it behind; `exists` when its vdev is taken.
    lib::Status hot_attach(const DiskConfig& d, uint32_t vcpus, platform::PcPlatform& pc, xl::Output& out);
    // The disk with Xen's device number `devid`, or -1.
    int find(uint32_t devid) const;
    // Closes disk i and forgets it (later disks move down). Its virtio
    // function must be gone from the platform.
    void remove(size_t i);
    // Closes the images. The platform that uses their devices must be gone.
    void close();

    size_t count() const { return count_; }
    const Disk& disk(size_t i) const { return disks_[i]; }
    Disk& disk(size_t i) { return disks_[i]; }
    // Dom0's files open now (host volumes are counted by HostDisks).
    size_t open_files() const { return files_.open_files(); }

    // Live snapshots (xl snapshot-*) of the domain's writable disks on host
    // volumes, all of them at once, with the guest paused by the caller
    // (no request in flight). Disks among Dom0's files are read-only and
    // need none. Each prints why it refuses on `out` and changes nothing
    // then; `created` is Unix time.
    lib::Status snapshot_create(lib::StrView name, uint64_t created, xl::Output& out);
    lib::Status snapshot_delete(lib::StrView name, xl::Output& out);
    void snapshot_list(xl::Output& out);
    // Whether some writable disk has the snapshot.
    bool has_snapshot(lib::StrView name);
    // xl snapshot-revert, between destroying the domain and creating it
    // again from cfg: each writable volume of cfg that has the snapshot
    // shows its state again (the snapshots taken after it are given up).
    lib::Status revert(const DomainConfig& cfg, lib::StrView name, xl::Output& out);

    // xvda -> 0, xvdb -> 1, hdc -> 2, sdb -> 1, d3 -> 3; false for partitions
    // and names past max_disks. `devid` gets Xen's device number.
    static bool disk_index(lib::StrView vdev, unsigned& index, uint32_t& devid);

private:
    // One disk= entry: `label` names it in messages ("disk 1 (xvda)").
    lib::Status attach_one(const DiskConfig& d, const char* label, uint32_t vcpus, platform::PcPlatform& pc,
                           bool hot, xl::Output& out);

    // The writable disks of volumes, which snapshots act on.
    size_t snapshot_disks(size_t* out, xl::Output& msg);

    block::CpioOpener files_;
    hostdev::TargetOpener opener_;
    block::ChainOpener chain_;  // host volumes with their snapshot layers
    lib::Allocator& alloc_;
    Disk disks_[max_disks];
    size_t count_ = 0;
};

}  // namespace vmm
