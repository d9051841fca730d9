// A guest that reboots itself the way Linux does without ACPI: a write of
// 0x06 to the PCI reset control register (port 0xcf9). Dom0 applies its
// on_reboot policy; with "restart" it comes back as a new domain and
// reboots again, until Dom0's restart limit.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

int guest_main(uint32_t)
{
    print("reboot_test: up, rebooting\n");
    outb(0xcf9, 0x06);
    // Not reached: the domain stops at the write.
    print("reboot_test: still running after the reset write\n");
    return 1;
}
