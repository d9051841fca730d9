// vLAPIC register read/write rules in xAPIC mode (MMIO, SDM Table 10-1) and
// x2APIC mode (MSRs, Table 10-6), and IA32_APIC_BASE transitions (10.12.5).
// Bad inputs tried here: writes to every read-only register, reserved bits in
// every writable register (ignored in xAPIC, #GP in x2APIC), reserved MMIO
// offsets, narrow / misaligned / 8-byte / out-of-page MMIO accesses, every
// MSR of 0x800-0x8ff in both modes, illegal APIC_BASE transitions and
// reserved APIC_BASE bits.
#include "vlapic_test_util.hpp"

using namespace vt;

namespace {

struct Xapic : ::testing::Test {
    RecordingBus bus;
    Vlapic a;
    void SetUp() override { a.reset(config(3), &bus); }
};

struct X2apic : ::testing::Test {
    RecordingBus bus;
    Vlapic a;
    void SetUp() override
    {
        a.reset(config(0x23), &bus);
        enable_x2apic(a);
    }
};

}  // namespace

TEST(VlapicReset, PowerUpState)
{
    Vlapic a;
    a.reset(config(0), nullptr);
    EXPECT_EQ(a.mode(), Mode::xapic);
    EXPECT_EQ(a.apic_base(), 0xfee00900u);  // EN + BSP
    Vlapic b;
    b.reset(config(5), nullptr);
    EXPECT_EQ(b.apic_base(), 0xfee00800u);
    EXPECT_EQ(rd(b, 0x20), 5u << 24);
    EXPECT_EQ(rd(b, 0x30), 0x01050014u);  // version 0x14, max LVT 5, EOI-broadcast suppression
    EXPECT_EQ(rd(b, 0x80), 0u);
    EXPECT_EQ(rd(b, 0xd0), 0u);
    EXPECT_EQ(rd(b, 0xe0), 0xffffffffu);
    EXPECT_EQ(rd(b, 0xf0), 0xffu);
    for (uint32_t off = 0x320; off <= 0x370; off += 0x10) EXPECT_EQ(rd(b, off), 0x10000u) << std::hex << off;
    EXPECT_EQ(rd(b, 0x380), 0u);
    EXPECT_EQ(rd(b, 0x390), 0u);
    EXPECT_EQ(rd(b, 0x3e0), 0u);
    EXPECT_EQ(rd(b, 0x300), 0u);
    EXPECT_EQ(rd(b, 0x310), 0u);
    for (uint32_t off = 0x100; off < 0x280; off += 0x10) EXPECT_EQ(rd(b, off), 0u);
}

TEST(VlapicReset, VersionWithCmciAndWithoutSuppression)
{
    Config c = config(1);
    c.cmci = true;
    c.eoi_suppression = false;
    Vlapic a;
    a.reset(c, nullptr);
    EXPECT_EQ(rd(a, 0x30), 0x00060014u);
    EXPECT_EQ(rd(a, 0x2f0), 0x10000u);
}

TEST_F(Xapic, IdIsWritableInBits31To24Only)
{
    wr(a, 0x20, 0xffffffff);
    EXPECT_EQ(rd(a, 0x20), 0xff000000u);
    EXPECT_EQ(a.id(), 0xffu);
}

