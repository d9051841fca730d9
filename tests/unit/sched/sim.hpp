// A discrete-event simulation of N physical CPUs running M vCPUs under
// hv::sched::Scheduler, with a fake nanosecond clock. It plays the kernel:
// per-CPU run loops, one-shot timers (Decision::until), reschedule IPIs
// (Kick), HLT exits (block), PAUSE-loop exits (yield_to), stealing and
// balancing, following the locking rules of scheduler.hpp: every call is
// made holding the run-queue locks the header names, and the scheduler's
// lock-check hook fails the test if it touches a queue whose lock is not
// held. After every step the scheduler's invariants and every running
// vCPU's affinity are checked.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "hv/sched/scheduler.hpp"

namespace simt {

using hv::sched::CpuMask;
using hv::sched::Kick;
using hv::sched::no_cpu;
using hv::sched::SchedConfig;
using hv::sched::SchedGroup;
using hv::sched::Scheduler;
using hv::sched::SchedVcpu;

constexpr uint64_t us = 1000;
constexpr uint64_t ms = 1000 * us;
constexpr uint64_t sec = 1000 * ms;
constexpr uint64_t never = UINT64_MAX;

class Sim;
struct SimVcpu;

// What a vCPU does with the CPU while it runs.
enum class Action { none, block, pause_exit };

struct Behavior {
    virtual ~Behavior() = default;
    // Running time until its next event (never: runs until preempted).
    virtual uint64_t next_event(const SimVcpu&) const { return never; }
    virtual void progress(SimVcpu&, uint64_t) {}
    // Its event came: block (for SimVcpu::sleep_for), PAUSE-loop exit, or none.
    virtual Action event(Sim&, SimVcpu&) { return Action::none; }
    virtual void dispatched(Sim&, SimVcpu&) {}
    virtual void woke(SimVcpu&) {}
};

// Always runnable.
struct Hog : Behavior {};

// Runs `burst` of CPU time, then blocks for `sleep` (an I/O-bound vCPU).
struct Io : Behavior {
    uint64_t burst, sleep, left;
    Io(uint64_t b, uint64_t s) : burst(b), sleep(s), left(b) {}
    uint64_t next_event(const SimVcpu&) const override { return left; }
    void progress(SimVcpu&, uint64_t ns) override { left -= std::min(left, ns); }
    Action event(Sim&, SimVcpu&) override;
    void woke(SimVcpu&) override { left = burst; }
};

struct SimVcpu {
    SchedVcpu s;
    int id = 0;
    SchedGroup* group = nullptr;
    std::unique_ptr<Behavior> behavior;
    uint64_t wake_at = never;  // blocked: when its event arrives
    uint64_t sleep_for = 0;    // set by Behavior::event before Action::block
    uint64_t ran = 0;          // measured by the simulation
    std::array<uint64_t, 8> ran_on{};
    // Wake-to-run latency.
    bool waiting = false;
    uint64_t woke_at = 0, wakes = 0, max_latency = 0, sum_latency = 0;
    // Longest time runnable without running (checked at every event).
    uint64_t runnable_since = never, max_wait = 0;
};

class Sim {
public:
    struct PCpu {
        SimVcpu* cur = nullptr;
        uint64_t until = 0;  // armed timer, 0 = none
        uint64_t since = 0;  // cur's progress accounted up to here
        bool ipi = false;
    };

    Scheduler sched;
    unsigned ncpu;
    uint64_t now = 0;
    std::vector<PCpu> cpus;
    std::vector<std::unique_ptr<SimVcpu>> vcpus;
    std::vector<std::unique_ptr<SchedGroup>> groups;
    std::array<bool, hv::sched::max_cpus> held{};
    int lock_violations = 0;
    bool check_every_step = true;
    uint64_t steps = 0, affinity_checks = 0;

    explicit Sim(unsigned n, SchedConfig cfg = {}) : ncpu(n), cpus(n)
    {
        EXPECT_TRUE(sched.init(n, cfg).ok());
        sched.set_lock_check(
            [](void* ctx, unsigned cpu) {
                auto* self = static_cast<Sim*>(ctx);
                if (!self->held[cpu]) {
                    if (++self->lock_violations < 5) ADD_FAILURE() << "queue of CPU " << cpu << " touched without its lock";
                }
            },
            this);
    }
    ~Sim() { EXPECT_EQ(lock_violations, 0); }

    // Locks (ascending order, like the kernel) -----------------------------
    void lock(unsigned a) { lock2(a, a); }
    void lock2(unsigned a, unsigned b)
    {
        EXPECT_FALSE(held[a]);
        held[a] = true;
        if (b != a) {
            EXPECT_FALSE(held[b]);
            held[b] = true;
        }
    }
    void unlock_all() { held.fill(false); }
    void lock_all() { held.fill(true); }

