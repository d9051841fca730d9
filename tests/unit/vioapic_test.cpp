// The vIOAPIC state machine: register window, edge and level lines, Remote
// IRR and EOI, masking; and MSI decoding. Bad inputs tried: pins past 23,
// registers past the table, writes to read-only bits and registers, MSI
// addresses outside 0xFEExxxxx and reserved delivery modes.
#include <gtest/gtest.h>

#include "hv/vioapic/vioapic.hpp"

using namespace hv::vioapic;
using hv::vlapic::DeliveryMode;

namespace {

void write_entry(Vioapic& io, unsigned pin, uint64_t e, Outbox& out)
{
    io.mmio_write(0x00, 0x10 + 2 * pin, out);
    io.mmio_write(0x10, uint32_t(e), out);
    io.mmio_write(0x00, 0x11 + 2 * pin, out);
    io.mmio_write(0x10, uint32_t(e >> 32), out);
}

uint32_t read_reg(Vioapic& io, uint32_t index)
{
    Outbox out;
    io.mmio_write(0x00, index, out);
    return io.mmio_read(0x10);
}

}  // namespace

TEST(Vioapic, IdentityAndVersion)
{
    Vioapic io;
    io.reset(0);
    EXPECT_EQ(read_reg(io, 1), 0x00170020u);  // 24 entries, version 0x20
    Outbox out;
    io.mmio_write(0x00, 0, out);
    io.mmio_write(0x10, 0x0f000000, out);
    EXPECT_EQ(read_reg(io, 0), 0x0f000000u);
    io.mmio_write(0x00, 1, out);
    io.mmio_write(0x10, 0, out);  // version is read-only
    EXPECT_EQ(read_reg(io, 1), 0x00170020u);
    EXPECT_EQ(read_reg(io, 0x40), 0u);  // past the table
    for (unsigned pin = 0; pin < pins; ++pin) EXPECT_TRUE(io.entry(pin) & rte::masked);
    EXPECT_EQ(out.count, 0u);
}

TEST(Vioapic, EdgeLineSendsOnRisingEdgeOnly)
{
    Vioapic io;
    io.reset(0);
    Outbox out;
    write_entry(io, 4, 0x0100000000000034ull, out);  // vector 0x34, fixed, physical dest 1, edge, unmasked
    EXPECT_EQ(out.count, 0u);
    io.set_line(4, true, out);
    ASSERT_EQ(out.count, 1u);
    EXPECT_EQ(out.msg[0].irq.vector, 0x34);
    EXPECT_EQ(out.msg[0].irq.mode, DeliveryMode::fixed);
    EXPECT_FALSE(out.msg[0].irq.level_triggered);
    EXPECT_EQ(out.msg[0].dest.id, 1u);
    EXPECT_FALSE(out.msg[0].dest.logical);
    io.set_line(4, true, out);  // still high: no edge
    EXPECT_EQ(out.count, 1u);
    io.set_line(4, false, out);
    io.set_line(4, true, out);
    EXPECT_EQ(out.count, 2u);
}

TEST(Vioapic, MaskedEdgeIsLost)
{
    Vioapic io;
    io.reset(0);
    Outbox out;
    write_entry(io, 3, rte::masked | 0x40, out);
    io.set_line(3, true, out);
    io.set_line(3, false, out);
    write_entry(io, 3, 0x40, out);
    EXPECT_EQ(out.count, 0u);
}

TEST(Vioapic, LevelLineHoldsRemoteIrrUntilEoi)
{
    Vioapic io;
    io.reset(0);
    Outbox out;
    write_entry(io, 10, rte::level | 0x51, out);
    io.set_line(10, true, out);
    ASSERT_EQ(out.count, 1u);
    EXPECT_TRUE(out.msg[0].irq.level_triggered);
    EXPECT_TRUE(io.entry(10) & rte::remote_irr);
    io.set_line(10, true, out);  // asserted again before the EOI: nothing new
    EXPECT_EQ(out.count, 1u);
    io.eoi(0x50, out);  // another vector
    EXPECT_EQ(out.count, 1u);
    io.eoi(0x51, out);  // line still up: sent again
    EXPECT_EQ(out.count, 2u);
    io.set_line(10, false, out);
    io.eoi(0x51, out);
    EXPECT_EQ(out.count, 2u);
    EXPECT_FALSE(io.entry(10) & rte::remote_irr);
}

TEST(Vioapic, EoiRegisterAndUnmaskWithLineUp)
{
    Vioapic io;
    io.reset(0);
    Outbox out;
    write_entry(io, 9, rte::level | rte::masked | 0x61, out);
    io.set_line(9, true, out);
    EXPECT_EQ(out.count, 0u);
    write_entry(io, 9, rte::level | 0x61, out);  // unmask: the line is up
    EXPECT_EQ(out.count, 1u);
    io.mmio_write(0x40, 0x61, out);  // directed EOI through the register
    EXPECT_EQ(out.count, 2u);
}

TEST(Vioapic, ReadOnlyBitsAndBadPins)
{
    Vioapic io;
    io.reset(0);
    Outbox out;
    write_entry(io, 0, rte::remote_irr | rte::delivery_status | 0x20, out);
    EXPECT_EQ(io.entry(0) & (rte::remote_irr | rte::delivery_status), 0u);
    EXPECT_FALSE(io.set_line(24, true, out));
    EXPECT_FALSE(io.set_line(1000, true, out));
    EXPECT_EQ(io.entry(24), 0u);
    EXPECT_EQ(out.count, 0u);
    // Logical destination and lowest priority come through as written.
    write_entry(io, 1, 0x0300000000000000ull | rte::logical | (1ull << rte::delivery_shift) | 0x33, out);
    io.set_line(1, true, out);
    ASSERT_EQ(out.count, 1u);
    EXPECT_TRUE(out.msg[0].dest.logical);
    EXPECT_EQ(out.msg[0].dest.id, 3u);
    EXPECT_EQ(out.msg[0].irq.mode, DeliveryMode::lowest_priority);
}

TEST(Vioapic, MsiDecoding)
{
    Message m{};
    ASSERT_TRUE(decode_msi(0xfee01000, 0x4041, m));
    EXPECT_EQ(m.dest.id, 1u);
    EXPECT_FALSE(m.dest.logical);
    EXPECT_EQ(m.irq.vector, 0x41);
    EXPECT_EQ(m.irq.mode, DeliveryMode::fixed);
    ASSERT_TRUE(decode_msi(0xfee0200c, 0x0422, m));  // logical, redirection hint; NMI
    EXPECT_TRUE(m.dest.logical);
    EXPECT_EQ(m.dest.id, 2u);
    EXPECT_EQ(m.irq.mode, DeliveryMode::nmi);
    EXPECT_FALSE(decode_msi(0xfed00000, 0x41, m));   // not the interrupt window
    EXPECT_FALSE(decode_msi(0x1fee00000ull, 0x41, m));
    EXPECT_FALSE(decode_msi(0xfee00000, 0x0341, m));  // reserved delivery mode 3
    EXPECT_FALSE(decode_msi(0xfee00000, 0x0241, m));  // SMI: not emulated
}
