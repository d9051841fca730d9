// The APIC timer against a fake clock (SDM 10.5.4, 10.5.4.1). The TSC runs
// at 2.5 GHz and the timer input clock at 1 GHz, so one input clock is 2.5
// TSC ticks: expiries fall between TSC ticks and rounding errors would show
// up as drift. Bad inputs tried: initial count 0, divide values with
// reserved bits, deadline 0 / in the past / far future (2^64-1), the deadline
// MSR outside TSC-deadline mode and when not offered, the reserved timer
// mode 11b, time going backwards between calls.
#include "vlapic_test_util.hpp"

using namespace vt;

namespace {

constexpr uint64_t t0 = 1000000;

struct Timer : ::testing::Test {
    RecordingBus bus;
    Vlapic a;
    void SetUp() override
    {
        a.reset(config(0), &bus);
        enable_xapic(a);
    }
    // Takes the timer interrupt if it is pending; true if it was.
    bool fired(uint8_t vector = 0x40)
    {
        if (!a.irr().test(vector)) return false;
        EXPECT_EQ(*a.acknowledge(), vector);
        EXPECT_EQ(*a.eoi(), vector);
        return true;
    }
    void one_shot(uint32_t count, uint32_t dcr, uint64_t now, uint32_t lvt_extra = 0)
    {
        wr(a, 0x3e0, dcr, now);
        wr(a, 0x320, 0x40 | lvt_extra, now);
        wr(a, 0x380, count, now);
    }
};

// ceil(num / den)
uint64_t ceil_div(uint64_t num, uint64_t den) { return (num + den - 1) / den; }

}  // namespace

TEST_F(Timer, OneShotExactExpiry)
{
    one_shot(1000, 0xb, t0);  // divide by 1: 1000 clocks = 2500 TSC ticks
    EXPECT_EQ(a.next_event(), t0 + 2500);
    EXPECT_EQ(rd(a, 0x390, t0), 1000u);
    EXPECT_EQ(rd(a, 0x390, t0 + 1250), 500u);
    EXPECT_EQ(rd(a, 0x390, t0 + 2499), 1u);
    a.advance(t0 + 2499);
    EXPECT_FALSE(fired());
    a.advance(t0 + 2500);
    EXPECT_TRUE(fired());
    EXPECT_EQ(rd(a, 0x390, t0 + 2500), 0u);
    EXPECT_EQ(a.next_event(), Vlapic::never);
    a.advance(t0 + 100000);
    EXPECT_FALSE(fired());  // one-shot: once
    EXPECT_EQ(rd(a, 0x380), 1000u);  // the initial count stays readable
}

TEST_F(Timer, OneShotBetweenTscTicks)
{
    one_shot(3, 0xb, t0);  // 7.5 TSC ticks: fires at the first tick at or after
    EXPECT_EQ(a.next_event(), t0 + 8);
    a.advance(t0 + 7);
    EXPECT_FALSE(fired());
    a.advance(t0 + 8);
    EXPECT_TRUE(fired());
}

TEST_F(Timer, DivideValues)
{
    const uint32_t dcrs[8] = {0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xb};
    const uint32_t divs[8] = {2, 4, 8, 16, 32, 64, 128, 1};
    for (int i = 0; i < 8; ++i) {
        uint64_t start = t0 * (i + 1);
        one_shot(100, dcrs[i], start);
        EXPECT_EQ(rd(a, 0x3e0, start), dcrs[i]);
        uint64_t ticks = ceil_div(100ull * divs[i] * 5, 2);
        EXPECT_EQ(a.next_event(), start + ticks) << i;
        a.advance(start + ticks - 1);
        EXPECT_FALSE(fired()) << i;
        a.advance(start + ticks);
        EXPECT_TRUE(fired()) << i;
    }
    wr(a, 0x3e0, 0xfffffff4);  // reserved bits ignored in xAPIC mode: divide by 2
    EXPECT_EQ(rd(a, 0x3e0), 0x0u);
}