TEST_F(Xapic, ReadOnlyRegistersIgnoreWrites)
{
    enable_xapic(a);
    a.accept_fixed(0x40, true);
    (void)a.acknowledge();
    a.accept_fixed(0x50, false);
    uint32_t before[0x40];
    for (uint32_t i = 0; i < 0x40; ++i) before[i] = rd(a, i << 4);
    // Version, APR, PPR, RRD, ISR, TMR, IRR, current count.
    std::vector<uint32_t> ro = {0x30, 0x90, 0xa0, 0xc0, 0x390};
    for (uint32_t off = 0x100; off < 0x280; off += 0x10) ro.push_back(off);
    for (uint32_t off : ro) wr(a, off, 0xffffffff);
    for (uint32_t off : ro) EXPECT_EQ(rd(a, off), before[off >> 4]) << std::hex << off;
    EXPECT_EQ(rd(a, 0x100 + 0x10 * (0x40 / 32)), 1u << (0x40 % 32));  // ISR
    EXPECT_EQ(rd(a, 0x180 + 0x10 * (0x40 / 32)), 1u << (0x40 % 32));  // TMR
    EXPECT_EQ(rd(a, 0x200 + 0x10 * (0x50 / 32)), 1u << (0x50 % 32));  // IRR
    EXPECT_EQ(rd(a, 0x290), 0u);  // reserved: nothing
}

TEST_F(Xapic, WritableBitsOfEachRegister)
{
    enable_xapic(a);
    wr(a, 0x80, 0xffffffff);
    EXPECT_EQ(rd(a, 0x80), 0xffu);
    wr(a, 0xd0, 0xffffffff);
    EXPECT_EQ(rd(a, 0xd0), 0xff000000u);
    wr(a, 0xe0, 0x0);
    EXPECT_EQ(rd(a, 0xe0), 0x0fffffffu);  // cluster model; bits 27:0 read 1
    wr(a, 0xf0, 0xffffffff);
    EXPECT_EQ(rd(a, 0xf0), 0x13ffu);  // vector, enable, focus, EOI suppression
    wr(a, 0x3e0, 0xffffffff);
    EXPECT_EQ(rd(a, 0x3e0), 0xbu);
    wr(a, 0x380, 0xffffffff);
    EXPECT_EQ(rd(a, 0x380), 0xffffffffu);
    wr(a, 0x380, 0);
    // ICR: high keeps 31:24; low drops delivery status and reserved bits.
    wr(a, 0x310, 0xffffffff);
    EXPECT_EQ(rd(a, 0x310), 0xff000000u);
    EXPECT_EQ(bus.ipis.size(), 0u);  // writing the high half sends nothing
    wr(a, 0x300, 0xffffffff & ~0x700u);  // fixed delivery, vector 0xff, shorthand all-excluding-self
    EXPECT_EQ(rd(a, 0x300), 0x000cc8ffu);
    EXPECT_EQ(bus.ipis.size(), 1u);
}

TEST_F(Xapic, SvrWithoutEoiSuppressionOffered)
{
    Config c = config(1);
    c.eoi_suppression = false;
    a.reset(c, nullptr);
    wr(a, 0xf0, 0xffffffff);
    EXPECT_EQ(rd(a, 0xf0), 0x3ffu);
}

TEST_F(Xapic, LvtWritableBits)
{
    enable_xapic(a);
    // Figure 10-8: timer: vector, mask, mode (TSC-deadline offered);
    // thermal/perf: vector, delivery mode, mask; LINT: + polarity, trigger;
    // error: vector, mask. Delivery status and remote IRR are read-only.
    wr(a, 0x320, 0xffffffff);
    EXPECT_EQ(rd(a, 0x320), 0x000700ffu);
    wr(a, 0x330, 0xffffffff);
    EXPECT_EQ(rd(a, 0x330), 0x000107ffu);
    wr(a, 0x340, 0xffffffff);
    EXPECT_EQ(rd(a, 0x340), 0x000107ffu);
    wr(a, 0x350, 0xffffffff);
    EXPECT_EQ(rd(a, 0x350), 0x0001a7ffu);
    wr(a, 0x360, 0xffffffff);
    EXPECT_EQ(rd(a, 0x360), 0x0001a7ffu);
    wr(a, 0x370, 0xffffffff);
    EXPECT_EQ(rd(a, 0x370), 0x000100ffu);
    // Without TSC-deadline, bit 18 is reserved.
    Config c = config(3);
    c.tsc_deadline = false;
    a.reset(c, nullptr);
    enable_xapic(a);
    wr(a, 0x320, 0xffffffff);
    EXPECT_EQ(rd(a, 0x320), 0x000300ffu);
}

