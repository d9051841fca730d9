// A scheduling group: the vCPUs of one domain, with the domain's credit
// parameters (xl sched-credit -d D -w WEIGHT -c CAP):
//  - weight (1..65535, default 256) applies to each vCPU of the group: a
//    vCPU of weight 512 gets twice the CPU time of one of weight 256 when
//    they compete;
//  - cap (percent of one physical CPU, 0 = none) bounds the whole group,
//    as in Xen: cap 50 = half a CPU, cap 200 = two CPUs, over all its vCPUs.
// The table of members lets a PAUSE-loop exit find siblings. Owned by the
// caller (inside hv::Domain); registered with Scheduler::add_group.
#pragma once

#include <cstdint>

#include "hv/sched/relaxed.hpp"

namespace hv::sched {

class Scheduler;
class SchedVcpu;

inline constexpr unsigned max_group_vcpus = 64;

class SchedGroup {
public:
    constexpr SchedGroup() = default;
    SchedGroup(const SchedGroup&) = delete;
    SchedGroup& operator=(const SchedGroup&) = delete;

    uint32_t weight() const { return peek(weight_); }
    uint32_t cap() const { return peek(cap_); }
    unsigned vcpu_count() const { return peek(count_); }
    SchedVcpu* member(unsigned slot) const { return slot < max_group_vcpus ? peek(members_[slot]) : nullptr; }
    void* owner() const { return owner_; }

private:
    friend class Scheduler;

    Scheduler* sched_ = nullptr;
    SchedGroup* next_ = nullptr;  // the scheduler's list of groups
    void* owner_ = nullptr;
    uint32_t weight_ = 0;
    uint32_t cap_ = 0;
    SchedVcpu* members_[max_group_vcpus] = {};
    uint32_t count_ = 0;
    uint32_t rr_cursor_ = 0;  // directed yield: last slot chosen (relaxed)
    // Cap accounting, shared by all CPUs that run the group's vCPUs, so
    // updated with atomic builtins (see cap.cpp).
    uint64_t cap_period_ = 0;  // index of the current cap period
    int64_t cap_used_ = 0;     // ns used in it (may exceed the budget: debt)
};

}  // namespace hv::sched