TEST_F(Timer, PeriodicHasNoDriftOver1000Periods)
{
    wr(a, 0x3e0, 0xb, t0);
    wr(a, 0x320, 0x20040, t0);  // periodic
    wr(a, 0x380, 3, t0);        // 7.5 TSC ticks per period
    for (uint64_t k = 1; k <= 1000; ++k) {
        uint64_t expect = t0 + ceil_div(k * 15, 2);
        ASSERT_EQ(a.next_event(), expect) << k;
        a.advance(expect - 1);
        ASSERT_FALSE(fired()) << k;
        a.advance(expect);
        ASSERT_TRUE(fired()) << k;
    }
    EXPECT_EQ(a.next_event(), t0 + 7500 + 8);
    // Current count mid-period after all that: 7500 is a period boundary.
    EXPECT_EQ(rd(a, 0x390, t0 + 7500), 3u);
    EXPECT_EQ(rd(a, 0x390, t0 + 7503), 2u);
}

TEST_F(Timer, PeriodicCoalescesMissedPeriodsOnTheGrid)
{
    wr(a, 0x3e0, 0x0, t0);        // divide by 2
    wr(a, 0x320, 0x20040, t0);
    wr(a, 0x380, 1000, t0);       // 2000 clocks = 5000 TSC ticks
    a.advance(t0 + 5000 * 10 + 123);
    EXPECT_TRUE(fired());
    EXPECT_FALSE(fired());
    EXPECT_EQ(a.next_event(), t0 + 5000 * 11);
    EXPECT_EQ(rd(a, 0x390, t0 + 5000 * 10 + 2500), 500u);
}

TEST_F(Timer, InitialCountZeroStopsAndRewriteRestarts)
{
    one_shot(1000, 0xb, t0);
    wr(a, 0x380, 0, t0 + 100);
    EXPECT_EQ(a.next_event(), Vlapic::never);
    EXPECT_EQ(rd(a, 0x390, t0 + 200), 0u);
    a.advance(t0 + 10000);
    EXPECT_FALSE(fired());
    wr(a, 0x380, 1000, t0 + 20000);
    wr(a, 0x380, 1000, t0 + 21000);  // rewrite restarts from the new write
    EXPECT_EQ(a.next_event(), t0 + 21000 + 2500);
}

TEST_F(Timer, DivideChangeMidCount)
{
    one_shot(1000, 0xb, t0);                 // 2.5 ticks per count
    wr(a, 0x3e0, 0x0, t0 + 1000);            // 400 counted, 600 left, now 5 ticks per count
    EXPECT_EQ(rd(a, 0x390, t0 + 1000), 600u);
    EXPECT_EQ(a.next_event(), t0 + 1000 + 3000);
    a.advance(t0 + 4000);
    EXPECT_TRUE(fired());
}

TEST_F(Timer, MaskedTimerCountsButDoesNotInterrupt)
{
    one_shot(1000, 0xb, t0, lvt::masked);
    EXPECT_EQ(a.next_event(), Vlapic::never);
    EXPECT_EQ(rd(a, 0x390, t0 + 1250), 500u);
    a.advance(t0 + 3000);
    EXPECT_FALSE(fired());
    EXPECT_EQ(rd(a, 0x390, t0 + 3000), 0u);
    // Periodic masked: keeps its grid; unmasking picks up the next period.
    wr(a, 0x320, 0x30040, t0 + 10000);
    wr(a, 0x380, 1000, t0 + 10000);
    a.advance(t0 + 10000 + 2500 * 3 + 10);
    EXPECT_FALSE(fired());
    EXPECT_EQ(rd(a, 0x390, t0 + 10000 + 2500 * 3 + 1250), 500u);
    wr(a, 0x320, 0x20040, t0 + 10000 + 2500 * 3 + 1250);
    EXPECT_EQ(a.next_event(), t0 + 10000 + 2500 * 4);
    a.advance(t0 + 10000 + 2500 * 4);
    EXPECT_TRUE(fired());
}

