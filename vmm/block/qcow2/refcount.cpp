// Refcount table and blocks: lookup, update, cluster allocation, table growth,
// deferred frees and the ordered metadata flush.
#include <cstring>

#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {
namespace {

// Entry i of a refcount block of 2^order-bit entries. Sub-byte entries are
// packed from the least significant bit; wider ones are big-endian.
uint64_t rb_read(const uint8_t* b, uint32_t order, uint64_t i)
{
    switch (order) {
    case 0: return (b[i / 8] >> (i % 8)) & 1;
    case 1: return (b[i / 4] >> (2 * (i % 4))) & 3;
    case 2: return (b[i / 2] >> (4 * (i % 2))) & 15;
    case 3: return b[i];
    case 4: return load_be16(b + 2 * i);
    case 5: return load_be32(b + 4 * i);
    default: return load_be64(b + 8 * i);
    }
}

void rb_write(uint8_t* b, uint32_t order, uint64_t i, uint64_t v)
{
    switch (order) {
    case 0: b[i / 8] = uint8_t((b[i / 8] & ~(1u << (i % 8))) | (v << (i % 8))); break;
    case 1: b[i / 4] = uint8_t((b[i / 4] & ~(3u << (2 * (i % 4)))) | (v << (2 * (i % 4)))); break;
    case 2: b[i / 2] = uint8_t((b[i / 2] & ~(15u << (4 * (i % 2)))) | (v << (4 * (i % 2)))); break;
    case 3: b[i] = uint8_t(v); break;
    case 4: store_be16(b + 2 * i, uint16_t(v)); break;
    case 5: store_be32(b + 4 * i, uint32_t(v)); break;
    default: store_be64(b + 8 * i, v); break;
    }
}

}  // namespace

uint64_t Device::rt_get(uint64_t i) const { return load_be64(rt_.data() + i * 8) & refcount_table_offset_mask; }

lib::Result<CacheSlot*> Device::load_refblock(uint64_t off)
{
    if (off == 0 || off % cluster_size_) return lib::err(lib::Error::corrupt);
    if (CacheSlot* s = rb_cache_.find(off)) return s;
    CacheSlot* v = rb_cache_.victim();
    if (v->offset && v->dirty) {
        TRY(file_write(file_, v->offset, v->data, cluster_size_));
        need_sync_ = true;
    }
    v->offset = 0;
    v->dirty = false;
    lib::Status s = file_read(file_, off, v->data, cluster_size_);
    if (!s) return lib::err(s.error() == lib::Error::truncated ? lib::Error::corrupt : s.error());
    v->offset = off;
    rb_cache_.touch(*v);
    return v;
}

lib::Result<uint64_t> Device::get_refcount(uint64_t cluster)
{
    uint64_t bi = cluster / refblock_entries_;
    if (bi >= rt_entries()) return uint64_t(0);
    uint64_t rbo = rt_get(bi);
    if (!rbo) return uint64_t(0);
    CacheSlot* s = TRY(load_refblock(rbo));
    return rb_read(s->data, refcount_order_, cluster % refblock_entries_);
}

lib::Status Device::set_refcount(uint64_t cluster, uint64_t value)
{
    if (refcount_order_ < 6 && value >> (1u << refcount_order_)) return lib::Error::out_of_range;
    uint64_t bi = cluster / refblock_entries_;
    if (bi >= rt_entries() || !rt_get(bi)) return lib::Error::corrupt;
    CacheSlot* s = TRY(load_refblock(rt_get(bi)));
    rb_write(s->data, refcount_order_, cluster % refblock_entries_, value);
    s->dirty = true;
    return {};
}

