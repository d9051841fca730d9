// The 8259A pair (vmm/devices/pic8259): the initialization sequence as BIOSes
// and kernels send it (ICW1-ICW4, with and without ICW3/ICW4), masks,
// priority resolution and nesting, non-specific and specific EOI, rotation
// (on EOI, in automatic EOI, set priority), IRR/ISR reads, poll mode,
// special mask and special fully nested mode, edge and level inputs (LTIM
// and the ELCR), the cascade, and the spurious IRQ 7 / IRQ 15 answers.
//
// Bad and odd inputs tried: a mask written before any ICW1; an ICW1 in the
// middle of a sequence (restarts it); "ICW4" sent when ICW1 did not ask for
// one (it is the mask); ELCR bits that must stay clear; acknowledges with
// nothing pending; everything masked; EOIs with nothing in service; IRQ
// numbers beyond 15; and 100,000 random port writes, reads, line changes
// and acknowledges (invariants checked each step).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "vmm/devices/pic8259.hpp"

using vmm::devices::DualPic;
using vmm::devices::Pic8259;

namespace {

struct PicTest : ::testing::Test {
    DualPic pic;
    void out(uint16_t port, uint8_t v) { ASSERT_TRUE(pic.port(port, false, v)); }
    uint8_t in(uint16_t port)
    {
        uint8_t v = 0;
        EXPECT_TRUE(pic.port(port, true, v));
        return v;
    }
    // What Linux and SeaBIOS send: edge, cascade, 8086 mode.
    void init(uint8_t master_base = 0x20, uint8_t slave_base = 0x28, uint8_t icw4 = 0x01)
    {
        out(0x20, 0x11);
        out(0x21, master_base);
        out(0x21, 0x04);
        out(0x21, icw4);
        out(0xa0, 0x11);
        out(0xa1, slave_base);
        out(0xa1, 0x02);
        out(0xa1, icw4);
        out(0x21, 0x00);
        out(0xa1, 0x00);
    }
    uint8_t isr(uint16_t base)
    {
        out(base, 0x0b);
        return in(base);
    }
    uint8_t irr(uint16_t base)
    {
        out(base, 0x0a);
        return in(base);
    }
    void pulse(unsigned irq)
    {
        pic.set_irq(irq, true);
        pic.set_irq(irq, false);
    }
};

}  // namespace

TEST_F(PicTest, PowerUpIsMaskedAndQuiet)
{
    EXPECT_EQ(in(0x21), 0xff);
    EXPECT_EQ(in(0xa1), 0xff);
    pulse(0);
    pulse(9);
    EXPECT_FALSE(pic.intr());  // nothing until a kernel programs it
    uint8_t v = 0;
    EXPECT_FALSE(pic.port(0x22, true, v));
    EXPECT_FALSE(pic.port(0x40, false, v));
}

TEST_F(PicTest, InitSequenceSetsVectorsAndClearsMask)
{
    init();
    EXPECT_TRUE(pic.master().initialized());
    EXPECT_EQ(pic.master().vector_base(), 0x20);
    EXPECT_EQ(pic.slave().vector_base(), 0x28);
    EXPECT_EQ(in(0x21), 0x00);
    pulse(0);
    ASSERT_TRUE(pic.intr());
    EXPECT_EQ(pic.acknowledge(), 0x20);
    EXPECT_EQ(isr(0x20), 0x01);
    EXPECT_EQ(irr(0x20), 0x00);
    out(0x20, 0x20);  // non-specific EOI
    EXPECT_EQ(isr(0x20), 0x00);
}

