// vCPU state transitions: hostile calls get a clear error and change
// nothing; a model-based random test drives every transition against a
// small reference model and checks the scheduler's invariants (a vCPU in at
// most one queue, a running vCPU in none, loads, order, affinity, no lost
// runnable vCPU) after every operation.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hv/sched/scheduler.hpp"

using namespace hv::sched;
using lib::Error;

namespace {

constexpr uint64_t ms = 1000000;

// Everything observable, to show that a refused call changed nothing.
struct Snapshot {
    std::vector<VcpuState> states;
    std::vector<unsigned> cpus;
    std::vector<CpuMask> masks;
    std::vector<uint64_t> loads, queued;
    std::vector<SchedVcpu*> current;
    bool operator==(const Snapshot&) const = default;
};

class State : public ::testing::Test {
protected:
    Scheduler s;
    SchedGroup g;
    SchedVcpu v[3];
    uint64_t now = 0;

    void SetUp() override
    {
        ASSERT_TRUE(s.init(2, {}).ok());
        ASSERT_TRUE(s.add_group(g).ok());
        ASSERT_TRUE(s.add_vcpu(v[0], g, CpuMask::single(0)).ok());
        ASSERT_TRUE(s.add_vcpu(v[1], g, CpuMask::single(1)).ok());
        ASSERT_TRUE(s.add_vcpu(v[2], g, CpuMask::first_n(2)).ok());
        for (auto& x : v) ASSERT_TRUE(s.wake(x, now).ok());
        ASSERT_EQ(s.pick_next(0, now).next, &v[0]);
        ASSERT_EQ(s.pick_next(1, now).next, &v[1]);
        now += 30 * ms;
        ASSERT_EQ(s.pick_next(0, now).next, &v[2]);  // v0's slice is over
        ASSERT_TRUE(s.block(v[2], now).ok());
        ASSERT_EQ(s.pick_next(0, now).next, &v[0]);
        // Now: v0 running on 0, v1 running on 1, v2 blocked.
        ASSERT_EQ(s.state(v[0]), VcpuState::running);
        ASSERT_EQ(s.state(v[1]), VcpuState::running);
        ASSERT_EQ(s.state(v[2]), VcpuState::blocked);
    }
    Snapshot snap() const
    {
        Snapshot n;
        for (auto& x : v) {
            n.states.push_back(s.state(x));
            n.cpus.push_back(x.cpu());
            n.masks.push_back(x.affinity());
        }
        for (unsigned c = 0; c < 2; ++c) {
            n.loads.push_back(s.load(c));
            n.queued.push_back(s.queued(c));
            n.current.push_back(s.current(c));
        }
        return n;
    }
    void check()
    {
        const char* why = nullptr;
        ASSERT_TRUE(s.check_invariants(&why).ok()) << why;
    }
};

}  // namespace