// Makes sure a refcount block covers `cluster`. A missing block is placed at
// `cluster` itself (free by definition: nothing counted it), covering itself.
lib::Status Device::ensure_refblock(uint64_t cluster, bool& used_cluster)
{
    used_cluster = false;
    uint64_t bi = cluster / refblock_entries_;
    if (bi >= rt_entries()) TRY(grow_refcount_table(bi + 1));
    if (rt_get(bi)) return {};
    // Growing the table may have covered this range already.
    uint64_t off = cluster * cluster_size_;
    if (off & ~offset_mask) return lib::Error::out_of_range;
    CacheSlot* v = rb_cache_.victim();
    if (v->offset && v->dirty) {
        TRY(file_write(file_, v->offset, v->data, cluster_size_));
        need_sync_ = true;
    }
    std::memset(v->data, 0, cluster_size_);
    rb_write(v->data, refcount_order_, cluster % refblock_entries_, 1);
    TRY(file_write(file_, off, v->data, cluster_size_));
    v->offset = off;
    v->dirty = false;
    rb_cache_.touch(*v);
    TRY(sync());  // block durable before the table points at it
    store_be64(rt_.data() + bi * 8, off);
    TRY(file_write(file_, rt_offset_ + bi * 8, rt_.data() + bi * 8, 8));
    need_sync_ = true;
    used_cluster = true;
    return {};
}

// Replaces the refcount table with a larger one placed at the end of the file
// together with the refcount blocks that cover it; switched over by one
// header write after everything it points to is on disk.
lib::Status Device::grow_refcount_table(uint64_t min_entries)
{
    uint64_t cs = cluster_size_;
    uint64_t per_cluster = cs / 8;
    uint64_t old_entries = rt_entries();
    uint64_t entries = old_entries * 2 > min_entries ? old_entries * 2 : min_entries;
    uint64_t p = div_round_up(file_.size(), cs);
    // Allocations already counted beyond EOF (none normally) are skipped.
    while (TRY(get_refcount(p))) ++p;
    uint64_t tc = 0, nb = 0;
    for (int iter = 0; iter < 16; ++iter) {
        tc = div_round_up(entries, per_cluster);
        uint64_t end = p + tc + nb;  // exclusive
        uint64_t need = 0;
        for (uint64_t bi = p / refblock_entries_; bi <= (end - 1) / refblock_entries_; ++bi)
            if (bi >= old_entries || !rt_get(bi)) ++need;
        uint64_t last_bi = (end - 1) / refblock_entries_;
        bool stable = need == nb && last_bi < entries;
        nb = need;
        if (last_bi >= entries) entries = last_bi + 1;
        if (stable) break;
    }
    tc = div_round_up(entries, per_cluster);
    if (tc * cs > max_refcount_table_bytes) return lib::Error::out_of_range;
    uint64_t end = p + tc + nb;
    if ((end * cs) & ~offset_mask) return lib::Error::out_of_range;

    Buffer table = TRY(Buffer::make(alloc_, tc * cs));
    std::memcpy(table.data(), rt_.data(), old_entries * 8);
    Buffer block = TRY(Buffer::make(alloc_, cs));
    uint64_t next_block = p + tc;
    for (uint64_t bi = p / refblock_entries_; bi <= (end - 1) / refblock_entries_; ++bi) {
        if (bi < old_entries && rt_get(bi)) {
            // An existing block covers part of the new region.
            for (uint64_t c = bi * refblock_entries_; c < (bi + 1) * refblock_entries_; ++c)
                if (c >= p && c < end) TRY(set_refcount(c, 1));
            continue;
        }
        std::memset(block.data(), 0, cs);
        for (uint64_t c = bi * refblock_entries_; c < (bi + 1) * refblock_entries_; ++c)
            if (c >= p && c < end) rb_write(block.data(), refcount_order_, c % refblock_entries_, 1);
        uint64_t boff = next_block++ * cs;
        TRY(file_write(file_, boff, block.data(), cs));
        store_be64(table.data() + bi * 8, boff);
    }
    TRY(file_write(file_, p * cs, table.data(), tc * cs));
    TRY(write_dirty_refblocks());
    TRY(sync());
    uint8_t hdr[12];
    store_be64(hdr, p * cs);
    store_be32(hdr + 8, uint32_t(tc));
    TRY(file_write(file_, offsetof(Header, refcount_table_offset), hdr, sizeof hdr));
    TRY(sync());
    uint64_t old_off = rt_offset_, old_clusters = rt_clusters_;
    rt_ = static_cast<Buffer&&>(table);
    rt_offset_ = p * cs;
    rt_clusters_ = uint32_t(tc);
    // The old table is unreferenced now that the header is durable.
    for (uint64_t i = 0; i < old_clusters; ++i) {
        uint64_t c = old_off / cs + i;
        uint64_t rc = TRY(get_refcount(c));
        if (rc) TRY(set_refcount(c, rc - 1));
        if (c < free_hint_) free_hint_ = c;
    }
    return {};
}

