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
    E820Map m = build_e820(mem);
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
    E820Map m = build_e820(64 * mib);
    EXPECT_EQ(e820_mem_lower_kib(m), 636u);
    EXPECT_EQ(e820_mem_upper_kib(m), 63u * 1024);
    m = build_e820(6ull << 30);  // clamped at 4 GiB
    EXPECT_EQ(e820_mem_upper_kib(m), 4u * 1024 * 1024 - 1024);
    m = build_e820(0x80000);
    EXPECT_EQ(e820_mem_lower_kib(m), 512u);
    EXPECT_EQ(e820_mem_upper_kib(m), 0u);
}