TEST_F(Xapic, SoftwareDisabledForcesLvtMasks)
{
    // SVR enable clear (reset state): mask bits cannot be cleared (10.4.7.2).
    wr(a, 0x350, 0x700);
    EXPECT_EQ(rd(a, 0x350), 0x10700u);
    enable_xapic(a);
    wr(a, 0x350, 0x700);
    wr(a, 0x320, 0x40);
    EXPECT_EQ(rd(a, 0x350), 0x700u);
    // Clearing the enable masks every LVT.
    wr(a, 0xf0, 0xff);
    EXPECT_EQ(rd(a, 0x350), 0x10700u);
    EXPECT_EQ(rd(a, 0x320), 0x10040u);
}

TEST_F(Xapic, EsrIsWriteThenRead)
{
    enable_xapic(a);
    a.accept_fixed(3, false);  // illegal vector: receive illegal vector (bit 6)
    EXPECT_EQ(rd(a, 0x280), 0u);  // not visible before a write
    wr(a, 0x280, 0x12345678);     // the value written does not matter
    EXPECT_EQ(rd(a, 0x280), 0x40u);
    EXPECT_EQ(rd(a, 0x280), 0x40u);  // reads do not clear
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), 0u);     // no new errors since the last write
}

TEST_F(Xapic, ReservedOffsetsReadZeroAndFlagIllegalRegister)
{
    enable_xapic(a);
    std::vector<uint32_t> reserved = {0x000, 0x010, 0x040, 0x050, 0x060, 0x070, 0x290, 0x2a0, 0x2b0,
                                      0x2c0, 0x2d0, 0x2e0, 0x2f0 /* no CMCI */, 0x3a0, 0x3b0, 0x3c0,
                                      0x3d0, 0x3f0 /* self IPI: x2APIC only */, 0x400, 0x800, 0xff0};
    for (uint32_t off : reserved) {
        wr(a, 0x280, 0);
        EXPECT_EQ(rd(a, off), 0u) << std::hex << off;
        wr(a, 0x280, 0);
        EXPECT_EQ(rd(a, 0x280), 0x80u) << std::hex << off;
        wr(a, off, 0xffffffff);
        wr(a, 0x280, 0);
        EXPECT_EQ(rd(a, 0x280), 0x80u) << std::hex << off;
        EXPECT_EQ(rd(a, off), 0u);
    }
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0xb0), 0u);  // EOI is write-only: reads 0, not an illegal register
    wr(a, 0x280, 0);
    EXPECT_EQ(rd(a, 0x280), 0u);
}

TEST_F(Xapic, NarrowAndMisalignedAccesses)
{
    enable_xapic(a);
    wr(a, 0x80, 0x5a);
    // Reads: byte lanes of the register in bytes 0-3 of its slot, 0 beyond.
    EXPECT_EQ(*a.mmio_read(0x23, 1, 0), 3u);        // ID bits 31:24
    EXPECT_EQ(*a.mmio_read(0x22, 2, 0), 0x0300u);
    EXPECT_EQ(*a.mmio_read(0x80, 1, 0), 0x5au);
    EXPECT_EQ(*a.mmio_read(0x84, 4, 0), 0u);
    EXPECT_EQ(*a.mmio_read(0x80, 8, 0), 0x5au);     // upper dword is bytes 4-7 of the slot
    EXPECT_EQ(*a.mmio_read(0x7c, 8, 0), 0x5a00000000ull);  // crosses into TPR's slot
    EXPECT_EQ(*a.mmio_read(0x81, 4, 0), 0u);
    EXPECT_EQ(*a.mmio_read(0xffc, 4, 0), 0u);
    // Writes other than 32-bit at a 16-byte boundary are dropped.
    EXPECT_TRUE(a.mmio_write(0x80, 1, 0x11, 0).ok());
    EXPECT_TRUE(a.mmio_write(0x80, 2, 0x11, 0).ok());
    EXPECT_TRUE(a.mmio_write(0x80, 8, 0x11, 0).ok());
    EXPECT_TRUE(a.mmio_write(0x84, 4, 0x11, 0).ok());
    EXPECT_TRUE(a.mmio_write(0x7e, 4, 0x11, 0).ok());
    EXPECT_EQ(rd(a, 0x80), 0x5au);
    // Impossible accesses are the caller's bug: errors.
    EXPECT_FALSE(a.mmio_read(0x80, 3, 0).ok());
    EXPECT_FALSE(a.mmio_read(0x80, 0, 0).ok());
    EXPECT_FALSE(a.mmio_read(0x80, 16, 0).ok());
    EXPECT_FALSE(a.mmio_read(0xffe, 4, 0).ok());
    EXPECT_FALSE(a.mmio_read(0x1000, 1, 0).ok());
    EXPECT_FALSE(a.mmio_write(0xffc, 8, 0, 0).ok());
    EXPECT_FALSE(a.mmio_write(0xffffffff, 4, 0, 0).ok());
}

