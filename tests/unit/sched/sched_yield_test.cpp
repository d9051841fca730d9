// Directed yield for PAUSE-loop exits: which sibling is preferred (preempted,
// not blocked in HLT, not freshly woken, not itself spinning), the round-robin
// start point, moving the target to the yielding CPU or boosting it where it
// is pinned, the off switch, and a spin-lock contention simulation where the
// lock holder gets preempted: completion with directed yield on vs off.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/unit/sched/sim.hpp"

using namespace simt;
using hv::sched::Decision;
using hv::sched::VcpuState;

namespace {

class Yield : public ::testing::Test {
protected:
    Scheduler s;
    SchedGroup dom, other;
    SchedVcpu v[4];  // A B C D of `dom`
    SchedVcpu hog;   // in `other`
    uint64_t now = 0;

    void init(unsigned cpus, bool directed)
    {
        SchedConfig cfg;
        cfg.directed_yield = directed;
        ASSERT_TRUE(s.init(cpus, cfg).ok());
        ASSERT_TRUE(s.add_group(dom).ok());
        ASSERT_TRUE(s.add_group(other).ok());
    }
    void add(SchedVcpu& x, SchedGroup& g, CpuMask m = CpuMask::single(0)) { ASSERT_TRUE(s.add_vcpu(x, g, m).ok()); }
    SchedVcpu* pick(unsigned cpu = 0) { return s.pick_next(cpu, now).next; }
    void check()
    {
        const char* why = nullptr;
        ASSERT_TRUE(s.check_invariants(&why).ok()) << why;
    }
};

}  // namespace

TEST_F(Yield, PrefersAPreemptedSiblingNotABlockedOrFreshOne)
{
    init(1, true);
    for (auto& x : v) add(x, dom);
    for (auto& x : v) ASSERT_TRUE(s.wake(x, now).ok());
    ASSERT_EQ(pick(), &v[0]);  // A runs
    now += 30 * ms;
    ASSERT_EQ(pick(), &v[1]);  // A preempted at its slice end, B runs
    now += 1 * ms;
    ASSERT_TRUE(s.block(v[1], now).ok());  // B halts (HLT)
    ASSERT_EQ(pick(), &v[2]);              // C runs; D woke but never ran
    // C spins: A is the only preempted sibling. B is blocked, D fresh.
    EXPECT_EQ(s.yield_candidate(v[2]), &v[0]);
    auto r = s.yield_to_sibling(v[2], now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->target, &v[0]);
    EXPECT_TRUE(r->run_here);
    EXPECT_EQ(pick(), &v[0]);  // ahead of D, whose virtual time is lower
    EXPECT_EQ(s.stats(0).directed_yields, 1u);
    check();
    // A blocked candidate passed explicitly is refused: plain yield.
    now += 1 * ms;
    auto r2 = s.yield_to(v[0], &v[1], now);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->target, nullptr);
    EXPECT_EQ(s.state(v[1]), VcpuState::blocked);
    check();
}

TEST_F(Yield, RotatesAmongPreemptedSiblings)
{
    init(1, true);
    for (auto& x : v) add(x, dom);
    for (auto& x : v) ASSERT_TRUE(s.wake(x, now).ok());
    // Each runs one slice: then all but the running one were preempted.
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(pick(), &v[i % 4]);
        now += 30 * ms;
    }
    // Now A runs (picked at the 5th decision). Spinners hand over in turn:
    // the start point moves past the last choice, so B, C, D, not B, B, B.
    SchedVcpu* expect[] = {&v[1], &v[2], &v[3]};
    SchedVcpu* spinner = &v[0];
    for (SchedVcpu* want : expect) {
        now += 100 * us;
        auto r = s.yield_to_sibling(*spinner, now);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->target, want);
        spinner = pick();
        EXPECT_EQ(spinner, want);
        check();
    }
    // D spins too: A, B, C all spun last (not lock holders): plain yield.
    now += 100 * us;
    EXPECT_EQ(s.yield_candidate(*spinner), nullptr);
}

