// Which MSRs a guest may read and write and what they hold, as a pure
// function of the vCPU's MSR-relevant state (host-tested). The exit handler
// loads an MsrState from the vCPU, calls msr_read/msr_write, and stores back
// what changed. The APIC MSRs (IA32_APIC_BASE, 0x800-0x8FF, TSC_DEADLINE)
// belong to the vLAPIC, not here. false means the access raises #GP(0), as on a CPU that lacks
// the MSR or refuses the value.
#pragma once

#include <cstdint>

namespace hv {

namespace msr_index {
inline constexpr uint32_t tsc = 0x10;
inline constexpr uint32_t platform_id = 0x17;
inline constexpr uint32_t apic_base = 0x1b;  // the vLAPIC's
inline constexpr uint32_t feature_control = 0x3a;
inline constexpr uint32_t bios_sign_id = 0x8b;
inline constexpr uint32_t mcg_cap = 0x179;
inline constexpr uint32_t mcg_status = 0x17a;
inline constexpr uint32_t misc_enable = 0x1a0;
inline constexpr uint32_t pat = 0x277;
inline constexpr uint32_t efer = 0xc0000080;
inline constexpr uint32_t tsc_aux = 0xc0000103;
inline constexpr uint32_t k8_int_pending_msg = 0xc0010055;  // AMD K8: C1E on interrupt-pending message
}  // namespace msr_index

struct MsrState {
    uint32_t vcpu_id;
    uint64_t host_tsc;     // host TSC now
    uint64_t tsc_offset;   // guest TSC = host TSC + offset
    uint64_t misc_enable;
    uint64_t efer;         // as the guest sees it
    uint64_t cr0;
    uint64_t pat;
};

bool msr_read(const MsrState& s, uint32_t index, uint64_t& value);
// May change tsc_offset, misc_enable, efer, pat.
bool msr_write(MsrState& s, uint32_t index, uint64_t value);

}  // namespace hv