TEST_F(Xapic, EveryX2apicMsrFaultsInXapicMode)
{
    for (uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
        EXPECT_TRUE(gp_read(a, msr)) << std::hex << msr;
        EXPECT_TRUE(gp_write(a, msr, 0)) << std::hex << msr;
    }
}

TEST_F(X2apic, IdsAndLogicalIdDerivedFromX2apicId)
{
    EXPECT_EQ(rdmsr(a, 0x802), 0x23u);
    EXPECT_EQ(a.id(), 0x23u);
    // 10.12.10.2: cluster ID[19:4] = 2 in 31:16, 1 << ID[3:0] = 1 << 3.
    EXPECT_EQ(rdmsr(a, 0x80d), 0x00020008u);
    EXPECT_EQ(rdmsr(a, 0x803), 0x01050014u);
    // The MMIO page is gone.
    EXPECT_EQ(a.mmio_read(0x20, 4, 0).error(), ::lib::Error::not_found);
    EXPECT_EQ(a.mmio_write(0x80, 4, 0, 0).error(), ::lib::Error::not_found);
}

TEST_F(X2apic, ReadableAndWritableMsrTable)
{
    // Table 10-6. Everything not listed raises #GP.
    auto in = [](uint32_t m, std::initializer_list<uint32_t> l) {
        for (uint32_t x : l)
            if (x == m) return true;
        return false;
    };
    for (uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
        bool readable = in(msr, {0x802, 0x803, 0x808, 0x80a, 0x80d, 0x80f, 0x828, 0x830, 0x832, 0x833, 0x834,
                                 0x835, 0x836, 0x837, 0x838, 0x839, 0x83e}) ||
                        (msr >= 0x810 && msr <= 0x827);
        bool writable = in(msr, {0x808, 0x80b, 0x80f, 0x828, 0x830, 0x832, 0x833, 0x834, 0x835, 0x836, 0x837,
                                 0x838, 0x83e, 0x83f});
        EXPECT_EQ(a.read_msr(msr, 0).ok(), readable) << std::hex << msr;
        // Zero is legal for every writable register (EOI and ESR require it).
        EXPECT_EQ(a.write_msr(msr, 0, 0).ok(), writable) << std::hex << msr;
    }
    // CMCI exists only when offered.
    Config c = config(1);
    c.cmci = true;
    a.reset(c, nullptr);
    enable_x2apic(a);
    EXPECT_EQ(rdmsr(a, 0x82f), 0x10000u);
    wrmsr(a, 0x82f, 0x2f1);
    EXPECT_EQ(rdmsr(a, 0x82f), 0x2f1u);
}