TEST_F(Yield, TwoSpinnersDoNotAlwaysPickTheSameCandidate)
{
    // Two CPUs; spinners S0 on CPU 0 and S1 on CPU 1; candidates P and Q
    // preempted on CPU 0 and 1. The first yield takes P, the next starts after P.
    init(2, true);
    SchedVcpu& s0 = v[0];
    SchedVcpu& p = v[1];
    SchedVcpu& s1 = v[2];
    SchedVcpu& q = v[3];
    add(s0, dom, CpuMask::single(0));
    add(p, dom, CpuMask::single(0));
    add(s1, dom, CpuMask::single(1));
    add(q, dom, CpuMask::single(1));
    for (auto* x : {&p, &s0}) ASSERT_TRUE(s.wake(*x, now).ok());
    for (auto* x : {&q, &s1}) ASSERT_TRUE(s.wake(*x, now).ok());
    ASSERT_EQ(pick(0), &p);
    ASSERT_EQ(pick(1), &q);
    now += 30 * ms;
    ASSERT_EQ(pick(0), &s0);  // p preempted
    ASSERT_EQ(pick(1), &s1);  // q preempted
    auto r0 = s.yield_to_sibling(s0, now);
    ASSERT_TRUE(r0.ok());
    EXPECT_EQ(r0->target, &p);  // slot 1 comes first from slot 0+1
    // S1's search starts after P's slot: Q, although P... is it still a
    // candidate? P is about to run on CPU 0 but still queued: the rotation
    // is what makes S1 go for Q.
    EXPECT_EQ(s.yield_candidate(s1), &q);
}

TEST_F(Yield, OffSwitchMakesItAPlainYield)
{
    init(1, false);
    for (auto& x : v) add(x, dom);
    for (auto& x : v) ASSERT_TRUE(s.wake(x, now).ok());
    ASSERT_EQ(pick(), &v[0]);
    now += 30 * ms;
    ASSERT_EQ(pick(), &v[1]);
    now += 1 * ms;
    ASSERT_TRUE(s.block(v[1], now).ok());
    ASSERT_EQ(pick(), &v[2]);
    auto r = s.yield_to_sibling(v[2], now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->target, nullptr);
    // Plain yield: the next in virtual-time order (D, which never ran), not
    // the preempted A, and not C itself.
    EXPECT_EQ(pick(), &v[3]);
    EXPECT_EQ(s.stats(0).directed_yields, 0u);
    EXPECT_EQ(s.stats(0).yields, 1u);
    // Even an explicit target is ignored when the switch is off.
    now += 1 * ms;
    auto r2 = s.yield_to(v[3], &v[0], now);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->target, nullptr);
    check();
}

TEST_F(Yield, PlainYieldWithNobodyElseKeepsRunning)
{
    init(1, true);
    add(v[0], dom);
    ASSERT_TRUE(s.wake(v[0], now).ok());
    ASSERT_EQ(pick(), &v[0]);
    now += 1 * ms;
    ASSERT_TRUE(s.yield_to_sibling(v[0], now).ok());
    EXPECT_EQ(pick(), &v[0]);
}

TEST_F(Yield, TargetOnAnotherCpuMovesHereIfAllowed)
{
    init(2, true);
    SchedVcpu& spinner = v[0];
    SchedVcpu& holder = v[1];
    add(spinner, dom, CpuMask::single(0));
    add(holder, dom, CpuMask::first_n(2));
    add(hog, other, CpuMask::single(1));
    ASSERT_TRUE(s.wake(spinner, now).ok());
    ASSERT_EQ(pick(0), &spinner);
    // holder and hog share CPU 1; holder is preempted there.
    ASSERT_TRUE(s.set_affinity(holder, CpuMask::single(1), now).ok());
    ASSERT_TRUE(s.wake(holder, now).ok());
    ASSERT_TRUE(s.wake(hog, now).ok());
    ASSERT_EQ(pick(1), &holder);
    ASSERT_TRUE(s.set_affinity(holder, CpuMask::first_n(2), now).ok());
    now += 30 * ms;
    ASSERT_EQ(pick(1), &hog);
    ASSERT_EQ(s.state(holder), VcpuState::runnable);
    auto r = s.yield_to_sibling(spinner, now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->target, &holder);
    EXPECT_TRUE(r->run_here);
    EXPECT_EQ(holder.cpu(), 0u);
    EXPECT_EQ(pick(0), &holder);
    check();
}

