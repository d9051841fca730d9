// HPET description table (IA-PC HPET Specification 1.0a §3.2.4): where the
// first timer block's registers are.
#include "hv/acpi/acpi_internal.hpp"

namespace hv::acpi::detail {

bool parse_hpet(const Table& t, Info& out)
{
    if (t.length < sizeof(raw::Hpet)) {
        LOG_WARN("acpi: HPET at %#lx: length %u too short, ignored", t.phys, t.length);
        return false;
    }
    auto h = lib::load<raw::Hpet>(t.data);
    if (h.base_address.space_id != raw::gas_system_memory || h.base_address.address == 0) {
        LOG_WARN("acpi: HPET at %#lx: base address (space %u, %#lx) not in memory, ignored", t.phys,
                 h.base_address.space_id, h.base_address.address);
        return false;
    }
    out.hpet_base = h.base_address.address;
    return true;
}

}  // namespace hv::acpi::detail
