// The driver's side of a split virtqueue (virtio 1.x section 2.7): the
// descriptor table, the available ring and the used ring in one DMA buffer.
// Free descriptors are tracked in a shadow list the device cannot touch, and
// every used entry is checked against what is in flight, so a misbehaving
// device marks the queue broken instead of corrupting the driver.
#pragma once

#include <cstdint>

#include "drivers/platform/device_platform.hpp"
#include "lib/result.hpp"

namespace drivers::virtio {

struct VringDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(VringDesc) == 16);

struct VringUsedElem {
    uint32_t id;
    uint32_t len;
};
static_assert(sizeof(VringUsedElem) == 8);

inline constexpr uint16_t desc_next = 1, desc_write = 2;

class SplitQueue {
public:
    static constexpr uint16_t max_size = 256;

    struct Segment {
        uint64_t bus;
        uint32_t len;
        bool device_writes;
    };
    struct Used {
        uint16_t head;
        uint32_t len;
    };

    // size: a power of two up to max_size (the device's maximum caps it).
    lib::Status init(DevicePlatform& p, uint16_t size);
    uint16_t size() const { return size_; }
    uint64_t desc_bus() const { return mem_.bus; }
    uint64_t avail_bus() const { return mem_.bus + avail_off_; }
    uint64_t used_bus() const { return mem_.bus + used_off_; }
    unsigned free_descriptors() const { return free_count_; }
    bool broken() const { return broken_; }

    // Chains the segments and makes the chain available; returns its head.
    // `busy` when too few descriptors are free.
    lib::Result<uint16_t> add(const Segment* segs, unsigned n);
    // Whether the device asked to be notified (VRING_USED_F_NO_NOTIFY clear).
    bool needs_notify() const;
    // The next used chain, its descriptors freed; false when none (or broken).
    bool take_used(Used& out);
    // For a stall report: the indices as the driver and the device see them.
    uint16_t avail_index() const { return avail_idx_; }
    uint16_t used_index() const { return used_hdr()[1]; }
    uint16_t used_flags() const { return used_hdr()[0]; }
    uint16_t used_seen() const { return used_seen_; }

private:
    volatile VringDesc* desc() const { return static_cast<volatile VringDesc*>(mem_.va); }
    volatile uint16_t* avail() const { return reinterpret_cast<volatile uint16_t*>(base() + avail_off_); }
    volatile uint16_t* used_hdr() const { return reinterpret_cast<volatile uint16_t*>(base() + used_off_); }
    volatile VringUsedElem* used_ring() const
    {
        return reinterpret_cast<volatile VringUsedElem*>(base() + used_off_ + 4);
    }
    uint8_t* base() const { return static_cast<uint8_t*>(mem_.va); }

    DmaBuffer mem_{};
    uint32_t avail_off_ = 0, used_off_ = 0;
    uint16_t size_ = 0;
    uint16_t avail_idx_ = 0, used_seen_ = 0;
    uint16_t free_head_ = 0, free_count_ = 0;
    bool broken_ = false;
    uint16_t next_[max_size] = {};        // shadow of the chains' next links
    uint8_t chain_len_[max_size] = {};    // 0: not a head in flight
};

}  // namespace drivers::virtio
