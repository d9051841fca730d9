// Interrupt injection: an interrupt raised while RFLAGS.IF=0 stays pending
// (interrupt-window exiting) and arrives right after STI's one-instruction
// shadow; one raised with IF=1 arrives before the next instruction; HLT with
// IF=1 is woken by a timed interrupt and not before its deadline; an
// exception the hypervisor injects (#GP from a refused MSR write) reaches the
// guest's handler with its error code.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
volatile uint32_t& irq_now = *reinterpret_cast<volatile uint32_t*>(0xfe000ff0ull);
volatile uint64_t& irq_later = *reinterpret_cast<volatile uint64_t*>(0xfe000fe8ull);
}  // namespace

int guest_main(uint32_t)
{
    asm volatile("cli");
    irq_now = 0x40;
    for (int i = 0; i < 1000; ++i) asm volatile("pause");
    check(guest_irq_count == 0, "no delivery while IF=0");
    uint64_t in_shadow;
    // STI's shadow covers the next instruction: the count read there is 0.
    asm volatile("sti; movq guest_irq_count(%%rip), %0; nop" : "=r"(in_shadow) : : "memory");
    check(in_shadow == 0, "no delivery inside the STI shadow");
    check(guest_irq_count == 1, "delivered after STI (interrupt window)");

    irq_now = 0x40;
    asm volatile("nop");
    check(guest_irq_count == 2, "delivered at once with IF=1");

    uint64_t tsc_khz = cpuid(0x40000010).a;
    uint64_t t0 = rdtsc();
    irq_later = (20000ull << 8) | 0x40;  // 20 ms
    asm volatile("sti; hlt" ::: "memory");
    uint64_t waited_us = (rdtsc() - t0) * 1000 / (tsc_khz ? tsc_khz : 1);
    print("HLT woke after %lu us\n", waited_us);
    check(guest_irq_count == 3, "HLT woken by the timed interrupt");
    check(waited_us >= 19000, "not woken before the deadline");

    uint32_t ecx = 0xc0000080, eax = 1u << 20, edx = 0;  // reserved EFER bit
    int v = GUEST_FAULT_OF("wrmsr", "c"(ecx), "a"(eax), "d"(edx));
    check(v == 13 && guest_last_error == 0, "injected #GP(0) reaches the guest's handler");
    return verdict("irq_test");
}
