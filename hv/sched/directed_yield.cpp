// PAUSE-loop exits: the spinning vCPU gives up the rest of its slice, and
// the scheduler prefers a sibling of the same domain that was preempted
// while runnable: likely the lock holder the spinner waits for (the idea of
// KVM's kvm_vcpu_on_spin). Candidates:
//   - runnable, in a queue, descheduled involuntarily (slice end or wake
//     preemption): not blocked in HLT, not paused, not freshly woken;
//   - not spinning itself (its last exit was not a PAUSE loop);
//   - searched round-robin from the slot after the last one chosen, so a
//     group of spinners does not always hand its time to the same vCPU.
// The chosen sibling runs next on the yielding CPU if its affinity allows
// (moved there), otherwise it is boosted to the front of its own CPU's
// queue and that CPU is asked to decide again.
#include "hv/sched/scheduler.hpp"
#include "hv/sched/vtime.hpp"

namespace hv::sched {

namespace {
bool candidate(const SchedVcpu& t, uint8_t run, bool preempted, bool spinning, bool transit, uint16_t paused)
{
    (void)t;
    return run == 2 /* runnable */ && preempted && !spinning && !transit && !paused;
}
}  // namespace

SchedVcpu* Scheduler::yield_candidate(const SchedVcpu& v) const
{
    if (!registered(v) || !v.group_) return nullptr;
    const SchedGroup& g = *v.group_;
    unsigned start = peek(g.rr_cursor_) + 1;
    for (unsigned k = 0; k < max_group_vcpus; ++k) {
        SchedVcpu* t = peek(g.members_[(start + k) % max_group_vcpus]);
        if (!t || t == &v) continue;
        if (candidate(*t, peek(t->run_), peek(t->preempted_), peek(t->spinning_), peek(t->in_transit_),
                      peek(t->pause_count_)))
            return t;
    }
    return nullptr;
}

lib::Result<YieldOutcome> Scheduler::yield_to(SchedVcpu& v, SchedVcpu* target, uint64_t now)
{
    static_assert(SchedVcpu::runnable == 2);
    if (!registered(v)) return lib::err(lib::Error::not_found);
    if (v.run_ != SchedVcpu::running) return lib::err(lib::Error::invalid);
    unsigned cpu = v.cpu_;
    Cpu& c = touch(cpu);
    ++c.stats.yields;
    charge(v, now);
    v.yielded_ = true;
    poke(v.spinning_, true);
    c.need_resched = true;

    YieldOutcome out;
    // Re-check the hint under the locks: still a preempted sibling, queued.
    if (!cfg_.directed_yield || !target || target == &v || !registered(*target) || target->group_ != v.group_ ||
        !target->queued_ || !candidate(*target, target->run_, target->preempted_, target->spinning_,
                                       target->in_transit_, target->pause_count_))
        return out;  // plain yield: pick_next skips v once

    ++c.stats.directed_yields;
    poke(v.group_->rr_cursor_, target->slot_);
    out.target = target;
    unsigned tc = target->cpu_;
    if (tc == cpu) {
        c.run_next = target;
        out.run_here = true;
        return out;
    }
    Cpu& t = touch(tc);
    if (target->affinity_.test(cpu)) {
        // Bring it here, keeping its place relative to the clocks.
        dequeue(t, *target);
        drop_load(t, *target);
        int64_t lag = int64_t(target->vtime_ - t.vclock);
        int64_t behind = int64_t(wake_credit_vt()), ahead = int64_t(2 * ns(cfg_.slice_us));
        if (lag < -behind) lag = -behind;
        if (lag > ahead) lag = ahead;
        target->vtime_ = c.vclock + uint64_t(lag);
        poke(target->cpu_, cpu);
        ++target->migrations_;
        enqueue(c, *target);
        add_load(c, *target);
        c.run_next = target;
        out.run_here = true;
        if (v.affinity_.test(tc)) {
            // Swap: the yielder takes the target's place, so the two loads
            // stay as they were (else this CPU would hold one vCPU more and
            // the other might be left with a lone spinner).
            c.current = nullptr;
            drop_load(c, v);
            poke(v.run_, SchedVcpu::runnable);
            int64_t vlag = int64_t(v.vtime_ - c.vclock);
            if (vlag < -behind) vlag = -behind;
            if (vlag > ahead) vlag = ahead;
            v.vtime_ = t.vclock + uint64_t(vlag);
            v.yielded_ = false;  // the skip is for this CPU's next decision only
            poke(v.cpu_, tc);
            ++v.migrations_;
            enqueue(t, v);
            add_load(t, v);
            out.swapped = true;
            if (!t.current) {
                t.need_resched = true;
                out.kick.resched_cpu = uint16_t(tc);
            }
        }
        return out;
    }
    // Pinned elsewhere: to the front of its own queue (as far as a wake may
    // go), with a short slice, and ask its CPU to decide again.
    dequeue(t, *target);
    target->vtime_ = vt_min(target->vtime_, t.vclock - wake_credit_vt());
    enqueue(t, *target);
    target->boosted_ = true;
    if (!t.current || !t.current->boosted_) {
        t.need_resched = true;
        out.kick.resched_cpu = uint16_t(tc);
    }
    return out;
}

}  // namespace hv::sched
