// IPI / interrupt destination matching (SDM 10.6.2 for xAPIC physical and
// logical flat/cluster addressing, 10.12.10 for x2APIC physical and cluster
// logical addressing).
#include "hv/vlapic/vlapic.hpp"

namespace hv::vlapic {

bool matches_destination(const Vlapic& t, const Destination& d)
{
    if (t.mode() == Mode::disabled) return false;
    // Broadcast: 0xff from an xAPIC sender, 0xffffffff from an x2APIC one,
    // in physical and logical mode alike (10.6.2.1, 10.12.10.2).
    if (d.id == (d.x2apic_format ? x2apic_broadcast : xapic_broadcast)) return true;
    if (!d.logical) return t.id() == d.id;  // 10.6.2.1: physical APIC ID

    if (t.mode() == Mode::x2apic) {
        // 10.12.10.2: cluster in bits 31:16 must be equal, and the 16-bit
        // member masks must overlap. A logical xAPIC-format destination has
        // no meaning for an x2APIC target.
        if (!d.x2apic_format) return false;
        uint32_t ldr = t.ldr();
        return (d.id >> 16) == (ldr >> 16) && (d.id & ldr & 0xffff) != 0;
    }
    // xAPIC target (10.6.2.2): 8-bit MDA against LDR[31:24] as DFR selects.
    if (d.id > 0xff) return false;
    uint32_t mda = d.id;
    uint32_t lid = t.ldr() >> 24;
    if ((t.dfr() >> 28) == 0xf) return (mda & lid) != 0;                // flat model
    return (mda >> 4) == (lid >> 4) && (mda & lid & 0xf) != 0;         // cluster model
}

bool is_ipi_target(const Vlapic& t, const Vlapic& sender, const Destination& d)
{
    switch (d.shorthand) {
    case Shorthand::none: return matches_destination(t, d);
    case Shorthand::self: return &t == &sender;
    case Shorthand::all_including_self: return t.mode() != Mode::disabled;
    case Shorthand::all_excluding_self: return &t != &sender && t.mode() != Mode::disabled;
    }
    return false;
}

}  // namespace hv::vlapic
