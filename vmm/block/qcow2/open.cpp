// Opening a qcow2 image: every header field validated before anything is
// trusted, then L1 table, refcount table, snapshot table and backing chain.
#include <cstring>

#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {
namespace {

bool range_in_file(uint64_t off, uint64_t len, uint64_t file_size)
{
    uint64_t end;
    return !add_overflows(off, len, &end) && end <= file_size;
}

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

}  // namespace

// Keeps the first reason an open failed, for the caller's error message.
lib::Error Device::why(lib::Error e, const char* reason)
{
    if (detail_ && !*detail_) *detail_ = reason;
    return e;
}

lib::Status Device::parse_header(const uint8_t* raw, size_t raw_len, bool writable)
{
    Header h{};
    std::memcpy(&h, raw, raw_len < sizeof h ? raw_len : sizeof h);
    if (raw_len < v2_header_length || h.magic.get() != magic) return why(lib::Error::invalid, "not a qcow2 image (bad magic)");
    version_ = h.version.get();
    if (version_ != version2 && version_ != version3) return why(lib::Error::unsupported, "qcow2 version is neither 2 nor 3");
    cluster_bits_ = h.cluster_bits.get();
    if (cluster_bits_ < min_cluster_bits || cluster_bits_ > max_cluster_bits) return why(lib::Error::invalid, "cluster_bits out of range (9..21)");
    cluster_size_ = 1u << cluster_bits_;
    l2_bits_ = cluster_bits_ - 3;
    uint64_t fsize = file_.size();

    if (version_ == version2) {
        header_length_ = v2_header_length;
        refcount_order_ = v2_refcount_order;
        incompat_ = compat_ = autoclear_ = 0;
    } else {
        if (raw_len < v3_min_header_length) return why(lib::Error::truncated, "header shorter than a version 3 header");
        header_length_ = h.header_length.get();
        if (header_length_ < v3_min_header_length || header_length_ > cluster_size_ || header_length_ % 8)
            return why(lib::Error::invalid, "header_length invalid (< 104, > cluster size or not a multiple of 8)");
        incompat_ = h.incompatible_features.get();
        compat_ = h.compatible_features.get();
        autoclear_ = h.autoclear_features.get();
        refcount_order_ = h.refcount_order.get();
        if (refcount_order_ > max_refcount_order) return why(lib::Error::invalid, "refcount_order above 6");
        uint64_t known = incompat_dirty | incompat_corrupt | incompat_compression;
        if (incompat_ & ~known) return why(lib::Error::unsupported, "unknown or unsupported incompatible feature (external data file, extended L2, or an unknown bit)");  // incl. data file, extended L2
        uint8_t ctype = header_length_ > offsetof(Header, compression_type) ? h.compression_type : compression_zlib;
        if (incompat_ & incompat_compression) {
            if (ctype == compression_zlib) return why(lib::Error::invalid, "compression-type feature bit set with zlib compression");  // bit set only for non-zlib
            return why(lib::Error::unsupported, "zstd compression is not supported");  // zstd
        }
        if (ctype != compression_zlib) return why(lib::Error::invalid, "compression type set without its feature bit");
        if ((incompat_ & incompat_corrupt) && writable) return why(lib::Error::denied, "image is marked corrupt: read-only access only");
    }
    if (h.crypt_method.get() != crypt_none) return why(lib::Error::unsupported, "encrypted images are not supported");

    size_ = h.size.get();
    l1_size_ = h.l1_size.get();
    l1_offset_ = h.l1_table_offset.get();
    rt_offset_ = h.refcount_table_offset.get();
    rt_clusters_ = h.refcount_table_clusters.get();
    nb_snapshots_ = h.nb_snapshots.get();
    snapshots_offset_ = h.snapshots_offset.get();

    // Virtual size: must be mapped by the L1 table (and leave room for the
    // arithmetic: one L1 entry maps cluster_size << l2_bits bytes).
    uint64_t per_l1 = uint64_t(cluster_size_) << l2_bits_;
    if (size_ > (1ull << 62)) return why(lib::Error::invalid, "virtual size too large");
    if (uint64_t(l1_size_) * 8 > max_l1_bytes) return why(lib::Error::invalid, "L1 table too large");
    if (div_round_up(size_, per_l1) > l1_size_) return why(lib::Error::invalid, "L1 table too small for the virtual size");
    if (l1_size_) {
        if (l1_offset_ % cluster_size_ || l1_offset_ == 0) return why(lib::Error::invalid, "L1 table offset not cluster aligned");
        if (!range_in_file(l1_offset_, uint64_t(l1_size_) * 8, fsize)) return why(lib::Error::truncated, "L1 table lies beyond the end of the file");
    }
    // Refcount table: cluster aligned, not over the header, not over L1.
    if (rt_clusters_ == 0 || uint64_t(rt_clusters_) * cluster_size_ > max_refcount_table_bytes)
        return why(lib::Error::invalid, "refcount table size invalid");
    if (rt_offset_ % cluster_size_ || rt_offset_ == 0) return why(lib::Error::invalid, "refcount table offset invalid (unaligned or over the header)");
    if (!range_in_file(rt_offset_, uint64_t(rt_clusters_) * cluster_size_, fsize)) return why(lib::Error::truncated, "refcount table lies beyond the end of the file");
    if (overlaps(rt_offset_, uint64_t(rt_clusters_) * cluster_size_, l1_offset_, uint64_t(l1_size_) * 8))
        return why(lib::Error::invalid, "refcount table overlaps the L1 table");
    if (nb_snapshots_ > max_snapshots) return why(lib::Error::invalid, "too many snapshots");
    if (nb_snapshots_ && (snapshots_offset_ % cluster_size_ || snapshots_offset_ == 0 ||
                          !range_in_file(snapshots_offset_, 1, fsize)))
        return why(lib::Error::invalid, "snapshot table offset invalid");

    refblock_entries_ = (uint64_t(cluster_size_) * 8) >> refcount_order_;
    return {};
}

