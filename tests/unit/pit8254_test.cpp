// The 8254 PIT (vmm/devices/pit8254) and the Multiboot platform's ISA block
// around it (vmm/platform/legacy_isa: the PIC pair, IRQ 0, port 0x61, the
// ExtINT hand-off and its wakeup times).
//
// PIT: modes 0-5 (and 6, 7 as 2, 3) with their counts and OUT over time,
// the access modes, binary and BCD counts, 0 as the largest count, the
// counter latch and read-back commands (count, status, both, latches held
// across a second latch), counter 2's gate. Bad and odd inputs tried: reads
// and status of counters never programmed, a count written before any
// control word, the read-back of no counter, a half-written LSB-then-MSB
// count, offsets beyond the control word, and 100,000 random writes and
// reads at random times (invariants checked each step).
//
// LegacyIsa: a 100 Hz periodic IRQ 0 through a programmed PIC reaches the
// sink as vector 0x20 and is acknowledged only when the sink took it;
// wakeups land on the PIT's edges, never closer than min_interval_ns (a
// divisor of 1), deliveries at most one per interval, wakeups none while
// IRQ 0 is masked or already requested; port 0x61's gate, OUT2 and refresh
// bits; ports that are not its own.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "vmm/devices/pit8254.hpp"
#include "vmm/platform/legacy_isa.hpp"

using vmm::devices::Pit8254;
using vmm::platform::LegacyIsa;

namespace {

struct PitTest : ::testing::Test {
    Pit8254 pit;
    uint16_t read16(unsigned ch, uint64_t t)
    {
        uint8_t lo = pit.read(ch, t);
        return uint16_t(lo | pit.read(ch, t) << 8);
    }
    void program(unsigned ch, unsigned mode, uint16_t count, uint64_t t, bool bcd = false)
    {
        pit.write(3, uint8_t(ch << 6 | 0x30 | mode << 1 | (bcd ? 1 : 0)), t);
        pit.write(ch, uint8_t(count), t);
        pit.write(ch, uint8_t(count >> 8), t);
    }
};

}  // namespace

