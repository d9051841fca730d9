// MSRs: emulated ones read and write as the architecture says, EFER hides
// SVME and refuses reserved bits, unknown MSRs raise #GP(0), PAT rejects
// undefined memory types, pass-through MSRs keep their values (FS base,
// the SYSCALL MSRs, KERNEL_GS_BASE through SWAPGS).
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
int wrmsr_fault(uint32_t m, uint64_t v)
{
    return GUEST_FAULT_OF("wrmsr", "c"(m), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)));
}
int rdmsr_fault(uint32_t m)
{
    uint32_t lo = 0, hi = 0;
    guest_last_vector = ~0ull;
    asm volatile("leaq 1f(%%rip), %%r11\n movq %%r11, guest_resume_rip(%%rip)\n rdmsr\n"
                 "1:\n movq $0, guest_resume_rip(%%rip)"
                 : "+a"(lo), "+d"(hi)
                 : "c"(m)
                 : "r11", "memory");
    return guest_last_vector == ~0ull ? -1 : int(guest_last_vector);
}
}  // namespace

int guest_main(uint32_t)
{
    uint64_t efer = rdmsr(0xc0000080);
    print("EFER %#lx\n", efer);
    check(efer & (1u << 8), "EFER.LME set by the runtime");
    check(efer & (1u << 10), "EFER.LMA set by hardware in long mode");
    check(!(efer & (1u << 12)), "EFER.SVME hidden");
    check(wrmsr_fault(0xc0000080, efer | (1ull << 20)) == 13, "reserved EFER bit -> #GP");
    check(wrmsr_fault(0xc0000080, efer & ~(1ull << 8)) == 13, "clearing LME with paging on -> #GP");
    check(rdmsr(0xc0000080) == efer, "EFER unchanged after refused writes");

    check(rdmsr_fault(0xdeadbeef) == 13, "unknown MSR read -> #GP");
    check(guest_last_error == 0, "#GP error code 0");
    check(wrmsr_fault(0x12345, 1) == 13, "unknown MSR write -> #GP");

    uint64_t apic = rdmsr(0x1b);
    check((apic & ~0xfffull) == 0xfee00000 && (apic & (1u << 8)), "APIC base default, BSP flag");
    check(wrmsr_fault(0x277, 0x0202020202020202ull) == 13, "PAT with reserved type 2 -> #GP");
    wrmsr(0x277, 0x0007010600070106ull);
    check(rdmsr(0x277) == 0x0007010600070106ull, "PAT write sticks");

    wrmsr(0xc0000100, 0x123456789000ull);  // FS base: pass-through
    check(rdmsr(0xc0000100) == 0x123456789000ull, "FS base round trip");

    // The SYSCALL MSRs and KERNEL_GS_BASE: the guest's own (Linux's entry
    // code relies on them; hv switches them in the VMCB or lazily on VMX).
    const struct {
        uint32_t msr;
        uint64_t value;
    } syscall_msrs[] = {{0xc0000081, 0x0023001000000000ull}, {0xc0000082, 0xffffffff81000040ull},
                        {0xc0000083, 0xffffffff81000080ull}, {0xc0000084, 0x47700ull},
                        {0xc0000102, 0xffff888000001000ull}};
    bool kept = true;
    for (const auto& m : syscall_msrs) {
        wrmsr(m.msr, m.value);
        kept &= rdmsr(m.msr) == m.value;
    }
    check(kept, "STAR, LSTAR, CSTAR, SFMASK and KERNEL_GS_BASE round trip");
    uint64_t gs = rdmsr(0xc0000101);
    asm volatile("swapgs" ::: "memory");
    uint64_t swapped = rdmsr(0xc0000101), kgs = rdmsr(0xc0000102);
    asm volatile("swapgs" ::: "memory");
    check(swapped == 0xffff888000001000ull && kgs == gs, "SWAPGS exchanges GS base and KERNEL_GS_BASE");

    uint64_t t0 = rdmsr(0x10);
    wrmsr(0x10, 1ull << 40);
    uint64_t t1 = rdmsr(0x10);
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t t2 = (uint64_t(hi) << 32) | lo;
    print("TSC %#lx -> wrote 2^40 -> %#lx, rdtsc %#lx\n", t0, t1, t2);
    check(t1 >= (1ull << 40) && t1 - (1ull << 40) < (1ull << 36), "TSC write moves the guest TSC");
    check(t2 >= t1, "RDTSC follows the written TSC (offset applied)");
    return verdict("msr_test");
}
