// Boot-time construction of the frame allocator from the normalized memory
// map and the SRAT memory ranges.
#include "hv/mem/frame_allocator.hpp"
#include "lib/bytes.hpp"
#include "lib/log.hpp"

namespace hv::mem {
namespace {

constexpr uint64_t low_memory_end = 1ull << 20;  // below: BIOS data, EBDA, trampoline

uint64_t range_end(const NumaRange& r) { return r.size > UINT64_MAX - r.base ? UINT64_MAX : r.base + r.size; }

// The node owning address p and where its stretch ends (at most `end`): the
// first NUMA range containing p wins; uncovered memory is node 0 up to the
// next range.
uint32_t node_at(uint64_t p, uint64_t end, const NumaRange* numa, size_t numa_count, uint64_t& piece_end)
{
    uint32_t node = 0;
    uint64_t q = end;
    bool covered = false;
    for (size_t i = 0; i < numa_count && !covered; ++i) {
        if (numa[i].base <= p && p < range_end(numa[i])) {
            covered = true;
            node = numa[i].node;
            q = range_end(numa[i]) < end ? range_end(numa[i]) : end;
        }
    }
    if (!covered)
        for (size_t i = 0; i < numa_count; ++i)
            if (numa[i].size && numa[i].base > p && numa[i].base < q) q = numa[i].base;
    // Split only at frame boundaries; an unaligned boundary gives the frame
    // that straddles it to the earlier node.
    q = q > end - frame_size ? end : lib::align_up(q, frame_size);
    piece_end = q;
    return node;
}

struct ZoneBuilder {
    FrameAllocator& fa;
    void* (*phys_to_virt)(uint64_t);
    bool warned_full = false;

    void add(uint64_t base, uint64_t end, uint32_t node)
    {
        uint64_t frames = (end - base) / frame_size;
        uint64_t meta_frames = lib::align_up(FrameAllocator::metadata_bytes(frames), frame_size) / frame_size;
        if (frames <= meta_frames) {
            LOG_DEBUG("frames: [%#lx, %#lx) too small for a zone, skipped", base, end);
            return;
        }
        if (fa.zone_count() == FrameAllocator::max_zones) {
            if (!warned_full)
                LOG_WARN("frames: more than %zu zones, memory from %#lx on is not used", FrameAllocator::max_zones,
                         base);
            warned_full = true;
            return;
        }
        void* meta = phys_to_virt(base);
        auto st = fa.add_zone(base, frames, node, meta);
        if (!st) {
            LOG_WARN("frames: zone [%#lx, %#lx) node %u rejected (%s)", base, end, node, lib::error_name(st.error()));
            return;
        }
        // The zone's own first frames hold its bitmap. Cannot fail: the zone
        // was just added with every frame free.
        (void)fa.reserve(base, meta_frames);
    }
};

}  // namespace

lib::Status init_frame_allocator(FrameAllocator& fa, const MemRegion* regions, size_t count, const NumaRange* numa,
                                 size_t numa_count, void* (*phys_to_virt)(uint64_t phys))
{
    if (!phys_to_virt || (count && !regions)) return lib::err(lib::Error::invalid);
    if (!numa) numa_count = 0;
    size_t zones_before = fa.zone_count();
    ZoneBuilder zb{fa, phys_to_virt};
    for (size_t i = 0; i < count; ++i) {
        const MemRegion& r = regions[i];
        if (r.type != MemType::usable || r.size == 0) continue;
        uint64_t end = r.size > UINT64_MAX - r.base ? UINT64_MAX : r.base + r.size;
        uint64_t b = r.base < low_memory_end ? low_memory_end : r.base;
        if (b > UINT64_MAX - (frame_size - 1)) continue;
        b = lib::align_up(b, frame_size);
        uint64_t e = lib::align_down(end, frame_size);
        for (uint64_t p = b; p < e;) {
            uint64_t q;
            uint32_t node = node_at(p, e, numa, numa_count, q);
            zb.add(p, q, node);
            p = q;
        }
    }
    if (fa.zone_count() == zones_before) {
        LOG_WARN("frames: no usable memory above 1 MiB");
        return lib::err(lib::Error::no_memory);
    }
    LOG_INFO("frames: %lu MiB free in %zu zones on %u nodes", fa.free_frames() * frame_size >> 20, fa.zone_count(),
             fa.node_count());
    return {};
}

}  // namespace hv::mem
