// PCI Express memory-mapped configuration space (PCI Firmware Specification
// 3.2 §4.1.2, table "MCFG"): one ECAM window per segment and bus range.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {

bool parse_mcfg(const Table& t, Info& out)
{
    if (t.length < sizeof(raw::Mcfg)) {
        LOG_WARN("acpi: MCFG at %#lx: length %u too short, ignored", t.phys, t.length);
        return false;
    }
    size_t payload = t.length - sizeof(raw::Mcfg);
    if (payload % sizeof(raw::McfgAllocation))
        LOG_WARN("acpi: MCFG at %#lx: %zu trailing bytes ignored", t.phys, payload % sizeof(raw::McfgAllocation));
    size_t n = payload / sizeof(raw::McfgAllocation);
    for (size_t i = 0; i < n; ++i) {
        auto a = lib::load<raw::McfgAllocation>(t.data + sizeof(raw::Mcfg) + i * sizeof(raw::McfgAllocation));
        if (a.end_bus < a.start_bus || a.base_address == 0 || a.base_address % 4096) {
            LOG_WARN("acpi: MCFG at %#lx: allocation %zu (base %#lx, buses %u-%u) invalid, skipped", t.phys, i,
                     a.base_address, a.start_bus, a.end_bus);
            continue;
        }
        if (out.mcfg_count == max_mcfg) {
            LOG_WARN("acpi: MCFG at %#lx: more than %zu allocations, ignoring the rest", t.phys, max_mcfg);
            break;
        }
        out.mcfg[out.mcfg_count++] = {a.base_address, a.segment, a.start_bus, a.end_bus};
    }
    return true;
}

}  // namespace hv::acpi::detail
