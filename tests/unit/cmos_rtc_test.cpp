// The wall clock's sources: calendar dates to Unix time (lib/civil_time.hpp)
// against the C library's timegm over four centuries, and the CMOS RTC's
// register formats (arch/x86_64/cmos_rtc.hpp): BCD and binary, 12- and
// 24-hour (12 AM is 0, 12 PM is 12), with and without a century register.
//
// Bad inputs tried: seconds 60 and 0x5a (BCD of an invalid digit), minute
// 60, hour 24 (24-hour), 0 and 13 (12-hour), day 0 and 32, month 0 and 13,
// year 100 (binary), a century of 0xff: each gives -1.
#include <gtest/gtest.h>

#include <ctime>

#include "arch/x86_64/cmos_rtc.hpp"
#include "lib/civil_time.hpp"

using arch::cmos::RtcRegs;
using arch::cmos::to_unix;

TEST(CivilTime, MatchesTimegmOverFourCenturies)
{
    for (int y = 1900; y <= 2300; y += 7)
        for (unsigned m = 1; m <= 12; ++m)
            for (unsigned d : {1u, 15u, 28u}) {
                std::tm tm{};
                tm.tm_year = y - 1900;
                tm.tm_mon = int(m) - 1;
                tm.tm_mday = int(d);
                tm.tm_hour = 13;
                tm.tm_min = 5;
                tm.tm_sec = 7;
                ASSERT_EQ(lib::unix_seconds(y, m, d, 13, 5, 7), int64_t(timegm(&tm))) << y << "-" << m << "-" << d;
            }
    EXPECT_EQ(lib::days_from_civil(2000, 2, 29) + 1, lib::days_from_civil(2000, 3, 1));  // 2000 is leap
    EXPECT_EQ(lib::days_from_civil(2100, 2, 28) + 1, lib::days_from_civil(2100, 3, 1));  // 2100 is not
}

TEST(CmosRtc, BcdTwentyFourHourWithCentury)
{
    // 2026-12-03 13:45:09, as QEMU's RTC shows it by default (BCD, 24-hour).
    RtcRegs r{.sec = 0x09, .min = 0x45, .hour = 0x13, .day = 0x03, .mon = 0x12, .year = 0x26, .century = 0x20,
              .status_b = 0x02};
    EXPECT_EQ(to_unix(r), lib::unix_seconds(2026, 12, 3, 13, 45, 9));
    r.century = 0;  // no century register: years 00-69 are 20xx
    EXPECT_EQ(to_unix(r), lib::unix_seconds(2026, 12, 3, 13, 45, 9));
    r.year = 0x99;
    EXPECT_EQ(to_unix(r), lib::unix_seconds(1999, 12, 3, 13, 45, 9));
}

TEST(CmosRtc, BinaryAndTwelveHour)
{
    RtcRegs r{.sec = 59, .min = 59, .hour = 23, .day = 31, .mon = 12, .year = 99, .century = 20, .status_b = 0x06};
    EXPECT_EQ(to_unix(r), lib::unix_seconds(2099, 12, 31, 23, 59, 59));
    // 12-hour BCD: bit 7 of the hour is PM.
    RtcRegs h{.sec = 0, .min = 0, .hour = 0x12, .day = 1, .mon = 1, .year = 0x24, .century = 0x20, .status_b = 0};
    EXPECT_EQ(to_unix(h), lib::unix_seconds(2024, 1, 1, 0, 0, 0));  // 12 AM
    h.hour = 0x80 | 0x12;
    EXPECT_EQ(to_unix(h), lib::unix_seconds(2024, 1, 1, 12, 0, 0));  // 12 PM
    h.hour = 0x80 | 0x07;
    EXPECT_EQ(to_unix(h), lib::unix_seconds(2024, 1, 1, 19, 0, 0));
}

TEST(CmosRtc, ImpossibleValuesAreRefused)
{
    const RtcRegs good{.sec = 0x30, .min = 0x30, .hour = 0x12, .day = 0x15, .mon = 0x06, .year = 0x26,
                       .century = 0x20, .status_b = 0x02};
    ASSERT_GT(to_unix(good), 0);
    auto with = [&](auto change) {
        RtcRegs r = good;
        change(r);
        return to_unix(r);
    };
    EXPECT_EQ(with([](RtcRegs& r) { r.sec = 0x60; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.sec = 0x5a; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.min = 0x60; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.hour = 0x24; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.status_b = 0; r.hour = 0x13; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.status_b = 0; r.hour = 0x00; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.day = 0; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.day = 0x32; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.mon = 0; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.mon = 0x13; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.status_b = 0x06; r.year = 100; }), -1);
    EXPECT_EQ(with([](RtcRegs& r) { r.century = 0xff; }), -1);
}
