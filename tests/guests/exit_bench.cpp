// Exit-path length benchmark. Under QEMU with -icount shift=0 the guest TSC
// advances by one per instruction retired on the emulated CPU, hypervisor
// included, so RDTSC around an exiting instruction counts the hypervisor's
// instructions for that exit (TESTING.md). Prints `bench: <name> <n>` with the
// minimum over many rounds, less the cost of the same measurement around a
// NOP.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;


int guest_main(uint32_t)
{
    uint64_t base = measure_min([] { asm volatile("nop"); });
    auto report = [&](const char* name, uint64_t n) { print("bench: %s %lu\n", name, n > base ? n - base : 0); };
    report("cpuid", measure_min([] {
               uint32_t a = 0, b, c = 0, d;
               asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
           }));
    report("io_hv", measure_min([] { outb(0x80, 0); }));  // POST port, handled in the hypervisor
    report("io_unclaimed_in", measure_min([] { (void)inb(0x2e0); }));
    report("mmio_read", measure_min([] { (void)*reinterpret_cast<volatile uint32_t*>(0xfe000000ull); }));
    report("mmio_write", measure_min([] { *reinterpret_cast<volatile uint32_t*>(0xfe000000ull) = 1; }));
    report("msr_emulated", measure_min([] {
               uint32_t lo, hi;
               asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x1b));
           }));
    report("pause", measure_min([] { asm volatile("pause"); }));

    // Local APIC paths (x2APIC): the handler for vector 0x41 sends the EOI.
    wrmsr(0x1b, rdmsr(0x1b) | (1u << 10));
    wrmsr(0x80f, 0x1ff);
    asm volatile("sti");
    report("x2apic_self_ipi_eoi", measure_min([] {
               uint64_t before = guest_apic_irq_count;
               wrmsr(0x83f, 0x41);
               while (guest_apic_irq_count == before) asm volatile("nop");
           }));
    wrmsr(0x832, 0x41 | (2u << 17));  // TSC-deadline mode
    report("tsc_deadline_round", measure_min([] {
               uint64_t before = guest_apic_irq_count;
               wrmsr(0x6e0, 1);  // already past: fires at once
               while (guest_apic_irq_count == before) asm volatile("nop");
           }));
    print("bench: baseline_nop %lu\n", base);
    return 0;
}
