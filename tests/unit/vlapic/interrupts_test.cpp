// Acceptance, priority, acknowledge and EOI (SDM 10.8), illegal vectors and
// the ESR (10.5.2, 10.5.3), LVT local sources and the events for the vCPU
// state machine. Bad inputs tried: vectors 0-15 from every source (message,
// LVT timer/error/LINT, ICR, self IPI), an illegal vector in the error LVT
// itself (no recursion), interrupts to a software- and hardware-disabled
// APIC, EOI with nothing in service, INIT level de-assert.
#include "vlapic_test_util.hpp"

using namespace vt;

namespace {

struct Irq : ::testing::Test {
    RecordingBus bus;
    Vlapic a;
    void SetUp() override
    {
        a.reset(config(1), &bus);
        enable_xapic(a);
    }
    int ack()
    {
        auto v = a.acknowledge();
        return v.ok() ? int(*v) : -1;
    }
    int pending()
    {
        auto v = a.pending_vector();
        return v.ok() ? int(*v) : -1;
    }
};

}  // namespace

TEST_F(Irq, AcceptAcknowledgeEoi)
{
    EXPECT_EQ(pending(), -1);
    a.accept_fixed(0x31, false);
    EXPECT_TRUE(a.irr().test(0x31));
    EXPECT_EQ(pending(), 0x31);
    EXPECT_EQ(ack(), 0x31);
    EXPECT_FALSE(a.irr().test(0x31));
    EXPECT_TRUE(a.isr().test(0x31));
    EXPECT_EQ(a.ppr(), 0x30);
    EXPECT_EQ(rd(a, 0xa0), 0x30u);
    EXPECT_EQ(pending(), -1);
    EXPECT_EQ(ack(), -1);
    wr(a, 0xb0, 0);
    EXPECT_TRUE(a.isr().empty());
    EXPECT_EQ(a.ppr(), 0);
    EXPECT_TRUE(bus.eois.empty());  // edge-triggered: no broadcast
    EXPECT_FALSE(a.eoi().ok());     // nothing in service: harmless
}

TEST_F(Irq, PprFollowsSdmFormula)
{
    // 10.8.3.1.
    a.set_tpr(0x35);
    a.accept_fixed(0x20, false);
    a.set_tpr(0);
    ASSERT_EQ(ack(), 0x20);
    a.set_tpr(0x35);
    EXPECT_EQ(a.ppr(), 0x35);  // TPR class above ISR class: PPR = TPR
    a.set_tpr(0x15);
    EXPECT_EQ(a.ppr(), 0x20);  // ISR class above: ISRV[7:4]:0
    a.set_tpr(0x2f);
    EXPECT_EQ(a.ppr(), 0x2f);  // equal classes: TPR
}

TEST_F(Irq, TprMasksByPriorityClass)
{
    wr(a, 0x80, 0x50);
    a.accept_fixed(0x5f, false);
    EXPECT_EQ(pending(), -1);  // same class as TPR: held
    a.accept_fixed(0x45, false);
    EXPECT_EQ(pending(), -1);
    a.accept_fixed(0x60, false);
    EXPECT_EQ(pending(), 0x60);
    EXPECT_EQ(ack(), 0x60);
    wr(a, 0xb0, 0);
    EXPECT_EQ(pending(), -1);
    wr(a, 0x80, 0x4f);
    EXPECT_EQ(pending(), 0x5f);
    a.write_cr8(3);  // CR8 = TPR[7:4]
    EXPECT_EQ(rd(a, 0x80), 0x30u);
    EXPECT_EQ(a.cr8(), 3u);
    EXPECT_EQ(ack(), 0x5f);
    EXPECT_EQ(ack(), -1);  // 0x45 is below PPR 0x50 now
}

