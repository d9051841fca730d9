// Charging run time, the queue clock, and the per-exit / timer checks.
#include "hv/sched/scheduler.hpp"
#include "hv/sched/vtime.hpp"

namespace hv::sched {

void Scheduler::charge(SchedVcpu& v, uint64_t now)
{
    if (now <= v.last_charge_) return;  // no time, or the clock went backwards
    uint64_t ran = now - v.last_charge_;
    v.last_charge_ = now;
    v.runtime_ns_ += ran;
    v.vtime_ += vt_delta(ran, v.group_->weight());
    cap_charge(*v.group_, now, ran);
}

void Scheduler::update_vclock(Cpu& c)
{
    SchedVcpu* head = c.queue.first();
    if (!c.current && !head) return;
    uint64_t m = c.current ? c.current->vtime_ : head->vtime_;
    if (c.current && head) m = vt_min(m, head->vtime_);
    poke(c.vclock, vt_max(c.vclock, m));
}

bool Scheduler::tick(unsigned cpu, uint64_t now)
{
    if (cpu >= cpu_count_) return false;
    Cpu& c = touch(cpu);
    SchedVcpu* v = c.current;
    if (!v) {
        if (c.need_resched) return true;
        // Idle: something queued may have become eligible (cap refill).
        for (SchedVcpu* q = c.queue.first(); q; q = RunQueue::next(*q))
            if (cap_allows(*q->group_, now)) return true;
        return false;
    }
    charge(*v, now);
    return c.need_resched || now >= v->slice_end_ || v->pause_count_ || !v->affinity_.test(cpu) ||
           !cap_allows(*v->group_, now);
}

TimerAction Scheduler::on_timer(unsigned cpu, uint64_t now)
{
    TimerAction a;
    if (cpu >= cpu_count_) return a;
    a.resched = tick(cpu, now);
    Cpu& c = cpus_[cpu];
    if (now >= c.next_balance) {
        a.balance = cpu_count_ > 1;
        c.next_balance = now + ns(cfg_.balance_interval_us);
    }
    return a;
}

}  // namespace hv::sched
