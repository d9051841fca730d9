// The Internet checksum (RFC 1071: the ones' complement of the ones'
// complement sum of 16-bit big-endian words) and the TCP/UDP pseudo-header
// sums over IPv4 (RFC 793 3.1, RFC 768) and IPv6 (RFC 8200 8.1), for
// checksum offload and software segmentation. Sums are kept unfolded in 32
// bits between calls and folded once at the end. Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm::net {

// Adds the bytes [p, p+len) to a running sum. `odd` is whether an odd
// number of bytes were summed before (so this run starts in the low byte of
// a word); pass the returned sum and (odd ^ (len & 1)) to the next call.
uint32_t sum_bytes(const uint8_t* p, size_t len, uint32_t sum = 0, bool odd = false);

// Folds a running sum to 16 bits (not complemented).
constexpr uint16_t fold(uint64_t sum)
{
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

// The checksum field value for a run whose running sum is `sum`.
constexpr uint16_t finish(uint64_t sum) { return uint16_t(~fold(sum)); }

// RFC 1071 over one buffer. Over data that holds its own correct checksum
// the result is 0 (that is how a receiver verifies).
inline uint16_t inet_checksum(const uint8_t* p, size_t len) { return finish(sum_bytes(p, len)); }

// Pseudo-header sums (not folded, not complemented): what Linux leaves in
// the checksum field of a CHECKSUM_PARTIAL packet, and what a device adds to
// the sum of the transport header and payload. `l4_len` is the TCP or UDP
// length (header + data). Addresses are in network byte order.
uint32_t pseudo_sum_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t l4_len);
uint32_t pseudo_sum_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t l4_len);

}  // namespace vmm::net
