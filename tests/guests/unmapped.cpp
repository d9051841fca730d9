// Misbehaving guest: reads guest-physical memory that is neither RAM nor a
// device (3 GiB; the domain has far less RAM). The hypervisor must stop the
// domain and name the address.
#include "tests/guests/runtime/guest.hpp"

int guest_main(uint32_t)
{
    guest::print("reading guest-physical 0xc0000000\n");
    volatile uint32_t* p = reinterpret_cast<volatile uint32_t*>(0xc0000000ull);
    uint32_t v = *p;
    guest::print("read %#x from unmapped memory?!\n", v);
    return 1;
}