// Bad inputs tried, each must fail with the named error and change nothing:
// wake of a running vCPU and of an already runnable one; block of a blocked
// vCPU (double block) and of a runnable one; remove of a running vCPU, of one
// never added, and twice; add of a registered vCPU; affinity empty, naming
// CPU 2 on a 2-CPU scheduler, naming CPU 255; unpause when not paused; pause
// count overflow; attach of a vCPU not in transit; yield of a non-running
// vCPU; every call with a vCPU registered with another scheduler.
TEST_F(State, HostileCallsFailCleanlyAndChangeNothing)
{
    Snapshot before = snap();
    auto same = [&] {
        EXPECT_TRUE(snap() == before);
        check();
    };
    EXPECT_EQ(s.wake(v[0], now).error(), Error::invalid);  // running
    same();
    EXPECT_EQ(s.block(v[2], now).error(), Error::invalid);  // double block
    same();
    EXPECT_EQ(s.remove_vcpu(v[0]).error(), Error::busy);  // running
    same();
    EXPECT_EQ(s.add_vcpu(v[0], g, CpuMask::first_n(2)).error(), Error::exists);
    same();
    EXPECT_EQ(s.set_affinity(v[0], CpuMask{}, now).error(), Error::invalid);
    same();
    EXPECT_EQ(s.set_affinity(v[0], CpuMask::single(2), now).error(), Error::out_of_range);
    same();
    CpuMask wide = CpuMask::first_n(2);
    wide.set(255);
    EXPECT_EQ(s.set_affinity(v[2], wide, now).error(), Error::out_of_range);
    same();
    EXPECT_EQ(s.unpause(v[2], now).error(), Error::invalid);
    same();
    EXPECT_EQ(s.attach(v[2], now).error(), Error::invalid);
    same();
    EXPECT_EQ(s.yield_to_sibling(v[2], now).error(), Error::invalid);
    same();

    SchedVcpu unknown;
    EXPECT_EQ(s.remove_vcpu(unknown).error(), Error::not_found);
    EXPECT_EQ(s.wake(unknown, now).error(), Error::not_found);
    EXPECT_EQ(s.block(unknown, now).error(), Error::not_found);
    EXPECT_EQ(s.pause(unknown).error(), Error::not_found);
    EXPECT_EQ(s.unpause(unknown, now).error(), Error::not_found);
    EXPECT_EQ(s.set_affinity(unknown, CpuMask::single(0), now).error(), Error::not_found);
    EXPECT_EQ(s.attach(unknown, now).error(), Error::not_found);
    EXPECT_EQ(s.yield_to_sibling(unknown, now).error(), Error::not_found);
    EXPECT_EQ(s.state(unknown), VcpuState::offline);
    EXPECT_EQ(s.yield_candidate(unknown), nullptr);
    same();

    // Registered, but with another scheduler: unknown here.
    Scheduler other;
    SchedGroup og;
    SchedVcpu ov;
    ASSERT_TRUE(other.init(1, {}).ok());
    ASSERT_TRUE(other.add_group(og).ok());
    ASSERT_TRUE(other.add_vcpu(ov, og, CpuMask::single(0)).ok());
    EXPECT_EQ(s.wake(ov, now).error(), Error::not_found);
    EXPECT_EQ(s.remove_vcpu(ov).error(), Error::not_found);
    EXPECT_EQ(s.set_group_params(og, 256, 0).error(), Error::not_found);
    EXPECT_EQ(s.add_vcpu(unknown, og, CpuMask::single(0)).error(), Error::not_found);
    // A target from another domain or scheduler: refused, plain yield.
    now += 1 * ms;
    auto r = s.yield_to(v[0], &ov, now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->target, nullptr);
    check();
}

TEST_F(State, WakeOfRunnableAndBlockOfRunnableAreRefused)
{
    ASSERT_TRUE(s.wake(v[2], now).ok());  // blocked -> runnable, queued
    Snapshot before = snap();
    EXPECT_EQ(s.wake(v[2], now).error(), Error::invalid);
    EXPECT_EQ(s.block(v[2], now).error(), Error::invalid);
    EXPECT_TRUE(snap() == before);
    check();
}

TEST_F(State, RemoveTwiceAndReAdd)
{
    ASSERT_TRUE(s.remove_vcpu(v[2]).ok());
    EXPECT_EQ(s.remove_vcpu(v[2]).error(), Error::not_found);
    check();
    ASSERT_TRUE(s.add_vcpu(v[2], g, CpuMask::single(1)).ok());
    EXPECT_EQ(s.state(v[2]), VcpuState::offline);
    EXPECT_EQ(v[2].cpu(), 1u);
    check();
}

TEST_F(State, PauseNestsAndOverflowIsRefused)
{
    for (unsigned i = 0; i < 65535; ++i) ASSERT_TRUE(s.pause(v[2]).ok());
    EXPECT_EQ(s.pause(v[2]).error(), Error::out_of_range);
    EXPECT_EQ(s.state(v[2]), VcpuState::paused);
    ASSERT_TRUE(s.wake(v[2], now).ok());  // remembered while paused
    for (unsigned i = 0; i < 65534; ++i) ASSERT_TRUE(s.unpause(v[2], now).ok());
    EXPECT_EQ(s.state(v[2]), VcpuState::paused);
    ASSERT_TRUE(s.unpause(v[2], now).ok());
    EXPECT_EQ(s.state(v[2]), VcpuState::runnable);
    check();
}

TEST_F(State, PauseOfARunningVcpuTakesEffectAtTheNextDecision)
{
    auto k = s.pause(v[0]);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->resched_cpu, 0);
    EXPECT_EQ(s.state(v[0]), VcpuState::running);
    EXPECT_TRUE(s.tick(0, now));
    EXPECT_NE(s.pick_next(0, now).next, &v[0]);
    EXPECT_EQ(s.state(v[0]), VcpuState::paused);
    EXPECT_EQ(s.remove_vcpu(v[0]).error(), lib::Error::none);  // no longer running: removable
    check();
}

