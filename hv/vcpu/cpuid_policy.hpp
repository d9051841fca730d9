// What CPUID returns to a guest: the host's answer filtered through a
// per-domain policy. Features the hypervisor does not virtualize (yet) are
// hidden, topology is the domain's, and the hypervisor leaves at 0x40000000
// carry a signature and the TSC frequency, so guests need no calibration.
// Portable: the host's CPUID comes in through a function pointer.
#pragma once

#include <cstdint>

namespace hv {

struct CpuidRegs {
    uint32_t eax, ebx, ecx, edx;
};

using HostCpuid = CpuidRegs (*)(uint32_t leaf, uint32_t subleaf);

struct CpuidPolicy {
    uint32_t vcpu_count = 1;
    uint64_t tsc_khz = 0;        // 0x40000010.EAX
    uint64_t apic_bus_khz = 0;   // 0x40000010.EBX
    bool local_apic = false;     // APIC, x2APIC and TSC-deadline advertised (the vLAPIC is there)
    bool kvm_leaves = true;      // the KVM-compatible leaves at 0x40000100 (kvm-clock)
};

inline constexpr uint32_t hv_leaf_base = 0x40000000;
inline constexpr uint32_t hv_leaf_timing = 0x40000010;
// "MicroHVx86  " in EBX, ECX, EDX.
inline constexpr char hv_signature[13] = "MicroHVx86  ";
// KVM's leaves, where Linux's KVM guest code looks for them (it scans every
// 0x100 from 0x40000000): "KVMKVMKVM\0\0\0" and the paravirtual features
// hv implements: kvm-clock (CLOCKSOURCE2 with the stable bit) and the no-op
// I/O delay (port 0x80 writes are pointless on a virtual machine).
inline constexpr uint32_t kvm_leaf_base = 0x40000100;
inline constexpr uint32_t kvm_leaf_features = 0x40000101;
namespace kvm_feature {
inline constexpr uint32_t nop_io_delay = 1u << 1;
inline constexpr uint32_t clocksource2 = 1u << 3;
inline constexpr uint32_t clocksource_stable = 1u << 24;
}  // namespace kvm_feature

CpuidRegs guest_cpuid(const CpuidPolicy& policy, HostCpuid host, uint32_t vcpu_id, uint32_t leaf, uint32_t subleaf);

}  // namespace hv
