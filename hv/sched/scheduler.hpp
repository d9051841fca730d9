// Scheduling policy: a proportional-share ("credit"-style) scheduler over
// per-physical-CPU run queues, with wake boost, caps, hard affinity, work
// stealing, periodic balancing and directed yield for PAUSE-loop exits.
// Portable and host-tested; the kernel's run loop and timer interrupt call
// it. docs/scheduler.md describes the policy; the contract is here.
//
// Policy in one paragraph: every vCPU has a weighted virtual time (vtime.hpp)
// that advances while it runs, by real time * 256 / weight. A CPU runs the
// queued vCPU with the smallest virtual time for one slice (or until its
// domain's cap budget runs out), so over time each competing vCPU gets CPU
// time in proportion to its weight. A vCPU that wakes from blocking is placed
// at most `wake_credit` ahead of its queue's clock: it usually goes first and
// may preempt a CPU-bound vCPU (after `ratelimit`), with a short slice; what
// it can gain is bounded, so it cannot starve anybody. A vCPU "credit" in xl
// terms is how far its virtual time is behind its queue's clock.
//
// Time: `now` is the caller's clock in nanoseconds (TSC converted by the
// kernel), the same on all CPUs and non-decreasing per CPU; a value that goes
// backwards is treated as no time passing.
//
// LOCKING. The caller holds the run-queue lock of each CPU a call touches;
// when it holds two it takes them in ascending CPU order. The scheduler takes
// no locks and never blocks. Which locks each call needs:
//
//   call                                     run-queue locks held by the caller
//   ---------------------------------------  ----------------------------------
//   init, set_directed_yield                 all (boot, or a quiesced system)
//   add_group, remove_group                  none (domain control path)
//   set_group_params                         none (read racily; next charge)
//   add_vcpu                                 none (the vCPU is offline)
//   remove_vcpu, wake, block, pause,         v.cpu()
//     unpause, set_affinity, state
//   attach                                   v.cpu() (the destination)
//   pick_next, tick, on_timer                cpu
//   next_steal_source, balance_source,       none: racy hints; the call that
//     yield_candidate                          acts on one re-checks
//   pull                                     cpu and src
//   yield_to                                 v.cpu(), and target->cpu() if any
//   yield_to_sibling, check_invariants       all (single-lock kernels, tests)
//
// add_vcpu/remove_vcpu/add_group/remove_group change a group's member table:
// the caller serialises them per domain (its control lock). v.cpu() is stable
// while its lock is held: lock it, then check v.cpu() again.
//
// Kernel run loop on CPU c (see tests/unit/sched/sim.hpp for a complete one):
//   lock(c); d = pick_next(c, now); unlock(c);
//   if (d.migrate) { lock(d.migrate->cpu()); attach(*d.migrate, now); unlock; kick }
//   if (!d.next) { try next_steal_source/pull, else arm(d.until) and HLT }
//   else { arm(d.until); run the vCPU; on each exit: if tick(c, now) -> decide again;
//          HLT exit -> block(); PAUSE exit -> yield_to_sibling(); timer -> on_timer() }
// A returned Kick names CPUs to send a reschedule IPI to; a CPU that gets one
// leaves guest mode and calls pick_next (tick() reports the pending request).
#pragma once

#include <cstdint>

#include "hv/sched/cpu_mask.hpp"
#include "hv/sched/run_queue.hpp"
#include "hv/sched/sched_config.hpp"
#include "hv/sched/sched_group.hpp"
#include "hv/sched/sched_vcpu.hpp"
#include "lib/result.hpp"

