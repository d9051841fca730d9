// Opening, reading and writing VHD images. Checksums are verified on open; a
// footer whose checksum is wrong is an error, not a warning.
#include "vmm/block/vhd/vhd.hpp"

#include <cstring>

namespace vmm::block::vhd {
namespace {

constexpr uint64_t max_bat_bytes = 64u << 20;

bool range_in_file(uint64_t off, uint64_t len, uint64_t file_size)
{
    uint64_t end;
    return !add_overflows(off, len, &end) && end <= file_size;
}

bool cookie_is(const char* have, const char (&want)[8]) { return std::memcmp(have, want, 8) == 0; }

// The virtual size QEMU would give the image: images from Virtual PC and
// QEMU's own "qemu" creator are sized by their CHS geometry, others by
// current_size, as is anything at the maximum geometry.
uint64_t virtual_size(const Footer& f)
{
    uint64_t chs = uint64_t(f.cylinders.get()) * f.heads * f.sectors_per_track;
    static constexpr const char* by_size[] = {"win ", "qem2", "d2v ", "CTXS"};
    for (const char* c : by_size)
        if (std::memcmp(f.creator_app, c, 4) == 0) return f.current_size.get();
    if (std::memcmp(f.creator_app, "tap\0", 4) == 0) return f.current_size.get();
    if (chs == max_chs_sectors) return f.current_size.get();
    return chs * sector_size;
}

// UTF-16 (either byte order) to UTF-8, stopping at NUL; backslashes become
// slashes so Windows-relative locators work on POSIX hosts and in Dom0.
size_t utf16_to_utf8(const uint8_t* in, size_t bytes, bool big_endian, char* out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i + 1 < bytes; i += 2) {
        uint32_t c = big_endian ? (uint32_t(in[i]) << 8 | in[i + 1]) : (uint32_t(in[i + 1]) << 8 | in[i]);
        if (c == 0) break;
        if (c == '\\') c = '/';
        char tmp[3];
        size_t k = 0;
        if (c < 0x80) tmp[k++] = char(c);
        else if (c < 0x800) {
            tmp[k++] = char(0xc0 | (c >> 6));
            tmp[k++] = char(0x80 | (c & 0x3f));
        } else {
            tmp[k++] = char(0xe0 | (c >> 12));
            tmp[k++] = char(0x80 | ((c >> 6) & 0x3f));
            tmp[k++] = char(0x80 | (c & 0x3f));
        }
        if (o + k + 1 > cap) break;
        for (size_t j = 0; j < k; ++j) out[o++] = tmp[j];
    }
    if (cap) out[o] = 0;
    return o;
}

}  // namespace