TEST_F(Yield, TargetPinnedElsewhereIsBoostedThere)
{
    init(2, true);
    SchedVcpu& spinner = v[0];
    SchedVcpu& holder = v[1];
    add(spinner, dom, CpuMask::single(0));
    add(holder, dom, CpuMask::single(1));
    add(hog, other, CpuMask::single(1));
    ASSERT_TRUE(s.wake(spinner, now).ok());
    ASSERT_EQ(pick(0), &spinner);
    ASSERT_TRUE(s.wake(holder, now).ok());
    ASSERT_TRUE(s.wake(hog, now).ok());
    ASSERT_EQ(pick(1), &holder);
    now += 30 * ms;
    ASSERT_EQ(pick(1), &hog);  // holder preempted, hog has a 30 ms slice
    now += 5 * ms;
    auto r = s.yield_to_sibling(spinner, now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->target, &holder);
    EXPECT_FALSE(r->run_here);
    EXPECT_EQ(r->kick.resched_cpu, 1);  // CPU 1 must decide again
    EXPECT_TRUE(s.tick(1, now));
    Decision d = s.pick_next(1, now);
    EXPECT_EQ(d.next, &holder);
    EXPECT_EQ(d.until, now + 2 * ms);  // boost slice
    EXPECT_EQ(holder.cpu(), 1u);
    check();
}

// ----------------------------------------------------------------- spin lock

namespace {

struct LockWorld {
    SimVcpu* holder = nullptr;
    int unfinished = 0;
    uint64_t finished_at = 0;
    uint64_t pause_exits = 0;
};

// A guest vCPU that does `rounds` times: `outside` of work, then takes a spin
// lock, holds it for `cs` of its own running time, releases it. A waiter
// spins; after `window` of continuous spinning the PAUSE-loop exits.
struct SpinWorker : Behavior {
    enum State { work, spin, hold, finished };
    LockWorld& w;
    uint64_t outside, cs, window;
    int rounds;
    State st = work;
    uint64_t left, spun = 0;

    SpinWorker(LockWorld& world, int r, uint64_t o, uint64_t c, uint64_t win)
        : w(world), outside(o), cs(c), window(win), rounds(r), left(o)
    {
        ++w.unfinished;
    }
    uint64_t next_event(const SimVcpu&) const override
    {
        switch (st) {
        case work:
        case hold: return left;
        case spin: return window - spun;
        case finished: return never;
        }
        return never;
    }
    void progress(SimVcpu&, uint64_t ns) override
    {
        if (st == spin) spun += ns;
        else if (st != finished) left -= std::min(left, ns);
    }
    void acquire(SimVcpu& v)
    {
        w.holder = &v;
        st = hold;
        left = cs;
    }
    Action event(Sim& sim, SimVcpu& v) override
    {
        switch (st) {
        case work:
            if (!w.holder) acquire(v);
            else {
                st = spin;
                spun = 0;
            }
            return Action::none;
        case hold: {
            w.holder = nullptr;
            // A running spinner sees the release at once (first by CPU order).
            for (auto& p : sim.cpus)
                if (p.cur && p.cur != &v) {
                    auto* o = dynamic_cast<SpinWorker*>(p.cur->behavior.get());
                    if (o && o->st == spin) {
                        o->acquire(*p.cur);
                        break;
                    }
                }
            if (--rounds == 0) {
                st = finished;
                if (--w.unfinished == 0) w.finished_at = sim.now;
                v.sleep_for = never;
                return Action::block;
            }
            st = work;
            left = outside;
            return Action::none;
        }
        case spin:
            spun = 0;
            ++w.pause_exits;
            return Action::pause_exit;
        case finished: break;
        }
        return Action::none;
    }
    void dispatched(Sim&, SimVcpu& v) override
    {
        if (st == spin && !w.holder) acquire(v);
    }
};

struct SpinResult {
    uint64_t time, pause_exits, directed;
};

// `vcpus` workers of one domain on `cpus` CPUs, plus optionally one CPU hog
// of another domain per CPU (an overcommitted host).
SpinResult run_spin(bool directed, unsigned cpus, unsigned vcpus, bool hogs, uint32_t slice_us, uint64_t outside = 20 * us,
                    uint64_t cs = 40 * us)
{
    SchedConfig cfg;
    cfg.directed_yield = directed;
    cfg.slice_us = slice_us;
    cfg.ratelimit_us = std::min<uint32_t>(500, slice_us);
    cfg.boost_slice_us = std::min<uint32_t>(2000, slice_us);
    cfg.wake_credit_us = slice_us;
    Sim sim(cpus, cfg);
    LockWorld world;
    auto& dom = sim.group();
    for (unsigned i = 0; i < vcpus; ++i)
        sim.wake(sim.vcpu(dom, std::make_unique<SpinWorker>(world, 400, outside, cs, 5 * us)));
    if (hogs) {
        auto& bg = sim.group();
        for (unsigned c = 0; c < cpus; ++c) sim.wake(sim.vcpu(bg, nullptr, CpuMask::single(c)));
    }
    bool done = sim.run_until([&] { return world.unfinished == 0; }, 600 * sec);
    EXPECT_TRUE(done);
    uint64_t dy = 0;
    for (unsigned c = 0; c < cpus; ++c) dy += sim.sched.stats(c).directed_yields;
    return {world.finished_at, world.pause_exits, dy};
}

}  // namespace

