// The device side of a split virtqueue (virtio 1.2 2.7): pops descriptor
// chains the driver made available (direct and indirect descriptors,
// 2.7.5), returns them through the used ring (2.7.8) and makes both
// notification-suppression decisions (2.7.7 used buffer notifications to
// the driver, 2.7.10 available buffer notifications to the device), with and
// without VIRTIO_F_EVENT_IDX.
//
// All of the ring is guest memory that a hostile or buggy driver may change
// at any moment: every index and descriptor is read once with an explicit
// little-endian load and checked before use. Any violation of the driver
// requirements marks the queue broken (the transport then sets
// DEVICE_NEEDS_RESET, 2.1.1) and returns an error; a broken queue does
// nothing until reset. Portable, host-tested, fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/virtio/guest_ram.hpp"

namespace vmm::virtio {

// Reserved feature bits (virtio 1.2 6).
namespace feature {
inline constexpr uint64_t indirect_desc = 1ull << 28;
inline constexpr uint64_t event_idx = 1ull << 29;
inline constexpr uint64_t version_1 = 1ull << 32;
}  // namespace feature

// Ring layouts, little-endian in guest memory (2.7.5, 2.7.6, 2.7.8).
struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);
static_assert(offsetof(VirtqDesc, len) == 8 && offsetof(VirtqDesc, flags) == 12 && offsetof(VirtqDesc, next) == 14);

// virtq_avail: flags, idx, ring[size], then used_event (with EVENT_IDX).
struct VirtqAvailHeader {
    uint16_t flags;
    uint16_t idx;
};
static_assert(sizeof(VirtqAvailHeader) == 4 && offsetof(VirtqAvailHeader, idx) == 2);

// virtq_used: flags, idx, ring[size] of these, then avail_event.
struct VirtqUsedElem {
    uint32_t id;   // head of the chain (le32 though heads fit 16 bits)
    uint32_t len;  // bytes written into the chain's device-writable part
};
static_assert(sizeof(VirtqUsedElem) == 8 && offsetof(VirtqUsedElem, len) == 4);
struct VirtqUsedHeader {
    uint16_t flags;
    uint16_t idx;
};
static_assert(sizeof(VirtqUsedHeader) == 4);

inline constexpr uint16_t desc_f_next = 1, desc_f_write = 2, desc_f_indirect = 4;
inline constexpr uint16_t avail_f_no_interrupt = 1;  // 2.7.7
inline constexpr uint16_t used_f_no_notify = 1;      // 2.7.10

// Ring sizes in bytes for a queue of n entries (2.7, "Queue Size" table);
// both include the trailing event field.
constexpr uint64_t desc_table_bytes(uint16_t n) { return 16ull * n; }
constexpr uint64_t avail_ring_bytes(uint16_t n) { return 6ull + 2ull * n; }
constexpr uint64_t used_ring_bytes(uint16_t n) { return 6ull + 8ull * n; }

// 2.7.7.1 / 2.7.10.1: with EVENT_IDX, the other side wants a notification
// when the index it publishes moves from old_idx to new_idx past event_idx
// (i.e. event_idx is in [old_idx, new_idx) modulo 2^16).
constexpr bool need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return uint16_t(new_idx - event_idx - 1) < uint16_t(new_idx - old_idx);
}

// One guest buffer of a chain, already mapped.
struct Segment {
    uint8_t* host;
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

// A popped descriptor chain: device-readable segments first, then
// device-writable ones (2.7.4.2 requires that order of the driver).
struct Chain {
    // Longest chain a device can take; devices advertise limits below it
    // (e.g. virtio-blk seg_max). Longer chains fail as too_many_segments.
    static constexpr unsigned max_segments = 128;

    uint16_t head = 0;
    unsigned count = 0;
    uint64_t readable = 0;  // total bytes in device-readable segments
    uint64_t writable = 0;  // total bytes in device-writable segments
    Segment seg[max_segments];