namespace hv::sched {

inline constexpr uint16_t no_cpu = 0xffff;

// CPUs the caller should interrupt after a call (each no_cpu when none).
struct Kick {
    // Must decide again: send it a reschedule IPI (or, if it is the calling
    // CPU, call pick_next when leaving the handler).
    uint16_t resched_cpu = no_cpu;
    // Idle and allowed to run the vCPU just made runnable: wake it from HLT
    // so it can steal (next_steal_source + pull).
    uint16_t idle_cpu = no_cpu;
};

struct Decision {
    SchedVcpu* next = nullptr;  // run this; nullptr = idle (HLT)
    // Arm the one-shot / TSC-deadline timer for this time (slice end, cap
    // budget end, or for an idle CPU the next cap refill); 0 = no timer.
    uint64_t until = 0;
    // The vCPU that ran here may no longer (its affinity changed): it is in
    // transit; lock migrate->cpu() and call attach(). nullptr usually.
    SchedVcpu* migrate = nullptr;
    bool switched = false;  // next is not the vCPU that ran before
};

struct TimerAction {
    bool resched = false;  // call pick_next
    bool balance = false;  // periodic balancing due: balance_source + pull
};

enum class PullKind : uint8_t {
    steal,    // this CPU is idle: take the vCPU that would run soonest
    balance,  // periodic: take one if it makes the two loads more even
};

struct YieldOutcome {
    SchedVcpu* target = nullptr;  // sibling preferred, or nullptr (plain yield)
    bool run_here = false;        // target runs next on the yielding CPU
    // The yielder took the target's place in the target's old CPU's queue (it
    // is no longer this CPU's current; pick_next runs the target).
    bool swapped = false;
    Kick kick;  // target boosted on its own CPU, or the yielder queued on an idle one
};

struct AffinityChange {
    // The vCPU was queued on a CPU now outside its mask and has been detached:
    // unlock, lock v.cpu() (its new CPU) and call attach().
    bool attach_needed = false;
    Kick kick;  // it was running on a CPU now outside its mask
};

struct CpuStats {
    uint64_t decisions;
    uint64_t switches;
    uint64_t idle_decisions;
    uint64_t pulled;           // vCPUs taken from other CPUs (steal + balance)
    uint64_t yields;           // PAUSE-loop yields from vCPUs on this CPU
    uint64_t directed_yields;  // of which found a sibling
    uint64_t wake_preemptions;
};

class Scheduler {
public:
    constexpr Scheduler() = default;
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // CPUs 0..cpu_count-1 take part. Resets everything (no vCPU or group may
    // be registered). Errors: out_of_range (cpu_count 0 or > 256, config).
    lib::Status init(unsigned cpu_count, const SchedConfig& cfg);
    const SchedConfig& config() const { return cfg_; }
    unsigned cpu_count() const { return cpu_count_; }
    void set_directed_yield(bool on) { cfg_.directed_yield = on; }

    // Groups. weight 1..65535; cap 0 (none) or 1..100*cpu_count.
    // Errors: exists (already registered), out_of_range, not_found (not
    // registered here), busy (remove_group with vCPUs left).
    lib::Status add_group(SchedGroup& g, uint32_t weight = default_weight, uint32_t cap = 0, void* owner = nullptr);
    lib::Status set_group_params(SchedGroup& g, uint32_t weight, uint32_t cap);
    lib::Status remove_group(SchedGroup& g);

    // vCPUs. add_vcpu registers an offline vCPU (the first wake() starts it)
    // in `g`, pinned to `affinity`. Errors: exists, not_found (group),
    // invalid (empty mask), out_of_range (mask names a CPU >= cpu_count),
    // no_memory (group has max_group_vcpus members).
    lib::Status add_vcpu(SchedVcpu& v, SchedGroup& g, const CpuMask& affinity, void* owner = nullptr);
    // Unregisters a vCPU that is not running and not in transit (pause it and
    // wait until state() is no longer running). Errors: not_found, busy.
    lib::Status remove_vcpu(SchedVcpu& v);

    // offline/blocked -> runnable on v.cpu() (boosted if it was blocked).
    // A paused vCPU remembers the wake. Errors: not_found, invalid (running,
    // runnable or in transit: already awake).
    lib::Result<Kick> wake(SchedVcpu& v, uint64_t now);
    // running -> blocked (HLT, waiting for Dom0's reply). The CPU must then
    // decide again (pick_next). Errors: not_found, invalid (not running).
    lib::Status block(SchedVcpu& v, uint64_t now);
    // Nested pause (domain pause). A running vCPU stops at its CPU's next
    // decision: the Kick says where to send the IPI. Errors: not_found,
    // out_of_range (count overflow).
    lib::Result<Kick> pause(SchedVcpu& v);
    // Errors: not_found, invalid (not paused).
    lib::Result<Kick> unpause(SchedVcpu& v, uint64_t now);
    // Hard affinity (xl vcpu-pin). Takes effect at once for a queued or
    // blocked vCPU and at the next decision of its CPU for a running one.
    // Errors: not_found, invalid (empty), out_of_range (CPU >= cpu_count).
    lib::Result<AffinityChange> set_affinity(SchedVcpu& v, const CpuMask& mask, uint64_t now);
    // Ends a migration (see Decision::migrate, AffinityChange): queues the
    // vCPU on v.cpu(). Errors: invalid (not in transit), busy (its mask changed
    // meanwhile and v.cpu() moved again: lock the new v.cpu() and retry).
    lib::Result<Kick> attach(SchedVcpu& v, uint64_t now);

    VcpuState state(const SchedVcpu& v) const;

    // The decision on `cpu`: charges the vCPU that ran, requeues it if still
    // runnable, and returns what to run until when.
    Decision pick_next(unsigned cpu, uint64_t now);
    // Charges the running vCPU; true if `cpu` should decide again now (slice
    // or cap budget over, a wake or pause asked for it, affinity changed).
    // Cheap: call it on every exit.
    bool tick(unsigned cpu, uint64_t now);
    // Timer interrupt: tick() plus the periodic-balance clock.
    TimerAction on_timer(unsigned cpu, uint64_t now);

    // Stealing and balancing (hints first, then pull under both locks).
    // next_steal_source: a CPU after `after` (-1 to start) with queued vCPUs,
    // or -1. balance_source: the most loaded CPU if pulling from it could
    // even things out, or -1.
    int next_steal_source(unsigned cpu, int after) const;
    int balance_source(unsigned cpu) const;
    // Moves at most one queued vCPU from src to cpu. True if one moved.
    bool pull(unsigned cpu, unsigned src, uint64_t now, PullKind kind);

