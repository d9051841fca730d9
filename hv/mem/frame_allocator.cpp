#include "hv/mem/frame_allocator.hpp"

#include <bit>

#include "lib/log.hpp"

namespace hv::mem {
namespace {

constexpr uint64_t all_ones = ~0ull;

// Mask of bits [lo, hi) within one word, 0 <= lo < hi <= 64.
constexpr uint64_t bit_mask(unsigned lo, unsigned hi)
{
    uint64_t upper = hi == 64 ? all_ones : (1ull << hi) - 1;
    return upper & ~((1ull << lo) - 1);
}

// Visits [from, to) word by word: f(word index, mask within the word).
template <typename F> void for_words(uint64_t from, uint64_t to, F f)
{
    while (from < to) {
        uint64_t w = from / 64;
        unsigned lo = unsigned(from % 64);
        unsigned hi = to - w * 64 >= 64 ? 64 : unsigned(to - w * 64);
        f(w, bit_mask(lo, hi));
        from = w * 64 + hi;
    }
}

// First index in [from, to) whose bit equals `used`, or `to`.
uint64_t find_bit(const uint64_t* bm, uint64_t from, uint64_t to, bool used)
{
    while (from < to) {
        uint64_t w = from / 64;
        unsigned lo = unsigned(from % 64);
        unsigned hi = to - w * 64 >= 64 ? 64 : unsigned(to - w * 64);
        uint64_t bits = (used ? bm[w] : ~bm[w]) & bit_mask(lo, hi);
        if (bits) return w * 64 + unsigned(std::countr_zero(bits));
        from = w * 64 + hi;
    }
    return to;
}

void set_bits(uint64_t* bm, uint64_t from, uint64_t to)
{
    for_words(from, to, [bm](uint64_t w, uint64_t m) { bm[w] |= m; });
}

void clear_bits(uint64_t* bm, uint64_t from, uint64_t to)
{
    for_words(from, to, [bm](uint64_t w, uint64_t m) { bm[w] &= ~m; });
}

// First index j >= i at which frame number (first_frame + j) is a multiple
// of `align` (a power of two), or all_ones if that overflows.
uint64_t align_index(uint64_t first_frame, uint64_t i, uint64_t align)
{
    uint64_t rem = (first_frame + i) & (align - 1);
    if (rem == 0) return i;
    uint64_t add = align - rem;
    return i > all_ones - add ? all_ones : i + add;
}

// Lowest index >= start where `count` free frames begin, properly aligned,
// ending at or before `limit`; all_ones if none.
uint64_t find_run(const uint64_t* bm, uint64_t first_frame, uint64_t start, uint64_t limit, uint64_t count,
                  uint64_t align)
{
    uint64_t p = align_index(first_frame, start, align);
    while (p < limit && limit - p >= count) {
        uint64_t f = find_bit(bm, p, limit, false);
        if (f != p) {
            if (f == limit) break;
            p = align_index(first_frame, f, align);
            continue;
        }
        uint64_t u = find_bit(bm, p, p + count, true);
        if (u == p + count) return p;
        p = align_index(first_frame, u + 1, align);
    }
    return all_ones;
}

}  // namespace

lib::Status FrameAllocator::add_zone(uint64_t base_phys, uint64_t frames, uint32_t node, void* metadata)
{
    if (frames == 0 || base_phys % frame_bytes || !metadata || reinterpret_cast<uintptr_t>(metadata) % 8 ||
        frames > (all_ones - base_phys) / frame_bytes)
        return lib::err(lib::Error::invalid);
    uint64_t end = base_phys + frames * frame_bytes;
    size_t pos = 0;
    for (size_t i = 0; i < nzones_; ++i) {
        const Zone& z = zones_[i];
        if (base_phys < z.base + z.frames * frame_bytes && z.base < end) return lib::err(lib::Error::exists);
        if (z.base < base_phys) pos = i + 1;
    }
    if (nzones_ == max_zones) return lib::err(lib::Error::out_of_range);

    auto* bm = static_cast<uint64_t*>(metadata);
    uint64_t words = metadata_bytes(frames) / 8;
    for (uint64_t w = 0; w < words; ++w) bm[w] = 0;
    set_bits(bm, frames, words * 64);  // the tail of the last word is never free

    for (size_t i = nzones_; i > pos; --i) zones_[i] = zones_[i - 1];
    zones_[pos] = Zone{base_phys, frames, bm, frames, 0, node};
    ++nzones_;
    return {};
}

FrameAllocator::Zone* FrameAllocator::find_zone(uint64_t phys)
{
    for (size_t i = 0; i < nzones_; ++i) {
        Zone& z = zones_[i];
        if (phys >= z.base && (phys - z.base) / frame_bytes < z.frames) return &z;
    }
    return nullptr;
}

const FrameAllocator::Zone* FrameAllocator::find_zone(uint64_t phys) const
{
    return const_cast<FrameAllocator*>(this)->find_zone(phys);
}

bool FrameAllocator::alloc_in_zone(Zone& z, const FrameRequest& req, uint64_t& phys)
{
    if (z.free < req.count) return false;
    // Frames with index < limit end at or below req.below.
    uint64_t limit = z.frames;
    if (req.below <= z.base) return false;
    uint64_t below_frames = (req.below - z.base) / frame_bytes;
    if (below_frames < limit) limit = below_frames;
    if (limit < req.count) return false;

    uint64_t first_frame = z.base / frame_bytes;
    uint64_t start = z.hint < limit ? z.hint : 0;
    uint64_t p = find_run(z.bitmap, first_frame, start, limit, req.count, req.align);
    if (p == all_ones && start != 0) p = find_run(z.bitmap, first_frame, 0, limit, req.count, req.align);
    if (p == all_ones) return false;

    set_bits(z.bitmap, p, p + req.count);
    z.free -= req.count;
    z.hint = p + req.count < z.frames ? p + req.count : 0;
    phys = z.base + p * frame_bytes;
    return true;
}

lib::Result<uint64_t> FrameAllocator::alloc(const FrameRequest& req)
{
    if (req.count == 0 || req.align == 0 || (req.align & (req.align - 1))) return lib::err(lib::Error::invalid);
    uint64_t phys = 0;
    bool prefer = req.node != any_node;
    if (prefer) {
        for (size_t i = 0; i < nzones_; ++i)
            if (zones_[i].node == req.node && alloc_in_zone(zones_[i], req, phys)) return phys;
        if (req.node_strict) return lib::err(lib::Error::no_memory);
    }
    for (size_t i = 0; i < nzones_; ++i)
        if ((!prefer || zones_[i].node != req.node) && alloc_in_zone(zones_[i], req, phys)) return phys;
    return lib::err(lib::Error::no_memory);
}

lib::Status FrameAllocator::free(uint64_t phys, size_t count)
{
    if (count == 0 || phys % frame_bytes) {
        LOG_WARN("frames: free of %zu frames at %#lx: bad arguments", count, phys);
        return lib::err(lib::Error::invalid);
    }
    Zone* z = find_zone(phys);
    if (!z) {
        LOG_WARN("frames: free of %#lx: not in any zone", phys);
        return lib::err(lib::Error::invalid);
    }
    uint64_t i = (phys - z->base) / frame_bytes;
    if (count > z->frames - i) {
        LOG_WARN("frames: free of %zu frames at %#lx crosses the end of its zone", count, phys);
        return lib::err(lib::Error::invalid);
    }
    uint64_t not_used = find_bit(z->bitmap, i, i + count, false);
    if (not_used != i + count) {
        LOG_WARN("frames: double free of frame %#lx (freeing %zu at %#lx)", z->base + not_used * frame_bytes, count,
                 phys);
        return lib::err(lib::Error::invalid);
    }
    clear_bits(z->bitmap, i, i + count);
    z->free += count;
    return {};
}

lib::Status FrameAllocator::reserve(uint64_t phys, size_t count)
{
    if (count == 0 || phys % frame_bytes) return lib::err(lib::Error::invalid);
    Zone* z = find_zone(phys);
    if (!z) return lib::err(lib::Error::invalid);
    uint64_t i = (phys - z->base) / frame_bytes;
    if (count > z->frames - i) return lib::err(lib::Error::invalid);
    if (find_bit(z->bitmap, i, i + count, true) != i + count) return lib::err(lib::Error::busy);
    set_bits(z->bitmap, i, i + count);
    z->free -= count;
    return {};
}

uint64_t FrameAllocator::free_frames(uint32_t node) const
{
    uint64_t n = 0;
    for (size_t i = 0; i < nzones_; ++i)
        if (node == any_node || zones_[i].node == node) n += zones_[i].free;
    return n;
}

uint64_t FrameAllocator::total_frames(uint32_t node) const
{
    uint64_t n = 0;
    for (size_t i = 0; i < nzones_; ++i)
        if (node == any_node || zones_[i].node == node) n += zones_[i].frames;
    return n;
}

uint32_t FrameAllocator::node_count() const
{
    uint32_t n = 0;
    for (size_t i = 0; i < nzones_; ++i) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; ++j) seen = zones_[j].node == zones_[i].node;
        if (!seen) ++n;
    }
    return n;
}

FrameAllocator::ZoneInfo FrameAllocator::zone(size_t i) const
{
    if (i >= nzones_) return {};
    const Zone& z = zones_[i];
    return {z.base, z.frames, z.node, z.free};
}

bool FrameAllocator::is_allocated(uint64_t phys) const
{
    const Zone* z = find_zone(phys);
    if (!z) return false;
    uint64_t i = (phys - z->base) / frame_bytes;
    return (z->bitmap[i / 64] >> (i % 64)) & 1;
}

}  // namespace hv::mem
