// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as GPT headers and
// partition arrays carry it. Table built at compile time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lib {

namespace detail {
struct Crc32Table {
    uint32_t t[256];
    constexpr Crc32Table() : t()
    {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
    }
};
inline constexpr Crc32Table crc32_table{};
}  // namespace detail

// Continues a CRC over more bytes: crc32(b, crc32(a)) == crc32(a + b).
constexpr uint32_t crc32(const void* data, size_t len, uint32_t crc = 0)
{
    const auto* p = static_cast<const uint8_t*>(data);
    crc = ~crc;
    for (size_t i = 0; i < len; ++i) crc = detail::crc32_table.t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

}  // namespace lib
