// A small AML (ACPI Machine Language) emitter for the DSDT the domain builder
// writes: named data objects, scopes, devices, packages, buffers and the
// resource templates of _CRS. Section numbers: ACPI 6.5 (chapter 20 for the
// AML encoding, 6.4 for resource descriptors).
//
// The emitter writes into a caller-provided fixed buffer and never allocates.
// Errors are sticky: the first one (buffer full: out_of_range; a bad name,
// string, EISA ID or mis-nested end: invalid) is kept, later calls do
// nothing, and status() reports it once the caller is done. Objects with a
// PkgLength (scope, device, package, buffer) are opened with begin_*() and
// closed with end(), which inserts the length in its smallest encoding in
// front of the body.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "lib/str.hpp"

namespace vmm::builder::aml {

// §20.2.4: a PkgLength is at most 4 bytes and its value below 2^28.
inline constexpr uint32_t max_pkg_length = (1u << 28) - 1;

// Encodes the PkgLength value `total` (which counts the PkgLength's own bytes
// and everything after it up to the end of the object) into out[0..n).
// Returns n (1-4), or 0 if `total` is at least 2^28. The one-byte form holds
// 0-63; longer forms hold the low nibble in the lead byte (bits 7:6 = count
// of bytes that follow) and 8 more bits per following byte.
size_t encode_pkg_length(uint32_t total, uint8_t out[4]);

// Compressed EISA ID (§6.1.5, as ASL's EISAID macro makes it): "UUUXXXX", three letters A-Z
// and four hex digits 0-9A-F, packed into 5+5+5 bits and 16 bits and stored
// big-endian, so EISAID("PNP0A08") reads as 0x080AD041 in memory order.
lib::Result<uint32_t> eisaid(lib::StrView id);

// Resource descriptor options: memory caching (§6.4.3.5.5 type-specific
// flags), interrupt mode (§6.4.2.1, §6.4.3.6).
enum class Cache : uint8_t { non_cacheable = 0, cacheable = 1, write_combining = 2, prefetchable = 3 };
enum class Trigger : uint8_t { level, edge };
enum class Polarity : uint8_t { active_high, active_low };

class Emitter {
public:
    // An open object: where its body starts, what it is, its nesting depth.
    struct Mark {
        size_t at;
        uint8_t kind;
        uint16_t depth;
    };

    Emitter(uint8_t* buf, size_t capacity) : buf_(buf), cap_(capacity) {}

    const uint8_t* data() const { return buf_; }
    size_t size() const { return size_; }
    // The first error, or success. Also an error while objects are open.
    lib::Status status() const;

    // Raw bytes (an opcode, a data byte).
    void byte(uint8_t b);
    void bytes(const void* p, size_t n);

    // NameString (§20.2.2): "\\" root prefix and "^" parent prefixes, then
    // dot-separated NameSegs of 1-4 characters ([A-Z_] then [A-Z0-9_]),
    // padded with '_'. "\\" alone is the root (NullName after the prefix).
    void name_string(lib::StrView path);
    // An Integer in the smallest encoding (§20.2.3): ZeroOp, OneOp, then
    // Byte/Word/DWord/QWord prefixes. OnesOp is never used: its value
    // depends on the definition block's revision.
    void integer(uint64_t v);
    // A String (§20.2.3): StringPrefix, ASCII 0x01-0x7F, NUL.
    void string(lib::StrView s);
    // An EISA ID as a DWord constant (as ASL compilers emit it, whatever its
    // value).
    void eisaid(lib::StrView id);

    // DefName (§20.2.5.1): NameOp NameString, then exactly one data object
    // must follow (integer, string, package, buffer...).
    void name(lib::StrView path);
    void name_integer(lib::StrView path, uint64_t v)
    {
        name(path);
        integer(v);
    }
    void name_string_value(lib::StrView path, lib::StrView s)
    {
        name(path);
        string(s);
    }
    void name_eisaid(lib::StrView path, lib::StrView id)
    {
        name(path);
        eisaid(id);
    }

