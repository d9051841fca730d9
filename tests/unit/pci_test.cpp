// PCI bus 0 (vmm/pci): the type-0 header's read/write masks, BAR sizing for
// I/O, 32-bit and 64-bit (prefetchable) memory BARs the way Linux's
// __pci_read_base does it, the capability list walked as pci_find_capability
// walks it, configuration mechanism #1 (0xCF8/0xCFC) at byte, word and dword
// width against ECAM, absent functions, BAR decoding gated by the command
// register, and MSI-X function/vector masking with pending bits.
//
// Bad inputs tried: config accesses crossing a dword, sizes 0/3/8, offsets
// 0x100..0xfff (zero) and past 0xfff, non-dword accesses to 0xCF8-0xCFB,
// data accesses with the enable bit clear, buses 1 and 255, functions 1..7,
// empty slots, writes to read-only registers (IDs, class, header type, pin,
// status, BAR type bits, the MSI-X table size and offsets, the PBA,
// reserved vector-control bits), BAR accesses straddling a BAR's end, with
// decoding disabled and at address 0, MSI-X accesses out of the table.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "vmm/pci/config_space.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/pci/msix.hpp"

using namespace vmm::pci;

namespace {

struct Msg {
    uint64_t addr;
    uint32_t data;
};

struct FakeIrq final : IrqSink {
    std::vector<Msg> msgs;
    std::vector<bool> levels;
    void msi(uint64_t a, uint32_t d) override { msgs.push_back({a, d}); }
    void intx(bool l) override { levels.push_back(l); }
};

// BAR0 I/O 32 bytes, BAR1 32-bit memory 4 KiB (MSI-X table at 0, PBA at
// 0x800), BAR2/3 64-bit memory 16 KiB, BAR4/5 64-bit prefetchable 8 GiB.
struct TestDev final : PciDevice {
    FakeIrq irq;
    Msix msix;
    std::vector<uint8_t> io = std::vector<uint8_t>(32);
    TestDev()
    {
        cfg_.init(0x1234, 0x5678, 0x020000, 3, 0xabcd, 0xef01);
        EXPECT_TRUE(cfg_.set_bar(0, BarKind::io, 32).ok());
        EXPECT_TRUE(cfg_.set_bar(1, BarKind::mem32, 4096).ok());
        EXPECT_TRUE(cfg_.set_bar(2, BarKind::mem64, 16384).ok());
        EXPECT_TRUE(cfg_.set_bar(4, BarKind::mem64, 8ull << 30, true).ok());
        cfg_.set_interrupt_pin(1);
        uint8_t vendor_cap[8] = {cap_id_vendor, 0, 8, 0x42, 0, 0, 0, 0};
        EXPECT_TRUE(cfg_.add_capability(vendor_cap, sizeof vendor_cap).ok());
        EXPECT_TRUE(msix.init(cfg_, irq, 4, 1, 0, 0x800).ok());
    }
    void config_write(unsigned off, unsigned size, uint32_t v) override
    {
        cfg_.write(off, size, v);
        msix.config_written();
    }
    uint64_t bar_read(unsigned bar, uint64_t off, unsigned size) override
    {
        if (bar == 1 && msix.contains(off, size)) return msix.read(off, size);
        if (bar == 0) return io[off];
        return 0x5a;
    }
    void bar_write(unsigned bar, uint64_t off, unsigned size, uint64_t v) override
    {
        if (bar == 1 && msix.contains(off, size)) msix.write(off, size, v);
        if (bar == 0) io[off] = uint8_t(v);
    }
};

struct PciTest : ::testing::Test {
    HostBridge bus;
    TestDev dev;
    unsigned slot = 0;
    void SetUp() override { slot = bus.attach(dev, 3).value(); }
    uint32_t cfg_read(unsigned reg, unsigned size = 4) { return bus.ecam_read(uint64_t(slot) << 15 | reg, size); }
    void cfg_write(unsigned reg, uint32_t v, unsigned size = 4) { bus.ecam_write(uint64_t(slot) << 15 | reg, size, v); }
    // Linux's sizing sequence for one BAR dword: save, write ~0, read, restore.
    uint32_t size_mask(unsigned reg)
    {
        const uint32_t saved = cfg_read(reg);
        cfg_write(reg, 0xffffffffu);
        const uint32_t m = cfg_read(reg);
        cfg_write(reg, saved);
        return m;
    }
};

}  // namespace

