// Test packets for the network tests: Ethernet frames carrying IPv4 or IPv6
// and TCP, built byte by byte, and an independent checksum check (a plain
// RFC 1071 word sum, not vmm/net's code) to verify what the device made.
#pragma once

#include <cstdint>
#include <vector>

namespace net_packets {

using Bytes = std::vector<uint8_t>;

struct Mac {
    uint8_t b[6];
};
inline constexpr Mac mac_a{{0x00, 0x16, 0x3e, 0x00, 0x00, 0x0a}};
inline constexpr Mac mac_b{{0x00, 0x16, 0x3e, 0x00, 0x00, 0x0b}};
inline constexpr Mac mac_c{{0x00, 0x16, 0x3e, 0x00, 0x00, 0x0c}};
inline constexpr Mac broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
inline constexpr Mac mcast{{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}};

inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i)); }

// The plain word sum, folded.
inline uint16_t word_sum(const uint8_t* p, size_t n, uint32_t start = 0)
{
    uint64_t s = start;
    for (size_t i = 0; i < n; i += 2) s += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(s);
}

inline Bytes eth(const Mac& dst, const Mac& src, uint16_t type, size_t payload)
{
    Bytes f(14 + payload);
    for (int i = 0; i < 6; ++i) f[i] = dst.b[i], f[6 + i] = src.b[i];
    put16(&f[12], type);
    for (size_t i = 0; i < payload; ++i) f[14 + i] = uint8_t(i * 7 + 3);
    return f;
}

// The TCP pseudo-header sum of a frame built below (folded, not complemented).
inline uint16_t pseudo(const Bytes& f, bool v6, uint32_t tcp_len)
{
    uint32_t s = 0;
    if (!v6) {
        s += word_sum(&f[14 + 12], 8);
    } else {
        s += word_sum(&f[14 + 8], 32);
    }
    s += 6 + (tcp_len & 0xffff) + (tcp_len >> 16);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(s);
}

// Ethernet + IPv4 (or IPv6) + 20-byte TCP + payload. With partial = true
// the TCP checksum field holds the pseudo-header sum (Linux's
// CHECKSUM_PARTIAL), otherwise the full checksum.
inline Bytes tcp_frame(const Mac& dst, const Mac& src, bool v6, size_t payload, bool partial, uint8_t tcp_flags = 0x18)
{
    const size_t ip_len = v6 ? 40 : 20;
    Bytes f = eth(dst, src, v6 ? 0x86dd : 0x0800, ip_len + 20 + payload);
    uint8_t* ip = &f[14];
    for (size_t i = 0; i < ip_len + 20; ++i) ip[i] = 0;
    if (!v6) {
        ip[0] = 0x45;
        put16(ip + 2, uint16_t(20 + 20 + payload));
        put16(ip + 4, 0x1234);
        put16(ip + 6, 0x4000);  // DF
        ip[8] = 64;
        ip[9] = 6;
        const uint8_t s[4] = {10, 0, 0, 1}, d[4] = {10, 0, 0, 2};
        for (int i = 0; i < 4; ++i) ip[12 + i] = s[i], ip[16 + i] = d[i];
        put16(ip + 10, uint16_t(~word_sum(ip, 20)));
    } else {
        ip[0] = 0x60;
        put16(ip + 4, uint16_t(20 + payload));
        ip[6] = 6;
        ip[7] = 64;
        ip[8] = 0xfd;
        ip[23] = 1;
        ip[24] = 0xfd;
        ip[39] = 2;
    }
    uint8_t* tcp = ip + ip_len;
    put16(tcp, 40000);
    put16(tcp + 2, 80);
    put32(tcp + 4, 0x10000000u);
    put32(tcp + 8, 0x20000000u);
    tcp[12] = 5 << 4;
    tcp[13] = tcp_flags;
    put16(tcp + 14, 65535);
    const uint32_t tcp_len = uint32_t(20 + payload);
    const uint16_t ps = pseudo(f, v6, tcp_len);
    if (partial) {
        put16(tcp + 16, ps);
    } else {
        put16(tcp + 16, 0);
        put16(tcp + 16, uint16_t(~word_sum(tcp, tcp_len, ps)));
    }
    return f;
}

// True when the frame's TCP checksum (and IPv4 header checksum) verify.
inline bool tcp_checksum_ok(const Bytes& f, bool v6)
{
    const size_t ip_len = v6 ? 40 : 20;
    if (f.size() < 14 + ip_len + 20) return false;
    const uint8_t* ip = &f[14];
    if (!v6 && word_sum(ip, 20) != 0xffff) return false;
    const uint32_t tcp_len = uint32_t(f.size() - 14 - ip_len);
    return word_sum(ip + ip_len, tcp_len, pseudo(f, v6, tcp_len)) == 0xffff;
}

}  // namespace net_packets