lib::Result<Device*> Device::open(lib::Allocator& a, FileOpener& opener, File& file, lib::StrView name,
                                  const OpenOptions& opt)
{
    if (opt.writable && !file.writable()) return lib::err(lib::Error::denied);
    auto* d = make_in<Device>(a, a, opener, file);
    if (!d) return lib::err(lib::Error::no_memory);
    lib::Status s = [&]() -> lib::Status {
        d->detail_ = opt.detail;
        uint64_t fsize = file.size();
        if (fsize < sizeof(Footer)) return d->why(lib::Error::truncated, "file shorter than a VHD footer");
        d->footer_offset_ = fsize - sizeof(Footer);
        TRY(file_read(file, d->footer_offset_, &d->footer_, sizeof(Footer)));
        if (!cookie_is(d->footer_.cookie, footer_cookie)) {
            // Dynamic disks keep a copy of the footer in their first sector.
            TRY(file_read(file, 0, &d->footer_, sizeof(Footer)));
            if (!cookie_is(d->footer_.cookie, footer_cookie)) return d->why(lib::Error::invalid, "no VHD footer (cookie 'conectix' not found)");
            // No trailing footer at the end of the file: an image on a disk
            // or partition larger than it (or one whose last sector was
            // lost). Its data ends after its last block; open_dynamic puts
            // the footer there, as QEMU's vpc driver does.
            d->footer_offset_ = fsize;
            d->footer_from_blocks_ = true;
        }
        if (checksum(&d->footer_, sizeof(Footer), offsetof(Footer, checksum)) != d->footer_.checksum.get())
            return d->why(lib::Error::bad_checksum, "VHD footer checksum mismatch");
        if ((d->footer_.version.get() >> 16) != (format_version >> 16)) return d->why(lib::Error::unsupported, "unsupported VHD format version");
        std::memcpy(d->creator_, d->footer_.creator_app, 4);
        d->type_ = d->footer_.disk_type.get();
        d->size_ = virtual_size(d->footer_);
        d->read_only_ = !opt.writable;
        d->sector_buf_ = TRY(Buffer::make(a, sector_size));
        if (d->size_ > max_size) return d->why(lib::Error::unsupported, "VHD larger than 2040 GiB");
        if (d->type_ == disk_fixed) {
            if (d->size_ > d->footer_offset_) return d->why(lib::Error::truncated, "fixed VHD shorter than its virtual size");
            return {};
        }
        if (d->type_ != disk_dynamic && d->type_ != disk_differencing) return d->why(lib::Error::unsupported, "unknown VHD disk type");
        return d->open_dynamic(name, opt);
    }();
    if (!s) {
        d->release();
        destroy_in(a, d);
        return lib::err(s.error());
    }
    return d;
}

lib::Error Device::why(lib::Error e, const char* reason)
{
    if (detail_ && !*detail_) *detail_ = reason;
    return e;
}

lib::Status Device::open_dynamic(lib::StrView name, const OpenOptions& opt)
{
    uint64_t fsize = file_.size();
    uint64_t hoff = footer_.data_offset.get();
    if (!range_in_file(hoff, sizeof(DynamicHeader), fsize)) return why(lib::Error::truncated, "dynamic header lies beyond the end of the file");
    DynamicHeader h;
    TRY(file_read(file_, hoff, &h, sizeof h));
    if (!cookie_is(h.cookie, dynamic_cookie)) return why(lib::Error::invalid, "dynamic header cookie 'cxsparse' not found");
    if (checksum(&h, sizeof h, offsetof(DynamicHeader, checksum)) != h.checksum.get()) return why(lib::Error::bad_checksum, "dynamic header checksum mismatch");
    if ((h.header_version.get() >> 16) != (header_version >> 16)) return why(lib::Error::unsupported, "unsupported dynamic header version");
    block_size_ = h.block_size.get();
    if (block_size_ < sector_size || block_size_ > (256u << 20) || (block_size_ & (block_size_ - 1)))
        return why(lib::Error::invalid, "block size not a power of two between 512 B and 256 MiB");
    max_entries_ = h.max_table_entries.get();
    if (uint64_t(max_entries_) * 4 > max_bat_bytes) return why(lib::Error::invalid, "BAT too large");
    if (div_round_up(size_, block_size_) > max_entries_) return why(lib::Error::invalid, "BAT too small for the virtual size");
    bat_offset_ = h.table_offset.get();
    uint64_t bat_bytes = uint64_t(max_entries_) * 4;
    if (!range_in_file(bat_offset_, bat_bytes, fsize)) return why(lib::Error::truncated, "BAT lies beyond the end of the file");
    bitmap_size_ = uint32_t(align_up(block_size_ / sector_size / 8, sector_size));
    bat_ = TRY(Buffer::make(alloc_, align_up(bat_bytes, sector_size)));
    TRY(file_read(file_, bat_offset_, bat_.data(), bat_bytes));
    // Every used BAT entry must name a whole block inside the file, after
    // the BAT, before the trailing footer.
    for (uint32_t i = 0; i < max_entries_; ++i) {
        uint32_t e = bat_.as<Be32>()[i].get();
        if (e == bat_unused) continue;
        uint64_t start = uint64_t(e) * sector_size;
        if (start < bat_offset_ + bat_bytes || !range_in_file(start, bitmap_size_ + uint64_t(block_size_), footer_offset_))
            return why(lib::Error::corrupt, "BAT entry out of range (block outside the file or over the headers)");
    }
    if (footer_from_blocks_) {
        uint64_t end = align_up(bat_offset_ + bat_bytes, sector_size);
        if (hoff + sizeof(DynamicHeader) > end) end = align_up(hoff + sizeof(DynamicHeader), sector_size);
        for (uint32_t i = 0; i < max_entries_; ++i) {
            uint32_t e = bat_.as<Be32>()[i].get();
            if (e == bat_unused) continue;
            uint64_t block_end = uint64_t(e) * sector_size + bitmap_size_ + block_size_;
            if (block_end > end) end = block_end;
        }
        footer_offset_ = end;
    }
    bitmap_buf_ = TRY(Buffer::make(alloc_, bitmap_size_));
    if (type_ != disk_differencing) return {};

    TRY(find_parent_name(h));
    if (!opt.open_backing) return {};
    if (opt.depth + 1 >= max_chain_depth) return why(lib::Error::out_of_range, "parent chain deeper than 64");
    OpenOptions po;
    po.depth = opt.depth + 1;
    po.format = Format::vpc;
    po.detail = opt.detail;
    parent_ = TRY(open_image(alloc_, opener_, parent_name_, name, po));
    auto* p = static_cast<Device*>(parent_);  // format forced to vpc above
    if (std::memcmp(p->unique_id(), h.parent_unique_id, 16) != 0) return why(lib::Error::corrupt, "parent's unique id does not match (parent changed?)");
    return {};
}