    // Setup -------------------------------------------------------------------
    SchedGroup& group(uint32_t weight = 256, uint32_t cap = 0)
    {
        groups.push_back(std::make_unique<SchedGroup>());
        EXPECT_TRUE(sched.add_group(*groups.back(), weight, cap).ok());
        return *groups.back();
    }
    SimVcpu& vcpu(SchedGroup& g, std::unique_ptr<Behavior> b = nullptr, CpuMask mask = {})
    {
        if (mask.empty()) mask = CpuMask::first_n(ncpu);
        vcpus.push_back(std::make_unique<SimVcpu>());
        SimVcpu& v = *vcpus.back();
        v.id = int(vcpus.size()) - 1;
        v.group = &g;
        v.behavior = b ? std::move(b) : std::make_unique<Hog>();
        EXPECT_TRUE(sched.add_vcpu(v.s, g, mask, &v).ok());
        return v;
    }
    static SimVcpu* of(SchedVcpu* s) { return s ? static_cast<SimVcpu*>(s->owner()) : nullptr; }

    // Kernel paths --------------------------------------------------------------
    void kick(const Kick& k)
    {
        if (k.resched_cpu != no_cpu) cpus[k.resched_cpu].ipi = true;
        if (k.idle_cpu != no_cpu) cpus[k.idle_cpu].ipi = true;
    }
    void wake(SimVcpu& v)
    {
        lock(v.s.cpu());
        auto k = sched.wake(v.s, now);
        unlock_all();
        ASSERT_TRUE(k.ok());
        v.behavior->woke(v);
        v.waiting = true;
        v.woke_at = now;
        ++v.wakes;
        kick(*k);
        process_ipis();  // the IPIs are taken at once
    }
    void attach(SchedVcpu& m)
    {
        for (int tries = 0; tries < 4; ++tries) {
            lock(m.cpu());
            auto k = sched.attach(m, now);
            unlock_all();
            if (k.ok()) {
                kick(*k);
                return;
            }
            ASSERT_EQ(k.error(), lib::Error::busy);
        }
        FAIL() << "attach kept failing";
    }
    void pin(SimVcpu& v, const CpuMask& m)
    {
        lock(v.s.cpu());
        auto r = sched.set_affinity(v.s, m, now);
        unlock_all();
        ASSERT_TRUE(r.ok());
        kick(r->kick);
        if (r->attach_needed) attach(v.s);
        process_ipis();
    }
    // The run loop's decision on `cpu`, with stealing when it would idle.
    void decide(unsigned cpu, int depth = 0)
    {
        lock(cpu);
        auto d = sched.pick_next(cpu, now);
        unlock_all();
        PCpu& p = cpus[cpu];
        p.cur = of(d.next);
        p.since = now;
        p.until = d.until;
        if (d.migrate) attach(*d.migrate);
        if (!d.next && depth == 0) {
            for (int src = sched.next_steal_source(cpu, -1); src >= 0; src = sched.next_steal_source(cpu, src)) {
                lock2(std::min(cpu, unsigned(src)), std::max(cpu, unsigned(src)));
                bool ok = sched.pull(cpu, unsigned(src), now, hv::sched::PullKind::steal);
                unlock_all();
                if (ok) {
                    decide(cpu, depth + 1);
                    return;
                }
            }
        }
        if (SimVcpu* v = p.cur) {
            EXPECT_TRUE(v->s.affinity().test(cpu)) << "vCPU " << v->id << " dispatched on CPU " << cpu;
            if (v->waiting) {
                uint64_t lat = now - v->woke_at;
                if (getenv("SIM_TRACE") && lat > 1000000)
                    std::printf("t=%lu vcpu %d latency %lu on cpu %u\n", (unsigned long)now, v->id, (unsigned long)lat, cpu);
                v->max_latency = std::max(v->max_latency, lat);
                v->sum_latency += lat;
                v->waiting = false;
            }
            v->behavior->dispatched(*this, *v);
        }
    }
    void process_ipis()
    {
        for (int round = 0; round < 16; ++round) {
            bool any = false;
            for (unsigned c = 0; c < ncpu; ++c) {
                if (!cpus[c].ipi) continue;
                cpus[c].ipi = false;
                any = true;
                lock(c);
                bool r = sched.tick(c, now);
                unlock_all();
                if (r || !cpus[c].cur) decide(c);
            }
            if (!any) return;
        }
    }
    void pause_exit(unsigned cpu, SimVcpu& v)
    {
        // Hint without locks, then both locks, then the checked call.
        SchedVcpu* t = sched.config().directed_yield ? sched.yield_candidate(v.s) : nullptr;
        unsigned tc = t ? t->cpu() : cpu;
        lock2(std::min(cpu, tc), std::max(cpu, tc));
        auto r = sched.yield_to(v.s, t, now);
        unlock_all();
        ASSERT_TRUE(r.ok());
        kick(r->kick);
        decide(cpu);
    }
    void balance(unsigned cpu)
    {
        int src = sched.balance_source(cpu);
        if (src < 0) return;
        lock2(std::min(cpu, unsigned(src)), std::max(cpu, unsigned(src)));
        bool moved = sched.pull(cpu, unsigned(src), now, hv::sched::PullKind::balance);
        unlock_all();
        if (moved && !cpus[cpu].cur) cpus[cpu].ipi = true;
    }

