#include "drivers/uart/uart16550.hpp"

#include "arch/x86_64/cpu.hpp"

namespace drivers {

namespace {
// Register offsets (PC16550D datasheet).
enum Reg : uint16_t { rbr = 0, thr = 0, ier = 1, dll = 0, dlm = 1, fcr = 2, lcr = 3, mcr = 4, lsr = 5, scr = 7 };
constexpr uint8_t lsr_data_ready = 0x01;
constexpr uint8_t lsr_thr_empty = 0x20;
constexpr uint8_t lcr_dlab = 0x80;
constexpr uint32_t uart_clock = 115200;
}  // namespace

bool Uart16550::init(uint16_t base, uint32_t baud)
{
    base_ = base;
    arch::outb(base + scr, 0x5a);
    present_ = arch::inb(base + scr) == 0x5a;
    if (!present_) return false;
    uint32_t divisor = baud ? uart_clock / baud : 1;
    if (divisor == 0) divisor = 1;
    arch::outb(base + ier, 0);
    arch::outb(base + lcr, lcr_dlab);
    arch::outb(base + dll, divisor & 0xff);
    arch::outb(base + dlm, (divisor >> 8) & 0xff);
    arch::outb(base + lcr, 0x03);  // 8N1
    arch::outb(base + fcr, 0x07);  // enable and clear FIFOs
    arch::outb(base + mcr, 0x03);  // DTR, RTS
    return true;
}

void Uart16550::put(char c)
{
    if (!present_) return;
    // Bounded wait: a wedged UART must not hang the hypervisor.
    for (unsigned spin = 0; spin < 100000 && !(arch::inb(base_ + lsr) & lsr_thr_empty); ++spin) arch::pause();
    arch::outb(base_ + thr, static_cast<uint8_t>(c));
}

bool Uart16550::can_read() const { return present_ && (arch::inb(base_ + lsr) & lsr_data_ready); }

int Uart16550::get()
{
    if (!can_read()) return -1;
    return arch::inb(base_ + rbr);
}

void Uart16550::write(const char* s, unsigned long n)
{
    for (unsigned long i = 0; i < n; ++i) {
        if (s[i] == '\n') put('\r');
        put(s[i]);
    }
}

}  // namespace drivers
