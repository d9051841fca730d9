// Guest I/O through the L1/L2 tables: lookup, copy-on-write allocation, zero
// clusters, compressed clusters.
#include <cstring>

#include "vmm/block/inflate/inflate.hpp"
#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {

lib::Status Device::sync()
{
    TRY(file_flush(file_));
    need_sync_ = false;
    return {};
}

lib::Result<CacheSlot*> Device::load_l2(uint64_t off)
{
    if (off == 0 || off % cluster_size_) return lib::err(lib::Error::corrupt);
    if (CacheSlot* s = l2_cache_.find(off)) return s;
    CacheSlot* v = l2_cache_.victim();
    if (v->offset && v->dirty) TRY(write_back_l2(*v));
    v->offset = 0;
    v->dirty = false;
    lib::Status s = file_read(file_, off, v->data, cluster_size_);
    if (!s) return lib::err(s.error() == lib::Error::truncated ? lib::Error::corrupt : s.error());
    v->offset = off;
    l2_cache_.touch(*v);
    return v;
}

lib::Status Device::write_back_l2(CacheSlot& s)
{
    TRY(write_dirty_refblocks());
    if (need_sync_) TRY(sync());
    TRY(file_write(file_, s.offset, s.data, cluster_size_));
    s.dirty = false;
    return {};
}

lib::Result<uint64_t> Device::l2_entry(uint64_t guest_off)
{
    uint64_t l1i = guest_off >> (cluster_bits_ + l2_bits_);
    if (l1i >= l1_size_) return uint64_t(0);
    uint64_t l2off = load_be64(l1_.data() + l1i * 8) & offset_mask;
    if (!l2off) return uint64_t(0);
    CacheSlot* s = TRY(load_l2(l2off));
    uint64_t i = (guest_off >> cluster_bits_) & ((1ull << l2_bits_) - 1);
    return load_be64(s->data + i * 8);
}

lib::Status Device::write_l1_entry(uint64_t l1i)
{
    return file_write(file_, l1_offset_ + l1i * 8, l1_.data() + l1i * 8, 8);
}

// Returns the L2 table for l1i, made private to the active L1 (refcount 1,
// COPIED): allocated if absent, copied if shared with a snapshot.
lib::Result<CacheSlot*> Device::l2_for_write(uint64_t l1i)
{
    if (l1i >= l1_size_) return lib::err(lib::Error::corrupt);
    uint64_t l1e = load_be64(l1_.data() + l1i * 8);
    uint64_t old = l1e & offset_mask;
    if (old && (l1e & entry_copied)) return load_l2(old);

    uint64_t fresh = TRY(alloc_clusters(1));
    CacheSlot* v = l2_cache_.victim();
    if (v->offset && v->dirty) TRY(write_back_l2(*v));
    v->offset = 0;
    v->dirty = false;
    if (old) {
        if (CacheSlot* o = l2_cache_.find(old)) std::memcpy(v->data, o->data, cluster_size_);
        else TRY(file_read(file_, old, v->data, cluster_size_));
    } else {
        std::memset(v->data, 0, cluster_size_);
    }
    TRY(file_write(file_, fresh, v->data, cluster_size_));
    // Table and its refcount durable before the L1 entry points at it.
    TRY(write_dirty_refblocks());
    TRY(sync());
    store_be64(l1_.data() + l1i * 8, fresh | entry_copied);
    TRY(write_l1_entry(l1i));
    v->offset = fresh;
    l2_cache_.touch(*v);
    if (old) TRY(defer_free(old, 1));
    return v;
}

lib::Status Device::compressed_span(uint64_t entry, uint64_t& host, uint64_t& bytes) const
{
    // x = 62 - (cluster_bits - 8): host offset in bits 0..x-1, additional
    // 512-byte sectors in bits x..61.
    uint32_t x = 62 - (cluster_bits_ - 8);
    host = entry & ((1ull << x) - 1);
    uint64_t sectors = (entry >> x) & ((1ull << (cluster_bits_ - 8)) - 1);
    bytes = (sectors + 1) * compressed_sector_size - (host & (compressed_sector_size - 1));
    if (host == 0 || host >= file_.size()) return lib::Error::corrupt;
    return {};
}

lib::Status Device::read_compressed(uint64_t entry, uint8_t* out)
{
    if (decomp_entry_ != entry) {
        uint64_t host, bytes;
        TRY(compressed_span(entry, host, bytes));
        if (bytes > compressed_buf_.size()) return lib::Error::corrupt;
        TRY(file_read_padded(file_, host, compressed_buf_.data(), bytes));
        decomp_entry_ = 0;
        auto n = inflate_raw(compressed_buf_.data(), bytes, decomp_buf_.data(), cluster_size_);
        if (!n || *n != cluster_size_) return lib::Error::corrupt;
        decomp_entry_ = entry;
    }
    std::memcpy(out, decomp_buf_.data(), cluster_size_);
    return {};
}

