// ACPI parsing against tables built in fake physical memory: a complete
// q35-like platform, then corrupted and truncated variants of each level
// (RSDP, root tables, tables, entries), checking both the result and the
// warning that names the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hv/acpi/acpi.hpp"
#include "hv/acpi/tables.hpp"
#include "tests/unit/fake_phys.hpp"
#include "tests/unit/host_log.hpp"

using hv::acpi::Info;
using lib::Error;
namespace raw = hv::acpi::raw;

namespace {

using Bytes = std::vector<uint8_t>;

template <typename T> void append(Bytes& b, const T& v)
{
    auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
}

void fix_checksum(Bytes& t, size_t checksum_at, size_t len)
{
    t[checksum_at] = 0;
    uint8_t s = 0;
    for (size_t i = 0; i < len; ++i) s = uint8_t(s + t[i]);
    t[checksum_at] = uint8_t(-s);
}

// A table: header + body, length and checksum filled in by finish().
struct Table {
    Bytes b;
    explicit Table(const char* sig, uint8_t revision = 1)
    {
        b.resize(sizeof(raw::SdtHeader));
        std::memcpy(b.data(), sig, 4);
        b[8] = revision;
        std::memcpy(b.data() + 10, "HVTEST", 6);
        std::memcpy(b.data() + 16, "PARSERS ", 8);
    }
    template <typename T> Table& add(const T& v)
    {
        append(b, v);
        return *this;
    }
    Table& bytes(const Bytes& v)
    {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    Bytes finish()
    {
        uint32_t len = uint32_t(b.size());
        std::memcpy(b.data() + 4, &len, 4);
        fix_checksum(b, 9, b.size());
        return b;
    }
};

raw::Gas gas(uint8_t space, uint64_t addr, uint8_t width = 32) { return {space, width, 0, 3, addr}; }

// ---- table contents ----

Bytes madt_body(std::initializer_list<Bytes> entries, uint32_t lapic = 0xfee00000, uint32_t flags = 1)
{
    Bytes b;
    append(b, lapic);
    append(b, flags);
    for (auto& e : entries) b.insert(b.end(), e.begin(), e.end());
    return b;
}
template <typename T> Bytes entry(const T& v)
{
    Bytes b;
    append(b, v);
    return b;
}
Bytes lapic(uint8_t uid, uint8_t id, uint32_t flags = 1)
{
    return entry(raw::MadtLocalApic{{0, 8}, uid, id, flags});
}
Bytes x2apic(uint32_t uid, uint32_t id, uint32_t flags = 1)
{
    return entry(raw::MadtLocalX2Apic{{9, 16}, 0, id, flags, uid});
}
Bytes ioapic(uint8_t id, uint32_t addr, uint32_t gsi) { return entry(raw::MadtIoApic{{1, 12}, id, 0, addr, gsi}); }
Bytes iso(uint8_t src, uint32_t gsi, uint16_t flags) { return entry(raw::MadtOverride{{2, 10}, 0, src, gsi, flags}); }
Bytes lnmi(uint8_t uid, uint8_t lint, uint16_t flags = 5) { return entry(raw::MadtLocalApicNmi{{4, 6}, uid, flags, lint}); }

Bytes fadt_v6(uint32_t pm_tmr_port, uint32_t flags, uint64_t x_dsdt)
{
    raw::Fadt f = {};
    f.dsdt = 0x7fe0040;
    f.sci_int = 9;
    f.pm_tmr_blk = pm_tmr_port;
    f.pm_tmr_len = 4;
    f.century = 0x32;
    f.iapc_boot_arch = 0x3;  // legacy devices, 8042
    f.flags = flags;
    f.reset_reg = gas(1, 0xcf9, 8);
    f.reset_value = 0x6;
    f.x_dsdt = x_dsdt;
    f.x_pm_tmr_blk = gas(1, pm_tmr_port);
    f.minor_version = 5;
    Bytes b;
    append(b, f);
    return Bytes(b.begin() + sizeof(raw::SdtHeader), b.end());
}

Bytes hpet_body(raw::Gas base)
{
    raw::Hpet h = {};
    h.event_timer_block_id = 0x8086a201;
    h.base_address = base;
    Bytes b;
    append(b, h);
    return Bytes(b.begin() + sizeof(raw::SdtHeader), b.end());
}

Bytes mcfg_body(std::initializer_list<raw::McfgAllocation> as)
{
    Bytes b(8, 0);
    for (auto& a : as) append(b, a);
    return b;
}

Bytes srat_body(std::initializer_list<Bytes> entries)
{
    Bytes b;
    append(b, uint32_t(1));
    append(b, uint64_t(0));
    for (auto& e : entries) b.insert(b.end(), e.begin(), e.end());
    return b;
}
Bytes srat_cpu(uint8_t apic, uint32_t dom, uint32_t flags = 1)
{
    raw::SratCpu c = {{0, 16}, uint8_t(dom), apic, flags, 0, {uint8_t(dom >> 8), uint8_t(dom >> 16), uint8_t(dom >> 24)}, 0};
    return entry(c);
}
Bytes srat_mem(uint64_t base, uint64_t len, uint32_t dom, uint32_t flags = 1)
{
    return entry(raw::SratMemory{{1, 40}, dom, 0, base, len, 0, flags, 0});
}
Bytes srat_x2(uint32_t id, uint32_t dom) { return entry(raw::SratX2Apic{{2, 24}, 0, dom, id, 1, 0, 0}); }

Bytes dmar_body(uint8_t haw_minus_1, uint8_t flags, std::initializer_list<Bytes> structs)
{
    Bytes b;
    b.push_back(haw_minus_1);
    b.push_back(flags);
    b.resize(12, 0);
    for (auto& s : structs) b.insert(b.end(), s.begin(), s.end());
    return b;
}
Bytes scope(uint8_t type, uint8_t bus, uint8_t dev, uint8_t fn)
{
    return {type, 8, 0, 0, 0, bus, dev, fn};
}
Bytes drhd(uint64_t base, uint16_t seg, uint8_t flags, std::initializer_list<Bytes> scopes)
{
    Bytes b;
    raw::Drhd d = {{0, 0}, flags, 0, seg, base};
    append(b, d);
    for (auto& s : scopes) b.insert(b.end(), s.begin(), s.end());
    uint16_t len = uint16_t(b.size());
    std::memcpy(b.data() + 2, &len, 2);
    return b;
}
Bytes rmrr(uint64_t base, uint64_t limit)
{
    Bytes b = {1, 0, 24, 0, 0, 0, 0, 0};
    append(b, base);
    append(b, limit);
    return b;
}

Bytes ivrs_body(std::initializer_list<Bytes> blocks)
{
    Bytes b;
    append(b, uint32_t(0x00203041));
    append(b, uint64_t(0));
    for (auto& x : blocks) b.insert(b.end(), x.begin(), x.end());
    return b;
}
Bytes ivhd(uint8_t type, uint16_t devid, uint64_t base, uint16_t seg, uint16_t extra_entries_len = 4)
{
    Bytes b;
    raw::Ivhd h = {{type, 0xb0, 0}, devid, 0x40, base, seg, 0, 0};
    append(b, h);
    if (type != 0x10) b.resize(40, 0);
    // Device entries: "select all" (type 1), 4 bytes each.
    for (int i = 0; i < extra_entries_len / 4; ++i) b.insert(b.end(), {1, 0, 0, 0});
    uint16_t len = uint16_t(b.size());
    std::memcpy(b.data() + 2, &len, 2);
    return b;
}

// ---- the platform in fake memory ----

struct Platform {
    test::FakePhys mem;
    uint64_t next = 0x7fe1000;
    std::vector<uint64_t> entries;  // addresses the root tables list

