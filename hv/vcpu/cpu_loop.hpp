// What each physical CPU does once booted: run the vCPUs the credit
// scheduler (hv/sched) picks on it, each until its slice ends (host LAPIC
// timer / VMX preemption deadline), it halts or it yields on a PAUSE-loop
// exit, and HLT when none is runnable until a kick or a vCPU timer wakes it.
// vCPUs are hard-pinned to the CPU they were assigned (backend state such as
// a VMCS lives on that CPU), so the scheduler never migrates them; per-domain
// weight and cap apply among the vCPUs sharing a CPU, and directed yield
// prefers a preempted sibling on the same CPU.
#pragma once

#include <cstdint>

namespace hv {

struct Vcpu;
struct Domain;

// Sets up the kick IPI; call on the BSP before APs start.
void cpu_loop_init();
// The AP's main loop (arch::smp::set_ap_main).
[[noreturn]] void cpu_loop_ap();
// Runs this CPU's loop until `d` has stopped and none of its vCPUs is on a CPU.
void cpu_loop_until_domain_done(Domain& d);

// Puts every vCPU of `d` on a CPU (vCPU i on online CPU i mod N) and lets them run.
void start_domain(Domain& d);
// Takes `d`'s vCPUs off their CPUs (after it stopped).
void detach_domain(Domain& d);

// Makes the CPU that runs `v` look at it again now (IPI unless it is this CPU).
void kick(Vcpu& v);

}  // namespace hv
