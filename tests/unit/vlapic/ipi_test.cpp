// ICR writes become IPI requests (SDM 10.6.1), destination matching (10.6.2,
// 10.12.10), shorthands, and a small domain that routes IPIs between four
// vLAPICs. Bad inputs tried: reserved delivery modes 011b/111b, vectors 0-15
// with fixed and lowest-priority delivery, the self shorthand with non-fixed
// modes, INIT level de-assert, xAPIC-format logical destinations aimed at
// x2APIC targets and 32-bit destinations aimed at xAPIC targets, disabled
// targets.
#include "vlapic_test_util.hpp"

using namespace vt;

namespace {

struct Ipis : ::testing::Test {
    RecordingBus bus;
    Vlapic a;
    void SetUp() override
    {
        a.reset(config(2), &bus);
        enable_xapic(a);
    }
};

Vlapic xapic(uint32_t id, uint32_t ldr = 0, uint32_t dfr = 0xffffffff)
{
    Vlapic v;
    v.reset(config(id), nullptr);
    enable_xapic(v);
    wr(v, 0xd0, ldr);
    wr(v, 0xe0, dfr);
    return v;
}

Vlapic x2apic(uint32_t id)
{
    Vlapic v;
    v.reset(config(id), nullptr);
    enable_x2apic(v);
    return v;
}

Destination phys(uint32_t id, bool x2 = false) { return {.id = id, .logical = false, .x2apic_format = x2, .shorthand = Shorthand::none}; }
Destination logical(uint32_t id, bool x2 = false) { return {.id = id, .logical = true, .x2apic_format = x2, .shorthand = Shorthand::none}; }

}  // namespace

TEST_F(Ipis, IcrWriteProducesRequest)
{
    wr(a, 0x310, 0x07000000);
    EXPECT_TRUE(bus.ipis.empty());
    wr(a, 0x300, 0x0000c000 | (1u << 11) | 0x45);  // fixed, logical, level assert, level trigger
    ASSERT_EQ(bus.ipis.size(), 1u);
    const Ipi& i = bus.ipis[0];
    EXPECT_EQ(i.irq.vector, 0x45);
    EXPECT_EQ(i.irq.mode, DeliveryMode::fixed);
    EXPECT_TRUE(i.irq.level_triggered);
    EXPECT_TRUE(i.irq.assert_level);
    EXPECT_EQ(i.dest.id, 7u);
    EXPECT_TRUE(i.dest.logical);
    EXPECT_FALSE(i.dest.x2apic_format);
    EXPECT_EQ(i.dest.shorthand, Shorthand::none);
    EXPECT_EQ(i.source_id, 2u);
    EXPECT_EQ(rd(a, 0x300) & icr::delivery_status, 0u);  // always idle
}

TEST_F(Ipis, DeliveryModesAndChecks)
{
    wr(a, 0x300, (5u << 8) | 0x4000);              // INIT assert
    wr(a, 0x300, (5u << 8) | 0x8000);              // INIT level de-assert: dropped
    wr(a, 0x300, (6u << 8) | 0x9a);                // SIPI
    wr(a, 0x300, (4u << 8));                       // NMI, vector ignored
    wr(a, 0x300, (1u << 8) | 0x50);                // lowest priority
    wr(a, 0x300, (2u << 8));                       // SMI
    wr(a, 0x300, (3u << 8) | 0x50);                // reserved: dropped
    wr(a, 0x300, (7u << 8) | 0x50);                // reserved in the ICR: dropped
    ASSERT_EQ(bus.ipis.size(), 5u);
    EXPECT_EQ(bus.ipis[0].irq.mode, DeliveryMode::init);
    EXPECT_EQ(bus.ipis[1].irq.mode, DeliveryMode::startup);
    EXPECT_EQ(bus.ipis[1].irq.vector, 0x9a);
    EXPECT_EQ(bus.ipis[2].irq.mode, DeliveryMode::nmi);
    EXPECT_EQ(bus.ipis[3].irq.mode, DeliveryMode::lowest_priority);
    EXPECT_EQ(bus.ipis[4].irq.mode, DeliveryMode::smi);
    // Fixed / lowest with an illegal vector: send-illegal-vector, not sent.
    wr(a, 0x300, 0x0f);
    wr(a, 0x300, (1u << 8) | 0x01);
    EXPECT_EQ(bus.ipis.size(), 5u);
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), esr::send_illegal_vector);
}

