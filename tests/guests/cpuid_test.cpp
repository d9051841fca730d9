// CPUID policy as a guest sees it: the hypervisor bit and leaves, hidden
// virtualization and XSAVE features, its own APIC ID, and zeros for leaves
// beyond the advertised maxima.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

int guest_main(uint32_t)
{
    auto l1 = cpuid(1);
    check(l1.c & (1u << 31), "CPUID.1:ECX.hypervisor is set");
    check(!(l1.c & (1u << 5)), "CPUID.1:ECX.VMX is hidden");
    check(!(l1.c & (1u << 26)), "CPUID.1:ECX.XSAVE is hidden");
    check((l1.b >> 24) == 0, "initial APIC ID of vCPU 0 is 0");
    check(!(cpuid(0x80000001).c & (1u << 2)), "CPUID.80000001h:ECX.SVM is hidden");

    auto hv = cpuid(0x40000000);
    char sig[13];
    __builtin_memcpy(sig, &hv.b, 4);
    __builtin_memcpy(sig + 4, &hv.c, 4);
    __builtin_memcpy(sig + 8, &hv.d, 4);
    sig[12] = 0;
    print("hypervisor signature '%s', max leaf %#x\n", sig, hv.a);
    check(__builtin_memcmp(sig, "MicroHVx86  ", 12) == 0, "hypervisor signature");
    check(hv.a >= 0x40000010, "hypervisor leaf range includes the timing leaf");
    auto timing = cpuid(0x40000010);
    print("TSC %u kHz, APIC bus %u kHz\n", timing.a, timing.b);
    check(timing.a > 0, "TSC frequency advertised");

    uint32_t max = cpuid(0).a;
    check(max <= 0xd, "basic leaves clamped");
    auto beyond = cpuid(max + 1);
    check((beyond.a | beyond.b | beyond.c | beyond.d) == 0, "leaf beyond the maximum is zero");
    auto pmu = cpuid(0xa);
    check((pmu.a | pmu.b | pmu.c | pmu.d) == 0, "no PMU leaf");
    return verdict("cpuid_test");
}
