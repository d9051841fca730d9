// Device-model round-trip benchmark, run as a domain Dom0 built (its ports
// are forwarded to Dom0's device models). Under QEMU -icount shift=0 RDTSC
// counts instructions (TESTING.md), so each figure is the instructions the
// hypervisor and Dom0 ran for one exit: `bench: <name> <n>`, the minimum
// over many rounds less the cost of timing a NOP. The doorbell's event
// wakes Dom0, which answers with an interrupt this guest never enables.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;


int guest_main(uint32_t)
{
    uint64_t base = measure_min([] { asm volatile("nop"); });
    auto report = [&](const char* name, uint64_t n) { print("bench: %s %lu\n", name, n > base ? n - base : 0); };
    // Exits the hypervisor answers itself, for comparison in the same run.
    report("cpuid", measure_min([] {
               uint32_t a = 0, b, c = 0, d;
               asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
           }));
    report("io_hv", measure_min([] { (void)inb(0x2e0); }));  // unclaimed port: answered in hv
    // Forwarded to Dom0: COM1's scratch register, written and read.
    report("io_dm_out", measure_min([] { outb(0x3ff, 0); }));
    report("io_dm_in", measure_min([] { (void)inb(0x3ff); }));
    // What Dom0 made cheap: a buffered write (the POST port: queued in hv,
    // drained by Dom0 later) and a latched read (COM1's line status).
    report("io_buffered_out", measure_min([] { outb(0x80, 0); }));
    report("io_latched_in", measure_min([] { (void)inb(0x3fd); }));
    // A doorbell (ioevent): hv sends the device model an event, the vCPU goes on.
    report("doorbell_port", measure_min([] { outb(0x510, 0); }));
    report("doorbell_mmio", measure_min([] { *reinterpret_cast<volatile uint32_t*>(0xfe001000ull) = 0; }));
    print("bench: baseline_nop %lu\n", base);
    return 0;
}
