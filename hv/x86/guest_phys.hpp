// Access to guest RAM by guest-physical address, as the emulator and the page
// walker need it. The core backs it with the domain's p2m; host tests back it
// with a buffer. Addresses that are not RAM (MMIO, unmapped) answer
// Error::not_found, which the emulator takes to mean "device memory".
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace hv::x86 {

struct GuestPhys {
    void* ctx = nullptr;
    lib::Status (*read)(void* ctx, uint64_t gpa, void* dst, size_t len) = nullptr;
    lib::Status (*write)(void* ctx, uint64_t gpa, const void* src, size_t len) = nullptr;
    // Optional: atomically replace the 8-byte paging entry at `gpa` if it
    // still holds `expected` (used to set Accessed/Dirty bits). When absent
    // the walker leaves A/D bits alone.
    bool (*cmpxchg64)(void* ctx, uint64_t gpa, uint64_t expected, uint64_t desired) = nullptr;
    // Same for 4-byte entries (32-bit paging). Optional.
    bool (*cmpxchg32)(void* ctx, uint64_t gpa, uint32_t expected, uint32_t desired) = nullptr;
};

}  // namespace hv::x86
