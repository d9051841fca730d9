#include "hv/mem/memmap.hpp"

#include "lib/bytes.hpp"
#include "lib/log.hpp"

namespace hv::mem {
namespace {

constexpr size_t npos = ~size_t(0);

constexpr uint64_t end_of(const MemRegion& r) { return r.base + r.size; }  // callers keep this from wrapping

constexpr bool valid_type(MemType t)
{
    return t == MemType::usable || t == MemType::reserved || t == MemType::acpi_reclaimable ||
           t == MemType::acpi_nvs || t == MemType::bad;
}

// A fixed-capacity view of the caller's array.
struct Map {
    MemRegion* r;
    size_t n;
    size_t cap;
    bool warned_full = false;

    void erase(size_t i)
    {
        for (size_t j = i; j + 1 < n; ++j) r[j] = r[j + 1];
        --n;
    }

    // The region to sacrifice when the array is full: the smallest usable
    // one (losing usable memory is always safe), else the smallest of all.
    static bool worse_victim(const MemRegion& a, const MemRegion& b)
    {
        bool au = a.type == MemType::usable, bu = b.type == MemType::usable;
        if (au != bu) return !au;
        return a.size > b.size;
    }

    // Inserts `piece` in base order at or after index `from`. When the array
    // is full, the best victim (possibly `piece` itself) is dropped with a
    // warning. Returns the index of an existing region that was dropped, or
    // npos.
    size_t insert(const MemRegion& piece, size_t from)
    {
        size_t dropped = npos;
        if (n == cap) {
            size_t victim = npos;
            for (size_t i = 0; i < n; ++i)
                if (victim == npos || worse_victim(r[victim], r[i])) victim = i;
            const MemRegion& v = victim == npos || worse_victim(r[victim], piece) ? piece : r[victim];
            if (!warned_full)
                LOG_WARN("memmap: more than %zu regions after splitting overlaps, dropping %s %#lx+%#lx", cap,
                         boot::mem_type_name(v.type), v.base, v.size);
            warned_full = true;
            if (&v == &piece) return npos;
            erase(victim);
            dropped = victim;
            if (victim < from) --from;
        }
        size_t pos = from;
        while (pos < n && r[pos].base <= piece.base) ++pos;
        for (size_t j = n; j > pos; --j) r[j] = r[j - 1];
        r[pos] = piece;
        ++n;
        return dropped;
    }
};

void sort_by_base(MemRegion* r, size_t n)
{
    for (size_t i = 1; i < n; ++i) {
        MemRegion x = r[i];
        size_t j = i;
        while (j > 0 && r[j - 1].base > x.base) {
            r[j] = r[j - 1];
            --j;
        }
        r[j] = x;
    }
}

// Makes the sorted array non-overlapping. Invariant: r[0..i] do not overlap
// each other and every later region starts at or after r[i].base. Each step
// either advances i or strictly shrinks the total size or the count, so the
// loop ends.
void resolve_overlaps(Map& m)
{
    size_t i = 0;
    while (i + 1 < m.n) {
        MemRegion& a = m.r[i];
        const MemRegion b = m.r[i + 1];
        uint64_t a_end = end_of(a), b_end = end_of(b);
        if (b.base > a_end || (b.base == a_end && b.type != a.type)) {
            ++i;
            continue;
        }
        if (b.type == a.type) {  // overlapping or adjacent: merge
            if (b_end > a_end) a.size = b_end - a.base;
            m.erase(i + 1);
            continue;
        }
        size_t dropped = npos;
        if (mem_type_rank(a.type) > mem_type_rank(b.type)) {
            // a wins: b keeps only what sticks out beyond a.
            m.erase(i + 1);
            if (b_end > a_end) dropped = m.insert({a_end, b_end - a_end, b.type}, i + 1);
        } else {
            // b wins: a keeps what lies before b and what sticks out after it.
            MemRegion right{b_end, a_end > b_end ? a_end - b_end : 0, a.type};
            a.size = b.base - a.base;
            size_t from = i + 1;
            if (a.size == 0) {
                m.erase(i);
                from = i;
            }
            if (right.size) dropped = m.insert(right, from);
        }
        if (dropped != npos && dropped < i) --i;
    }
}

void merge_adjacent(Map& m)
{
    size_t i = 0;
    while (i + 1 < m.n) {
        MemRegion& a = m.r[i];
        const MemRegion& b = m.r[i + 1];
        if (a.type == b.type && end_of(a) == b.base) {
            a.size += b.size;
            m.erase(i + 1);
        } else {
            ++i;
        }
    }
}

}  // namespace

size_t normalize_memmap(MemRegion* regions, size_t count, size_t cap)
{
    if (count > cap) {
        LOG_WARN("memmap: %zu regions given for an array of %zu, ignoring the excess", count, cap);
        count = cap;
    }
    // Clip, fix unknown types, drop empty regions.
    size_t n = 0;
    for (size_t i = 0; i < count; ++i) {
        MemRegion r = regions[i];
        if (r.size > UINT64_MAX - r.base) {
            LOG_WARN("memmap: region %#lx+%#lx runs past 2^64, clipped", r.base, r.size);
            r.size = UINT64_MAX - r.base;
        }
        if (!valid_type(r.type)) r.type = MemType::reserved;
        if (r.size) regions[n++] = r;
    }
    sort_by_base(regions, n);
    Map m{regions, n, cap};
    resolve_overlaps(m);
    merge_adjacent(m);

    // Usable memory only in whole frames: shrink inward, drop what vanishes.
    n = 0;
    for (size_t i = 0; i < m.n; ++i) {
        MemRegion r = regions[i];
        if (r.type == MemType::usable) {
            uint64_t end = end_of(r);
            if (r.base > UINT64_MAX - (frame_size - 1)) continue;
            uint64_t b = lib::align_up(r.base, frame_size), e = lib::align_down(end, frame_size);
            if (e <= b) continue;
            r = {b, e - b, MemType::usable};
        }
        regions[n++] = r;
    }
    return n;
}

namespace {

// Rewrites a region array in place when the output can run at most a few
// entries ahead of the input: pieces wait in a small queue until the input
// slot they would overwrite has been read. Adjacent pieces of the same type
// are merged on the way.
struct InPlaceWriter {
    MemRegion* r;
    bool dry;  // count only; the queue behaves identically, so a dry run
               // that did not overflow guarantees the real one will not
    bool overflow = false;
    size_t consumed = 0;
    size_t written = 0;
    MemRegion queue[4];
    size_t queued = 0;
    bool have_cur = false;
    MemRegion cur;

