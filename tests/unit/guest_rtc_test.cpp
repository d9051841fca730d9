// A guest's CMOS RTC (vmm/devices/cmos_rtc): the wall clock in the time
// registers in BCD and binary, 24- and 12-hour form, the weekday and the
// century; status A's update-in-progress window; setting the clock through
// the time registers, directly and under status B's SET bit; the index
// port's NMI bit; the battery-backed RAM; and the inverse date conversion
// (lib/civil_time.hpp) against days_from_civil over four centuries.
//
// Bad and odd inputs tried: a time register written with a value no clock
// shows (BCD 0x5a seconds, hour 0x25, month 0x13: ignored), writes to the
// read-only status C and D and the weekday, index values with bit 7 set
// and above 0x7f, port offsets beyond 1, clock offsets before 1970 and a
// year (9999) whose nanoseconds since 1970 overflow 64 bits.
#include <gtest/gtest.h>

#include <cstdint>

#include "lib/civil_time.hpp"
#include "vmm/devices/cmos_rtc.hpp"

using vmm::devices::CmosRtc;

namespace {

constexpr int64_t s = 1'000'000'000;

struct RtcTest : ::testing::Test {
    CmosRtc rtc;
    uint8_t reg(unsigned i, uint64_t now = 0)
    {
        rtc.write(0, uint8_t(i), now);
        return rtc.read(1, now);
    }
    void set(unsigned i, uint8_t v, uint64_t now = 0)
    {
        rtc.write(0, uint8_t(i), now);
        rtc.write(1, v, now);
    }
};

}  // namespace

TEST(CivilFromDays, InvertsDaysFromCivil)
{
    for (int64_t y = 1800; y <= 2200; ++y)
        for (unsigned m = 1; m <= 12; ++m)
            for (unsigned d : {1u, 28u}) {
                auto c = lib::civil_from_days(lib::days_from_civil(y, m, d));
                ASSERT_EQ(c.year, y);
                ASSERT_EQ(c.month, m);
                ASSERT_EQ(c.day, d);
            }
    auto leap = lib::civil_from_days(lib::days_from_civil(2024, 2, 29));
    EXPECT_EQ(leap.month, 2u);
    EXPECT_EQ(leap.day, 29u);
}

TEST_F(RtcTest, ShowsTheWallClockInBcd)
{
    rtc.set_clock(lib::unix_seconds(2026, 12, 3, 17, 45, 9) * s);  // a Thursday
    EXPECT_EQ(reg(0), 0x09);
    EXPECT_EQ(reg(2), 0x45);
    EXPECT_EQ(reg(4), 0x17);
    EXPECT_EQ(reg(6), 5);  // Sunday is 1
    EXPECT_EQ(reg(7), 0x03);
    EXPECT_EQ(reg(8), 0x12);
    EXPECT_EQ(reg(9), 0x26);
    EXPECT_EQ(reg(0x32), 0x20);
    EXPECT_EQ(reg(0, 51 * s), 0x00);  // 51 s later: 17:46:00
    EXPECT_EQ(reg(2, 51 * s), 0x46);
    EXPECT_EQ(reg(0x0a), 0x26);
    EXPECT_EQ(reg(0x0b), 0x02);
    EXPECT_EQ(reg(0x0c), 0x00);
    EXPECT_EQ(reg(0x0d), 0x80);
}

TEST_F(RtcTest, BinaryAndTwelveHour)
{
    rtc.set_clock(lib::unix_seconds(1999, 12, 31, 0, 30, 0) * s);
    set(0x0b, 0x06);  // binary, 24-hour
    EXPECT_EQ(reg(9), 99);
    EXPECT_EQ(reg(0x32), 19);
    EXPECT_EQ(reg(4), 0);
    set(0x0b, 0x04);  // binary, 12-hour: 12 AM
    EXPECT_EQ(reg(4), 12);
    set(0x0b, 0x00);  // BCD, 12-hour, 1 PM
    rtc.set_clock(lib::unix_seconds(1999, 12, 31, 13, 0, 0) * s);
    EXPECT_EQ(reg(4), 0x81);
}

TEST_F(RtcTest, UpdateInProgressNearTheSecond)
{
    rtc.set_clock(0);
    EXPECT_EQ(reg(0x0a, 500'000'000) & 0x80, 0);
    EXPECT_EQ(reg(0x0a, s - 100'000) & 0x80, 0x80);
    EXPECT_EQ(reg(0x0a, s + 1) & 0x80, 0);
    set(0x0a, 0xff);  // UIP cannot be written
    EXPECT_EQ(reg(0x0a, 0), 0x7f);
}

TEST_F(RtcTest, SettingTheClock)
{
    rtc.set_clock(lib::unix_seconds(2024, 1, 1, 0, 0, 0) * s);
    set(4, 0x13);  // 13:00
    EXPECT_EQ(reg(4), 0x13);
    EXPECT_EQ(rtc.unix_seconds(0), lib::unix_seconds(2024, 1, 1, 13, 0, 0));
    EXPECT_EQ(reg(0, 5 * s), 0x05);  // and it runs on
    // Held under SET, running again from the time set when SET clears.
    set(0x0b, 0x82, 10 * s);
    set(9, 0x30, 10 * s);
    set(8, 0x06, 10 * s);
    EXPECT_EQ(reg(0, 20 * s), 0x10);  // held at :10
    set(0x0b, 0x02, 20 * s);
    EXPECT_EQ(reg(0, 23 * s), 0x13);
    EXPECT_EQ(reg(9, 23 * s), 0x30);
    EXPECT_EQ(reg(8, 23 * s), 0x06);
    // Values no clock shows are ignored.
    int64_t before = rtc.unix_seconds(23 * s);
    set(0, 0x5a, 23 * s);
    set(4, 0x25, 23 * s);
    set(8, 0x13, 23 * s);
    set(6, 0x03, 23 * s);  // the weekday follows the date
    EXPECT_EQ(rtc.unix_seconds(23 * s), before);
    // The far future: year 9999 (beyond 64-bit nanoseconds since 1970).
    set(0x32, 0x99, 23 * s);
    set(9, 0x99, 23 * s);
    EXPECT_EQ(reg(0x32, 24 * s), 0x99);
    EXPECT_EQ(reg(9, 24 * s), 0x99);
    EXPECT_EQ(reg(8, 24 * s), 0x06);
}

TEST_F(RtcTest, IndexRamAndReadOnlyRegisters)
{
    rtc.write(0, 0x8e, 0);  // NMI masked, index 0x0e
    EXPECT_TRUE(rtc.nmi_masked());
    EXPECT_EQ(rtc.index(), 0x0e);
    EXPECT_EQ(rtc.read(0, 0), 0x8e);
    rtc.write(1, 0xa5, 0);
    EXPECT_EQ(rtc.read(1, 0), 0xa5);
    set(0x7f, 0x5a);
    EXPECT_EQ(reg(0x7f), 0x5a);
    set(0xff, 0x11);  // index 0x7f again (bit 7 is the NMI mask)
    EXPECT_EQ(reg(0x7f), 0x11);
    set(0x0c, 0xff);
    set(0x0d, 0x00);
    EXPECT_EQ(reg(0x0c), 0x00);
    EXPECT_EQ(reg(0x0d), 0x80);
    EXPECT_EQ(rtc.read(2, 0), 0xff);
    rtc.write(5, 0x12, 0);
    rtc.set_clock(-86400 * s);  // 1969-12-31
    EXPECT_EQ(reg(9), 0x69);
    EXPECT_EQ(reg(7), 0x31);
    EXPECT_EQ(reg(0x32), 0x19);
}
