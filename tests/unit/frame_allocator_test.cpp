// Physical frame allocator: zones, alignment, `below`, NUMA preference,
// bad frees, accounting, and construction from a memory map.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "hv/mem/frame_allocator.hpp"
#include "tests/unit/host_log.hpp"

using hv::mem::any_node;
using hv::mem::FrameAllocator;
using hv::mem::FrameRequest;
using hv::mem::MemRegion;
using hv::mem::MemType;
using hv::mem::NumaRange;
using lib::Error;

namespace {

// The kernel keeps its allocator in a global: it must need no constructor
// code at run time.
constinit FrameAllocator global_allocator;

constexpr uint64_t K4 = 4096;
constexpr uint64_t MiB = 1ull << 20;

// Bitmap storage for zones added by hand, exactly sized (ASan checks it).
struct Meta {
    std::vector<std::unique_ptr<uint64_t[]>> blocks;
    void* get(uint64_t frames)
    {
        blocks.emplace_back(new uint64_t[FrameAllocator::metadata_bytes(frames) / 8]);
        return blocks.back().get();
    }
};

class FrameAllocatorTest : public ::testing::Test {
protected:
    void SetUp() override { test::log_clear(); }
    FrameAllocator fa;
    Meta meta;
    void zone(uint64_t base, uint64_t frames, uint32_t node = 0)
    {
        ASSERT_TRUE(fa.add_zone(base, frames, node, meta.get(frames)).ok());
    }
};

TEST_F(FrameAllocatorTest, MetadataSize)
{
    static_assert(FrameAllocator::metadata_bytes(1) == 8);
    static_assert(FrameAllocator::metadata_bytes(64) == 8);
    static_assert(FrameAllocator::metadata_bytes(65) == 16);
    static_assert(FrameAllocator::metadata_bytes(1ull << 20) == 128 * 1024);  // 4 GiB of frames
    EXPECT_EQ(global_allocator.zone_count(), 0u);
    EXPECT_EQ(global_allocator.free_frames(), 0u);
}

// Bad input to add_zone: unaligned base, no frames, null or misaligned
// metadata, a zone wrapping past 2^64, overlap with an existing zone, and
// more than max_zones zones.
TEST_F(FrameAllocatorTest, AddZoneValidation)
{
    uint64_t buf[4] = {};
    EXPECT_EQ(fa.add_zone(0x100800, 4, 0, buf).error(), Error::invalid);
    EXPECT_EQ(fa.add_zone(0x100000, 0, 0, buf).error(), Error::invalid);
    EXPECT_EQ(fa.add_zone(0x100000, 4, 0, nullptr).error(), Error::invalid);
    EXPECT_EQ(fa.add_zone(0x100000, 4, 0, reinterpret_cast<char*>(buf) + 4).error(), Error::invalid);
    EXPECT_EQ(fa.add_zone(0xfffffffffffff000ull, 2, 0, buf).error(), Error::invalid);
    zone(0x100000, 16);
    EXPECT_EQ(fa.add_zone(0x10f000, 4, 0, buf).error(), Error::exists);
    EXPECT_EQ(fa.add_zone(0xff000, 2, 0, buf).error(), Error::exists);
    EXPECT_EQ(fa.zone_count(), 1u);
    for (size_t i = 1; i < FrameAllocator::max_zones; ++i) zone(0x1000000 * (i + 1), 1);
    EXPECT_EQ(fa.add_zone(0x100000000, 1, 0, buf).error(), Error::out_of_range);
    EXPECT_EQ(fa.zone_count(), FrameAllocator::max_zones);
    EXPECT_EQ(fa.total_frames(), 16u + 63u);
}

TEST_F(FrameAllocatorTest, SequentialAllocAndFree)
{
    zone(0x200000, 100);
    EXPECT_EQ(fa.free_frames(), 100u);
    std::vector<uint64_t> got;
    for (int i = 0; i < 100; ++i) got.push_back(fa.alloc().value());
    for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], 0x200000 + i * K4);
    EXPECT_EQ(fa.free_frames(), 0u);
    EXPECT_EQ(fa.alloc().error(), Error::no_memory);  // exhaustion
    ASSERT_TRUE(fa.free(got[10]).ok());
    ASSERT_TRUE(fa.free(got[50], 3).ok());
    EXPECT_EQ(fa.free_frames(), 4u);
    EXPECT_FALSE(fa.is_allocated(got[10]));
    EXPECT_TRUE(fa.is_allocated(got[11]));
    // Next-fit: the hint is past the end, so the search wraps to the lowest hole.
    EXPECT_EQ(fa.alloc().value(), got[10]);
    EXPECT_EQ(fa.alloc({.count = 3}).value(), got[50]);
    EXPECT_EQ(fa.free_frames(), 0u);
}

