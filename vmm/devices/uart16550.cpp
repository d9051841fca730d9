#include "vmm/devices/uart16550.hpp"

namespace vmm::devices {
namespace {

enum : unsigned { rbr_thr = 0, ier = 1, iir_fcr = 2, lcr = 3, mcr = 4, lsr = 5, msr = 6, scr = 7 };
constexpr uint8_t lcr_dlab = 0x80;
constexpr uint8_t mcr_loop = 0x10;
constexpr uint8_t lsr_dr = 0x01, lsr_bi = 0x10, lsr_thre = 0x20, lsr_temt = 0x40;
constexpr uint8_t fcr_enable = 0x01, fcr_clear_rx = 0x02;
constexpr uint8_t ier_rda = 0x01, ier_thre = 0x02, ier_rls = 0x04;
constexpr uint8_t mcr_out2 = 0x08;
// IIR interrupt identification (bits 3:0), highest priority first.
constexpr uint8_t iir_none = 0x01, iir_rls = 0x06, iir_rda = 0x04, iir_thre = 0x02;

}  // namespace

void Uart16550::push_rx(uint8_t c)
{
    if (rx_count_ == rx_capacity) return;
    rx_[(rx_head_ + rx_count_) % rx_capacity] = c;
    ++rx_count_;
}

bool Uart16550::receive(char c)
{
    if (rx_count_ == rx_capacity || (mcr_ & mcr_loop)) return false;
    push_rx(uint8_t(c));
    return true;
}

void Uart16550::send_break()
{
    break_pending_ = true;
    push_rx(0);
}

uint8_t Uart16550::pending_id() const
{
    if ((ier_ & ier_rls) && break_pending_) return iir_rls;
    if ((ier_ & ier_rda) && rx_count_) return iir_rda;
    if ((ier_ & ier_thre) && thre_pending_) return iir_thre;
    return iir_none;  // modem status never changes here
}

bool Uart16550::irq_line() const { return (mcr_ & mcr_out2) && !(mcr_ & mcr_loop) && pending_id() != iir_none; }

uint32_t Uart16550::baud() const { return divisor_ ? 115200u / divisor_ : 0; }

// Transmission is instant: the holding and shift registers are always empty.
uint8_t Uart16550::line_status() const { return uint8_t(lsr_thre | lsr_temt | (rx_count_ ? lsr_dr : 0)); }

bool Uart16550::lsr_snapshot(uint8_t& value) const
{
    if (break_pending_ || (mcr_ & mcr_loop)) return false;
    value = line_status();
    return true;
}

uint8_t Uart16550::read(unsigned reg)
{
    switch (reg) {
    case rbr_thr: {
        if (lcr_ & lcr_dlab) return uint8_t(divisor_);
        if (!rx_count_) return 0;
        uint8_t c = rx_[rx_head_];
        rx_head_ = (rx_head_ + 1) % rx_capacity;
        --rx_count_;
        return c;
    }
    case ier: return (lcr_ & lcr_dlab) ? uint8_t(divisor_ >> 8) : ier_;
    case iir_fcr: {
        uint8_t id = pending_id();
        if (id == iir_thre) thre_pending_ = false;  // reading IIR acknowledges THRE
        return uint8_t(((fcr_ & fcr_enable) ? 0xc0 : 0x00) | id);
    }
    case lcr: return lcr_;
    case mcr: return mcr_;
    case lsr: {
        uint8_t v = line_status();
        if (break_pending_) {
            v |= lsr_bi;
            break_pending_ = false;  // cleared by reading LSR
        }
        return v;
    }
    case msr:
        if (mcr_ & mcr_loop) {
            // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            return uint8_t(((mcr_ & 0x01) << 5) | ((mcr_ & 0x02) << 3) | ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
        }
        return 0xb0;  // DCD, DSR, CTS: a terminal is there
    case scr: return scr_;
    }
    return 0xff;
}

void Uart16550::write(unsigned reg, uint8_t value)
{
    switch (reg) {
    case rbr_thr:
        if (lcr_ & lcr_dlab) divisor_ = uint16_t((divisor_ & 0xff00) | value);
        else if (mcr_ & mcr_loop) push_rx(value);
        else if (sink_) sink_(ctx_, char(value));
        if (!(lcr_ & lcr_dlab)) thre_pending_ = true;  // sent at once: empty again
        return;
    case ier:
        if (lcr_ & lcr_dlab) divisor_ = uint16_t((divisor_ & 0x00ff) | (value << 8));
        else {
            // Enabling ETBEI while the holding register is empty interrupts
            // at once (datasheet 8.5; Linux's THRE test relies on it).
            if ((value & ier_thre) && !(ier_ & ier_thre)) thre_pending_ = true;
            ier_ = value & 0x0f;
        }
        return;
    case iir_fcr:
        fcr_ = value & 0xc9;
        if (value & fcr_clear_rx) rx_count_ = 0;
        return;
    case lcr: lcr_ = value; return;
    case mcr: mcr_ = value & 0x1f; return;
    case scr: scr_ = value; return;
    default: return;  // LSR and MSR are read-only
    }
}

}  // namespace vmm::devices