TEST_F(X2apic, ReservedBitsRaiseGp)
{
    EXPECT_TRUE(gp_write(a, 0x808, 0x100));              // TPR 31:8
    EXPECT_TRUE(gp_write(a, 0x808, 1ull << 32));         // upper half of a 32-bit register
    EXPECT_TRUE(gp_write(a, 0x80b, 1));                  // EOI: only 0
    EXPECT_TRUE(gp_write(a, 0x80f, 0x400));              // SVR bit 10
    EXPECT_TRUE(gp_write(a, 0x80f, 0x800));              // SVR bit 11
    EXPECT_TRUE(gp_write(a, 0x80f, 0x2000));
    EXPECT_TRUE(gp_write(a, 0x828, 1));                  // ESR: only 0
    EXPECT_TRUE(gp_write(a, 0x830, 1u << 12));           // ICR: no delivery status in x2APIC
    EXPECT_TRUE(gp_write(a, 0x830, 1u << 13));
    EXPECT_TRUE(gp_write(a, 0x830, 1u << 16));
    EXPECT_TRUE(gp_write(a, 0x830, 1u << 17));
    EXPECT_TRUE(gp_write(a, 0x830, 1u << 20));
    EXPECT_TRUE(gp_write(a, 0x830, 0x80000000u));
    EXPECT_TRUE(gp_write(a, 0x832, 1u << 19));           // LVT timer bit 19
    EXPECT_TRUE(gp_write(a, 0x832, 0x700));              // timer has no delivery mode
    EXPECT_TRUE(gp_write(a, 0x832, 3u << 17));           // timer mode 11b is reserved
    EXPECT_TRUE(gp_write(a, 0x835, 1u << 17));           // LINT0
    EXPECT_TRUE(gp_write(a, 0x837, 0x700));              // error LVT: no delivery mode
    EXPECT_TRUE(gp_write(a, 0x833, 1u << 13));           // thermal: no polarity
    EXPECT_TRUE(gp_write(a, 0x838, 1ull << 32));         // initial count is 32 bits
    EXPECT_TRUE(gp_write(a, 0x83e, 0x4));                // divide bit 2
    EXPECT_TRUE(gp_write(a, 0x83f, 0x100));              // self IPI: vector only
    // Nothing changed.
    EXPECT_EQ(rdmsr(a, 0x808), 0u);
    EXPECT_EQ(rdmsr(a, 0x832), 0x10000u);
    EXPECT_EQ(rdmsr(a, 0x83e), 0u);
    // Read-only bits (delivery status, remote IRR) are not reserved: ignored.
    wrmsr(a, 0x835, lvt::delivery_status | lvt::remote_irr | 0x10020);
    EXPECT_EQ(rdmsr(a, 0x835), 0x10020u);
    // Legal values of every writable register.
    wrmsr(a, 0x808, 0xff);
    EXPECT_EQ(rdmsr(a, 0x808), 0xffu);
    wrmsr(a, 0x80f, 0x13ff);
    EXPECT_EQ(rdmsr(a, 0x80f), 0x13ffu);
    wrmsr(a, 0x832, 0x700ff & ~(1u << 17));  // TSC-deadline mode, masked
    EXPECT_EQ(rdmsr(a, 0x832), 0x500ffu);
    wrmsr(a, 0x83e, 0xb);
    EXPECT_EQ(rdmsr(a, 0x83e), 0xbu);
}

TEST_F(X2apic, IcrIsOne64BitRegister)
{
    uint64_t v = 0xfedcba98'000c4000ull | (5u << 8) | 0x30;  // vector 0x30, INIT, assert, all-excluding-self
    wrmsr(a, 0x830, v);
    EXPECT_EQ(rdmsr(a, 0x830), v);
    ASSERT_EQ(bus.ipis.size(), 1u);
    EXPECT_EQ(bus.ipis[0].dest.id, 0xfedcba98u);
    EXPECT_TRUE(gp_read(a, 0x831));
    EXPECT_TRUE(gp_write(a, 0x831, 0));
}

