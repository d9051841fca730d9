// The virtual local APIC in x2APIC mode: enabling it through IA32_APIC_BASE,
// its ID and version, self-IPI with EOI, the timer in one-shot, periodic and
// TSC-deadline modes waking HLT, and the MSRs that must #GP (RDMSR of the
// write-only EOI and self-IPI registers, an xAPIC-only register, going back
// from x2APIC to xAPIC directly).
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
constexpr uint32_t apic_base = 0x1b, id = 0x802, version = 0x803, svr = 0x80f, eoi = 0x80b,
                   lvt_timer = 0x832, initial = 0x838, current = 0x839, divide = 0x83e, self_ipi = 0x83f,
                   tsc_deadline = 0x6e0;
constexpr uint32_t vec = 0x41;

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
int wrmsr_fault(uint32_t m, uint64_t v)
{
    return GUEST_FAULT_OF("wrmsr", "c"(m), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)));
}

// HLT until `count` reaches `target` (bounded); returns the TSC ticks since t0.
// Times are taken before the timer is programmed, so a slow host (the test
// runs under emulation) can only make them longer, never shorter.
uint64_t wait_for(volatile uint64_t& count, uint64_t target, uint64_t t0)
{
    for (int i = 0; i < 1000 && count < target; ++i) asm volatile("sti; hlt" ::: "memory");
    return rdtsc() - t0;
}
}  // namespace

int guest_main(uint32_t)
{
    auto l1 = cpuid(1);
    check(l1.c & (1u << 21), "CPUID offers x2APIC");
    check(l1.c & (1u << 24), "CPUID offers TSC-deadline");
    uint64_t tsc_per_ms = cpuid(0x40000010).a;
    uint64_t bus_per_ms = cpuid(0x40000010).b;

    uint64_t base = rdmsr(apic_base);
    check((base & 0xfffff000) == 0xfee00000 && (base & (1u << 11)) && (base & (1u << 8)), "APIC enabled, BSP");
    wrmsr(apic_base, base | (1u << 10));  // EXTD: x2APIC mode
    check(rdmsr(id) == 0, "x2APIC ID of vCPU 0");
    check((rdmsr(version) & 0xff) == 0x14, "version 0x14");
    check(rdmsr_fault(eoi) == 13, "RDMSR of the EOI register -> #GP");
    check(rdmsr_fault(self_ipi) == 13, "RDMSR of the self-IPI register -> #GP");
    check(rdmsr_fault(0x831) == 13, "ICR high half does not exist in x2APIC mode -> #GP");
    check(wrmsr_fault(apic_base, base & ~(1ull << 10)) == 13, "x2APIC -> xAPIC directly -> #GP");
    wrmsr(svr, 0x100 | 0xff);  // software enable

    asm volatile("sti");
    wrmsr(self_ipi, vec);
    asm volatile("nop");
    check(guest_apic_irq_count == 1, "self-IPI delivered and EOIed");

    // The current count runs down from the initial count (a long count, so
    // a slow host cannot make it reach 0 before the read); 0 stops it.
    wrmsr(divide, 0xb);
    wrmsr(lvt_timer, vec | (1u << 16));  // masked
    wrmsr(initial, 0xffffffffu);
    uint64_t cur = rdmsr(current);
    check(cur > 0 && cur < 0xffffffffu, "current count runs down");
    wrmsr(initial, 0);
    check(rdmsr(current) == 0, "initial count 0 stops the timer");

    // One-shot: 2 ms of bus clock at divide-by-1.
    wrmsr(lvt_timer, vec);
    uint64_t t0 = rdtsc();
    wrmsr(initial, 2 * bus_per_ms);
    uint64_t waited = wait_for(guest_apic_irq_count, 2, t0);
    check(guest_apic_irq_count == 2, "one-shot timer woke HLT");
    check(waited >= 2 * tsc_per_ms * 9 / 10, "one-shot not early");
    check(rdmsr(current) == 0, "one-shot current count ends at 0");

    // Periodic, 1 ms: five more interrupts.
    wrmsr(lvt_timer, vec | (1u << 17));
    t0 = rdtsc();
    wrmsr(initial, bus_per_ms);
    waited = wait_for(guest_apic_irq_count, 7, t0);
    wrmsr(lvt_timer, vec | (1u << 16));  // mask
    wrmsr(initial, 0);
    check(guest_apic_irq_count >= 7, "periodic timer fired five times");
    check(waited >= 5 * tsc_per_ms * 9 / 10, "periodic not early");

    // TSC-deadline, 3 ms ahead.
    uint64_t before = guest_apic_irq_count;
    wrmsr(lvt_timer, vec | (2u << 17));
    uint64_t deadline = rdtsc() + 3 * tsc_per_ms;
    wrmsr(tsc_deadline, deadline);
    wait_for(guest_apic_irq_count, before + 1, rdtsc());
    check(guest_apic_irq_count == before + 1, "TSC-deadline timer woke HLT");
    check(rdtsc() >= deadline, "TSC-deadline not early");
    check(rdmsr(tsc_deadline) == 0, "deadline MSR cleared when it fired");
    print("APIC interrupts: %lu (TSC %lu kHz, bus %lu kHz)\n", guest_apic_irq_count, tsc_per_ms, bus_per_ms);
    return verdict("apic_test");
}
