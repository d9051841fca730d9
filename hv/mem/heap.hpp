// Kernel heap: power-of-two size classes (16 B to 2 KiB) carved from whole
// pages, larger requests served as whole pages. Sized frees (the Allocator
// interface passes the size back), so no per-object header. Not locked: the
// kernel wraps it (hv::mem::kernel_heap()). Portable and host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/allocator.hpp"

namespace hv::mem {

struct PageSource {
    void* (*alloc_pages)(void* ctx, size_t pages) = nullptr;  // page-aligned, or nullptr
    void (*free_pages)(void* ctx, void* p, size_t pages) = nullptr;
    void* ctx = nullptr;
};

struct HeapStats {
    size_t bytes_in_use;   // as requested, rounded to the class size
    size_t pages_held;     // pages taken from the page source
    size_t allocations;
    size_t failures;
};

class Heap final : public lib::Allocator {
public:
    static constexpr size_t page = 4096;
    static constexpr size_t min_class = 16;
    static constexpr size_t max_class = 2048;
    static constexpr size_t class_count = 8;

    constexpr Heap() = default;
    void init(PageSource source) { source_ = source; }

    void* allocate(size_t size, size_t align = alignof(max_align_t)) override;
    void deallocate(void* p, size_t size) override;
    HeapStats stats() const { return stats_; }

private:
    struct FreeObject {
        FreeObject* next;
    };
    static size_t class_index(size_t size);

    PageSource source_{};
    FreeObject* free_[class_count] = {};
    HeapStats stats_{};
};

}  // namespace hv::mem