lib::Status Device::find_parent_name(const DynamicHeader& h)
{
    static constexpr uint32_t preference[] = {plat_w2ru, plat_w2ku, plat_macx, plat_wi2r, plat_wi2k};
    uint8_t raw[1024];
    for (uint32_t want : preference) {
        for (const ParentLocator& l : h.locators) {
            if (l.platform_code.get() != want) continue;
            uint32_t len = l.data_length.get();
            uint64_t off = l.data_offset.get();
            if (len == 0 || len > sizeof raw || !range_in_file(off, len, file_.size())) continue;
            TRY(file_read(file_, off, raw, len));
            if (want == plat_w2ru || want == plat_w2ku) {
                utf16_to_utf8(raw, len, false, parent_name_, sizeof parent_name_);
            } else {
                size_t n = len < sizeof parent_name_ - 1 ? len : sizeof parent_name_ - 1;
                std::memcpy(parent_name_, raw, n);
                parent_name_[n] = 0;
                if (want == plat_macx && std::memcmp(parent_name_, "file://", 7) == 0)
                    std::memmove(parent_name_, parent_name_ + 7, std::strlen(parent_name_ + 7) + 1);
            }
            const char* p = parent_name_;
            if (p[0] == '.' && p[1] == '/') std::memmove(parent_name_, p + 2, std::strlen(p + 2) + 1);
            if (parent_name_[0]) return {};
        }
    }
    utf16_to_utf8(h.parent_name, sizeof h.parent_name, true, parent_name_, sizeof parent_name_);
    return parent_name_[0] ? lib::Status{} : lib::Status{lib::Error::not_found};
}

void Device::release()
{
    if (parent_) (void)parent_->close();
    parent_ = nullptr;
}

lib::Status Device::close()
{
    lib::Status s = read_only_ ? lib::Status{} : file_flush(file_);
    release();
    opener_.close(&file_);
    lib::Allocator& a = alloc_;
    destroy_in(a, this);
    return s;
}