TEST(YieldSpinLock, DirectedYieldFinishesSoonerWhenTheHolderIsPreempted)
{
    // Each worker: 400 rounds of `outside` work then `cs` holding the lock;
    // a waiter's PAUSE loop exits after 5 us of spinning. Holders get
    // preempted when critical sections are long against the slice, or when
    // the CPUs are shared with another domain.
    struct Case {
        const char* name;
        unsigned cpus, vcpus;
        bool hogs;
        uint32_t slice_us;
        uint64_t outside, cs;
    } cases[] = {
        {"4 vCPUs on 2 CPUs, 1 ms slices, 1 ms sections", 2, 4, false, 1000, 1 * ms, 1 * ms},
        {"4 vCPUs on 2 CPUs, 5 ms slices, 1 ms sections", 2, 4, false, 5000, 3 * ms, 1 * ms},
        {"4 vCPUs on 2 CPUs + a hog per CPU, 5 ms slices", 2, 4, true, 5000, 20 * us, 40 * us},
        {"8 vCPUs on 2 CPUs, 1 ms slices, 1 ms sections", 2, 8, false, 1000, 1 * ms, 1 * ms},
    };
    if (getenv("SPIN_EXPLORE")) {
        for (uint64_t o : {200 * us, 1 * ms, 3 * ms})
            for (uint64_t cs : {100 * us, 300 * us, 1 * ms})
                for (uint32_t sl : {1000u, 5000u, 30000u}) {
                    SpinResult on = run_spin(true, 2, 4, false, sl, o, cs);
                    SpinResult off = run_spin(false, 2, 4, false, sl, o, cs);
                    std::printf("outside %lu cs %lu slice %u: on %.1f off %.1f ms, directed %lu, off/on %.3f\n",
                                (unsigned long)o / 1000, (unsigned long)cs / 1000, sl, on.time / 1e6, off.time / 1e6,
                                (unsigned long)on.directed, double(off.time) / double(on.time));
                }
        return;
    }
    for (const Case& c : cases) {
        SpinResult on = run_spin(true, c.cpus, c.vcpus, c.hogs, c.slice_us, c.outside, c.cs);
        SpinResult off = run_spin(false, c.cpus, c.vcpus, c.hogs, c.slice_us, c.outside, c.cs);
        std::printf("spin lock, %s: directed on %.1f ms (%lu PAUSE exits, %lu directed), off %.1f ms (%lu PAUSE "
                    "exits): off/on %.2f\n",
                    c.name, on.time / 1e6, (unsigned long)on.pause_exits, (unsigned long)on.directed, off.time / 1e6,
                    (unsigned long)off.pause_exits, double(off.time) / double(on.time));
        EXPECT_LT(on.time, off.time) << c.name;
        EXPECT_GT(on.directed, 0u) << c.name;
        EXPECT_EQ(off.directed, 0u) << c.name;
    }
}