// Current contents of a guest cluster described by `entry` (for COW).
lib::Status Device::cluster_source(uint64_t entry, uint64_t guest_cluster_off, uint8_t* out)
{
    if (entry & entry_compressed) return read_compressed(entry, out);
    if (version_ == version3 && (entry & l2_zero)) {
        std::memset(out, 0, cluster_size_);
        return {};
    }
    uint64_t host = entry & offset_mask;
    if (host) {
        if (host % cluster_size_ || host >= file_.size()) return lib::Error::corrupt;
        return file_read_padded(file_, host, out, cluster_size_);
    }
    return read_backing(backing_, guest_cluster_off, out, cluster_size_);
}

lib::Status Device::free_entry(uint64_t entry)
{
    decomp_entry_ = 0;
    if (entry & entry_compressed) {
        uint64_t host, bytes;
        TRY(compressed_span(entry, host, bytes));
        uint64_t first = host / cluster_size_, last = (host + bytes - 1) / cluster_size_;
        return defer_free(first * cluster_size_, last - first + 1);
    }
    uint64_t host = entry & offset_mask;
    if (host) return defer_free(host, 1);
    return {};
}

lib::Status Device::write_cluster(uint64_t off, const uint8_t* data, size_t len)
{
    uint64_t cs = cluster_size_;
    uint64_t co = off & (cs - 1);
    uint64_t base = off - co;
    uint64_t l1i = off >> (cluster_bits_ + l2_bits_);
    uint64_t l2i = (off >> cluster_bits_) & ((1ull << l2_bits_) - 1);
    CacheSlot* slot = TRY(l2_for_write(l1i));
    uint64_t entry = load_be64(slot->data + l2i * 8);
    uint64_t host = entry & offset_mask;
    bool zero_flag = version_ == version3 && (entry & l2_zero);

    if (!(entry & entry_compressed) && (entry & entry_copied) && host) {
        // In place only inside the file: a hostile entry must not make us
        // write the header or grow the file to wherever it points.
        if (host % cs || host == 0 || host >= file_.size()) return lib::Error::corrupt;
        if (!zero_flag) return file_write(file_, host + co, data, len);
        // Preallocated zero cluster that is ours alone: fill it in place.
        std::memset(cluster_buf_.data(), 0, cs);
        std::memcpy(cluster_buf_.data() + co, data, len);
        TRY(file_write(file_, host, cluster_buf_.data(), cs));
        need_sync_ = true;
        store_be64(slot->data + l2i * 8, host | entry_copied);
        slot->dirty = true;
        return {};
    }

    bool whole = len == cs;
    bool zero_source = zero_flag || (!host && !(entry & entry_compressed) && !backing_);
    if (!whole && !zero_source) {
        TRY(cluster_source(entry, base, cluster_buf_.data()));
        std::memcpy(cluster_buf_.data() + co, data, len);
    }
    uint64_t fresh = TRY(alloc_clusters(1));
    if (whole) {
        TRY(file_write(file_, fresh, data, cs));
    } else if (zero_source && fresh >= file_.size()) {
        // New space at the end of the file reads as zeros already.
        TRY(file_resize(file_, fresh + cs));
        TRY(file_write(file_, fresh + co, data, len));
    } else {
        if (zero_source) {
            std::memset(cluster_buf_.data(), 0, cs);
            std::memcpy(cluster_buf_.data() + co, data, len);
        }
        TRY(file_write(file_, fresh, cluster_buf_.data(), cs));
    }
    need_sync_ = true;
    // alloc_clusters never touches the L2 cache, so `slot` is still valid.
    store_be64(slot->data + l2i * 8, fresh | entry_copied);
    slot->dirty = true;
    if (host || (entry & entry_compressed)) TRY(free_entry(entry));
    return {};
}