lib::Result<uint8_t*> Device::bitmap(uint32_t block)
{
    if (bitmap_block_ != block) {
        bitmap_block_ = bat_unused;
        TRY(file_read(file_, uint64_t(bat_.as<Be32>()[block].get()) * sector_size, bitmap_buf_.data(), bitmap_size_));
        bitmap_block_ = block;
    }
    return bitmap_buf_.data();
}

namespace {
bool bit(const uint8_t* bm, uint64_t sector) { return bm[sector / 8] & (0x80 >> (sector % 8)); }  // MSB first
void set_bit(uint8_t* bm, uint64_t sector) { bm[sector / 8] |= uint8_t(0x80 >> (sector % 8)); }
}  // namespace

lib::Status Device::read_block(uint32_t block, uint64_t off, uint8_t* out, size_t n)
{
    uint32_t e = bat_.as<Be32>()[block].get();
    if (e == bat_unused) {
        if (parent_) return read_backing(parent_, off, out, n);
        std::memset(out, 0, n);
        return {};
    }
    uint8_t* bm = TRY(bitmap(block));
    uint64_t inb = off % block_size_;
    while (n) {
        // A run of sectors with the same bitmap bit.
        uint64_t s = inb / sector_size;
        bool present = bit(bm, s);
        uint64_t end = inb;
        while (end < inb + n && bit(bm, end / sector_size) == present) end = (end / sector_size + 1) * sector_size;
        size_t run = size_t((end < inb + n ? end : inb + n) - inb);
        if (present) TRY(file_read_padded(file_, block_data(block) + inb, out, run));
        else if (parent_) TRY(read_backing(parent_, off, out, run));
        else std::memset(out, 0, run);
        out += run;
        off += run;
        inb += run;
        n -= run;
    }
    return {};
}

lib::Status Device::alloc_block(uint32_t block)
{
    uint64_t pos = footer_offset_;
    if (pos / sector_size > 0xfffffffeu) return lib::Error::out_of_range;
    // Dynamic disks: every sector present (fresh data reads as zeros);
    // differencing: none present, the parent shows through.
    std::memset(bitmap_buf_.data(), type_ == disk_dynamic ? 0xff : 0, bitmap_size_);
    bitmap_block_ = bat_unused;
    TRY(file_write(file_, pos, bitmap_buf_.data(), bitmap_size_));
    uint64_t new_footer = pos + bitmap_size_ + block_size_;
    TRY(file_write(file_, new_footer, &footer_, sizeof footer_));
    TRY(file_flush(file_));  // block and footer before the BAT names the block
    bat_.as<Be32>()[block].set(uint32_t(pos / sector_size));
    TRY(file_write(file_, bat_offset_ + uint64_t(block) * 4, &bat_.as<Be32>()[block], 4));
    footer_offset_ = new_footer;
    bitmap_block_ = block;
    return {};
}

lib::Status Device::write_block(uint32_t block, uint64_t off, const uint8_t* in, size_t n)
{
    if (bat_.as<Be32>()[block].get() == bat_unused) TRY(alloc_block(block));
    uint8_t* bm = TRY(bitmap(block));
    uint64_t inb = off % block_size_;
    uint64_t data = block_data(block);
    bool changed = false;
    while (n) {
        uint64_t s = inb / sector_size;
        uint64_t so = inb % sector_size;
        if (so == 0 && n >= sector_size) {
            // Whole sectors: write them in one go.
            size_t run = n - n % sector_size;
            TRY(file_write(file_, data + inb, in, run));
            for (uint64_t k = s; k < s + run / sector_size; ++k)
                if (!bit(bm, k)) {
                    set_bit(bm, k);
                    changed = true;
                }
            in += run;
            off += run;
            inb += run;
            n -= run;
            continue;
        }
        size_t part = sector_size - so < n ? size_t(sector_size - so) : n;
        if (bit(bm, s)) {
            TRY(file_write(file_, data + inb, in, part));
        } else {
            // Partial sector not yet present: merge with what shows through.
            uint64_t sector_guest = off - so;
            if (parent_) TRY(read_backing(parent_, sector_guest, sector_buf_.data(), sector_size));
            else std::memset(sector_buf_.data(), 0, sector_size);
            std::memcpy(sector_buf_.data() + so, in, part);
            TRY(file_write(file_, data + s * sector_size, sector_buf_.data(), sector_size));
            set_bit(bm, s);
            changed = true;
        }
        in += part;
        off += part;
        inb += part;
        n -= part;
    }
    // Data before the bitmap bits that make it visible.
    if (changed) TRY(file_write(file_, data - bitmap_size_, bm, bitmap_size_));
    return {};
}

