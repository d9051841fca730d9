// An Ethernet frame as it crosses the bridge: a scatter list pointing into
// the sender's memory (a guest's transmit buffers, no copy made) and the
// offload state that travels with it (virtio 1.2 5.1.6.2: a partial
// checksum to complete, a GSO packet to segment, or a checksum already
// verified). Receivers copy out of the spans once, straight into their own
// buffers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm::net {

inline constexpr size_t eth_hlen = 14;
inline constexpr size_t eth_alen = 6;
// Largest frame accepted without GSO: 1500-byte MTU, Ethernet header and
// one VLAN tag (the FCS is never carried).
inline constexpr uint32_t max_plain_frame = 1500 + eth_hlen + 4;
// Largest GSO frame: Linux's GSO_MAX_SIZE (64 KiB) of IP packet plus headers.
inline constexpr uint32_t max_gso_frame = 65536 + eth_hlen + 4;

enum class Gso : uint8_t { none, tcpv4, tcpv6 };

struct Offload {
    bool needs_csum = false;  // checksum from csum_start to the end, stored at csum_start + csum_offset
    bool data_valid = false;  // the checksums were verified (or computed) by the host
    bool ecn = false;         // GSO with TCP ECN (CWR on the first segment only)
    Gso gso = Gso::none;
    uint16_t gso_size = 0;  // MSS: payload bytes per segment
    uint16_t csum_start = 0;
    uint16_t csum_offset = 0;
};

struct Span {
    const uint8_t* data;
    uint32_t len;
};

struct Frame {
    const Span* spans = nullptr;
    unsigned count = 0;
    uint32_t len = 0;  // sum of the spans' lengths
    Offload off;

    // Copies up to n bytes from frame offset `from`; returns how many.
    size_t read(uint32_t from, void* dst, size_t n) const
    {
        auto* out = static_cast<uint8_t*>(dst);
        size_t done = 0;
        uint32_t pos = 0;
        for (unsigned i = 0; i < count && done < n; ++i) {
            const Span& s = spans[i];
            if (from < pos + s.len) {
                const uint32_t skip = from > pos ? from - pos : 0;
                size_t k = s.len - skip;
                if (k > n - done) k = n - done;
                __builtin_memcpy(out + done, s.data + skip, k);
                done += k;
                from += uint32_t(k);
            }
            pos += s.len;
        }
        return done;
    }
};

// MAC addresses: the low bit of the first byte marks group addresses.
inline bool is_multicast(const uint8_t* mac) { return mac[0] & 1; }
inline bool is_broadcast(const uint8_t* mac)
{
    for (size_t i = 0; i < eth_alen; ++i)
        if (mac[i] != 0xff) return false;
    return true;
}
inline bool mac_equal(const uint8_t* a, const uint8_t* b) { return __builtin_memcmp(a, b, eth_alen) == 0; }

}  // namespace vmm::net
