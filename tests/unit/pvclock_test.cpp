// kvm-clock parameters: the scale gives nanoseconds from TSC ticks to within
// a part per million over the whole range of TSC frequencies hv may meet, and
// the structure has the layout and flags Linux reads.
#include <gtest/gtest.h>

#include "hv/vcpu/pvclock.hpp"

using namespace hv::pvclock;

TEST(Pvclock, ScaleIsAccurate)
{
    for (uint64_t hz : {1'000'000ull, 33'333'333ull, 999'999'999ull, 1'000'000'000ull, 1'000'000'001ull,
                        2'596'144'000ull, 3'000'000'000ull, 4'294'967'296ull, 10'000'000'000ull, 100'000'000'000ull}) {
        Scale s = scale_for(hz);
        EXPECT_GE(s.mul, 1u << 31) << hz;  // full precision
        // One second and one hour of ticks.
        for (uint64_t seconds : {1ull, 3600ull}) {
            double ns = double(scaled_ns(hz * seconds, s));
            EXPECT_NEAR(ns / (1e9 * double(seconds)), 1.0, 1e-6) << hz << " Hz over " << seconds << " s";
        }
    }
}

TEST(Pvclock, ZeroFrequencyIsAStoppedClock)
{
    Scale s = scale_for(0);
    EXPECT_EQ(s.mul, 0u);
    EXPECT_EQ(scaled_ns(123456789, s), 0u);
}

TEST(Pvclock, TimeInfoIsStableAndEven)
{
    VcpuTimeInfo t = time_info(2'000'000'000);
    EXPECT_EQ(t.version % 2, 0u);  // odd would mean "being updated"
    EXPECT_EQ(t.flags, flag_tsc_stable);
    EXPECT_EQ(t.tsc_timestamp, 0u);
    EXPECT_EQ(t.system_time, 0u);
    EXPECT_EQ(t.tsc_to_system_mul, 1u << 31);  // 2 GHz: half a nanosecond per tick
    EXPECT_EQ(t.tsc_shift, 0);
}