TEST_F(PciTest, HeaderIdentityIsReadOnly)
{
    EXPECT_EQ(cfg_read(0x00), 0x56781234u);
    EXPECT_EQ(cfg_read(0x08), 0x02000003u);  // class 02/00/00, revision 3
    EXPECT_EQ(cfg_read(0x2c), 0xef01abcdu);
    EXPECT_EQ(cfg_read(0x0e, 1), 0x00u);      // type 0, single function
    cfg_write(0x00, 0);
    cfg_write(0x08, 0);
    cfg_write(0x0c, 0xffffffffu);
    EXPECT_EQ(cfg_read(0x00), 0x56781234u);
    EXPECT_EQ(cfg_read(0x08), 0x02000003u);
    EXPECT_EQ(cfg_read(0x0c), 0x000000ffu);  // only cache line size is writable
    cfg_write(0x3c, 0xffffffffu);
    EXPECT_EQ(cfg_read(0x3c, 1), 0xffu);  // interrupt line: OS scratch
    EXPECT_EQ(cfg_read(0x3d, 1), 0x01u);  // pin INTA#, read-only
    EXPECT_EQ(cfg_read(0x30), 0u);        // no expansion ROM: reads 0 even after ~0
    cfg_write(0x30, 0xffffffffu);
    EXPECT_EQ(cfg_read(0x30), 0u);
}

TEST_F(PciTest, CommandAndStatus)
{
    cfg_write(0x04, 0xffff, 2);
    EXPECT_EQ(cfg_read(0x04, 2), unsigned(cmd_io | cmd_memory | cmd_bus_master | cmd_intx_disable));
    EXPECT_TRUE(dev.config().intx_disabled());
    cfg_write(0x06, 0xffff, 2);  // status has no writable bits here
    EXPECT_EQ(cfg_read(0x06, 2), unsigned(status_cap_list));
    dev.config().set_intx_status(true);
    EXPECT_EQ(cfg_read(0x06, 2), unsigned(status_cap_list | status_intx));
    dev.config().set_intx_status(false);
    EXPECT_EQ(cfg_read(0x06, 2), unsigned(status_cap_list));
}

TEST_F(PciTest, BarSizingIo)
{
    EXPECT_EQ(size_mask(0x10), 0xffffffe1u);  // 32 bytes, bit 0 = I/O
    cfg_write(0x10, 0xc040);
    EXPECT_EQ(cfg_read(0x10), 0xc041u);
    EXPECT_EQ(dev.config().bar_address(0), 0xc040u);
    cfg_write(0x10, 0xc05f);  // low bits inside the size are not writable
    EXPECT_EQ(cfg_read(0x10), 0xc041u);
}

TEST_F(PciTest, BarSizingMem32)
{
    EXPECT_EQ(size_mask(0x14), 0xfffff000u);  // 4 KiB, 32-bit, not prefetchable
    cfg_write(0x14, 0xfebf1000u);
    EXPECT_EQ(dev.config().bar_address(1), 0xfebf1000u);
}

TEST_F(PciTest, BarSizingMem64)
{
    EXPECT_EQ(size_mask(0x18), 0xffffc004u);  // 16 KiB, type 10 (64-bit)
    EXPECT_EQ(size_mask(0x1c), 0xffffffffu);  // upper half wholly writable
    EXPECT_EQ(size_mask(0x20), 0x0000000cu);  // 8 GiB prefetchable: low dword has no address bits
    EXPECT_EQ(size_mask(0x24), 0xfffffffeu);  // ... and the size is in the high dword
    // The combined 64-bit mask gives back the size as Linux computes it.
    const uint64_t m = (uint64_t(size_mask(0x24)) << 32) | (size_mask(0x20) & ~0xfull);
    EXPECT_EQ(~m + 1, 8ull << 30);
    cfg_write(0x18, 0x00004000u);
    cfg_write(0x1c, 0x00000080u);
    EXPECT_EQ(dev.config().bar_address(2), 0x8000004000ull);
}

TEST(PciConfig, SetBarRejectsBadLayouts)
{
    ConfigSpace c;
    c.init(1, 2, 0, 0, 0, 0);
    EXPECT_FALSE(c.set_bar(6, BarKind::mem32, 4096).ok());
    EXPECT_FALSE(c.set_bar(0, BarKind::mem32, 3000).ok());  // not a power of two
    EXPECT_FALSE(c.set_bar(0, BarKind::io, 512).ok());      // I/O BARs are at most 256 bytes
    EXPECT_FALSE(c.set_bar(0, BarKind::mem32, 8).ok());     // memory BARs at least 16
    EXPECT_FALSE(c.set_bar(5, BarKind::mem64, 4096).ok());  // needs two slots
    EXPECT_TRUE(c.set_bar(0, BarKind::mem64, 4096).ok());
    EXPECT_FALSE(c.set_bar(1, BarKind::io, 16).ok());  // upper half of BAR0
    EXPECT_FALSE(c.set_bar(0, BarKind::io, 16).ok());  // taken
    ConfigSpace fresh;
    EXPECT_EQ(fresh.read(0, 4), 0xffffu);  // vendor 0xffff until init: "no function"
}

