// Weighted virtual time: a running vCPU's virtual time advances by the real
// time it ran times 256 / weight, so at weight 512 it advances half as fast
// and the vCPU is picked twice as often. The CPU runs the vCPU with the
// smallest virtual time. Values wrap (at weight 1 after ~2 years); compare
// them only through vt_before, which is exact while two values are less than
// 2^63 apart (the scheduler keeps every queued vCPU within a few slices of
// its queue's clock).
#pragma once

#include <cstdint>

#include "hv/sched/sched_config.hpp"

namespace hv::sched {

constexpr bool vt_before(uint64_t a, uint64_t b) { return int64_t(a - b) < 0; }
constexpr uint64_t vt_max(uint64_t a, uint64_t b) { return vt_before(a, b) ? b : a; }
constexpr uint64_t vt_min(uint64_t a, uint64_t b) { return vt_before(a, b) ? a : b; }

// Virtual time for `ns` of real time at `weight` (clamped to 1..65535).
// ns is clamped to 2^55 so the shift cannot overflow (that is over a year).
constexpr uint64_t vt_delta(uint64_t ns, uint32_t weight)
{
    if (weight < min_weight) weight = min_weight;
    if (weight > max_weight) weight = max_weight;
    constexpr uint64_t limit = uint64_t(1) << 55;
    if (ns > limit) ns = limit;
    return (ns << 8) / weight;
}

static_assert(vt_delta(1000, 256) == 1000);
static_assert(vt_delta(1000, 512) == 500);
static_assert(vt_delta(1000, 1) == 256000);
static_assert(vt_before(~uint64_t(0), 5));  // across the wrap
static_assert(!vt_before(5, 5));

}  // namespace hv::sched
