// cpio newc reader: every offset and length is checked against the buffer
// before use, with the comparison written as `len > size - off` so that no
// sum of hostile fields can wrap.
#include "vmm/files/cpio.hpp"

#include "lib/bytes.hpp"
#include "lib/format.hpp"

namespace vmm::files {
namespace {

// Header layout: magic, then 13 fields of 8 hex digits in this order.
constexpr size_t magic_len = 6;
constexpr size_t field_len = 8;
enum Field : size_t {
    f_ino, f_mode, f_uid, f_gid, f_nlink, f_mtime, f_filesize,
    f_devmajor, f_devminor, f_rdevmajor, f_rdevminor, f_namesize, f_check, field_count
};
static_assert(magic_len + field_count * field_len == CpioArchive::header_size);

constexpr uint32_t s_ifmt = 0170000, s_ifreg = 0100000, s_ifdir = 0040000, s_iflnk = 0120000;

bool parse_hex8(const uint8_t* p, uint32_t& out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < field_len; ++i) {
        uint8_t c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return false;
        v = v << 4 | d;
    }
    out = v;
    return true;
}

CpioType type_of(uint32_t mode)
{
    switch (mode & s_ifmt) {
    case s_ifreg: return CpioType::regular;
    case s_ifdir: return CpioType::directory;
    case s_iflnk: return CpioType::symlink;
    default: return CpioType::other;
    }
}

// Takes the next path component out of `rest`, skipping separators and "."
// components. False when none is left.
bool next_component(lib::StrView& rest, lib::StrView& out)
{
    for (;;) {
        size_t b = 0;
        while (b < rest.size() && rest[b] == '/') ++b;
        rest = rest.substr(b);
        if (rest.empty()) return false;
        out = rest.split_first('/');
        if (!(out == lib::StrView(".", 1))) return true;
    }
}

bool has_dotdot(lib::StrView path)
{
    lib::StrView c;
    while (next_component(path, c))
        if (c == lib::StrView("..", 2)) return true;
    return false;
}

lib::StrView normalize(lib::StrView n)
{
    for (;;) {
        if (n.starts_with("/")) n = n.substr(1);
        else if (n.starts_with("./")) n = n.substr(2);
        else if (n == lib::StrView(".", 1)) n = n.substr(1);
        else break;
    }
    while (n.ends_with("/")) n = n.substr(0, n.size() - 1);
    return n;
}

uint32_t data_sum(const uint8_t* p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += p[i];
    return s;
}

}  // namespace

bool same_path(lib::StrView a, lib::StrView b)
{
    lib::StrView ca, cb;
    for (;;) {
        bool more_a = next_component(a, ca);
        bool more_b = next_component(b, cb);
        if (more_a != more_b) return false;
        if (!more_a) return true;
        if (!(ca == cb)) return false;
    }
}

bool CpioArchive::parse_at(size_t off, CpioEntry& e, size_t& next, bool& trailer, Failure& f) const
{
    using lib::Error;
    if (off > size_ || header_size > size_ - off) {
        f = {Error::truncated, "header runs past the end of the archive"};
        return false;
    }
    const uint8_t* h = data_ + off;
    bool crc = __builtin_memcmp(h, "070702", magic_len) == 0;
    if (!crc && __builtin_memcmp(h, "070701", magic_len) != 0) {
        f = {Error::invalid, "bad magic (not 070701 or 070702)"};
        return false;
    }
    uint32_t v[field_count];
    for (size_t i = 0; i < field_count; ++i) {
        if (!parse_hex8(h + magic_len + i * field_len, v[i])) {
            f = {Error::invalid, "non-hex digit in a header field"};
            return false;
        }
    }
    size_t name_off = off + header_size;
    uint32_t namesize = v[f_namesize];
    if (namesize == 0) {
        f = {Error::invalid, "namesize is 0"};
        return false;
    }
    if (namesize > max_name) {
        f = {Error::out_of_range, "name longer than 4096 bytes"};
        return false;
    }
    if (namesize > size_ - name_off) {
        f = {Error::truncated, "name runs past the end of the archive"};
        return false;
    }
    const char* name = reinterpret_cast<const char*>(data_ + name_off);
    if (name[namesize - 1] != '\0') {
        f = {Error::invalid, "name is not NUL-terminated"};
        return false;
    }
    lib::StrView raw(name, namesize - 1);
    if (raw.find('\0') != lib::StrView::npos) {
        f = {Error::invalid, "NUL inside the name"};
        return false;
    }
    // name_off + namesize <= size_, so this cannot wrap.
    uint64_t data_off = lib::align_up(name_off + namesize, 4);
    uint32_t filesize = v[f_filesize];
    if (filesize != 0 && (data_off > size_ || filesize > size_ - data_off)) {
        f = {Error::truncated, "data runs past the end of the archive"};
        return false;
    }
    trailer = raw == lib::StrView(trailer_name);
    e.type = type_of(v[f_mode]);
    if (!trailer) {
        if (has_dotdot(raw)) {
            f = {Error::invalid, "name has a '..' component"};
            return false;
        }
        if (normalize(raw).empty() && e.type != CpioType::directory) {
            f = {Error::invalid, "empty name on an entry that is not a directory"};
            return false;
        }
    }
    e.name = normalize(raw);
    e.mode = v[f_mode];
    e.size = filesize;
    e.data = data_ + (data_off <= size_ ? data_off : size_);
    e.ino = v[f_ino];
    e.nlink = v[f_nlink];
    e.devmajor = v[f_devmajor];
    e.devminor = v[f_devminor];
    e.offset = off;
    if (crc && e.type == CpioType::regular && data_sum(e.data, filesize) != v[f_check]) {
        f = {Error::bad_checksum, "data checksum mismatch"};
        return false;
    }
    next = static_cast<size_t>(lib::align_up(data_off + filesize, 4));
    return true;
}