TEST_F(X2apic, ReadOnlyAndMissingRegistersRaiseGp)
{
    for (uint32_t msr : {0x802u, 0x803u, 0x80au, 0x80du, 0x839u}) EXPECT_TRUE(gp_write(a, msr, 0)) << std::hex << msr;
    for (uint32_t msr = 0x810; msr <= 0x827; ++msr) EXPECT_TRUE(gp_write(a, msr, 0));
    for (uint32_t msr : {0x809u /* APR */, 0x80cu /* RRD */, 0x80eu /* DFR */, 0x80bu /* EOI */, 0x83fu /* self IPI */})
        EXPECT_TRUE(gp_read(a, msr)) << std::hex << msr;
    for (uint32_t msr : {0x809u, 0x80cu, 0x80eu}) EXPECT_TRUE(gp_write(a, msr, 0)) << std::hex << msr;
}

// --- IA32_APIC_BASE ----------------------------------------------------------

TEST(VlapicApicBase, LegalTransitions)
{
    Vlapic a;
    a.reset(config(7), nullptr);
    // xAPIC -> x2APIC -> disabled -> xAPIC -> disabled -> xAPIC -> x2APIC.
    ASSERT_TRUE(a.write_apic_base(x2apic_base, 0).ok());
    EXPECT_EQ(a.mode(), Mode::x2apic);
    ASSERT_TRUE(a.write_apic_base(default_base, 0).ok());
    EXPECT_EQ(a.mode(), Mode::disabled);
    ASSERT_TRUE(a.write_apic_base(xapic_base, 0).ok());
    EXPECT_EQ(a.mode(), Mode::xapic);
    ASSERT_TRUE(a.write_apic_base(default_base, 0).ok());
    ASSERT_TRUE(a.write_apic_base(xapic_base, 0).ok());
    ASSERT_TRUE(a.write_apic_base(x2apic_base, 0).ok());
    EXPECT_EQ(a.mode(), Mode::x2apic);
    ASSERT_TRUE(a.write_apic_base(x2apic_base, 0).ok());  // same state again: fine
    EXPECT_EQ(a.apic_base(), x2apic_base);
}

TEST(VlapicApicBase, IllegalTransitionsRaiseGp)
{
    Vlapic a;
    a.reset(config(7), nullptr);
    // EN=0, EXTD=1 is the invalid state, from anywhere.
    EXPECT_FALSE(a.write_apic_base(default_base | apic_base::extd, 0).ok());
    ASSERT_TRUE(a.write_apic_base(x2apic_base, 0).ok());
    EXPECT_FALSE(a.write_apic_base(xapic_base, 0).ok());  // x2APIC -> xAPIC
    EXPECT_FALSE(a.write_apic_base(default_base | apic_base::extd, 0).ok());
    EXPECT_EQ(a.mode(), Mode::x2apic);
    ASSERT_TRUE(a.write_apic_base(default_base, 0).ok());
    EXPECT_FALSE(a.write_apic_base(x2apic_base, 0).ok());  // disabled -> x2APIC
    EXPECT_FALSE(a.write_apic_base(default_base | apic_base::extd, 0).ok());
    EXPECT_EQ(a.mode(), Mode::disabled);
    EXPECT_EQ(a.apic_base(), default_base);
}

TEST(VlapicApicBase, ReservedBitsAndX2apicNotOffered)
{
    Vlapic a;
    a.reset(config(0), nullptr);
    for (unsigned bit : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 9u, 46u, 51u, 63u})
        EXPECT_FALSE(a.write_apic_base(xapic_base | (1ull << bit), 0).ok()) << bit;
    EXPECT_EQ(a.apic_base(), xapic_base | apic_base::bsp);
    Config c = config(0);
    c.x2apic = false;
    a.reset(c, nullptr);
    EXPECT_FALSE(a.write_apic_base(x2apic_base, 0).ok());
    EXPECT_EQ(a.mode(), Mode::xapic);
}

