// Memory-map normalisation and range reservation.
#include <gtest/gtest.h>

#include <vector>

#include "hv/mem/memmap.hpp"
#include "tests/unit/host_log.hpp"

using hv::mem::MemRegion;
using hv::mem::MemType;
using hv::mem::normalize_memmap;
using hv::mem::reserve_range;
using hv::mem::usable_bytes;

namespace {

constexpr MemType U = MemType::usable, R = MemType::reserved, A = MemType::acpi_reclaimable,
                  N = MemType::acpi_nvs, B = MemType::bad;

class MemmapTest : public ::testing::Test {
protected:
    void SetUp() override { test::log_clear(); }
};

// Normalizes `in` in an array of `cap` entries and returns the result.
std::vector<MemRegion> norm(std::vector<MemRegion> in, size_t cap = 64)
{
    std::vector<MemRegion> a(cap);
    for (size_t i = 0; i < in.size(); ++i) a[i] = in[i];
    size_t n = normalize_memmap(a.data(), in.size(), cap);
    EXPECT_LE(n, cap);
    a.resize(n);
    return a;
}

bool same(const std::vector<MemRegion>& got, const std::vector<MemRegion>& want)
{
    if (got.size() != want.size()) return false;
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i].base != want[i].base || got[i].size != want[i].size || got[i].type != want[i].type) return false;
    return true;
}

std::string dump(const std::vector<MemRegion>& v)
{
    std::string s;
    char b[80];
    for (auto& r : v) {
        snprintf(b, sizeof b, "[%#lx+%#lx t%d] ", r.base, r.size, int(r.type));
        s += b;
    }
    return s;
}

#define EXPECT_MAP(got, ...)                                      \
    do {                                                          \
        auto g_ = (got);                                          \
        std::vector<MemRegion> w_ = __VA_ARGS__;                  \
        EXPECT_TRUE(same(g_, w_)) << "got " << dump(g_) << "\nwant " << dump(w_); \
    } while (0)

// The invariants every normalized map must satisfy.
void check_invariants(const std::vector<MemRegion>& m)
{
    for (size_t i = 0; i < m.size(); ++i) {
        EXPECT_NE(m[i].size, 0u);
        if (m[i].type == U) {
            EXPECT_EQ(m[i].base % 4096, 0u);
            EXPECT_EQ(m[i].size % 4096, 0u);
        }
        if (i > 0) {
            EXPECT_LE(m[i - 1].base + m[i - 1].size, m[i].base) << "overlap at " << i;
            if (m[i - 1].base + m[i - 1].size == m[i].base) {
                EXPECT_NE(m[i - 1].type, m[i].type) << "unmerged " << i;
            }
        }
    }
}

TEST_F(MemmapTest, AlreadyCleanMapUnchanged)
{
    std::vector<MemRegion> m = {{0, 0x9f000, U}, {0x9f000, 0x1000, R}, {0x100000, 0x7ff00000, U}};
    EXPECT_MAP(norm(m), {{0, 0x9f000, U}, {0x9f000, 0x1000, R}, {0x100000, 0x7ff00000, U}});
}

// Unsorted input, holes kept as holes.
TEST_F(MemmapTest, SortsAndKeepsHoles)
{
    auto m = norm({{0x100000000, 0x40000000, U}, {0x100000, 0x1000000, U}, {0, 0x9f000, U}, {0xfec00000, 0x1000, R}});
    EXPECT_MAP(m, {{0, 0x9f000, U}, {0x100000, 0x1000000, U}, {0xfec00000, 0x1000, R}, {0x100000000, 0x40000000, U}});
}

// Adjacent and overlapping regions of one type merge; different types
// next to each other do not.
TEST_F(MemmapTest, MergesEqualTypes)
{
    auto m = norm({{0x100000, 0x100000, U}, {0x200000, 0x100000, U}, {0x280000, 0x100000, U}, {0x380000, 0x1000, R},
                   {0x381000, 0x1000, R}, {0x382000, 0x1000, A}});
    EXPECT_MAP(m, {{0x100000, 0x280000, U}, {0x380000, 0x2000, R}, {0x382000, 0x1000, A}});
}

// Reserved inside usable: usable is split around it.
TEST_F(MemmapTest, ReservedInsideUsableSplits)
{
    auto m = norm({{0x100000, 0x1000000, U}, {0x400000, 0x2000, R}});
    EXPECT_MAP(m, {{0x100000, 0x300000, U}, {0x400000, 0x2000, R}, {0x402000, 0xcfe000, U}});
}