TEST_F(Timer, OneShotPeriodicSwitchKeepsCounting)
{
    one_shot(1000, 0xb, t0);
    wr(a, 0x320, 0x20040, t0 + 1000);  // periodic now: reloads at expiry
    EXPECT_EQ(a.next_event(), t0 + 2500);
    a.advance(t0 + 2500);
    EXPECT_TRUE(fired());
    EXPECT_EQ(a.next_event(), t0 + 5000);
    wr(a, 0x320, 0x00040, t0 + 3000);  // back to one-shot: stops at the next expiry
    a.advance(t0 + 5000);
    EXPECT_TRUE(fired());
    EXPECT_EQ(a.next_event(), Vlapic::never);
}

TEST_F(Timer, TscDeadline)
{
    wr(a, 0x320, 0x40040, t0);  // TSC-deadline mode
    EXPECT_EQ(a.next_event(), Vlapic::never);
    ASSERT_TRUE(a.write_tsc_deadline(t0 + 777, t0).ok());
    EXPECT_EQ(*a.read_tsc_deadline(t0), t0 + 777);
    EXPECT_EQ(a.next_event(), t0 + 777);
    a.advance(t0 + 776);
    EXPECT_FALSE(fired());
    a.advance(t0 + 777);
    EXPECT_TRUE(fired());
    EXPECT_EQ(*a.read_tsc_deadline(t0 + 800), 0u);  // cleared when it fired
    EXPECT_EQ(a.next_event(), Vlapic::never);
    // In the past: fires at once.
    ASSERT_TRUE(a.write_tsc_deadline(t0, t0 + 1000).ok());
    EXPECT_TRUE(fired());
    EXPECT_EQ(*a.read_tsc_deadline(t0 + 1000), 0u);
    // Zero disarms.
    ASSERT_TRUE(a.write_tsc_deadline(t0 + 5000, t0 + 1000).ok());
    ASSERT_TRUE(a.write_tsc_deadline(0, t0 + 1001).ok());
    EXPECT_EQ(a.next_event(), Vlapic::never);
    a.advance(t0 + 10000);
    EXPECT_FALSE(fired());
    // Far future (2^64-1 is the same as `never`: it cannot be reached).
    ASSERT_TRUE(a.write_tsc_deadline(~0ull, t0 + 1001).ok());
    EXPECT_EQ(a.next_event(), ~0ull);
    a.advance(~0ull - 1);
    EXPECT_FALSE(fired());
    // Initial count is ignored and current count reads 0 in this mode.
    wr(a, 0x380, 1234, t0 + 2000);
    EXPECT_EQ(rd(a, 0x380, t0 + 2000), 0u);
    EXPECT_EQ(rd(a, 0x390, t0 + 2000), 0u);
}

TEST_F(Timer, TscDeadlineMaskedClearsWithoutInterrupt)
{
    wr(a, 0x320, 0x50040, t0);
    ASSERT_TRUE(a.write_tsc_deadline(t0 + 10, t0).ok());
    EXPECT_EQ(a.next_event(), Vlapic::never);
    EXPECT_EQ(*a.read_tsc_deadline(t0 + 20), 0u);
    EXPECT_FALSE(fired());
}

TEST_F(Timer, ModeSwitchesDisarm)
{
    // One-shot -> TSC-deadline: the countdown is disarmed.
    one_shot(1000, 0xb, t0);
    wr(a, 0x320, 0x40040, t0 + 10);
    EXPECT_EQ(rd(a, 0x380, t0 + 10), 0u);
    EXPECT_EQ(a.next_event(), Vlapic::never);
    // TSC-deadline -> one-shot: the deadline is disarmed.
    ASSERT_TRUE(a.write_tsc_deadline(t0 + 500, t0 + 20).ok());
    wr(a, 0x320, 0x00040, t0 + 30);
    EXPECT_EQ(*a.read_tsc_deadline(t0 + 30), 0u);  // reads 0 outside the mode
    EXPECT_EQ(a.next_event(), Vlapic::never);
    a.advance(t0 + 1000);
    EXPECT_FALSE(fired());
    // Back in TSC-deadline mode the old deadline is gone.
    wr(a, 0x320, 0x40040, t0 + 1001);
    EXPECT_EQ(*a.read_tsc_deadline(t0 + 1001), 0u);
    // Deadline writes outside the mode are ignored.
    wr(a, 0x320, 0x00040, t0 + 1002);
    ASSERT_TRUE(a.write_tsc_deadline(t0 + 2000, t0 + 1002).ok());
    wr(a, 0x320, 0x40040, t0 + 1003);
    EXPECT_EQ(a.next_event(), Vlapic::never);
}

