// Physical 4 KiB frame allocator: one bitmap per zone (a contiguous run of
// frames on one NUMA node), next-fit within a zone. It owns no memory: each
// zone's bitmap lives in memory the caller hands over. Not thread-safe; the
// kernel wraps it in a lock (hv/mem/frames.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/mem/memmap.hpp"
#include "lib/result.hpp"

namespace hv::mem {

inline constexpr uint32_t any_node = 0xffffffffu;

struct FrameRequest {
    size_t count = 1;            // contiguous frames
    size_t align = 1;            // in frames, power of two (alignment of the physical address)
    uint32_t node = any_node;    // preferred node
    bool node_strict = false;    // fail instead of falling back to other nodes
    uint64_t below = ~0ull;      // every returned frame lies below this physical address
};

struct NumaRange {
    uint64_t base;
    uint64_t size;
    uint32_t node;
};

class FrameAllocator {
public:
    static constexpr size_t max_zones = 64;
    static constexpr uint64_t frame_bytes = frame_size;

    // Bitmap size for a zone of `frames` frames: one bit per frame, whole
    // 64-bit words.
    static constexpr size_t metadata_bytes(uint64_t frames) { return size_t((frames + 63) / 64 * 8); }

    constexpr FrameAllocator() = default;
    FrameAllocator(const FrameAllocator&) = delete;
    FrameAllocator& operator=(const FrameAllocator&) = delete;

    // Adds a zone of `frames` frames at base_phys (4K aligned), all free.
    // metadata: metadata_bytes(frames) bytes, 8-byte aligned; cleared here.
    // Errors: invalid (unaligned, empty, wraps, bad metadata), exists
    // (overlaps a zone), out_of_range (max_zones reached).
    lib::Status add_zone(uint64_t base_phys, uint64_t frames, uint32_t node, void* metadata);

    // Physical address of the first of req.count contiguous frames.
    // Preferred node first, then (unless node_strict) the others; zones in
    // ascending address order, next-fit within a zone. Errors: invalid (count
    // 0, align not a power of two), no_memory.
    lib::Result<uint64_t> alloc(const FrameRequest& req = {});

    // Error::invalid on double free / address not in any zone / count
    // crossing a zone / unaligned address: state unchanged, warning logged.
    lib::Status free(uint64_t phys, size_t count = 1);

    // Marks frames in use (e.g. the kernel image). Error::invalid if the
    // range is not inside one zone, Error::busy if any frame is already in
    // use (nothing is changed then).
    lib::Status reserve(uint64_t phys, size_t count);

    uint64_t free_frames(uint32_t node = any_node) const;
    uint64_t total_frames(uint32_t node = any_node) const;
    size_t zone_count() const { return nzones_; }
    uint32_t node_count() const;  // distinct nodes seen

    // Additions beyond the original interface, for diagnostics and tests.
    struct ZoneInfo {
        uint64_t base;
        uint64_t frames;
        uint32_t node;
        uint64_t free;
    };
    ZoneInfo zone(size_t i) const;         // i < zone_count(), ascending base
    bool is_allocated(uint64_t phys) const;  // false when outside every zone

private:
    struct Zone {
        uint64_t base = 0;
        uint64_t frames = 0;
        uint64_t* bitmap = nullptr;  // bit set = frame in use
        uint64_t free = 0;
        uint64_t hint = 0;  // next-fit start
        uint32_t node = 0;
    };

    Zone* find_zone(uint64_t phys);
    const Zone* find_zone(uint64_t phys) const;
    static bool alloc_in_zone(Zone& z, const FrameRequest& req, uint64_t& phys);

    Zone zones_[max_zones] = {};
    size_t nzones_ = 0;
};

// Builds the allocator from a normalized map: one zone per usable region
// (split at NUMA range boundaries; node 0 where no range covers), each zone's
// bitmap kept in its own first frames, which are reserved in the allocator.
// phys_to_virt turns a physical address into a writable pointer (the
// kernel's direct map; a test buffer on the host). Frames below 1 MiB are
// left out (firmware and the SMP trampoline use them). Zones too small to
// hold their own bitmap and pieces beyond max_zones are skipped (the latter
// with a warning). Error::no_memory if no zone could be made.
lib::Status init_frame_allocator(FrameAllocator& fa, const MemRegion* regions, size_t count, const NumaRange* numa,
                                 size_t numa_count, void* (*phys_to_virt)(uint64_t phys));

}  // namespace hv::mem
