// An owned, zero-initialised byte buffer taken from a lib::Allocator and given
// back on destruction. Move-only. The block code's only way to hold memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "lib/allocator.hpp"
#include "lib/result.hpp"

namespace vmm::block {

class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& o) : alloc_(o.alloc_), data_(o.data_), size_(o.size_)
    {
        o.data_ = nullptr;
        o.size_ = 0;
    }
    Buffer& operator=(Buffer&& o)
    {
        if (this != &o) {
            reset();
            alloc_ = o.alloc_;
            data_ = o.data_;
            size_ = o.size_;
            o.data_ = nullptr;
            o.size_ = 0;
        }
        return *this;
    }
    ~Buffer() { reset(); }

    // Sector-aligned so it can later be handed to a DMA-capable disk driver.
    static lib::Result<Buffer> make(lib::Allocator& a, size_t size, size_t align = 512)
    {
        Buffer b;
        if (size == 0) size = 1;
        void* p = a.allocate(size, align);
        if (!p) return lib::err(lib::Error::no_memory);
        std::memset(p, 0, size);
        b.alloc_ = &a;
        b.data_ = static_cast<uint8_t*>(p);
        b.size_ = size;
        return b;
    }
    void reset()
    {
        if (data_) alloc_->deallocate(data_, size_);
        data_ = nullptr;
        size_ = 0;
    }
    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    bool empty() const { return data_ == nullptr; }
    template <typename T> T* as() { return reinterpret_cast<T*>(data_); }

private:
    lib::Allocator* alloc_ = nullptr;
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// Constructs a T in memory from `a`; destroy with destroy_in().
template <typename T, typename... Args> T* make_in(lib::Allocator& a, Args&&... args)
{
    void* p = a.allocate(sizeof(T), alignof(T));
    if (!p) return nullptr;
    return new (p) T(std::forward<Args>(args)...);
}
template <typename T> void destroy_in(lib::Allocator& a, T* p)
{
    if (!p) return;
    p->~T();
    a.deallocate(p, sizeof(T));
}

}  // namespace vmm::block
