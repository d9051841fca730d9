// A guest's 16550A UART (PC16550D datasheet): the register file a driver
// programs (divisor latch, FIFO control, line and modem control, scratch),
// transmit to a sink, a receive FIFO fed from the console, loopback mode (as
// Linux's probe uses it) and a break condition (Magic SysRq over serial).
// Interrupts (IER/IIR, datasheet Table 4): received data, transmitter
// empty, line status (a break) and modem status, prioritised as the chip
// does; the line the UART drives (irq_line) is gated by MCR OUT2 as on a PC
// board. The owner raises the guest's interrupt when the line changes.
// Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm::devices {

class Uart16550 {
public:
    using Sink = void (*)(void* ctx, char c);
    static constexpr size_t rx_capacity = 64;

    Uart16550(Sink sink, void* ctx) : sink_(sink), ctx_(ctx) {}

    // Port offset 0..7 from the base; anything else reads 0xff / is ignored.
    uint8_t read(unsigned reg);
    void write(unsigned reg, uint8_t value);

    // Bytes typed on the console for the guest; false when the FIFO is full
    // (the byte is dropped, as on a real line with no flow control).
    bool receive(char c);
    // A break on the line: LSR.BI with a NUL byte, once.
    void send_break();
    size_t rx_pending() const { return rx_count_; }
    // The INTR output as the board wires it (through OUT2): true while an
    // enabled interrupt is pending. Check after every read, write, receive
    // and break.
    bool irq_line() const;
    uint32_t baud() const;  // from the divisor latch (115200 / divisor)
    // What a read of LSR would give, when such a read changes nothing and
    // no transmitted byte could change it (no break pending, no loopback):
    // then a hypervisor may answer LSR reads itself (a latched port) while
    // THR writes are queued for later (buffered). False otherwise.
    bool lsr_snapshot(uint8_t& value) const;

private:
    void push_rx(uint8_t c);
    uint8_t line_status() const;  // LSR without the break bit

    Sink sink_;
    void* ctx_;
    uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0, scr_ = 0, fcr_ = 0;
    uint16_t divisor_ = 1;
    bool break_pending_ = false;
    // THRE interrupt: set when the holding register empties (at once here:
    // transmission is instant) or when ETBEI is enabled with it empty;
    // cleared by reading IIR while it is the source or by writing THR.
    bool thre_pending_ = false;
    uint8_t pending_id() const;  // IIR bits 3:0
    uint8_t rx_[rx_capacity] = {};
    size_t rx_head_ = 0, rx_count_ = 0;
};

}  // namespace vmm::devices