TEST_F(Timer, ReservedModeDoesNotRun)
{
    wr(a, 0x320, 0x60040, t0);  // 11b
    wr(a, 0x380, 10, t0);
    EXPECT_EQ(a.next_event(), Vlapic::never);
    a.advance(t0 + 100000);
    EXPECT_FALSE(fired());
}

TEST_F(Timer, DeadlineMsrAbsentWhenNotOffered)
{
    Config c = config(0);
    c.tsc_deadline = false;
    a.reset(c, &bus);
    EXPECT_FALSE(a.read_tsc_deadline(0).ok());
    EXPECT_FALSE(a.write_tsc_deadline(5, 0).ok());
}

TEST_F(Timer, TimeGoingBackwardsIsHarmless)
{
    one_shot(1000, 0xb, t0);
    EXPECT_EQ(rd(a, 0x390, t0 - 500), 1000u);
    a.advance(0);
    EXPECT_FALSE(fired());
    EXPECT_EQ(a.next_event(), t0 + 2500);
}

TEST_F(Timer, X2apicTimerRegisters)
{
    enable_x2apic(a);
    wrmsr(a, 0x83e, 0x3, t0);        // divide by 16: 40 TSC ticks per count
    wrmsr(a, 0x832, 0x40, t0);
    wrmsr(a, 0x838, 100, t0);
    EXPECT_EQ(rdmsr(a, 0x839, t0 + 400), 90u);
    EXPECT_EQ(a.next_event(), t0 + 4000);
    a.advance(t0 + 4000);
    EXPECT_TRUE(fired());
}

TEST_F(Timer, LargeCountsAndFrequencies)
{
    Config c = config(0);
    c.tsc_hz = 5'000'000'000ull;
    c.bus_hz = 3;  // absurd but legal: huge ticks
    a.reset(c, &bus);
    enable_xapic(a);
    one_shot(0xffffffff, 0xa, t0);  // divide by 128
    // Past 2^64 TSC ticks: reported as "far future", never wraps to the past.
    EXPECT_GT(a.next_event(), t0);
    a.advance(t0 + 1000000000);
    EXPECT_FALSE(fired());
}

// The timer's own 128-by-64 division against the compiler's (fine on the
// host): random and edge-case operands, both the portable and the DIV path.
#include <random>

#include "hv/vlapic/wide_div.hpp"

TEST(VlapicWideDiv, MatchesCompilerDivision)
{
    std::mt19937_64 rng(99);
    auto check = [](u128 n, uint64_t d) {
        auto g = wide_divmod_generic(n, d);
        auto f = wide_divmod(n, d);
        ASSERT_TRUE(g.quot == n / d && g.rem == uint64_t(n % d));
        ASSERT_TRUE(f.quot == g.quot && f.rem == g.rem);
    };
    const uint64_t edges[] = {1, 2, 3, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 1000000000, 2500000000};
    for (uint64_t d : edges) {
        check(0, d);
        check(~u128(0), d);
        check(u128(d) * d, d);
        check((u128(1) << 127) + 12345, d);
    }
    for (int i = 0; i < 100000; ++i) {
        u128 n = (u128(rng()) << 64) | rng();
        if (rng() & 1) n >>= rng() % 128;
        uint64_t d = rng() >> (rng() % 64);
        if (d == 0) d = 1;
        check(n, d);
    }
    EXPECT_TRUE(wide_divmod(5, 0).quot == ~u128(0));  // no trap on a zero divisor
    EXPECT_TRUE(wide_divmod_generic(5, 0).quot == ~u128(0));
}