TEST_F(Irq, NestedInterruptsAndEoiOrder)
{
    a.accept_fixed(0x40, false);
    ASSERT_EQ(ack(), 0x40);
    a.accept_fixed(0x45, false);  // same class: waits
    a.accept_fixed(0x30, false);  // lower: waits
    EXPECT_EQ(pending(), -1);
    a.accept_fixed(0x80, false);  // higher class: nests
    EXPECT_EQ(pending(), 0x80);
    ASSERT_EQ(ack(), 0x80);
    a.accept_fixed(0xe0, false);
    ASSERT_EQ(ack(), 0xe0);
    EXPECT_EQ(a.ppr(), 0xe0);
    // EOIs retire the highest in-service vector first.
    EXPECT_EQ(*a.eoi(), 0xe0);
    EXPECT_EQ(*a.eoi(), 0x80);
    EXPECT_EQ(pending(), -1);
    EXPECT_EQ(*a.eoi(), 0x40);
    EXPECT_EQ(ack(), 0x45);
    EXPECT_EQ(*a.eoi(), 0x45);
    EXPECT_EQ(ack(), 0x30);
    EXPECT_EQ(*a.eoi(), 0x30);
    EXPECT_TRUE(a.isr().empty());
    EXPECT_TRUE(a.irr().empty());
}

TEST_F(Irq, SameVectorPendingAndInService)
{
    a.accept_fixed(0x50, false);
    ASSERT_EQ(ack(), 0x50);
    a.accept_fixed(0x50, false);  // may be pending while in service (10.8.4)
    a.accept_fixed(0x50, false);  // merges
    EXPECT_EQ(pending(), -1);
    wr(a, 0xb0, 0);
    EXPECT_EQ(ack(), 0x50);
    EXPECT_EQ(ack(), -1);
}

TEST_F(Irq, LevelTriggeredEoiIsBroadcast)
{
    a.accept_fixed(0x61, true);
    a.accept_fixed(0x71, false);
    EXPECT_TRUE(a.tmr().test(0x61));
    EXPECT_FALSE(a.tmr().test(0x71));
    EXPECT_EQ(rd(a, 0x180 + 0x10 * 3), 1u << 1);  // TMR bits 127:96: vector 0x61
    ASSERT_EQ(ack(), 0x71);
    ASSERT_EQ(ack(), -1);
    wr(a, 0xb0, 0);
    EXPECT_TRUE(bus.eois.empty());
    ASSERT_EQ(ack(), 0x61);
    wr(a, 0xb0, 0);
    ASSERT_EQ(bus.eois.size(), 1u);
    EXPECT_EQ(bus.eois[0], 0x61);
    // The same vector arriving edge-triggered clears its TMR bit.
    a.accept_fixed(0x61, false);
    EXPECT_FALSE(a.tmr().test(0x61));
}

TEST_F(Irq, DirectedEoiSuppressesBroadcast)
{
    wr(a, 0xf0, 0x11ff);  // SVR bit 12
    a.accept_fixed(0x61, true);
    ASSERT_EQ(ack(), 0x61);
    EXPECT_EQ(*a.eoi(), 0x61);
    EXPECT_TRUE(bus.eois.empty());
    // Not offered: bit 12 cannot be set, so the broadcast happens.
    Config c = config(1);
    c.eoi_suppression = false;
    a.reset(c, &bus);
    wr(a, 0xf0, 0x11ff);
    a.accept_fixed(0x61, true);
    ASSERT_EQ(ack(), 0x61);
    wr(a, 0xb0, 0);
    EXPECT_EQ(bus.eois.size(), 1u);
}