lib::Status Device::do_read(uint64_t off, void* buf, size_t len)
{
    auto* out = static_cast<uint8_t*>(buf);
    if (type_ == disk_fixed) return file_read(file_, off, out, len);
    while (len) {
        uint64_t inb = off % block_size_;
        size_t n = block_size_ - inb < len ? size_t(block_size_ - inb) : len;
        TRY(read_block(uint32_t(off / block_size_), off, out, n));
        off += n;
        out += n;
        len -= n;
    }
    return {};
}

lib::Status Device::do_write(uint64_t off, const void* buf, size_t len)
{
    auto* in = static_cast<const uint8_t*>(buf);
    if (type_ == disk_fixed) return file_write(file_, off, in, len);
    while (len) {
        uint64_t inb = off % block_size_;
        size_t n = block_size_ - inb < len ? size_t(block_size_ - inb) : len;
        TRY(write_block(uint32_t(off / block_size_), off, in, n));
        off += n;
        in += n;
        len -= n;
    }
    return {};
}

lib::Status Device::do_flush() { return file_flush(file_); }

lib::Status Device::do_write_zeroes(uint64_t off, uint64_t len)
{
    constexpr size_t chunk = 64 * 1024;
    Buffer z = TRY(Buffer::make(alloc_, chunk));
    while (len) {
        size_t n = len < chunk ? size_t(len) : chunk;
        if (type_ != disk_fixed) {
            uint64_t inb = off % block_size_;
            if (block_size_ - inb < n) n = size_t(block_size_ - inb);
            uint32_t block = uint32_t(off / block_size_);
            if (bat_.as<Be32>()[block].get() == bat_unused && !parent_) {
                off += n;
                len -= n;
                continue;  // unallocated blocks already read as zeros
            }
        }
        TRY(do_write(off, z.data(), n));
        off += n;
        len -= n;
    }
    return {};
}

lib::Status Device::do_discard(uint64_t off, uint64_t len) { return do_write_zeroes(off, len); }

lib::Status Device::extent_at(uint64_t off, uint64_t len, Extent& out)
{
    out = Extent{};
    if (type_ == disk_fixed) {
        out.length = len;
        out.state = ExtentState::data;
        out.has_host_offset = true;
        out.host_offset = off;
        return {};
    }
    uint32_t block = uint32_t(off / block_size_);
    uint64_t inb = off % block_size_;
    uint64_t n = block_size_ - inb < len ? block_size_ - inb : len;
    uint32_t e = bat_.as<Be32>()[block].get();
    if (e == bat_unused) {
        out.length = n;
        out.state = ExtentState::unallocated;
        return {};
    }
    uint8_t* bm = TRY(bitmap(block));
    bool present = bit(bm, inb / sector_size);
    uint64_t end = inb;
    while (end < inb + n && bit(bm, end / sector_size) == present) end = (end / sector_size + 1) * sector_size;
    out.length = (end < inb + n ? end : inb + n) - inb;
    if (present) {
        out.state = ExtentState::data;
        out.has_host_offset = true;
        out.host_offset = block_data(block) + inb;
    } else {
        out.state = parent_ ? ExtentState::unallocated : ExtentState::zero;
    }
    return {};
}

}  // namespace vmm::block::vhd
