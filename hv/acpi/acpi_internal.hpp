// Internal to the ACPI parsers: the validated-table handle each per-table
// parser receives, and the bounded walker over variable-length entries that
// MADT, SRAT, DMAR and IVRS share.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/acpi/acpi.hpp"
#include "hv/acpi/tables.hpp"
#include "lib/bytes.hpp"
#include "lib/log.hpp"

namespace hv::acpi::detail {

// Tables larger than this are corrupt length fields (the largest real ones,
// DSDTs, are well under 1 MiB).
inline constexpr uint32_t max_table_length = 16u << 20;
// Root tables listing more entries than this are corrupt.
inline constexpr size_t max_root_entries = 256;

// A table whose signature, length and checksum were checked: all `length`
// bytes at `data` are readable.
struct Table {
    const uint8_t* data;
    uint32_t length;
    uint64_t phys;
    char sig[5];  // printable, NUL-terminated
    uint8_t revision;
};

// Reads, validates and records (in out.tables) the table at `phys`. With
// `expect` set the signature must match it. On failure logs
// "acpi: <SIG> at <addr> rejected: <why>" and returns false.
bool load_table(const lib::PhysReader& mem, uint64_t phys, const char* expect, Info& out, Table& t);

// Marks the most recent TableRef for `t` as not used (duplicate, or content
// unusable).
void mark_unused(Info& out, const Table& t);

// Per-table parsers: return false if the table's content was unusable as a
// whole (its TableRef is then marked not accepted). A bad entry stops the
// parse of the rest of that table, keeping what came before.
bool parse_madt(const Table& t, Info& out);
bool parse_fadt(const Table& t, Info& out);
bool parse_mcfg(const Table& t, Info& out);
bool parse_srat(const Table& t, Info& out);
bool parse_dmar(const Table& t, Info& out);
bool parse_ivrs(const Table& t, Info& out);
bool parse_hpet(const Table& t, Info& out);

// How an entry list encodes type and length.
enum class EntryFormat {
    u8_type_u8_length,   // MADT, SRAT: type at 0, length at 1
    u16_type_u16_length, // DMAR: type at 0, length at 2
    u8_type_u16_length,  // IVRS: type at 0, flags at 1, length at 2
};

// Calls f(type, entry bytes, entry length) for each entry in [start,
// t.length) until f returns false. An entry shorter than its own header
// (zero length included) or running past the table end stops the walk with
// a warning. Returns false if the walk stopped on a bad entry or f refused.
template <typename F> bool walk_entries(const Table& t, size_t start, EntryFormat fmt, F f)
{
    size_t hdr = fmt == EntryFormat::u8_type_u8_length ? 2 : 4;
    size_t off = start;
    while (off < t.length) {
        const uint8_t* e = t.data + off;
        if (t.length - off < hdr) {
            LOG_WARN("acpi: %s at %#lx: %zu trailing bytes at offset %zu ignored", t.sig, t.phys, t.length - off,
                     off);
            return false;
        }
        uint32_t type, len;
        switch (fmt) {
        case EntryFormat::u8_type_u8_length: type = e[0]; len = e[1]; break;
        case EntryFormat::u16_type_u16_length: type = lib::load<uint16_t>(e); len = lib::load<uint16_t>(e + 2); break;
        default: type = e[0]; len = lib::load<uint16_t>(e + 2); break;
        }
        if (len < hdr) {
            LOG_WARN("acpi: %s at %#lx: entry type %u at offset %zu has length %u, ignoring the rest", t.sig,
                     t.phys, type, off, len);
            return false;
        }
        if (len > t.length - off) {
            LOG_WARN("acpi: %s at %#lx: entry type %u at offset %zu (length %u) overruns the table, ignoring the rest",
                     t.sig, t.phys, type, off, len);
            return false;
        }
        if (!f(type, e, len)) return false;
        off += len;
    }
    return true;
}

// For entry handlers: checks that an entry is at least as long as its fixed
// layout, warning and stopping the table otherwise.
inline bool entry_fits(const Table& t, uint32_t type, uint32_t len, size_t need)
{
    if (len >= need) return true;
    LOG_WARN("acpi: %s at %#lx: entry type %u has length %u < %zu, ignoring the rest", t.sig, t.phys, type, len,
             need);
    return false;
}

}  // namespace hv::acpi::detail