TEST_F(Irq, X2apicEoiAndSelfIpi)
{
    enable_x2apic(a);
    wrmsr(a, 0x83f, 0x91);
    EXPECT_EQ(pending(), 0x91);
    EXPECT_FALSE(a.tmr().test(0x91));
    ASSERT_EQ(ack(), 0x91);
    EXPECT_EQ(rdmsr(a, 0x810 + 0x91 / 32), 1u << (0x91 % 32));
    EXPECT_EQ(rdmsr(a, 0x80a), 0x90u);
    wrmsr(a, 0x80b, 0);
    EXPECT_TRUE(a.isr().empty());
    // Illegal self-IPI vector: send-illegal-vector, nothing pending.
    wrmsr(a, 0x83f, 0x0f);
    EXPECT_TRUE(a.irr().empty());
    wrmsr(a, 0x828, 0);
    EXPECT_EQ(rdmsr(a, 0x828), esr::send_illegal_vector);
}

TEST_F(Irq, IllegalVectorsAndErrorInterrupt)
{
    wr(a, 0x370, 0xfe);  // error LVT unmasked, vector 0xfe
    for (unsigned v = 0; v < 16; ++v) {
        a.deliver({.vector = uint8_t(v), .mode = DeliveryMode::fixed, .level_triggered = false});
        a.accept_fixed(uint8_t(v), true);
    }
    for (unsigned v = 0; v < 16; ++v) EXPECT_FALSE(a.irr().test(uint8_t(v)));
    EXPECT_TRUE(a.irr().test(0xfe));  // the error interrupt
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), esr::receive_illegal_vector);
    // An illegal vector in the timer LVT.
    wr(a, 0x320, 0x05);
    wr(a, 0x3e0, 0xb);
    wr(a, 0x380, 1, 0);
    a.advance(1000);
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), esr::receive_illegal_vector);
    // An illegal vector in the error LVT itself: recorded, no recursion.
    wr(a, 0x370, 0x02);
    a.accept_fixed(1, false);
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), esr::receive_illegal_vector);
    // Vectors 16-255 are all legal.
    for (unsigned v = 16; v < 256; ++v) a.accept_fixed(uint8_t(v), false);
    for (unsigned v = 16; v < 256; ++v) EXPECT_TRUE(a.irr().test(uint8_t(v)));
}

TEST_F(Irq, MaskedErrorLvtStillRecords)
{
    a.accept_fixed(7, false);
    EXPECT_TRUE(a.irr().empty());
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), esr::receive_illegal_vector);
}

TEST_F(Irq, SoftwareDisabledHoldsAndRefuses)
{
    a.accept_fixed(0x40, false);
    wr(a, 0xf0, 0xff);  // software disable
    a.accept_fixed(0x50, false);
    EXPECT_FALSE(a.irr().test(0x50));  // not accepted
    EXPECT_TRUE(a.irr().test(0x40));   // held
    EXPECT_EQ(pending(), -1);
    // NMI, INIT and SIPI are still taken (10.4.7.2).
    a.deliver({.vector = 0, .mode = DeliveryMode::nmi});
    a.deliver({.vector = 0, .mode = DeliveryMode::init, .level_triggered = false, .assert_level = true});
    EXPECT_TRUE(a.take_events().nmi);
    enable_xapic(a);
    EXPECT_EQ(pending(), 0x40);
}

TEST_F(Irq, EventsForTheVcpu)
{
    EXPECT_FALSE(a.has_events());
    a.deliver({.vector = 0, .mode = DeliveryMode::nmi});
    a.deliver({.vector = 0x9a, .mode = DeliveryMode::startup});
    a.deliver({.vector = 0, .mode = DeliveryMode::extint});
    a.deliver({.vector = 0, .mode = DeliveryMode::smi});
    EXPECT_TRUE(a.has_events());
    Events e = a.take_events();
    EXPECT_TRUE(e.nmi);
    EXPECT_TRUE(e.startup);
    EXPECT_EQ(e.startup_vector, 0x9a);
    EXPECT_TRUE(e.extint);
    EXPECT_TRUE(e.smi);
    EXPECT_FALSE(e.init);
    EXPECT_FALSE(a.has_events());
    // INIT level de-assert does nothing; INIT assert is an event.
    a.deliver({.vector = 0, .mode = DeliveryMode::init, .level_triggered = true, .assert_level = false});
    EXPECT_FALSE(a.has_events());
    a.deliver({.vector = 0, .mode = DeliveryMode::init, .level_triggered = true, .assert_level = true});
    EXPECT_TRUE(a.take_events().init);
    // Lowest priority arriving here is accepted like fixed.
    a.deliver({.vector = 0x77, .mode = DeliveryMode::lowest_priority, .level_triggered = true});
    EXPECT_TRUE(a.irr().test(0x77));
    EXPECT_TRUE(a.tmr().test(0x77));
}

