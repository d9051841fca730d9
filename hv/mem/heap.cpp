#include "hv/mem/heap.hpp"

namespace hv::mem {

size_t Heap::class_index(size_t size)
{
    size_t idx = 0;
    size_t c = min_class;
    while (c < size) {
        c <<= 1;
        ++idx;
    }
    return idx;
}

void* Heap::allocate(size_t size, size_t align)
{
    if (size == 0) size = 1;
    if (align == 0 || (align & (align - 1)) || align > page) {
        ++stats_.failures;
        return nullptr;
    }
    // Size classes are naturally aligned to their size within a page.
    if (size < align) size = align;
    if (size > max_class) {
        if (!source_.alloc_pages || size > (SIZE_MAX - page)) {
            ++stats_.failures;
            return nullptr;
        }
        size_t pages = (size + page - 1) / page;
        void* p = source_.alloc_pages(source_.ctx, pages);
        if (!p) {
            ++stats_.failures;
            return nullptr;
        }
        stats_.pages_held += pages;
        stats_.bytes_in_use += pages * page;
        ++stats_.allocations;
        return p;
    }
    size_t idx = class_index(size);
    size_t csize = min_class << idx;
    if (!free_[idx]) {
        if (!source_.alloc_pages) {
            ++stats_.failures;
            return nullptr;
        }
        auto* pg = static_cast<unsigned char*>(source_.alloc_pages(source_.ctx, 1));
        if (!pg) {
            ++stats_.failures;
            return nullptr;
        }
        ++stats_.pages_held;
        // Thread the new page onto the free list, lowest address first.
        for (size_t off = page; off >= csize; off -= csize) {
            auto* o = reinterpret_cast<FreeObject*>(pg + off - csize);
            o->next = free_[idx];
            free_[idx] = o;
        }
    }
    FreeObject* o = free_[idx];
    free_[idx] = o->next;
    stats_.bytes_in_use += csize;
    ++stats_.allocations;
    return o;
}

void Heap::deallocate(void* p, size_t size)
{
    if (!p) return;
    if (size == 0) size = 1;
    if (size > max_class) {
        size_t pages = (size + page - 1) / page;
        source_.free_pages(source_.ctx, p, pages);
        stats_.pages_held -= pages;
        stats_.bytes_in_use -= pages * page;
        return;
    }
    size_t idx = class_index(size);
    auto* o = static_cast<FreeObject*>(p);
    o->next = free_[idx];
    free_[idx] = o;
    stats_.bytes_in_use -= min_class << idx;
}

}  // namespace hv::mem