    void flush(bool all)
    {
        size_t k = 0;
        while (k < queued && (all || written < consumed)) {
            if (!dry) r[written] = queue[k];
            ++written;
            ++k;
        }
        for (size_t j = k; j < queued; ++j) queue[j - k] = queue[j];
        queued -= k;
    }
    void push(const MemRegion& p)
    {
        // On a normalized map the output leads the input by at most 2 (one
        // split-off piece at each end of the reserved range), so 4 slots
        // suffice; overlapping input could lead further and is refused.
        if (queued == sizeof queue / sizeof queue[0]) {
            overflow = true;
            return;
        }
        queue[queued++] = p;
        flush(false);
    }
    void emit(const MemRegion& p)
    {
        if (p.size == 0) return;
        if (have_cur && cur.type == p.type && end_of(cur) == p.base) {
            cur.size += p.size;
            return;
        }
        if (have_cur) push(cur);
        cur = p;
        have_cur = true;
    }
    size_t finish()
    {
        if (have_cur) push(cur);
        have_cur = false;
        flush(true);
        return written;
    }
};

// Returns the resulting count, or npos if the input was not normalized
// enough to be rewritten in place.
size_t rewrite_reserved(MemRegion* regions, size_t count, bool dry, uint64_t b, uint64_t e)
{
    InPlaceWriter w{regions, dry};
    for (size_t i = 0; i < count; ++i) {
        MemRegion in = regions[i];
        w.consumed = i + 1;
        uint64_t end = in.size > UINT64_MAX - in.base ? UINT64_MAX : end_of(in);
        if (in.type != MemType::usable || end <= b || in.base >= e) {
            w.emit(in);
            continue;
        }
        if (in.base < b) w.emit({in.base, b - in.base, MemType::usable});
        uint64_t mb = in.base > b ? in.base : b, me = end < e ? end : e;
        w.emit({mb, me - mb, MemType::reserved});
        if (end > e) w.emit({e, end - e, MemType::usable});
    }
    size_t n = w.finish();
    return w.overflow ? npos : n;
}

}  // namespace

lib::Result<size_t> reserve_range(MemRegion* regions, size_t count, size_t cap, uint64_t base, uint64_t size)
{
    if (size == 0) return count;
    if (count > cap) return lib::err(lib::Error::invalid);
    uint64_t end = size > UINT64_MAX - base ? UINT64_MAX : base + size;
    uint64_t b = lib::align_down(base, frame_size);
    uint64_t e = end > UINT64_MAX - (frame_size - 1) ? UINT64_MAX : lib::align_up(end, frame_size);
    size_t needed = rewrite_reserved(regions, count, true, b, e);
    if (needed == npos) {
        LOG_WARN("memmap: reserve_range on a map with overlapping usable regions; normalize it first");
        return lib::err(lib::Error::invalid);
    }
    if (needed > cap) {
        LOG_WARN("memmap: reserving %#lx+%#lx needs %zu regions, only %zu fit", base, size, needed, cap);
        return lib::err(lib::Error::out_of_range);
    }
    return rewrite_reserved(regions, count, false, b, e);
}

uint64_t usable_bytes(const MemRegion* regions, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; ++i)
        if (regions[i].type == MemType::usable) total += regions[i].size;
    return total;
}

}  // namespace hv::mem
