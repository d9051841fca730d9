// Internal snapshots (the snapshot table of the qcow2 header).
//
// Creating one: raise the refcount of every L2 table and data cluster the
// active L1 reaches, clear the COPIED flags of the active tables (so the next
// write to them copies), then write a copy of the L1 table and a new snapshot
// table, and switch the header to it with one write. A crash before the
// header write leaves leaked clusters only.
//
// Deleting one: switch the header to a table without it first, then lower
// the refcounts its L1 reached and give COPIED back to active entries whose
// refcount dropped to 1.
#include <cstring>

#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {

// Adds `delta` to the refcount of every cluster an L1 table reaches (L2 tables
// and data, compressed spans cluster by cluster).
lib::Status Device::walk_refs(const uint8_t* l1, uint32_t l1_size, int delta, uint8_t* table)
{
    uint64_t cs = cluster_size_;
    for (uint32_t i = 0; i < l1_size; ++i) {
        uint64_t l2 = load_be64(l1 + uint64_t(i) * 8) & offset_mask;
        if (!l2) continue;
        TRY(read_table(l2, table));
        for (uint64_t j = 0; j < cs / 8; ++j) {
            uint64_t e = load_be64(table + j * 8);
            if (e & entry_compressed) {
                uint64_t host, bytes;
                TRY(compressed_span(e, host, bytes));
                for (uint64_t c = host / cs; c <= (host + bytes - 1) / cs; ++c) TRY(add_refcount(c, delta));
            } else if (e & offset_mask) {
                TRY(add_refcount((e & offset_mask) / cs, delta));
            }
        }
        TRY(add_refcount(l2 / cs, delta));
    }
    return {};
}

lib::Status Device::add_refcount(uint64_t cluster, int delta)
{
    uint64_t rc = TRY(get_refcount(cluster));
    if (delta < 0 && rc < uint64_t(-delta)) return lib::Error::corrupt;
    if (refcount_dry_run_) {
        // Would the new value fit the refcount width? (narrow refcounts)
        if (refcount_order_ < 6 && (rc + uint64_t(int64_t(delta))) >> (1u << refcount_order_))
            return lib::Error::out_of_range;
        return {};
    }
    uint64_t n = rc + uint64_t(int64_t(delta));
    TRY(set_refcount(cluster, n));
    if (n == 0) {
        l2_cache_.drop(cluster * cluster_size_);
        if (cluster < free_hint_) free_hint_ = cluster;
    }
    return {};
}

lib::Status Device::read_table(uint64_t off, uint8_t* out)
{
    if (off % cluster_size_) return lib::Error::corrupt;
    return file_read(file_, off, out, cluster_size_);
}

// Sets or clears COPIED on the active L1 and L2 entries to match refcount 1.
lib::Status Device::sync_copied_flags()
{
    for (uint32_t i = 0; i < l1_size_; ++i) {
        uint64_t e = load_be64(l1_.data() + uint64_t(i) * 8);
        uint64_t l2 = e & offset_mask;
        if (!l2) continue;
        CacheSlot* s = TRY(load_l2(l2));
        bool changed = false;
        for (uint64_t j = 0; j < cluster_size_ / 8; ++j) {
            uint64_t x = load_be64(s->data + j * 8);
            if ((x & entry_compressed) || !(x & offset_mask)) continue;
            bool one = TRY(get_refcount((x & offset_mask) / cluster_size_)) == 1;
            uint64_t y = one ? x | entry_copied : x & ~entry_copied;
            if (y != x) {
                store_be64(s->data + j * 8, y);
                changed = true;
            }
        }
        if (changed) s->dirty = true;
        bool one = TRY(get_refcount(l2 / cluster_size_)) == 1;
        uint64_t f = one ? e | entry_copied : e & ~entry_copied;
        if (f != e) {
            store_be64(l1_.data() + uint64_t(i) * 8, f);
            TRY(write_l1_entry(i));
        }
    }
    return {};
}

// Writes `table` (bytes) as the new snapshot table and points the header at it.
lib::Status Device::switch_snapshot_table(const uint8_t* table, uint64_t bytes, uint32_t count)
{
    uint64_t off = 0;
    if (bytes) {
        off = TRY(alloc_clusters(div_round_up(bytes, cluster_size_)));
        TRY(file_write(file_, off, table, bytes));
    }
    TRY(write_dirty_refblocks());
    TRY(sync());
    uint8_t h[12];
    store_be32(h, count);
    store_be64(h + 4, off);
    TRY(file_write(file_, offsetof(Header, nb_snapshots), h, sizeof h));
    TRY(sync());
    // The old table is unreferenced now.
    uint64_t old = snapshots_offset_, old_bytes = snapshot_table_bytes_;
    if (nb_snapshots_ && old_bytes)
        for (uint64_t c = old / cluster_size_; c <= (old + old_bytes - 1) / cluster_size_; ++c) TRY(add_refcount(c, -1));
    nb_snapshots_ = count;
    snapshots_offset_ = off;
    snapshot_table_bytes_ = 0;
    snapshots_ = nullptr;
    snapshot_mem_.reset();
    snapshot_table_.reset();
    TRY(load_snapshots());
    return flush_metadata();
}