TEST_F(PicTest, MaskBeforeInitAndWrongIcwOrder)
{
    out(0x21, 0xfe);  // OCW1 before any ICW1: just the mask
    EXPECT_EQ(in(0x21), 0xfe);
    out(0x20, 0x11);  // ICW1 clears the mask
    out(0x21, 0x40);
    out(0x20, 0x11);  // restart in the middle: ICW2 is expected again
    out(0x21, 0x50);
    out(0x21, 0x04);
    out(0x21, 0x01);
    EXPECT_EQ(pic.master().vector_base(), 0x50);
    EXPECT_TRUE(pic.master().initialized());
    // ICW1 without IC4, single: ICW2 ends the sequence; a following "ICW4"
    // is the mask.
    out(0xa0, 0x12);
    out(0xa1, 0x70);
    out(0xa1, 0x01);
    EXPECT_EQ(in(0xa1), 0x01);
    EXPECT_FALSE(pic.slave().auto_eoi());
    // Bits 3-7 of ICW2 only.
    out(0x20, 0x13);
    out(0x21, 0x27);
    EXPECT_EQ(pic.master().vector_base(), 0x20);
}

TEST_F(PicTest, PriorityAndNesting)
{
    init();
    pulse(3);
    pulse(1);
    EXPECT_EQ(pic.acknowledge(), 0x21);  // IRQ1 over IRQ3
    pulse(0);
    EXPECT_TRUE(pic.intr());  // IRQ0 nests above IRQ1 in service
    EXPECT_EQ(pic.acknowledge(), 0x20);
    EXPECT_FALSE(pic.intr());  // IRQ3 waits below both
    EXPECT_EQ(isr(0x20), 0x03);
    out(0x20, 0x20);  // clears IRQ0 (highest in service)
    EXPECT_EQ(isr(0x20), 0x02);
    EXPECT_FALSE(pic.intr());
    out(0x20, 0x61);  // specific EOI for IRQ1
    EXPECT_TRUE(pic.intr());
    EXPECT_EQ(pic.acknowledge(), 0x23);
    out(0x20, 0x63);
    EXPECT_EQ(isr(0x20), 0x00);
    out(0x20, 0x20);  // EOI with nothing in service: nothing happens
    out(0x20, 0x67);
    EXPECT_EQ(isr(0x20), 0x00);
}

TEST_F(PicTest, RotationAndSetPriority)
{
    init();
    pulse(0);
    EXPECT_EQ(pic.acknowledge(), 0x20);
    out(0x20, 0xa0);  // rotate on non-specific EOI: IRQ0 is now lowest
    pulse(0);
    pulse(5);
    EXPECT_EQ(pic.acknowledge(), 0x25);  // IRQ5 outranks IRQ0 now
    out(0x20, 0xe5);  // rotate on specific EOI 5: IRQ6 highest
    pulse(6);
    EXPECT_EQ(pic.acknowledge(), 0x26);
    out(0x20, 0x66);
    EXPECT_EQ(pic.acknowledge(), 0x20);
    out(0x20, 0x60);
    out(0x20, 0xc7);  // set priority: IRQ7 lowest again
    pulse(7);
    pulse(1);
    EXPECT_EQ(pic.acknowledge(), 0x21);
    out(0x20, 0x20);
    EXPECT_EQ(pic.acknowledge(), 0x27);
    out(0x20, 0x40);  // OCW2 no-op
    EXPECT_EQ(isr(0x20), 0x80);
}

TEST_F(PicTest, AutoEoiAndItsRotation)
{
    init(0x20, 0x28, 0x03);
    EXPECT_TRUE(pic.master().auto_eoi());
    pulse(4);
    EXPECT_EQ(pic.acknowledge(), 0x24);
    EXPECT_EQ(isr(0x20), 0x00);
    pulse(4);
    EXPECT_TRUE(pic.intr());  // nothing in service blocks it
    out(0x20, 0x80);          // rotate in automatic EOI mode
    EXPECT_EQ(pic.acknowledge(), 0x24);
    pulse(4);
    pulse(5);
    EXPECT_EQ(pic.acknowledge(), 0x25);  // IRQ4 went lowest
    out(0x20, 0x00);
}