// Next-fit keeps going forward after a free behind the hint.
TEST_F(FrameAllocatorTest, NextFitDoesNotReuseImmediately)
{
    zone(0x200000, 10);
    uint64_t a = fa.alloc().value();
    uint64_t b = fa.alloc().value();
    ASSERT_TRUE(fa.free(a).ok());
    EXPECT_EQ(fa.alloc().value(), b + K4);
    (void)b;
}

// Alignment is of the physical address, also when the zone starts at an odd
// frame; bad requests (count 0, align 0 or not a power of two) are invalid.
TEST_F(FrameAllocatorTest, Alignment)
{
    zone(0x1003000, 2048);  // starts 3 frames past a 16 MiB boundary
    auto r = fa.alloc({.count = 1, .align = 512});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r % (2 * MiB), 0u);
    EXPECT_EQ(*r, 0x1200000u);
    auto r16 = fa.alloc({.count = 16, .align = 16});
    ASSERT_TRUE(r16.ok());
    EXPECT_EQ(*r16 % (16 * K4), 0u);
    for (int i = 0; i < 16; ++i) EXPECT_TRUE(fa.is_allocated(*r16 + i * K4));
    EXPECT_EQ(fa.alloc({.count = 0}).error(), Error::invalid);
    EXPECT_EQ(fa.alloc({.count = 1, .align = 0}).error(), Error::invalid);
    EXPECT_EQ(fa.alloc({.count = 1, .align = 3}).error(), Error::invalid);
    // An alignment larger than the address space: nothing fits, no overflow.
    EXPECT_EQ(fa.alloc({.count = 1, .align = size_t(1) << 62}).error(), Error::no_memory);
    EXPECT_EQ(fa.free_frames(), 2048u - 17u);
}

// `below`: every frame of the run lies below the limit; a limit below every
// zone fails; a limit inside the only free run restricts it.
TEST_F(FrameAllocatorTest, BelowLimit)
{
    zone(0xfff00000, 512);  // [4G - 1M, 4G + 1M)
    auto r = fa.alloc({.count = 256, .below = 1ull << 32});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r + 256 * K4, 1ull << 32);
    EXPECT_EQ(fa.alloc({.count = 1, .below = 1ull << 32}).error(), Error::no_memory);
    EXPECT_EQ(fa.alloc({.count = 1, .below = 0x1000}).error(), Error::no_memory);
    // Just one frame's worth above the zone base: exactly the first frame... taken.
    EXPECT_EQ(fa.alloc({.count = 1, .below = 0xfff00000 + K4 + 100}).error(), Error::no_memory);
    EXPECT_EQ(fa.alloc().value(), 1ull << 32);
}

// Runs that span bitmap words and a whole zone; a run exactly filling the
// zone; fragmentation defeating a large run.
TEST_F(FrameAllocatorTest, ContiguousRuns)
{
    zone(0x400000, 64 * 3 + 5);
    auto all = fa.alloc({.count = 64 * 3 + 5});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, 0x400000u);
    EXPECT_EQ(fa.free_frames(), 0u);
    EXPECT_EQ(fa.alloc().error(), Error::no_memory);
    ASSERT_TRUE(fa.free(*all, 64 * 3 + 5).ok());

    // Holes: keep frames 60 and 130 in use. Free runs: 0..59 (60 frames),
    // 61..129 (69), 131..196 (66). Next-fit takes the first run that fits.
    ASSERT_TRUE(fa.reserve(0x400000 + 60 * K4, 1).ok());
    ASSERT_TRUE(fa.reserve(0x400000 + 130 * K4, 1).ok());
    EXPECT_EQ(fa.alloc({.count = 70}).error(), Error::no_memory);
    EXPECT_EQ(fa.alloc({.count = 67}).value(), 0x400000 + 61 * K4);
    EXPECT_EQ(fa.alloc({.count = 66}).value(), 0x400000 + 131 * K4);  // skips the 2 left at 128
    EXPECT_EQ(fa.alloc({.count = 60}).value(), 0x400000u);             // wraps to the start
    EXPECT_EQ(fa.alloc({.count = 2}).value(), 0x400000 + 128 * K4);
    EXPECT_EQ(fa.free_frames(), 0u);
}