// Usable inside reserved: the usable part vanishes.
TEST_F(MemmapTest, UsableInsideReservedVanishes)
{
    EXPECT_MAP(norm({{0xe0000, 0x20000, R}, {0xf0000, 0x1000, U}}), {{0xe0000, 0x20000, R}});
}

// The full ranking bad > reserved > acpi_nvs > acpi_reclaimable > usable,
// with partial overlaps at both ends and one range covered by several.
TEST_F(MemmapTest, MoreRestrictiveTypeWins)
{
    auto m = norm({{0x0, 0x10000, U}, {0x8000, 0x10000, A}, {0xc000, 0x10000, N}, {0xe000, 0x1000, R},
                   {0xe800, 0x100, B}});
    EXPECT_MAP(m, {{0x0, 0x8000, U},
                   {0x8000, 0x4000, A},
                   {0xc000, 0x2000, N},
                   {0xe000, 0x800, R},
                   {0xe800, 0x100, B},
                   {0xe900, 0x700, R},
                   {0xf000, 0xd000, N}});
    check_invariants(m);
    // Order of the input does not matter.
    auto r = norm({{0xe800, 0x100, B}, {0xe000, 0x1000, R}, {0xc000, 0x10000, N}, {0x8000, 0x10000, A}, {0x0, 0x10000, U}});
    EXPECT_TRUE(same(m, r)) << dump(r);
}

// Same base, different types; identical duplicates; a region fully covering
// several others of a lower type.
TEST_F(MemmapTest, SameBaseAndDuplicates)
{
    EXPECT_MAP(norm({{0x100000, 0x100000, U}, {0x100000, 0x1000, R}}), {{0x100000, 0x1000, R}, {0x101000, 0xff000, U}});
    EXPECT_MAP(norm({{0x100000, 0x1000, R}, {0x100000, 0x100000, U}}), {{0x100000, 0x1000, R}, {0x101000, 0xff000, U}});
    EXPECT_MAP(norm({{0x100000, 0x1000, U}, {0x100000, 0x1000, U}}), {{0x100000, 0x1000, U}});
    EXPECT_MAP(norm({{0x100000, 0x1000, U}, {0x103000, 0x1000, U}, {0x0, 0x200000, B}}), {{0, 0x200000, B}});
}

// Usable edges that are not 4 KiB aligned shrink inward; slivers vanish;
// reserved regions keep their exact bounds.
TEST_F(MemmapTest, UnalignedUsableShrinks)
{
    auto m = norm({{0x9fc00 - 0x9fc00 + 0x400, 0x9f800, U}, {0x100800, 0x1000, U}, {0x200800, 0xfff000, U},
                   {0x9fc00, 0x400, R}});
    EXPECT_MAP(m, {{0x1000, 0x9e000, U}, {0x9fc00, 0x400, R}, {0x201000, 0xffe000, U}});
    // A usable region cut by an unaligned reserved one loses the partial page.
    EXPECT_MAP(norm({{0x100000, 0x10000, U}, {0x104100, 0x100, R}}),
               {{0x100000, 0x4000, U}, {0x104100, 0x100, R}, {0x105000, 0xb000, U}});
}

// Bad input: zero-length regions, a region running past 2^64, an unknown
// type value (treated as reserved).
TEST_F(MemmapTest, DegenerateInput)
{
    auto m = norm({{0x1000, 0, U}, {0x100000, 0x1000, U}, {0xfffffffffff00000ull, 0x200000, R},
                   {0x200000, 0x1000, MemType(9)}});
    EXPECT_MAP(m, {{0x100000, 0x1000, U}, {0x200000, 0x1000, R}, {0xfffffffffff00000ull, 0xfffff, R}});
    EXPECT_TRUE(test::log_contains("runs past 2^64, clipped"));
    EXPECT_EQ(norm({}).size(), 0u);
    EXPECT_MAP(norm({{0, 0, U}}), {});
}

// Bad input: count larger than cap.
TEST_F(MemmapTest, CountAboveCapIsClamped)
{
    std::vector<MemRegion> a = {{0x100000, 0x1000, U}, {0x300000, 0x1000, U}, {0x500000, 0x1000, U}};
    size_t n = normalize_memmap(a.data(), 3, 2);
    EXPECT_EQ(n, 2u);
    EXPECT_TRUE(test::log_contains("3 regions given for an array of 2"));
}