TEST_F(PciTest, CapabilityChainAsLinuxWalksIt)
{
    // pci_find_capability: status.CAP_LIST, then follow pointers (low two
    // bits masked) at most 48 times until 0.
    ASSERT_TRUE(cfg_read(0x06, 2) & status_cap_list);
    unsigned pos = cfg_read(0x34, 1) & ~3u;
    std::vector<std::pair<unsigned, unsigned>> found;
    for (int ttl = 48; pos >= 0x40 && ttl; --ttl) {
        const unsigned id = cfg_read(pos, 1);
        found.push_back({pos, id});
        pos = cfg_read(pos + 1, 1) & ~3u;
    }
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(found[0], (std::pair<unsigned, unsigned>{0x40, cap_id_vendor}));
    EXPECT_EQ(found[1], (std::pair<unsigned, unsigned>{0x48, cap_id_msix}));
    EXPECT_EQ(cfg_read(0x48 + 2, 2), 3u);                    // table size 4 - 1
    EXPECT_EQ(cfg_read(0x48 + 4), 0x00000001u);              // table at 0 in BAR1
    EXPECT_EQ(cfg_read(0x48 + 8), 0x00000801u);              // PBA at 0x800 in BAR1
    cfg_write(0x48, 0xffffffffu);                            // id/next/table size are read-only
    cfg_write(0x48 + 4, 0xffffffffu);
    EXPECT_EQ(cfg_read(0x48), 0xc0030011u);
    EXPECT_EQ(cfg_read(0x48 + 4), 0x00000001u);
}

TEST(PciConfig, CapabilitySpaceRunsOut)
{
    ConfigSpace c;
    c.init(1, 2, 0, 0, 0, 0);
    uint8_t cap[64] = {cap_id_vendor};
    int added = 0;
    while (c.add_capability(cap, sizeof cap).ok()) ++added;
    EXPECT_EQ(added, 3);  // 0x40, 0x80, 0xc0; a fourth would pass 0xff
    uint8_t small[4] = {cap_id_vendor};
    EXPECT_FALSE(c.add_capability(small, 1).ok());
}

TEST_F(PciTest, ConfigMechanism1MatchesEcam)
{
    for (unsigned reg = 0; reg < 0x100; reg += 4) {
        const uint32_t ecam = cfg_read(reg);
        bus.io_write(0xcf8, 4, 0x80000000u | slot << 11 | reg);
        EXPECT_EQ(bus.io_read(0xcfc, 4), ecam) << reg;
        for (unsigned b = 0; b < 4; ++b) EXPECT_EQ(bus.io_read(0xcfc + b, 1), (ecam >> (8 * b)) & 0xff);
        EXPECT_EQ(bus.io_read(0xcfc, 2), ecam & 0xffff);
        EXPECT_EQ(bus.io_read(0xcfe, 2), ecam >> 16);
        EXPECT_EQ(bus.io_read(0xcfd, 2), (ecam >> 8) & 0xffff);  // does not cross the dword
        EXPECT_EQ(bus.io_read(0xcfe, 4), 0xffffffffu);            // would cross: all ones
    }
    // A byte write through 0xCFD lands in the register ECAM sees.
    bus.io_write(0xcf8, 4, 0x80000000u | slot << 11 | 0x3c);
    bus.io_write(0xcfc, 1, 0x0b);
    EXPECT_EQ(cfg_read(0x3c, 1), 0x0bu);
    bus.io_write(0xcf8, 4, 0x80000000u | slot << 11 | 0x04);
    bus.io_write(0xcfc, 2, cmd_memory);
    EXPECT_EQ(cfg_read(0x04, 2), unsigned(cmd_memory));
    // Reserved bits of CONFIG_ADDRESS read back 0 (Linux's type-1 probe
    // writes 0x80000000 and expects it back).
    bus.io_write(0xcf8, 4, 0xffffffffu);
    EXPECT_EQ(bus.io_read(0xcf8, 4), 0x80fffffcu);
    bus.io_write(0xcf8, 4, 0x80000000u);
    EXPECT_EQ(bus.io_read(0xcf8, 4), 0x80000000u);
    // Non-dword accesses to 0xCF8-0xCFB are not CONFIG_ADDRESS.
    bus.io_write(0xcfb, 1, 0x01);
    EXPECT_EQ(bus.io_read(0xcf8, 4), 0x80000000u);
    EXPECT_EQ(bus.io_read(0xcf9, 1), 0xffu);
    EXPECT_EQ(bus.io_read(0xcf8, 2), 0xffffu);
    // Linux's pci_sanity_check: the host bridge at 00.0.
    EXPECT_EQ(bus.io_read(0xcfc, 4), 0x00081b36u);
    bus.io_write(0xcf8, 4, 0x80000008u);
    EXPECT_EQ(bus.io_read(0xcfe, 2), 0x0600u);
}

