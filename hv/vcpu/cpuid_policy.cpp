#include "hv/vcpu/cpuid_policy.hpp"

namespace hv {
namespace {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// Leaf 1 ECX (SDM Vol. 2A Table 3-10): hidden because hv does not offer them:
// MONITOR(3), DS-CPL(4), VMX(5), SMX(6), EIST(7), TM2(8), SDBG(11), xTPR(14),
// PDCM(15), DCA(18), x2APIC(21, with the vLAPIC), TSC-deadline(24, with the
// vLAPIC), XSAVE(26)/OSXSAVE(27)/AVX(28)/F16C(29) (no XSAVE state switching
// yet). Hypervisor present (31) is set.
constexpr uint32_t leaf1_ecx_hidden = bit(3) | bit(4) | bit(5) | bit(6) | bit(7) | bit(8) | bit(11) | bit(14) |
                                      bit(15) | bit(18) | bit(21) | bit(24) | bit(26) | bit(27) | bit(28) | bit(29);
// Leaf 1 EDX (Table 3-11): MTRR(12, no MTRR emulation), DS(21), ACPI thermal(22),
// TM(29), PBE(31); APIC(9) follows the policy.
constexpr uint32_t leaf1_edx_hidden = bit(12) | bit(21) | bit(22) | bit(29) | bit(31);
// Leaf 7.0 EBX: kept only what needs no hypervisor state: FSGSBASE(0), BMI1(3),
// SMEP(7), BMI2(8), ERMS(9), ADX(19), SMAP(20), CLFLUSHOPT(23), SHA(29).
constexpr uint32_t leaf7_ebx_kept = bit(0) | bit(3) | bit(7) | bit(8) | bit(9) | bit(19) | bit(20) | bit(23) | bit(29);
// 8000_0001h ECX (APM Vol. 3 E.4.2): SVM(2), ExtApicSpace(3), SKINIT(12),
// WDT(13), TopologyExt(22), PerfCtrExtCore(23), PerfCtrExtNB(24),
// DataBreakpointExt(26), PerfTsc(27), PerfCtrExtLLC(28), MONITORX(29) hidden.
constexpr uint32_t ext1_ecx_hidden =
    bit(2) | bit(3) | bit(12) | bit(13) | bit(22) | bit(23) | bit(24) | bit(26) | bit(27) | bit(28) | bit(29);
// 8000_0001h EDX: RDTSCP(27) hidden: it returns IA32_TSC_AUX, which hv does
// not switch between host and guest.
constexpr uint32_t ext1_edx_hidden = bit(27);

uint32_t max_basic(HostCpuid host) { return host(0, 0).eax < 0xd ? host(0, 0).eax : 0xd; }
uint32_t max_ext(HostCpuid host)
{
    uint32_t m = host(0x80000000, 0).eax;
    return m < 0x80000008 ? m : 0x80000008;
}

}  // namespace

CpuidRegs guest_cpuid(const CpuidPolicy& p, HostCpuid host, uint32_t vcpu_id, uint32_t leaf, uint32_t sub)
{
    CpuidRegs zero{0, 0, 0, 0};
    if (leaf >= hv_leaf_base && leaf < 0x40010000) {
        if (leaf == hv_leaf_base) {
            CpuidRegs r{hv_leaf_timing, 0, 0, 0};
            auto word = [](const char* s) {
                return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
                       uint32_t(uint8_t(s[3])) << 24;
            };
            r.ebx = word(hv_signature);
            r.ecx = word(hv_signature + 4);
            r.edx = word(hv_signature + 8);
            return r;
        }
        if (leaf == hv_leaf_timing) return {uint32_t(p.tsc_khz), uint32_t(p.apic_bus_khz), 0, 0};
        if (p.kvm_leaves && leaf == kvm_leaf_base) return {kvm_leaf_features, 0x4b4d564b, 0x564b4d56, 0x0000004d};
        if (p.kvm_leaves && leaf == kvm_leaf_features)
            return {kvm_feature::nop_io_delay | kvm_feature::clocksource2 | kvm_feature::clocksource_stable, 0, 0, 0};
        return zero;
    }
    if (leaf >= 0x80000000) {
        if (leaf > max_ext(host)) return zero;
        CpuidRegs r = host(leaf, sub);
        switch (leaf) {
        case 0x80000000: r.eax = max_ext(host); return r;
        case 0x80000001:
            r.ecx &= ~ext1_ecx_hidden;
            r.edx &= ~ext1_edx_hidden;
            return r;
        case 0x80000002:
        case 0x80000003:
        case 0x80000004: return r;  // brand string
        // Invariant TSC, whatever the host says: the guest TSC is the host's
        // plus an offset, and hv keeps its own time by the TSC, so it already
        // requires one that runs at a constant rate.
        case 0x80000007: return {0, 0, 0, bit(8)};
        case 0x80000008: return {r.eax, 0, 0, 0};           // address sizes; no core topology
        default: return zero;
        }
    }
    if (leaf > max_basic(host)) return zero;
    CpuidRegs r = host(leaf, sub);
    switch (leaf) {
    case 0: r.eax = max_basic(host); return r;
    case 1: {
        r.ecx = (r.ecx & ~leaf1_ecx_hidden) | bit(31);
        r.edx &= ~leaf1_edx_hidden;
        // The vLAPIC is virtual: x2APIC and TSC-deadline are offered whatever
        // the host has.
        if (p.local_apic) {
            r.edx |= bit(9);
            r.ecx |= bit(21) | bit(24);
        } else {
            r.edx &= ~bit(9);
        }
        // EBX: initial APIC ID, logical processor count (with HTT), CLFLUSH size kept.
        r.ebx = (r.ebx & 0xffff) | (vcpu_id & 0xff) << 24;
        if (p.vcpu_count > 1) {
            r.ebx |= (p.vcpu_count & 0xff) << 16;
            r.edx |= bit(28);
        } else {
            r.edx &= ~bit(28);
        }
        return r;
    }
    case 2: return r;  // cache descriptors
    case 4:
        // Deterministic cache parameters: keep the cache, drop the host's
        // core/thread sharing counts (EAX 31:14).
        r.eax &= 0x3fff;
        return r;
    case 7:
        if (sub != 0) return zero;
        return {0, r.ebx & leaf7_ebx_kept, 0, 0};
    // Thermal and power: only ARAT, the LAPIC timer runs in every C-state
    // (the virtual one does not stop at all), so Linux needs no broadcast timer.
    case 6: return {bit(2), 0, 0, 0};
    default: return zero;  // 3, 5, 8-0xd: monitor, PMU, topology, XSAVE: not offered
    }
}

}  // namespace hv
