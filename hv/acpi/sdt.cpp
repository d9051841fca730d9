// System description tables: header validation (ACPI 6.5 §5.2.6), the root
// table walk (RSDT §5.2.7 / XSDT §5.2.8) and dispatch to per-table parsers.
#include "hv/acpi/acpi_internal.hpp"
#include "lib/format.hpp"

namespace hv::acpi::detail {
namespace {

bool sig_equals(const char* a, const char* b)
{
    for (int i = 0; i < 4; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

void record(Info& out, const Table& t, bool accepted)
{
    if (out.table_count == max_tables) {
        if (out.tables_unrecorded++ == 0)
            LOG_WARN("acpi: more than %zu tables, %s at %#lx and later ones parsed but not recorded", max_tables,
                     t.sig, t.phys);
        return;
    }
    TableRef& r = out.tables[out.table_count++];
    __builtin_memcpy(r.signature, t.sig, sizeof r.signature);
    r.phys = t.phys;
    r.length = t.length;
    r.accepted = accepted;
}

}  // namespace

bool load_table(const lib::PhysReader& mem, uint64_t phys, const char* expect, Info& out, Table& t)
{
    t = Table{nullptr, 0, phys, "????", 0};
    char why[64];
    bool ok = false;
    do {
        if (const void* s = mem.view(phys, 4)) {
            const char* c = static_cast<const char*>(s);
            for (int i = 0; i < 4; ++i) t.sig[i] = c[i] >= 0x20 && c[i] < 0x7f ? c[i] : '?';
        }
        const void* hp = mem.view(phys, sizeof(raw::SdtHeader));
        if (!hp) {
            lib::format(why, sizeof why, "header unreadable");
            break;
        }
        auto h = lib::load<raw::SdtHeader>(hp);
        t.length = h.length;
        t.revision = h.revision;
        if (!sig_equals(t.sig, h.signature)) {
            lib::format(why, sizeof why, "signature not printable");
            break;
        }
        if (expect && !sig_equals(h.signature, expect)) {
            lib::format(why, sizeof why, "expected %s", expect);
            break;
        }
        if (h.length < sizeof h) {
            lib::format(why, sizeof why, "length %u shorter than the header", h.length);
            break;
        }
        if (h.length > max_table_length) {
            lib::format(why, sizeof why, "length %u absurd", h.length);
            break;
        }
        t.data = static_cast<const uint8_t*>(mem.view(phys, h.length));
        if (!t.data) {
            lib::format(why, sizeof why, "length %u runs into unreadable memory", h.length);
            break;
        }
        if (lib::byte_sum(t.data, h.length) != 0) {
            lib::format(why, sizeof why, "bad checksum");
            break;
        }
        ok = true;
    } while (false);
    if (!ok) {
        LOG_WARN("acpi: %s at %#lx rejected: %s", t.sig, phys, why);
        t.data = nullptr;
    }
    record(out, t, ok);
    return ok;
}

void mark_unused(Info& out, const Table& t)
{
    for (size_t i = out.table_count; i > 0; --i) {
        TableRef& r = out.tables[i - 1];
        if (r.phys == t.phys && sig_equals(r.signature, t.sig)) {
            r.accepted = false;
            return;
        }
    }
}

namespace {

struct Parser {
    const char* sig;
    bool (*parse)(const Table&, Info&);
};

constexpr Parser parsers[] = {
    {"APIC", parse_madt}, {"FACP", parse_fadt}, {"MCFG", parse_mcfg}, {"SRAT", parse_srat},
    {"DMAR", parse_dmar}, {"IVRS", parse_ivrs}, {"HPET", parse_hpet},
};

void dispatch(const Table& t, Info& out, bool (&seen)[sizeof parsers / sizeof parsers[0]])
{
    for (size_t i = 0; i < sizeof parsers / sizeof parsers[0]; ++i) {
        if (!sig_equals(t.sig, parsers[i].sig)) continue;
        if (seen[i]) {
            LOG_WARN("acpi: %s at %#lx is a duplicate, ignored", t.sig, t.phys);
            mark_unused(out, t);
            return;
        }
        if (parsers[i].parse(t, out)) seen[i] = true;
        else mark_unused(out, t);
        return;
    }
}

void walk_root(const lib::PhysReader& mem, const Table& root, size_t entry_size, Info& out)
{
    size_t payload = root.length - sizeof(raw::SdtHeader);
    if (payload % entry_size)
        LOG_WARN("acpi: %s at %#lx: %zu trailing bytes ignored", root.sig, root.phys, payload % entry_size);
    size_t n = payload / entry_size;
    if (n > max_root_entries) {
        LOG_WARN("acpi: %s at %#lx lists %zu tables, reading the first %zu", root.sig, root.phys, n,
                 max_root_entries);
        n = max_root_entries;
    }
    bool seen[sizeof parsers / sizeof parsers[0]] = {};
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* e = root.data + sizeof(raw::SdtHeader) + i * entry_size;
        uint64_t phys = entry_size == 8 ? lib::load<uint64_t>(e) : lib::load<uint32_t>(e);
        if (phys == 0) {
            LOG_WARN("acpi: %s at %#lx: entry %zu is null, skipped", root.sig, root.phys, i);
            continue;
        }
        Table t;
        if (load_table(mem, phys, nullptr, out, t)) dispatch(t, out, seen);
    }
}

}  // namespace
}  // namespace hv::acpi::detail

namespace hv::acpi {

lib::Status parse_acpi(const lib::PhysReader& mem, const void* rsdp, size_t rsdp_len, Info& out)
{
    using namespace detail;
    // Info is ~10 KiB: clear it in place rather than through a temporary.
    __builtin_memset(static_cast<void*>(&out), 0, sizeof out);

    // §5.2.5.3: the first 20 bytes (ACPI 1.0) carry their own checksum; the
    // 2.0 extension is covered by the extended checksum over `length` bytes.
    if (!rsdp || rsdp_len < raw::rsdp_v1_size) {
        LOG_WARN("acpi: RSDP of %zu bytes too short", rsdp_len);
        return lib::err(lib::Error::truncated);
    }
    raw::Rsdp r = {};
    __builtin_memcpy(&r, rsdp, rsdp_len < sizeof r ? rsdp_len : sizeof r);
    if (__builtin_memcmp(r.signature, "RSD PTR ", 8) != 0) {
        LOG_WARN("acpi: RSDP signature invalid");
        return lib::err(lib::Error::invalid);
    }
    if (lib::byte_sum(rsdp, raw::rsdp_v1_size) != 0) {
        LOG_WARN("acpi: RSDP checksum invalid");
        return lib::err(lib::Error::bad_checksum);
    }
    out.revision = r.revision;
    __builtin_memcpy(out.oem_id, r.oem_id, sizeof r.oem_id);

    bool try_xsdt = false;
    if (r.revision >= 2) {
        if (rsdp_len < sizeof r)
            LOG_WARN("acpi: RSDP revision %u but only %zu bytes given, using the RSDT", r.revision, rsdp_len);
        else if (r.length < sizeof r || r.length > rsdp_len)
            LOG_WARN("acpi: RSDP length %u not checkable (have %zu bytes), using the RSDT", r.length, rsdp_len);
        else if (lib::byte_sum(rsdp, r.length) != 0)
            LOG_WARN("acpi: RSDP extended checksum invalid, using the RSDT");
        else if (r.xsdt_address == 0)
            LOG_WARN("acpi: RSDP revision %u without an XSDT address, using the RSDT", r.revision);
        else
            try_xsdt = true;
    }

    Table root;
    if (try_xsdt) {
        if (load_table(mem, r.xsdt_address, "XSDT", out, root)) {
            out.xsdt = true;
            out.rsdt_phys = root.phys;
            walk_root(mem, root, sizeof(uint64_t), out);
            return {};
        }
        LOG_WARN("acpi: XSDT unusable, falling back to the RSDT");
    }
    if (r.rsdt_address == 0) {
        LOG_WARN("acpi: no usable root table (RSDT address 0)");
        return lib::err(lib::Error::not_found);
    }
    if (!load_table(mem, r.rsdt_address, "RSDT", out, root)) {
        LOG_WARN("acpi: no usable root table");
        return lib::err(lib::Error::corrupt);
    }
    out.rsdt_phys = root.phys;
    walk_root(mem, root, sizeof(uint32_t), out);
    return {};
}

}  // namespace hv::acpi
