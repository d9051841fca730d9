#include "arch/x86_64/cmos_rtc.hpp"

#include "arch/x86_64/cpu.hpp"

namespace arch::cmos {
namespace {

constexpr uint16_t index_port = 0x70, data_port = 0x71;
constexpr uint8_t nmi_disable = 0x80;  // kept set while hv talks to the chip
constexpr uint8_t reg_status_a = 0x0a, reg_status_b = 0x0b;
constexpr uint8_t status_a_uip = 0x80;  // update in progress: the registers are changing

uint8_t read_reg(uint8_t index)
{
    outb(index_port, uint8_t(nmi_disable | index));
    return inb(data_port);
}

RtcRegs read_regs(uint8_t century_index)
{
    // An update takes under 2 ms after UIP rises; the registers are stable
    // for at least 244 us after UIP reads clear.
    for (unsigned spin = 0; spin < 1'000'000 && (read_reg(reg_status_a) & status_a_uip); ++spin) pause();
    RtcRegs r{};
    r.sec = read_reg(0x00);
    r.min = read_reg(0x02);
    r.hour = read_reg(0x04);
    r.day = read_reg(0x07);
    r.mon = read_reg(0x08);
    r.year = read_reg(0x09);
    r.century = century_index ? read_reg(century_index) : 0;
    r.status_b = read_reg(reg_status_b);
    return r;
}

}  // namespace

lib::Result<int64_t> read_unix_time(uint8_t century_index)
{
    if (century_index && century_index < 0x0e) century_index = 0;  // a clock register, not a century
    RtcRegs a = read_regs(century_index);
    for (unsigned tries = 0; tries < 5; ++tries) {
        RtcRegs b = read_regs(century_index);
        if (a.sec == b.sec && a.min == b.min && a.hour == b.hour && a.day == b.day && a.mon == b.mon &&
            a.year == b.year && a.century == b.century) {
            int64_t t = to_unix(b);
            if (t < 0) return lib::err(lib::Error::corrupt);
            return t;
        }
        a = b;
    }
    return lib::err(lib::Error::busy);
}

}  // namespace arch::cmos
