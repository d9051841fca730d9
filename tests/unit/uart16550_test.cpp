// The guest's 16550A UART (vmm/devices/uart16550): the register semantics
// Linux's 8250 driver relies on when it probes, programs and polls a port:
// the divisor latch behind LCR.DLAB, THR to the sink, LSR (THRE|TEMT, DR,
// BI), the receive FIFO (order, capacity, FCR clear), IIR with and without
// FIFOs, the scratch register, MCR loopback and MSR, break.
//
// Bad inputs tried: register numbers 8, 9, 0xff, 0x100 and 0xffffffff
// (read and written), writes to the read-only LSR and MSR, reserved MCR and
// FCR bits, a divisor of 0, RBR read with an empty FIFO, receive() into a
// full FIFO and in loopback, a break into a full FIFO, and 100,000 random
// register writes, reads and received bytes (invariants checked each step).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "vmm/devices/uart16550.hpp"

using vmm::devices::Uart16550;

namespace {

enum : unsigned { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct Sink {
    std::string out;
    static void put(void* ctx, char c) { static_cast<Sink*>(ctx)->out.push_back(c); }
};

struct UartTest : ::testing::Test {
    Sink sink;
    Uart16550 uart{&Sink::put, &sink};
};

}  // namespace

TEST_F(UartTest, ResetState)
{
    EXPECT_EQ(uart.read(LCR), 0x03);  // 8N1
    EXPECT_EQ(uart.read(IER), 0x00);
    EXPECT_EQ(uart.read(MCR), 0x00);
    EXPECT_EQ(uart.read(SCR), 0x00);
    EXPECT_EQ(uart.read(IIR), 0x01);  // no interrupt, FIFOs off
    EXPECT_EQ(uart.read(LSR), 0x60);  // THRE | TEMT
    EXPECT_EQ(uart.read(MSR), 0xb0);  // DCD | DSR | CTS
    EXPECT_EQ(uart.read(RBR), 0x00);  // empty FIFO reads 0
    EXPECT_EQ(uart.baud(), 115200u);
    EXPECT_EQ(uart.rx_pending(), 0u);
}

TEST_F(UartTest, DivisorLatch)
{
    // What serial8250_do_set_termios does for 9600 baud: DLAB on, DLL, DLM.
    uart.write(LCR, 0x83);
    uart.write(DLL, 12);
    uart.write(DLM, 0);
    EXPECT_EQ(uart.read(DLL), 12);
    EXPECT_EQ(uart.read(DLM), 0);
    EXPECT_EQ(uart.baud(), 9600u);
    EXPECT_EQ(uart.read(LCR), 0x83);
    uart.write(LCR, 0x03);
    EXPECT_EQ(uart.read(LCR), 0x03);
    EXPECT_EQ(uart.baud(), 9600u);
    // With DLAB off, offsets 0 and 1 are RBR/THR and IER again.
    EXPECT_EQ(uart.read(IER), 0);
    EXPECT_EQ(uart.read(RBR), 0);
    EXPECT_EQ(sink.out, "");  // the divisor bytes did not reach the sink

    // A 16-bit divisor: 0x0180 = 384 -> 300 baud.
    uart.write(LCR, 0x80);
    uart.write(DLM, 0x01);
    uart.write(DLL, 0x80);
    EXPECT_EQ(uart.read(DLL), 0x80);
    EXPECT_EQ(uart.read(DLM), 0x01);
    EXPECT_EQ(uart.baud(), 300u);
    // Divisor 0: no baud rate rather than a division by zero.
    uart.write(DLL, 0);
    uart.write(DLM, 0);
    EXPECT_EQ(uart.baud(), 0u);
    uart.write(DLL, 1);
    EXPECT_EQ(uart.baud(), 115200u);
    // DLAB does not hide IER's value, and IER keeps only bits 0-3.
    uart.write(LCR, 0x03);
    uart.write(IER, 0xff);
    EXPECT_EQ(uart.read(IER), 0x0f);
    uart.write(LCR, 0x83);
    EXPECT_EQ(uart.read(DLM), 0x00);
    uart.write(LCR, 0x03);
    EXPECT_EQ(uart.read(IER), 0x0f);
}

TEST_F(UartTest, TransmitInOrder)
{
    for (char c : std::string("Linux version 6.1\r\n")) uart.write(THR, uint8_t(c));
    uart.write(THR, 0x00);
    uart.write(THR, 0xff);
    EXPECT_EQ(sink.out, std::string("Linux version 6.1\r\n") + '\0' + '\xff');
    // The transmitter is always ready: a polling driver never waits.
    EXPECT_EQ(uart.read(LSR) & 0x60, 0x60);
    EXPECT_EQ(uart.rx_pending(), 0u);
}

TEST(Uart, NoSinkIsAllowed)
{
    Uart16550 uart(nullptr, nullptr);
    uart.write(THR, 'x');
    EXPECT_EQ(uart.read(LSR), 0x60);
}

TEST_F(UartTest, ReceiveFifo)
{
    EXPECT_EQ(uart.read(LSR) & 0x01, 0);
    EXPECT_TRUE(uart.receive('a'));
    EXPECT_TRUE(uart.receive('b'));
    EXPECT_TRUE(uart.receive('\0'));
    EXPECT_EQ(uart.rx_pending(), 3u);
    EXPECT_EQ(uart.read(LSR), 0x61);  // DR | THRE | TEMT
    EXPECT_EQ(uart.read(RBR), 'a');
    EXPECT_EQ(uart.read(RBR), 'b');
    EXPECT_EQ(uart.read(LSR), 0x61);
    EXPECT_EQ(uart.read(RBR), 0);
    EXPECT_EQ(uart.read(LSR), 0x60);
    EXPECT_EQ(uart.read(RBR), 0);  // empty: 0, nothing underflows
    EXPECT_EQ(uart.rx_pending(), 0u);
    // RBR reads through DLAB are DLL, not the FIFO.
    uart.receive('z');
    uart.write(LCR, 0x83);
    EXPECT_EQ(uart.read(RBR), 1);
    EXPECT_EQ(uart.rx_pending(), 1u);
    uart.write(LCR, 0x03);
    EXPECT_EQ(uart.read(RBR), 'z');
}

TEST_F(UartTest, FifoCapacityAndWrap)
{
    static_assert(Uart16550::rx_capacity == 64);
    for (size_t i = 0; i < Uart16550::rx_capacity; ++i) EXPECT_TRUE(uart.receive(char('A' + i % 26)));
    EXPECT_EQ(uart.rx_pending(), 64u);
    EXPECT_FALSE(uart.receive('!'));  // full: dropped
    EXPECT_EQ(uart.rx_pending(), 64u);
    // Read half, refill across the ring's end, read everything in order.
    std::string got;
    for (int i = 0; i < 32; ++i) got.push_back(char(uart.read(RBR)));
    for (int i = 0; i < 32; ++i) EXPECT_TRUE(uart.receive(char('a' + i % 26)));
    EXPECT_FALSE(uart.receive('!'));
    while (uart.read(LSR) & 0x01) got.push_back(char(uart.read(RBR)));
    std::string want;
    for (size_t i = 0; i < 64; ++i) want.push_back(char('A' + i % 26));
    for (int i = 0; i < 32; ++i) want.push_back(char('a' + i % 26));
    EXPECT_EQ(got, want);
    EXPECT_EQ(got.find('!'), std::string::npos);
}

TEST_F(UartTest, FifoControlAndIir)
{
    uart.write(FCR, 0x01);  // enable FIFOs
    EXPECT_EQ(uart.read(IIR), 0xc1);
    uart.receive('x');
    uart.receive('y');
    uart.write(FCR, 0x07);  // enable, clear RX and TX (as the 8250 probe does)
    EXPECT_EQ(uart.rx_pending(), 0u);
    EXPECT_EQ(uart.read(LSR), 0x60);
    EXPECT_EQ(uart.read(IIR), 0xc1);
    // Clear RX, then the FIFO works from wherever the ring was.
    uart.receive('1');
    uart.receive('2');
    uart.read(RBR);
    uart.write(FCR, 0xc3);  // trigger level 14, enable, clear RX
    EXPECT_EQ(uart.rx_pending(), 0u);
    uart.receive('p');
    uart.receive('q');
    EXPECT_EQ(uart.read(RBR), 'p');
    EXPECT_EQ(uart.read(RBR), 'q');
    EXPECT_EQ(uart.read(IIR), 0xc1);
    uart.write(FCR, 0x00);  // FIFOs off
    EXPECT_EQ(uart.read(IIR), 0x01);
    // FCR writes do not change LCR, and the bytes go nowhere.
    EXPECT_EQ(uart.read(LCR), 0x03);
    EXPECT_EQ(sink.out, "");
}

TEST_F(UartTest, ScratchRegister)
{
    // autoconfig's first check: the scratch register holds any byte.
    for (unsigned v : {0x00u, 0x55u, 0xaau, 0xffu, 0x5au}) {
        uart.write(SCR, uint8_t(v));
        EXPECT_EQ(uart.read(SCR), v);
    }
    uart.write(LCR, 0x83);
    EXPECT_EQ(uart.read(SCR), 0x5a);  // not banked by DLAB
}

TEST_F(UartTest, LoopbackLikeTheLinuxProbe)
{
    // serial8250's check: MCR = LOOP | 0x0A (RTS | OUT2) -> MSR & 0xF0 == 0x90.
    uart.write(MCR, 0x1a);
    EXPECT_EQ(uart.read(MCR), 0x1a);
    EXPECT_EQ(uart.read(MSR) & 0xf0, 0x90);
    struct Map {
        uint8_t mcr, msr;
    };
    for (Map m : {Map{0x10, 0x00}, Map{0x11, 0x20}, Map{0x12, 0x10}, Map{0x14, 0x40}, Map{0x18, 0x80},
                  Map{0x1f, 0xf0}}) {
        uart.write(MCR, m.mcr);
        EXPECT_EQ(uart.read(MSR), m.msr) << std::hex << unsigned(m.mcr);
    }
    // Transmitted bytes come back on RX, not to the sink.
    uart.write(THR, 'L');
    uart.write(THR, 'B');
    EXPECT_EQ(sink.out, "");
    EXPECT_EQ(uart.rx_pending(), 2u);
    EXPECT_EQ(uart.read(LSR), 0x61);
    // The line is disconnected: console input is refused.
    EXPECT_FALSE(uart.receive('k'));
    EXPECT_EQ(uart.read(RBR), 'L');
    EXPECT_EQ(uart.read(RBR), 'B');
    EXPECT_EQ(uart.read(RBR), 0);
    // Loopback into a full FIFO drops silently.
    for (int i = 0; i < 70; ++i) uart.write(THR, uint8_t(i));
    EXPECT_EQ(uart.rx_pending(), 64u);
    for (int i = 0; i < 64; ++i) ASSERT_EQ(uart.read(RBR), i);
    // Out of loopback: MSR reports the terminal again, THR goes out.
    uart.write(MCR, 0x0b);  // DTR | RTS | OUT2, as the driver leaves it
    EXPECT_EQ(uart.read(MCR), 0x0b);
    EXPECT_EQ(uart.read(MSR), 0xb0);
    EXPECT_TRUE(uart.receive('k'));
    uart.write(THR, 'o');
    EXPECT_EQ(sink.out, "o");
    // MCR keeps bits 0-4 only.
    uart.write(MCR, 0xe3);
    EXPECT_EQ(uart.read(MCR), 0x03);
}

TEST_F(UartTest, BreakForMagicSysrq)
{
    uart.receive('a');
    uart.send_break();
    EXPECT_EQ(uart.rx_pending(), 2u);
    EXPECT_EQ(uart.read(LSR), 0x71);  // BI | DR | THRE | TEMT
    EXPECT_EQ(uart.read(LSR), 0x61);  // BI cleared by the read
    EXPECT_EQ(uart.read(RBR), 'a');
    EXPECT_EQ(uart.read(RBR), 0);  // the break's NUL
    EXPECT_EQ(uart.read(LSR), 0x60);
    // Reading other registers does not clear BI.
    uart.send_break();
    EXPECT_EQ(uart.read(RBR), 0);
    EXPECT_EQ(uart.read(MSR), 0xb0);
    EXPECT_EQ(uart.read(LSR), 0x70);
    EXPECT_EQ(uart.read(LSR), 0x60);
    // Two breaks before a read: one BI, two NULs.
    uart.send_break();
    uart.send_break();
    EXPECT_EQ(uart.rx_pending(), 2u);
    EXPECT_EQ(uart.read(LSR), 0x71);
    EXPECT_EQ(uart.read(LSR), 0x61);
}

TEST_F(UartTest, BreakIntoFullFifo)
{
    for (size_t i = 0; i < Uart16550::rx_capacity; ++i) ASSERT_TRUE(uart.receive('x'));
    uart.send_break();
    EXPECT_EQ(uart.rx_pending(), 64u);  // the NUL is lost, BI is still seen
    EXPECT_EQ(uart.read(LSR), 0x71);
    EXPECT_EQ(uart.read(LSR), 0x61);
}

TEST_F(UartTest, ReadOnlyRegistersIgnoreWrites)
{
    uart.write(LSR, 0x00);
    uart.write(LSR, 0xff);
    EXPECT_EQ(uart.read(LSR), 0x60);
    uart.write(MSR, 0x00);
    EXPECT_EQ(uart.read(MSR), 0xb0);
    EXPECT_EQ(uart.read(LCR), 0x03);
    EXPECT_EQ(uart.read(MCR), 0x00);
    EXPECT_EQ(sink.out, "");
}

TEST_F(UartTest, OutOfRangeRegisters)
{
    uart.receive('r');
    uart.write(SCR, 0x42);
    for (unsigned reg : {8u, 9u, 15u, 0xffu, 0x100u, 0x3f8u, 0xffffffffu}) {
        SCOPED_TRACE(reg);
        EXPECT_EQ(uart.read(reg), 0xff);
        uart.write(reg, 0x80);
        uart.write(reg, 0x00);
        uart.write(reg, 0x10);
    }
    // Nothing changed: no byte sent, none consumed, registers as they were.
    EXPECT_EQ(sink.out, "");
    EXPECT_EQ(uart.rx_pending(), 1u);
    EXPECT_EQ(uart.read(LCR), 0x03);
    EXPECT_EQ(uart.read(MCR), 0x00);
    EXPECT_EQ(uart.read(SCR), 0x42);
    EXPECT_EQ(uart.read(IIR), 0x01);
    EXPECT_EQ(uart.baud(), 115200u);
    EXPECT_EQ(uart.read(RBR), 'r');
}

TEST_F(UartTest, HostileSequences)
{
    std::mt19937 rng(16550);
    size_t sent = 0;
    for (int step = 0; step < 100000; ++step) {
        unsigned what = rng() % 8;
        unsigned reg = rng() % 10;  // 8 and 9 are out of range
        uint8_t v = uint8_t(rng());
        size_t before = uart.rx_pending();
        uint8_t lcr = uart.read(LCR), mcr = uart.read(MCR);
        if (what < 3) {
            uart.write(reg, v);
            if (reg == THR && !(lcr & 0x80) && !(mcr & 0x10)) ++sent;
        } else if (what < 6) {
            uint8_t r = uart.read(reg);
            if (reg >= 8) {
                ASSERT_EQ(r, 0xff);
            }
            if (reg == LSR) {
                ASSERT_EQ(r & 0x60, 0x60);
                ASSERT_EQ(bool(r & 0x01), before != 0);
            }
            if (reg == IIR) {
                // FIFO bits both or neither; an identification the chip can give.
                ASSERT_TRUE((r & 0xc0) == 0 || (r & 0xc0) == 0xc0);
                uint8_t id = r & 0x0f;
                ASSERT_TRUE(id == 0x01 || id == 0x02 || id == 0x04 || id == 0x06) << int(r);
            }
            if (reg == MCR) {
                ASSERT_EQ(r & 0xe0, 0);
            }
            if (reg == IER && !(lcr & 0x80)) {
                ASSERT_EQ(r & 0xf0, 0);
            }
            if (reg == MSR && !(mcr & 0x10)) {
                ASSERT_EQ(r, 0xb0);
            }
            if (reg == MSR && (mcr & 0x10)) {
                ASSERT_EQ(r & 0x0f, 0);
            }
            if (reg == RBR && !(lcr & 0x80) && before) {
                ASSERT_EQ(uart.rx_pending(), before - 1);
            }
        } else if (what == 6) {
            bool ok = uart.receive(char(v));
            ASSERT_EQ(ok, before < Uart16550::rx_capacity && !(mcr & 0x10));
            ASSERT_EQ(uart.rx_pending(), before + (ok ? 1 : 0));
        } else if (rng() % 64 == 0) {
            uart.send_break();
        }
        ASSERT_LE(uart.rx_pending(), Uart16550::rx_capacity) << "step " << step;
    }
    EXPECT_EQ(sink.out.size(), sent);
    // Whatever happened, the device can be brought back to a known state.
    uart.write(LCR, 0x03);
    uart.write(MCR, 0x0b);
    uart.write(FCR, 0x07);
    EXPECT_EQ(uart.rx_pending(), 0u);
    uart.read(LSR);
    EXPECT_EQ(uart.read(LSR), 0x60);
    EXPECT_TRUE(uart.receive('!'));
    EXPECT_EQ(uart.read(RBR), '!');
}

// Interrupts as Linux's 8250 driver uses them: the THRE test at startup
// (enable ETBEI with the holding register empty: IIR says THRE at once),
// THRE re-armed by every transmitted byte, received data above THRE, a
// break as a line-status interrupt, and OUT2 gating the line to the board.
TEST(Uart16550, Interrupts)
{
    std::string out;
    vmm::devices::Uart16550 uart([](void* ctx, char c) { static_cast<std::string*>(ctx)->push_back(c); }, &out);
    EXPECT_FALSE(uart.irq_line());
    uart.write(IER, 0x02);  // ETBEI
    EXPECT_EQ(uart.read(IIR), 0x02);
    EXPECT_EQ(uart.read(IIR), 0x01);  // acknowledged by the read
    uart.write(THR, 'a');
    EXPECT_FALSE(uart.irq_line());  // OUT2 is off: nothing reaches the board
    uart.write(MCR, 0x08);
    EXPECT_TRUE(uart.irq_line());
    EXPECT_EQ(uart.read(IIR), 0x02);
    EXPECT_FALSE(uart.irq_line());
    uart.write(IER, 0x03);  // + received data (THRE already on: no new THRE)
    EXPECT_FALSE(uart.irq_line());
    uart.receive('x');
    EXPECT_TRUE(uart.irq_line());
    EXPECT_EQ(uart.read(IIR), 0x04);
    EXPECT_EQ(uart.read(RBR), 'x');
    EXPECT_FALSE(uart.irq_line());
    uart.write(IER, 0x07);
    uart.send_break();
    EXPECT_EQ(uart.read(IIR), 0x06);  // line status first
    (void)uart.read(LSR);             // clears BI
    EXPECT_EQ(uart.read(IIR), 0x04);  // then the NUL byte that came with it
    (void)uart.read(RBR);
    uart.write(FCR, 0x01);
    uart.write(THR, 'b');
    EXPECT_EQ(uart.read(IIR), 0xc2);  // FIFO bits with THRE
    uart.write(IER, 0x00);
    EXPECT_FALSE(uart.irq_line());
    EXPECT_EQ(out, "ab");
}

// lsr_snapshot is what hv answers for LSR reads without asking Dom0 (a
// latched port): it must equal what a real LSR read gives, and be refused
// whenever a read has a side effect (a pending break clears BI) or a queued
// THR write could change the answer (loopback feeds THR into RBR).
TEST_F(UartTest, LsrSnapshotMatchesARealReadOrIsRefused)
{
    uint8_t v = 0;
    ASSERT_TRUE(uart.lsr_snapshot(v));
    EXPECT_EQ(v, uart.read(LSR));
    uart.receive('x');
    ASSERT_TRUE(uart.lsr_snapshot(v));
    EXPECT_EQ(v, 0x61);  // THRE | TEMT | DR
    EXPECT_EQ(v, uart.read(LSR));
    uart.send_break();
    EXPECT_FALSE(uart.lsr_snapshot(v));
    EXPECT_EQ(uart.read(LSR) & 0x10, 0x10);  // the read takes BI away
    ASSERT_TRUE(uart.lsr_snapshot(v));
    EXPECT_EQ(v, uart.read(LSR));
    uart.write(MCR, 0x10);  // loopback
    EXPECT_FALSE(uart.lsr_snapshot(v));
    uart.write(MCR, 0x00);
    EXPECT_TRUE(uart.lsr_snapshot(v));
}
