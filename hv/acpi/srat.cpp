// System Resource Affinity Table (ACPI 6.5 §5.2.16): which proximity domain
// (NUMA node) each CPU and memory range belongs to. Node numbers are the raw
// proximity domains.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {
namespace {

struct SratParser {
    const Table& t;
    Info& out;
    bool cpus_full_warned = false;
    bool mem_full_warned = false;

    void add_cpu(uint32_t apic_id, uint32_t node)
    {
        if (out.srat_cpu_count == max_srat_cpus) {
            if (!cpus_full_warned) LOG_WARN("acpi: SRAT at %#lx: more than %zu CPUs, ignoring the rest", t.phys, max_srat_cpus);
            cpus_full_warned = true;
            return;
        }
        out.srat_cpus[out.srat_cpu_count++] = {apic_id, node};
    }

    bool entry(uint32_t type, const uint8_t* e, uint32_t len)
    {
        switch (type) {
        case raw::srat_cpu: {  // §5.2.16.1
            if (!entry_fits(t, type, len, sizeof(raw::SratCpu))) return false;
            auto c = lib::load<raw::SratCpu>(e);
            if (!(c.flags & raw::srat_enabled)) return true;
            uint32_t node = c.proximity_lo;
            // Bits 31:8 were reserved before SRAT revision 2 (ACPI 3.0).
            if (t.revision >= 2)
                node |= uint32_t(c.proximity_hi[0]) << 8 | uint32_t(c.proximity_hi[1]) << 16 |
                        uint32_t(c.proximity_hi[2]) << 24;
            add_cpu(c.apic_id, node);
            return true;
        }
        case raw::srat_x2apic: {  // §5.2.16.3
            if (!entry_fits(t, type, len, sizeof(raw::SratX2Apic))) return false;
            auto c = lib::load<raw::SratX2Apic>(e);
            if (c.flags & raw::srat_enabled) add_cpu(c.x2apic_id, c.proximity_domain);
            return true;
        }
        case raw::srat_memory: {  // §5.2.16.2
            if (!entry_fits(t, type, len, sizeof(raw::SratMemory))) return false;
            auto m = lib::load<raw::SratMemory>(e);
            if (!(m.flags & raw::srat_enabled) || m.length == 0) return true;
            if (m.length > UINT64_MAX - m.base) {
                LOG_WARN("acpi: SRAT at %#lx: memory range %#lx+%#lx wraps, skipped", t.phys, m.base, m.length);
                return true;
            }
            uint32_t node = t.revision >= 2 ? m.proximity_domain : m.proximity_domain & 0xff;
            if (out.srat_mem_count == max_srat_mem) {
                if (!mem_full_warned)
                    LOG_WARN("acpi: SRAT at %#lx: more than %zu memory ranges, ignoring the rest", t.phys, max_srat_mem);
                mem_full_warned = true;
                return true;
            }
            out.srat_mem[out.srat_mem_count++] = {m.base, m.length, node, bool(m.flags & raw::srat_mem_hotplug),
                                                  bool(m.flags & raw::srat_mem_nonvolatile)};
            return true;
        }
        default:  // GICC, GIC ITS, generic initiator/port affinity: not for us
            return true;
        }
    }
};

}  // namespace

bool parse_srat(const Table& t, Info& out)
{
    if (t.length < sizeof(raw::Srat)) {
        LOG_WARN("acpi: SRAT at %#lx: length %u too short, ignored", t.phys, t.length);
        return false;
    }
    SratParser p{t, out};
    walk_entries(t, sizeof(raw::Srat), EntryFormat::u8_type_u8_length,
                 [&p](uint32_t type, const uint8_t* e, uint32_t len) { return p.entry(type, e, len); });
    return true;
}

}  // namespace hv::acpi::detail
