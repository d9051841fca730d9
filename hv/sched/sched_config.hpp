// Scheduler tunables (hypervisor command line: sched_slice_us=,
// sched_ratelimit_us=, directed_yield=...). Times are microseconds here and
// nanoseconds inside the scheduler. The PLE gap/window and the SVM Pause
// Filter count/threshold are not here: they decide when a PAUSE loop exits;
// this decides what the exit does.
#pragma once

#include <cstdint>

#include "lib/result.hpp"

namespace hv::sched {

inline constexpr uint32_t default_weight = 256;
inline constexpr uint32_t min_weight = 1;
inline constexpr uint32_t max_weight = 65535;

struct SchedConfig {
    // Length of a time slice (Xen's tslice_ms, in us).
    uint32_t slice_us = 30000;
    // A running vCPU keeps the CPU at least this long before a waking vCPU
    // may preempt it (Xen's ratelimit_us): bounds context-switch storms.
    uint32_t ratelimit_us = 500;
    // Slice given to a vCPU that preempted another on waking: short, so a
    // boosted vCPU that turns out to be CPU-bound goes back to the queue soon.
    uint32_t boost_slice_us = 2000;
    // How far ahead of the queue's virtual clock a waking vCPU may be placed
    // (its head start; in weight-256 microseconds). Bounds what a vCPU can
    // gain by blocking often. At least a slice, or a vCPU that blocks just
    // after another ran a whole slice loses the lag it had earned.
    uint32_t wake_credit_us = 30000;
    // Period over which a cap is enforced (cap% of this per period).
    uint32_t cap_period_us = 30000;
    // How often each CPU looks for a busier CPU to pull from.
    uint32_t balance_interval_us = 100000;
    // PAUSE-loop exits yield to a preempted sibling (true) or plainly (false).
    bool directed_yield = true;
};

// Checks the ranges: slice 100 us..10 s, ratelimit and boost slice <= slice,
// boost slice >= 50 us, wake credit <= 10 * slice, cap period 1 ms..1 s,
// balance interval 1 ms..10 s. Error::out_of_range names no field: the
// command-line parser reports the option it was parsing.
lib::Status validate(const SchedConfig& c);

}  // namespace hv::sched
