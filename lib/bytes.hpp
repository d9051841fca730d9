// Unaligned little-endian loads and byte checksums for parsers of firmware and
// loader data. Everything here is bounds-agnostic: callers check lengths first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace lib {

// Copies a trivially copyable T out of possibly unaligned bytes (x86 is
// little-endian, as are all the formats we parse).
template <typename T> inline T load(const void* p)
{
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    __builtin_memcpy(&v, p, sizeof(T));
    return v;
}

template <typename T> inline T load(const void* base, size_t offset)
{
    return load<T>(static_cast<const uint8_t*>(base) + offset);
}

// 8-bit sum of `len` bytes; ACPI tables and the RSDP are valid when it is 0.
inline uint8_t byte_sum(const void* p, size_t len)
{
    const auto* b = static_cast<const uint8_t*>(p);
    uint8_t s = 0;
    for (size_t i = 0; i < len; ++i) s = static_cast<uint8_t>(s + b[i]);
    return s;
}

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

}  // namespace lib