    uint64_t place(const Bytes& t)
    {
        uint64_t at = next;
        mem.add(at, t.size());
        mem.put_bytes(at, t.data(), t.size());
        next += (t.size() + 0x3ff) & ~0x3ffull;
        next += 0x400;
        return at;
    }
    uint64_t table(const Bytes& t)
    {
        uint64_t a = place(t);
        entries.push_back(a);
        return a;
    }
    uint64_t xsdt = 0, rsdt = 0;
    void roots()
    {
        Table x("XSDT");
        for (auto e : entries) x.add(uint64_t(e));
        xsdt = place(x.finish());
        Table r("RSDT");
        for (auto e : entries) r.add(uint32_t(e));
        rsdt = place(r.finish());
    }
    Bytes rsdp(uint8_t revision = 2)
    {
        raw::Rsdp r = {};
        std::memcpy(r.signature, "RSD PTR ", 8);
        std::memcpy(r.oem_id, "HVTEST", 6);
        r.revision = revision;
        r.rsdt_address = uint32_t(rsdt);
        r.length = 36;
        r.xsdt_address = xsdt;
        Bytes b;
        append(b, r);
        fix_checksum(b, 8, 20);
        fix_checksum(b, 32, 36);
        if (revision < 2) b.resize(20);
        return b;
    }
    lib::Status parse(Info& info, const Bytes& rsdp_bytes)
    {
        return hv::acpi::parse_acpi(mem.reader(), rsdp_bytes.data(), rsdp_bytes.size(), info);
    }
    lib::Status parse(Info& info) { return parse(info, rsdp()); }
};

class AcpiTest : public ::testing::Test {
protected:
    void SetUp() override { test::log_clear(); }
    Info info;  // ~10 KiB: fine on the test's heap-allocated fixture
    const hv::acpi::TableRef* find(const char* sig)
    {
        for (size_t i = 0; i < info.table_count; ++i)
            if (std::strcmp(info.tables[i].signature, sig) == 0) return &info.tables[i];
        return nullptr;
    }
};

Bytes q35_madt()
{
    return Table("APIC", 5)
        .bytes(madt_body({lapic(0, 0), lapic(1, 1), lapic(2, 2, 2 /* online capable */), lapic(3, 3, 0 /* unusable */),
                          ioapic(0, 0xfec00000, 0), iso(0, 2, 0), iso(9, 9, 0xd), lnmi(0xff, 1)}))
        .finish();
}

void build_q35(Platform& p)
{
    p.table(Table("FACP", 6).bytes(fadt_v6(0x608, 1u << 8, 0x7fe0040)).finish());
    p.table(q35_madt());
    p.table(Table("HPET", 1).bytes(hpet_body(gas(0, 0xfed00000, 64))).finish());
    p.table(Table("MCFG", 1).bytes(mcfg_body({{0xb0000000, 0, 0, 255, 0}})).finish());
    p.table(Table("SRAT", 3)
                .bytes(srat_body({srat_cpu(0, 0), srat_cpu(1, 0x01000001), srat_mem(0, 0xa0000, 0),
                                  srat_mem(0x100000, 0x7ff00000, 0), srat_mem(0x100000000, 0x80000000, 0x01000001, 3),
                                  srat_mem(0x200000000, 0x1000000, 2, 0 /* disabled */), srat_x2(0x100, 5)}))
                .finish());
    p.table(Table("DMAR", 1)
                .bytes(dmar_body(38, 1,
                                 {drhd(0xfed90000, 0, 0, {scope(1, 0, 2, 0)}), rmrr(0x7e000000, 0x7e0fffff),
                                  drhd(0xfed91000, 0, 1, {scope(3, 0, 31, 0), scope(4, 0, 31, 0)})}))
                .finish());
    p.table(Table("SSDT", 2).bytes(Bytes(40, 0x5b)).finish());  // not parsed, still recorded
    p.roots();
}

TEST_F(AcpiTest, Q35LikePlatform)
{
    Platform p;
    build_q35(p);
    ASSERT_TRUE(p.parse(info).ok());
    EXPECT_EQ(info.revision, 2);
    EXPECT_STREQ(info.oem_id, "HVTEST");
    EXPECT_TRUE(info.xsdt);
    EXPECT_EQ(info.rsdt_phys, p.xsdt);

    EXPECT_TRUE(info.have_madt);
    EXPECT_EQ(info.lapic_address, 0xfee00000u);
    EXPECT_TRUE(info.pcat_compat);
    ASSERT_EQ(info.cpu_count, 3u);  // the unusable fourth is left out
    EXPECT_EQ(info.cpus[1].apic_id, 1u);
    EXPECT_EQ(info.cpus[1].uid, 1u);
    EXPECT_TRUE(info.cpus[1].enabled);
    EXPECT_FALSE(info.cpus[2].enabled);
    EXPECT_TRUE(info.cpus[2].online_capable);
    ASSERT_EQ(info.ioapic_count, 1u);
    EXPECT_EQ(info.ioapics[0].address, 0xfec00000u);
    EXPECT_EQ(info.ioapics[0].gsi_base, 0u);
    ASSERT_EQ(info.override_count, 2u);
    EXPECT_EQ(info.overrides[0].source, 0);
    EXPECT_EQ(info.overrides[0].gsi, 2u);
    EXPECT_EQ(info.overrides[1].source, 9);
    EXPECT_EQ(info.overrides[1].flags, 0xd);
    ASSERT_EQ(info.nmi_count, 1u);
    EXPECT_EQ(info.nmis[0].uid, hv::acpi::all_cpus_uid);
    EXPECT_EQ(info.nmis[0].lint, 1);

    EXPECT_TRUE(info.fadt.present);
    EXPECT_EQ(info.fadt.pm_timer_port, 0x608u);
    EXPECT_TRUE(info.fadt.pm_timer_32bit);
    EXPECT_FALSE(info.fadt.hw_reduced);
    EXPECT_EQ(info.fadt.sci_irq, 9);
    EXPECT_EQ(info.fadt.iapc_boot_arch, 3);
    EXPECT_EQ(info.fadt.reset_reg.space, 1);
    EXPECT_EQ(info.fadt.reset_reg.address, 0xcf9u);
    EXPECT_EQ(info.fadt.reset_value, 6);
    EXPECT_EQ(info.fadt.century, 0x32);
    EXPECT_EQ(info.fadt.dsdt, 0x7fe0040u);

    EXPECT_EQ(info.hpet_base, 0xfed00000u);
    ASSERT_EQ(info.mcfg_count, 1u);
    EXPECT_EQ(info.mcfg[0].base, 0xb0000000u);
    EXPECT_EQ(info.mcfg[0].bus_end, 255);

    ASSERT_EQ(info.srat_cpu_count, 3u);
    EXPECT_EQ(info.srat_cpus[1].apic_id, 1u);
    EXPECT_EQ(info.srat_cpus[1].node, 0x01000001u);  // bits 31:8 from the split field
    EXPECT_EQ(info.srat_cpus[2].apic_id, 0x100u);
    EXPECT_EQ(info.srat_cpus[2].node, 5u);
    ASSERT_EQ(info.srat_mem_count, 3u);  // the disabled one is ignored
    EXPECT_EQ(info.srat_mem[2].base, 0x100000000u);
    EXPECT_EQ(info.srat_mem[2].size, 0x80000000u);
    EXPECT_EQ(info.srat_mem[2].node, 0x01000001u);
    EXPECT_TRUE(info.srat_mem[2].hotplug);
    EXPECT_FALSE(info.srat_mem[2].nonvolatile);

    EXPECT_TRUE(info.have_dmar);
    EXPECT_EQ(info.dmar_haw, 39);
    EXPECT_EQ(info.dmar_flags, 1);
    ASSERT_EQ(info.drhd_count, 2u);
    EXPECT_EQ(info.drhd[0].base, 0xfed90000u);
    EXPECT_FALSE(info.drhd[0].include_all);
    EXPECT_EQ(info.drhd[0].scope_count, 1);
    EXPECT_TRUE(info.drhd[1].include_all);
    EXPECT_EQ(info.drhd[1].scope_count, 2);
    EXPECT_FALSE(info.have_ivrs);

    ASSERT_EQ(info.table_count, 8u);  // XSDT + 7
    EXPECT_STREQ(info.tables[0].signature, "XSDT");
    for (size_t i = 0; i < info.table_count; ++i) EXPECT_TRUE(info.tables[i].accepted) << info.tables[i].signature;
    ASSERT_NE(find("SSDT"), nullptr);
    EXPECT_EQ(find("SSDT")->length, 76u);
    EXPECT_TRUE(test::log_lines().empty());
}

// An ACPI 1.0 RSDP (20 bytes, revision 0): the RSDT is used.
TEST_F(AcpiTest, Acpi1RsdpUsesRsdt)
{
    Platform p;
    build_q35(p);
    ASSERT_TRUE(p.parse(info, p.rsdp(0)).ok());
    EXPECT_FALSE(info.xsdt);
    EXPECT_EQ(info.rsdt_phys, p.rsdt);
    EXPECT_EQ(info.cpu_count, 3u);
    EXPECT_TRUE(test::log_lines().empty());
}

// Bad input: RSDP too short, bad signature, bad checksum.
TEST_F(AcpiTest, BadRsdp)
{
    Platform p;
    build_q35(p);
    Bytes r = p.rsdp();
    EXPECT_EQ(hv::acpi::parse_acpi(p.mem.reader(), r.data(), 19, info).error(), Error::truncated);
    EXPECT_TRUE(test::log_contains("RSDP of 19 bytes too short"));
    EXPECT_EQ(hv::acpi::parse_acpi(p.mem.reader(), nullptr, 36, info).error(), Error::truncated);
    Bytes bad_sig = r;
    bad_sig[0] = 'X';
    EXPECT_EQ(p.parse(info, bad_sig).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("RSDP signature invalid"));
    Bytes bad_sum = r;
    bad_sum[8] ^= 1;
    EXPECT_EQ(p.parse(info, bad_sum).error(), Error::bad_checksum);
    EXPECT_TRUE(test::log_contains("RSDP checksum invalid"));
    EXPECT_EQ(info.table_count, 0u);
}

// Bad input: the 2.0 part of the RSDP fails its extended checksum; a
// revision-2 RSDP cut to 20 bytes; an absurd length field. The XSDT is not
// trusted, the RSDT is used.
TEST_F(AcpiTest, BadRsdpExtendedChecksumFallsBackToRsdt)
{
    Platform p;
    build_q35(p);
    Bytes r = p.rsdp();
    r[33] ^= 0x40;  // reserved byte: only the extended checksum covers it
    ASSERT_TRUE(p.parse(info, r).ok());
    EXPECT_TRUE(test::log_contains("RSDP extended checksum invalid, using the RSDT"));
    EXPECT_FALSE(info.xsdt);
    EXPECT_EQ(info.rsdt_phys, p.rsdt);
    EXPECT_EQ(info.cpu_count, 3u);

    Bytes cut = p.rsdp();
    cut.resize(20);
    ASSERT_TRUE(p.parse(info, cut).ok());
    EXPECT_TRUE(test::log_contains("RSDP revision 2 but only 20 bytes given"));
    EXPECT_FALSE(info.xsdt);

    Bytes longlen = p.rsdp();
    uint32_t l = 4096;
    std::memcpy(longlen.data() + 20, &l, 4);
    fix_checksum(longlen, 8, 20);
    ASSERT_TRUE(p.parse(info, longlen).ok());
    EXPECT_TRUE(test::log_contains("RSDP length 4096 not checkable"));
    EXPECT_FALSE(info.xsdt);
}

// Bad input: the XSDT's checksum is wrong -> rejected with a warning naming
// it, the RSDT is used instead. Both bad -> error.
TEST_F(AcpiTest, BadXsdtFallsBackToRsdt)
{
    Platform p;
    build_q35(p);
    p.mem.at(p.xsdt)[40] ^= 0xff;
    ASSERT_TRUE(p.parse(info).ok());
    char msg[80];
    snprintf(msg, sizeof msg, "acpi: XSDT at %#lx rejected: bad checksum", p.xsdt);
    EXPECT_TRUE(test::log_contains(msg));
    EXPECT_FALSE(info.xsdt);
    EXPECT_EQ(info.cpu_count, 3u);
    EXPECT_FALSE(info.tables[0].accepted);
    EXPECT_STREQ(info.tables[0].signature, "XSDT");

    p.mem.at(p.rsdt)[0] = 'X';  // RSDT signature wrong too
    EXPECT_EQ(p.parse(info).error(), Error::corrupt);
    snprintf(msg, sizeof msg, "acpi: XSDT at %#lx rejected: expected RSDT", p.rsdt);
    EXPECT_TRUE(test::log_contains(msg));
    EXPECT_TRUE(test::log_contains("no usable root table"));
}

// Bad input: root table addresses pointing to unreadable memory.
TEST_F(AcpiTest, RootTablesUnreadable)
{
    Platform p;
    Bytes r = p.rsdp();  // xsdt = rsdt = 0 before roots()
    EXPECT_EQ(p.parse(info, r).error(), Error::not_found);
    EXPECT_TRUE(test::log_contains("RSDP revision 2 without an XSDT address"));
    EXPECT_TRUE(test::log_contains("RSDT address 0"));
    p.xsdt = 0x40000000;
    p.rsdt = 0x40001000;
    EXPECT_EQ(p.parse(info).error(), Error::corrupt);
    EXPECT_TRUE(test::log_contains("acpi: ???? at 0x40000000 rejected: header unreadable"));
    EXPECT_TRUE(test::log_contains("acpi: ???? at 0x40001000 rejected: header unreadable"));
}

// Bad input: one table with a bad checksum; its contents are not used and
// it is recorded as rejected. The others still count.
TEST_F(AcpiTest, TableWithBadChecksumRejected)
{
    Platform p;
    build_q35(p);
    uint64_t madt = p.entries[1];
    p.mem.at(madt)[50] ^= 1;
    ASSERT_TRUE(p.parse(info).ok());
    char msg[80];
    snprintf(msg, sizeof msg, "acpi: APIC at %#lx rejected: bad checksum", madt);
    EXPECT_TRUE(test::log_contains(msg));
    EXPECT_FALSE(info.have_madt);
    EXPECT_EQ(info.cpu_count, 0u);
    ASSERT_NE(find("APIC"), nullptr);
    EXPECT_FALSE(find("APIC")->accepted);
    EXPECT_TRUE(find("FACP")->accepted);
    EXPECT_TRUE(info.fadt.present);
}

// Bad input: a table whose length runs past readable memory, one with a
// length smaller than the header, one with an absurd length, one whose
// signature is not printable, a null and an unreadable XSDT entry.
TEST_F(AcpiTest, TruncatedAndBogusTables)
{
    Platform p;
    Bytes madt = q35_madt();
    uint64_t cut = p.table(Bytes(madt.begin(), madt.begin() + 60));  // length says more
    Bytes shortlen = Table("HPET").finish();
    uint32_t l = 20;
    std::memcpy(shortlen.data() + 4, &l, 4);
    uint64_t shorty = p.table(shortlen);
    Bytes huge = Table("SRAT").finish();
    l = 0x40000000;
    std::memcpy(huge.data() + 4, &l, 4);
    uint64_t hugeat = p.table(huge);
    Bytes binary = Table("FACP").finish();
    binary[1] = 0x01;
    uint64_t binat = p.table(binary);
    p.entries.push_back(0);
    p.entries.push_back(0x3ffff000);
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    char msg[96];
    snprintf(msg, sizeof msg, "acpi: APIC at %#lx rejected: length %zu runs into unreadable memory", cut, madt.size());
    EXPECT_TRUE(test::log_contains(msg)) << msg;
    snprintf(msg, sizeof msg, "acpi: HPET at %#lx rejected: length 20 shorter than the header", shorty);
    EXPECT_TRUE(test::log_contains(msg));
    snprintf(msg, sizeof msg, "acpi: SRAT at %#lx rejected: length 1073741824 absurd", hugeat);
    EXPECT_TRUE(test::log_contains(msg));
    snprintf(msg, sizeof msg, "acpi: F?CP at %#lx rejected: signature not printable", binat);
    EXPECT_TRUE(test::log_contains(msg));
    EXPECT_TRUE(test::log_contains("entry 4 is null, skipped"));
    EXPECT_TRUE(test::log_contains("acpi: ???? at 0x3ffff000 rejected: header unreadable"));
    EXPECT_FALSE(info.have_madt);
    EXPECT_EQ(info.hpet_base, 0u);
    EXPECT_EQ(info.srat_mem_count, 0u);
    EXPECT_FALSE(info.fadt.present);
    EXPECT_EQ(info.table_count, 6u);  // XSDT + 5 (the null entry is not a table)
    for (size_t i = 1; i < info.table_count; ++i) EXPECT_FALSE(info.tables[i].accepted);
}

// Bad input: MADT entries with length 0, with a length running past the
// table, and a LAPIC entry shorter than its layout. Each stops the MADT
// there; entries before it are kept.
TEST_F(AcpiTest, MadtBadEntriesStopTheTable)
{
    struct Case {
        Bytes bad;
        const char* warning;
    } cases[] = {
        {{0, 0, 9, 9, 9, 9, 9, 9}, "entry type 0 at offset 52 has length 0, ignoring the rest"},
        {{1, 40, 0, 0}, "entry type 1 at offset 52 (length 40) overruns the table"},
        {{0, 6, 7, 7, 1, 0}, "entry type 0 has length 6 < 8"},
        {{9}, "1 trailing bytes at offset 52"},
    };
    for (auto& c : cases) {
        test::log_clear();
        Platform p;
        p.table(Table("APIC").bytes(madt_body({lapic(0, 0), c.bad})).finish());
        p.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_TRUE(test::log_contains(c.warning)) << c.warning;
        EXPECT_EQ(info.cpu_count, 1u) << c.warning;
        EXPECT_TRUE(find("APIC")->accepted);
    }
}

// Duplicate APIC IDs (also between xAPIC and x2APIC entries) are dropped
// with a warning; x2APIC CPUs, x2APIC NMIs and the 64-bit LAPIC address
// override are read; unknown entry types are skipped (reserved ones with a
// warning) and parsing goes on.
TEST_F(AcpiTest, MadtCpusAndOddEntries)
{
    Platform p;
    Bytes gicc(80, 0);
    gicc[0] = 0xb;
    gicc[1] = 80;
    Bytes future = {0x30, 4, 0, 0};
    Bytes oem = {0x80, 4, 0, 0};
    raw::MadtLocalApicOverride ov = {{5, 12}, 0, 0xfee00000ull};
    raw::MadtLocalX2ApicNmi xn = {{0xa, 12}, 5, 0x100, 1, {}};
    p.table(Table("APIC")
                .bytes(madt_body({lapic(0, 0), lapic(1, 2), lapic(2, 2), x2apic(3, 0x100), x2apic(4, 0), gicc, future,
                                  oem, entry(ov), entry(xn), lapic(5, 0xff), x2apic(6, 0x101)},
                                 0xfee00000, 0))
                .finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    ASSERT_EQ(info.cpu_count, 4u);
    EXPECT_EQ(info.cpus[0].apic_id, 0u);
    EXPECT_EQ(info.cpus[1].apic_id, 2u);
    EXPECT_EQ(info.cpus[1].uid, 1u);  // the first of the duplicates stays
    EXPECT_EQ(info.cpus[2].apic_id, 0x100u);
    EXPECT_EQ(info.cpus[2].uid, 3u);
    EXPECT_EQ(info.cpus[3].apic_id, 0x101u);
    EXPECT_TRUE(test::log_contains("duplicate APIC ID 2 (UID 2) dropped"));
    EXPECT_TRUE(test::log_contains("duplicate APIC ID 0 (UID 4) dropped"));
    EXPECT_TRUE(test::log_contains("unknown entry type 48 skipped"));
    EXPECT_FALSE(test::log_contains("entry type 11"));
    EXPECT_FALSE(test::log_contains("entry type 128"));
    EXPECT_FALSE(info.pcat_compat);
    EXPECT_EQ(info.lapic_address, 0xfee00000u);
    ASSERT_EQ(info.nmi_count, 1u);
    EXPECT_EQ(info.nmis[0].uid, 0x100u);
    EXPECT_EQ(info.nmis[0].lint, 1);
    EXPECT_EQ(info.nmis[0].flags, 5);
}

// More CPUs than max_cpus: the rest ignored with one warning.
TEST_F(AcpiTest, MadtTooManyCpus)
{
    Platform p;
    Table t("APIC");
    t.bytes(madt_body({}));
    for (uint32_t i = 0; i < 300; ++i) t.bytes(x2apic(i, i));
    p.table(t.finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    EXPECT_EQ(info.cpu_count, hv::acpi::max_cpus);
    EXPECT_EQ(info.cpus[255].apic_id, 255u);
    EXPECT_TRUE(test::log_contains("more than 256 CPUs, APIC ID 256 and later ignored"));
}

// A second MADT is ignored (and recorded as not accepted).
TEST_F(AcpiTest, DuplicateTableIgnored)
{
    Platform p;
    p.table(q35_madt());
    uint64_t second = p.table(Table("APIC").bytes(madt_body({lapic(7, 7)})).finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    EXPECT_EQ(info.cpu_count, 3u);
    char msg[80];
    snprintf(msg, sizeof msg, "acpi: APIC at %#lx is a duplicate, ignored", second);
    EXPECT_TRUE(test::log_contains(msg));
    EXPECT_TRUE(info.tables[1].accepted);
    EXPECT_FALSE(info.tables[2].accepted);
}

// FADT revisions by length: ACPI 1.0 (116 bytes: PM_TMR_BLK, 32-bit DSDT,
// no reset register), hardware-reduced, and a table too short for any
// revision (bad input).
TEST_F(AcpiTest, FadtRevisions)
{
    {
        Platform p;
        Bytes body = fadt_v6(0x408, 0, 0x123456789);
        body.resize(116 - 36);
        p.table(Table("FACP", 1).bytes(body).finish());
        p.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_TRUE(info.fadt.present);
        EXPECT_EQ(info.fadt.pm_timer_port, 0x408u);
        EXPECT_FALSE(info.fadt.pm_timer_32bit);
        EXPECT_EQ(info.fadt.dsdt, 0x7fe0040u);  // X_DSDT lies past the end
        EXPECT_EQ(info.fadt.reset_reg.address, 0u);
        EXPECT_EQ(info.fadt.sci_irq, 9);
    }
    {
        Platform p;
        p.table(Table("FACP", 6).bytes(fadt_v6(0x608, (1u << 20) | (1u << 8), 0)).finish());
        p.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_TRUE(info.fadt.hw_reduced);
        EXPECT_EQ(info.fadt.pm_timer_port, 0u);
        EXPECT_FALSE(info.fadt.pm_timer_32bit);
        EXPECT_EQ(info.fadt.dsdt, 0x7fe0040u);  // X_DSDT 0: the 32-bit field
    }
    {
        // X_PM_TMR_BLK wins over PM_TMR_BLK; a bad PM_TMR_LEN is warned.
        Platform p;
        Bytes body = fadt_v6(0x608, 1u << 8, 0);
        raw::Gas x = gas(1, 0xb008);
        std::memcpy(body.data() + offsetof(raw::Fadt, x_pm_tmr_blk) - 36, &x, sizeof x);
        p.table(Table("FACP", 6).bytes(body).finish());
        Platform q;
        Bytes body2 = fadt_v6(0x608, 0, 0);
        raw::Gas none = {};
        std::memcpy(body2.data() + offsetof(raw::Fadt, x_pm_tmr_blk) - 36, &none, sizeof none);
        body2[offsetof(raw::Fadt, pm_tmr_len) - 36] = 3;
        q.table(Table("FACP", 6).bytes(body2).finish());
        p.roots();
        q.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_EQ(info.fadt.pm_timer_port, 0xb008u);
        ASSERT_TRUE(q.parse(info).ok());
        EXPECT_EQ(info.fadt.pm_timer_port, 0u);
        EXPECT_TRUE(test::log_contains("PM_TMR_LEN 3 (must be 4), PM timer ignored"));
    }
    {
        Platform p;
        Bytes body = fadt_v6(0x608, 0, 0);
        body.resize(60);
        p.table(Table("FACP", 1).bytes(body).finish());
        p.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_FALSE(info.fadt.present);
        EXPECT_TRUE(test::log_contains("length 96 shorter than the ACPI 1.0 FADT (116), ignored"));
        EXPECT_FALSE(find("FACP")->accepted);
    }
}

// MCFG: several windows; bad input: end bus below start bus, zero base,
// trailing bytes.
TEST_F(AcpiTest, Mcfg)
{
    Platform p;
    Bytes body = mcfg_body({{0xe0000000, 0, 0, 63, 0}, {0, 1, 0, 255, 0}, {0xd0000000, 1, 10, 5, 0},
                            {0xc0000000, 2, 0x80, 0xff, 0}});
    body.push_back(0);
    body.push_back(0);
    p.table(Table("MCFG").bytes(body).finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    ASSERT_EQ(info.mcfg_count, 2u);
    EXPECT_EQ(info.mcfg[0].base, 0xe0000000u);
    EXPECT_EQ(info.mcfg[0].bus_end, 63);
    EXPECT_EQ(info.mcfg[1].segment, 2);
    EXPECT_EQ(info.mcfg[1].bus_start, 0x80);
    EXPECT_TRUE(test::log_contains("allocation 1 (base 0x0, buses 0-255) invalid"));
    EXPECT_TRUE(test::log_contains("allocation 2 (base 0xd0000000, buses 10-5) invalid"));
    EXPECT_TRUE(test::log_contains("MCFG at"));
    EXPECT_TRUE(test::log_contains("2 trailing bytes ignored"));
}

// SRAT revision 1: proximity domains are 8 bits (the upper bytes are
// reserved); bad input: a memory range that wraps, an entry of length 0.
TEST_F(AcpiTest, SratRevisionOneAndBadEntries)
{
    Platform p;
    p.table(Table("SRAT", 1)
                .bytes(srat_body({srat_cpu(3, 0x0101), srat_mem(0x100000, 0x1000000, 0x0202),
                                  srat_mem(0xfffffffffff00000ull, 0x200000, 1), Bytes{0, 0}, srat_cpu(4, 1)}))
                .finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    ASSERT_EQ(info.srat_cpu_count, 1u);
    EXPECT_EQ(info.srat_cpus[0].node, 1u);
    ASSERT_EQ(info.srat_mem_count, 1u);
    EXPECT_EQ(info.srat_mem[0].node, 2u);
    EXPECT_TRUE(test::log_contains("memory range 0xfffffffffff00000+0x200000 wraps, skipped"));
    EXPECT_TRUE(test::log_contains("has length 0, ignoring the rest"));
}

// DMAR: bad input: a device scope of length 0 inside a DRHD (would loop),
// a DRHD shorter than its fixed part.
TEST_F(AcpiTest, DmarMalformedScopes)
{
    {
        Platform p;
        Bytes bad = drhd(0xfed92000, 0, 0, {scope(1, 0, 3, 0)});
        bad[16 + 1] = 0;  // scope length 0
        p.table(Table("DMAR").bytes(dmar_body(45, 0, {drhd(0xfed90000, 0, 0, {scope(1, 0, 2, 0)}), bad,
                                                      drhd(0xfed93000, 0, 1, {})}))
                    .finish());
        p.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_EQ(info.dmar_haw, 46);
        ASSERT_EQ(info.drhd_count, 1u);
        EXPECT_EQ(info.drhd[0].base, 0xfed90000u);
        EXPECT_TRUE(test::log_contains("device scope of length 0 at DRHD offset 16 invalid"));
        EXPECT_TRUE(test::log_contains("DRHD at 0xfed92000 has a malformed device scope list"));
    }
    {
        test::log_clear();
        Platform p;
        Bytes tiny = {0, 0, 8, 0, 0, 0, 0, 0};
        p.table(Table("DMAR").bytes(dmar_body(38, 0, {tiny})).finish());
        p.roots();
        ASSERT_TRUE(p.parse(info).ok());
        EXPECT_TRUE(info.have_dmar);
        EXPECT_EQ(info.drhd_count, 0u);
        EXPECT_TRUE(test::log_contains("entry type 0 has length 8 < 16"));
    }
}

// IVRS with IVHD types 10h, 11h, 40h and an IVMD block; bad input: a type
// 11h block only 24 bytes long.
TEST_F(AcpiTest, Ivrs)
{
    Platform p;
    Bytes ivmd(32, 0);
    ivmd[0] = 0x20;
    ivmd[2] = 32;
    Bytes short11 = ivhd(0x10, 0x2, 0xfeb00000, 0, 0);
    short11[0] = 0x11;
    p.table(Table("IVRS", 2)
                .bytes(ivrs_body({ivhd(0x10, 0x2, 0xfd200000, 0), ivhd(0x11, 0x2, 0xfd200000, 0, 8), ivmd,
                                  ivhd(0x40, 0x12, 0xfd300000, 1), short11, ivhd(0x10, 0x3, 0xfd400000, 0)}))
                .finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    EXPECT_TRUE(info.have_ivrs);
    ASSERT_EQ(info.ivhd_count, 3u);
    EXPECT_EQ(info.ivhd[0].type, 0x10);
    EXPECT_EQ(info.ivhd[0].base, 0xfd200000u);
    EXPECT_EQ(info.ivhd[0].device_id, 2);
    EXPECT_EQ(info.ivhd[1].type, 0x11);
    EXPECT_EQ(info.ivhd[2].type, 0x40);
    EXPECT_EQ(info.ivhd[2].segment, 1);
    EXPECT_EQ(info.ivhd[2].base, 0xfd300000u);
    EXPECT_TRUE(test::log_contains("entry type 17 has length 24 < 40"));
}

// HPET with its registers in I/O space (bad input) is ignored.
TEST_F(AcpiTest, HpetNotInMemory)
{
    Platform p;
    p.table(Table("HPET").bytes(hpet_body(gas(1, 0x1000))).finish());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    EXPECT_EQ(info.hpet_base, 0u);
    EXPECT_TRUE(test::log_contains("base address (space 1, 0x1000) not in memory"));
}

// More than max_tables tables: all are parsed, the rest not recorded.
TEST_F(AcpiTest, ManyTables)
{
    Platform p;
    for (int i = 0; i < 70; ++i) p.table(Table("SSDT").bytes(Bytes(4, uint8_t(i))).finish());
    p.table(q35_madt());
    p.roots();
    ASSERT_TRUE(p.parse(info).ok());
    EXPECT_EQ(info.table_count, hv::acpi::max_tables);
    EXPECT_TRUE(info.have_madt);
    EXPECT_EQ(info.tables_unrecorded, 70u + 1 + 1 - 64);  // XSDT + 70 SSDTs + MADT
    EXPECT_TRUE(test::log_contains("more than 64 tables"));
    size_t warnings = 0;
    for (auto& l : test::log_lines()) warnings += l.find("more than 64 tables") != std::string::npos;
    EXPECT_EQ(warnings, 1u);
}

// ---- find_rsdp_bios / parse_acpi_at --------------------------------------

struct Bios {
    test::FakePhys mem;
    Bios(uint16_t ebda_seg)
    {
        mem.add(0, 0x1000);  // BDA
        mem.put(0x40e, ebda_seg);
        mem.add(0x9fc00, 0x400);  // EBDA
        mem.add(0xe0000, 0x20000);
    }
};

Bytes make_rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt)
{
    raw::Rsdp r = {};
    std::memcpy(r.signature, "RSD PTR ", 8);
    r.revision = revision;
    r.rsdt_address = rsdt;
    r.length = 36;
    r.xsdt_address = xsdt;
    Bytes b;
    append(b, r);
    fix_checksum(b, 8, 20);
    fix_checksum(b, 32, 36);
    return b;
}

TEST_F(AcpiTest, FindRsdpInEbda)
{
    Bios bios(0x9fc0);
    Bytes r = make_rsdp(2, 0x1000, 0x2000);
    bios.mem.put_bytes(0x9fc00 + 0x40, r.data(), r.size());
    Bytes other = make_rsdp(0, 0x3000, 0);
    bios.mem.put_bytes(0xf5000, other.data(), 20);
    EXPECT_EQ(hv::acpi::find_rsdp_bios(bios.mem.reader()).value(), 0x9fc40u);
}

// Bad input on the way: a signature off the 16-byte grid, a candidate
// with a bad checksum, a revision-2 candidate with a bad extended checksum;
// the valid one after them in the BIOS area is found.
TEST_F(AcpiTest, FindRsdpSkipsBadCandidates)
{
    Bios bios(0x9fc0);
    Bytes good = make_rsdp(2, 0x1000, 0x2000);
    bios.mem.put_bytes(0xe0008, good.data(), good.size());  // not 16-byte aligned
    Bytes badsum = good;
    badsum[8] ^= 1;
    bios.mem.put_bytes(0xe0100, badsum.data(), badsum.size());
    Bytes badext = good;
    badext[33] = 0x55;
    bios.mem.put_bytes(0xe0200, badext.data(), badext.size());
    bios.mem.put_bytes(0xf0010, good.data(), good.size());
    EXPECT_EQ(hv::acpi::find_rsdp_bios(bios.mem.reader()).value(), 0xf0010u);
}

// Nothing there; an EBDA pointer outside conventional memory is not
// followed; the scan reads only the two windows.
TEST_F(AcpiTest, FindRsdpNotFound)
{
    Bios bios(0xf000);  // EBDA "at" 0xf0000: implausible, ignored
    auto r = hv::acpi::find_rsdp_bios(bios.mem.reader());
    EXPECT_EQ(r.error(), Error::not_found);
    EXPECT_TRUE(test::log_contains("no RSDP found"));
    EXPECT_LE(bios.mem.views, 1 + 0x20000 / 16 + 1u);

    test::FakePhys empty;  // nothing readable at all
    EXPECT_EQ(hv::acpi::find_rsdp_bios(empty.reader()).error(), Error::not_found);
}

TEST_F(AcpiTest, ParseAcpiAtPhysicalRsdp)
{
    Platform p;
    build_q35(p);
    Bytes r = p.rsdp();
    p.mem.add(0xf0000, 0x10000);
    p.mem.put_bytes(0xf0020, r.data(), r.size());
    ASSERT_TRUE(hv::acpi::parse_acpi_at(p.mem.reader(), 0xf0020, info).ok());
    EXPECT_TRUE(info.xsdt);
    EXPECT_EQ(info.cpu_count, 3u);
    // A v1 RSDP in the last 20 readable bytes: only 20 bytes are read.
    Bytes r1 = p.rsdp(0);
    p.mem.add(0x9ffec, 20);
    p.mem.put_bytes(0x9ffec, r1.data(), 20);
    ASSERT_TRUE(hv::acpi::parse_acpi_at(p.mem.reader(), 0x9ffec, info).ok());
    EXPECT_FALSE(info.xsdt);
    EXPECT_EQ(hv::acpi::parse_acpi_at(p.mem.reader(), 0x5000, info).error(), Error::out_of_range);
    EXPECT_TRUE(test::log_contains("RSDP at 0x5000 unreadable"));
}

}  // namespace

namespace {

// Bad input, many times over: random bytes of one table of the q35-like
// platform overwritten, and (half of the time) the checksum fixed so the
// per-table parsers see the damage. Tables live in exact-size buffers, so
// reading past one trips ASan; all counts must respect their bounds.
TEST_F(AcpiTest, RandomCorruptionStaysInBounds)
{
    uint64_t seed = 5;
    auto lcg = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return seed >> 33;
    };
    for (int round = 0; round < 3000; ++round) {
        Platform p;
        build_q35(p);
        uint64_t victim = p.entries[lcg() % p.entries.size()];
        if (lcg() % 8 == 0) victim = lcg() % 2 ? p.xsdt : p.rsdt;
        uint8_t* t = p.mem.at(victim, 36);
        uint32_t len;
        std::memcpy(&len, t + 4, 4);
        for (int i = 0, n = 1 + int(lcg() % 6); i < n; ++i) t[lcg() % len] = uint8_t(lcg());
        if (lcg() % 2) {
            uint32_t newlen;
            std::memcpy(&newlen, t + 4, 4);
            if (newlen == len) {
                t[9] = 0;
                uint8_t s = 0;
                for (uint32_t i = 0; i < len; ++i) s = uint8_t(s + t[i]);
                t[9] = uint8_t(-s);
            }
        }
        (void)p.parse(info);
        ASSERT_LE(info.cpu_count, hv::acpi::max_cpus);
        ASSERT_LE(info.ioapic_count, hv::acpi::max_ioapics);
        ASSERT_LE(info.override_count, hv::acpi::max_overrides);
        ASSERT_LE(info.nmi_count, hv::acpi::max_nmis);
        ASSERT_LE(info.mcfg_count, hv::acpi::max_mcfg);
        ASSERT_LE(info.srat_cpu_count, hv::acpi::max_srat_cpus);
        ASSERT_LE(info.srat_mem_count, hv::acpi::max_srat_mem);
        ASSERT_LE(info.drhd_count, hv::acpi::max_drhd);
        ASSERT_LE(info.ivhd_count, hv::acpi::max_ivhd);
        ASSERT_LE(info.table_count, hv::acpi::max_tables);
        for (size_t i = 0; i < info.cpu_count; ++i)
            for (size_t j = 0; j < i; ++j) ASSERT_NE(info.cpus[i].apic_id, info.cpus[j].apic_id);
        for (size_t i = 0; i < info.table_count; ++i) ASSERT_EQ(info.tables[i].signature[4], '\0');
    }
}

}  // namespace
