// Page-table builder tests against an arena of table frames: large-page use,
// splitting on partial unmap, permissions (W^X, NX off), and rejected input
// (unaligned and non-canonical ranges, double maps, arena exhaustion).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "arch/x86_64/page_table.hpp"

namespace {

struct ArenaEnv {
    static constexpr uint64_t base = 0x10000000;
    std::vector<uint64_t> mem;
    size_t used = 0;
    size_t cap;
    explicit ArenaEnv(size_t tables) : mem(tables * 512, 0), cap(tables) {}
    lib::Result<uint64_t> alloc_table()
    {
        if (used == cap) return lib::err(lib::Error::no_memory);
        return base + (used++) * 4096;
    }
    uint64_t* table(uint64_t phys) { return &mem[(phys - base) / 8]; }
};

using PT = arch::PageTable<ArenaEnv>;
constexpr arch::MapAttr rw{.write = true};
constexpr arch::MapAttr rx{.exec = true};

}  // namespace

TEST(PageTable, UsesLargestPagesAlignmentAllows)
{
    ArenaEnv env(64);
    auto pt = PT::create(env, true, true).value();
    // 1 GiB + 2 MiB + 4 KiB, all aligned: one 1G page, one 2M page, one 4K page.
    ASSERT_TRUE(pt.map(0x40000000, 0x40000000, (1ull << 30) + (2ull << 20) + 4096, rw).ok());
    EXPECT_EQ(pt.translate(0x40000000).value().page_size, 1ull << 30);
    EXPECT_EQ(pt.translate(0x80000000).value().page_size, 2ull << 20);
    EXPECT_EQ(pt.translate(0x80200000).value().page_size, 4096u);
    EXPECT_EQ(pt.translate(0x80200123).value().phys, 0x80200123u);
    EXPECT_EQ(pt.translate(0x80201000).error(), lib::Error::not_found);
}

TEST(PageTable, NoGigabytePagesWhenCpuLacksThem)
{
    ArenaEnv env(64);
    auto pt = PT::create(env, true, false).value();
    ASSERT_TRUE(pt.map(0, 0, 1ull << 30, rw).ok());
    EXPECT_EQ(pt.translate(0x12345678).value().page_size, 2ull << 20);
}

TEST(PageTable, HigherHalfAndPermissions)
{
    ArenaEnv env(64);
    auto pt = PT::create(env, true, true).value();
    uint64_t kva = 0xffffffff80200000ull;
    ASSERT_TRUE(pt.map(kva, 0x200000, 0x3000, rx).ok());
    ASSERT_TRUE(pt.map(kva + 0x3000, 0x203000, 0x1000, rw).ok());
    auto t = pt.translate(kva + 0x10).value();
    EXPECT_EQ(t.phys, 0x200010u);
    EXPECT_TRUE(t.attr.exec);
    EXPECT_FALSE(t.attr.write);
    auto d = pt.translate(kva + 0x3000).value();
    EXPECT_TRUE(d.attr.write);
    EXPECT_FALSE(d.attr.exec);
    // for_each_leaf reports sign-extended addresses and no W+X page.
    int leaves = 0;
    pt.for_each_leaf([&](uint64_t va, uint64_t, uint64_t, arch::MapAttr a) {
        EXPECT_GE(va, kva);
        EXPECT_FALSE(a.write && a.exec);
        ++leaves;
    });
    EXPECT_EQ(leaves, 4);
}

TEST(PageTable, WithoutNxEverythingIsExecutable)
{
    // Bit 63 is reserved when EFER.NXE is off: the builder must not set it.
    ArenaEnv env(16);
    auto pt = PT::create(env, false, false).value();
    ASSERT_TRUE(pt.map(0x1000, 0x1000, 0x1000, rw).ok());
    EXPECT_TRUE(pt.translate(0x1000).value().attr.exec);
}

TEST(PageTable, PartialUnmapSplitsLargePages)
{
    ArenaEnv env(64);
    auto pt = PT::create(env, true, true).value();
    ASSERT_TRUE(pt.map(0, 0, 1ull << 30, rw).ok());
    // Punch a 4 KiB guard hole in the middle of the 1 GiB page.
    ASSERT_TRUE(pt.unmap(0x20001000, 0x1000).ok());
    EXPECT_EQ(pt.translate(0x20001000).error(), lib::Error::not_found);
    auto below = pt.translate(0x20000fff).value();
    EXPECT_EQ(below.phys, 0x20000fffu);
    EXPECT_EQ(below.page_size, 4096u);
    EXPECT_TRUE(below.attr.write);
    EXPECT_EQ(pt.translate(0x20002000).value().phys, 0x20002000u);
    // The rest of the GiB stays in 2 MiB pages.
    EXPECT_EQ(pt.translate(0x30000000).value().page_size, 2ull << 20);
    EXPECT_EQ(pt.translate(0x3fffffff).value().phys, 0x3fffffffu);
}

