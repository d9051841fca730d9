// Work stealing (an idle CPU takes a waiting vCPU) and periodic balancing
// (a CPU pulls from the most loaded one when that evens the loads). Load is
// the sum of the weights of the vCPUs queued on or running on a CPU. The
// source-finding calls read other CPUs without locks; pull() re-checks under
// both locks.
#include "hv/sched/scheduler.hpp"
#include "hv/sched/vtime.hpp"

namespace hv::sched {

int Scheduler::next_steal_source(unsigned cpu, int after) const
{
    if (cpu >= cpu_count_) return -1;
    unsigned n = cpu_count_;
    // Candidates in order cpu+1, cpu+2, ... (wrapping), so idle CPUs do not
    // all start with the same victim.
    unsigned k = after < 0 ? 1 : (unsigned(after) + n - cpu) % n + 1;
    for (; k < n; ++k) {
        unsigned s = (cpu + k) % n;
        if (peek(cpus_[s].nr_queued)) return int(s);
    }
    return -1;
}

int Scheduler::balance_source(unsigned cpu) const
{
    if (cpu >= cpu_count_) return -1;
    uint64_t mine = peek(cpus_[cpu].load);
    int best = -1;
    uint64_t best_load = mine;
    for (unsigned s = 0; s < cpu_count_; ++s) {
        if (s == cpu || !peek(cpus_[s].nr_queued)) continue;
        uint64_t l = peek(cpus_[s].load);
        if (l > best_load) {
            best = int(s);
            best_load = l;
        }
    }
    return best;
}

bool Scheduler::pull(unsigned cpu, unsigned src, uint64_t now, PullKind kind)
{
    if (cpu >= cpu_count_ || src >= cpu_count_ || cpu == src) return false;
    Cpu& c = touch(cpu);
    Cpu& s = touch(src);
    SchedVcpu* v = nullptr;
    if (kind == PullKind::steal) {
        // Only when really idle; the vCPU that would run soonest.
        if (c.current || !c.queue.empty()) return false;
        for (SchedVcpu* q = s.queue.first(); q && !v; q = RunQueue::next(*q))
            if (q->affinity_.test(cpu) && cap_allows(*q->group_, now)) v = q;
    } else {
        // Moving weight w leaves an imbalance of |diff - 2w|: take the one
        // that leaves the least. w == diff only swaps the imbalance; it is
        // allowed so that an odd set (three equal vCPUs on two CPUs) rotates
        // and each gets its share over time, instead of one being alone.
        // Among equals the most owed (front of the queue) goes.
        if (s.load <= c.load) return false;
        uint64_t diff = s.load - c.load;
        uint64_t best = 0;
        for (SchedVcpu* q = s.queue.first(); q; q = RunQueue::next(*q)) {
            uint64_t w = q->load_weight_;
            if (!q->affinity_.test(cpu) || w > diff) continue;
            uint64_t left = 2 * w > diff ? 2 * w - diff : diff - 2 * w;
            if (!v || left < best) {
                v = q;
                best = left;
            }
        }
    }
    if (!v) return false;
    dequeue(s, *v);
    drop_load(s, *v);
    uint64_t lag = v->vtime_ - s.vclock;
    int64_t l = int64_t(lag);
    int64_t behind = int64_t(wake_credit_vt()), ahead = int64_t(2 * ns(cfg_.slice_us));
    if (l < -behind) l = -behind;
    if (l > ahead) l = ahead;
    v->vtime_ = c.vclock + uint64_t(l);
    poke(v->cpu_, cpu);
    ++v->migrations_;
    enqueue(c, *v);
    add_load(c, *v);
    c.need_resched = c.need_resched || !c.current;
    ++c.stats.pulled;
    return true;
}

}  // namespace hv::sched
