// Both event fast paths from the guest's side: each write to the doorbell
// port 0x510 (and then to the MMIO doorbell at 0xfe001000) reaches Dom0's
// device model as an event (no exit to Dom0 for the write), which answers with interrupt vector 0x41 through an interrupt
// route into this vCPU's local APIC. Run as a domain Dom0 built.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

int guest_main(uint32_t)
{
    constexpr uint16_t doorbell = 0x510;
    wrmsr(0x1b, rdmsr(0x1b) | (1u << 10));  // x2APIC mode
    wrmsr(0x80f, 0x1ff);                      // software-enable the APIC (SVR)
    asm volatile("sti");
    constexpr uint64_t rings = 20;
    uint64_t answered = 0;
    for (uint64_t i = 1; i <= rings; ++i) {
        uint64_t before = guest_apic_irq_count;
        outb(doorbell, uint8_t(i));
        for (int spin = 0; spin < 2000 && guest_apic_irq_count == before; ++spin) busy_wait_us(500);
        if (guest_apic_irq_count > before) ++answered;
    }
    print("doorbell_test: %lu of %lu doorbells answered by an interrupt\n", answered, rings);
    check(answered == rings, "every doorbell answered with vector 0x41");
    // The same through the MMIO doorbell (0xfe001000), as virtio-pci notifies.
    auto* mmio_bell = reinterpret_cast<volatile uint32_t*>(0xfe001000ull);
    answered = 0;
    for (uint64_t i = 1; i <= rings; ++i) {
        uint64_t before = guest_apic_irq_count;
        *mmio_bell = uint32_t(i);
        for (int spin = 0; spin < 2000 && guest_apic_irq_count == before; ++spin) busy_wait_us(500);
        if (guest_apic_irq_count > before) ++answered;
    }
    print("doorbell_test: %lu of %lu MMIO doorbells answered by an interrupt\n", answered, rings);
    check(answered == rings, "every MMIO doorbell answered with vector 0x41");
    return verdict("doorbell_test");
}