TEST_F(PicTest, MaskAllAndUnmask)
{
    init();
    out(0x21, 0xff);
    out(0xa1, 0xff);
    for (unsigned i = 0; i < 16; ++i) pulse(i);
    EXPECT_FALSE(pic.intr());
    EXPECT_EQ(irr(0x20), 0xfb);  // masked requests still latch (IR2 follows the slave, which asserts nothing)
    EXPECT_EQ(irr(0xa0), 0xff);
    out(0xa1, 0x00);
    EXPECT_FALSE(pic.intr());  // the master still masks the cascade
    out(0x21, 0xfb);
    EXPECT_TRUE(pic.intr());
    EXPECT_EQ(pic.acknowledge(), 0x28);
    EXPECT_EQ(isr(0x20), 0x04);
    EXPECT_EQ(isr(0xa0), 0x01);
}

TEST_F(PicTest, SpuriousIrq7AndIrq15)
{
    init();
    EXPECT_FALSE(pic.intr());
    EXPECT_EQ(pic.acknowledge(), 0x27);  // INTA with nothing: IR7's vector
    EXPECT_EQ(isr(0x20), 0x00);          // and nothing in service
    // A slave request that goes away (masked) before the INTA: the master
    // no longer sees IR2 either (the cascade is a level), so the pair
    // answers the master's spurious vector.
    pulse(10);
    EXPECT_TRUE(pic.intr());
    out(0xa1, 0xff);
    EXPECT_FALSE(pic.intr());
    EXPECT_EQ(pic.acknowledge(), 0x27);
    // The master decided for IR2 and the slave then finds nothing: the
    // slave's IR7 (IRQ 15) is the answer and the master keeps IR2 in
    // service, so the guest's EOI goes to the master only.
    out(0xa1, 0x00);
    Pic8259& m = pic.master();
    ASSERT_EQ(m.acknowledge(), 2);
    out(0xa1, 0xff);
    EXPECT_EQ(pic.slave().acknowledge(), -1);
    EXPECT_EQ(isr(0x20), 0x04);
    EXPECT_EQ(isr(0xa0), 0x00);
    out(0x20, 0x20);
    EXPECT_EQ(isr(0x20), 0x00);
}

TEST_F(PicTest, SlaveSpuriousThroughThePair)
{
    init();
    // The slave in automatic EOI and its request already taken by a poll:
    // the master latched nothing new, so force a stale master decision by
    // polling the master only.
    pulse(12);
    out(0x20, 0x0c);  // poll the master: IR2
    EXPECT_EQ(in(0x20), 0x82);
    EXPECT_EQ(isr(0x20), 0x04);
    out(0xa0, 0x0c);  // then the slave: IR4 (IRQ12)
    EXPECT_EQ(in(0xa0), 0x84);
    out(0xa0, 0x0c);  // nothing more: bit 7 clear
    EXPECT_EQ(in(0xa0), 0x00);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    EXPECT_EQ(isr(0x20), 0x00);
    EXPECT_EQ(isr(0xa0), 0x00);
}

TEST_F(PicTest, LevelTriggeredThroughElcrAndLtim)
{
    init();
    out(0x4d0, 0xff);  // IRQ0-2 cannot be level
    out(0x4d1, 0xff);  // nor IRQ8 and IRQ13
    EXPECT_EQ(in(0x4d0), 0xf8);
    EXPECT_EQ(in(0x4d1), 0xde);
    pic.set_irq(9, true);
    EXPECT_EQ(pic.acknowledge(), 0x29);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    EXPECT_TRUE(pic.intr());  // still high: again
    EXPECT_EQ(pic.acknowledge(), 0x29);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    pic.set_irq(9, false);
    EXPECT_FALSE(pic.intr());
    // Edge IRQ0 stays latched after its line falls; IRQ3 (level) does not.
    pic.set_irq(3, true);
    pic.set_irq(3, false);
    EXPECT_FALSE(pic.intr());
    pulse(0);
    EXPECT_TRUE(pic.intr());
    // LTIM: every master input level-triggered.
    out(0x20, 0x19);
    out(0x21, 0x20);
    out(0x21, 0x04);
    out(0x21, 0x01);
    EXPECT_FALSE(pic.intr());  // the edge latch is gone with the ICW1
    pic.set_irq(0, true);
    EXPECT_EQ(pic.acknowledge(), 0x20);
    out(0x20, 0x20);
    EXPECT_TRUE(pic.intr());
    pic.set_irq(0, false);
    EXPECT_FALSE(pic.intr());
}