TEST(VlapicApicBase, BspIsReadOnlyAndBaseMoves)
{
    Vlapic a;
    a.reset(config(0), nullptr);
    ASSERT_TRUE(a.write_apic_base(0xfed00000 | apic_base::en, 0).ok());  // BSP written as 0
    EXPECT_EQ(a.apic_base(), 0xfed00000 | apic_base::en | apic_base::bsp);
    EXPECT_EQ(a.base_address(), 0xfed00000u);
    Vlapic b;
    b.reset(config(1), nullptr);
    ASSERT_TRUE(b.write_apic_base(xapic_base | apic_base::bsp, 0).ok());
    EXPECT_EQ(b.apic_base(), xapic_base);
}

TEST(VlapicApicBase, DisableLosesStateAndKeepsId)
{
    RecordingBus bus;
    Vlapic a;
    a.reset(config(0x42), &bus);
    enable_xapic(a);
    wr(a, 0x20, 0x11000000);  // software changes the xAPIC ID
    wr(a, 0x80, 0x30);
    a.accept_fixed(0x80, false);
    ASSERT_TRUE(a.write_apic_base(default_base, 0).ok());
    // Disabled: nothing accepted, no MMIO page.
    a.accept_fixed(0x90, false);
    EXPECT_TRUE(a.irr().empty());
    EXPECT_EQ(a.mmio_read(0x80, 4, 0).error(), ::lib::Error::not_found);
    EXPECT_FALSE(a.pending_vector().ok());
    ASSERT_TRUE(a.write_apic_base(xapic_base, 0).ok());
    EXPECT_EQ(rd(a, 0x20), 0x42000000u);  // the hardware ID again
    EXPECT_EQ(rd(a, 0x80), 0u);
    EXPECT_EQ(rd(a, 0xf0), 0xffu);
    EXPECT_EQ(rd(a, 0x350), 0x10000u);
    EXPECT_TRUE(a.irr().empty());
}

TEST(VlapicApicBase, XapicToX2apicKeepsProgrammedState)
{
    Vlapic a;
    a.reset(config(0x123), nullptr);
    enable_xapic(a);
    wr(a, 0x80, 0x20);
    wr(a, 0x350, 0x700);
    wr(a, 0xd0, 0x01000000);
    wr(a, 0x20, 0x05000000);
    ASSERT_TRUE(a.write_apic_base(x2apic_base, 0).ok());
    EXPECT_EQ(rdmsr(a, 0x802), 0x123u);               // the x2APIC ID, not what was written
    EXPECT_EQ(rdmsr(a, 0x80d), (0x12u << 16) | (1u << 3));
    EXPECT_EQ(rdmsr(a, 0x808), 0x20u);
    EXPECT_EQ(rdmsr(a, 0x835), 0x700u);
    EXPECT_EQ(rdmsr(a, 0x80f), 0x1ffu);
}

TEST(VlapicApicBase, InitResetKeepsModeAndId)
{
    Vlapic a;
    a.reset(config(9), nullptr);
    enable_x2apic(a);
    wrmsr(a, 0x808, 0x40);
    a.accept_fixed(0x50, false);
    a.init_reset();
    EXPECT_EQ(a.mode(), Mode::x2apic);
    EXPECT_EQ(rdmsr(a, 0x802), 9u);
    EXPECT_EQ(rdmsr(a, 0x80d), 1u << 9);
    EXPECT_EQ(rdmsr(a, 0x808), 0u);
    EXPECT_EQ(rdmsr(a, 0x80f), 0xffu);
    EXPECT_TRUE(a.irr().empty());
    Vlapic b;
    b.reset(config(9), nullptr);
    wr(b, 0x20, 0x33000000);
    b.init_reset();
    EXPECT_EQ(rd(b, 0x20), 0x33000000u);  // xAPIC ID register preserved by INIT
}
