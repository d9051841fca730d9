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

#include "lib/result.hpp"

namespace hv::sched {
class Scheduler;
}

namespace hv {

struct Vcpu;
struct Domain;
struct Thread;

// What a CPU runs: a guest vCPU or a ring-3 thread (Dom0's). Both embed a
// hv::sched::SchedVcpu whose owner is this base, so the loop knows which one
// the scheduler picked.
enum class RunKind : uint8_t { vcpu = 0, thread = 1 };
struct Runnable {
    RunKind run_kind = RunKind::vcpu;
};

// Sets up the kick IPI; call on the BSP before APs start.
void cpu_loop_init();
// The AP's main loop (arch::smp::set_ap_main).
[[noreturn]] void cpu_loop_ap();
// Runs this CPU's loop until `d` has stopped and none of its vCPUs is on a CPU.
void cpu_loop_until_domain_done(Domain& d);

// Puts every vCPU of `d` on a CPU (vCPU i on online CPU i mod N) and lets them run.
void start_domain(Domain& d);
// Moves a vCPU of a running domain to `cpu` (xl vcpu-pin): its CPU takes it
// off at its next stop and hands it over. The caller waits for v.cpu.
void request_migration(Vcpu& v, unsigned cpu);
// Takes `d`'s vCPUs off their CPUs (after it stopped).
void detach_domain(Domain& d);

// Makes the CPU that runs `v` look at it again now (IPI unless it is this CPU).
void kick(Vcpu& v);

// The scheduler every CPU's loop uses (for registering groups).
hv::sched::Scheduler& the_scheduler();
// Runs this CPU's loop for good (APs, and the BSP once Dom0 is started).
[[noreturn]] void cpu_loop_run();

// Registers a thread with the scheduler on its CPU (t.cpu) and lets it run.
lib::Status start_thread(Thread& t);
// The running thread gives its CPU back to the loop (from its own kernel
// stack: a hypercall that blocks or yields, a preempting interrupt, its end).
// Returns when the loop runs it again; never for a dead thread.
void thread_switch_out(Thread& t);
// The thread running on this CPU, or nullptr.
Thread* current_thread();
// Makes a blocked thread look at its wait condition again (any CPU).
void wake_thread(Thread& t);

}  // namespace hv
