// The scheduler's part of a vCPU. The caller owns the object (it is meant to
// live inside hv::Vcpu) and registers it with Scheduler::add_vcpu; the
// scheduler links it into one run queue at a time through the intrusive
// links below and never allocates. Fields are written by the Scheduler only.
#pragma once

#include <cstdint>

#include "hv/sched/cpu_mask.hpp"
#include "hv/sched/relaxed.hpp"

namespace hv::sched {

class Scheduler;
class RunQueue;
class SchedGroup;

// What xl vcpu-list shows. `paused` hides whether the vCPU would be blocked
// or runnable once unpaused.
enum class VcpuState : uint8_t { offline, blocked, runnable, running, paused };

constexpr const char* state_name(VcpuState s)
{
    switch (s) {
    case VcpuState::offline: return "offline";
    case VcpuState::blocked: return "blocked";
    case VcpuState::runnable: return "runnable";
    case VcpuState::running: return "running";
    case VcpuState::paused: return "paused";
    }
    return "?";
}

class SchedVcpu {
public:
    constexpr SchedVcpu() = default;
    SchedVcpu(const SchedVcpu&) = delete;
    SchedVcpu& operator=(const SchedVcpu&) = delete;

    // The CPU whose run-queue lock protects this vCPU's scheduling state:
    // where it runs, is queued, or will be queued when it wakes. Read it,
    // lock that CPU, and read it again: it changes only under both the old
    // and the new CPU's lock (or while the vCPU is in transit, see attach()).
    unsigned cpu() const { return peek(cpu_); }
    void* owner() const { return owner_; }
    SchedGroup* group() const { return group_; }
    const CpuMask& affinity() const { return affinity_; }
    // Total time run, in the caller's nanoseconds (xl vcpu-list "Time(s)").
    uint64_t runtime_ns() const { return runtime_ns_; }
    uint64_t migrations() const { return migrations_; }
    uint64_t dispatches() const { return dispatches_; }

private:
    friend class Scheduler;
    friend class RunQueue;
    friend class SchedGroup;

    enum Run : uint8_t { offline, blocked, runnable, running };

    // Run queue links (valid while queued_).
    SchedVcpu* prev_ = nullptr;
    SchedVcpu* next_ = nullptr;
    Scheduler* sched_ = nullptr;  // non-null while registered
    SchedGroup* group_ = nullptr;
    void* owner_ = nullptr;
    CpuMask affinity_;
    uint64_t vtime_ = 0;          // weighted virtual time consumed (wraps; compare with vt_before)
    uint64_t last_charge_ = 0;    // caller time up to which the running vCPU was charged
    uint64_t dispatched_at_ = 0;  // when it last started running
    uint64_t slice_end_ = 0;      // end of its current slice
    uint64_t runtime_ns_ = 0;
    uint64_t migrations_ = 0;
    uint64_t dispatches_ = 0;
    uint32_t load_weight_ = 0;  // weight counted in its CPU's load (0 = not counted)
    uint32_t cpu_ = 0;
    uint16_t pause_count_ = 0;
    uint8_t slot_ = 0;           // index in the group's member table
    uint8_t run_ = offline;      // Run; blocked/runnable keep their meaning while paused
    bool queued_ = false;
    bool in_transit_ = false;    // detached from its old CPU, waiting for attach()
    bool preempted_ = false;     // descheduled involuntarily while runnable
    bool yielded_ = false;       // skip once at the next decision on its CPU
    bool boosted_ = false;       // woke and preempted: short slice
    bool spinning_ = false;      // its last exit was a PAUSE loop
};

}  // namespace hv::sched
