// Misbehaving guest: sets a reserved CR4 bit with no exception handler that
// could recover (the IDT is emptied first). The CPU raises #GP, the delivery
// fails, the guest triple-faults; the hypervisor must stop this domain with a
// clear log line and go on.
#include "tests/guests/runtime/guest.hpp"

int guest_main(uint32_t)
{
    guest::print("about to set reserved CR4 bit 31\n");
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty{0, 0};
    asm volatile("lidt %0" : : "m"(empty));
    uint64_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 1ull << 31;
    asm volatile("mov %0, %%cr4" : : "r"(cr4));
    guest::print("reserved CR4 bit accepted?!\n");
    return 1;
}
