// init() and the consistency check the tests run after every step (and a
// debug kernel may run under all locks).
#include "hv/sched/scheduler.hpp"
#include "hv/sched/vtime.hpp"

namespace hv::sched {

lib::Status Scheduler::init(unsigned cpu_count, const SchedConfig& cfg)
{
    if (cpu_count == 0 || cpu_count > max_cpus) return lib::err(lib::Error::out_of_range);
    if (groups_ || vcpu_count_) return lib::err(lib::Error::busy);
    TRY(validate(cfg));
    cfg_ = cfg;
    cpu_count_ = cpu_count;
    for (Cpu& c : cpus_) {
        c.queue = RunQueue{};
        c.current = c.run_next = nullptr;
        c.vclock = 0;
        c.next_balance = 0;
        c.load = 0;
        c.nr_queued = 0;
        c.need_resched = false;
        c.idle = true;
        c.stats = CpuStats{};
    }
    return {};
}

lib::Status Scheduler::check_invariants(const char** why) const
{
    auto fail = [why](const char* what) {
        if (why) *why = what;
        return lib::err(lib::Error::corrupt);
    };
    uint32_t seen_queued = 0, seen_running = 0;
    for (unsigned i = 0; i < cpu_count_; ++i) {
        const Cpu& c = cpus_[i];
        uint64_t load = 0;
        uint32_t n = 0;
        const SchedVcpu* prev = nullptr;
        for (const SchedVcpu* q = c.queue.first(); q; q = RunQueue::next(*q)) {
            if (++n > c.queue.size()) return fail("queue longer than its size (cycle?)");
            if (RunQueue::prev(*q) != prev) return fail("queue back link broken");
            if (!registered(*q)) return fail("unregistered vCPU in a queue");
            if (!q->queued_) return fail("queued vCPU not marked queued");
            if (q->cpu_ != i) return fail("queued vCPU's cpu is not its queue's");
            if (q->run_ != SchedVcpu::runnable) return fail("queued vCPU not runnable");
            if (q->pause_count_) return fail("paused vCPU in a queue");
            if (q->in_transit_) return fail("vCPU in transit and queued");
            if (q == c.current) return fail("running vCPU in a queue");
            if (!q->affinity_.test(i)) return fail("queued outside its affinity");
            if (q->load_weight_ == 0) return fail("queued vCPU not counted in load");
            if (prev && vt_before(q->vtime_, prev->vtime_)) return fail("queue out of virtual-time order");
            load += q->load_weight_;
            prev = q;
        }
        if (n != c.queue.size() || c.queue.last() != prev) return fail("queue size or tail wrong");
        if (c.nr_queued != n) return fail("nr_queued stale");
        seen_queued += n;
        if (const SchedVcpu* r = c.current) {
            if (!registered(*r) || r->run_ != SchedVcpu::running) return fail("current not running");
            if (r->cpu_ != i) return fail("current's cpu is not this CPU");
            if (r->queued_ || r->in_transit_) return fail("current queued or in transit");
            if (!r->affinity_.test(i) && !c.need_resched) return fail("running outside affinity, no resched pending");
            load += r->load_weight_;
            ++seen_running;
        }
        if (c.run_next && (!c.run_next->queued_ || c.run_next->cpu_ != i)) return fail("run_next not queued here");
        if (load != c.load) return fail("load is not the sum of its vCPUs' weights");
        if (c.current && c.idle) return fail("idle CPU with a current vCPU");
    }
    uint32_t members = 0, queued = 0, running = 0;
    for (const SchedGroup* g = groups_; g; g = g->next_) {
        if (g->sched_ != this) return fail("foreign group in the list");
        uint32_t count = 0;
        for (unsigned s = 0; s < max_group_vcpus; ++s) {
            const SchedVcpu* v = g->members_[s];
            if (!v) continue;
            ++count;
            if (!registered(*v) || v->group_ != g || v->slot_ != s) return fail("group member table wrong");
            if (v->cpu_ >= cpu_count_) return fail("vCPU on a CPU out of range");
            if (v->affinity_.empty() || !v->affinity_.within(cpu_count_)) return fail("bad affinity");
            bool is_current = cpus_[v->cpu_].current == v;
            if ((v->run_ == SchedVcpu::running) != is_current) return fail("running iff current of its CPU");
            if (v->queued_) ++queued;
            if (is_current) ++running;
            if (!v->queued_ && !is_current && v->load_weight_) return fail("idle vCPU still counted in load");
            if (v->run_ == SchedVcpu::runnable && !v->pause_count_ && !v->queued_ && !v->in_transit_)
                return fail("runnable vCPU lost: in no queue");
            if (v->run_ != SchedVcpu::runnable && v->queued_) return fail("not runnable but queued");
            if (v->in_transit_ && v->run_ != SchedVcpu::runnable) return fail("in transit but not runnable");
        }
        if (count != g->count_) return fail("group count wrong");
        members += count;
    }
    if (members != vcpu_count_) return fail("registered vCPU count wrong");
    if (queued != seen_queued) return fail("a queued vCPU is not in its CPU's queue");
    if (running != seen_running) return fail("running vCPU count mismatch");
    if (why) *why = nullptr;
    return {};
}

}  // namespace hv::sched
