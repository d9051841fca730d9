// Creating an empty qcow2 image with QEMU's layout: header cluster, refcount
// table, refcount block(s), L1 table.
#include <cstring>

#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {

lib::Status create(lib::Allocator& a, File& file, const CreateOptions& opt)
{
    if (opt.version != version2 && opt.version != version3) return lib::Error::invalid;
    if (opt.cluster_bits < min_cluster_bits || opt.cluster_bits > max_cluster_bits) return lib::Error::invalid;
    if (opt.refcount_order > max_refcount_order || (opt.version == version2 && opt.refcount_order != v2_refcount_order))
        return lib::Error::invalid;
    if (opt.backing_file.size() > max_backing_name || opt.backing_format.size() > 31) return lib::Error::invalid;
    if (opt.lazy_refcounts && opt.version == version2) return lib::Error::invalid;
    uint64_t cs = 1ull << opt.cluster_bits;
    uint64_t per_l1 = cs << (opt.cluster_bits - 3);
    if (opt.size > (1ull << 62)) return lib::Error::out_of_range;
    uint64_t l1_size = div_round_up(opt.size, per_l1);
    if (l1_size * 8 > max_l1_bytes) return lib::Error::out_of_range;
    uint64_t l1_clusters = div_round_up(l1_size * 8, cs);
    uint64_t rb_entries = (cs * 8) >> opt.refcount_order;

    // Header, table, blocks and L1 must all be counted by the blocks.
    uint64_t rt_clusters = 1, nb = 1;
    for (;;) {
        uint64_t total = 1 + rt_clusters + nb + l1_clusters;
        uint64_t need_nb = div_round_up(total, rb_entries);
        uint64_t need_rt = div_round_up(need_nb, cs / 8);
        if (need_nb == nb && need_rt == rt_clusters) break;
        nb = need_nb;
        rt_clusters = need_rt;
    }
    uint64_t rt_off = cs, rb_off = rt_off + rt_clusters * cs, l1_off = rb_off + nb * cs;
    uint64_t total = 1 + rt_clusters + nb + l1_clusters;

    Buffer c = TRY(Buffer::make(a, cs));
    auto* h = c.as<Header>();
    h->magic.set(magic);
    h->version.set(opt.version);
    h->cluster_bits.set(opt.cluster_bits);
    h->size.set(opt.size);
    h->l1_size.set(uint32_t(l1_size));
    h->l1_table_offset.set(l1_size ? l1_off : 0);
    h->refcount_table_offset.set(rt_off);
    h->refcount_table_clusters.set(uint32_t(rt_clusters));
    uint64_t pos = v2_header_length;
    if (opt.version == version3) {
        h->compatible_features.set(opt.lazy_refcounts ? compat_lazy_refcounts : 0);
        h->refcount_order.set(opt.refcount_order);
        h->header_length.set(v3_header_length);
        h->compression_type = compression_zlib;
        pos = v3_header_length;
    }
    if (!opt.backing_format.empty()) {
        auto* eh = reinterpret_cast<ExtensionHeader*>(c.data() + pos);
        eh->type.set(ext_backing_format);
        eh->length.set(uint32_t(opt.backing_format.size()));
        std::memcpy(c.data() + pos + sizeof *eh, opt.backing_format.data(), opt.backing_format.size());
        pos += sizeof *eh + align_up(opt.backing_format.size(), 8);
    }
    pos += sizeof(ExtensionHeader);  // end marker (zeros)
    if (!opt.backing_file.empty()) {
        if (pos + opt.backing_file.size() > cs) return lib::Error::out_of_range;
        h->backing_file_offset.set(pos);
        h->backing_file_size.set(uint32_t(opt.backing_file.size()));
        std::memcpy(c.data() + pos, opt.backing_file.data(), opt.backing_file.size());
    }
    // A volume (a partition) cannot shrink: what lies past the new image's
    // clusters is free space to it, whatever it holds.
    if (auto s = file_resize(file, 0); !s.ok() && s.error() != lib::Error::unsupported) return s;
    TRY(file_write(file, 0, c.data(), cs));

    // Refcount table and blocks.
    Buffer rt = TRY(Buffer::make(a, rt_clusters * cs));
    for (uint64_t i = 0; i < nb; ++i) store_be64(rt.data() + i * 8, rb_off + i * cs);
    TRY(file_write(file, rt_off, rt.data(), rt_clusters * cs));
    for (uint64_t i = 0; i < nb; ++i) {
        std::memset(c.data(), 0, cs);
        for (uint64_t k = 0; k < rb_entries; ++k) {
            uint64_t cl = i * rb_entries + k;
            if (cl >= total) break;
            // Entries of 16 bits or more are big-endian; smaller ones packed
            // from the low bit (only refcount 1 is written here).
            switch (opt.refcount_order) {
            case 0: c.data()[k / 8] |= uint8_t(1u << (k % 8)); break;
            case 1: c.data()[k / 4] |= uint8_t(1u << (2 * (k % 4))); break;
            case 2: c.data()[k / 2] |= uint8_t(1u << (4 * (k % 2))); break;
            case 3: c.data()[k] = 1; break;
            case 4: store_be16(c.data() + 2 * k, 1); break;
            case 5: store_be32(c.data() + 4 * k, 1); break;
            default: store_be64(c.data() + 8 * k, 1); break;
            }
        }
        TRY(file_write(file, rb_off + i * cs, c.data(), cs));
    }
    std::memset(c.data(), 0, cs);
    for (uint64_t i = 0; i < l1_clusters; ++i) TRY(file_write(file, l1_off + i * cs, c.data(), cs));
    return file_flush(file);
}

}  // namespace vmm::block::qcow2