// Cap exhaustion: each reserved hole splits a usable region, so the result
// needs more entries than the array has. The smallest usable pieces go.
TEST_F(MemmapTest, CapExhaustionDropsSmallestUsable)
{
    // One big usable region with three reserved holes -> 7 pieces; cap 5.
    std::vector<MemRegion> a(5);
    a[0] = {0x100000, 0x1000000, U};          // [1M, 17M)
    a[1] = {0x102000, 0x1000, R};             // leaves an 8 KiB piece before it
    a[2] = {0x200000, 0x1000, R};             // then ~1 MiB
    a[3] = {0x800000, 0x1000, R};             // then 6 MiB, then 8 MiB
    size_t n = normalize_memmap(a.data(), 4, 5);
    ASSERT_LE(n, 5u);
    std::vector<MemRegion> m(a.begin(), a.begin() + n);
    check_invariants(m);
    EXPECT_TRUE(test::log_contains("more than 5 regions after splitting overlaps"));
    // 7 pieces for 5 slots: reserved regions all survive; the two smallest
    // usable pieces (8 KiB before the first hole, ~1 MiB after it) go.
    int reserved = 0;
    for (auto& r : m) {
        if (r.type == R) ++reserved;
        EXPECT_FALSE(r.type == U && r.size < 0x100000) << dump(m);
    }
    EXPECT_EQ(reserved, 3);
    EXPECT_EQ(usable_bytes(m.data(), m.size()), 0x1000000u - 0x3000 - 0x2000 - 0xfd000);
}

// Cap exhaustion with nothing usable to drop: the smallest region goes,
// never an out-of-bounds write (ASan watches the exact-size array).
TEST_F(MemmapTest, CapExhaustionWithoutUsable)
{
    std::vector<MemRegion> a = {{0x0, 0x100000, A}, {0x1000, 0x10, R}, {0x80000, 0x10, B}};
    size_t n = normalize_memmap(a.data(), 3, 3);
    ASSERT_LE(n, 3u);
    std::vector<MemRegion> m(a.begin(), a.begin() + n);
    check_invariants(m);
    EXPECT_TRUE(test::log_contains("more than 3 regions"));
}

// Many overlapping random-ish regions, normalized in a roomy and in a
// tight array: the invariants hold, a second normalisation changes nothing,
// and no byte becomes usable that was not usable (and uncovered) before.
TEST_F(MemmapTest, InvariantsOnPseudoRandomInput)
{
    uint64_t seed = 12345;
    auto next = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return seed >> 33;
    };
    for (int round = 0; round < 200; ++round) {
        std::vector<MemRegion> in;
        int count = 1 + int(next() % 20);
        for (int i = 0; i < count; ++i)
            in.push_back({(next() % 0x400) << 12 | (next() % 3 == 0 ? next() % 0x1000 : 0), (1 + next() % 0x80) << 12,
                          MemType(1 + next() % 5)});
        // Tight arrays force the drop path; the result must still be sound.
        auto tight = norm(in, in.size());
        check_invariants(tight);
        auto m = norm(in, 64);
        check_invariants(m);
        EXPECT_LE(usable_bytes(tight.data(), tight.size()), usable_bytes(m.data(), m.size()));
        auto again = norm(m, 64);
        EXPECT_TRUE(same(m, again)) << dump(m) << "\n" << dump(again);
        // Every usable byte in the output was usable in the input and not
        // covered by anything more restrictive.
        for (auto& r : tight) m.push_back(r);
        for (auto& r : m) {
            if (r.type != U) continue;
            for (uint64_t p = r.base; p < r.base + r.size; p += 0x800) {
                bool usable = false, blocked = false;
                for (auto& i : in) {
                    if (p < i.base || p >= i.base + i.size) continue;
                    if (i.type == U) usable = true;
                    else blocked = true;
                }
                ASSERT_TRUE(usable && !blocked) << std::hex << p << " " << dump(in);
            }
        }
    }
}

TEST_F(MemmapTest, UsableBytes)
{
    std::vector<MemRegion> m = {{0, 0x9f000, U}, {0x9f000, 0x1000, R}, {0x100000, 0x100000, U}, {0x200000, 0x1000, N}};
    EXPECT_EQ(usable_bytes(m.data(), m.size()), 0x9f000u + 0x100000u);
    EXPECT_EQ(usable_bytes(m.data(), 0), 0u);
}