TEST_F(PciTest, EnableBitClearReadsAllOnes)
{
    bus.io_write(0xcf8, 4, slot << 11);
    EXPECT_EQ(bus.io_read(0xcfc, 4), 0xffffffffu);
    bus.io_write(0xcfc, 1, 0x55);  // dropped
    bus.io_write(0xcf8, 4, 0x80000000u | slot << 11);
    EXPECT_EQ(bus.io_read(0xcfc, 4), 0x56781234u);
}

TEST_F(PciTest, AbsentFunctionsReadAllOnes)
{
    EXPECT_EQ(bus.ecam_read(5 << 15, 4), 0xffffffffu);                 // empty slot
    EXPECT_EQ(bus.ecam_read(uint64_t(slot) << 15 | 1 << 12, 4), 0xffffffffu);  // function 1
    EXPECT_EQ(bus.ecam_read(1 << 20, 4), 0xffffffffu);                 // bus 1 (past the window)
    EXPECT_EQ(bus.ecam_read(5 << 15, 2), 0xffffu);
    EXPECT_EQ(bus.ecam_read(5 << 15, 1), 0xffu);
    bus.io_write(0xcf8, 4, 0x80000000u | 1 << 16 | slot << 11);  // bus 1 via CF8
    EXPECT_EQ(bus.io_read(0xcfc, 4), 0xffffffffu);
    bus.io_write(0xcf8, 4, 0x80000000u | 31 << 11 | 7 << 8);
    EXPECT_EQ(bus.io_read(0xcfc, 2), 0xffffu);
    bus.ecam_write(5 << 15 | 0x3c, 1, 0x12);  // no crash, nothing there
    // Extended config space of a present conventional function reads 0
    // (no extended capabilities); the 8-byte ECAM path is two dwords.
    EXPECT_EQ(cfg_read(0x100), 0u);
    EXPECT_EQ(cfg_read(0xffc), 0u);
    EXPECT_EQ(bus.ecam_read(uint64_t(slot) << 15, 8), 0x0000000000000000ull | 0x56781234u |
                                                            uint64_t(cfg_read(4)) << 32);
    EXPECT_EQ(cfg_read(0x02, 4), 0xffffffffu);  // crosses a dword
    EXPECT_EQ(bus.ecam_read(uint64_t(slot) << 15, 3), 0xffffffffu);
}

TEST_F(PciTest, AttachSlots)
{
    TestDev other;
    EXPECT_FALSE(bus.attach(other, 3).ok());   // taken
    EXPECT_FALSE(bus.attach(other, 32).ok());  // no such slot
    auto s = bus.attach(other);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*s, 1u);
    EXPECT_EQ(bus.device(1), &other);
}

TEST_F(PciTest, BarDecodeFollowsCommandRegister)
{
    cfg_write(0x10, 0xc000);
    cfg_write(0x14, 0xfebf0000u);
    cfg_write(0x18, 0x00004000u);
    cfg_write(0x1c, 0x1);
    uint64_t v = 0;
    EXPECT_FALSE(bus.bar_read(Space::io, 0xc004, 1, v));  // decoding off
    EXPECT_FALSE(bus.bar_read(Space::memory, 0xfebf0000u, 4, v));
    cfg_write(0x04, cmd_io, 2);
    EXPECT_TRUE(bus.bar_write(Space::io, 0xc004, 1, 0x77));
    EXPECT_EQ(dev.io[4], 0x77);
    EXPECT_FALSE(bus.bar_read(Space::memory, 0xfebf0000u, 4, v));  // memory still off
    cfg_write(0x04, cmd_io | cmd_memory, 2);
    BarHit h;
    ASSERT_TRUE(bus.decode(Space::memory, 0x100004010ull, 4, h));
    EXPECT_EQ(h.dev, &dev);
    EXPECT_EQ(h.bar, 2u);
    EXPECT_EQ(h.offset, 0x10u);
    EXPECT_EQ(h.slot, slot);
    EXPECT_TRUE(bus.decode(Space::memory, 0xfebf0ffcu, 4, h));
    EXPECT_FALSE(bus.decode(Space::memory, 0xfebf0ffeu, 4, h));  // straddles the end
    EXPECT_FALSE(bus.decode(Space::io, 0xfebf0000u, 4, h));      // wrong space
    EXPECT_FALSE(bus.decode(Space::memory, 0, 4, h));            // BAR4 unassigned at 0
    EXPECT_FALSE(bus.decode(Space::memory, ~0ull - 1, 4, h));    // wraps
    EXPECT_FALSE(bus.decode(Space::io, 0xc01f, 2, h));
}

