// The PC's CMOS real-time clock (MC146818): the wall-clock time at boot,
// for guests' kvm-clock wall clock and Dom0. Read once; hv keeps time with
// the TSC afterwards. The decoding is portable and host-tested.
#pragma once

#include <cstdint>

#include "lib/civil_time.hpp"
#include "lib/result.hpp"

namespace arch::cmos {

// The time registers as read (BCD or binary, 12- or 24-hour, as status B says).
struct RtcRegs {
    uint8_t sec, min, hour, day, mon, year;
    uint8_t century;   // 0 if the platform has no century register (FADT)
    uint8_t status_b;  // bit 2: binary, bit 1: 24-hour
};

constexpr unsigned from_bcd(uint8_t v) { return (v >> 4) * 10u + (v & 0x0f); }
constexpr uint8_t to_bcd(unsigned v) { return uint8_t((v / 10 % 10) << 4 | v % 10); }  // 0-99

// Seconds since 1970 (UTC: PCs keep the RTC in UTC under Xen/KVM/Linux
// defaults), or -1 for a value no clock shows.
constexpr int64_t to_unix(const RtcRegs& r)
{
    const bool binary = r.status_b & 0x04, h24 = r.status_b & 0x02;
    auto val = [&](uint8_t v) { return binary ? unsigned(v) : from_bcd(v); };
    const bool pm = !h24 && (r.hour & 0x80);
    unsigned hour = val(uint8_t(r.hour & (h24 ? 0xff : 0x7f)));
    if (!h24) {
        if (hour < 1 || hour > 12) return -1;
        hour = hour % 12 + (pm ? 12 : 0);
    }
    unsigned sec = val(r.sec), min = val(r.min), day = val(r.day), mon = val(r.mon), yy = val(r.year);
    unsigned century = r.century ? val(r.century) : (yy < 70 ? 20 : 19);
    if (sec > 59 || min > 59 || hour > 23 || day < 1 || day > 31 || mon < 1 || mon > 12 || yy > 99 || century > 99)
        return -1;
    return lib::unix_seconds(int64_t(century) * 100 + yy, mon, day, hour, min, sec);
}

// Reads the clock (waiting out an update in progress, twice until two reads
// agree). century_index: the CMOS index of the century byte (FADT), 0 if none.
lib::Result<int64_t> read_unix_time(uint8_t century_index);

}  // namespace arch::cmos
