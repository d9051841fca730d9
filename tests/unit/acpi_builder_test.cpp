// ACPI tables for guests (vmm/builder/acpi_builder, vmm/builder/aml): the
// AML encoder against golden bytes (PkgLength forms at 63/64 and 4095/4096,
// integer prefixes, names, strings, EISA IDs, resource descriptors and the
// End Tag checksum), then whole table sets built into a vector-backed guest
// RAM and read back with the hypervisor's own ACPI parser (hv/acpi) from
// fake physical memory, as a guest would find them by scanning 0xE0000-
// 0xFFFFF: checksums, CPUs and APIC IDs (1, 2, 255, 256 with an x2APIC
// entry, 1024), the I/O APIC, the IRQ 0 override, the LINT1 NMIs, the FADT
// (hardware-reduced, reset and sleep registers), MCFG. The DSDT is given to
// `iasl -d` when acpica-tools is installed.
//
// Bad inputs tried: 0 and 1025 vCPUs, an unaligned base, tables one byte
// larger than the limit, an area past the end of RAM, half-set sleep ports,
// bad ECAM and PCI windows, a guest memory that refuses writes. Guest memory
// must be untouched (no write call, every byte the fill pattern) after each.
// Random platforms within the limits are built and parsed back too.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hv/acpi/acpi.hpp"
#include "hv/acpi/tables.hpp"
#include "tests/unit/fake_phys.hpp"
#include "tests/unit/host_log.hpp"
#include "vmm/builder/acpi_builder.hpp"
#include "vmm/builder/aml.hpp"

using lib::Error;
using vmm::builder::AcpiLayout;
using vmm::builder::AcpiPlatform;
using vmm::builder::build_acpi;
using vmm::builder::GuestMemory;
namespace aml = vmm::builder::aml;
namespace raw = hv::acpi::raw;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t fill = 0xa5;
constexpr uint64_t bios_base = 0xe0000, bios_size = 0x20000;

class VecMemory final : public GuestMemory {
public:
    explicit VecMemory(uint64_t size = 2ull << 20) : bytes(size, fill) {}
    uint64_t size() const override { return bytes.size(); }
    lib::Status write(uint64_t gpa, const void* src, size_t len) override
    {
        ++calls;
        if (refuse) return lib::err(Error::io);
        if (gpa > bytes.size() || len > bytes.size() - gpa) return lib::err(Error::out_of_range);
        if (len) memcpy(bytes.data() + gpa, src, len);
        return {};
    }
    lib::Status zero(uint64_t gpa, size_t len) override
    {
        ++calls;
        if (gpa > bytes.size() || len > bytes.size() - gpa) return lib::err(Error::out_of_range);
        if (len) memset(bytes.data() + gpa, 0, len);
        return {};
    }
    bool untouched() const
    {
        for (uint8_t b : bytes)
            if (b != fill) return false;
        return calls == 0;
    }
    template <typename T> T load(uint64_t gpa) const
    {
        T v;
        memcpy(&v, bytes.data() + gpa, sizeof v);
        return v;
    }
    Bytes range(uint64_t gpa, size_t len) const { return Bytes(bytes.begin() + long(gpa), bytes.begin() + long(gpa + len)); }

    std::vector<uint8_t> bytes;
    unsigned calls = 0;
    bool refuse = false;
};

uint8_t sum(const uint8_t* p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; ++i) s = uint8_t(s + p[i]);
    return s;
}

// ---- AML ----

Bytes emit(void (*f)(aml::Emitter&), size_t cap = 65536)
{
    Bytes b(cap);
    aml::Emitter e(b.data(), b.size());
    f(e);
    EXPECT_TRUE(e.status().ok());
    b.resize(e.size());
    return b;
}

Bytes pkg(uint32_t total)
{
    uint8_t out[4];
    size_t n = aml::encode_pkg_length(total, out);
    return Bytes(out, out + n);
}

TEST(Aml, PkgLengthForms)
{
    EXPECT_EQ(pkg(0), (Bytes{0x00}));
    EXPECT_EQ(pkg(63), (Bytes{0x3f}));
    EXPECT_EQ(pkg(64), (Bytes{0x40, 0x04}));
    EXPECT_EQ(pkg(4095), (Bytes{0x4f, 0xff}));
    EXPECT_EQ(pkg(4096), (Bytes{0x80, 0x00, 0x01}));
    EXPECT_EQ(pkg(0xfffff), (Bytes{0x8f, 0xff, 0xff}));
    EXPECT_EQ(pkg(0x100000), (Bytes{0xc0, 0x00, 0x00, 0x01}));
    EXPECT_EQ(pkg(aml::max_pkg_length), (Bytes{0xcf, 0xff, 0xff, 0xff}));
    EXPECT_EQ(pkg(aml::max_pkg_length + 1), Bytes{});
}

// A package whose body (count byte + `extra` bytes) is `body` long: the
// PkgLength counts itself, so a 62-byte body still has the 1-byte form
// (63) and a 63-byte one needs 2 bytes (65); 4093 -> 4095 in 2 bytes,
// 4094 -> 4097 in 3.
Bytes package_with_body(size_t body)
{
    Bytes b(8192);
    aml::Emitter e(b.data(), b.size());
    auto m = e.begin_package(0);
    for (size_t i = 1; i < body; ++i) e.byte(0xaa);
    e.end(m);
    EXPECT_TRUE(e.status().ok());
    b.resize(e.size());
    return b;
}

TEST(Aml, PkgLengthBoundariesInObjects)
{
    struct Case {
        size_t body;
        Bytes head;
    } cases[] = {
        {62, {0x12, 0x3f}},
        {63, {0x12, 0x41, 0x04}},
        {4093, {0x12, 0x4f, 0xff}},
        {4094, {0x12, 0x81, 0x00, 0x01}},
    };
    for (auto& c : cases) {
        Bytes b = package_with_body(c.body);
        ASSERT_EQ(b.size(), 1 + (c.head.size() - 1) + c.body) << c.body;
        EXPECT_EQ(Bytes(b.begin(), b.begin() + long(c.head.size())), c.head) << c.body;
        EXPECT_EQ(b[c.head.size()], 0x00) << "count byte right after the PkgLength";
        EXPECT_EQ(b.back(), 0xaa);
    }
}

