// Kernel heap on a counting page source: size classes, alignment, large
// allocations, page-source exhaustion, and rejected requests (alignment not a
// power of two, alignment above a page, absurd sizes).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#include "hv/mem/heap.hpp"

namespace {
// Bump-allocating page arena owned by the test; frees are only counted.
struct Pages {
    size_t live = 0;
    size_t limit = 64;
    std::vector<unsigned char> arena = std::vector<unsigned char>(65 * 4096);
    size_t next = 0;
    static void* alloc(void* ctx, size_t n)
    {
        auto* self = static_cast<Pages*>(ctx);
        if (self->live + n > self->limit) return nullptr;
        auto base = (reinterpret_cast<uintptr_t>(self->arena.data()) + 4095) & ~uintptr_t(4095);
        void* p = reinterpret_cast<void*>(base + self->next * 4096);
        self->next += n;
        if (self->next > 64) return nullptr;
        self->live += n;
        return p;
    }
    static void release(void* ctx, void*, size_t n) { static_cast<Pages*>(ctx)->live -= n; }
};
}  // namespace

TEST(Heap, SmallObjectsAreDistinctAlignedAndReused)
{
    Pages pages;
    hv::mem::Heap heap;
    heap.init({Pages::alloc, Pages::release, &pages});
    std::set<void*> seen;
    std::vector<void*> objs;
    for (int i = 0; i < 600; ++i) {
        void* p = heap.allocate(24);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 32, 0u);  // 24 rounds to the 32-byte class
        EXPECT_TRUE(seen.insert(p).second);
        std::memset(p, 0xab, 24);
        objs.push_back(p);
    }
    EXPECT_EQ(pages.live, 5u);  // 128 objects of 32 B per page
    for (void* p : objs) heap.deallocate(p, 24);
    EXPECT_EQ(heap.stats().bytes_in_use, 0u);
    void* again = heap.allocate(20);
    EXPECT_TRUE(seen.count(again));  // reused, no new page
    EXPECT_EQ(pages.live, 5u);
    heap.deallocate(again, 20);
}

TEST(Heap, AlignmentRequests)
{
    Pages pages;
    hv::mem::Heap heap;
    heap.init({Pages::alloc, Pages::release, &pages});
    void* p = heap.allocate(8, 256);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
    heap.deallocate(p, 256);
    EXPECT_EQ(heap.allocate(8, 3), nullptr);     // not a power of two
    EXPECT_EQ(heap.allocate(8, 8192), nullptr);  // above a page
    EXPECT_EQ(heap.stats().failures, 2u);
}

TEST(Heap, LargeAllocationsUseWholePagesAndReturnThem)
{
    Pages pages;
    hv::mem::Heap heap;
    heap.init({Pages::alloc, Pages::release, &pages});
    void* p = heap.allocate(10000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(pages.live, 3u);
    std::memset(p, 1, 10000);
    heap.deallocate(p, 10000);
    EXPECT_EQ(pages.live, 0u);
    EXPECT_EQ(heap.allocate(SIZE_MAX - 10), nullptr);
}

TEST(Heap, ExhaustedPageSourceIsNullNotCrash)
{
    Pages pages;
    pages.limit = 1;
    hv::mem::Heap heap;
    heap.init({Pages::alloc, Pages::release, &pages});
    void* a = heap.allocate(2048);
    void* b = heap.allocate(2048);
    EXPECT_NE(a, nullptr);
    EXPECT_NE(b, nullptr);
    EXPECT_EQ(heap.allocate(2048), nullptr);  // second page refused
    EXPECT_EQ(heap.allocate(5000), nullptr);
    EXPECT_EQ(heap.stats().failures, 2u);
    heap.deallocate(a, 2048);
    heap.deallocate(b, 2048);
}