TEST_F(Ipis, Shorthands)
{
    wr(a, 0x300, (1u << 18) | 0x66);  // self: handled locally
    EXPECT_TRUE(bus.ipis.empty());
    EXPECT_TRUE(a.irr().test(0x66));
    wr(a, 0x300, (1u << 18) | (4u << 8));  // self + NMI: not valid, dropped
    EXPECT_FALSE(a.has_events());
    EXPECT_TRUE(bus.ipis.empty());
    wr(a, 0x300, (2u << 18) | 0x67);
    wr(a, 0x300, (3u << 18) | (5u << 8) | 0x4000);
    ASSERT_EQ(bus.ipis.size(), 2u);
    EXPECT_EQ(bus.ipis[0].dest.shorthand, Shorthand::all_including_self);
    EXPECT_EQ(bus.ipis[1].dest.shorthand, Shorthand::all_excluding_self);
    Vlapic b = xapic(3);
    EXPECT_TRUE(is_ipi_target(a, a, bus.ipis[0].dest));
    EXPECT_TRUE(is_ipi_target(b, a, bus.ipis[0].dest));
    EXPECT_FALSE(is_ipi_target(a, a, bus.ipis[1].dest));
    EXPECT_TRUE(is_ipi_target(b, a, bus.ipis[1].dest));
    Destination self{.id = 0, .logical = false, .x2apic_format = false, .shorthand = Shorthand::self};
    EXPECT_TRUE(is_ipi_target(a, a, self));
    EXPECT_FALSE(is_ipi_target(b, a, self));
}

TEST_F(Ipis, X2apicIcrCarries32BitDestination)
{
    enable_x2apic(a);
    wrmsr(a, 0x830, (0x12345ull << 32) | 0x4000 | 0x70);
    ASSERT_EQ(bus.ipis.size(), 1u);
    EXPECT_EQ(bus.ipis[0].dest.id, 0x12345u);
    EXPECT_TRUE(bus.ipis[0].dest.x2apic_format);
    EXPECT_EQ(bus.ipis[0].source_id, 2u);
}

TEST(VlapicDestination, Physical)
{
    Vlapic t = xapic(3);
    EXPECT_TRUE(matches_destination(t, phys(3)));
    EXPECT_FALSE(matches_destination(t, phys(4)));
    EXPECT_TRUE(matches_destination(t, phys(0xff)));          // broadcast
    EXPECT_FALSE(matches_destination(t, phys(0x103, true)));  // 32-bit ID is not 3
    EXPECT_TRUE(matches_destination(t, phys(3, true)));
    Vlapic x = x2apic(0x1234);
    EXPECT_TRUE(matches_destination(x, phys(0x1234, true)));
    EXPECT_FALSE(matches_destination(x, phys(0x34, true)));
    EXPECT_TRUE(matches_destination(x, phys(0xffffffff, true)));
    EXPECT_FALSE(matches_destination(x, phys(0xff, true)));    // 0xff is an ID in x2APIC format
    EXPECT_TRUE(matches_destination(x, phys(0xff, false)));    // xAPIC sender's broadcast
    Vlapic off = xapic(3);
    ASSERT_TRUE(off.write_apic_base(default_base, 0).ok());
    EXPECT_FALSE(matches_destination(off, phys(3)));
    EXPECT_FALSE(matches_destination(off, phys(0xff)));
}

TEST(VlapicDestination, LogicalFlat)
{
    Vlapic t0 = xapic(0, 0x01000000), t1 = xapic(1, 0x02000000), t7 = xapic(7, 0x80000000);
    EXPECT_TRUE(matches_destination(t0, logical(0x01)));
    EXPECT_FALSE(matches_destination(t1, logical(0x01)));
    EXPECT_TRUE(matches_destination(t0, logical(0x03)));
    EXPECT_TRUE(matches_destination(t1, logical(0x03)));
    EXPECT_FALSE(matches_destination(t7, logical(0x03)));
    EXPECT_TRUE(matches_destination(t7, logical(0xff)));
    EXPECT_FALSE(matches_destination(t7, logical(0)));
    Vlapic none = xapic(9, 0);
    EXPECT_FALSE(matches_destination(none, logical(0x7f)));
    EXPECT_TRUE(matches_destination(none, logical(0xff)));  // broadcast
}

