// Creating fixed, dynamic and differencing VHDs, laid out as QEMU and Virtual
// PC do: [footer copy][dynamic header][BAT][parent locators] ... [footer].
#include <cstring>

#include "vmm/block/vhd/vhd.hpp"

namespace vmm::block::vhd {

Geometry geometry_for(uint64_t total)
{
    // "CHS calculation" in the VHD specification's appendix.
    if (total > max_chs_sectors) total = max_chs_sectors;
    uint32_t spt, heads;
    uint64_t cth;
    if (total >= 65535ull * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = uint32_t((cth + 1023) / 1024);
        if (heads < 4) heads = 4;
        if (cth >= heads * 1024ull || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024ull) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    return {uint16_t(cth / heads), uint8_t(heads), uint8_t(spt)};
}

namespace {

void seal_footer(Footer& f) { f.checksum.set(checksum(&f, sizeof f, offsetof(Footer, checksum))); }

// Stores `name` as UTF-16 (ASCII/UTF-8 of the BMP assumed well-formed),
// backslashes for the Windows locators. Returns bytes written.
size_t to_utf16(lib::StrView name, uint8_t* out, size_t cap, bool big_endian, bool backslash)
{
    size_t o = 0;
    for (size_t i = 0; i < name.size() && o + 2 <= cap;) {
        uint32_t c = uint8_t(name[i]);
        size_t k = 1;
        if (c >= 0xe0 && i + 2 < name.size()) {
            c = ((c & 0x0f) << 12) | ((uint8_t(name[i + 1]) & 0x3f) << 6) | (uint8_t(name[i + 2]) & 0x3f);
            k = 3;
        } else if (c >= 0xc0 && i + 1 < name.size()) {
            c = ((c & 0x1f) << 6) | (uint8_t(name[i + 1]) & 0x3f);
            k = 2;
        }
        if (backslash && c == '/') c = '\\';
        out[o + (big_endian ? 0 : 1)] = uint8_t(c >> 8);
        out[o + (big_endian ? 1 : 0)] = uint8_t(c);
        o += 2;
        i += k;
    }
    return o;
}

}  // namespace

lib::Status create(lib::Allocator& a, File& file, const CreateOptions& opt)
{
    if (opt.type != disk_fixed && opt.type != disk_dynamic && opt.type != disk_differencing)
        return lib::Error::invalid;
    if (opt.block_size < sector_size || (opt.block_size & (opt.block_size - 1))) return lib::Error::invalid;
    uint64_t size = opt.size;
    if (opt.type == disk_differencing) {
        if (!opt.parent || opt.parent_name.empty() || opt.parent->format_name()[0] != 'v')
            return lib::Error::invalid;
        size = opt.parent->size();
    }
    // Round up to a CHS geometry, as QEMU does, unless the geometry is at its
    // maximum (then the footer's current_size is the size).
    uint64_t sectors = div_round_up(size, sector_size);
    Geometry g{0, 0, 0};
    for (uint64_t i = 0; sectors > g.total() && i < 1u << 20; ++i) {
        g = geometry_for(sectors + i);
        if (g.total() == max_chs_sectors) break;
    }
    if (g.total() == max_chs_sectors) size = sectors * sector_size;
    else size = g.total() * sector_size;
    if (opt.type == disk_differencing) {
        // Same geometry and size as the parent, whatever rounding made them.
        const Footer& pf = static_cast<Device*>(opt.parent)->footer();
        g = {pf.cylinders.get(), pf.heads, pf.sectors_per_track};
        size = opt.parent->size();
    }
    if (size > max_size) return lib::Error::out_of_range;

    Footer f{};
    std::memcpy(f.cookie, footer_cookie, 8);
    f.features.set(features_reserved);
    f.version.set(format_version);
    f.data_offset.set(opt.type == disk_fixed ? fixed_data_offset : sizeof(Footer));
    f.timestamp.set(opt.timestamp);
    std::memcpy(f.creator_app, "hvim", 4);
    f.creator_version.set(0x00010000);
    f.creator_os.set(os_windows);
    f.original_size.set(size);
    f.current_size.set(size);
    f.cylinders.set(g.cylinders);
    f.heads = g.heads;
    f.sectors_per_track = g.sectors;
    f.disk_type.set(opt.type);
    std::memcpy(f.unique_id, opt.unique_id, 16);
    seal_footer(f);

    TRY(file_resize(file, 0));
    if (opt.type == disk_fixed) {
        TRY(file_resize(file, size));
        TRY(file_write(file, size, &f, sizeof f));
        return file_flush(file);
    }

    uint64_t entries = div_round_up(size, opt.block_size);
    if (entries > 0xffffffffu) return lib::Error::out_of_range;
    uint64_t bat_off = sizeof(Footer) + sizeof(DynamicHeader);
    uint64_t bat_bytes = align_up(entries * 4, sector_size);
    uint64_t end = bat_off + bat_bytes;

    DynamicHeader h{};
    std::memcpy(h.cookie, dynamic_cookie, 8);
    h.data_offset.set(~0ull);
    h.table_offset.set(bat_off);
    h.header_version.set(header_version);
    h.max_table_entries.set(uint32_t(entries));
    h.block_size.set(opt.block_size);

    uint8_t loc[2][1024] = {};
    size_t loc_len[2] = {};
    if (opt.type == disk_differencing) {
        auto* p = static_cast<Device*>(opt.parent);
        std::memcpy(h.parent_unique_id, p->unique_id(), 16);
        h.parent_timestamp.set(p->timestamp());
        to_utf16(opt.parent_name, h.parent_name, sizeof h.parent_name, true, false);
        // A relative Windows locator and a MacX URL, one sector each.
        loc_len[0] = to_utf16(opt.parent_name, loc[0], sector_size, false, true);
        const char prefix[] = "file://";
        size_t n = 0;
        for (; n < 7; ++n) loc[1][n] = uint8_t(prefix[n]);
        for (size_t i = 0; i < opt.parent_name.size() && n < sector_size; ++i) loc[1][n++] = uint8_t(opt.parent_name[i]);
        loc_len[1] = n;
        const uint32_t codes[2] = {plat_w2ru, plat_macx};
        for (int i = 0; i < 2; ++i) {
            h.locators[i].platform_code.set(codes[i]);
            h.locators[i].data_space.set(sector_size);
            h.locators[i].data_length.set(uint32_t(loc_len[i]));
            h.locators[i].data_offset.set(end);
            TRY(file_write(file, end, loc[i], sector_size));
            end += sector_size;
        }
    }
    h.checksum.set(checksum(&h, sizeof h, offsetof(DynamicHeader, checksum)));

    TRY(file_write(file, 0, &f, sizeof f));
    TRY(file_write(file, sizeof f, &h, sizeof h));
    Buffer bat = TRY(Buffer::make(a, bat_bytes));
    std::memset(bat.data(), 0xff, bat_bytes);
    TRY(file_write(file, bat_off, bat.data(), bat_bytes));
    TRY(file_write(file, end, &f, sizeof f));
    return file_flush(file);
}

}  // namespace vmm::block::vhd