lib::Status Device::snapshot_create(lib::StrView name, uint32_t date_sec, uint32_t date_nsec)
{
    if (read_only_) return lib::Error::denied;
    if (name.empty() || name.size() > 0xffff) return lib::Error::invalid;
    if (nb_snapshots_ >= max_snapshots) return lib::Error::out_of_range;
    for (uint32_t i = 0; i < nb_snapshots_; ++i)
        if (lib::StrView(snapshots_[i].name) == name) return lib::Error::exists;
    TRY(flush_metadata());

    // 1. Every cluster the active L1 reaches gains a reference (checked to
    // fit narrow refcount widths first, so a refusal changes nothing).
    Buffer table = TRY(Buffer::make(alloc_, cluster_size_));
    refcount_dry_run_ = true;
    lib::Status fits = walk_refs(l1_.data(), l1_size_, 1, table.data());
    refcount_dry_run_ = false;
    if (!fits) return fits;
    TRY(walk_refs(l1_.data(), l1_size_, 1, table.data()));
    TRY(write_dirty_refblocks());
    TRY(sync());
    // 2. Active tables lose COPIED: the next write copies.
    TRY(sync_copied_flags());
    TRY(flush_metadata());

    // 3. The snapshot's L1 copy.
    uint64_t l1_bytes = uint64_t(l1_size_) * 8;
    uint64_t l1_copy = 0;
    if (l1_bytes) {
        l1_copy = TRY(alloc_clusters(div_round_up(l1_bytes, cluster_size_)));
        Buffer copy = TRY(Buffer::make(alloc_, align_up(l1_bytes, cluster_size_)));
        for (uint64_t i = 0; i < l1_size_; ++i)
            store_be64(copy.data() + i * 8, load_be64(l1_.data() + i * 8) & ~entry_copied);
        TRY(file_write(file_, l1_copy, copy.data(), align_up(l1_bytes, cluster_size_)));
    }

    // 4. New table: old entries + this one; id = highest numeric id + 1.
    uint64_t next_id = 1;
    for (uint32_t i = 0; i < nb_snapshots_; ++i) {
        uint64_t v = 0;
        bool numeric = snapshots_[i].id[0] != 0;
        for (const char* p = snapshots_[i].id; *p; ++p) {
            if (*p < '0' || *p > '9') numeric = false;
            else v = v * 10 + uint64_t(*p - '0');
        }
        if (numeric && v >= next_id) next_id = v + 1;
    }
    char id[24];
    size_t idn = 0;
    {
        char rev[24];
        size_t k = 0;
        for (uint64_t v = next_id; v; v /= 10) rev[k++] = char('0' + v % 10);
        while (k) id[idn++] = rev[--k];
    }
    uint64_t entry = align_up(sizeof(SnapshotHeader) + sizeof(SnapshotExtra) + idn + name.size(), 8);
    uint64_t bytes = snapshot_table_bytes_ + entry;
    Buffer t = TRY(Buffer::make(alloc_, bytes));
    if (snapshot_table_bytes_) std::memcpy(t.data(), snapshot_table_.data(), snapshot_table_bytes_);
    uint8_t* e = t.data() + snapshot_table_bytes_;
    SnapshotHeader sh{};
    sh.l1_table_offset.set(l1_copy);
    sh.l1_size.set(l1_size_);
    sh.id_str_size.set(uint16_t(idn));
    sh.name_size.set(uint16_t(name.size()));
    sh.date_sec.set(date_sec);
    sh.date_nsec.set(date_nsec);
    sh.extra_data_size.set(sizeof(SnapshotExtra));
    SnapshotExtra ex{};
    ex.disk_size.set(size_);
    ex.icount.set(~0ull);
    std::memcpy(e, &sh, sizeof sh);
    std::memcpy(e + sizeof sh, &ex, sizeof ex);
    std::memcpy(e + sizeof sh + sizeof ex, id, idn);
    std::memcpy(e + sizeof sh + sizeof ex + idn, name.data(), name.size());
    return switch_snapshot_table(t.data(), bytes, nb_snapshots_ + 1);
}