    // Gathers up to len bytes of the readable part from byte `from` on;
    // returns how many were copied.
    size_t read(uint64_t from, void* dst, size_t len) const;
    // Scatters up to len bytes into the writable part from byte `at` on.
    size_t write(uint64_t at, const void* src, size_t len) const;
};

// Why a queue broke (for logs and tests).
enum class Fault : uint8_t {
    none,
    avail_idx,          // avail->idx moved by more than the queue size
    head_range,         // ring entry >= queue size
    head_in_use,        // head already popped and not yet used
    next_range,         // next >= queue size (or >= indirect table length)
    loop,               // more descriptors in one chain than the table holds
    indirect_nested,    // INDIRECT inside an indirect table
    indirect_len,       // indirect table length 0 or not a multiple of 16
    indirect_next,      // INDIRECT together with NEXT (2.7.5.3.1)
    indirect_unneg,     // INDIRECT without VIRTIO_F_INDIRECT_DESC
    zero_len,           // a zero-length buffer
    not_ram,            // buffer, table or ring not wholly in guest RAM
    write_then_read,    // device-readable after device-writable (2.7.4.2)
    too_many_segments,  // longer than Chain::max_segments
    too_long,           // more than 2^32 bytes in one chain (2.7.5.2)
    device,             // the device model found the request malformed
};

class Virtqueue {
public:
    static constexpr uint16_t max_size = 1024;

    struct Layout {
        uint16_t size;   // power of two, 1..max_size
        uint64_t desc;   // 16-byte aligned
        uint64_t avail;  // 2-byte aligned
        uint64_t used;   // 4-byte aligned
    };

    // Maps the three rings and starts at index 0. event_idx / indirect say
    // whether VIRTIO_F_EVENT_IDX / VIRTIO_F_INDIRECT_DESC were negotiated.
    // Fails (without breaking anything) on a bad layout.
    lib::Status enable(GuestRam& ram, const Layout& layout, bool event_idx, bool indirect);
    void reset();

    bool enabled() const { return enabled_; }
    bool broken() const { return fault_ != Fault::none; }
    Fault fault() const { return fault_; }
    uint16_t size() const { return size_; }
    uint16_t last_avail() const { return last_avail_; }
    uint16_t used_idx() const { return used_idx_; }
    unsigned in_flight() const { return in_flight_; }

    // The next available chain into out: true, or false when the ring is
    // empty. Errors mark the queue broken.
    lib::Result<bool> pop(Chain& out);
    // Returns chain `head` with `written` bytes written: the element first,
    // then (release order) the used index. invalid if head is not in flight.
    lib::Status push(uint16_t head, uint32_t written);
    // Gives back the chain popped last (chains are given back in the
    // reverse order of pop()): it stays available and the next pop() reads
    // and checks it again. For a device that needs several chains for one
    // request and finds too few (virtio-net's mergeable receive buffers).
    // invalid if head is not in flight.
    lib::Status unpop(uint16_t head);
    // After one or more push(): true when the driver wants an interrupt for
    // the used buffers added since the last call (2.7.7).
    bool should_interrupt();

    // Available buffer notification suppression (2.7.10): while processing
    // a burst the device may ask not to be kicked. enable_notify() returns
    // true when buffers were made available meanwhile (pop again).
    void disable_notify();
    bool enable_notify();

    // A device model's own verdict on a chain it could not accept.
    void set_broken(Fault f = Fault::device) { if (fault_ == Fault::none) fault_ = f; }

private:
    lib::Status fail(Fault f, lib::Error e = lib::Error::invalid);
    lib::Status walk(uint16_t head, Chain& out);
    lib::Status add(Chain& out, uint64_t addr, uint32_t len, uint16_t flags);
    uint16_t avail_idx() const;
    bool is_in_flight(uint16_t h) const { return (inflight_[h / 64] >> (h % 64)) & 1; }

    GuestRam* ram_ = nullptr;
    uint8_t* desc_ = nullptr;
    uint8_t* avail_ = nullptr;
    uint8_t* used_ = nullptr;
    uint16_t size_ = 0;
    uint16_t last_avail_ = 0;  // next avail ring slot to consume
    uint16_t used_idx_ = 0;    // our copy of used->idx
    uint16_t signalled_used_ = 0;
    bool enabled_ = false;
    bool event_idx_ = false;
    bool indirect_ = false;
    bool notify_enabled_ = true;
    Fault fault_ = Fault::none;
    unsigned in_flight_ = 0;
    uint64_t inflight_[max_size / 64] = {};
};

}  // namespace vmm::virtio