TEST(StateConfig, BadGroupsConfigsAndCpuNumbers)
{
    Scheduler s;
    // Bad inputs: 0 and 257 CPUs; slice 0 and 20 s; rate limit above the
    // slice; boost slice 0; cap period 0; weight 0 and 65536; cap above
    // 100 * CPUs; a group added twice; removing a group that still has vCPUs;
    // decisions on CPUs out of range; pull from itself or out of range.
    EXPECT_EQ(s.init(0, {}).error(), Error::out_of_range);
    EXPECT_EQ(s.init(257, {}).error(), Error::out_of_range);
    SchedConfig c;
    c.slice_us = 0;
    EXPECT_EQ(s.init(2, c).error(), Error::out_of_range);
    c = {};
    c.slice_us = 20'000'000;
    EXPECT_EQ(s.init(2, c).error(), Error::out_of_range);
    c = {};
    c.ratelimit_us = c.slice_us + 1;
    EXPECT_EQ(s.init(2, c).error(), Error::out_of_range);
    c = {};
    c.boost_slice_us = 0;
    EXPECT_EQ(s.init(2, c).error(), Error::out_of_range);
    c = {};
    c.cap_period_us = 0;
    EXPECT_EQ(s.init(2, c).error(), Error::out_of_range);
    ASSERT_TRUE(s.init(2, {}).ok());

    SchedGroup g;
    EXPECT_EQ(s.add_group(g, 0).error(), Error::out_of_range);
    EXPECT_EQ(s.add_group(g, 65536).error(), Error::out_of_range);
    EXPECT_EQ(s.add_group(g, 256, 201).error(), Error::out_of_range);
    ASSERT_TRUE(s.add_group(g, 65535, 200).ok());
    EXPECT_EQ(s.add_group(g).error(), Error::exists);
    EXPECT_EQ(s.set_group_params(g, 0, 0).error(), Error::out_of_range);
    EXPECT_EQ(g.weight(), 65535u);
    SchedVcpu v;
    EXPECT_EQ(s.add_vcpu(v, g, CpuMask{}).error(), Error::invalid);
    EXPECT_EQ(s.add_vcpu(v, g, CpuMask::single(2)).error(), Error::out_of_range);
    ASSERT_TRUE(s.add_vcpu(v, g, CpuMask::single(1)).ok());
    EXPECT_EQ(s.remove_group(g).error(), Error::busy);
    EXPECT_EQ(s.init(2, {}).error(), Error::busy);  // registered objects left

    EXPECT_EQ(s.pick_next(2, 0).next, nullptr);
    EXPECT_FALSE(s.tick(7, 0));
    EXPECT_FALSE(s.on_timer(300, 0).resched);
    EXPECT_FALSE(s.pull(1, 1, 0, PullKind::steal));
    EXPECT_FALSE(s.pull(1, 5, 0, PullKind::balance));
    EXPECT_EQ(s.next_steal_source(9, -1), -1);
    EXPECT_EQ(s.balance_source(9), -1);

    ASSERT_TRUE(s.remove_vcpu(v).ok());
    ASSERT_TRUE(s.remove_group(g).ok());
    EXPECT_EQ(s.remove_group(g).error(), Error::not_found);
    const char* why = nullptr;
    EXPECT_TRUE(s.check_invariants(&why).ok()) << why;
}

TEST(StateConfig, ClockGoingBackwardsChargesNothing)
{
    Scheduler s;
    SchedGroup g;
    SchedVcpu v;
    ASSERT_TRUE(s.init(1, {}).ok());
    ASSERT_TRUE(s.add_group(g).ok());
    ASSERT_TRUE(s.add_vcpu(v, g, CpuMask::single(0)).ok());
    ASSERT_TRUE(s.wake(v, 10 * ms).ok());
    ASSERT_EQ(s.pick_next(0, 10 * ms).next, &v);
    s.tick(0, 5 * ms);  // earlier than the dispatch
    EXPECT_EQ(v.runtime_ns(), 0u);
    s.tick(0, 12 * ms);
    EXPECT_EQ(v.runtime_ns(), 2 * ms);
    ASSERT_TRUE(s.block(v, 1 * ms).ok());
    EXPECT_EQ(v.runtime_ns(), 2 * ms);
    EXPECT_TRUE(s.check_invariants().ok());
}

