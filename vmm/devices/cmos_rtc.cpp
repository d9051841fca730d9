#include "vmm/devices/cmos_rtc.hpp"

#include "arch/x86_64/cmos_rtc.hpp"
#include "lib/civil_time.hpp"

namespace vmm::devices {
namespace {

enum : unsigned { sec = 0, min = 2, hour = 4, weekday = 6, day = 7, month = 8, year = 9 };
enum : unsigned { status_a = 0x0a, status_b = 0x0b, status_c = 0x0c, status_d = 0x0d, century = 0x32 };
constexpr uint8_t b_set = 0x80, b_binary = 0x04, b_24h = 0x02;
constexpr uint8_t a_uip = 0x80;
constexpr uint64_t uip_ns = 244'000;  // the update cycle's warning time (datasheet: 244 us)

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }
__int128 floor_div(__int128 a, __int128 b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

}  // namespace

CmosRtc::CmosRtc()
{
    ram_[status_a] = 0x26;  // 32.768 kHz time base, 1024 Hz rate
    ram_[status_b] = b_24h; // BCD, 24-hour, no interrupts
    ram_[status_d] = 0x80;  // valid RAM and time
}

int64_t CmosRtc::unix_seconds(uint64_t now) const
{
    if (ram_[status_b] & b_set) return held_secs_;
    return int64_t(floor_div(offset_ns_ + __int128(now), __int128(1'000'000'000)));
}

uint8_t CmosRtc::encode(unsigned v) const
{
    return (ram_[status_b] & b_binary) ? uint8_t(v) : arch::cmos::to_bcd(v);
}

uint8_t CmosRtc::time_reg(unsigned reg, int64_t secs) const
{
    int64_t days = floor_div(secs, 86400), tod = secs - days * 86400;
    lib::CivilDate date = lib::civil_from_days(days);
    switch (reg) {
    case sec: return encode(unsigned(tod % 60));
    case min: return encode(unsigned(tod / 60 % 60));
    case hour: {
        unsigned h = unsigned(tod / 3600);
        if (ram_[status_b] & b_24h) return encode(h);
        return uint8_t(encode(h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
    }
    case weekday: return encode(unsigned(((days % 7) + 7 + 4) % 7 + 1));  // 1970-01-01 was a Thursday; Sunday is 1
    case day: return encode(date.day);
    case month: return encode(date.month);
    case year: return encode(unsigned(((date.year % 100) + 100) % 100));
    default: return encode(unsigned(((date.year / 100) % 100 + 100) % 100));  // century
    }
}

void CmosRtc::set_time_reg(unsigned reg, uint8_t value, uint64_t now)
{
    int64_t secs = unix_seconds(now);
    arch::cmos::RtcRegs r{time_reg(sec, secs),   time_reg(min, secs),     time_reg(hour, secs), time_reg(day, secs),
                          time_reg(month, secs), time_reg(year, secs),    time_reg(century, secs),
                          ram_[status_b]};
    switch (reg) {
    case sec: r.sec = value; break;
    case min: r.min = value; break;
    case hour: r.hour = value; break;
    case day: r.day = value; break;
    case month: r.mon = value; break;
    case year: r.year = value; break;
    case century: r.century = value; break;
    default: return;  // the weekday follows from the date
    }
    int64_t t = arch::cmos::to_unix(r);
    if (t < 0) return;  // a time no clock shows: ignored
    if (ram_[status_b] & b_set) held_secs_ = t;
    else offset_ns_ += __int128(t - secs) * 1'000'000'000;
}

uint8_t CmosRtc::read(unsigned offset, uint64_t now)
{
    if (offset == 0) return uint8_t(index_ | (nmi_masked_ ? 0x80 : 0));
    if (offset != 1) return 0xff;
    switch (index_) {
    case sec:
    case min:
    case hour:
    case weekday:
    case day:
    case month:
    case year:
    case century: return time_reg(index_, unix_seconds(now));
    case status_a: {
        __int128 t = offset_ns_ + __int128(now);
        uint64_t within = uint64_t(t - floor_div(t, __int128(1'000'000'000)) * 1'000'000'000);
        bool uip = !(ram_[status_b] & b_set) && within >= 1'000'000'000 - uip_ns;
        return uint8_t((ram_[status_a] & 0x7f) | (uip ? a_uip : 0));
    }
    case status_c: return 0;  // no interrupt flags (reading clears them)
    case status_d: return 0x80;
    default: return ram_[index_];  // alarms and battery-backed RAM
    }
}

void CmosRtc::write(unsigned offset, uint8_t value, uint64_t now)
{
    if (offset == 0) {
        index_ = value & 0x7f;
        nmi_masked_ = value & 0x80;
        return;
    }
    if (offset != 1) return;
    switch (index_) {
    case sec:
    case min:
    case hour:
    case day:
    case month:
    case year:
    case century: set_time_reg(index_, value, now); return;
    case weekday: return;
    case status_a: ram_[status_a] = value & 0x7f; return;  // UIP is read-only
    case status_b: {
        bool was_set = ram_[status_b] & b_set;
        if (!was_set && (value & b_set)) held_secs_ = unix_seconds(now);  // the clock stops while SET
        if (was_set && !(value & b_set))
            offset_ns_ = __int128(held_secs_) * 1'000'000'000 - __int128(now);  // and runs on from the time set
        ram_[status_b] = value;
        return;
    }
    case status_c:
    case status_d: return;  // read-only
    default: ram_[index_] = value; return;
    }
}

}  // namespace vmm::devices
