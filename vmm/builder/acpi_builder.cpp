#include "vmm/builder/acpi_builder.hpp"

#include <cstddef>

#include "hv/acpi/tables.hpp"
#include "lib/bytes.hpp"
#include "vmm/builder/aml.hpp"

namespace vmm::builder {
namespace {

namespace raw = hv::acpi::raw;

constexpr uint64_t mib = 1ull << 20;
constexpr uint64_t four_gib = 1ull << 32;

// §5.2.6 revisions of what we write.
constexpr uint8_t fadt_revision = 6, fadt_minor = 5;  // ACPI 6.5: 276 bytes
constexpr uint8_t madt_revision = 5;
constexpr uint8_t mcfg_revision = 1;
constexpr uint8_t xsdt_revision = 1;
constexpr uint8_t dsdt_revision = 2;  // §5.2.11.1: 2 and up make AML integers 64-bit
constexpr uint32_t oem_revision = 1;
constexpr char creator_id[4] = {'H', 'V', ' ', ' '};
constexpr uint32_t creator_revision = 1;

// §5.2.9 Table 5.10 FADT flags.
constexpr uint32_t fadt_pwr_button = 1u << 4;  // no fixed power button (none at all)
constexpr uint32_t fadt_slp_button = 1u << 5;  // no fixed sleep button
constexpr uint32_t fadt_reset_reg_sup = 1u << 10;
// §5.2.9.3 IA-PC Boot Architecture Flags. Not set: LEGACY_DEVICES (bit 0),
// 8042 (bit 1: Linux then skips probing the i8042), MSI_NOT_SUPPORTED
// (bit 3), PCIe ASPM controls (bit 4).
constexpr uint16_t boot_vga_not_present = 1u << 2;
constexpr uint16_t boot_cmos_rtc_not_present = 1u << 5;

// The SCI interrupt is unused on a hardware-reduced platform, but Linux
// still reads SCI_INT while parsing the MADT: an Interrupt Source Override
// whose source equals it is taken for the SCI's, and without one it
// reprograms ISA IRQ SCI_INT as level/low. 0 would turn the IRQ 0 override
// into an SCI one, so this names IRQ 9, the PC's usual SCI, which no device
// of ours uses.
constexpr uint16_t sci_irq = 9;

constexpr uint8_t madt_nmi_all_uid = 0xff;          // §5.2.12.7: all processors
constexpr uint32_t madt_x2nmi_all_uid = 0xffffffff;  // §5.2.12.13
constexpr uint8_t lint1 = 1;                       // NMI pin on a PC
constexpr uint32_t x2apic_from = 255;              // xAPIC entries hold IDs 0-254 (255 is broadcast)

constexpr size_t align16(size_t v) { return (v + 15) & ~size_t(15); }

lib::Error failed(const char** why, const char* text, lib::Error e)
{
    if (why) *why = text;
    return e;
}

void fill_id(char* dst, size_t n, const char* src)
{
    size_t i = 0;
    for (; src && src[i] && i < n; ++i) dst[i] = src[i];
    for (; i < n; ++i) dst[i] = ' ';
}

void header(uint8_t* at, const char* sig, uint32_t length, uint8_t revision, const AcpiPlatform& p)
{
    raw::SdtHeader h = {};
    __builtin_memcpy(h.signature, sig, 4);
    h.length = length;
    h.revision = revision;
    fill_id(h.oem_id, sizeof h.oem_id, p.oem_id);
    fill_id(h.oem_table_id, sizeof h.oem_table_id, p.oem_table_id);
    h.oem_revision = oem_revision;
    __builtin_memcpy(&h.creator_id, creator_id, 4);
    h.creator_revision = creator_revision;
    __builtin_memcpy(at, &h, sizeof h);
}

// §5.2.6: the whole table sums to zero.
void checksum(uint8_t* table, size_t length, size_t at)
{
    table[at] = 0;
    table[at] = uint8_t(-lib::byte_sum(table, length));
}

void seal(uint8_t* table)
{
    checksum(table, lib::load<uint32_t>(table, offsetof(raw::SdtHeader, length)),
             offsetof(raw::SdtHeader, checksum));
}

raw::Gas io_gas(uint16_t port)
{
    // §5.2.3.2: 8-bit register, byte access (access size 1).
    return {raw::gas_system_io, 8, 0, 1, port};
}

bool s5_present(const AcpiPlatform& p) { return p.sleep_control_port && p.sleep_status_port; }
bool pci_present(const AcpiPlatform& p) { return p.ecam_base != 0; }

size_t madt_size(const AcpiPlatform& p)
{
    size_t n = sizeof(raw::Madt);
    uint32_t xapics = p.vcpus < x2apic_from ? p.vcpus : x2apic_from;
    n += xapics * sizeof(raw::MadtLocalApic) + (p.vcpus - xapics) * sizeof(raw::MadtLocalX2Apic);
    n += sizeof(raw::MadtIoApic);
    if (p.irq0_to_gsi2) n += sizeof(raw::MadtOverride);
    n += sizeof(raw::MadtLocalApicNmi);
    if (p.vcpus > x2apic_from) n += sizeof(raw::MadtLocalX2ApicNmi);
    return n;
}

// §5.2.12: processor UID = APIC ID = vCPU index.
void write_madt(uint8_t* t, const AcpiPlatform& p)
{
    size_t len = madt_size(p);
    header(t, "APIC", uint32_t(len), madt_revision, p);
    raw::Madt m;
    __builtin_memcpy(&m, t, sizeof m);
    m.local_apic_address = uint32_t(p.lapic_base);
    m.flags = 0;  // no PCAT_COMPAT: there are no 8259s to mask
    __builtin_memcpy(t, &m, sizeof m);
    size_t o = sizeof m;
    auto put = [&](const auto& e) {
        __builtin_memcpy(t + o, &e, sizeof e);
        o += sizeof e;
    };
    for (uint32_t i = 0; i < p.vcpus; ++i) {
        if (i < x2apic_from) {
            put(raw::MadtLocalApic{{raw::madt_local_apic, sizeof(raw::MadtLocalApic)}, uint8_t(i), uint8_t(i),
                                   raw::lapic_enabled});
        } else {
            put(raw::MadtLocalX2Apic{{raw::madt_local_x2apic, sizeof(raw::MadtLocalX2Apic)}, 0, i,
                                     raw::lapic_enabled, i});
        }
    }
    put(raw::MadtIoApic{{raw::madt_io_apic, sizeof(raw::MadtIoApic)}, p.ioapic_id, 0, uint32_t(p.ioapic_base),
                        p.ioapic_gsi_base});
    // Flags 0: polarity and trigger conform to the bus (ISA: edge, high).
    if (p.irq0_to_gsi2) put(raw::MadtOverride{{raw::madt_interrupt_override, sizeof(raw::MadtOverride)}, 0, 0, 2, 0});
    put(raw::MadtLocalApicNmi{{raw::madt_local_apic_nmi, sizeof(raw::MadtLocalApicNmi)}, madt_nmi_all_uid, 0, lint1});
    // The x2APIC processors' NMI line: Local APIC NMI structures name 8-bit
    // UIDs only.
    if (p.vcpus > x2apic_from)
        put(raw::MadtLocalX2ApicNmi{{raw::madt_local_x2apic_nmi, sizeof(raw::MadtLocalX2ApicNmi)}, 0,
                                    madt_x2nmi_all_uid, lint1, {}});
    seal(t);
}

void write_fadt(uint8_t* t, const AcpiPlatform& p, uint64_t dsdt_gpa)
{
    raw::Fadt f = {};
    f.dsdt = uint32_t(dsdt_gpa);
    f.x_dsdt = dsdt_gpa;
    f.sci_int = sci_irq;
    f.iapc_boot_arch = boot_vga_not_present | boot_cmos_rtc_not_present;
    // §4.1: a hardware-reduced platform has none of the fixed hardware: the
    // PM1/PM2/GPE blocks, the PM timer and FIRMWARE_CTRL stay 0. Linux then
    // sets up no 8259 and no PIT (acpi_reduced_hw_init).
    f.flags = raw::fadt_hw_reduced_acpi | fadt_pwr_button | fadt_slp_button;
    if (p.reset_port) {
        f.flags |= fadt_reset_reg_sup;
        f.reset_reg = io_gas(p.reset_port);
        f.reset_value = p.reset_value;
    }
    f.minor_version = fadt_minor;
    if (s5_present(p)) {
        f.sleep_control_reg = io_gas(p.sleep_control_port);
        f.sleep_status_reg = io_gas(p.sleep_status_port);
    }
    __builtin_memcpy(&f.hypervisor_vendor_id, "HVHV\0\0\0\0", 8);
    __builtin_memcpy(t, &f, sizeof f);
    header(t, "FACP", sizeof f, fadt_revision, p);
    seal(t);
}

void write_mcfg(uint8_t* t, const AcpiPlatform& p)
{
    constexpr size_t len = sizeof(raw::Mcfg) + sizeof(raw::McfgAllocation);
    header(t, "MCFG", len, mcfg_revision, p);
    raw::McfgAllocation a = {p.ecam_base, p.pci_segment, p.bus_start, p.bus_end, 0};
    __builtin_memcpy(t + sizeof(raw::Mcfg), &a, sizeof a);
    seal(t);
}

// A 4-character name for vCPU i's processor device: C000-CFFF.
void cpu_name(char (&n)[5], uint32_t i)
{
    constexpr char hex[] = "0123456789ABCDEF";
    n[0] = 'C';
    n[1] = hex[(i >> 8) & 0xf];
    n[2] = hex[(i >> 4) & 0xf];
    n[3] = hex[i & 0xf];
    n[4] = 0;
}

// A memory range as a DWord descriptor when it lies below 4 GiB, else QWord.
void memory_range(aml::Emitter& e, uint64_t base, uint64_t size, bool producer)
{
    uint64_t last = base + size - 1;
    if (last < four_gib) e.dword_memory(uint32_t(base), uint32_t(last), aml::Cache::non_cacheable, producer);
    else e.qword_memory(base, last, aml::Cache::non_cacheable, producer);
}

// A 4-character name for PCI slot s's device: S00-S1F.
void slot_name(char (&n)[5], unsigned s)
{
    constexpr char hex[] = "0123456789ABCDEF";
    n[0] = 'S';
    n[1] = hex[(s >> 4) & 0xf];
    n[2] = hex[s & 0xf];
    n[3] = 0;
}

// Inside \_SB.PCI0: the hotplug registers, a device per hotpluggable slot
// and PCNT, which the GED's _EVT runs (see AcpiPlatform::hotplug_slots).
void hotplug_body(aml::Emitter& e, const AcpiPlatform& p)
{
    e.operation_region_io("PHPR", p.hotplug_port, 12);
    // §20.2.5.2 FieldFlags: DWordAcc (3), NoLock, WriteAsZeros (bits 6:5 = 2).
    auto field = e.begin_field("PHPR", 0x03 | (2u << 5));
    e.field_unit("PCIU", 32);
    e.field_unit("PCID", 32);
    e.field_unit("PCEJ", 32);
    e.end(field);
    for (unsigned s = 1; s < 32; ++s) {
        if (!(p.hotplug_slots >> s & 1)) continue;
        char n[5];
        slot_name(n, s);
        auto dev = e.begin_device(n);
        e.name_integer("_ADR", uint64_t(s) << 16);  // §6.1.1: device in the high word, function 0
        e.name_integer("_SUN", s);                 // §6.1.12: the slot's user-visible number
        // §6.3.3 _EJ0: the guest has let the device go; tell the platform.
        auto ej = e.begin_method("_EJ0", 1);
        e.store();
        e.integer(1u << s);
        e.reference("\\_SB.PCI0.PCEJ");
        e.end(ej);
        e.end(dev);
    }
    auto pcnt = e.begin_method("PCNT", 0);
    e.store();
    e.reference("PCIU");
    e.local(0);
    e.store();
    e.reference("PCID");
    e.local(1);
    // §5.6.6: 1 device check (something may be there now), 3 eject request.
    for (unsigned pass = 0; pass < 2; ++pass)
        for (unsigned s = 1; s < 32; ++s) {
            if (!(p.hotplug_slots >> s & 1)) continue;
            char n[5];
            slot_name(n, s);
            auto when = e.begin_if();
            e.and_op();
            e.local(uint8_t(pass));
            e.integer(1u << s);
            e.null_target();
            e.notify(n, pass == 0 ? 1 : 3);
            e.end(when);
        }
    e.end(pcnt);
}

// The DSDT's AML after its header.
void dsdt_body(aml::Emitter& e, const AcpiPlatform& p)
{
    if (s5_present(p)) {
        // §7.4.2 \_Sx: {SLP_TYPa, SLP_TYPb}; on a hardware-reduced platform
        // SLP_TYPa goes to the sleep control register.
        e.name("\\_S5");
        auto pkg = e.begin_package(2);
        e.integer(5);
        e.integer(5);
        e.end(pkg);
    }
    auto sb = e.begin_scope("\\_SB");
    // §8.4 processor devices; §6.1.12 _UID ties each to its MADT entry.
    for (uint32_t i = 0; i < p.vcpus; ++i) {
        char n[5];
        cpu_name(n, i);
        auto cpu = e.begin_device(n);
        e.name_string_value("_HID", "ACPI0007");
        e.name_integer("_UID", i);
        e.end(cpu);
    }
    if (pci_present(p)) {
        // §6.1.5 _HID / §6.1.2 _CID: a PCI Express host bridge that is also
        // a PCI one; §6.5.6 _SEG and §6.5.5 _BBN: its segment and first bus.
        auto pci = e.begin_device("PCI0");
        e.name_eisaid("_HID", "PNP0A08");
        e.name_eisaid("_CID", "PNP0A03");
        e.name_integer("_ADR", 0);
        e.name_integer("_UID", 0);
        e.name_integer("_SEG", p.pci_segment);
        e.name_integer("_BBN", p.bus_start);
        // §6.2.2 _CRS: what the bridge decodes for its children.
        e.name("_CRS");
        auto crs = e.begin_resource_template();
        e.word_bus_number(p.bus_start, p.bus_end);
        // The configuration mechanism #1 ports the bridge consumes itself,
        // and the I/O space either side of them it forwards.
        e.io(0xcf8, 0xcf8, 1, 8);
        e.word_io(0x0000, 0x0cf7);
        e.word_io(0x0d00, 0xffff);
        if (p.mmio32_size) memory_range(e, p.mmio32_base, p.mmio32_size, true);
        if (p.mmio64_size) memory_range(e, p.mmio64_base, p.mmio64_size, true);
        e.end(crs);
        if (p.intx_gsi_count) {
            // §6.2.13: Package {Address (slot << 16 | 0xFFFF: any function),
            // Pin, Source (0: the last field is a GSI), Source Index}.
            e.name("_PRT");
            auto prt = e.begin_package(32 * 4);
            for (unsigned s = 0; s < 32; ++s)
                for (unsigned pin = 0; pin < 4; ++pin) {
                    auto entry = e.begin_package(4);
                    e.integer(uint64_t(s) << 16 | 0xffff);
                    e.integer(pin);
                    e.integer(0);
                    e.integer(p.intx_gsi_base + (s + pin) % p.intx_gsi_count);
                    e.end(entry);
                }
            e.end(prt);
        }
        if (p.hotplug_slots) hotplug_body(e, p);
        e.end(pci);

        // The ECAM window as a motherboard resource (PNP0C02): Linux uses
        // the MCFG only if its window is reserved here or in the E820 map.
        auto res = e.begin_device("MRES");
        e.name_eisaid("_HID", "PNP0C02");
        e.name_integer("_UID", 0);
        e.name("_CRS");
        auto rcrs = e.begin_resource_template();
        uint64_t buses = uint64_t(p.bus_end) - p.bus_start + 1;
        memory_range(e, p.ecam_base + uint64_t(p.bus_start) * mib, buses * mib, false);
        e.end(rcrs);
        e.end(res);
    }
    if (p.com1) {
        // A 16550 at the PC's COM1 resources: 8 ports at 0x3F8, ISA IRQ 4.
        auto com = e.begin_device("COM1");
        e.name_eisaid("_HID", "PNP0501");
        e.name_integer("_UID", 1);
        e.name("_CRS");
        auto crs = e.begin_resource_template();
        e.io(0x3f8, 0x3f8, 1, 8);
        e.irq_noflags(1u << 4);
        e.end(crs);
        e.end(com);
    }
    if (p.power_button_gsi) {
        auto btn = e.begin_device("PWRB");
        e.name_eisaid("_HID", "PNP0C0C");
        e.name_integer("_UID", 0);
        e.end(btn);
    }
    if (p.power_button_gsi || p.hotplug_slots) {
        // §5.6.9.2: the GED calls _EVT with the interrupt's GSI. Linux
        // takes the first GSI of each Interrupt descriptor: one each.
        auto ged = e.begin_device("GED0");
        e.name_string_value("_HID", "ACPI0013");
        e.name_integer("_UID", 0);
        e.name("_CRS");
        auto crs = e.begin_resource_template();
        const uint32_t gsis[2] = {p.power_button_gsi, p.hotplug_slots ? p.hotplug_gsi : 0};
        for (uint32_t gsi : gsis)
            if (gsi) e.interrupt(aml::Trigger::edge, aml::Polarity::active_high, false, &gsi, 1);
        e.end(crs);
        auto evt = e.begin_method("_EVT", 1);
        if (p.power_button_gsi) {
            auto when = e.begin_if();
            e.lequal();
            e.arg(0);
            e.integer(p.power_button_gsi);
            e.notify("\\_SB.PWRB", 0x80);  // §5.6.6: 0x80, the button was pressed
            e.end(when);
        }
        if (p.hotplug_slots) {
            auto when = e.begin_if();
            e.lequal();
            e.arg(0);
            e.integer(p.hotplug_gsi);
            e.reference("\\_SB.PCI0.PCNT");
            e.end(when);
        }
        e.end(evt);
        e.end(ged);
    }
    e.end(sb);
}

const char* check_platform(const AcpiPlatform& p, lib::Error& e)
{
    e = lib::Error::invalid;
    if (p.vcpus == 0) return "a domain needs at least one vCPU";
    if (p.vcpus > acpi_max_vcpus) {
        e = lib::Error::out_of_range;
        return "more vCPUs than the ACPI tables can describe (1024)";
    }
    if (p.lapic_base == 0 || p.lapic_base >= four_gib || p.lapic_base % 4096)
        return "the local APIC base must be page-aligned and below 4 GiB";
    if (p.ioapic_base == 0 || p.ioapic_base >= four_gib || p.ioapic_base % 1024)
        return "the I/O APIC base must be 1 KiB-aligned and below 4 GiB";
    if (p.intx_gsi_count) {
        if (!pci_present(p)) return "PCI interrupt routing without an ECAM window";
        if (p.intx_gsi_base < p.ioapic_gsi_base || p.intx_gsi_count > 24 ||
            p.intx_gsi_base - p.ioapic_gsi_base > 24 - p.intx_gsi_count)
            return "the PCI interrupt GSIs must be pins of the I/O APIC";
        auto routed = [&](uint32_t gsi) { return gsi >= p.intx_gsi_base && gsi - p.intx_gsi_base < p.intx_gsi_count; };
        if ((p.power_button_gsi && routed(p.power_button_gsi)) || (p.hotplug_slots && routed(p.hotplug_gsi)))
            return "the PCI interrupt GSIs must not include the power button's or the hotplug interrupt";
    }
    if (p.power_button_gsi && (p.power_button_gsi < p.ioapic_gsi_base || p.power_button_gsi - p.ioapic_gsi_base >= 24))
        return "the power button's GSI must be one of the I/O APIC's 24 pins";
    if (p.hotplug_slots) {
        if (!pci_present(p)) return "PCI hotplug slots without an ECAM window";
        if (p.hotplug_slots & 1) return "slot 0 is the host bridge: it cannot be a hotplug slot";
        if (p.hotplug_port == 0 || p.hotplug_port > 0xffff - 11) return "the PCI hotplug registers need 12 I/O ports";
        if (p.hotplug_gsi < p.ioapic_gsi_base || p.hotplug_gsi - p.ioapic_gsi_base >= 24)
            return "the PCI hotplug GSI must be one of the I/O APIC's 24 pins";
        if (p.power_button_gsi && p.hotplug_gsi == p.power_button_gsi)
            return "the PCI hotplug GSI must differ from the power button's";
    }
    if ((p.sleep_control_port == 0) != (p.sleep_status_port == 0))
        return "the sleep control and status ports come together (both set or both 0)";
    if (!pci_present(p)) {
        if (p.mmio32_size || p.mmio64_size) return "PCI memory windows without an ECAM window";
        return nullptr;
    }
    if (p.ecam_base % mib) return "the ECAM base must be 1 MiB-aligned";
    if (p.bus_end < p.bus_start) return "the PCI bus range ends before it starts";
    uint64_t ecam_end = p.ecam_base + (uint64_t(p.bus_end) + 1) * mib;
    if (ecam_end < p.ecam_base) return "the ECAM window wraps around";
    if (p.mmio32_size && (p.mmio32_base + p.mmio32_size < p.mmio32_base || p.mmio32_base + p.mmio32_size > four_gib))
        return "the 32-bit PCI memory window must end at or below 4 GiB";
    if (p.mmio64_size && p.mmio64_base + p.mmio64_size < p.mmio64_base) return "the 64-bit PCI memory window wraps";
    return nullptr;
}

// The tables are composed here, then written with one GuestMemory write.
alignas(16) uint8_t scratch[acpi_max_bytes];

}  // namespace

lib::Result<AcpiLayout> build_acpi(const AcpiPlatform& p, GuestMemory& mem, uint64_t base_gpa, uint64_t limit_bytes,
                                   const char** why)
{
    // §5.2.5.1: OSPM finds the RSDP on a 16-byte boundary.
    if (base_gpa % 16) return lib::err(failed(why, "the RSDP's address must be 16-byte aligned", lib::Error::invalid));
    lib::Error perr;
    if (const char* text = check_platform(p, perr)) return lib::err(failed(why, text, perr));
    uint64_t ram = mem.size();
    if (base_gpa >= ram || limit_bytes > ram - base_gpa)
        return lib::err(failed(why, "the ACPI area lies outside the domain's RAM", lib::Error::out_of_range));
    // The FADT's 32-bit DSDT field (set for guests that read only it)
    // needs the tables below 4 GiB.
    if (base_gpa >= four_gib || limit_bytes > four_gib - base_gpa)
        return lib::err(failed(why, "the ACPI area must lie below 4 GiB", lib::Error::out_of_range));

    // Offsets from base_gpa.
    AcpiLayout l = {};
    size_t xsdt_entries = pci_present(p) ? 3 : 2;
    size_t xsdt = align16(sizeof(raw::Rsdp));
    size_t fadt = align16(xsdt + sizeof(raw::SdtHeader) + 8 * xsdt_entries);
    size_t madt = align16(fadt + sizeof(raw::Fadt));
    size_t mcfg = align16(madt + madt_size(p));
    size_t dsdt = pci_present(p) ? align16(mcfg + sizeof(raw::Mcfg) + sizeof(raw::McfgAllocation)) : mcfg;
    if (dsdt + sizeof(raw::SdtHeader) > acpi_max_bytes)
        return lib::err(failed(why, "the ACPI tables outgrow the builder's buffer", lib::Error::out_of_range));

    __builtin_memset(scratch, 0, sizeof scratch);
    aml::Emitter e(scratch + dsdt + sizeof(raw::SdtHeader), acpi_max_bytes - dsdt - sizeof(raw::SdtHeader));
    dsdt_body(e, p);
    if (auto st = e.status(); !st) {
        if (st.error() == lib::Error::out_of_range)
            return lib::err(failed(why, "the ACPI tables outgrow the builder's buffer", lib::Error::out_of_range));
        return lib::err(failed(why, "the DSDT could not be encoded", st.error()));
    }
    size_t dsdt_len = sizeof(raw::SdtHeader) + e.size();
    size_t total = dsdt + dsdt_len;
    if (total > limit_bytes)
        return lib::err(failed(why, "the ACPI tables do not fit in the space given to them", lib::Error::out_of_range));

    l.rsdp_gpa = base_gpa;
    l.xsdt_gpa = base_gpa + xsdt;
    l.fadt_gpa = base_gpa + fadt;
    l.madt_gpa = base_gpa + madt;
    l.mcfg_gpa = pci_present(p) ? base_gpa + mcfg : 0;
    l.dsdt_gpa = base_gpa + dsdt;
    l.bytes = total;

    // RSDP (§5.2.5.3): checksum over the ACPI 1.0 part, extended checksum
    // over all 36 bytes.
    raw::Rsdp r = {};
    __builtin_memcpy(r.signature, "RSD PTR ", 8);
    fill_id(r.oem_id, sizeof r.oem_id, p.oem_id);
    r.revision = 2;
    r.length = sizeof r;
    r.xsdt_address = l.xsdt_gpa;
    __builtin_memcpy(scratch, &r, sizeof r);
    checksum(scratch, raw::rsdp_v1_size, offsetof(raw::Rsdp, checksum));
    checksum(scratch, sizeof r, offsetof(raw::Rsdp, extended_checksum));

    // XSDT (§5.2.8): 64-bit addresses of every table but the DSDT, which
    // the FADT names.
    uint8_t* x = scratch + xsdt;
    header(x, "XSDT", uint32_t(sizeof(raw::SdtHeader) + 8 * xsdt_entries), xsdt_revision, p);
    const uint64_t entries[3] = {l.fadt_gpa, l.madt_gpa, l.mcfg_gpa};
    __builtin_memcpy(x + sizeof(raw::SdtHeader), entries, 8 * xsdt_entries);
    seal(x);

    write_fadt(scratch + fadt, p, l.dsdt_gpa);
    write_madt(scratch + madt, p);
    if (pci_present(p)) write_mcfg(scratch + mcfg, p);
    header(scratch + dsdt, "DSDT", uint32_t(dsdt_len), dsdt_revision, p);
    seal(scratch + dsdt);

    if (auto st = mem.write(base_gpa, scratch, total); !st)
        return lib::err(failed(why, "cannot write the ACPI tables to the domain's RAM", st.error()));
    return l;
}

}  // namespace vmm::builder