// reserve_range: in the middle (split in three), at an edge, across a
// hole and a reserved region, merging with reserved neighbours, widening to
// whole frames.
TEST_F(MemmapTest, ReserveRangeSplitsAndMerges)
{
    std::vector<MemRegion> a(16);
    a[0] = {0x0, 0x9f000, U};
    a[1] = {0x9f000, 0x1000, R};
    a[2] = {0x100000, 0x7f00000, U};
    a[3] = {0x8000000, 0x1000, R};
    size_t n = 4;

    // Kernel image at [2M, 4M+100): widened to [2M, 4M+4K).
    n = reserve_range(a.data(), n, a.size(), 0x200000, 0x200100).value();
    EXPECT_MAP(std::vector<MemRegion>(a.begin(), a.begin() + n),
               {{0x0, 0x9f000, U},
                {0x9f000, 0x1000, R},
                {0x100000, 0x100000, U},
                {0x200000, 0x201000, R},
                {0x401000, 0x7bff000, U},
                {0x8000000, 0x1000, R}});

    // The end of usable memory up to the reserved region after it: merges.
    n = reserve_range(a.data(), n, a.size(), 0x7fff000, 0x1000).value();
    EXPECT_MAP(std::vector<MemRegion>(a.begin(), a.begin() + n),
               {{0x0, 0x9f000, U},
                {0x9f000, 0x1000, R},
                {0x100000, 0x100000, U},
                {0x200000, 0x201000, R},
                {0x401000, 0x7bfe000, U},
                {0x7fff000, 0x2000, R}});

    // Across low memory, the hole and into the first usable MiB: the hole
    // stays a hole, only usable bytes become reserved.
    n = reserve_range(a.data(), n, a.size(), 0x90000, 0x80000).value();
    EXPECT_MAP(std::vector<MemRegion>(a.begin(), a.begin() + n),
               {{0x0, 0x90000, U},
                {0x90000, 0x10000, R},
                {0x100000, 0x10000, R},
                {0x110000, 0xf0000, U},
                {0x200000, 0x201000, R},
                {0x401000, 0x7bfe000, U},
                {0x7fff000, 0x2000, R}});

    // Touching nothing usable: unchanged.
    size_t before = n;
    n = reserve_range(a.data(), n, a.size(), 0xa0000, 0x10000).value();
    EXPECT_EQ(n, before);
    EXPECT_EQ(reserve_range(a.data(), n, a.size(), 0x500000, 0).value(), n);
    check_invariants(std::vector<MemRegion>(a.begin(), a.begin() + n));
}

// A whole usable region between two reserved ones: the three merge into
// one, so it fits even in a full array.
TEST_F(MemmapTest, ReserveWholeRegionMergesNeighbours)
{
    std::vector<MemRegion> a = {{0x0, 0x1000, R}, {0x1000, 0x1000, U}, {0x2000, 0x1000, R}};
    auto r = reserve_range(a.data(), 3, 3, 0x1000, 0x1000);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, 1u);
    EXPECT_EQ(a[0].base, 0u);
    EXPECT_EQ(a[0].size, 0x3000u);
    EXPECT_EQ(a[0].type, R);
}

// Bad input: the array is full and the reservation needs two more entries:
// Error::out_of_range and the regions are untouched. A range running past
// 2^64 is clipped.
TEST_F(MemmapTest, ReserveRangeCapExceeded)
{
    std::vector<MemRegion> a = {{0x100000, 0x100000, U}, {0x300000, 0x1000, R}};
    auto copy = a;
    auto r = reserve_range(a.data(), 2, 3, 0x180000, 0x1000);
    EXPECT_EQ(r.error(), lib::Error::out_of_range);
    EXPECT_TRUE(same(a, copy));
    EXPECT_TRUE(test::log_contains("needs 4 regions, only 3 fit"));
    // One more slot would be enough when the piece touches an end.
    a.resize(3);
    auto r2 = reserve_range(a.data(), 2, 3, 0x100000, 0x1000);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(*r2, 3u);
    // To the end of the address space.
    std::vector<MemRegion> b = {{0x100000, 0x100000, U}};
    auto r3 = reserve_range(b.data(), 1, 1, 0x100000, ~0ull);
    ASSERT_TRUE(r3.ok());
    EXPECT_EQ(b[0].type, R);
}

// Bad input: a map that was never normalized, with many overlapping usable
// regions containing the range: refused, nothing written out of bounds.
TEST_F(MemmapTest, ReserveRangeOnUnnormalizedMap)
{
    std::vector<MemRegion> a(16);
    for (int i = 0; i < 8; ++i) a[i] = {0x100000, 0x100000, U};
    auto r = reserve_range(a.data(), 8, a.size(), 0x140000, 0x1000);
    EXPECT_EQ(r.error(), lib::Error::invalid);
    EXPECT_TRUE(test::log_contains("normalize it first"));
    for (int i = 0; i < 8; ++i) EXPECT_EQ(a[i].type, U);
}

}  // namespace
