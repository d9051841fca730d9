// Calendar dates to Unix time (proleptic Gregorian, UTC): what a CMOS RTC
// reads becomes the seconds kvm-clock's wall clock and Dom0 report.
#pragma once

#include <cstdint>

namespace lib {

// Days from 1970-01-01 to y-m-d (m 1-12, d 1-31); negative before 1970.
// Counts in 400-year eras from 0000-03-01, so leap days fall at the end of
// each shifted year.
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;                                 // [0, 399]
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          // [0, 146096]
    return era * 146097 + doe - 719468;
}

constexpr int64_t unix_seconds(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    return days_from_civil(y, mo, d) * 86400 + int64_t(h) * 3600 + int64_t(mi) * 60 + s;
}

// The inverse: the date `days` after 1970-01-01 (the same eras, run back).
struct CivilDate {
    int64_t year;
    unsigned month, day;  // 1-12, 1-31
};
constexpr CivilDate civil_from_days(int64_t days)
{
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t doe = days - era * 146097;                             // [0, 146096]
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);        // [0, 365]
    const int64_t mp = (5 * doy + 2) / 153;                              // [0, 11], from March
    const unsigned d = unsigned(doy - (153 * mp + 2) / 5 + 1);
    const unsigned m = unsigned(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (m <= 2), m, d};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(civil_from_days(0).year == 1970 && civil_from_days(0).month == 1 && civil_from_days(0).day == 1);
static_assert(civil_from_days(11017).year == 2000 && civil_from_days(11017).month == 3);
static_assert(civil_from_days(-1).year == 1969 && civil_from_days(-1).day == 31);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(unix_seconds(2024, 2, 29, 12, 0, 0) == 1709208000);

}  // namespace lib