// A run never spans two zones, even adjacent ones.
TEST_F(FrameAllocatorTest, RunsStayInsideOneZone)
{
    zone(0x100000, 8);
    zone(0x108000, 8);
    EXPECT_EQ(fa.alloc({.count = 9}).error(), Error::no_memory);
    EXPECT_EQ(fa.alloc({.count = 8}).value(), 0x100000u);
    EXPECT_EQ(fa.alloc({.count = 8}).value(), 0x108000u);
}

TEST_F(FrameAllocatorTest, NodePreference)
{
    zone(0x100000, 16, 0);
    zone(0x40000000, 16, 1);
    zone(0x80000000, 16, 1);
    zone(0xc0000000, 8, 3);
    EXPECT_EQ(fa.node_count(), 3u);
    EXPECT_EQ(fa.total_frames(1), 32u);
    EXPECT_EQ(fa.total_frames(2), 0u);
    EXPECT_EQ(fa.alloc({.node = 1}).value(), 0x40000000u);
    EXPECT_EQ(fa.alloc({.node = 3}).value(), 0xc0000000u);
    EXPECT_EQ(fa.alloc().value(), 0x100000u);  // any node: lowest zone first
    // Node 1 exhausted: strict fails, non-strict falls back to other nodes.
    ASSERT_TRUE(fa.alloc({.count = 15, .node = 1}).ok());
    ASSERT_TRUE(fa.alloc({.count = 16, .node = 1}).ok());
    EXPECT_EQ(fa.free_frames(1), 0u);
    EXPECT_EQ(fa.alloc({.node = 1, .node_strict = true}).error(), Error::no_memory);
    auto r = fa.alloc({.node = 1});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 0x101000u);
    // An unknown node: strict fails, otherwise anything.
    EXPECT_EQ(fa.alloc({.node = 9, .node_strict = true}).error(), Error::no_memory);
    EXPECT_TRUE(fa.alloc({.node = 9}).ok());
    EXPECT_EQ(fa.free_frames(0), 16u - 3u);
    EXPECT_EQ(fa.free_frames(3), 7u);
    EXPECT_EQ(fa.free_frames(), 13u + 7u);
}

// Bad input to free: double free (whole and partial), an address in no
// zone, a count running past the zone end, an unaligned address, count 0.
// Each is Error::invalid with a warning and leaves the state unchanged.
TEST_F(FrameAllocatorTest, BadFreesRejectedWithoutStateChange)
{
    zone(0x100000, 64);
    zone(0x200000, 64);
    uint64_t a = fa.alloc({.count = 4}).value();
    uint64_t b = fa.alloc().value();
    ASSERT_TRUE(fa.free(a + K4).ok());  // frame a+1 free now
    uint64_t free_before = fa.free_frames();
    auto snapshot = [&] {
        std::vector<bool> v;
        for (uint64_t p = 0x100000; p < 0x240000; p += K4) v.push_back(fa.is_allocated(p));
        return v;
    };
    auto before = snapshot();

    EXPECT_EQ(fa.free(a + K4).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("double free of frame 0x101000"));
    EXPECT_EQ(fa.free(a, 4).error(), Error::invalid);  // partially free range
    EXPECT_EQ(fa.free(0x5000000).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("free of 0x5000000: not in any zone"));
    EXPECT_EQ(fa.free(0x13f000, 2).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("crosses the end of its zone"));
    EXPECT_EQ(fa.free(b + 8).error(), Error::invalid);
    EXPECT_EQ(fa.free(b, 0).error(), Error::invalid);
    EXPECT_TRUE(test::log_contains("bad arguments"));

    EXPECT_EQ(fa.free_frames(), free_before);
    EXPECT_EQ(snapshot(), before);
    EXPECT_TRUE(fa.free(b).ok());
}

// reserve: marks frames used; overlapping an allocation is busy (and
// changes nothing); outside every zone or past a zone end is invalid.
TEST_F(FrameAllocatorTest, Reserve)
{
    zone(0x100000, 32);
    ASSERT_TRUE(fa.reserve(0x100000, 4).ok());
    EXPECT_EQ(fa.free_frames(), 28u);
    EXPECT_EQ(fa.reserve(0x103000, 2).error(), Error::busy);
    EXPECT_FALSE(fa.is_allocated(0x104000));  // nothing of the failed reserve stuck
    EXPECT_EQ(fa.reserve(0x900000, 1).error(), Error::invalid);
    EXPECT_EQ(fa.reserve(0x11f000, 2).error(), Error::invalid);
    EXPECT_EQ(fa.free_frames(), 28u);
    for (int i = 0; i < 28; ++i) EXPECT_GE(fa.alloc().value(), 0x104000u);
}

