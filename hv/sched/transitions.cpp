// Registration and the vCPU state transitions the kernel calls: wake, block,
// pause, unpause, remove, set_affinity, attach. Every entry point checks its
// arguments and the current state first and returns an error without
// changing anything when they do not fit.
#include "hv/sched/scheduler.hpp"
#include "hv/sched/vtime.hpp"

namespace hv::sched {

using lib::Error;
using lib::err;

// ---------------------------------------------------------------- groups

lib::Status Scheduler::add_group(SchedGroup& g, uint32_t weight, uint32_t cap, void* owner)
{
    if (g.sched_) return err(Error::exists);
    if (weight < min_weight || weight > max_weight) return err(Error::out_of_range);
    if (cap > 100 * cpu_count_) return err(Error::out_of_range);
    g.sched_ = this;
    g.owner_ = owner;
    poke(g.weight_, weight);
    poke(g.cap_, cap);
    for (auto& m : g.members_) poke(m, nullptr);
    poke(g.count_, 0u);
    poke(g.rr_cursor_, 0u);
    g.cap_period_ = 0;
    g.cap_used_ = 0;
    g.next_ = groups_;
    groups_ = &g;
    return {};
}

lib::Status Scheduler::set_group_params(SchedGroup& g, uint32_t weight, uint32_t cap)
{
    if (g.sched_ != this) return err(Error::not_found);
    if (weight < min_weight || weight > max_weight) return err(Error::out_of_range);
    if (cap > 100 * cpu_count_) return err(Error::out_of_range);
    poke(g.weight_, weight);
    poke(g.cap_, cap);
    return {};
}

lib::Status Scheduler::remove_group(SchedGroup& g)
{
    if (g.sched_ != this) return err(Error::not_found);
    if (g.vcpu_count()) return err(Error::busy);
    for (SchedGroup** p = &groups_; *p; p = &(*p)->next_)
        if (*p == &g) {
            *p = g.next_;
            break;
        }
    g.next_ = nullptr;
    g.sched_ = nullptr;
    return {};
}

// ---------------------------------------------------------------- helpers

void Scheduler::enqueue(Cpu& c, SchedVcpu& v)
{
    c.queue.insert(v);
    poke(c.nr_queued, c.queue.size());
}

void Scheduler::dequeue(Cpu& c, SchedVcpu& v)
{
    c.queue.remove(v);
    poke(c.nr_queued, c.queue.size());
    if (c.run_next == &v) c.run_next = nullptr;
}

// A vCPU's load is its weight, scaled down when its group's cap lets each
// of its vCPUs use less than a whole CPU (cap 50 over 2 vCPUs: a quarter),
// so balancing does not pair a busy vCPU with one that mostly waits.
void Scheduler::add_load(Cpu& c, SchedVcpu& v)
{
    if (v.load_weight_) return;
    uint64_t w = v.group_->weight();
    uint64_t cap = v.group_->cap(), per_cpu = 100 * uint64_t(v.group_->vcpu_count());
    if (cap && cap < per_cpu) w = w * cap / per_cpu;
    v.load_weight_ = uint32_t(w ? w : 1);
    poke(c.load, c.load + v.load_weight_);
}

void Scheduler::drop_load(Cpu& c, SchedVcpu& v)
{
    poke(c.load, c.load - v.load_weight_);
    v.load_weight_ = 0;
}

// The allowed CPU to move v to: its own if allowed, else an idle one with
// the least load, else the least loaded. Reads other CPUs racily.
unsigned Scheduler::choose_cpu(const SchedVcpu& v) const
{
    if (v.affinity_.test(v.cpu_) && v.cpu_ < cpu_count_) return v.cpu_;
    unsigned best = max_cpus;
    bool best_idle = false;
    uint64_t best_load = 0;
    for (unsigned c = v.affinity_.first(); c < cpu_count_; c = v.affinity_.next(c + 1)) {
        bool idle = peek(cpus_[c].idle);
        uint64_t load = peek(cpus_[c].load);
        if (best == max_cpus || (idle && !best_idle) || (idle == best_idle && load < best_load)) {
            best = c;
            best_idle = idle;
            best_load = load;
        }
    }
    return best;  // the mask is never empty and always within cpu_count_
}

uint16_t Scheduler::idle_cpu_for(const SchedVcpu& v, unsigned except) const
{
    for (unsigned c = v.affinity_.first(); c < cpu_count_; c = v.affinity_.next(c + 1))
        if (c != except && peek(cpus_[c].idle)) return uint16_t(c);
    return no_cpu;
}

namespace {
// A vCPU's position relative to its queue's clock, bounded so a migrating
// or long-absent vCPU neither jumps far ahead nor is pushed far back.
int64_t bounded_lag(uint64_t vtime, uint64_t vclock, uint64_t behind, uint64_t ahead)
{
    int64_t lag = int64_t(vtime - vclock);
    if (lag < -int64_t(behind)) lag = -int64_t(behind);
    if (lag > int64_t(ahead)) lag = int64_t(ahead);
    return lag;
}
}  // namespace

// Takes v (runnable, in no queue, not running) off `cpu` towards `dst`: its
// virtual time is kept relative to the old clock until attach().
void Scheduler::detach(unsigned cpu, SchedVcpu& v, unsigned dst)
{
    Cpu& c = cpus_[cpu];
    v.vtime_ = uint64_t(bounded_lag(v.vtime_, c.vclock, wake_credit_vt(), 2 * ns(cfg_.slice_us)));
    poke(v.in_transit_, true);
    poke(v.cpu_, dst);
    ++v.migrations_;
}

// v (runnable, unpaused, in no queue, v.cpu_ == cpu) joins cpu's queue.
// Its virtual time is kept within [clock - wake credit, clock + 2 slices]:
// a vCPU that was away (blocked, paused) cannot claim the time it missed.
Kick Scheduler::make_runnable(unsigned cpu, SchedVcpu& v, uint64_t now, bool woke)
{
    Cpu& c = touch(cpu);
    v.vtime_ = c.vclock + uint64_t(bounded_lag(v.vtime_, c.vclock, wake_credit_vt(), 2 * ns(cfg_.slice_us)));
    v.boosted_ = false;
    poke(v.preempted_, false);
    v.yielded_ = false;
    enqueue(c, v);
    add_load(c, v);
    Kick k;
    if (!c.current) {
        c.need_resched = true;
        k.resched_cpu = uint16_t(cpu);
    } else if (uint16_t idle = idle_cpu_for(v, cpu); idle != no_cpu) {
        // Busy here, idle there: let the idle CPU steal it rather than
        // preempt (if the steal loses a race, it runs here in turn).
        k.idle_cpu = idle;
    } else if (woke && !c.current->boosted_) {
        // Wake boost: preempt a vCPU that is further along than the wakee.
        charge(*c.current, now);
        if (vt_before(v.vtime_, c.current->vtime_)) {
            v.boosted_ = true;
            c.need_resched = true;
            k.resched_cpu = uint16_t(cpu);
            ++c.stats.wake_preemptions;
        }
    }
    return k;
}

// ---------------------------------------------------------------- vCPUs

lib::Status Scheduler::add_vcpu(SchedVcpu& v, SchedGroup& g, const CpuMask& affinity, void* owner)
{
    if (v.sched_) return err(Error::exists);
    if (g.sched_ != this) return err(Error::not_found);
    if (affinity.empty()) return err(Error::invalid);
    if (!affinity.within(cpu_count_)) return err(Error::out_of_range);
    unsigned slot = 0;
    while (slot < max_group_vcpus && g.members_[slot]) ++slot;
    if (slot == max_group_vcpus) return err(Error::no_memory);

    v.prev_ = v.next_ = nullptr;
    v.group_ = &g;
    v.owner_ = owner;
    v.affinity_ = affinity;
    v.vtime_ = 0;
    v.last_charge_ = v.dispatched_at_ = v.slice_end_ = 0;
    v.runtime_ns_ = v.migrations_ = v.dispatches_ = 0;
    v.load_weight_ = 0;
    poke(v.cpu_, affinity.first());
    poke(v.cpu_, choose_cpu(v));
    poke(v.pause_count_, 0);
    v.slot_ = uint8_t(slot);
    poke(v.run_, SchedVcpu::offline);
    v.queued_ = false;
    poke(v.in_transit_, false);
    poke(v.preempted_, false);
    v.yielded_ = v.boosted_ = false;
    poke(v.spinning_, false);
    v.sched_ = this;
    poke(g.members_[slot], &v);
    poke(g.count_, g.count_ + 1);
    ++vcpu_count_;
    return {};
}

lib::Status Scheduler::remove_vcpu(SchedVcpu& v)
{
    if (!registered(v)) return err(Error::not_found);
    if (v.run_ == SchedVcpu::running || v.in_transit_) return err(Error::busy);
    Cpu& c = touch(v.cpu_);
    if (v.queued_) {
        dequeue(c, v);
        drop_load(c, v);
    }
    if (c.run_next == &v) c.run_next = nullptr;
    SchedGroup& g = *v.group_;
    poke(g.members_[v.slot_], nullptr);
    poke(g.count_, g.count_ - 1);
    --vcpu_count_;
    poke(v.run_, SchedVcpu::offline);
    v.sched_ = nullptr;
    v.group_ = nullptr;
    return {};
}

lib::Result<Kick> Scheduler::wake(SchedVcpu& v, uint64_t now)
{
    if (!registered(v)) return err(Error::not_found);
    if (v.run_ == SchedVcpu::running || v.run_ == SchedVcpu::runnable || v.in_transit_) return err(Error::invalid);
    touch(v.cpu_);
    poke(v.run_, SchedVcpu::runnable);
    if (v.pause_count_) return Kick{};  // runs once unpaused
    return make_runnable(v.cpu_, v, now, true);
}

// v just left `cpu` without joining a queue (blocked, or paused while
// running). If its affinity changed while it ran, its home moves now, so a
// later wake or unpause queues it where it may run.
void Scheduler::rehome(unsigned cpu, SchedVcpu& v)
{
    if (v.affinity_.test(cpu)) return;
    unsigned dst = choose_cpu(v);
    int64_t lag = bounded_lag(v.vtime_, cpus_[cpu].vclock, wake_credit_vt(), 2 * ns(cfg_.slice_us));
    v.vtime_ = peek(cpus_[dst].vclock) + uint64_t(lag);
    poke(v.cpu_, dst);
    ++v.migrations_;
}

lib::Status Scheduler::block(SchedVcpu& v, uint64_t now)
{
    if (!registered(v)) return err(Error::not_found);
    if (v.run_ != SchedVcpu::running) return err(Error::invalid);
    unsigned cpu = v.cpu_;
    Cpu& c = touch(cpu);
    charge(v, now);
    c.current = nullptr;
    drop_load(c, v);
    rehome(cpu, v);
    poke(v.run_, SchedVcpu::blocked);
    v.boosted_ = false;
    poke(v.preempted_, false);
    c.need_resched = true;
    return {};
}

lib::Result<Kick> Scheduler::pause(SchedVcpu& v)
{
    if (!registered(v)) return err(Error::not_found);
    if (v.pause_count_ == UINT16_MAX) return err(Error::out_of_range);
    Cpu& c = touch(v.cpu_);
    poke(v.pause_count_, v.pause_count_ + 1);
    Kick k;
    if (v.queued_) {
        dequeue(c, v);
        drop_load(c, v);
    } else if (v.run_ == SchedVcpu::running) {
        c.need_resched = true;
        k.resched_cpu = uint16_t(v.cpu_);
    }
    return k;
}

lib::Result<Kick> Scheduler::unpause(SchedVcpu& v, uint64_t now)
{
    if (!registered(v)) return err(Error::not_found);
    if (v.pause_count_ == 0) return err(Error::invalid);
    touch(v.cpu_);
    poke(v.pause_count_, v.pause_count_ - 1);
    if (v.pause_count_ || v.run_ != SchedVcpu::runnable || v.queued_ || v.in_transit_) return Kick{};
    return make_runnable(v.cpu_, v, now, false);
}

lib::Result<AffinityChange> Scheduler::set_affinity(SchedVcpu& v, const CpuMask& mask, uint64_t now)
{
    (void)now;
    if (!registered(v)) return err(Error::not_found);
    if (mask.empty()) return err(Error::invalid);
    if (!mask.within(cpu_count_)) return err(Error::out_of_range);
    unsigned cpu = v.cpu_;
    Cpu& c = touch(cpu);
    v.affinity_ = mask;
    AffinityChange out;
    if (mask.test(cpu)) {
        // Stays; if it waits in a queue, an idle CPU now allowed may take it.
        if (v.queued_) out.kick.idle_cpu = idle_cpu_for(v, cpu);
        return out;
    }
    if (v.in_transit_) {
        // Not yet attached: aim it elsewhere; whoever attaches re-reads v.cpu().
        poke(v.cpu_, choose_cpu(v));
    } else if (v.run_ == SchedVcpu::running) {
        c.need_resched = true;  // pick_next hands it over (Decision::migrate)
        out.kick.resched_cpu = uint16_t(cpu);
    } else if (v.queued_) {
        dequeue(c, v);
        drop_load(c, v);
        detach(cpu, v, choose_cpu(v));
        out.attach_needed = true;
    } else {
        // Blocked, paused or offline: only its home moves, keeping its place
        // relative to the old clock (the new one is read racily: a hint).
        rehome(cpu, v);
    }
    return out;
}

lib::Result<Kick> Scheduler::attach(SchedVcpu& v, uint64_t now)
{
    if (!registered(v)) return err(Error::not_found);
    if (!v.in_transit_) return err(Error::invalid);
    unsigned cpu = v.cpu_;
    Cpu& c = touch(cpu);
    if (!v.affinity_.test(cpu)) {
        poke(v.cpu_, choose_cpu(v));
        return err(Error::busy);
    }
    v.vtime_ += c.vclock;  // detach() left it relative to the old clock
    poke(v.in_transit_, false);
    if (v.pause_count_ || v.run_ != SchedVcpu::runnable) return Kick{};
    return make_runnable(cpu, v, now, false);
}

VcpuState Scheduler::state(const SchedVcpu& v) const
{
    if (!registered(v)) return VcpuState::offline;
    switch (peek(v.run_)) {
    case SchedVcpu::running: return VcpuState::running;
    case SchedVcpu::offline: return peek(v.pause_count_) ? VcpuState::paused : VcpuState::offline;
    case SchedVcpu::blocked: return peek(v.pause_count_) ? VcpuState::paused : VcpuState::blocked;
    default: return peek(v.pause_count_) ? VcpuState::paused : VcpuState::runnable;
    }
}

}  // namespace hv::sched
