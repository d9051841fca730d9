// Misbehaving guest: loads an empty IDT and executes INT3: the breakpoint
// cannot be delivered, nor the #GP, nor the #DF: a triple fault.
#include "tests/guests/runtime/guest.hpp"

int guest_main(uint32_t)
{
    guest::print("triple fault coming\n");
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty{0, 0};
    asm volatile("lidt %0; int3" : : "m"(empty));
    return 1;
}
