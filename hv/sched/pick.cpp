// The decision: what `cpu` runs next and until when.
#include "hv/sched/scheduler.hpp"
#include "hv/sched/vtime.hpp"

namespace hv::sched {

Decision Scheduler::pick_next(unsigned cpu, uint64_t now)
{
    Decision d;
    if (cpu >= cpu_count_) return d;
    Cpu& c = touch(cpu);
    ++c.stats.decisions;
    c.need_resched = false;
    SchedVcpu* prev = c.current;
    if (prev) {
        charge(*prev, now);
        c.current = nullptr;
        if (prev->pause_count_) {
            // Paused while running: stays runnable-in-waiting, in no queue.
            drop_load(c, *prev);
            poke(prev->run_, SchedVcpu::runnable);
            rehome(cpu, *prev);
        } else if (!prev->affinity_.test(cpu)) {
            drop_load(c, *prev);
            poke(prev->run_, SchedVcpu::runnable);
            detach(cpu, *prev, choose_cpu(*prev));
            d.migrate = prev;
        } else if (!prev->yielded_ && now < prev->slice_end_ &&
                   now - prev->dispatched_at_ < ns(cfg_.ratelimit_us) && cap_allows(*prev->group_, now)) {
            // Rate limit: a wake may not cut a vCPU's run shorter than
            // ratelimit. Keep it; its slice now ends then.
            c.current = prev;
            prev->slice_end_ = prev->dispatched_at_ + ns(cfg_.ratelimit_us);
            d.next = prev;
            d.until = prev->slice_end_;
            return d;
        } else {
            poke(prev->run_, SchedVcpu::runnable);
            poke(prev->preempted_, !prev->yielded_);
            prev->boosted_ = false;
            enqueue(c, *prev);
        }
    }

    // The directed-yield target first, then the queue in virtual-time order,
    // skipping vCPUs whose group is out of cap budget and, once, the vCPU
    // that just yielded.
    SchedVcpu* pick = nullptr;
    if (SchedVcpu* t = c.run_next) {
        c.run_next = nullptr;
        if (t->queued_ && t->cpu_ == cpu && t->affinity_.test(cpu) && cap_allows(*t->group_, now)) pick = t;
    }
    SchedVcpu* fallback = nullptr;
    bool parked = false;  // a vCPU ahead of the pick waits for its cap refill
    for (SchedVcpu* q = c.queue.first(); q && !pick; q = RunQueue::next(*q)) {
        if (!q->affinity_.test(cpu)) continue;  // cannot happen: detached when the mask changes
        if (!cap_allows(*q->group_, now)) {
            parked = true;
            continue;
        }
        if (q->yielded_) {
            if (!fallback) fallback = q;
            continue;
        }
        pick = q;
    }
    if (!pick) pick = fallback;
    if (prev && prev->queued_) prev->yielded_ = false;  // the skip lasts one decision

    if (!pick) {
        poke(c.idle, true);
        ++c.stats.idle_decisions;
        d.until = parked ? cap_refill_at(now) : 0;
        d.switched = prev != nullptr;
        return d;
    }

    dequeue(c, *pick);
    c.current = pick;
    poke(pick->run_, SchedVcpu::running);
    poke(pick->preempted_, false);
    poke(pick->spinning_, false);
    pick->yielded_ = false;
    pick->dispatched_at_ = now;
    pick->last_charge_ = now;
    ++pick->dispatches_;
    uint64_t slice = ns(pick->boosted_ ? cfg_.boost_slice_us : cfg_.slice_us);
    int64_t budget = cap_remaining(*pick->group_, now);
    if (uint64_t(budget) < slice) slice = uint64_t(budget);
    if (pick->group_->cap() || parked) {
        // Capped: end at the period boundary, so each run is charged to the
        // period it ran in. Parked vCPU ahead: let it compete when refilled.
        uint64_t boundary = cap_refill_at(now) - now;
        if (boundary < slice) slice = boundary;
    }
    pick->slice_end_ = now + slice;
    d.next = pick;
    d.until = pick->slice_end_;
    d.switched = pick != prev;
    if (d.switched) ++c.stats.switches;
    poke(c.idle, false);
    update_vclock(c);
    return d;
}

}  // namespace hv::sched