    // The clock -------------------------------------------------------------
    void advance_to(uint64_t t)
    {
        for (unsigned c = 0; c < ncpu; ++c) {
            PCpu& p = cpus[c];
            if (p.cur) {
                uint64_t d = t - p.since;
                p.cur->ran += d;
                p.cur->ran_on[c % 8] += d;
                p.cur->behavior->progress(*p.cur, d);
            }
            p.since = t;
        }
        now = t;
    }
    // One event step, never past `end`.
    void step(uint64_t end)
    {
        uint64_t next = end;
        for (auto& p : cpus) {
            if (p.until) next = std::min(next, std::max(p.until, now));
            if (p.cur) {
                uint64_t e = p.cur->behavior->next_event(*p.cur);
                if (e != never) next = std::min(next, now + e);
            }
        }
        for (auto& v : vcpus) next = std::min(next, std::max(v->wake_at, now));
        advance_to(next);
        ++steps;
        for (unsigned c = 0; c < ncpu; ++c) {
            PCpu& p = cpus[c];
            if (p.cur && p.cur->behavior->next_event(*p.cur) == 0) {
                SimVcpu& v = *p.cur;
                switch (v.behavior->event(*this, v)) {
                case Action::block:
                    lock(c);
                    ASSERT_TRUE(sched.block(v.s, now).ok());
                    unlock_all();
                    v.wake_at = v.sleep_for == never ? never : now + v.sleep_for;
                    decide(c);
                    break;
                case Action::pause_exit: pause_exit(c, v); break;
                case Action::none: break;
                }
            }
            if (p.until && p.until <= now) {
                p.until = 0;
                lock(c);
                auto a = sched.on_timer(c, now);
                unlock_all();
                if (a.balance) balance(c);
                if (a.resched || !p.cur) decide(c);
                else if (p.cur) p.until = 0;  // nothing to do: the real kernel re-arms at slice end
            }
        }
        for (auto& v : vcpus)
            if (v->wake_at <= now) {
                v->wake_at = never;
                wake(*v);
            }
        process_ipis();
        // A running vCPU whose timer was consumed without a decision would run
        // forever: give it one at its slice end.
        for (unsigned c = 0; c < ncpu; ++c)
            if (cpus[c].cur && !cpus[c].until) {
                lock(c);
                bool r = sched.tick(c, now);
                unlock_all();
                if (r) decide(c);
                else cpus[c].until = now + sched.config().slice_us * us;
            }
        if (check_every_step) check();
    }
    void run_for(uint64_t d)
    {
        uint64_t end = now + d;
        while (now < end && !HasFatalFailure()) step(end);
    }
    template <typename Pred> bool run_until(Pred done, uint64_t limit)
    {
        uint64_t end = now + limit;
        while (now < end && !done() && !HasFatalFailure()) step(end);
        return done();
    }
    void check()
    {
        lock_all();
        const char* why = nullptr;
        auto s = sched.check_invariants(&why);
        unlock_all();
        ASSERT_TRUE(s.ok()) << why << " at t=" << now;
        for (auto& v : vcpus) {
            if (v->s.group() && sched.state(v->s) == hv::sched::VcpuState::runnable) {
                if (v->runnable_since == never) v->runnable_since = now;
                v->max_wait = std::max(v->max_wait, now - v->runnable_since);
            } else {
                v->runnable_since = never;
            }
        }
        for (unsigned c = 0; c < ncpu; ++c) {
            ASSERT_EQ(of(sched.current(c)), cpus[c].cur);
            if (cpus[c].cur) {
                ++affinity_checks;
                ASSERT_TRUE(cpus[c].cur->s.affinity().test(c))
                    << "vCPU " << cpus[c].cur->id << " runs on CPU " << c << " outside its affinity at t=" << now;
            }
        }
    }
    static bool HasFatalFailure() { return ::testing::Test::HasFatalFailure(); }
};

inline Action Io::event(Sim&, SimVcpu& v)
{
    v.sleep_for = sleep;
    return Action::block;
}

}  // namespace simt
