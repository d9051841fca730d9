// The domain's e820 map (vmm/builder/e820): entries for RAM sizes around
// each boundary, and the Multiboot KiB counts derived from it.
#include <gtest/gtest.h>

#include "vmm/builder/e820.hpp"

using namespace vmm::builder;

namespace {
struct Want {
    uint64_t addr, size;
    uint32_t type;
};
void expect_map(uint64_t mem, std::initializer_list<Want> want)
{
    SCOPED_TRACE(mem);
    E820Map m = build_e820(mem, 0);
    ASSERT_EQ(m.count, want.size());
    size_t i = 0;
    for (Want w : want) {
        EXPECT_EQ(m.entries[i].addr, w.addr) << i;
        EXPECT_EQ(m.entries[i].size, w.size) << i;
        EXPECT_EQ(m.entries[i].type, w.type) << i;
        ++i;
    }
}
constexpr uint64_t mib = 1ull << 20;
}  // namespace

TEST(E820, UsualSizes)
{
    for (uint64_t mem : {2 * mib, 16 * mib, 256 * mib, uint64_t(3) << 30})
        expect_map(mem, {{0, 0x9f000, 1}, {0x9f000, 0x61000, 2}, {0x100000, mem - mib, 1}});
}

TEST(E820, SmallAndOddSizes)
{
    expect_map(0, {});
    expect_map(0x80000, {{0, 0x80000, 1}});
    expect_map(0x9f000, {{0, 0x9f000, 1}});
    expect_map(0xc0000, {{0, 0x9f000, 1}, {0x9f000, 0x21000, 2}});
    expect_map(mib, {{0, 0x9f000, 1}, {0x9f000, 0x61000, 2}});
    expect_map(mib + 4096, {{0, 0x9f000, 1}, {0x9f000, 0x61000, 2}, {0x100000, 4096, 1}});
}

TEST(E820, MultibootKib)
{
    E820Map m = build_e820(64 * mib, 0);
    EXPECT_EQ(e820_mem_lower_kib(m), 636u);
    EXPECT_EQ(e820_mem_upper_kib(m), 63u * 1024);
    m = build_e820(6ull << 30, 0);  // clamped at 4 GiB
    EXPECT_EQ(e820_mem_upper_kib(m), 4u * 1024 * 1024 - 1024);
    m = build_e820(0x80000, 0);
    EXPECT_EQ(e820_mem_lower_kib(m), 512u);
    EXPECT_EQ(e820_mem_upper_kib(m), 0u);
}

// RAM past 3 GiB continues at 4 GiB; the PCI hole between is no RAM.
TEST(E820, RamAboveTheHole)
{
    constexpr uint64_t gib = 1ull << 30;
    RamSplit s = split_ram(3 * gib);
    EXPECT_EQ(s.low, 3 * gib);
    EXPECT_EQ(s.high, 0u);
    s = split_ram(5 * gib + 4096);
    EXPECT_EQ(s.low, 3 * gib);
    EXPECT_EQ(s.high, 2 * gib + 4096);

    E820Map m = build_e820(s.low, s.high);
    ASSERT_EQ(m.count, 4u);
    EXPECT_EQ(m.entries[2].addr, 0x100000u);
    EXPECT_EQ(m.entries[2].size, 3 * gib - mib);
    EXPECT_EQ(m.entries[3].addr, 4 * gib);
    EXPECT_EQ(m.entries[3].size, 2 * gib + 4096);
    EXPECT_EQ(m.entries[3].type, e820_type::ram);
    // Multiboot's mem_upper stops at the first hole.
    EXPECT_EQ(e820_mem_upper_kib(m), 3u * 1024 * 1024 - 1024);

    // Ranges: inside either part, across the hole, past the end, overflowing.
    EXPECT_TRUE(s.holds(0, 3 * gib));
    EXPECT_TRUE(s.holds(4 * gib, 2 * gib + 4096));
    EXPECT_TRUE(s.holds(6 * gib, 4096));
    EXPECT_FALSE(s.holds(3 * gib - 4096, 8192));
    EXPECT_FALSE(s.holds(3 * gib, 4096));
    EXPECT_FALSE(s.holds(4 * gib - 1, 2));
    EXPECT_FALSE(s.holds(6 * gib + 1, 4096));
    EXPECT_FALSE(s.holds(~0ull - 10, 20));
    EXPECT_FALSE(split_ram(64 * mib).holds(4 * gib, 1));
}
