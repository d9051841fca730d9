// Guest SMP: the BSP starts every other vCPU the way an OS does — INIT, then
// two SIPIs through the x2APIC ICR, with a real-mode trampoline below 1 MiB —
// and each AP comes up through real, protected and long mode, reports its
// APIC ID and increments a shared counter with LOCK XADD; then the BSP sends
// each AP a fixed IPI and the AP acknowledges it from its handler.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

extern "C" void guest_ap_main(uint32_t index);

namespace {
volatile uint32_t apic_id_of[8];
volatile uint32_t ipi_seen[8];
volatile uint32_t counter;

void icr(uint32_t dest, uint32_t low) { wrmsr(0x830, (uint64_t(dest) << 32) | low); }
}  // namespace

// On each AP: APIC in x2APIC mode, count, then wait for an IPI (vector 0x41,
// counted by the runtime's handler, which also sends the EOI).
void guest_ap_main(uint32_t index)
{
    uint32_t id = cpuid(1).b >> 24;
    wrmsr(0x1b, rdmsr(0x1b) | (1u << 10));
    wrmsr(0x80f, 0x1ff);
    apic_id_of[index & 7] = id;
    for (int i = 0; i < 1000; ++i) __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
    ap_started();
    uint64_t before = guest_apic_irq_count;
    asm volatile("sti");
    while (guest_apic_irq_count == before) asm volatile("hlt");
    __atomic_fetch_add(&ipi_seen[index & 7], 1, __ATOMIC_SEQ_CST);
}

int guest_main(uint32_t)
{
    uint32_t n = (cpuid(1).b >> 16) & 0xff;
    uint64_t khz = cpuid(0x40000010).a;
    print("logical processors: %u\n", n);
    check(n == 4, "CPUID reports 4 logical processors");
    uint32_t started = start_aps(n);
    print("APs started: %u, counter %u\n", started, counter);
    check(started == n - 1, "every AP started");
    check(counter == 1000 * (n - 1), "LOCK XADD from all APs adds up");
    bool ids = true;
    for (uint32_t i = 1; i < n; ++i) {
        bool found = false;
        for (uint32_t k = 1; k < n; ++k) found |= apic_id_of[k] == i;
        ids &= found;
    }
    check(ids, "each AP reports its own APIC ID");

    for (uint32_t ap = 1; ap < n; ++ap) icr(ap, 0x41);  // fixed IPI, vector 0x41
    uint64_t deadline = rdtsc() + 2000 * khz;
    bool all = false;
    while (!all && rdtsc() < deadline) {
        all = true;
        for (uint32_t i = 1; i < n; ++i) all &= ipi_seen[i] == 1;
    }
    check(all, "every AP took its IPI");
    return verdict("smp_test");
}