// Random alloc/free against a model: no frame is handed out twice, every
// run is inside a zone and aligned, and the free count always matches.
TEST_F(FrameAllocatorTest, RandomAgainstModel)
{
    zone(0x100000, 300, 0);
    zone(0x1000000, 1000, 1);
    zone(0x2001000, 130, 0);
    std::map<uint64_t, size_t> live;  // base -> count
    std::set<uint64_t> used;
    uint64_t seed = 99;
    auto next = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return seed >> 33;
    };
    for (int step = 0; step < 5000; ++step) {
        if (live.empty() || next() % 3) {
            FrameRequest req;
            req.count = 1 + next() % 20;
            req.align = size_t(1) << (next() % 5);
            req.node = next() % 3 == 0 ? any_node : uint32_t(next() % 2);
            req.node_strict = next() % 4 == 0;
            auto r = fa.alloc(req);
            if (!r) {
                EXPECT_EQ(r.error(), Error::no_memory);
                continue;
            }
            EXPECT_EQ(*r % (req.align * K4), 0u);
            for (size_t i = 0; i < req.count; ++i) ASSERT_TRUE(used.insert(*r + i * K4).second) << "double allocation";
            live[*r] = req.count;
        } else {
            auto it = live.begin();
            std::advance(it, next() % live.size());
            ASSERT_TRUE(fa.free(it->first, it->second).ok());
            for (size_t i = 0; i < it->second; ++i) used.erase(it->first + i * K4);
            live.erase(it);
        }
        ASSERT_EQ(fa.free_frames(), 1430u - used.size());
    }
    EXPECT_TRUE(test::log_lines().empty());
}

// ---- init_frame_allocator ------------------------------------------------

// phys_to_virt for the tests: a zero-filled 1 MiB buffer per address asked
// for (enough bitmap for 32 GiB zones), recorded so tests can check which
// addresses the builder used for metadata.
std::map<uint64_t, std::unique_ptr<uint8_t[]>>& meta_buffers()
{
    static std::map<uint64_t, std::unique_ptr<uint8_t[]>> m;
    return m;
}
void* test_phys_to_virt(uint64_t phys)
{
    auto& b = meta_buffers()[phys];
    if (!b) b.reset(new uint8_t[MiB]());
    return b.get();
}

class InitTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        test::log_clear();
        meta_buffers().clear();
    }
    FrameAllocator fa;
};

TEST_F(InitTest, BuildsZonesAboveOneMiB)
{
    MemRegion map[] = {
        {0x0, 0x9f000, MemType::usable},          // below 1 MiB: left out
        {0x9f000, 0x61000, MemType::reserved},
        {0x100000, 0x7f00000, MemType::usable},    // 127 MiB
        {0x8000000, 0x100000, MemType::acpi_nvs},
        {0x100000000, 0x40000000, MemType::usable},  // 1 GiB at 4 GiB
    };
    ASSERT_TRUE(hv::mem::init_frame_allocator(fa, map, 5, nullptr, 0, test_phys_to_virt).ok());
    ASSERT_EQ(fa.zone_count(), 2u);
    auto z0 = fa.zone(0), z1 = fa.zone(1);
    EXPECT_EQ(z0.base, 0x100000u);
    EXPECT_EQ(z0.frames, 0x7f00u);
    EXPECT_EQ(z1.base, 0x100000000u);
    EXPECT_EQ(z1.frames, 0x40000u);
    // Metadata: each zone's bitmap sits in its own first frames, reserved.
    EXPECT_EQ(meta_buffers().size(), 2u);
    EXPECT_TRUE(meta_buffers().count(0x100000));
    EXPECT_TRUE(meta_buffers().count(0x100000000));
    uint64_t meta0 = (FrameAllocator::metadata_bytes(0x7f00) + 4095) / 4096;   // 1 frame
    uint64_t meta1 = (FrameAllocator::metadata_bytes(0x40000) + 4095) / 4096;  // 8 frames
    EXPECT_EQ(meta0, 1u);
    EXPECT_EQ(meta1, 8u);
    EXPECT_EQ(z0.free, 0x7f00u - meta0);
    EXPECT_EQ(z1.free, 0x40000u - meta1);
    EXPECT_TRUE(fa.is_allocated(0x100000));
    EXPECT_FALSE(fa.is_allocated(0x101000));
    EXPECT_TRUE(fa.is_allocated(0x100007000));
    EXPECT_FALSE(fa.is_allocated(0x100008000));
    EXPECT_EQ(fa.alloc().value(), 0x101000u);
    EXPECT_EQ(fa.node_count(), 1u);
    EXPECT_TRUE(test::log_contains("frames: "));
}