    // Directed yield for a PAUSE-loop exit of v (running on v.cpu()).
    // yield_candidate: the sibling yield_to would prefer (a hint), or nullptr.
    SchedVcpu* yield_candidate(const SchedVcpu& v) const;
    // v gives up the rest of its slice. If directed yield is on and `target`
    // is still a preempted sibling: it runs next on v.cpu() (moved there if
    // its affinity allows), else it is boosted on its own CPU. Otherwise (or
    // target nullptr) a plain yield: anything else runnable goes first.
    // The caller then calls pick_next on the yielding CPU (read v.cpu()
    // before the call: after a swap, v is queued on the target's old CPU).
    // Errors: not_found, invalid (v not running).
    lib::Result<YieldOutcome> yield_to(SchedVcpu& v, SchedVcpu* target, uint64_t now);
    lib::Result<YieldOutcome> yield_to_sibling(SchedVcpu& v, uint64_t now)
    {
        return yield_to(v, cfg_.directed_yield ? yield_candidate(v) : nullptr, now);
    }

    // Introspection (cpu's lock, or racy for statistics).
    SchedVcpu* current(unsigned cpu) const { return cpu < cpu_count_ ? cpus_[cpu].current : nullptr; }
    uint32_t queued(unsigned cpu) const { return cpu < cpu_count_ ? peek(cpus_[cpu].nr_queued) : 0; }
    uint64_t load(unsigned cpu) const { return cpu < cpu_count_ ? peek(cpus_[cpu].load) : 0; }
    bool idle(unsigned cpu) const { return cpu < cpu_count_ && peek(cpus_[cpu].idle); }
    const CpuStats& stats(unsigned cpu) const { return cpus_[cpu < cpu_count_ ? cpu : 0].stats; }
    // Walks every queue and registered vCPU; the first broken invariant as
    // Error::corrupt (and its text in *why when non-null).
    lib::Status check_invariants(const char** why = nullptr) const;

    // Debug hook: called with each CPU whose queue a call is about to touch,
    // so a kernel (or a test) can assert that the caller holds that lock.
    using LockCheck = void (*)(void* ctx, unsigned cpu);
    void set_lock_check(LockCheck fn, void* ctx)
    {
        lock_check_ = fn;
        lock_ctx_ = ctx;
    }

private:
    struct Cpu {
        RunQueue queue;
        SchedVcpu* current = nullptr;
        SchedVcpu* run_next = nullptr;  // directed-yield target, one decision
        uint64_t vclock = 0;            // virtual time of the queue's front
        uint64_t next_balance = 0;
        uint64_t load = 0;  // sum of weights of vCPUs queued, running or arriving here
        uint32_t nr_queued = 0;
        bool need_resched = false;
        bool idle = true;
        CpuStats stats{};
    };

    Cpu& touch(unsigned cpu)
    {
        if (lock_check_) lock_check_(lock_ctx_, cpu);
        return cpus_[cpu];
    }
    bool registered(const SchedVcpu& v) const { return v.sched_ == this; }
    uint64_t ns(uint32_t us) const { return uint64_t(us) * 1000; }
    uint64_t wake_credit_vt() const { return ns(cfg_.wake_credit_us); }

    // accounting.cpp
    void charge(SchedVcpu& v, uint64_t now);
    void update_vclock(Cpu& c);
    // cap.cpp: group budget for the period containing `now`.
    bool cap_allows(SchedGroup& g, uint64_t now);
    int64_t cap_remaining(SchedGroup& g, uint64_t now);
    void cap_charge(SchedGroup& g, uint64_t now, uint64_t ran);
    uint64_t cap_refill_at(uint64_t now) const;

    // transitions.cpp
    void enqueue(Cpu& c, SchedVcpu& v);
    void dequeue(Cpu& c, SchedVcpu& v);
    void add_load(Cpu& c, SchedVcpu& v);
    void drop_load(Cpu& c, SchedVcpu& v);
    Kick make_runnable(unsigned cpu, SchedVcpu& v, uint64_t now, bool woke);
    unsigned choose_cpu(const SchedVcpu& v) const;
    void detach(unsigned cpu, SchedVcpu& v, unsigned dst);
    void rehome(unsigned cpu, SchedVcpu& v);
    uint16_t idle_cpu_for(const SchedVcpu& v, unsigned except) const;

    SchedConfig cfg_{};
    unsigned cpu_count_ = 0;
    LockCheck lock_check_ = nullptr;
    void* lock_ctx_ = nullptr;
    Cpu cpus_[max_cpus] = {};
    // Registered groups (intrusive list, for check_invariants) and vCPUs.
    SchedGroup* groups_ = nullptr;
    uint32_t vcpu_count_ = 0;
};

}  // namespace hv::sched
