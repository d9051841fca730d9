// Multiple APIC Description Table (ACPI 6.5 §5.2.12): local APICs and
// x2APICs, I/O APICs, interrupt source overrides and local APIC NMI lines.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {
namespace {

struct MadtParser {
    const Table& t;
    Info& out;
    bool cpus_full_warned = false;

    void add_cpu(uint32_t apic_id, uint32_t uid, uint32_t flags)
    {
        bool enabled = flags & raw::lapic_enabled;
        bool online_capable = flags & raw::lapic_online_capable;
        if (!enabled && !online_capable) return;  // §5.2.12.2: unusable, to be ignored
        for (size_t i = 0; i < out.cpu_count; ++i) {
            if (out.cpus[i].apic_id == apic_id) {
                LOG_WARN("acpi: APIC at %#lx: duplicate APIC ID %u (UID %u) dropped", t.phys, apic_id, uid);
                return;
            }
        }
        if (out.cpu_count == max_cpus) {
            if (!cpus_full_warned) LOG_WARN("acpi: more than %zu CPUs, APIC ID %u and later ignored", max_cpus, apic_id);
            cpus_full_warned = true;
            return;
        }
        out.cpus[out.cpu_count++] = {apic_id, uid, enabled, online_capable && !enabled};
    }

    template <typename T> bool add(T* array, size_t& count, size_t cap, const T& v, const char* what)
    {
        if (count == cap) {
            LOG_WARN("acpi: APIC at %#lx: more than %zu %s, ignored", t.phys, cap, what);
            return true;
        }
        array[count++] = v;
        return true;
    }

    bool entry(uint32_t type, const uint8_t* e, uint32_t len)
    {
        switch (type) {
        case raw::madt_local_apic: {  // §5.2.12.2
            if (!entry_fits(t, type, len, sizeof(raw::MadtLocalApic))) return false;
            auto a = lib::load<raw::MadtLocalApic>(e);
            if (a.apic_id == 0xff) return true;  // not a valid xAPIC ID: such CPUs are listed as x2APICs
            add_cpu(a.apic_id, a.processor_uid, a.flags);
            return true;
        }
        case raw::madt_local_x2apic: {  // §5.2.12.12
            if (!entry_fits(t, type, len, sizeof(raw::MadtLocalX2Apic))) return false;
            auto a = lib::load<raw::MadtLocalX2Apic>(e);
            if (a.x2apic_id == 0xffffffffu) return true;
            add_cpu(a.x2apic_id, a.processor_uid, a.flags);
            return true;
        }
        case raw::madt_io_apic: {  // §5.2.12.3
            if (!entry_fits(t, type, len, sizeof(raw::MadtIoApic))) return false;
            auto a = lib::load<raw::MadtIoApic>(e);
            return add(out.ioapics, out.ioapic_count, max_ioapics, IoApic{a.io_apic_id, a.address, a.gsi_base},
                       "I/O APICs");
        }
        case raw::madt_interrupt_override: {  // §5.2.12.5
            if (!entry_fits(t, type, len, sizeof(raw::MadtOverride))) return false;
            auto o = lib::load<raw::MadtOverride>(e);
            return add(out.overrides, out.override_count, max_overrides, IrqOverride{o.bus, o.source, o.gsi, o.flags},
                       "interrupt overrides");
        }
        case raw::madt_local_apic_nmi: {  // §5.2.12.7
            if (!entry_fits(t, type, len, sizeof(raw::MadtLocalApicNmi))) return false;
            auto n = lib::load<raw::MadtLocalApicNmi>(e);
            uint32_t uid = n.processor_uid == 0xff ? all_cpus_uid : n.processor_uid;
            return add(out.nmis, out.nmi_count, max_nmis, LapicNmi{uid, n.lint, n.flags}, "local APIC NMIs");
        }
        case raw::madt_local_x2apic_nmi: {  // §5.2.12.13
            if (!entry_fits(t, type, len, sizeof(raw::MadtLocalX2ApicNmi))) return false;
            auto n = lib::load<raw::MadtLocalX2ApicNmi>(e);
            return add(out.nmis, out.nmi_count, max_nmis, LapicNmi{n.processor_uid, n.lint, n.flags},
                       "local APIC NMIs");
        }
        case raw::madt_local_apic_override: {  // §5.2.12.8
            if (!entry_fits(t, type, len, sizeof(raw::MadtLocalApicOverride))) return false;
            out.lapic_address = lib::load<raw::MadtLocalApicOverride>(e).address;
            return true;
        }
        default:
            // Defined types we do not need (NMI source, SAPIC, GIC, wakeup...)
            // and the OEM range 0x80-0xff are skipped; the length is valid so
            // the walk can go on. Types in the reserved gap are reported.
            if (type > raw::madt_last_defined && type < 0x80)
                LOG_WARN("acpi: APIC at %#lx: unknown entry type %u skipped", t.phys, type);
            return true;
        }
    }
};

}  // namespace

bool parse_madt(const Table& t, Info& out)
{
    if (t.length < sizeof(raw::Madt)) {
        LOG_WARN("acpi: APIC at %#lx: length %u too short for the MADT, ignored", t.phys, t.length);
        return false;
    }
    auto m = lib::load<raw::Madt>(t.data);
    out.have_madt = true;
    out.lapic_address = m.local_apic_address;
    out.pcat_compat = m.flags & raw::madt_pcat_compat;
    MadtParser p{t, out};
    walk_entries(t, sizeof m, EntryFormat::u8_type_u8_length,
                 [&p](uint32_t type, const uint8_t* e, uint32_t len) { return p.entry(type, e, len); });
    return true;
}

}  // namespace hv::acpi::detail
