// Read-only access to physical memory for portable parsers (Multiboot info,
// ACPI tables). The kernel backs it with its identity or direct map; host
// tests back it with a buffer, so out-of-range reads are errors, not faults.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lib/result.hpp"

namespace lib {

struct PhysReader {
    // Returns a pointer to `len` readable bytes at physical address `phys`, or
    // nullptr if that range is not readable.
    const void* (*map)(void* ctx, uint64_t phys, size_t len) = nullptr;
    void* ctx = nullptr;

    const void* view(uint64_t phys, size_t len) const
    {
        if (phys + len < phys) return nullptr;  // wraps
        return map(ctx, phys, len);
    }

    template <typename T> Result<T> read(uint64_t phys) const
    {
        const void* p = view(phys, sizeof(T));
        if (!p) return err(Error::out_of_range);
        T v;
        memcpy(&v, p, sizeof(T));
        return v;
    }
};

}  // namespace lib