lib::Status Device::zero_cluster(uint64_t off, size_t len, bool dealloc)
{
    (void)dealloc;
    uint64_t cs = cluster_size_;
    uint64_t co = off & (cs - 1);
    uint64_t entry = TRY(l2_entry(off));
    bool zero_flag = version_ == version3 && (entry & l2_zero) && !(entry & entry_compressed);
    bool reads_zero = zero_flag || (entry == 0 && !backing_);
    if (reads_zero && !(entry & offset_mask)) return {};
    bool whole = co == 0 && (len == cs || off + len >= size_);
    if (!whole || (version_ == version2 && backing_)) {
        if (reads_zero) return {};
        return write_cluster(off, zero_buf_.data(), len);
    }
    uint64_t l1i = off >> (cluster_bits_ + l2_bits_);
    uint64_t l2i = (off >> cluster_bits_) & ((1ull << l2_bits_) - 1);
    CacheSlot* slot = TRY(l2_for_write(l1i));
    entry = load_be64(slot->data + l2i * 8);
    store_be64(slot->data + l2i * 8, version_ == version3 ? l2_zero : 0);
    slot->dirty = true;
    if ((entry & offset_mask) || (entry & entry_compressed)) TRY(free_entry(entry));
    return {};
}

lib::Status Device::do_read(uint64_t off, void* buf, size_t len)
{
    auto* out = static_cast<uint8_t*>(buf);
    uint64_t cs = cluster_size_;
    // A run of contiguous host data is read with one file read.
    uint64_t run_host = 0, run_len = 0;
    uint8_t* run_dst = nullptr;
    auto flush_run = [&]() -> lib::Status {
        if (!run_len) return {};
        lib::Status s = file_read_padded(file_, run_host, run_dst, run_len);
        run_len = 0;
        return s;
    };
    while (len) {
        uint64_t co = off & (cs - 1);
        size_t n = cs - co < len ? size_t(cs - co) : len;
        uint64_t entry = TRY(l2_entry(off));
        uint64_t host = entry & offset_mask;
        if (entry & entry_compressed) {
            TRY(flush_run());
            TRY(read_compressed(entry, cluster_buf_.data()));
            std::memcpy(out, cluster_buf_.data() + co, n);
        } else if (version_ == version3 && (entry & l2_zero)) {
            TRY(flush_run());
            std::memset(out, 0, n);
        } else if (host) {
            if (host % cs || host >= file_.size()) return lib::Error::corrupt;
            if (run_len && run_host + run_len == host + co) {
                run_len += n;
            } else {
                TRY(flush_run());
                run_host = host + co;
                run_dst = out;
                run_len = n;
            }
        } else {
            TRY(flush_run());
            TRY(read_backing(backing_, off, out, n));
        }
        off += n;
        out += n;
        len -= n;
    }
    return flush_run();
}

lib::Status Device::do_write(uint64_t off, const void* buf, size_t len)
{
    auto* in = static_cast<const uint8_t*>(buf);
    uint64_t cs = cluster_size_;
    while (len) {
        uint64_t co = off & (cs - 1);
        size_t n = cs - co < len ? size_t(cs - co) : len;
        TRY(write_cluster(off, in, n));
        off += n;
        in += n;
        len -= n;
    }
    return {};
}

lib::Status Device::do_write_zeroes(uint64_t off, uint64_t len)
{
    uint64_t cs = cluster_size_;
    while (len) {
        uint64_t co = off & (cs - 1);
        size_t n = cs - co < len ? size_t(cs - co) : size_t(len);
        TRY(zero_cluster(off, n, true));
        off += n;
        len -= n;
    }
    return {};
}

lib::Status Device::do_discard(uint64_t off, uint64_t len) { return do_write_zeroes(off, len); }

lib::Status Device::do_flush() { return flush_metadata(); }

lib::Status Device::extent_at(uint64_t off, uint64_t len, Extent& out)
{
    uint64_t cs = cluster_size_;
    out = Extent{};
    bool first = true;
    while (len) {
        uint64_t co = off & (cs - 1);
        uint64_t n = cs - co < len ? cs - co : len;
        uint64_t entry = TRY(l2_entry(off));
        uint64_t host = entry & offset_mask;
        Extent e;
        if (entry & entry_compressed) {
            e.state = ExtentState::data;
            e.compressed = true;
        } else if (version_ == version3 && (entry & l2_zero)) {
            e.state = ExtentState::zero;
        } else if (host) {
            e.state = ExtentState::data;
            e.has_host_offset = true;
            e.host_offset = host + co;
        } else {
            e.state = ExtentState::unallocated;
        }
        if (!first) {
            bool same = e.state == out.state && e.compressed == out.compressed &&
                        e.has_host_offset == out.has_host_offset &&
                        (!e.has_host_offset || e.host_offset == out.host_offset + out.length);
            if (!same) break;
            out.length += n;
        } else {
            out = e;
            out.length = n;
            first = false;
        }
        off += n;
        len -= n;
    }
    return {};
}

}  // namespace vmm::block::qcow2