TEST(StateConstinit, SchedulerIsConstantInitialised)
{
    // No static constructor: a global scheduler lives in .bss.
    static constinit Scheduler global;
    static constinit SchedGroup group;
    static constinit SchedVcpu vcpu;
    EXPECT_EQ(global.cpu_count(), 0u);
    EXPECT_EQ(group.weight(), 0u);
    EXPECT_EQ(vcpu.owner(), nullptr);
}

// ------------------------------------------------------------ model-based

namespace {

enum class Run { offline, blocked, runnable, running };

struct Model {
    bool reg = true;
    Run run = Run::offline;
    unsigned pause = 0;
};

VcpuState expected(const Model& m)
{
    if (!m.reg) return VcpuState::offline;
    if (m.run == Run::running) return VcpuState::running;
    if (m.pause) return VcpuState::paused;
    switch (m.run) {
    case Run::offline: return VcpuState::offline;
    case Run::blocked: return VcpuState::blocked;
    default: return VcpuState::runnable;
    }
}

}  // namespace

TEST(StateModel, RandomOperationsKeepTheModelAndTheInvariants)
{
    constexpr unsigned ncpu = 3, nv = 7;
    for (uint32_t seed = 1; seed <= 6; ++seed) {
        Scheduler s;
        SchedConfig cfg;
        cfg.directed_yield = seed % 2;
        ASSERT_TRUE(s.init(ncpu, cfg).ok());
        SchedGroup g[2];
        ASSERT_TRUE(s.add_group(g[0], 256).ok());
        ASSERT_TRUE(s.add_group(g[1], 512).ok());
        SchedVcpu v[nv];
        Model m[nv];
        for (unsigned i = 0; i < nv; ++i) ASSERT_TRUE(s.add_vcpu(v[i], g[i % 2], CpuMask::first_n(ncpu)).ok());
        std::mt19937 rng(seed);
        uint64_t now = 0;
        unsigned counts[16] = {};
        auto random_mask = [&] {
            CpuMask k;
            unsigned r = rng() % 10;
            if (r == 0) return k;  // empty: refused
            if (r == 1) {
                k.set(ncpu + rng() % 10);  // outside: refused
                return k;
            }
            while (k.empty())
                for (unsigned c = 0; c < ncpu; ++c)
                    if (rng() % 2) k.set(c);
            return k;
        };
        auto attach = [&](SchedVcpu& x) {
            for (int t = 0; t < 4; ++t) {
                auto r = s.attach(x, now);
                if (r.ok()) return;
                ASSERT_EQ(r.error(), Error::busy);
            }
            FAIL() << "attach";
        };
        auto after_pick = [&](unsigned cpu, SchedVcpu* prev, const Decision& d) {
            if (prev && prev != d.next && m[prev - v].run == Run::running) m[prev - v].run = Run::runnable;
            if (d.next) {
                unsigned i = unsigned(d.next - v);
                ASSERT_LT(i, nv);
                ASSERT_TRUE(m[i].reg);
                ASSERT_TRUE(m[i].run == Run::runnable || d.next == prev) << "picked a non-runnable vCPU";
                ASSERT_EQ(m[i].pause, 0u) << "picked a paused vCPU";
                ASSERT_TRUE(d.next->affinity().test(cpu)) << "picked outside its affinity";
                m[i].run = Run::running;
            } else {
                ASSERT_EQ(s.queued(cpu), 0u) << "idle with vCPUs queued";
            }
            if (d.migrate) attach(*d.migrate);
        };
        for (int step = 0; step < 20000 && !::testing::Test::HasFatalFailure(); ++step) {
            unsigned i = rng() % nv, cpu = rng() % ncpu, op = rng() % 14;
            SchedVcpu& x = v[i];
            Model& mm = m[i];
            ++counts[op];
            now += rng() % (2 * ms);
            if (rng() % 50 == 0) now -= std::min<uint64_t>(now, rng() % ms);  // clock skew
            switch (op) {
            case 0: {
                auto r = s.wake(x, now);
                Error want = !mm.reg ? Error::not_found
                             : (mm.run == Run::running || mm.run == Run::runnable) ? Error::invalid
                                                                                   : Error::none;
                ASSERT_EQ(r.ok() ? Error::none : r.error(), want) << "wake step " << step;
                if (r.ok()) mm.run = Run::runnable;
                break;
            }
            case 1: {
                auto r = s.block(x, now);
                Error want = !mm.reg ? Error::not_found : mm.run != Run::running ? Error::invalid : Error::none;
                ASSERT_EQ(r.error(), want) << "block step " << step;
                if (r.ok()) mm.run = Run::blocked;
                break;
            }
            case 2: {
                auto r = s.pause(x);
                ASSERT_EQ(r.ok() ? Error::none : r.error(), mm.reg ? Error::none : Error::not_found);
                if (r.ok()) ++mm.pause;
                break;
            }
            case 3: {
                auto r = s.unpause(x, now);
                Error want = !mm.reg ? Error::not_found : mm.pause == 0 ? Error::invalid : Error::none;
                ASSERT_EQ(r.ok() ? Error::none : r.error(), want);
                if (r.ok()) --mm.pause;
                break;
            }
            case 4: {
                CpuMask k = random_mask();
                auto r = s.set_affinity(x, k, now);
                Error want = !mm.reg ? Error::not_found
                             : k.empty() ? Error::invalid
                             : !k.within(ncpu) ? Error::out_of_range
                                               : Error::none;
                ASSERT_EQ(r.ok() ? Error::none : r.error(), want) << "affinity step " << step;
                if (r.ok() && r->attach_needed) attach(x);
                break;
            }
            case 5: {
                auto r = s.remove_vcpu(x);
                Error want = !mm.reg ? Error::not_found : mm.run == Run::running ? Error::busy : Error::none;
                ASSERT_EQ(r.error(), want);
                if (r.ok()) mm = Model{false, Run::offline, 0};
                break;
            }
            case 6: {
                auto r = s.add_vcpu(x, g[i % 2], CpuMask::first_n(ncpu));
                ASSERT_EQ(r.error(), mm.reg ? Error::exists : Error::none);
                if (r.ok()) mm = Model{};
                break;
            }
            case 7:
            case 8: {
                SchedVcpu* prev = s.current(cpu);
                Decision d = s.pick_next(cpu, now);
                after_pick(cpu, prev, d);
                break;
            }
            case 9: {
                if (s.on_timer(cpu, now).resched) {
                    SchedVcpu* prev = s.current(cpu);
                    after_pick(cpu, prev, s.pick_next(cpu, now));
                }
                break;
            }
            case 10: {
                auto r = s.yield_to_sibling(x, now);
                Error want = !mm.reg ? Error::not_found : mm.run != Run::running ? Error::invalid : Error::none;
                ASSERT_EQ(r.ok() ? Error::none : r.error(), want);
                if (r.ok()) {
                    unsigned c = r->swapped ? unsigned(-1) : x.cpu();
                    if (r->swapped) {
                        mm.run = Run::runnable;
                        // The yielding CPU is the one the target moved to.
                        c = r->target->cpu();
                    }
                    SchedVcpu* prev = s.current(c);
                    after_pick(c, prev, s.pick_next(c, now));
                }
                break;
            }
            case 11: {
                unsigned src = rng() % ncpu;
                s.pull(cpu, src, now, rng() % 2 ? PullKind::steal : PullKind::balance);
                break;
            }
            case 12: {
                uint32_t w = rng() % 3 ? 1 + rng() % 65535 : rng() % 2 ? 0 : 65536 + rng() % 100;
                auto r = s.set_group_params(g[i % 2], w, 0);
                ASSERT_EQ(r.error(), (w >= 1 && w <= 65535) ? Error::none : Error::out_of_range);
                break;
            }
            case 13: s.tick(cpu, now); break;
            }
            const char* why = nullptr;
            ASSERT_TRUE(s.check_invariants(&why).ok()) << why << " after op " << op << " at step " << step;
            for (unsigned j = 0; j < nv; ++j)
                ASSERT_EQ(s.state(v[j]), expected(m[j]))
                    << "vCPU " << j << " after op " << op << " at step " << step << " (seed " << seed << ")";
        }
        for (unsigned op = 0; op < 14; ++op) EXPECT_GT(counts[op], 500u);
    }
}
