// Caps: a group with cap C% may use C/100 * cap_period of CPU time per cap
// period, summed over its vCPUs (Xen semantics: 100 = one CPU). The budget
// is shared by every CPU running the group's vCPUs, so the two counters are
// updated with atomic builtins rather than under a run-queue lock. Time used
// beyond the budget (a slice cannot end exactly on time) is carried into the
// next period as debt, at most one budget. A period change racing with a
// charge on another CPU can lose that one charge: a few microseconds.
#include "hv/sched/scheduler.hpp"

namespace hv::sched {

namespace {

int64_t budget_ns(uint32_t cap, uint64_t period_ns) { return int64_t(uint64_t(cap) * period_ns / 100); }

void roll(SchedGroup& g, uint64_t period, int64_t budget, uint64_t& period_field, int64_t& used_field)
{
    (void)g;
    uint64_t cur = __atomic_load_n(&period_field, __ATOMIC_RELAXED);
    if (period <= cur) return;
    if (!__atomic_compare_exchange_n(&period_field, &cur, period, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return;  // another CPU rolled it
    int64_t used = __atomic_load_n(&used_field, __ATOMIC_RELAXED);
    uint64_t gone = period - cur;
    int64_t carried = gone > 1 ? 0 : used - budget;
    if (carried < 0) carried = 0;
    if (carried > budget) carried = budget;
    __atomic_store_n(&used_field, carried, __ATOMIC_RELAXED);
}

}  // namespace

int64_t Scheduler::cap_remaining(SchedGroup& g, uint64_t now)
{
    uint32_t cap = g.cap();
    if (cap == 0) return INT64_MAX;
    uint64_t period_ns = ns(cfg_.cap_period_us);
    int64_t budget = budget_ns(cap, period_ns);
    roll(g, now / period_ns, budget, g.cap_period_, g.cap_used_);
    return budget - __atomic_load_n(&g.cap_used_, __ATOMIC_RELAXED);
}

bool Scheduler::cap_allows(SchedGroup& g, uint64_t now) { return cap_remaining(g, now) > 0; }

void Scheduler::cap_charge(SchedGroup& g, uint64_t now, uint64_t ran)
{
    uint32_t cap = g.cap();
    if (cap == 0 || ran == 0) return;
    uint64_t period_ns = ns(cfg_.cap_period_us);
    roll(g, now / period_ns, budget_ns(cap, period_ns), g.cap_period_, g.cap_used_);
    __atomic_fetch_add(&g.cap_used_, int64_t(ran), __ATOMIC_RELAXED);
}

uint64_t Scheduler::cap_refill_at(uint64_t now) const
{
    uint64_t period_ns = ns(cfg_.cap_period_us);
    return (now / period_ns + 1) * period_ns;
}

}  // namespace hv::sched