lib::Result<uint64_t> Device::alloc_clusters(uint64_t n)
{
    uint64_t c = free_hint_;
    for (;;) {
        uint64_t start = c;
        bool ok = true;
        for (uint64_t k = 0; k < n; ++k) {
            uint64_t cl = start + k;
            if (((cl + 1) * cluster_size_) & ~offset_mask) return lib::err(lib::Error::out_of_range);
            bool used;
            TRY(ensure_refblock(cl, used));
            if (used || TRY(get_refcount(cl))) {
                c = cl + 1;
                ok = false;
                break;
            }
        }
        if (!ok) continue;
        for (uint64_t k = 0; k < n; ++k) TRY(set_refcount(start + k, 1));
        if (start == free_hint_ || n == 1) free_hint_ = start + n;
        return start * cluster_size_;
    }
}

lib::Status Device::defer_free(uint64_t host_off, uint64_t nclusters)
{
    if (deferred_count_ == deferred_cap_) TRY(flush_metadata());
    auto* d = deferred_mem_.as<Deferred>();
    d[deferred_count_++] = {host_off, nclusters};
    return {};
}

lib::Status Device::apply_deferred_frees()
{
    auto* d = deferred_mem_.as<Deferred>();
    for (size_t i = 0; i < deferred_count_; ++i) {
        for (uint64_t k = 0; k < d[i].nclusters; ++k) {
            uint64_t c = d[i].host_off / cluster_size_ + k;
            uint64_t rc = TRY(get_refcount(c));
            if (rc == 0) return lib::Error::corrupt;  // freeing a free cluster
            TRY(set_refcount(c, rc - 1));
            if (rc == 1) {
                l2_cache_.drop(c * cluster_size_);
                if (c < free_hint_) free_hint_ = c;
            }
        }
    }
    deferred_count_ = 0;
    return {};
}

lib::Status Device::write_dirty_refblocks()
{
    for (size_t i = 0; i < rb_cache_.count(); ++i) {
        CacheSlot& s = rb_cache_.at(i);
        if (!s.offset || !s.dirty) continue;
        TRY(file_write(file_, s.offset, s.data, cluster_size_));
        s.dirty = false;
        need_sync_ = true;
    }
    return {};
}

// Data and refcounts, flush, L2 tables, flush; then the decrements that were
// waiting for the tables that dropped their references.
lib::Status Device::flush_metadata()
{
    TRY(write_dirty_refblocks());
    if (l2_cache_.any_dirty()) {
        if (need_sync_) TRY(sync());
        for (size_t i = 0; i < l2_cache_.count(); ++i) {
            CacheSlot& s = l2_cache_.at(i);
            if (!s.offset || !s.dirty) continue;
            TRY(file_write(file_, s.offset, s.data, cluster_size_));
            s.dirty = false;
        }
    }
    TRY(sync());
    return apply_deferred_frees();
}

lib::Result<uint64_t> Device::image_end()
{
    // The last refcount block in use, and in it the last cluster with a
    // reference (clusters waiting for a deferred free still count).
    for (uint64_t i = rt_entries(); i-- > 0;) {
        const uint64_t off = rt_get(i);
        if (!off) continue;
        CacheSlot* s = TRY(load_refblock(off));
        for (uint64_t k = refblock_entries_; k-- > 0;)
            if (rb_read(s->data, refcount_order_, k)) return (i * refblock_entries_ + k + 1) * cluster_size_;
    }
    return lib::err(lib::Error::corrupt);  // not even the header has a reference
}

}  // namespace vmm::block::qcow2
