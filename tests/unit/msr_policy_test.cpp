// MSR policy: emulated MSRs' values and write rules; refused writes (reserved
// EFER bits, SVME, LME toggled with paging on, PAT with
// undefined types 2/3/8+, non-zero MCG_STATUS) and unknown MSR numbers (0,
// 0xffffffff, the x2APIC range, Hyper-V range) are #GP with the state unchanged.
#include <gtest/gtest.h>

#include "hv/vcpu/msr_policy.hpp"

using namespace hv;

namespace {
MsrState fresh()
{
    return {.vcpu_id = 1, .host_tsc = 1000, .tsc_offset = 0, .misc_enable = 0, .efer = 0x500,
            .cr0 = 0x80000011, .pat = 0x0007040600070406ull};
}
}  // namespace

TEST(MsrPolicy, TscReadsAndWritesMoveTheOffset)
{
    auto s = fresh();
    uint64_t v;
    ASSERT_TRUE(msr_read(s, msr_index::tsc, v));
    EXPECT_EQ(v, 1000u);
    ASSERT_TRUE(msr_write(s, msr_index::tsc, 5000));
    EXPECT_EQ(s.tsc_offset, 4000u);
    s.host_tsc = 1500;
    ASSERT_TRUE(msr_read(s, msr_index::tsc, v));
    EXPECT_EQ(v, 5500u);
}

TEST(MsrPolicy, EferRules)
{
    auto s = fresh();
    EXPECT_FALSE(msr_write(s, msr_index::efer, 0x500 | (1u << 12)));  // SVME
    EXPECT_FALSE(msr_write(s, msr_index::efer, 0x500 | (1ull << 20)));  // reserved
    EXPECT_FALSE(msr_write(s, msr_index::efer, 0x400));                 // LME off with paging on
    EXPECT_EQ(s.efer, 0x500u);
    ASSERT_TRUE(msr_write(s, msr_index::efer, 0x901));  // + NXE, SCE
    EXPECT_EQ(s.efer, 0xd01u);                          // LMA kept (hardware-owned)
    s = fresh();
    s.cr0 = 0x11;
    s.efer = 0;
    ASSERT_TRUE(msr_write(s, msr_index::efer, 0x100));  // LME with paging off
    EXPECT_EQ(s.efer, 0x100u);
}

TEST(MsrPolicy, Pat)
{
    auto s = fresh();
    EXPECT_FALSE(msr_write(s, msr_index::pat, 0x0202020202020202ull));
    EXPECT_FALSE(msr_write(s, msr_index::pat, 0x0800000000000000ull));
    EXPECT_EQ(s.pat, 0x0007040600070406ull);
    EXPECT_TRUE(msr_write(s, msr_index::pat, 0x0706050407060504ull));
    EXPECT_EQ(s.pat, 0x0706050407060504ull);
}

TEST(MsrPolicy, UnknownMsrsAreGp)
{
    auto s = fresh();
    const auto before = s;
    uint64_t v = 42;
    for (uint32_t m : {0u, 0xffffffffu, 0x802u, 0x40000000u, 0xc0010114u}) {
        EXPECT_FALSE(msr_read(s, m, v)) << m;
        EXPECT_FALSE(msr_write(s, m, 1)) << m;
    }
    EXPECT_FALSE(msr_write(s, msr_index::mcg_status, 1));
    EXPECT_EQ(s.efer, before.efer);
    EXPECT_EQ(s.tsc_offset, before.tsc_offset);
    EXPECT_EQ(v, 42u);
}

// AMD K8's interrupt-pending-message MSR: Linux reads it without a guard on
// family 0Fh to look for C1E; it reads 0 (no C1E) and is not writable.
TEST(MsrPolicy, K8InterruptPendingMessageReadsZero)
{
    auto s = fresh();
    uint64_t v = 42;
    EXPECT_TRUE(msr_read(s, msr_index::k8_int_pending_msg, v));
    EXPECT_EQ(v, 0u);
    EXPECT_FALSE(msr_write(s, msr_index::k8_int_pending_msg, 1));
}
