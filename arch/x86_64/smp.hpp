// Starting the application processors (SDM Vol. 3A 8.4.4: INIT-SIPI-SIPI).
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch::smp {

struct CpuToStart {
    uint32_t apic_id;
};

// trampoline_page: a free, identity-reachable page below 1 MiB. Starts the
// CPUs one at a time; returns how many came online (not counting the BSP).
unsigned start_aps(const CpuToStart* cpus, size_t count, uint64_t trampoline_page);
unsigned online_count();

// What an AP runs once it is up (the hypervisor's per-CPU loop); set before
// start_aps. Without it, APs idle in HLT.
void set_ap_main(void (*fn)());

// Stops every other CPU (panic path).
void stop_others();

}  // namespace arch::smp
