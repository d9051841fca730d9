// NMI injection: an NMI is delivered even with RFLAGS.IF=0; a second NMI
// raised inside the NMI handler is held until the handler's IRET (the NMI
// window) and then delivered.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

int guest_main(uint32_t)
{
    asm volatile("cli");
    *reinterpret_cast<volatile uint32_t*>(0xfe000fe0ull) = 1;
    asm volatile("nop; nop");
    print("NMIs: %lu, in handler %lu\n", guest_nmi_count, guest_nmi_count_in_handler);
    check(guest_nmi_count == 2, "both NMIs delivered, with IF=0");
    check(guest_nmi_count_in_handler == 1, "the second NMI waited for the first handler's IRET");
    return verdict("nmi_test");
}