// A usable region straddling 1 MiB and with unaligned edges; a zone too
// small for its own bitmap; a region running to 2^64.
TEST_F(InitTest, ClipsAndSkips)
{
    MemRegion map[] = {
        {0x80000, 0x80800, MemType::usable},    // [512K, 1M+2K): 1M..1M+2K only, less than a frame
        {0x200000, 0x1000, MemType::usable},    // one frame: no room beside its bitmap
        {0x300000, 0x2000, MemType::usable},    // two frames: one for the bitmap, one free
        {0x400800, 0x3000, MemType::usable},    // unaligned: [0x401000, 0x403000)
    };
    ASSERT_TRUE(hv::mem::init_frame_allocator(fa, map, 4, nullptr, 0, test_phys_to_virt).ok());
    ASSERT_EQ(fa.zone_count(), 2u);
    EXPECT_EQ(fa.zone(0).base, 0x300000u);
    EXPECT_EQ(fa.zone(1).base, 0x401000u);
    EXPECT_EQ(fa.zone(1).frames, 2u);
    EXPECT_EQ(fa.free_frames(), 2u);
    EXPECT_EQ(fa.alloc().value(), 0x301000u);
}

// NUMA ranges split usable regions; uncovered memory is node 0; an
// unaligned boundary gives the straddling frame to the earlier node.
TEST_F(InitTest, SplitsAtNumaBoundaries)
{
    MemRegion map[] = {
        {0x100000, 0x7ff00000, MemType::usable},  // [1M, 2G)
        {0x100000000, 0x80000000, MemType::usable},  // [4G, 6G)
    };
    NumaRange numa[] = {
        {0x0, 0x40000800, 1},            // node 1 up to 1G + 2K (unaligned)
        {0x40000800, 0x3ffff800, 2},     // node 2 up to 2G
        {0x140000000, 0x40000000, 3},    // node 3 for [5G, 6G); [4G, 5G) uncovered
    };
    ASSERT_TRUE(hv::mem::init_frame_allocator(fa, map, 2, numa, 3, test_phys_to_virt).ok());
    ASSERT_EQ(fa.zone_count(), 4u);
    EXPECT_EQ(fa.zone(0).base, 0x100000u);
    EXPECT_EQ(fa.zone(0).node, 1u);
    EXPECT_EQ(fa.zone(0).base + fa.zone(0).frames * K4, 0x40001000u);
    EXPECT_EQ(fa.zone(1).base, 0x40001000u);
    EXPECT_EQ(fa.zone(1).node, 2u);
    EXPECT_EQ(fa.zone(1).base + fa.zone(1).frames * K4, 0x80000000u);
    EXPECT_EQ(fa.zone(2).base, 0x100000000u);
    EXPECT_EQ(fa.zone(2).node, 0u);
    EXPECT_EQ(fa.zone(2).frames, 0x40000u);
    EXPECT_EQ(fa.zone(3).base, 0x140000000u);
    EXPECT_EQ(fa.zone(3).node, 3u);
    EXPECT_EQ(fa.node_count(), 4u);
    EXPECT_EQ(fa.alloc({.node = 3, .node_strict = true}).value(), 0x140000000u + 8 * K4);
}

// Bad input: nothing usable above 1 MiB -> Error::no_memory; missing
// phys_to_virt -> Error::invalid; more pieces than max_zones -> warning,
// the first 64 kept.
TEST_F(InitTest, FailuresAndZoneLimit)
{
    MemRegion low[] = {{0x1000, 0x9e000, MemType::usable}, {0x100000, 0x1000000, MemType::reserved}};
    EXPECT_EQ(hv::mem::init_frame_allocator(fa, low, 2, nullptr, 0, test_phys_to_virt).error(), Error::no_memory);
    EXPECT_TRUE(test::log_contains("no usable memory above 1 MiB"));
    EXPECT_EQ(hv::mem::init_frame_allocator(fa, low, 2, nullptr, 0, nullptr).error(), Error::invalid);

    std::vector<MemRegion> many;
    for (int i = 0; i < 70; ++i) many.push_back({0x1000000 + uint64_t(i) * 0x100000, 0x10000, MemType::usable});
    ASSERT_TRUE(hv::mem::init_frame_allocator(fa, many.data(), many.size(), nullptr, 0, test_phys_to_virt).ok());
    EXPECT_EQ(fa.zone_count(), FrameAllocator::max_zones);
    EXPECT_TRUE(test::log_contains("more than 64 zones, memory from 0x5000000 on is not used"));
}

}  // namespace
