// PAUSE-loop exiting / Pause Filter: a single vCPU executes 300,000 PAUSEs in
// a tight loop. With a Pause Filter (AMD, count 3000) or PLE (Intel, window
// 4096) the hypervisor sees a few hundred exits, not one per PAUSE; where the
// CPU has neither (QEMU TCG) PAUSE is not intercepted at all by default. The
// test script reads the per-vCPU exit counters the hypervisor prints.
#include "tests/guests/runtime/guest.hpp"

int guest_main(uint32_t)
{
    for (int i = 0; i < 300000; ++i) asm volatile("pause");
    guest::print("300000 PAUSEs done\n");
    return guest::verdict("pause_test");
}