TEST(Aml, IntegerPrefixes)
{
    auto one = [](uint64_t v) {
        Bytes b(16);
        aml::Emitter e(b.data(), b.size());
        e.integer(v);
        b.resize(e.size());
        return b;
    };
    EXPECT_EQ(one(0), (Bytes{0x00}));
    EXPECT_EQ(one(1), (Bytes{0x01}));
    EXPECT_EQ(one(2), (Bytes{0x0a, 0x02}));
    EXPECT_EQ(one(0xff), (Bytes{0x0a, 0xff}));
    EXPECT_EQ(one(0x100), (Bytes{0x0b, 0x00, 0x01}));
    EXPECT_EQ(one(0xffff), (Bytes{0x0b, 0xff, 0xff}));
    EXPECT_EQ(one(0x10000), (Bytes{0x0c, 0x00, 0x00, 0x01, 0x00}));
    EXPECT_EQ(one(0xffffffff), (Bytes{0x0c, 0xff, 0xff, 0xff, 0xff}));
    EXPECT_EQ(one(1ull << 32), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
    EXPECT_EQ(one(~0ull), (Bytes{0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(Aml, EisaId)
{
    EXPECT_EQ(aml::eisaid("PNP0A08").value_or(0), 0x080ad041u);
    EXPECT_EQ(aml::eisaid("PNP0A03").value_or(0), 0x030ad041u);
    EXPECT_EQ(aml::eisaid("PNP0501").value_or(0), 0x0105d041u);
    EXPECT_EQ(aml::eisaid("PNP0C02").value_or(0), 0x020cd041u);
    for (const char* bad : {"pnp0a08", "PNP0A0", "PNP0A080", "PNP0G08", "PN10A08", "PNP0a08", ""})
        EXPECT_EQ(aml::eisaid(bad).error(), Error::invalid) << bad;
    // As a DWord constant, whatever its value.
    Bytes b = emit([](aml::Emitter& e) { e.name_eisaid("_HID", "PNP0A08"); });
    EXPECT_EQ(b, (Bytes{0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08}));
}

TEST(Aml, Names)
{
    auto name = [](const char* path) {
        Bytes b(64);
        aml::Emitter e(b.data(), b.size());
        e.name_string(path);
        b.resize(e.size());
        return std::make_pair(b, e.status().error());
    };
    EXPECT_EQ(name("_HID").first, (Bytes{'_', 'H', 'I', 'D'}));
    EXPECT_EQ(name("_S5").first, (Bytes{'_', 'S', '5', '_'}));
    EXPECT_EQ(name("\\_SB").first, (Bytes{'\\', '_', 'S', 'B', '_'}));
    EXPECT_EQ(name("\\").first, (Bytes{'\\', 0x00}));
    EXPECT_EQ(name("^^FOO").first, (Bytes{'^', '^', 'F', 'O', 'O', '_'}));
    EXPECT_EQ(name("\\_SB.PCI0").first, (Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
    EXPECT_EQ(name("\\_SB.PCI0.S08").first,
              (Bytes{'\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'}));
    for (const char* bad : {"", "1ABC", "ABCDE", "A..B", "abc", "A.", ".A", "\\^A", "A-B"})
        EXPECT_EQ(name(bad).second, Error::invalid) << bad;
}

TEST(Aml, StringsAndPackages)
{
    Bytes b = emit([](aml::Emitter& e) {
        e.name("\\_S5");
        auto p = e.begin_package(2);
        e.integer(5);
        e.integer(5);
        e.end(p);
        e.name_string_value("_HID", "ACPI0007");
    });
    EXPECT_EQ(b, (Bytes{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05,  //
                        0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '0', '7', 0x00}));
    Bytes s(16);
    aml::Emitter e(s.data(), s.size());
    e.string("\x80");
    EXPECT_EQ(e.status().error(), Error::invalid);
}

TEST(Aml, DeviceUsesExtOpPrefix)
{
    Bytes b = emit([](aml::Emitter& e) {
        auto d = e.begin_device("COM1");
        e.name_integer("_UID", 1);
        e.end(d);
    });
    EXPECT_EQ(b, (Bytes{0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x01}));
}

TEST(Aml, MethodIfNotify)
{
    Bytes b = emit([](aml::Emitter& e) {
        auto m = e.begin_method("_EVT", 1);
        auto i = e.begin_if();
        e.lequal();
        e.arg(0);
        e.integer(16);
        e.notify("\\_SB.PWRB", 0x80);
        e.end(i);
        e.end(m);
    });
    // Method (_EVT, 1) { If (LEqual (Arg0, 0x10)) { Notify (\_SB.PWRB, 0x80) } }
    EXPECT_EQ(b, (Bytes{0x14, 0x19, '_', 'E', 'V', 'T', 0x01, 0xa0, 0x12, 0x93, 0x68, 0x0a, 0x10, 0x86, '\\', 0x2e,
                        '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', 0x0a, 0x80}));
    // More than 7 arguments, Arg7: refused.
    uint8_t buf[64];
    aml::Emitter e(buf, sizeof buf);
    auto m = e.begin_method("_EVT", 8);
    e.end(m);
    EXPECT_FALSE(e.status().ok());
    aml::Emitter f(buf, sizeof buf);
    f.arg(7);
    EXPECT_FALSE(f.status().ok());
}

TEST(Aml, ResourceTemplateEndTag)
{
    Bytes b = emit([](aml::Emitter& e) {
        auto t = e.begin_resource_template();
        e.io(0x3f8, 0x3f8, 1, 8);
        e.irq_noflags(1u << 4);
        e.end(t);
    });
    // Buffer, PkgLength 16, BufferSize 13, IO (Decode16, 0x3F8, 0x3F8, 1, 8),
    // IRQNoFlags () {4}, End Tag with the checksum making the 13 bytes sum to 0.
    EXPECT_EQ(b, (Bytes{0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00,
                        0x79, 0x0e}));
    EXPECT_EQ(sum(b.data() + 4, b.size() - 4), 0);
}

TEST(Aml, AddressSpaceDescriptors)
{
    Bytes b = emit([](aml::Emitter& e) {
        auto t = e.begin_resource_template();
        e.word_bus_number(0, 0xff);
        e.word_io(0x0d00, 0xffff);
        e.dword_memory(0xc0000000, 0xfebfffff, aml::Cache::non_cacheable, true);
        e.qword_memory(0x8000000000, 0x8fffffffff, aml::Cache::prefetchable, false);
        const uint32_t gsi[] = {5};
        e.interrupt(aml::Trigger::level, aml::Polarity::active_high, true, gsi, 1);
        e.irq(1u << 9, aml::Trigger::level, aml::Polarity::active_low, true);
        e.end(t);
    });
    // The template is 16 + 16 + 26 + 46 + 9 + 4 + 2 = 119 bytes, BufferSize
    // 0x0A 0x77: PkgLength 2 + 2 + 119 = 123 in the 2-byte form.
    ASSERT_EQ(b.size(), 5u + 119u);
    EXPECT_EQ(Bytes(b.begin(), b.begin() + 5), (Bytes{0x11, 0x4b, 0x07, 0x0a, 0x77}));
    size_t o = 5;
    EXPECT_EQ(Bytes(b.begin() + long(o), b.begin() + long(o + 16)),
              (Bytes{0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01}));
    o += 16;
    EXPECT_EQ(Bytes(b.begin() + long(o), b.begin() + long(o + 16)),
              (Bytes{0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3}));
    o += 16;
    EXPECT_EQ(Bytes(b.begin() + long(o), b.begin() + long(o + 26)),
              (Bytes{0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xbf, 0xfe,
                     0, 0, 0, 0, 0x00, 0x00, 0xc0, 0x3e}));
    o += 26;
    Bytes q = {0x8a, 0x2b, 0x00, 0x00, 0x0d, 0x07};
    for (uint64_t f : {0ull, 0x8000000000ull, 0x8fffffffffull, 0ull, 0x1000000000ull})
        for (int i = 0; i < 8; ++i) q.push_back(uint8_t(f >> (8 * i)));
    EXPECT_EQ(Bytes(b.begin() + long(o), b.begin() + long(o + 46)), q);
    o += 46;
    EXPECT_EQ(Bytes(b.begin() + long(o), b.begin() + long(o + 9)), (Bytes{0x89, 0x06, 0x00, 0x09, 0x01, 5, 0, 0, 0}));
    o += 9;
    EXPECT_EQ(Bytes(b.begin() + long(o), b.begin() + long(o + 4)), (Bytes{0x23, 0x00, 0x02, 0x18}));
    o += 4;
    ASSERT_EQ(o + 2, b.size());
    EXPECT_EQ(b[o], 0x79);
    EXPECT_EQ(sum(b.data() + 5, b.size() - 5), 0);
}

TEST(Aml, ErrorsAreStickyAndBounded)
{
    // Overflow: the buffer is never written past its capacity.
    Bytes b(40, 0xee);
    {
        aml::Emitter e(b.data(), 32);
        auto d = e.begin_device("DEV0");
        for (int i = 0; i < 10; ++i) e.name_integer("_UID", 0x12345678);
        e.end(d);
        EXPECT_EQ(e.status().error(), Error::out_of_range);
        EXPECT_LE(e.size(), 32u);
        for (size_t i = 32; i < b.size(); ++i) EXPECT_EQ(b[i], 0xee);
    }
    {
        // The PkgLength insertion itself overflowing.
        Bytes c(8);
        aml::Emitter e(c.data(), 7);
        auto s = e.begin_scope("ABCD");  // 5 bytes
        e.byte(0);
        e.byte(0);  // 7: full, the PkgLength byte does not fit
        e.end(s);
        EXPECT_EQ(e.status().error(), Error::out_of_range);
    }
    Bytes c(256);
    {
        aml::Emitter e(c.data(), c.size());
        auto a = e.begin_scope("\\_SB");
        auto d = e.begin_device("X");
        e.end(a);  // out of order
        e.end(d);
        EXPECT_EQ(e.status().error(), Error::invalid);
    }
    {
        aml::Emitter e(c.data(), c.size());
        auto a = e.begin_scope("\\_SB");
        (void)a;  // never closed
        EXPECT_EQ(e.status().error(), Error::invalid);
    }
    {
        aml::Emitter e(c.data(), c.size());
        e.io(0, 0, 1, 1);  // outside a resource template
        EXPECT_EQ(e.status().error(), Error::invalid);
    }
    {
        aml::Emitter e(c.data(), c.size());
        auto t = e.begin_resource_template();
        e.word_io(0x100, 0xff);  // max < min
        e.end(t);
        EXPECT_EQ(e.status().error(), Error::invalid);
    }
    {
        aml::Emitter e(c.data(), c.size());
        e.name_eisaid("_HID", "PNPXXXX");
        EXPECT_EQ(e.status().error(), Error::invalid);
        size_t n = e.size();
        e.integer(5);  // sticky: nothing more is written
        EXPECT_EQ(e.size(), n);
    }
}

// ---- whole tables ----

AcpiPlatform q35ish(uint32_t vcpus)
{
    AcpiPlatform p;
    p.vcpus = vcpus;
    p.ecam_base = 0xb0000000;
    p.bus_start = 0;
    p.bus_end = 0xff;
    p.mmio32_base = 0xc0000000;
    p.mmio32_size = 0xfec00000 - 0xc0000000;
    p.mmio64_base = 0x8000000000;
    p.mmio64_size = 1ull << 35;
    return p;
}

struct Parsed {
    std::unique_ptr<hv::acpi::Info> info = std::make_unique<hv::acpi::Info>();
    uint64_t rsdp = 0;
};

// The guest's view: the BIOS area copied to fake physical memory, the RSDP
// found by scanning it, every table parsed.
Parsed parse_back(const VecMemory& mem)
{
    Parsed r;
    test::FakePhys phys;
    phys.add(bios_base, bios_size);
    phys.put_bytes(bios_base, mem.bytes.data() + bios_base, bios_size);
    auto reader = phys.reader();
    auto rsdp = hv::acpi::find_rsdp_bios(reader);
    EXPECT_TRUE(rsdp.ok());
    if (!rsdp) return r;
    r.rsdp = *rsdp;
    EXPECT_TRUE(hv::acpi::parse_acpi_at(reader, *rsdp, *r.info).ok());
    return r;
}

bool table_ok(const VecMemory& mem, uint64_t gpa, const char* sig)
{
    auto h = mem.load<raw::SdtHeader>(gpa);
    return memcmp(h.signature, sig, 4) == 0 && sum(mem.bytes.data() + gpa, h.length) == 0;
}

// Everything outside [base, base + bytes) still holds the fill pattern.
void expect_confined(const VecMemory& mem, uint64_t base, uint64_t bytes)
{
    size_t stray = 0;
    for (uint64_t i = 0; i < mem.bytes.size(); ++i)
        if ((i < base || i >= base + bytes) && mem.bytes[i] != fill) ++stray;
    EXPECT_EQ(stray, 0u);
}

AcpiLayout build_ok(const AcpiPlatform& p, VecMemory& mem, uint64_t base = bios_base, uint64_t limit = bios_size)
{
    const char* why = nullptr;
    auto l = build_acpi(p, mem, base, limit, &why);
    EXPECT_TRUE(l.ok()) << (why ? why : "");
    if (!l) return {};
    EXPECT_EQ(l->rsdp_gpa, base);
    EXPECT_LE(l->bytes, limit);
    expect_confined(mem, base, l->bytes);
    return *l;
}

TEST(AcpiBuilder, Q35LikePlatformParsesBack)
{
    VecMemory mem;
    test::log_clear();
    AcpiPlatform p = q35ish(4);
    AcpiLayout l = build_ok(p, mem);
    Parsed r = parse_back(mem);
    const hv::acpi::Info& in = *r.info;
    EXPECT_EQ(r.rsdp, bios_base);
    for (auto& line : test::log_lines()) ADD_FAILURE() << "parser warned: " << line;

    // RSDP: both checksums, revision 2, the XSDT.
    auto rsdp = mem.load<raw::Rsdp>(l.rsdp_gpa);
    EXPECT_EQ(sum(mem.bytes.data() + l.rsdp_gpa, 20), 0);
    EXPECT_EQ(sum(mem.bytes.data() + l.rsdp_gpa, 36), 0);
    EXPECT_EQ(rsdp.revision, 2);
    EXPECT_EQ(rsdp.length, 36u);
    EXPECT_EQ(rsdp.xsdt_address, l.xsdt_gpa);
    EXPECT_EQ(in.revision, 2);
    EXPECT_TRUE(in.xsdt);
    EXPECT_EQ(in.rsdt_phys, l.xsdt_gpa);
    EXPECT_EQ(std::string(in.oem_id, 6), "HV    ");

    // Every table accepted (valid checksum and contents), the DSDT's too.
    ASSERT_EQ(in.table_count, 4u);  // XSDT, FACP, APIC, MCFG
    const char* sigs[] = {"XSDT", "FACP", "APIC", "MCFG"};
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_STREQ(in.tables[i].signature, sigs[i]);
        EXPECT_TRUE(in.tables[i].accepted) << sigs[i];
    }
    EXPECT_TRUE(table_ok(mem, l.dsdt_gpa, "DSDT"));
    auto dh = mem.load<raw::SdtHeader>(l.dsdt_gpa);
    EXPECT_EQ(dh.revision, 2);
    EXPECT_EQ(std::string(dh.oem_table_id, 8), "HVGUEST ");
    EXPECT_EQ(l.dsdt_gpa + dh.length, l.rsdp_gpa + l.bytes);
    for (uint64_t a : {l.xsdt_gpa, l.fadt_gpa, l.madt_gpa, l.mcfg_gpa, l.dsdt_gpa}) EXPECT_EQ(a % 16, 0u);

    // MADT.
    EXPECT_TRUE(in.have_madt);
    EXPECT_EQ(in.lapic_address, 0xfee00000u);
    EXPECT_FALSE(in.pcat_compat);
    ASSERT_EQ(in.cpu_count, 4u);
    for (uint32_t i = 0; i < 4; ++i) {
        EXPECT_EQ(in.cpus[i].apic_id, i);
        EXPECT_EQ(in.cpus[i].uid, i);
        EXPECT_TRUE(in.cpus[i].enabled);
    }
    ASSERT_EQ(in.ioapic_count, 1u);
    EXPECT_EQ(in.ioapics[0].id, 0u);
    EXPECT_EQ(in.ioapics[0].address, 0xfec00000u);
    EXPECT_EQ(in.ioapics[0].gsi_base, 0u);
    ASSERT_EQ(in.override_count, 1u);
    EXPECT_EQ(in.overrides[0].bus, 0);
    EXPECT_EQ(in.overrides[0].source, 0);
    EXPECT_EQ(in.overrides[0].gsi, 2u);
    EXPECT_EQ(in.overrides[0].flags, 0);
    ASSERT_EQ(in.nmi_count, 1u);
    EXPECT_EQ(in.nmis[0].uid, hv::acpi::all_cpus_uid);
    EXPECT_EQ(in.nmis[0].lint, 1);

    // MCFG.
    ASSERT_EQ(in.mcfg_count, 1u);
    EXPECT_EQ(in.mcfg[0].base, 0xb0000000u);
    EXPECT_EQ(in.mcfg[0].segment, 0);
    EXPECT_EQ(in.mcfg[0].bus_start, 0);
    EXPECT_EQ(in.mcfg[0].bus_end, 0xff);

    // FADT, as parsed and as laid out.
    EXPECT_TRUE(in.fadt.present);
    EXPECT_TRUE(in.fadt.hw_reduced);
    EXPECT_EQ(in.fadt.pm_timer_port, 0u);
    EXPECT_EQ(in.fadt.dsdt, l.dsdt_gpa);
    EXPECT_EQ(in.fadt.iapc_boot_arch, 0x24);  // VGA and CMOS RTC not present; no 8042, MSI fine
    EXPECT_EQ(in.fadt.reset_reg.space, raw::gas_system_io);
    EXPECT_EQ(in.fadt.reset_reg.bit_width, 8);
    EXPECT_EQ(in.fadt.reset_reg.address, 0xcf9u);
    EXPECT_EQ(in.fadt.reset_value, 6);
    EXPECT_TRUE(in.fadt.flags & (1u << 10));  // RESET_REG_SUP
    auto f = mem.load<raw::Fadt>(l.fadt_gpa);
    EXPECT_EQ(f.h.length, 276u);
    EXPECT_EQ(f.h.revision, 6);
    EXPECT_EQ(f.dsdt, l.dsdt_gpa);
    EXPECT_EQ(f.x_dsdt, l.dsdt_gpa);
    EXPECT_EQ(f.firmware_ctrl, 0u);
    EXPECT_EQ(f.x_firmware_ctrl, 0u);
    EXPECT_EQ(f.sleep_control_reg.space_id, raw::gas_system_io);
    EXPECT_EQ(f.sleep_control_reg.address, 0x600u);
    EXPECT_EQ(f.sleep_control_reg.bit_width, 8);
    EXPECT_EQ(f.sleep_status_reg.space_id, raw::gas_system_io);
    EXPECT_EQ(f.sleep_status_reg.address, 0x601u);
    EXPECT_EQ(f.sci_int, 9);
    EXPECT_EQ(memcmp(&f.hypervisor_vendor_id, "HVHV\0\0\0\0", 8), 0);
    EXPECT_EQ(f.x_pm_tmr_blk.address, 0u);
    EXPECT_EQ(f.pm1a_cnt_blk, 0u);
}

// The DSDT as bytes, and whether it holds `needle`.
Bytes dsdt_of(const VecMemory& mem, const AcpiLayout& l)
{
    return mem.range(l.dsdt_gpa, mem.load<raw::SdtHeader>(l.dsdt_gpa).length);
}
bool holds(const Bytes& hay, const Bytes& needle)
{
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(AcpiBuilder, DsdtContents)
{
    VecMemory mem;
    AcpiLayout l = build_ok(q35ish(2), mem);
    Bytes d = dsdt_of(mem, l);
    EXPECT_TRUE(holds(d, {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05}));
    EXPECT_TRUE(holds(d, {'P', 'C', 'I', '0', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08}));
    EXPECT_TRUE(holds(d, {0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03}));
    EXPECT_TRUE(holds(d, {0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08}));  // IO 0xCF8, 8 ports
    EXPECT_TRUE(holds(d, {'C', 'O', 'M', '1', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01}));
    EXPECT_TRUE(holds(d, {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79}));
    EXPECT_TRUE(holds(d, {'C', '0', '0', '1', 0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '0', '7'}));
    EXPECT_TRUE(holds(d, {'M', 'R', 'E', 'S'}));

    // Without PCI, COM1 and sleep registers: none of them, and no MCFG.
    AcpiPlatform p;
    p.vcpus = 1;
    p.com1 = false;
    p.sleep_control_port = p.sleep_status_port = 0;
    p.reset_port = 0;
    VecMemory m2;
    AcpiLayout l2 = build_ok(p, m2);
    EXPECT_EQ(l2.mcfg_gpa, 0u);
    Bytes d2 = dsdt_of(m2, l2);
    EXPECT_FALSE(holds(d2, {'P', 'C', 'I', '0'}));
    EXPECT_FALSE(holds(d2, {'C', 'O', 'M', '1'}));
    EXPECT_FALSE(holds(d2, {'_', 'S', '5', '_'}));
    Parsed r = parse_back(m2);
    EXPECT_EQ(r.info->table_count, 3u);  // XSDT, FACP, APIC
    EXPECT_EQ(r.info->mcfg_count, 0u);
    EXPECT_FALSE(r.info->fadt.flags & (1u << 10));
    auto f = m2.load<raw::Fadt>(l2.fadt_gpa);
    EXPECT_EQ(f.sleep_control_reg.address, 0u);
    EXPECT_EQ(f.reset_reg.address, 0u);
}

void expect_cpus(uint32_t n)
{
    SCOPED_TRACE(n);
    VecMemory mem;
    AcpiLayout l = build_ok(q35ish(n), mem);
    Parsed r = parse_back(mem);
    size_t want = n < hv::acpi::max_cpus ? n : hv::acpi::max_cpus;
    ASSERT_EQ(r.info->cpu_count, want);
    for (uint32_t i = 0; i < want; ++i) {
        EXPECT_EQ(r.info->cpus[i].apic_id, i);
        EXPECT_EQ(r.info->cpus[i].uid, i);
    }
    // The raw MADT: xAPIC entries for IDs 0-254, x2APIC ones from 255 on,
    // each with UID = ID; a Local x2APIC NMI exactly when there are x2APICs.
    auto h = mem.load<raw::Madt>(l.madt_gpa);
    ASSERT_TRUE(table_ok(mem, l.madt_gpa, "APIC"));
    uint32_t lapics = 0, x2apics = 0, nmis = 0, x2nmis = 0;
    for (uint64_t o = sizeof h; o < h.h.length;) {
        auto s = mem.load<raw::SubHeader>(l.madt_gpa + o);
        ASSERT_GE(s.length, 2);
        if (s.type == raw::madt_local_apic) {
            auto a = mem.load<raw::MadtLocalApic>(l.madt_gpa + o);
            EXPECT_EQ(a.apic_id, lapics);
            EXPECT_EQ(a.processor_uid, lapics);
            EXPECT_EQ(a.flags, 1u);
            ++lapics;
        } else if (s.type == raw::madt_local_x2apic) {
            auto a = mem.load<raw::MadtLocalX2Apic>(l.madt_gpa + o);
            EXPECT_EQ(a.x2apic_id, 255 + x2apics);
            EXPECT_EQ(a.processor_uid, 255 + x2apics);
            ++x2apics;
        } else if (s.type == raw::madt_local_apic_nmi) {
            ++nmis;
        } else if (s.type == raw::madt_local_x2apic_nmi) {
            auto x = mem.load<raw::MadtLocalX2ApicNmi>(l.madt_gpa + o);
            EXPECT_EQ(x.processor_uid, 0xffffffffu);
            EXPECT_EQ(x.lint, 1);
            ++x2nmis;
        }
        o += s.length;
    }
    EXPECT_EQ(lapics, n < 255 ? n : 255);
    EXPECT_EQ(x2apics, n < 255 ? 0 : n - 255);
    EXPECT_EQ(nmis, 1u);
    EXPECT_EQ(x2nmis, n > 255 ? 1u : 0u);
    // One processor device per vCPU.
    Bytes d = dsdt_of(mem, l);
    char last[5];
    snprintf(last, sizeof last, "C%03X", n - 1);
    EXPECT_TRUE(holds(d, Bytes(last, last + 4)));
    snprintf(last, sizeof last, "C%03X", n);
    EXPECT_FALSE(holds(d, Bytes(last, last + 4)));
}

TEST(AcpiBuilder, CpuCounts)
{
    for (uint32_t n : {1u, 2u, 254u, 255u, 256u, 300u, vmm::builder::acpi_max_vcpus}) expect_cpus(n);
}

struct BadCase {
    const char* what;
    AcpiPlatform p;
    uint64_t base, limit, ram;
    Error want;
};

TEST(AcpiBuilder, BadInputsWriteNothing)
{
    auto with = [](auto f) {
        AcpiPlatform p = q35ish(4);
        f(p);
        return p;
    };
    constexpr uint64_t ram = 2ull << 20;
    BadCase cases[] = {
        {"0 vCPUs", with([](AcpiPlatform& p) { p.vcpus = 0; }), bios_base, bios_size, ram, Error::invalid},
        {"too many vCPUs", with([](AcpiPlatform& p) { p.vcpus = vmm::builder::acpi_max_vcpus + 1; }), bios_base,
         bios_size, ram, Error::out_of_range},
        {"unaligned base", q35ish(4), bios_base + 8, bios_size - 8, ram, Error::invalid},
        {"limit too small", q35ish(4), bios_base, 256, ram, Error::out_of_range},
        {"limit past RAM", q35ish(4), ram - 0x1000, 0x2000, ram, Error::out_of_range},
        {"base past RAM", q35ish(4), ram, 0x1000, ram, Error::out_of_range},
        {"half-set sleep ports", with([](AcpiPlatform& p) { p.sleep_status_port = 0; }), bios_base, bios_size, ram,
         Error::invalid},
        {"ECAM misaligned", with([](AcpiPlatform& p) { p.ecam_base += 0x1000; }), bios_base, bios_size, ram,
         Error::invalid},
        {"bus range reversed", with([](AcpiPlatform& p) { p.bus_start = 2, p.bus_end = 1; }), bios_base, bios_size,
         ram, Error::invalid},
        {"mmio32 past 4 GiB", with([](AcpiPlatform& p) { p.mmio32_size = 0x40000001; }), bios_base, bios_size, ram,
         Error::invalid},
        {"windows without ECAM", with([](AcpiPlatform& p) { p.ecam_base = 0; }), bios_base, bios_size, ram,
         Error::invalid},
        {"LAPIC above 4 GiB", with([](AcpiPlatform& p) { p.lapic_base = 1ull << 32; }), bios_base, bios_size, ram,
         Error::invalid},
        {"power button past the I/O APIC's pins", with([](AcpiPlatform& p) { p.power_button_gsi = 24; }), bios_base,
         bios_size, ram, Error::invalid},
        {"hotplug slots without PCI",
         with([](AcpiPlatform& p) { p.ecam_base = 0, p.mmio32_size = p.mmio64_size = 0, p.hotplug_slots = 0x100,
                                    p.hotplug_port = 0xae00, p.hotplug_gsi = 22; }),
         bios_base, bios_size, ram, Error::invalid},
        {"hotplug slot 0", with([](AcpiPlatform& p) { p.hotplug_slots = 1, p.hotplug_port = 0xae00, p.hotplug_gsi = 22; }),
         bios_base, bios_size, ram, Error::invalid},
        {"hotplug without registers",
         with([](AcpiPlatform& p) { p.hotplug_slots = 0x100, p.hotplug_port = 0, p.hotplug_gsi = 22; }), bios_base,
         bios_size, ram, Error::invalid},
        {"hotplug registers past port 0xffff",
         with([](AcpiPlatform& p) { p.hotplug_slots = 0x100, p.hotplug_port = 0xfffc, p.hotplug_gsi = 22; }), bios_base,
         bios_size, ram, Error::invalid},
        {"hotplug GSI past the pins",
         with([](AcpiPlatform& p) { p.hotplug_slots = 0x100, p.hotplug_port = 0xae00, p.hotplug_gsi = 24; }), bios_base,
         bios_size, ram, Error::invalid},
        {"hotplug GSI shared with the power button",
         with([](AcpiPlatform& p) {
             p.hotplug_slots = 0x100, p.hotplug_port = 0xae00, p.hotplug_gsi = 23, p.power_button_gsi = 23;
         }),
         bios_base, bios_size, ram, Error::invalid},
        {"INTx routing without PCI",
         with([](AcpiPlatform& p) { p.ecam_base = 0, p.mmio32_size = p.mmio64_size = 0, p.intx_gsi_base = 16,
                                    p.intx_gsi_count = 4; }),
         bios_base, bios_size, ram, Error::invalid},
        {"INTx GSIs past the pins", with([](AcpiPlatform& p) { p.intx_gsi_base = 20, p.intx_gsi_count = 5; }),
         bios_base, bios_size, ram, Error::invalid},
        {"INTx GSIs below the I/O APIC's",
         with([](AcpiPlatform& p) { p.ioapic_gsi_base = 24, p.intx_gsi_base = 16, p.intx_gsi_count = 4; }), bios_base,
         bios_size, ram, Error::invalid},
        {"INTx GSIs over the power button's",
         with([](AcpiPlatform& p) { p.power_button_gsi = 18, p.intx_gsi_base = 16, p.intx_gsi_count = 4; }),
         bios_base, bios_size, ram, Error::invalid},
        {"INTx GSIs over the hotplug interrupt",
         with([](AcpiPlatform& p) {
             p.hotplug_slots = 0x100, p.hotplug_port = 0xae00, p.hotplug_gsi = 22, p.intx_gsi_base = 16,
             p.intx_gsi_count = 7;
         }),
         bios_base, bios_size, ram, Error::invalid},
    };
    for (auto& c : cases) {
        SCOPED_TRACE(c.what);
        VecMemory mem(c.ram);
        const char* why = nullptr;
        auto l = build_acpi(c.p, mem, c.base, c.limit, &why);
        ASSERT_FALSE(l.ok());
        EXPECT_EQ(l.error(), c.want);
        ASSERT_NE(why, nullptr);
        EXPECT_GT(strlen(why), 10u);
        EXPECT_TRUE(mem.untouched());
    }
}

TEST(AcpiBuilder, ExactLimit)
{
    VecMemory mem;
    AcpiLayout l = build_ok(q35ish(8), mem);
    VecMemory exact, short_by_one;
    const char* why = nullptr;
    EXPECT_TRUE(build_acpi(q35ish(8), exact, bios_base, l.bytes, &why).ok());
    EXPECT_EQ(exact.bytes, mem.bytes);
    auto r = build_acpi(q35ish(8), short_by_one, bios_base, l.bytes - 1, &why);
    EXPECT_EQ(r.error(), Error::out_of_range);
    EXPECT_STREQ(why, "the ACPI tables do not fit in the space given to them");
    EXPECT_TRUE(short_by_one.untouched());
}

TEST(AcpiBuilder, RefusingMemory)
{
    VecMemory mem;
    mem.refuse = true;
    const char* why = nullptr;
    auto r = build_acpi(q35ish(2), mem, bios_base, bios_size, &why);
    EXPECT_EQ(r.error(), Error::io);
    EXPECT_STREQ(why, "cannot write the ACPI tables to the domain's RAM");
}

TEST(AcpiBuilder, RandomPlatformsParseBack)
{
    std::mt19937_64 rng(20240601);
    auto pick = [&](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo + 1); };
    size_t built = 0;
    for (int iter = 0; iter < 200; ++iter) {
        AcpiPlatform p;
        p.vcpus = uint32_t(rng() % 4 == 0 ? pick(1, vmm::builder::acpi_max_vcpus) : pick(1, 64));
        p.ioapic_id = uint8_t(pick(0, 15));
        p.ioapic_gsi_base = uint32_t(pick(0, 64));
        p.irq0_to_gsi2 = rng() & 1;
        p.com1 = rng() & 1;
        if (rng() & 1) p.sleep_control_port = p.sleep_status_port = 0;
        if (rng() & 1) p.reset_port = 0;
        bool pci = rng() & 1;
        if (pci) {
            p.pci_segment = uint16_t(pick(0, 3));
            p.bus_start = uint8_t(pick(0, 16));
            p.bus_end = uint8_t(pick(p.bus_start, 255));
            p.ecam_base = pick(0x800, 0xe00) * (1ull << 20);
            if (rng() & 1) {
                p.mmio32_base = pick(0xc00, 0xfe0) << 20;
                p.mmio32_size = pick(1, (0x1000 - (p.mmio32_base >> 20))) << 20;
            }
            if (rng() & 1) {
                p.mmio64_base = pick(1, 64) << 32;
                p.mmio64_size = pick(1, 64) << 30;
            }
        }
        uint64_t base = bios_base + pick(0, 0x100) * 16;
        uint64_t limit = bios_base + bios_size - base;
        SCOPED_TRACE(iter);
        VecMemory mem;
        const char* why = nullptr;
        test::log_clear();
        auto l = build_acpi(p, mem, base, limit, &why);
        ASSERT_TRUE(l.ok()) << why;
        ++built;
        expect_confined(mem, base, l->bytes);
        Parsed r = parse_back(mem);
        const auto& in = *r.info;
        EXPECT_EQ(r.rsdp, base);
        for (size_t i = 0; i < in.table_count; ++i) EXPECT_TRUE(in.tables[i].accepted) << in.tables[i].signature;
        EXPECT_EQ(in.table_count, pci ? 4u : 3u);
        EXPECT_TRUE(table_ok(mem, l->dsdt_gpa, "DSDT"));
        EXPECT_EQ(in.cpu_count, std::min<size_t>(p.vcpus, hv::acpi::max_cpus));
        ASSERT_EQ(in.ioapic_count, 1u);
        EXPECT_EQ(in.ioapics[0].id, p.ioapic_id);
        EXPECT_EQ(in.ioapics[0].gsi_base, p.ioapic_gsi_base);
        EXPECT_EQ(in.override_count, p.irq0_to_gsi2 ? 1u : 0u);
        EXPECT_EQ(in.nmi_count, p.vcpus > 255 ? 2u : 1u);
        EXPECT_TRUE(in.fadt.hw_reduced);
        EXPECT_EQ(in.fadt.dsdt, l->dsdt_gpa);
        ASSERT_EQ(in.mcfg_count, pci ? 1u : 0u);
        if (pci) {
            EXPECT_EQ(in.mcfg[0].base, p.ecam_base);
            EXPECT_EQ(in.mcfg[0].segment, p.pci_segment);
            EXPECT_EQ(in.mcfg[0].bus_start, p.bus_start);
            EXPECT_EQ(in.mcfg[0].bus_end, p.bus_end);
        }
    }
    EXPECT_EQ(built, 200u);
}

// ---- iasl ----

std::string run(const std::string& cmd, int* status)
{
    std::string out;
    FILE* f = popen((cmd + " 2>&1").c_str(), "r");
    if (!f) {
        *status = -1;
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

std::string slurp(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(AcpiBuilder, IaslDisassemblesTheTables)
{
    int st = 0;
    run("command -v iasl", &st);
    if (st != 0) GTEST_SKIP() << "iasl (Debian package acpica-tools) is not installed";

    VecMemory mem;
    AcpiPlatform p = q35ish(3);
    p.power_button_gsi = 16;
    AcpiLayout l = build_ok(p, mem);
    char dir[] = "/tmp/acpi_builder_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string d = dir;
    auto dump = [&](const char* name, uint64_t gpa) {
        auto len = mem.load<raw::SdtHeader>(gpa).length;
        std::ofstream(d + "/" + name + ".aml", std::ios::binary)
            .write(reinterpret_cast<const char*>(mem.bytes.data() + gpa), len);
    };
    dump("dsdt", l.dsdt_gpa);
    dump("facp", l.fadt_gpa);
    dump("apic", l.madt_gpa);
    dump("mcfg", l.mcfg_gpa);

    std::string out = run("cd " + d + " && iasl -d dsdt.aml facp.aml apic.aml mcfg.aml", &st);
    EXPECT_EQ(st, 0) << out;
    std::string dsl = slurp(d + "/dsdt.dsl");
    for (const char* want : {"DefinitionBlock (\"\", \"DSDT\", 2, \"HV    \", \"HVGUEST \"", "Name (\\_S5, Package (0x02)",
                             "Scope (\\_SB)", "Device (C000)", "Device (C002)", "Name (_HID, \"ACPI0007\"",
                             "Device (PCI0)", "Name (_HID, EisaId (\"PNP0A08\")", "Name (_CID, EisaId (\"PNP0A03\")",
                             "Name (_SEG, Zero)", "Name (_BBN, Zero)", "WordBusNumber (ResourceProducer",
                             "IO (Decode16,", "0x0CF8", "WordIO (ResourceProducer", "0x0CF7", "0x0D00",
                             "DWordMemory (ResourceProducer", "0xFEBFFFFF", "QWordMemory (ResourceProducer",
                             "0x0000008000000000", "Device (MRES)", "Name (_HID, EisaId (\"PNP0C02\")",
                             "DWordMemory (ResourceConsumer", "0xBFFFFFFF", "Device (COM1)",
                             "Name (_HID, EisaId (\"PNP0501\")", "0x03F8", "IRQNoFlags ()", "{4}",
                             "Device (PWRB)", "Name (_HID, EisaId (\"PNP0C0C\")", "Device (GED0)",
                             "Name (_HID, \"ACPI0013\"", "If ((Arg0 == 0x10))", "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive",
                             "0x00000010,", "Method (_EVT, 1,", "Notify (\\_SB.PWRB, 0x80"})
        EXPECT_NE(dsl.find(want), std::string::npos) << "missing: " << want << "\n" << dsl;
    EXPECT_EQ(dsl.find("Error"), std::string::npos) << dsl;

    // The data tables: iasl checks their checksums and field layouts.
    for (const char* t : {"facp", "apic", "mcfg"}) {
        std::string txt = slurp(d + "/" + t + ".dsl");
        EXPECT_FALSE(txt.empty()) << t;
        EXPECT_EQ(txt.find("Incorrect"), std::string::npos) << txt;
        EXPECT_EQ(txt.find("Invalid"), std::string::npos) << txt;
    }
    std::string facp = slurp(d + "/facp.dsl");
    EXPECT_NE(facp.find("Hardware Reduced (V5) : 1"), std::string::npos) << facp;
    EXPECT_NE(facp.find("Reset Register Supported (V2) : 1"), std::string::npos) << facp;
    EXPECT_NE(facp.find("8042 Present on ports 60/64 (V2) : 0"), std::string::npos) << facp;
    EXPECT_NE(facp.find("Hypervisor ID : 0000000056485648"), std::string::npos) << facp;
    EXPECT_NE(slurp(d + "/apic.dsl").find("PC-AT Compatibility : 0"), std::string::npos);
    run("rm -rf " + d, &st);
}

// The PCI hotplug AML (what Linux's acpiphp uses), as iasl reads it back,
// and compiled again from its disassembly without errors.
TEST(AcpiBuilder, IaslReadsThePciHotplugMethods)
{
    int st = 0;
    run("command -v iasl", &st);
    if (st != 0) GTEST_SKIP() << "iasl (Debian package acpica-tools) is not installed";

    VecMemory mem;
    AcpiPlatform p = q35ish(2);
    p.power_button_gsi = 23;
    p.hotplug_slots = 0x00ffff00;  // what Linux domains get: slots 8-23
    p.hotplug_port = 0xae00;
    p.hotplug_gsi = 22;
    p.intx_gsi_base = 16;  // and PCI INTx on GSIs 16-21, as Linux domains get
    p.intx_gsi_count = 6;
    AcpiLayout l = build_ok(p, mem);
    std::string tmpl = (std::filesystem::temp_directory_path() / "acpi_hotplug_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    std::string d = tmpl;
    auto len = mem.load<raw::SdtHeader>(l.dsdt_gpa).length;
    std::ofstream(d + "/dsdt.aml", std::ios::binary)
        .write(reinterpret_cast<const char*>(mem.bytes.data() + l.dsdt_gpa), len);
    std::string out = run("cd " + d + " && iasl -d dsdt.aml", &st);
    ASSERT_EQ(st, 0) << out;
    std::string dsl = slurp(d + "/dsdt.dsl");
    for (const char* want :
         {"OperationRegion (PHPR, SystemIO, 0xAE00, 0x0C)", "Field (PHPR, DWordAcc, NoLock, WriteAsZeros)",
          "PCIU,   32,", "PCID,   32,", "PCEJ,   32", "Device (S08)", "Name (_ADR, 0x00080000)", "Name (_SUN, 0x08)",
          "Device (S17)", "Name (_ADR, 0x00170000)", "Name (_SUN, 0x17)", "Method (_EJ0, 1,",
          "\\_SB.PCI0.PCEJ = 0x00800000", "Method (PCNT, 0,", "Local0 = PCIU", "Local1 = PCID",
          "If ((Local0 & 0x0100))", "Notify (S08, One)", "If ((Local1 & 0x00800000))", "Notify (S17, 0x03)",
          "0x00000016,", "0x00000017,", "If ((Arg0 == 0x16))", "\\_SB.PCI0.PCNT ()", "Notify (\\_SB.PWRB, 0x80",
          "Name (_PRT, Package (0x80)", "0x0001FFFF,", "0x001FFFFF,"})
        EXPECT_NE(dsl.find(want), std::string::npos) << "missing: " << want << "\n" << dsl;
    for (const char* absent : {"Device (S07)", "Device (S18)", "Device (S01)"})
        EXPECT_EQ(dsl.find(absent), std::string::npos) << absent;
    EXPECT_EQ(dsl.find("Error"), std::string::npos) << dsl;
    // The disassembly compiles back without errors (its one warning is
    // about PCI0's _HID with _ADR, which Linux's host bridge matching wants).
    out = run("cd " + d + " && iasl -p re dsdt.dsl", &st);
    EXPECT_EQ(st, 0) << out;
    EXPECT_NE(out.find("Compilation successful. 0 Errors"), std::string::npos) << out;
    run("rm -rf " + d, &st);
}

}  // namespace