TEST(PageTable, RejectsBadInput)
{
    ArenaEnv env(16);
    auto pt = PT::create(env, true, true).value();
    EXPECT_EQ(pt.map(0x1001, 0x1000, 0x1000, rw).error(), lib::Error::invalid);  // unaligned va
    EXPECT_EQ(pt.map(0x1000, 0x1000, 0x800, rw).error(), lib::Error::invalid);   // unaligned size
    EXPECT_EQ(pt.map(0x0000800000000000ull, 0, 0x1000, rw).error(), lib::Error::invalid);  // non-canonical
    ASSERT_TRUE(pt.map(0x1000, 0x1000, 0x1000, rw).ok());
    EXPECT_EQ(pt.map(0x1000, 0x5000, 0x1000, rw).error(), lib::Error::exists);  // already mapped
    EXPECT_EQ(pt.translate(0x1000).value().phys, 0x1000u);                     // unchanged
}

TEST(PageTable, ArenaExhaustionIsAnError)
{
    ArenaEnv env(3);  // root + PDPT + PD, no room for a PT
    auto pt = PT::create(env, true, true).value();
    EXPECT_EQ(pt.map(0x1000, 0x1000, 0x1000, rw).error(), lib::Error::no_memory);
}

TEST(NestedPageTable, NptLeavesAreUserAccessible)
{
    // AMD nested paging treats every guest access as a user access (APM Vol. 2
    // 15.25.5): leaves must carry U even when the caller does not ask for it.
    ArenaEnv env(16);
    auto npt = arch::PageTable<ArenaEnv, arch::NptFormat>::create(env, true, false).value();
    ASSERT_TRUE(npt.map(0, 0x40000000, 2ull << 20, rw).ok());
    auto t = npt.translate(0x1234).value();
    EXPECT_TRUE(t.attr.user);
    EXPECT_EQ(t.phys, 0x40001234u);
    EXPECT_EQ(t.page_size, 2ull << 20);
}

TEST(NestedPageTable, EptEntryBitsAndSplit)
{
    ArenaEnv env(16);
    auto eptt = arch::PageTable<ArenaEnv, arch::EptFormat>::create(env, true, false).value();
    ASSERT_TRUE(eptt.map(0, 0x80000000, 2ull << 20, {.write = true, .exec = true}).ok());
    ASSERT_TRUE(eptt.map(0xfee00000, 0xfee00000, 0x1000, {.write = true, .uncached = true}).ok());
    // Raw entries: R/W/X in bits 2:0, WB (6) memory type in bits 5:3, PS in bit 7.
    uint64_t* pml4 = env.table(eptt.root());
    EXPECT_EQ(pml4[0] & 7, 7u);  // non-leaf: full access
    uint64_t* pdpt = env.table(pml4[0] & arch::pte::addr_mask);
    uint64_t* pd = env.table(pdpt[0] & arch::pte::addr_mask);
    EXPECT_EQ(pd[0], 0x80000000u | 7u | (6u << 3) | (1u << 7));
    auto mmio = eptt.translate(0xfee00010).value();
    EXPECT_TRUE(mmio.attr.uncached);
    EXPECT_FALSE(mmio.attr.exec);
    // Punch a hole: the 2 MiB page splits into 4 KiB pages with the same type.
    ASSERT_TRUE(eptt.unmap(0x5000, 0x1000).ok());
    EXPECT_EQ(eptt.translate(0x5000).error(), lib::Error::not_found);
    auto after = eptt.translate(0x6000).value();
    EXPECT_EQ(after.phys, 0x80006000u);
    EXPECT_EQ(after.page_size, 4096u);
    EXPECT_TRUE(after.attr.exec);
    EXPECT_FALSE(after.attr.uncached);
}

TEST(PageTable, ForEachTableVisitsEveryFrameOnce)
{
    ArenaEnv env(64);
    auto pt = PT::create(env, true, false).value();
    ASSERT_TRUE(pt.map(0, 0, 4ull << 20, rw).ok());          // PDPT + PD (2M pages)
    ASSERT_TRUE(pt.map(0x40000000, 0, 0x2000, rw).ok());     // PD + PT
    std::vector<uint64_t> seen;
    pt.for_each_table([&](uint64_t p) { seen.push_back(p); });
    EXPECT_EQ(seen.size(), env.used);
    EXPECT_EQ(seen.back(), pt.root());  // root last
}
