#include "vmm/net/checksum.hpp"

namespace vmm::net {

uint32_t sum_bytes(const uint8_t* p, size_t len, uint32_t sum, bool odd)
{
    // Accumulate in 64 bits so no carry is lost, fold back to 32 at the end.
    uint64_t s = sum;
    size_t i = 0;
    if (odd && len) {
        s += p[0];  // the low byte of the word the previous run started
        i = 1;
    }
    for (; i + 1 < len; i += 2) s += uint32_t(p[i]) << 8 | p[i + 1];
    if (i < len) s += uint32_t(p[i]) << 8;
    while (s >> 32) s = (s & 0xffffffffull) + (s >> 32);
    return uint32_t(s);
}

uint32_t pseudo_sum_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len)
{
    // RFC 793 3.1: source, destination, zero + protocol, TCP length.
    uint64_t s = sum_bytes(src, 4) + uint64_t(sum_bytes(dst, 4)) + proto + (l4_len & 0xffff) + (l4_len >> 16);
    return fold(s);
}

uint32_t pseudo_sum_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len)
{
    // RFC 8200 8.1: source, destination, 32-bit upper-layer length, 24 zero
    // bits and the next header.
    uint64_t s = sum_bytes(src, 16) + uint64_t(sum_bytes(dst, 16)) + (l4_len & 0xffff) + (l4_len >> 16) + proto;
    return fold(s);
}

}  // namespace vmm::net