lib::Status Device::parse_extensions(const uint8_t* c0, size_t len)
{
    // The backing file name lives inside the first cluster.
    Header h{};
    std::memcpy(&h, c0, sizeof h < len ? sizeof h : len);
    uint64_t boff = h.backing_file_offset.get();
    uint32_t bsize = h.backing_file_size.get();
    uint64_t ext_end = len;
    if (boff) {
        if (bsize == 0 || bsize > max_backing_name || boff < header_length_ || !range_in_file(boff, bsize, len))
            return why(lib::Error::invalid, "backing file name invalid or outside the first cluster");
        std::memcpy(backing_name_, c0 + boff, bsize);
        backing_name_[bsize] = 0;
        if (std::strlen(backing_name_) != bsize) return why(lib::Error::invalid, "backing file name contains NUL");
        ext_end = boff;
    }
    // Extensions follow the header (v2 images carry them too) up to the
    // backing name or the end of the cluster.
    uint64_t pos = header_length_;
    while (pos + sizeof(ExtensionHeader) <= ext_end) {
        ExtensionHeader eh;
        std::memcpy(&eh, c0 + pos, sizeof eh);
        uint32_t type = eh.type.get(), elen = eh.length.get();
        pos += sizeof eh;
        if (type == ext_end) break;
        if (elen > ext_end - pos) return why(lib::Error::invalid, "header extension runs past its area");
        if (type == ext_backing_format) {
            if (elen >= sizeof backing_format_) return why(lib::Error::invalid, "backing format name too long");
            std::memcpy(backing_format_, c0 + pos, elen);
            backing_format_[elen] = 0;
        } else if (type == ext_crypto || type == ext_data_file) {
            return why(lib::Error::unsupported, "encryption or external data file header extension not supported");
        }
        pos += align_up(elen, 8);
    }
    return {};
}

lib::Status Device::set_backing_name(lib::StrView name, lib::StrView format)
{
    if (read_only_) return lib::Error::denied;
    if (name.size() > max_backing_name || format.size() >= sizeof backing_format_ || (name.empty() && !format.empty()))
        return lib::Error::invalid;
    const uint32_t cs = cluster_size_;
    Buffer in = TRY(Buffer::make(alloc_, cs));
    Buffer out = TRY(Buffer::make(alloc_, cs));
    TRY(file_read(file_, 0, in.data(), cs));
    std::memset(out.data(), 0, cs);
    std::memcpy(out.data(), in.data(), header_length_);
    uint64_t w = header_length_;
    auto put_ext = [&](uint32_t type, const void* data, uint32_t len) -> bool {
        if (w + sizeof(ExtensionHeader) + align_up(len, 8) > cs) return false;
        auto* eh = reinterpret_cast<ExtensionHeader*>(out.data() + w);
        eh->type.set(type);
        eh->length.set(len);
        std::memcpy(out.data() + w + sizeof *eh, data, len);
        w += sizeof *eh + align_up(len, 8);
        return true;
    };
    if (!format.empty() && !put_ext(ext_backing_format, format.data(), uint32_t(format.size())))
        return lib::Error::out_of_range;
    // Every other extension (feature names, bitmaps, unknown ones) is kept
    // as it was; parse_extensions checked their lengths on open.
    auto* h = reinterpret_cast<const Header*>(in.data());
    const uint64_t ext_end_at = h->backing_file_offset.get() ? h->backing_file_offset.get() : cs;
    for (uint64_t pos = header_length_; pos + sizeof(ExtensionHeader) <= ext_end_at;) {
        ExtensionHeader eh;
        std::memcpy(&eh, in.data() + pos, sizeof eh);
        pos += sizeof eh;
        const uint32_t type = eh.type.get(), len = eh.length.get();
        if (type == ext_end) break;
        if (len > ext_end_at - pos) return lib::Error::corrupt;
        if (type != ext_backing_format && !put_ext(type, in.data() + pos, len)) return lib::Error::out_of_range;
        pos += align_up(len, 8);
    }
    w += sizeof(ExtensionHeader);  // the end marker: zeros
    auto* oh = reinterpret_cast<Header*>(out.data());
    oh->backing_file_offset.set(name.empty() ? 0 : w);
    oh->backing_file_size.set(uint32_t(name.size()));
    if (!name.empty()) {
        if (w + name.size() > cs) return lib::Error::out_of_range;
        std::memcpy(out.data() + w, name.data(), name.size());
    }
    // One write of the header cluster. For the overlays snapshots make, what
    // changes (header, format, name) is in its first 512 bytes, a sector a
    // disk writes whole: a power cut leaves the old backing or the new one.
    TRY(file_write(file_, 0, out.data(), cs));
    TRY(file_flush(file_));
    std::memcpy(backing_name_, name.data(), name.size());
    backing_name_[name.size()] = 0;
    std::memcpy(backing_format_, format.data(), format.size());
    backing_format_[format.size()] = 0;
    return {};
}

