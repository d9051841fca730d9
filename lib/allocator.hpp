// The one allocation interface shared by freestanding code (kernel heap, Dom0
// heap) and host code (tests back it with malloc and can inject failures).
// Code that allocates takes an Allocator& so allocation is never hidden.
#pragma once

#include <cstddef>

namespace lib {

class Allocator {
public:
    // Returns nullptr when out of memory; `align` is a power of two.
    virtual void* allocate(size_t size, size_t align = alignof(max_align_t)) = 0;
    virtual void deallocate(void* p, size_t size) = 0;

protected:
    ~Allocator() = default;
};

}  // namespace lib
