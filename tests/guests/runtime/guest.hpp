// The test-guest runtime: serial output, the debug-exit verdict, expected
// faults, and checks. A test guest defines `int guest_main(uint32_t mbi)`;
// returning 0 means every check passed.
#pragma once

#include <cstdint>

#include "arch/x86_64/cpu.hpp"

extern "C" {
extern volatile uint64_t guest_resume_rip;
extern volatile uint64_t guest_last_vector;
extern volatile uint64_t guest_last_error;
extern volatile uint64_t guest_exception_count;
extern volatile uint64_t guest_irq_count;  // vector 0x40 deliveries
extern volatile uint64_t guest_nmi_count;
extern volatile uint64_t guest_apic_irq_count;  // vector 0x41 (x2APIC, EOI sent)
extern volatile uint64_t guest_nmi_count_in_handler;
int guest_main(uint32_t mbi);
[[noreturn]] void guest_exit(uint32_t value);
}

namespace guest {

// Port I/O, MSR and TSC instructions: the hypervisor's own header-only
// wrappers (no kernel state behind them).
using arch::inb;
using arch::inl;
using arch::inw;
using arch::outb;
using arch::outl;
using arch::outw;
using arch::rdmsr;
using arch::rdtsc;
using arch::wrmsr;

struct Cpuid {
    uint32_t a, b, c, d;
};
inline Cpuid cpuid(uint32_t leaf, uint32_t sub = 0)
{
    Cpuid r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
    return r;
}

void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Starts vCPUs 1..count-1 (APIC IDs) with INIT-SIPI-SIPI through the x2APIC
// ICR and a real-mode trampoline at 0x8000; each runs guest_ap_main(index).
// Puts this CPU's APIC in x2APIC mode. Waits until all report in or ~5 s.
// Returns how many started.
uint32_t start_aps(uint32_t count);
void busy_wait_us(uint64_t us);
// An AP calls this once it is up (start_aps counts them).
void ap_started();

// Exit-length benchmarks (exit_bench, dm_bench): RDTSC fenced on both
// sides, and the minimum over 200 rounds of timing f(). Under QEMU -icount
// the TSC counts instructions (TESTING.md).
inline uint64_t fenced_rdtsc()
{
    uint32_t lo, hi;
    asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}
template <typename F> uint64_t measure_min(F f)
{
    uint64_t best = ~0ull;
    for (int i = 0; i < 200; ++i) {
        uint64_t t0 = fenced_rdtsc();
        f();
        uint64_t t1 = fenced_rdtsc();
        if (t1 - t0 < best) best = t1 - t0;
    }
    return best;
}

// Records a failed check with its message; the verdict counts them.
void check(bool ok, const char* what);
int verdict(const char* test_name);

// Runs `insn` (an asm string) and reports the exception vector it raised, or
// -1 if it completed. Registers a..d are inputs to the instruction.
#define GUEST_FAULT_OF(insn, ...)                                                     \
    ({                                                                                \
        guest_last_vector = ~0ull;                                                    \
        asm volatile("leaq 1f(%%rip), %%r11\n movq %%r11, guest_resume_rip(%%rip)\n" \
                     insn "\n1:\n movq $0, guest_resume_rip(%%rip)"                   \
                     :                                                                \
                     : __VA_ARGS__                                                    \
                     : "r11", "memory");                                              \
        guest_last_vector == ~0ull ? -1 : int(guest_last_vector);                     \
    })

}  // namespace guest