lib::Status Device::load_snapshots()
{
    if (nb_snapshots_ == 0) return {};
    snapshot_mem_ = TRY(Buffer::make(alloc_, sizeof(SnapshotInfo) * nb_snapshots_, alignof(SnapshotInfo)));
    snapshots_ = snapshot_mem_.as<SnapshotInfo>();
    for (uint32_t i = 0; i < nb_snapshots_; ++i) new (&snapshots_[i]) SnapshotInfo;
    // Walk the table once to learn its length, reading it piecewise.
    uint64_t pos = snapshots_offset_;
    uint64_t fsize = file_.size();
    for (uint32_t i = 0; i < nb_snapshots_; ++i) {
        SnapshotHeader sh;
        TRY(file_read(file_, pos, &sh, sizeof sh));
        uint64_t entry = sizeof sh + uint64_t(sh.extra_data_size.get()) + sh.id_str_size.get() + sh.name_size.get();
        // The last entry's padding to 8 bytes may lie past the end of file.
        if (!range_in_file(pos, entry, fsize)) return why(lib::Error::truncated, "snapshot table lies beyond the end of the file");
        entry = align_up(entry, 8);
        SnapshotInfo& s = snapshots_[i];
        s.l1_offset = sh.l1_table_offset.get();
        s.l1_size = sh.l1_size.get();
        s.date_sec = sh.date_sec.get();
        s.date_nsec = sh.date_nsec.get();
        s.vm_clock_nsec = sh.vm_clock_nsec.get();
        s.vm_state_size = sh.vm_state_size.get();
        s.disk_size = size_;
        if (s.l1_offset % cluster_size_ || uint64_t(s.l1_size) * 8 > max_l1_bytes ||
            (s.l1_size && !range_in_file(s.l1_offset, uint64_t(s.l1_size) * 8, fsize)))
            return why(lib::Error::invalid, "snapshot L1 table invalid");
        uint32_t extra = sh.extra_data_size.get();
        if (extra > 1024) return why(lib::Error::invalid, "snapshot extra data too large");
        uint8_t ex[sizeof(SnapshotExtra)] = {};
        uint32_t exn = extra < sizeof ex ? extra : uint32_t(sizeof ex);
        TRY(file_read(file_, pos + sizeof sh, ex, exn));
        SnapshotExtra se;
        std::memcpy(&se, ex, sizeof se);
        if (extra >= 8) s.vm_state_size = se.vm_state_size_large.get();
        if (extra >= 16) s.disk_size = se.disk_size.get();
        if (extra >= 24) s.icount = se.icount.get();
        else s.icount = ~0ull;
        uint64_t idpos = pos + sizeof sh + extra;
        uint16_t idn = sh.id_str_size.get(), nn = sh.name_size.get();
        TRY(file_read(file_, idpos, s.id, idn < sizeof s.id - 1 ? idn : sizeof s.id - 1));
        TRY(file_read(file_, idpos + idn, s.name, nn < sizeof s.name - 1 ? nn : sizeof s.name - 1));
        pos += entry;
    }
    snapshot_table_bytes_ = pos - snapshots_offset_;
    snapshot_table_ = TRY(Buffer::make(alloc_, snapshot_table_bytes_));
    TRY(file_read_padded(file_, snapshots_offset_, snapshot_table_.data(), snapshot_table_bytes_));
    return {};
}

lib::Status Device::set_incompat(uint64_t bits)
{
    uint8_t v[8];
    store_be64(v, bits);
    TRY(file_write(file_, offsetof(Header, incompatible_features), v, 8));
    TRY(file_flush(file_));
    incompat_ = bits;
    return {};
}