TEST_F(PciTest, MsixMaskingAndPending)
{
    cfg_write(0x14, 0xfebf0000u);
    cfg_write(0x04, cmd_memory, 2);
    auto mw = [&](uint64_t off, uint32_t v) { ASSERT_TRUE(bus.bar_write(Space::memory, 0xfebf0000u + off, 4, v)); };
    auto mr = [&](uint64_t off, unsigned size = 4) {
        uint64_t v = 0;
        EXPECT_TRUE(bus.bar_read(Space::memory, 0xfebf0000u + off, size, v));
        return v;
    };
    // Reset state: every vector masked.
    for (unsigned v = 0; v < 4; ++v) EXPECT_EQ(mr(v * 16 + 12), 1u);
    mw(0x10, 0xfee00003u);  // vector 1; address bits 1:0 are read-only 0
    mw(0x14, 0);
    mw(0x18, 0x4041);
    mw(0x1c, 0xfffffffeu);  // reserved vector-control bits stay 0; unmasked
    EXPECT_EQ(mr(0x10), 0xfee00000u);
    EXPECT_EQ(mr(0x1c), 0u);
    EXPECT_EQ(mr(0x10, 8), 0xfee00000ull);

    dev.msix.notify(1);  // MSI-X not enabled: nothing, not even pending
    EXPECT_TRUE(dev.irq.msgs.empty());
    EXPECT_FALSE(dev.msix.pending(1));

    // Enable with the function masked: pending, then delivered on unmask.
    cfg_write(0x48 + 2, msix_ctrl_enable | msix_ctrl_function_mask, 2);
    dev.msix.notify(1);
    EXPECT_TRUE(dev.irq.msgs.empty());
    EXPECT_EQ(mr(0x800, 8), 0x2ull);
    mw(0x800, 0);  // PBA is read-only
    EXPECT_EQ(mr(0x800), 0x2ull);
    cfg_write(0x48 + 2, msix_ctrl_enable, 2);
    ASSERT_EQ(dev.irq.msgs.size(), 1u);
    EXPECT_EQ(dev.irq.msgs[0].addr, 0xfee00000ull);
    EXPECT_EQ(dev.irq.msgs[0].data, 0x4041u);
    EXPECT_EQ(mr(0x800), 0u);

    // Unmasked: immediate.
    dev.msix.notify(1);
    EXPECT_EQ(dev.irq.msgs.size(), 2u);

    // Per-vector mask: pending, then delivered when the mask bit clears.
    mw(0x1c, 1);
    dev.msix.notify(1);
    dev.msix.notify(1);  // still one pending bit
    EXPECT_EQ(dev.irq.msgs.size(), 2u);
    EXPECT_TRUE(dev.msix.pending(1));
    mw(0x1c, 0);
    EXPECT_EQ(dev.irq.msgs.size(), 3u);
    EXPECT_FALSE(dev.msix.pending(1));

    // A masked vector stays pending across a function mask/unmask cycle.
    mw(0x2c, 1);
    dev.msix.notify(2);
    cfg_write(0x48 + 2, msix_ctrl_enable | msix_ctrl_function_mask, 2);
    cfg_write(0x48 + 2, msix_ctrl_enable, 2);
    EXPECT_EQ(dev.irq.msgs.size(), 3u);
    EXPECT_TRUE(dev.msix.pending(2));

    dev.msix.notify(7);  // out of range: ignored
    EXPECT_EQ(dev.irq.msgs.size(), 3u);
    EXPECT_FALSE(dev.msix.contains(0x40, 4));  // past the 4-entry table
    EXPECT_EQ(dev.msix.read(0x40, 4), 0u);

    dev.msix.reset();
    EXPECT_FALSE(dev.msix.enabled());
    EXPECT_TRUE(dev.msix.vector_masked(1));
    EXPECT_FALSE(dev.msix.pending(2));
}
