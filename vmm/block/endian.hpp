// Big-endian field access for on-disk formats (qcow2 and VHD store every
// integer big-endian). Byte-wise so unaligned fields are fine.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm::block {

constexpr uint16_t load_be16(const void* p)
{
    auto* b = static_cast<const uint8_t*>(p);
    return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
constexpr uint32_t load_be32(const void* p)
{
    auto* b = static_cast<const uint8_t*>(p);
    return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
}
constexpr uint64_t load_be64(const void* p)
{
    auto* b = static_cast<const uint8_t*>(p);
    return (uint64_t(load_be32(b)) << 32) | load_be32(b + 4);
}
constexpr void store_be16(void* p, uint16_t v)
{
    auto* b = static_cast<uint8_t*>(p);
    b[0] = uint8_t(v >> 8);
    b[1] = uint8_t(v);
}
constexpr void store_be32(void* p, uint32_t v)
{
    auto* b = static_cast<uint8_t*>(p);
    b[0] = uint8_t(v >> 24);
    b[1] = uint8_t(v >> 16);
    b[2] = uint8_t(v >> 8);
    b[3] = uint8_t(v);
}
constexpr void store_be64(void* p, uint64_t v)
{
    auto* b = static_cast<uint8_t*>(p);
    store_be32(b, uint32_t(v >> 32));
    store_be32(b + 4, uint32_t(v));
}

// A big-endian integer as a struct member, so on-disk layouts are plain
// structs whose sizeof/offsetof can be checked and whose fields read naturally.
template <typename T> struct Be {
    uint8_t raw[sizeof(T)];
    constexpr T get() const
    {
        if constexpr (sizeof(T) == 1) return T(raw[0]);
        else if constexpr (sizeof(T) == 2) return T(load_be16(raw));
        else if constexpr (sizeof(T) == 4) return T(load_be32(raw));
        else return T(load_be64(raw));
    }
    constexpr void set(T v)
    {
        if constexpr (sizeof(T) == 1) raw[0] = uint8_t(v);
        else if constexpr (sizeof(T) == 2) store_be16(raw, uint16_t(v));
        else if constexpr (sizeof(T) == 4) store_be32(raw, uint32_t(v));
        else store_be64(raw, uint64_t(v));
    }
};
using Be16 = Be<uint16_t>;
using Be32 = Be<uint32_t>;
using Be64 = Be<uint64_t>;
static_assert(sizeof(Be64) == 8 && alignof(Be64) == 1);

// Overflow-checked helpers for offsets read from untrusted images.
constexpr bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
constexpr bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
constexpr uint64_t div_round_up(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }
constexpr uint64_t align_up(uint64_t a, uint64_t b) { return div_round_up(a, b) * b; }

}  // namespace vmm::block