lib::Result<Device*> Device::open(lib::Allocator& a, FileOpener& opener, File& file, lib::StrView name,
                                  const OpenOptions& opt)
{
    if (opt.writable && !file.writable()) return lib::err(lib::Error::denied);
    auto* d = make_in<Device>(a, a, opener, file);
    if (!d) return lib::err(lib::Error::no_memory);
    lib::Status s = [&]() -> lib::Status {
        d->detail_ = opt.detail;
        uint8_t hdr[sizeof(Header)] = {};
        size_t n = file.size() < sizeof hdr ? size_t(file.size()) : sizeof hdr;
        TRY(file_read(file, 0, hdr, n));
        TRY(d->parse_header(hdr, n, opt.writable));
        d->read_only_ = !opt.writable;
        uint32_t cs = d->cluster_size_;
        d->cluster_buf_ = TRY(Buffer::make(a, cs));
        TRY(file_read_padded(file, 0, d->cluster_buf_.data(), cs));
        TRY(d->parse_extensions(d->cluster_buf_.data(), cs));

        d->l1_ = TRY(Buffer::make(a, align_up(uint64_t(d->l1_size_) * 8 + 1, cs)));
        if (d->l1_size_) TRY(file_read(file, d->l1_offset_, d->l1_.data(), uint64_t(d->l1_size_) * 8));
        d->rt_ = TRY(Buffer::make(a, uint64_t(d->rt_clusters_) * cs));
        TRY(file_read(file, d->rt_offset_, d->rt_.data(), uint64_t(d->rt_clusters_) * cs));
        TRY(d->l2_cache_.init(a, opt.l2_cache_tables ? opt.l2_cache_tables : 1, cs));
        TRY(d->rb_cache_.init(a, 8, cs));
        d->compressed_buf_ = TRY(Buffer::make(a, 2 * size_t(cs) + compressed_sector_size));
        d->decomp_buf_ = TRY(Buffer::make(a, cs));
        d->zero_buf_ = TRY(Buffer::make(a, cs));
        d->deferred_cap_ = 4096;
        d->deferred_mem_ = TRY(Buffer::make(a, d->deferred_cap_ * sizeof(Deferred), alignof(Deferred)));
        TRY(d->load_snapshots());

        if (d->backing_name_[0] && opt.open_backing) {
            if (opt.depth + 1 >= max_chain_depth) return d->why(lib::Error::out_of_range, "backing chain deeper than 64 (a loop of backing names?)");
            OpenOptions bo;
            bo.writable = false;
            bo.depth = opt.depth + 1;
            bo.l2_cache_tables = opt.l2_cache_tables;
            bo.detail = opt.detail;
            if (d->backing_format_[0]) bo.format = TRY(parse_format(d->backing_format_));
            d->backing_ = TRY(open_image(a, opener, d->backing_name_, name, bo));
        }

        d->was_dirty_ = d->incompat_ & incompat_dirty;
        if (opt.writable) {
            if (d->was_dirty_) {
                // Refcounts of an image that was not closed cleanly may be
                // stale (lazy refcounts): rebuild what leaked, refuse worse.
                // With lazy refcounts a dirty image may count too little as
                // well: repair everything that can be, as QEMU does.
                CheckResult r;
                TRY(d->check(r, Repair::all));
                if (r.corruptions > r.corruptions_fixed + r.copied_flag_errors || r.check_errors) return d->why(lib::Error::corrupt, "dirty image has refcount errors beyond leaks: run check");
            }
            if (d->version_ == version3) {
                if (d->autoclear_) {
                    // Clearing unknown autoclear bits tells their owners (e.g.
                    // bitmaps) that the image changed behind their back.
                    uint8_t z[8] = {};
                    TRY(file_write(file, offsetof(Header, autoclear_features), z, 8));
                    d->autoclear_ = 0;
                }
                if (!(d->incompat_ & incompat_dirty)) TRY(d->set_incompat(d->incompat_ | incompat_dirty));
            }
        }
        return {};
    }();
    if (!s) {
        d->release();
        destroy_in(a, d);
        return lib::err(s.error());
    }
    return d;
}

void Device::release()
{
    if (backing_) (void)backing_->close();
    backing_ = nullptr;
}

lib::Status Device::close()
{
    lib::Status s;
    if (!read_only_) {
        s = flush_metadata();
        if (s) s = flush_metadata();  // writes the refcounts of deferred frees
        if (s && version_ == version3 && (incompat_ & incompat_dirty)) s = set_incompat(incompat_ & ~incompat_dirty);
    }
    release();
    opener_.close(&file_);
    lib::Allocator& a = alloc_;
    destroy_in(a, this);
    return s;
}

}  // namespace vmm::block::qcow2