    // DefScope (§20.2.5.1), DefDevice (§20.2.5.2, ExtOpPrefix 0x5B 0x82),
    // DefPackage with `count` elements (§20.2.5.4), DefBuffer whose size is
    // the bytes emitted until end() (§20.2.5.4), and a buffer holding a
    // resource template that end() closes with an End Tag (§6.4.2.9).
    Mark begin_scope(lib::StrView path);
    Mark begin_device(lib::StrView path);
    Mark begin_package(uint8_t count);
    Mark begin_buffer();
    Mark begin_resource_template();
    // DefMethod (§20.2.5.2): NameString, MethodFlags (argument count 0-7,
    // not serialized, sync level 0), then the method's terms.
    Mark begin_method(lib::StrView path, uint8_t args);
    // DefIfElse without the else (§20.2.5.3): the predicate follows, then
    // the terms run when it is true.
    Mark begin_if();
    void end(Mark m);

    // DefOpRegion (§20.2.5.2) in system I/O space (RegionSpace 1): `len`
    // bytes of ports from `base`.
    void operation_region_io(lib::StrView name, uint16_t base, uint16_t len);
    // DefField (§20.2.5.2) over `region` with the FieldFlags byte `flags`
    // (bits 3:0 AccessType, bit 4 LockRule, bits 6:5 UpdateRule); the
    // field units follow (field_unit), then end().
    Mark begin_field(lib::StrView region, uint8_t flags);
    // A NamedField: a 4-character NameSeg and its width in bits.
    void field_unit(lib::StrView seg, uint32_t bits);

    // Terms for method bodies (§20.2.5.4, §20.2.6).
    void arg(uint8_t n);    // Arg0Op..Arg6Op
    void local(uint8_t n);  // Local0Op..Local7Op
    // Store (source, destination): the two operands follow.
    void store() { byte(0x70); }
    // And (a, b, target): the two operands and the target follow.
    void and_op() { byte(0x7b); }
    // A Target that stores nowhere (NullName).
    void null_target() { byte(0x00); }
    // A NameString as a term: a reference to a named object, or the call
    // of a method without arguments.
    void reference(lib::StrView path) { name_string(path); }
    // LEqual (a, b): the two operands follow.
    void lequal() { byte(0x93); }
    // Notify (object, value): the object's NameString and the value.
    void notify(lib::StrView object, uint64_t value);

    // Small resource descriptors (§6.4.2), only inside a resource template.
    // I/O Port Descriptor (§6.4.2.5) with 16-bit decode.
    void io(uint16_t min, uint16_t max, uint8_t align, uint8_t length);
    // IRQ Descriptor (§6.4.2.1): the 2-byte form (IRQNoFlags: edge,
    // active-high, exclusive) and the 3-byte form with flags.
    void irq_noflags(uint16_t mask);
    void irq(uint16_t mask, Trigger t, Polarity p, bool shared);

    // Large resource descriptors (§6.4.3). The address space descriptors
    // describe fixed windows [min, max] (MinFixed, MaxFixed, PosDecode, no
    // translation, granularity 0, length max - min + 1); `producer` marks a
    // bridge window (ResourceProducer) rather than a device's own range.
    void word_bus_number(uint16_t min, uint16_t max);  // a host bridge's bus range
    void word_io(uint16_t min, uint16_t max);          // producer, EntireRange
    void dword_memory(uint32_t min, uint32_t max, Cache c, bool producer);
    void qword_memory(uint64_t min, uint64_t max, Cache c, bool producer);
    // Extended Interrupt Descriptor (§6.4.3.6), consumer, 1-255 GSIs.
    void interrupt(Trigger t, Polarity p, bool shared, const uint32_t* gsis, size_t n);

private:
    enum Kind : uint8_t { k_scope, k_device, k_package, k_buffer, k_template, k_method, k_if, k_field };
    Mark open(Kind k);
    void insert(size_t at, const uint8_t* p, size_t n);
    void fail(lib::Error e);
    bool resource_ok();
    // §6.4.3.5: the Word, DWord and QWord Address Space Descriptors share
    // their layout but for the width of the five numeric fields.
    void address_space(uint8_t tag, unsigned width, uint8_t type, bool producer, uint8_t type_flags, uint64_t min,
                       uint64_t max);

    uint8_t* buf_;
    size_t cap_;
    size_t size_ = 0;
    uint16_t depth_ = 0;
    uint16_t templates_ = 0;  // open resource templates
    lib::Error error_ = lib::Error::none;
};

}  // namespace vmm::builder::aml