lib::Status Device::snapshot_delete(lib::StrView which)
{
    if (read_only_) return lib::Error::denied;
    uint32_t victim = nb_snapshots_;
    for (uint32_t i = 0; i < nb_snapshots_ && victim == nb_snapshots_; ++i)
        if (lib::StrView(snapshots_[i].id) == which || lib::StrView(snapshots_[i].name) == which) victim = i;
    if (victim == nb_snapshots_) return lib::Error::not_found;
    TRY(flush_metadata());
    SnapshotInfo gone = snapshots_[victim];

    // 1. A table without the entry (entries are located by walking).
    Buffer t = TRY(Buffer::make(alloc_, snapshot_table_bytes_));
    uint64_t in = 0, out = 0;
    for (uint32_t i = 0; i < nb_snapshots_; ++i) {
        SnapshotHeader sh;
        std::memcpy(&sh, snapshot_table_.data() + in, sizeof sh);
        uint64_t len = align_up(sizeof sh + uint64_t(sh.extra_data_size.get()) + sh.id_str_size.get() +
                                    sh.name_size.get(), 8);
        if (in + len > snapshot_table_bytes_) len = snapshot_table_bytes_ - in;
        if (i != victim) {
            std::memcpy(t.data() + out, snapshot_table_.data() + in, len);
            out += len;
        }
        in += len;
    }
    TRY(switch_snapshot_table(t.data(), out, nb_snapshots_ - 1));

    // 2. What only the snapshot held is released; shared clusters drop to 1.
    Buffer l1 = TRY(Buffer::make(alloc_, uint64_t(gone.l1_size) * 8 + 8));
    if (gone.l1_size) TRY(file_read(file_, gone.l1_offset, l1.data(), uint64_t(gone.l1_size) * 8));
    Buffer table = TRY(Buffer::make(alloc_, cluster_size_));
    TRY(walk_refs(l1.data(), gone.l1_size, -1, table.data()));
    if (gone.l1_size) {
        uint64_t first = gone.l1_offset / cluster_size_;
        uint64_t last = (gone.l1_offset + uint64_t(gone.l1_size) * 8 - 1) / cluster_size_;
        for (uint64_t c = first; c <= last; ++c) TRY(add_refcount(c, -1));
    }
    TRY(write_dirty_refblocks());
    TRY(sync());
    TRY(sync_copied_flags());
    return flush_metadata();
}

// Reverting the active image to a snapshot: the snapshot's tree gains a
// reference, the active L1 becomes a copy of the snapshot's, the old active
// tree loses its reference, then COPIED flags follow the refcounts. A crash
// in between leaks clusters at most.
lib::Status Device::snapshot_apply(lib::StrView which)
{
    if (read_only_) return lib::Error::denied;
    uint32_t i = 0;
    while (i < nb_snapshots_ && !(lib::StrView(snapshots_[i].id) == which || lib::StrView(snapshots_[i].name) == which)) ++i;
    if (i == nb_snapshots_) return lib::Error::not_found;
    const SnapshotInfo s = snapshots_[i];
    if (s.disk_size != size_ || s.l1_size > l1_size_) return lib::Error::unsupported;  // no resize support
    TRY(flush_metadata());
    Buffer table = TRY(Buffer::make(alloc_, cluster_size_));
    Buffer snap_l1 = TRY(Buffer::make(alloc_, uint64_t(l1_size_) * 8 + 8));
    if (s.l1_size) TRY(file_read(file_, s.l1_offset, snap_l1.data(), uint64_t(s.l1_size) * 8));
    Buffer old_l1 = TRY(Buffer::make(alloc_, uint64_t(l1_size_) * 8 + 8));
    std::memcpy(old_l1.data(), l1_.data(), uint64_t(l1_size_) * 8);
    refcount_dry_run_ = true;
    lib::Status fits = walk_refs(snap_l1.data(), s.l1_size, 1, table.data());
    refcount_dry_run_ = false;
    if (!fits) return fits;

    TRY(walk_refs(snap_l1.data(), s.l1_size, 1, table.data()));
    TRY(write_dirty_refblocks());
    TRY(sync());
    for (uint64_t k = 0; k < l1_size_; ++k)
        store_be64(l1_.data() + k * 8, load_be64(snap_l1.data() + k * 8) & ~entry_copied);
    TRY(file_write(file_, l1_offset_, l1_.data(), uint64_t(l1_size_) * 8));
    TRY(sync());
    for (size_t k = 0; k < l2_cache_.count(); ++k) l2_cache_.at(k).offset = 0;  // all clean after the flush above
    decomp_entry_ = 0;
    TRY(walk_refs(old_l1.data(), l1_size_, -1, table.data()));
    TRY(write_dirty_refblocks());
    TRY(sync());
    TRY(sync_copied_flags());
    return flush_metadata();
}

}  // namespace vmm::block::qcow2
