#include "vmm/builder/aml.hpp"

namespace vmm::builder::aml {
namespace {

// §20.3 opcodes.
constexpr uint8_t zero_op = 0x00, one_op = 0x01, name_op = 0x08;
constexpr uint8_t byte_prefix = 0x0a, word_prefix = 0x0b, dword_prefix = 0x0c, string_prefix = 0x0d,
                  qword_prefix = 0x0e;
constexpr uint8_t scope_op = 0x10, buffer_op = 0x11, package_op = 0x12;
constexpr uint8_t ext_op_prefix = 0x5b, device_op = 0x82;
constexpr uint8_t method_op = 0x14, if_op = 0xa0, notify_op = 0x86, arg0_op = 0x68, local0_op = 0x60;
constexpr uint8_t op_region_op = 0x80, field_op = 0x81;  // after ext_op_prefix
constexpr uint8_t region_system_io = 1;
// §20.2.2 name prefixes.
constexpr uint8_t root_char = '\\', parent_prefix = '^', dual_name_prefix = 0x2e, multi_name_prefix = 0x2f;

// §6.4.2 small and §6.4.3 large resource tags. A small tag is
// (type << 3) | length; a large one is 0x80 | type, then a 16-bit length of
// what follows it.
constexpr uint8_t tag_irq2 = 0x22, tag_irq3 = 0x23, tag_io = 0x47, tag_end = 0x79;
constexpr uint8_t tag_dword_address = 0x87, tag_word_address = 0x88, tag_ext_irq = 0x89, tag_qword_address = 0x8a;

// §6.4.3.5 resource types and general flags.
constexpr uint8_t space_memory = 0, space_io = 1, space_bus = 2;
constexpr uint8_t gf_consumer = 1u << 0;  // clear: ResourceProducer
constexpr uint8_t gf_min_fixed = 1u << 2, gf_max_fixed = 1u << 3;
// §6.4.3.5.5 type-specific flags: for memory _RW bit 0, _MEM bits 2:1; for
// I/O _RNG bits 1:0 (3 = EntireRange).
constexpr uint8_t mem_read_write = 1u << 0;
constexpr uint8_t io_entire_range = 3;

bool lead_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return lead_char(c) || (c >= '0' && c <= '9'); }

int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

size_t encode_pkg_length(uint32_t total, uint8_t out[4])
{
    if (total <= 0x3f) {
        out[0] = uint8_t(total);
        return 1;
    }
    if (total > max_pkg_length) return 0;
    size_t follow = total <= 0xfff ? 1 : total <= 0xfffff ? 2 : 3;
    out[0] = uint8_t(follow << 6 | (total & 0xf));
    for (size_t i = 0; i < follow; ++i) out[1 + i] = uint8_t(total >> (4 + 8 * i));
    return follow + 1;
}

lib::Result<uint32_t> eisaid(lib::StrView id)
{
    if (id.size() != 7) return lib::err(lib::Error::invalid);
    uint32_t v = 0;
    for (size_t i = 0; i < 3; ++i) {
        if (id[i] < 'A' || id[i] > 'Z') return lib::err(lib::Error::invalid);
        v = v << 5 | uint32_t(id[i] - 0x40);
    }
    for (size_t i = 3; i < 7; ++i) {
        int d = hex_digit(id[i]);
        if (d < 0) return lib::err(lib::Error::invalid);
        v = v << 4 | uint32_t(d);
    }
    // 1 reserved zero bit + 15 bits of letters + 16 bits of digits, stored
    // most significant byte first.
    return __builtin_bswap32(v);
}

lib::Status Emitter::status() const
{
    if (error_ != lib::Error::none) return lib::err(error_);
    if (depth_) return lib::err(lib::Error::invalid);
    return {};
}

void Emitter::fail(lib::Error e)
{
    if (error_ == lib::Error::none) error_ = e;
}

void Emitter::byte(uint8_t b) { bytes(&b, 1); }

void Emitter::bytes(const void* p, size_t n)
{
    if (error_ != lib::Error::none) return;
    if (n > cap_ - size_) return fail(lib::Error::out_of_range);
    __builtin_memcpy(buf_ + size_, p, n);
    size_ += n;
}

void Emitter::insert(size_t at, const uint8_t* p, size_t n)
{
    if (error_ != lib::Error::none) return;
    if (n > cap_ - size_) return fail(lib::Error::out_of_range);
    __builtin_memmove(buf_ + at + n, buf_ + at, size_ - at);
    __builtin_memcpy(buf_ + at, p, n);
    size_ += n;
}

void Emitter::name_string(lib::StrView path)
{
    size_t i = 0;
    if (i < path.size() && path[i] == root_char) byte(path[i++]);
    else
        while (i < path.size() && path[i] == parent_prefix) byte(path[i++]);
    lib::StrView rest = path.substr(i);
    if (rest.empty()) {
        // NullName: only meaningful after a prefix ("\\" is the root).
        if (i == 0) return fail(lib::Error::invalid);
        return byte(0);
    }
    size_t segs = 1;
    for (char c : rest) segs += c == '.';
    if (segs > 255) return fail(lib::Error::invalid);
    if (segs == 2) byte(dual_name_prefix);
    else if (segs > 2) {
        byte(multi_name_prefix);
        byte(uint8_t(segs));
    }
    while (true) {
        lib::StrView seg = rest.split_first('.');
        if (seg.empty() || seg.size() > 4 || !lead_char(seg[0])) return fail(lib::Error::invalid);
        char s[4] = {'_', '_', '_', '_'};
        for (size_t k = 0; k < seg.size(); ++k) {
            if (!name_char(seg[k])) return fail(lib::Error::invalid);
            s[k] = seg[k];
        }
        bytes(s, 4);
        if (rest.empty()) {
            // A trailing dot left an empty last segment.
            if (seg.end() != path.end()) return fail(lib::Error::invalid);
            break;
        }
    }
}

void Emitter::integer(uint64_t v)
{
    if (v == 0) return byte(zero_op);
    if (v == 1) return byte(one_op);
    uint8_t b[9];
    size_t n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffull ? 4 : 8;
    b[0] = n == 1 ? byte_prefix : n == 2 ? word_prefix : n == 4 ? dword_prefix : qword_prefix;
    for (size_t i = 0; i < n; ++i) b[1 + i] = uint8_t(v >> (8 * i));
    bytes(b, n + 1);
}

void Emitter::string(lib::StrView s)
{
    for (char c : s)
        if (c <= 0 || uint8_t(c) > 0x7f) return fail(lib::Error::invalid);
    byte(string_prefix);
    bytes(s.data(), s.size());
    byte(0);
}

void Emitter::eisaid(lib::StrView id)
{
    auto v = aml::eisaid(id);
    if (!v) return fail(v.error());
    uint8_t b[5] = {dword_prefix, uint8_t(*v), uint8_t(*v >> 8), uint8_t(*v >> 16), uint8_t(*v >> 24)};
    bytes(b, sizeof b);
}

void Emitter::name(lib::StrView path)
{
    byte(name_op);
    name_string(path);
}

Emitter::Mark Emitter::open(Kind k)
{
    ++depth_;
    if (k == k_template) ++templates_;
    return {size_, k, depth_};
}

Emitter::Mark Emitter::begin_scope(lib::StrView path)
{
    byte(scope_op);
    Mark m = open(k_scope);
    name_string(path);
    return m;
}

Emitter::Mark Emitter::begin_device(lib::StrView path)
{
    byte(ext_op_prefix);
    byte(device_op);
    Mark m = open(k_device);
    name_string(path);
    return m;
}

Emitter::Mark Emitter::begin_package(uint8_t count)
{
    byte(package_op);
    Mark m = open(k_package);
    byte(count);
    return m;
}

Emitter::Mark Emitter::begin_buffer()
{
    byte(buffer_op);
    return open(k_buffer);
}

Emitter::Mark Emitter::begin_resource_template()
{
    byte(buffer_op);
    return open(k_template);
}

Emitter::Mark Emitter::begin_method(lib::StrView path, uint8_t args)
{
    byte(method_op);
    Mark m = open(k_method);
    name_string(path);
    if (args > 7) fail(lib::Error::invalid);
    byte(uint8_t(args & 7));
    return m;
}

Emitter::Mark Emitter::begin_if()
{
    byte(if_op);
    return open(k_if);
}

void Emitter::arg(uint8_t n)
{
    if (n > 6) return fail(lib::Error::invalid);
    byte(uint8_t(arg0_op + n));
}

void Emitter::local(uint8_t n)
{
    if (n > 7) return fail(lib::Error::invalid);
    byte(uint8_t(local0_op + n));
}

void Emitter::operation_region_io(lib::StrView name, uint16_t base, uint16_t len)
{
    byte(ext_op_prefix);
    byte(op_region_op);
    name_string(name);
    byte(region_system_io);
    integer(base);
    integer(len);
}

Emitter::Mark Emitter::begin_field(lib::StrView region, uint8_t flags)
{
    byte(ext_op_prefix);
    byte(field_op);
    Mark m = open(k_field);
    name_string(region);
    byte(flags);
    return m;
}

void Emitter::field_unit(lib::StrView seg, uint32_t bits)
{
    // §20.2.5.2 NamedField := NameSeg FieldLength, the length a PkgLength
    // encoding of the bit count. A NameSeg is exactly 4 characters here.
    if (seg.size() != 4 || !lead_char(seg[0]) || !name_char(seg[1]) || !name_char(seg[2]) || !name_char(seg[3]))
        return fail(lib::Error::invalid);
    uint8_t pl[4];
    size_t n = encode_pkg_length(bits, pl);
    if (n == 0 || bits == 0) return fail(lib::Error::invalid);
    bytes(seg.data(), 4);
    bytes(pl, n);
}

void Emitter::notify(lib::StrView object, uint64_t value)
{
    byte(notify_op);
    name_string(object);
    integer(value);
}

void Emitter::end(Mark m)
{
    if (m.depth != depth_ || depth_ == 0 || m.at > size_) return fail(lib::Error::invalid);
    --depth_;
    if (m.kind == k_template) {
        --templates_;
        // §6.4.2.9: the End Tag's checksum makes all the template's bytes,
        // itself included, sum to zero.
        byte(tag_end);
        uint8_t sum = 0;
        if (error_ == lib::Error::none)
            for (size_t i = m.at; i < size_; ++i) sum = uint8_t(sum + buf_[i]);
        byte(uint8_t(-sum));
    }
    if (error_ != lib::Error::none) return;
    if (m.kind == k_buffer || m.kind == k_template) {
        // BufferSize (a TermArg integer) precedes the bytes and is inside
        // the PkgLength.
        uint8_t b[9];
        Emitter count(b, sizeof b);
        count.integer(size_ - m.at);
        insert(m.at, b, count.size());
    }
    size_t body = size_ - m.at;
    // The PkgLength counts its own bytes: pick the smallest form that holds
    // body + its own size.
    uint8_t pl[4];
    size_t n = 1;
    while (n <= 4 && (body + n > max_pkg_length || encode_pkg_length(uint32_t(body + n), pl) != n)) ++n;
    if (n > 4) return fail(lib::Error::out_of_range);
    insert(m.at, pl, n);
}

bool Emitter::resource_ok()
{
    if (templates_ == 0) fail(lib::Error::invalid);
    return error_ == lib::Error::none;
}

void Emitter::io(uint16_t min, uint16_t max, uint8_t align, uint8_t length)
{
    if (!resource_ok()) return;
    uint8_t d[8] = {tag_io, 1 /* decodes 16 address bits */, uint8_t(min), uint8_t(min >> 8),
                    uint8_t(max), uint8_t(max >> 8), align, length};
    bytes(d, sizeof d);
}

void Emitter::irq_noflags(uint16_t mask)
{
    if (!resource_ok()) return;
    uint8_t d[3] = {tag_irq2, uint8_t(mask), uint8_t(mask >> 8)};
    bytes(d, sizeof d);
}

void Emitter::irq(uint16_t mask, Trigger t, Polarity p, bool shared)
{
    if (!resource_ok()) return;
    // §6.4.2.1 flags: _HE bit 0 (edge), _LL bit 3 (active low), _SHR bit 4.
    uint8_t flags = uint8_t((t == Trigger::edge ? 1u : 0u) | (p == Polarity::active_low ? 1u << 3 : 0u) |
                            (shared ? 1u << 4 : 0u));
    uint8_t d[4] = {tag_irq3, uint8_t(mask), uint8_t(mask >> 8), flags};
    bytes(d, sizeof d);
}

void Emitter::address_space(uint8_t tag, unsigned width, uint8_t type, bool producer, uint8_t type_flags,
                            uint64_t min, uint64_t max)
{
    if (!resource_ok()) return;
    if (max < min) return fail(lib::Error::invalid);
    // Tag, 16-bit length, type, general flags, type-specific flags, then
    // granularity, minimum, maximum, translation offset and length.
    uint8_t d[3 + 3 + 5 * 8];
    size_t len = 3 + 5 * width;
    d[0] = tag;
    d[1] = uint8_t(len);
    d[2] = uint8_t(len >> 8);
    d[3] = type;
    d[4] = uint8_t(gf_min_fixed | gf_max_fixed | (producer ? 0 : gf_consumer));
    d[5] = type_flags;
    // With both ends fixed, _LEN must be _MAX - _MIN + 1 (§6.4.3.5, table
    // "Valid combinations of Address Space Descriptor fields").
    const uint64_t fields[5] = {0, min, max, 0, max - min + 1};
    size_t o = 6;
    for (uint64_t f : fields)
        for (unsigned i = 0; i < width; ++i) d[o++] = uint8_t(f >> (8 * i));
    bytes(d, o);
}

void Emitter::word_bus_number(uint16_t min, uint16_t max)
{
    address_space(tag_word_address, 2, space_bus, true, 0, min, max);
}

void Emitter::word_io(uint16_t min, uint16_t max)
{
    address_space(tag_word_address, 2, space_io, true, io_entire_range, min, max);
}

void Emitter::dword_memory(uint32_t min, uint32_t max, Cache c, bool producer)
{
    address_space(tag_dword_address, 4, space_memory, producer, uint8_t(mem_read_write | uint8_t(c) << 1), min, max);
}

void Emitter::qword_memory(uint64_t min, uint64_t max, Cache c, bool producer)
{
    address_space(tag_qword_address, 8, space_memory, producer, uint8_t(mem_read_write | uint8_t(c) << 1), min, max);
}

void Emitter::interrupt(Trigger t, Polarity p, bool shared, const uint32_t* gsis, size_t n)
{
    if (!resource_ok()) return;
    if (n == 0 || n > 255) return fail(lib::Error::invalid);
    // §6.4.3.6 flags: consumer bit 0, _HE bit 1, _LL bit 2, _SHR bit 3.
    uint8_t flags = uint8_t(1u | (t == Trigger::edge ? 1u << 1 : 0u) | (p == Polarity::active_low ? 1u << 2 : 0u) |
                            (shared ? 1u << 3 : 0u));
    size_t len = 2 + 4 * n;
    uint8_t h[5] = {tag_ext_irq, uint8_t(len), uint8_t(len >> 8), flags, uint8_t(n)};
    bytes(h, sizeof h);
    for (size_t i = 0; i < n; ++i) {
        uint8_t g[4] = {uint8_t(gsis[i]), uint8_t(gsis[i] >> 8), uint8_t(gsis[i] >> 16), uint8_t(gsis[i] >> 24)};
        bytes(g, sizeof g);
    }
}

}  // namespace vmm::builder::aml
