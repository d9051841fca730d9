// A ring-3 thread of a protection domain (Dom0): its kernel stack, its place
// in the scheduler, and what it waits for while blocked. Threads are pinned
// to the CPU they were created for.
#pragma once

#include <cstdint>

#include "arch/x86_64/interrupts.hpp"
#include "hv/sched/sched_vcpu.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "lib/result.hpp"

namespace hv {

struct Pd;

enum class ThreadState : uint8_t { runnable, blocked, dead };

// Why a blocked thread sleeps: it becomes runnable when the condition holds
// or at wake_tsc (0 = no timeout), whichever is first.
enum class WaitFor : uint8_t { nothing, time, console_input, ioreq };

struct Thread : Runnable {
    Pd* pd;
    uint32_t id;  // within its Pd
    unsigned cpu;
    volatile int running_on;  // CPU it runs on, -1 if none
    ThreadState state;
    WaitFor wait;
    volatile bool woken;  // wake_thread() was called since it blocked
    uint64_t wake_tsc;
    uint64_t slice_end;   // TSC: the loop takes the CPU back here
    bool yield_requested;
    int64_t exit_code;
    hv::sched::SchedVcpu sched;
    uint64_t kstack_phys;
    uint64_t kstack_top;  // direct-map address
    uint64_t saved_rsp;   // while switched out
    arch::InterruptFrame* frame;  // the hypercall being served
    Thread* next_in_pd;
};

inline constexpr uint64_t thread_kstack_size = 16 * 1024;

// Creates a thread of `pd` that starts at rip with rsp and rdi = arg on
// `cpu`, and starts it.
lib::Result<Thread*> create_thread(Pd& pd, uint64_t rip, uint64_t rsp, uint64_t arg, unsigned cpu);
// Frees a dead thread that no CPU runs any more.
void free_thread(Thread* t);

// Blocks the calling (current) thread until `wait` holds, wake_thread() was
// called, or `timeout_tsc` (absolute, 0 = none). Returns when it runs again.
// Callers clear `woken` before they look at what they wait for, so a wakeup
// between their look and the block is not lost; a wakeup can be spurious,
// so they look again after.
void block_current(Thread& t, WaitFor wait, uint64_t timeout_tsc);
// Whether a blocked thread's wait is over (the loop polls this).
bool thread_wait_over(const Thread& t, uint64_t now_tsc);
// Ends the calling thread; never returns.
[[noreturn]] void exit_current(Thread& t, int64_t code);

}  // namespace hv