TEST_F(PicTest, SpecialMaskMode)
{
    init();
    pulse(2 + 1);  // IRQ3
    EXPECT_EQ(pic.acknowledge(), 0x23);
    pulse(5);
    EXPECT_FALSE(pic.intr());  // below IRQ3 in service
    out(0x21, 0x08);           // mask IRQ3 and
    out(0x20, 0x68);           // enter special mask mode
    EXPECT_TRUE(pic.intr());
    EXPECT_EQ(pic.acknowledge(), 0x25);
    out(0x20, 0x48);  // leave it
    out(0x20, 0x65);
    out(0x20, 0x63);
    EXPECT_EQ(isr(0x20), 0x00);
}

TEST_F(PicTest, SpecialFullyNestedLetsTheSlaveNest)
{
    init(0x20, 0x28, 0x11);  // master in SFNM
    pulse(12);
    EXPECT_EQ(pic.acknowledge(), 0x2c);
    pulse(8);
    EXPECT_TRUE(pic.intr());  // IRQ8 outranks IRQ12 on the slave; IR2 in service does not block it
    EXPECT_EQ(pic.acknowledge(), 0x28);
    // Without SFNM the same second request waits.
    init();
    pulse(12);
    EXPECT_EQ(pic.acknowledge(), 0x2c);
    pulse(8);
    EXPECT_FALSE(pic.intr());
}

TEST_F(PicTest, PollMode)
{
    init();
    out(0x21, 0xff);  // polling works with the mask? no: masked requests are not polled
    pulse(6);
    out(0x20, 0x0c);
    EXPECT_EQ(in(0x20), 0x00);
    out(0x21, 0x00);
    out(0x20, 0x0c);
    EXPECT_EQ(in(0x20), 0x86);
    EXPECT_EQ(isr(0x20), 0x40);
    EXPECT_EQ(in(0x20), 0x40);  // the poll is for one read only; OCW3 selected ISR
    out(0x20, 0x66);
}

TEST_F(PicTest, OutOfRangeIrqsAreIgnored)
{
    init();
    pic.set_irq(2, true);  // the cascade is not a device input
    pic.set_irq(16, true);
    pic.set_irq(~0u, true);
    EXPECT_FALSE(pic.intr());
}

TEST_F(PicTest, RandomInputsKeepInvariants)
{
    std::mt19937 rng(8259);
    static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};
    for (int i = 0; i < 100000; ++i) {
        unsigned what = rng() % 4;
        uint8_t v = uint8_t(rng());
        uint16_t p = ports[rng() % 6];
        if (what == 0) (void)pic.port(p, false, v);
        else if (what == 1) (void)pic.port(p, true, v);
        else if (what == 2) pic.set_irq(rng() % 16, rng() & 1);
        else {
            bool intr = pic.intr();
            uint8_t vec = pic.acknowledge();
            if (!intr) {
                EXPECT_EQ(vec & 7, 7);
            }
        }
        EXPECT_EQ(pic.master().elcr() & 0x07, 0);
        EXPECT_EQ(pic.slave().elcr() & 0x21, 0);
        EXPECT_EQ(pic.master().irr() & 0x04 ? 1 : 0, pic.slave().intr() ? 1 : 0);
    }
}