size_t CpioArchive::skip_padding(size_t off) const
{
    while (off < size_ && data_[off] == 0) ++off;
    return off < size_ ? off : size_;
}

lib::Status CpioArchive::fail(size_t off, Failure f)
{
    state_ = State::failed;
    result_ = f.error;
    entries_ = 0;
    // A missing trailer can be noticed at an offset past the end (after the
    // last entry's padding); name the end instead.
    if (off > size_) off = size_;
    err_offset_ = off;
    err_reason_ = f.reason;
    lib::format(err_msg_, sizeof err_msg_, "cpio: entry at offset %zu: %s", off, f.reason);
    return lib::err(f.error);
}

lib::Status CpioArchive::validate()
{
    if (state_ != State::unchecked) return result_;
    size_t off = 0;
    for (;;) {
        if (off >= size_)
            return fail(off, {lib::Error::truncated, "archive ends without a TRAILER!!! entry"});
        CpioEntry e{};
        size_t next = 0;
        bool trailer = false;
        Failure f{};
        if (!parse_at(off, e, next, trailer, f)) return fail(off, f);
        if (!trailer) {
            ++entries_;
            off = next;
            continue;
        }
        off = skip_padding(next);
        if (off == size_) break;
        // Another archive must start on a 4-byte boundary, as the kernel expects.
        if ((off & 3) != 0 || size_ - off < magic_len ||
            (__builtin_memcmp(data_ + off, "070701", magic_len) != 0 &&
             __builtin_memcmp(data_ + off, "070702", magic_len) != 0))
            return fail(off, {lib::Error::invalid, "junk after a TRAILER!!! entry"});
    }
    state_ = State::valid;
    return {};
}

CpioArchive::Iterator::Iterator(const CpioArchive* a, size_t from) : archive_(a) { advance(from); }

void CpioArchive::Iterator::advance(size_t off)
{
    for (;;) {
        if (off >= archive_->size_) {
            at_end_ = true;
            next_ = archive_->size_;
            return;
        }
        size_t next = 0;
        bool trailer = false;
        Failure f{};
        if (!archive_->parse_at(off, entry_, next, trailer, f)) {  // cannot happen once validated
            at_end_ = true;
            next_ = archive_->size_;
            return;
        }
        if (trailer) {
            off = archive_->skip_padding(next);
            continue;
        }
        at_end_ = false;
        next_ = next;
        return;
    }
}

CpioArchive::Iterator& CpioArchive::Iterator::operator++()
{
    if (!at_end_) advance(next_);
    return *this;
}

CpioArchive::Iterator CpioArchive::begin() const { return Iterator(this, validated() ? 0 : size_); }

lib::Result<CpioEntry> CpioArchive::find(lib::StrView path) const
{
    if (state_ != State::valid) return lib::err(state_ == State::failed ? result_ : lib::Error::invalid);
    if (has_dotdot(path)) return lib::err(lib::Error::invalid);
    // Pass 1: the last entry with this name, and which archive (of several
    // concatenated ones) holds it, since hard-link groups end at a trailer as
    // in the kernel.
    bool found = false;
    CpioEntry last{};
    size_t last_archive = 0;
    size_t archive = 0;
    for (size_t off = 0; off < size_;) {
        CpioEntry e{};
        size_t next = 0;
        bool trailer = false;
        Failure f{};
        if (!parse_at(off, e, next, trailer, f)) break;
        if (trailer) {
            ++archive;
            off = skip_padding(next);
            continue;
        }
        if (same_path(e.name, path)) {
            found = true;
            last = e;
            last_archive = archive;
        }
        off = next;
    }
    if (!found) return lib::err(lib::Error::not_found);
    if (last.type != CpioType::regular) return lib::err(lib::Error::unsupported);
    if (last.nlink < 2 || last.size != 0) return last;
    // Pass 2: a hard link stored without its data; take the data of the
    // group's last member in the same archive that has some.
    archive = 0;
    CpioEntry result = last;
    for (size_t off = 0; off < size_ && archive <= last_archive;) {
        CpioEntry e{};
        size_t next = 0;
        bool trailer = false;
        Failure f{};
        if (!parse_at(off, e, next, trailer, f)) break;
        if (trailer) {
            ++archive;
            off = skip_padding(next);
            continue;
        }
        if (archive == last_archive && e.type == CpioType::regular && e.nlink >= 2 && e.size != 0 && e.ino == last.ino &&
            e.devmajor == last.devmajor && e.devminor == last.devminor) {
            result.size = e.size;
            result.data = e.data;
        }
        off = next;
    }
    return result;
}

}  // namespace vmm::files