TEST_F(Irq, LintPins)
{
    wr(a, 0x350, 0x700);          // LINT0: ExtINT (virtual wire)
    wr(a, 0x360, 0x400);          // LINT1: NMI
    a.raise_lint(0);
    a.raise_lint(1);
    a.raise_lint(2);              // no such pin: ignored
    Events e = a.take_events();
    EXPECT_TRUE(e.extint);
    EXPECT_TRUE(e.nmi);
    wr(a, 0x360, 0x10400);        // masked
    a.raise_lint(1);
    EXPECT_FALSE(a.take_events().nmi);
    // Level-triggered fixed LINT0: remote IRR until EOI.
    wr(a, 0x350, 0x8000 | 0x66);
    a.raise_lint(0);
    EXPECT_EQ(rd(a, 0x350) & lvt::remote_irr, lvt::remote_irr);
    ASSERT_EQ(ack(), 0x66);
    a.raise_lint(0);              // ignored while remote IRR is set
    EXPECT_FALSE(a.irr().test(0x66));
    wr(a, 0xb0, 0);
    EXPECT_EQ(rd(a, 0x350) & lvt::remote_irr, 0u);
    EXPECT_EQ(bus.eois.size(), 1u);
    a.raise_lint(0);
    EXPECT_TRUE(a.irr().test(0x66));
}

TEST_F(Irq, AcceptsThePicsInterrupt)
{
    // KVM's rule: LINT0 unmasked ExtINT, or the APIC hardware-disabled.
    EXPECT_FALSE(a.accepts_extint());  // reset: LINT0 masked
    wr(a, 0x350, 0x700);
    EXPECT_TRUE(a.accepts_extint());
    wr(a, 0x350, 0x10700);  // masked
    EXPECT_FALSE(a.accepts_extint());
    wr(a, 0x350, 0x400);  // NMI, not ExtINT
    EXPECT_FALSE(a.accepts_extint());
    wr(a, 0x350, 0x700);
    wr(a, 0xf0, 0xff);  // software-disabled: every LVT masked
    EXPECT_FALSE(a.accepts_extint());
    ASSERT_TRUE(a.write_apic_base(a.apic_base() & ~(1ull << 11), 0).ok());  // hardware-disabled
    EXPECT_EQ(a.mode(), Mode::disabled);
    EXPECT_TRUE(a.accepts_extint());
}

TEST_F(Irq, ArbitrationPriority)
{
    // 10.6.2.4.
    a.set_tpr(0x40);
    EXPECT_EQ(a.apr(), 0x40);
    a.accept_fixed(0x61, false);  // IRRV class above TPR
    EXPECT_EQ(a.apr(), 0x60);
    EXPECT_EQ(rd(a, 0x90), 0x60u);
    a.set_tpr(0x70);
    EXPECT_EQ(a.apr(), 0x70);
}

TEST_F(Irq, HardwareDisabledAcceptsNothing)
{
    ASSERT_TRUE(a.write_apic_base(default_base, 0).ok());
    a.deliver({.vector = 0, .mode = DeliveryMode::nmi});
    a.deliver({.vector = 0x40, .mode = DeliveryMode::fixed});
    a.raise_lint(1);
    EXPECT_FALSE(a.has_events());
    EXPECT_TRUE(a.irr().empty());
}