TEST(VlapicDestination, LogicalCluster)
{
    // DFR model 0000b: MDA[7:4] cluster, MDA[3:0] members.
    Vlapic a = xapic(0, 0x21000000, 0x0fffffff), b = xapic(1, 0x22000000, 0x0fffffff), c = xapic(2, 0x31000000, 0x0fffffff);
    EXPECT_TRUE(matches_destination(a, logical(0x21)));
    EXPECT_TRUE(matches_destination(a, logical(0x23)));
    EXPECT_TRUE(matches_destination(b, logical(0x23)));
    EXPECT_FALSE(matches_destination(c, logical(0x23)));
    EXPECT_TRUE(matches_destination(c, logical(0x31)));
    EXPECT_FALSE(matches_destination(a, logical(0x11)));
    EXPECT_FALSE(matches_destination(a, logical(0x22)));
    EXPECT_TRUE(matches_destination(c, logical(0xff)));
    EXPECT_FALSE(matches_destination(a, logical(0x121, true)));  // does not fit 8 bits
}

TEST(VlapicDestination, X2apicClusterLogical)
{
    Vlapic a = x2apic(0x23), b = x2apic(0x2f), c = x2apic(0x13);
    ASSERT_EQ(a.ldr(), 0x00020008u);
    ASSERT_EQ(b.ldr(), 0x00028000u);
    ASSERT_EQ(c.ldr(), 0x00010008u);
    EXPECT_TRUE(matches_destination(a, logical(0x00020008, true)));
    EXPECT_TRUE(matches_destination(a, logical(0x00028008, true)));
    EXPECT_TRUE(matches_destination(b, logical(0x00028008, true)));
    EXPECT_FALSE(matches_destination(c, logical(0x00028008, true)));  // other cluster
    EXPECT_FALSE(matches_destination(a, logical(0x00020001, true)));
    EXPECT_TRUE(matches_destination(c, logical(0xffffffff, true)));
    EXPECT_FALSE(matches_destination(a, logical(0x08, false)));  // xAPIC format: no meaning here
}

namespace {

// A domain of four vCPUs: routes like the real domain will.
struct Domain4 : Bus {
    Vlapic cpu[4];
    int sends = 0;
    void send_ipi(Vlapic& from, const Ipi& ipi) override
    {
        ++sends;
        for (auto& t : cpu)
            if (is_ipi_target(t, from, ipi.dest)) t.deliver(ipi.irq);
    }
    void eoi_broadcast(Vlapic&, uint8_t) override {}
};

}  // namespace

TEST(VlapicDomain, InitSipiSipiAndBroadcasts)
{
    Domain4 d;
    for (uint32_t i = 0; i < 4; ++i) {
        d.cpu[i].reset(config(i), &d);
        enable_xapic(d.cpu[i]);
    }
    Vlapic& bsp = d.cpu[0];
    // INIT, SIPI, SIPI to all excluding self, as Linux and firmware do.
    wr(bsp, 0x300, 0x000c4500);
    wr(bsp, 0x300, 0x000c4608);
    for (int i = 1; i < 4; ++i) {
        Events e = d.cpu[i].take_events();
        EXPECT_TRUE(e.init);
        EXPECT_TRUE(e.startup);
        EXPECT_EQ(e.startup_vector, 8);
    }
    EXPECT_FALSE(bsp.has_events());
    // A fixed IPI to physical ID 2.
    wr(bsp, 0x310, 0x02000000);
    wr(bsp, 0x300, 0x000000f2);
    EXPECT_TRUE(d.cpu[2].irr().test(0xf2));
    EXPECT_FALSE(d.cpu[1].irr().test(0xf2));
    // All including self.
    wr(bsp, 0x300, 0x00080030);
    for (auto& c : d.cpu) EXPECT_TRUE(c.irr().test(0x30));
    // Physical broadcast 0xff from vCPU 3 reaches everyone, itself too.
    wr(d.cpu[3], 0x310, 0xff000000);
    wr(d.cpu[3], 0x300, 0x00000031);
    for (auto& c : d.cpu) EXPECT_TRUE(c.irr().test(0x31));
    // x2APIC mode: logical cluster destinations.
    for (auto& c : d.cpu) {
        ASSERT_TRUE(c.write_apic_base(x2apic_base | (c.apic_base() & apic_base::bsp), 0).ok());
    }
    wrmsr(bsp, 0x830, (0x0000000aull << 32) | (1u << 11) | 0x40);  // cluster 0, members 1 and 3
    EXPECT_FALSE(d.cpu[0].irr().test(0x40));
    EXPECT_TRUE(d.cpu[1].irr().test(0x40));
    EXPECT_FALSE(d.cpu[2].irr().test(0x40));
    EXPECT_TRUE(d.cpu[3].irr().test(0x40));
}