TEST_F(PitTest, ClockConversion)
{
    EXPECT_EQ(Pit8254::ticks(1'000'000'000), 1193182u);
    EXPECT_EQ(Pit8254::ticks(0), 0u);
    EXPECT_GE(Pit8254::ns_at(11932), 10'000'000u - 1000);
    EXPECT_EQ(Pit8254::ticks(Pit8254::ns_at(12345)), 12345u);
    EXPECT_EQ(Pit8254::ticks(~0ull), uint64_t((unsigned __int128)~0ull * 1193182 / 1000000000));
}

TEST_F(PitTest, UnprogrammedCountersReadZeroWithNullCount)
{
    for (unsigned ch = 0; ch < 3; ++ch) {
        EXPECT_EQ(read16(ch, 1000), 0);
        EXPECT_TRUE(pit.out(ch, 1000));
        EXPECT_EQ(pit.next_rising_edge(ch, 0), Pit8254::never);
    }
    pit.write(0, 0x12, 5);  // a count before any control word: ignored
    EXPECT_EQ(read16(0, 10), 0);
    pit.write(3, 0xee, 10);  // read-back, count and status of all three
    for (unsigned ch = 0; ch < 3; ++ch) {
        EXPECT_EQ(pit.read(ch, 10), 0x40);  // status first: null count
        EXPECT_EQ(read16(ch, 10), 0);
    }
    pit.write(3, 0xc0, 10);  // read-back selecting no counter: nothing
    EXPECT_EQ(pit.read(3, 10), 0xff);
    EXPECT_EQ(pit.read(7, 10), 0xff);
    pit.write(9, 0x55, 10);
}

TEST_F(PitTest, Mode2RateGenerator)
{
    program(0, 2, 11932, 1000);  // 100 Hz
    EXPECT_EQ(pit.mode(0), 2);
    EXPECT_EQ(read16(0, 1000), 11932);
    EXPECT_EQ(read16(0, 1100), 11832);
    EXPECT_TRUE(pit.out(0, 1000 + 11930));
    EXPECT_FALSE(pit.out(0, 1000 + 11931));  // low for the clock at count 1
    EXPECT_TRUE(pit.out(0, 1000 + 11932));
    EXPECT_EQ(read16(0, 1000 + 11932), 11932);  // reloaded
    EXPECT_EQ(pit.next_rising_edge(0, 1000), 1000u + 11932);
    EXPECT_EQ(pit.next_rising_edge(0, 1000 + 11932), 1000u + 2 * 11932);
    EXPECT_EQ(pit.next_rising_edge(0, 1000 + 5 * 11932 + 7), 1000u + 6 * 11932);
    pit.write(3, 0x3c, 2000);  // mode 6 is mode 2
    EXPECT_EQ(pit.mode(0), 2);
}

TEST_F(PitTest, Mode3SquareWave)
{
    program(0, 3, 100, 0);
    EXPECT_TRUE(pit.out(0, 0));
    EXPECT_TRUE(pit.out(0, 49));
    EXPECT_FALSE(pit.out(0, 50));
    EXPECT_FALSE(pit.out(0, 99));
    EXPECT_TRUE(pit.out(0, 100));
    EXPECT_EQ(read16(0, 10), 80);  // down by two
    EXPECT_EQ(read16(0, 60), 80);
    EXPECT_EQ(pit.next_rising_edge(0, 0), 100u);
    program(0, 3, 0, 0);  // 0 is 65536: 18.2 Hz
    EXPECT_EQ(pit.reload(0), 65536u);
    EXPECT_EQ(read16(0, 0), 0);
    EXPECT_EQ(pit.next_rising_edge(0, 1), 65536u);
    pit.write(3, 0x3e, 0);  // mode 7 is mode 3
    EXPECT_EQ(pit.mode(0), 3);
}

TEST_F(PitTest, Mode0InterruptOnTerminalCount)
{
    program(0, 0, 1000, 50);
    EXPECT_FALSE(pit.out(0, 50));
    EXPECT_FALSE(pit.out(0, 1049));
    EXPECT_TRUE(pit.out(0, 1050));
    EXPECT_TRUE(pit.out(0, 100000));  // stays high
    EXPECT_EQ(read16(0, 1050), 0);
    EXPECT_EQ(read16(0, 1051), 0xffff);  // then counts on, wrapping
    EXPECT_EQ(pit.next_rising_edge(0, 0), 1050u);
    EXPECT_EQ(pit.next_rising_edge(0, 1050), Pit8254::never);  // once
    // The first byte of a new count stops it (OUT low); the second starts it.
    pit.write(0, 0x10, 2000);
    EXPECT_FALSE(pit.out(0, 2000));
    EXPECT_EQ(pit.next_rising_edge(0, 2000), Pit8254::never);
    pit.write(0, 0x00, 2100);
    EXPECT_EQ(pit.next_rising_edge(0, 2100), 2100u + 0x10);
}

TEST_F(PitTest, Mode4SoftwareStrobe)
{
    program(0, 4, 10, 0);
    EXPECT_TRUE(pit.out(0, 9));
    EXPECT_FALSE(pit.out(0, 10));
    EXPECT_TRUE(pit.out(0, 11));
    EXPECT_EQ(pit.next_rising_edge(0, 0), 11u);
    EXPECT_EQ(pit.next_rising_edge(0, 11), Pit8254::never);
}

TEST_F(PitTest, Modes1And5WaitForTheGate)
{
    program(2, 1, 100, 0);
    EXPECT_TRUE(pit.out(2, 50));  // not triggered yet
    EXPECT_EQ(pit.next_rising_edge(2, 0), Pit8254::never);
    pit.set_gate(2, false, 10);
    pit.set_gate(2, true, 20);  // the trigger
    EXPECT_FALSE(pit.out(2, 21));
    EXPECT_TRUE(pit.out(2, 120));
    EXPECT_EQ(read16(2, 70), 50);
    pit.set_gate(2, false, 200);
    pit.set_gate(2, true, 300);  // retriggered
    EXPECT_FALSE(pit.out(2, 350));
    program(2, 5, 10, 1000);
    EXPECT_TRUE(pit.out(2, 1100));
    pit.set_gate(2, false, 1100);
    pit.set_gate(2, true, 1200);
    EXPECT_TRUE(pit.out(2, 1209));
    EXPECT_FALSE(pit.out(2, 1210));
    EXPECT_TRUE(pit.out(2, 1211));
}

TEST_F(PitTest, GateHoldsModes0And2)
{
    program(2, 0, 100, 0);
    pit.set_gate(2, false, 30);
    EXPECT_EQ(read16(2, 500), 70);  // held
    EXPECT_EQ(pit.next_rising_edge(2, 500), Pit8254::never);
    pit.set_gate(2, true, 1000);
    EXPECT_EQ(read16(2, 1010), 60);
    EXPECT_TRUE(pit.out(2, 1070));
    program(2, 2, 100, 2000);
    pit.set_gate(2, false, 2050);
    EXPECT_TRUE(pit.out(2, 2099));  // forced high
    pit.set_gate(2, true, 3000);    // restarts with the full count
    EXPECT_EQ(read16(2, 3000), 100);
    EXPECT_EQ(pit.next_rising_edge(2, 3000), 3100u);
    EXPECT_TRUE(pit.gate(2));
    EXPECT_FALSE(pit.gate(5));
}

TEST_F(PitTest, AccessModesAndBcd)
{
    pit.write(3, 0x10, 0);  // counter 0, LSB only, mode 0
    pit.write(0, 0x80, 0);
    EXPECT_EQ(pit.reload(0), 0x80u);
    EXPECT_EQ(pit.read(0, 0x10), 0x70);
    EXPECT_EQ(pit.read(0, 0x10), 0x70);  // LSB every time
    pit.write(3, 0x20, 0);               // MSB only
    pit.write(0, 0x02, 0);
    EXPECT_EQ(pit.reload(0), 0x200u);
    EXPECT_EQ(pit.read(0, 0), 0x02);
    program(1, 2, 0x1234, 0, true);  // BCD 1234
    EXPECT_EQ(pit.reload(1), 1234u);
    EXPECT_EQ(read16(1, 34), 0x1200);
    program(1, 0, 0, 0, true);  // BCD 0 is 10000
    EXPECT_EQ(pit.reload(1), 10000u);
    EXPECT_EQ(read16(1, 1), 0x9999);
}

TEST_F(PitTest, LatchAndReadBack)
{
    program(0, 2, 1000, 0);
    pit.write(3, 0x00, 100);  // latch counter 0 at 900
    pit.write(3, 0x00, 200);  // a second latch before the read: ignored
    EXPECT_EQ(read16(0, 500), 900);
    EXPECT_EQ(read16(0, 500), 500);  // live again
    // Half a read, then a latch: the latch is read from its LSB.
    EXPECT_EQ(pit.read(0, 600), 400 & 0xff);
    pit.write(3, 0x00, 700);
    EXPECT_EQ(read16(0, 800), 300);
    // Read-back: status and count of counter 0.
    pit.write(3, 0xc2, 900);
    EXPECT_EQ(pit.read(0, 950), 0x80 | 0x34);  // OUT high, LSB-then-MSB, mode 2, binary
    EXPECT_EQ(read16(0, 950), 100);
    // Status only, after a control word without a count: null count, OUT low (mode 0).
    pit.write(3, 0x70, 1000);
    pit.write(3, 0xe4, 1000);
    EXPECT_EQ(pit.read(1, 1000), 0x70);
    pit.write(3, 0xe4, 1000);
    pit.write(1, 0x05, 1000);
    pit.write(1, 0x00, 1000);
    EXPECT_EQ(pit.read(1, 1000), 0x70);  // the status latched before the count
    pit.write(3, 0xe4, 1000);
    EXPECT_EQ(pit.read(1, 1000), 0x30);
}

TEST_F(PitTest, RandomInputsKeepInvariants)
{
    std::mt19937_64 rng(8254);
    uint64_t t = 0;
    for (int i = 0; i < 100000; ++i) {
        t += rng() % 5000;
        unsigned off = unsigned(rng() % 5);
        if (rng() & 1) pit.write(off, uint8_t(rng()), t);
        else (void)pit.read(off, t);
        if (rng() % 8 == 0) pit.set_gate(2, rng() & 1, t);
        for (unsigned ch = 0; ch < 3; ++ch) {
            uint64_t e = pit.next_rising_edge(ch, t);
            EXPECT_TRUE(e == Pit8254::never || e > t);
            if (pit.reload(ch)) {
                EXPECT_LE(pit.reload(ch), 65536u);
                EXPECT_GE(pit.reload(ch), 1u);
            }
        }
    }
}

namespace {

struct Sink final : vmm::platform::ExtIntSink {
    bool busy = false;
    std::vector<uint8_t> got;
    bool extint(uint8_t v) override
    {
        if (busy) return false;
        got.push_back(v);
        return true;
    }
};

struct IsaTest : ::testing::Test {
    LegacyIsa isa;
    Sink sink;
    uint64_t now = 1'000'000;
    void out(uint16_t port, uint8_t v)
    {
        uint32_t x = v;
        ASSERT_TRUE(isa.port(port, 1, false, x, now));
    }
    uint8_t in(uint16_t port)
    {
        uint32_t x = 0;
        EXPECT_TRUE(isa.port(port, 1, true, x, now));
        return uint8_t(x);
    }
    void pic_init()
    {
        for (auto [p, v] : {std::pair<uint16_t, uint8_t>{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
                            {0xa0, 0x11}, {0xa1, 0x28}, {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0xfe}, {0xa1, 0xff}})
            out(p, v);
    }
};

}  // namespace

TEST_F(IsaTest, PeriodicIrq0ReachesTheSink)
{
    EXPECT_EQ(isa.update(now, sink), LegacyIsa::never);  // nothing programmed: no wakeups
    pic_init();
    out(0x43, 0x34);
    out(0x40, 0x9c);  // 11932: 100 Hz
    out(0x40, 0x2e);
    uint64_t next = isa.update(now, sink);
    EXPECT_NEAR(double(next - now), 10'000'000.0, 2000.0);
    EXPECT_TRUE(sink.got.empty());
    now = next;
    next = isa.update(now, sink);
    ASSERT_EQ(sink.got.size(), 1u);
    EXPECT_EQ(sink.got[0], 0x20);
    EXPECT_EQ(isa.pic().master().isr(), 0x01);  // acknowledged when handed over
    // In service: the next edge latches IRR but asks for no new wakeup
    // until the EOI (a port access) comes.
    now += 10'100'000;
    EXPECT_EQ(isa.update(now, sink), LegacyIsa::never);
    EXPECT_EQ(isa.pic().master().irr() & 1, 1);
    sink.busy = true;
    out(0x20, 0x20);
    EXPECT_EQ(isa.update(now, sink), now + LegacyIsa::retry_ns);  // hv still holds one: retry
    EXPECT_EQ(isa.pic().master().isr(), 0x00);                    // not acknowledged
    sink.busy = false;
    now += LegacyIsa::retry_ns;
    (void)isa.update(now, sink);
    EXPECT_EQ(sink.got.size(), 2u);
    // Masked: no wakeups at all.
    out(0x20, 0x20);
    out(0x21, 0xff);
    EXPECT_EQ(isa.update(now, sink), LegacyIsa::never);
}

TEST_F(IsaTest, FastPitIsClampedAndCoalesced)
{
    pic_init();
    out(0x43, 0x34);
    out(0x40, 0x01);  // divisor 1: 1.19 MHz
    out(0x40, 0x00);
    uint64_t next = isa.update(now, sink);
    EXPECT_EQ(next, now + LegacyIsa::min_interval_ns);
    now += 50'000'000;  // 50 ms of edges
    (void)isa.update(now, sink);
    EXPECT_EQ(sink.got.size(), 1u);  // one request for all of them
    // The guest's EOI unblocks the next at once; it waits out the interval.
    now += 1000;
    out(0x20, 0x20);
    EXPECT_EQ(isa.update(now, sink), now - 1000 + LegacyIsa::min_interval_ns);
    EXPECT_EQ(sink.got.size(), 1u);
    now += LegacyIsa::min_interval_ns;
    (void)isa.update(now, sink);
    EXPECT_EQ(sink.got.size(), 2u);
}

TEST_F(IsaTest, Port61GateOutAndRefresh)
{
    EXPECT_EQ(in(0x61) & 0x0f, 0);
    out(0x43, 0xb0);  // counter 2, mode 0
    out(0x42, 0xe8);
    out(0x42, 0x03);  // 1000 ticks
    out(0x61, 0x00);  // gate low: held
    now += 10'000'000;
    EXPECT_EQ(in(0x61) & 0x20, 0);
    out(0x61, 0x01);
    EXPECT_EQ(in(0x61) & 0x0f, 0x01);
    now += 1'000'000;  // 1193 ticks: done
    EXPECT_EQ(in(0x61) & 0x20, 0x20);
    bool seen[2] = {};
    for (int i = 0; i < 8; ++i) {
        now += 8000;  // half a refresh period
        seen[(in(0x61) >> 4) & 1] = true;
    }
    EXPECT_TRUE(seen[0] && seen[1]);
    uint32_t v = 0;
    EXPECT_FALSE(isa.port(0x60, 1, true, v, now));
    EXPECT_FALSE(isa.port(0x44, 1, true, v, now));
    EXPECT_FALSE(isa.port(0x3f8, 1, true, v, now));
    EXPECT_TRUE(isa.port(0x21, 2, true, v, now));
    EXPECT_EQ(v, 0xffffffffu);  // IMR 0xff, nothing above it
}
