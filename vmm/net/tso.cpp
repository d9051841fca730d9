#include "vmm/net/tso.hpp"

#include "vmm/net/checksum.hpp"

namespace vmm::net {
namespace {

constexpr uint16_t ethertype_ipv4 = 0x0800, ethertype_ipv6 = 0x86dd, ethertype_vlan = 0x8100;
constexpr uint8_t proto_tcp = 6;
constexpr uint8_t tcp_fin = 0x01, tcp_psh = 0x08, tcp_cwr = 0x80;

inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
inline void put_be16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put_be32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i)); }

}  // namespace

lib::Result<TcpHeaders> parse_tcp_headers(const uint8_t* hdr, size_t len, Gso gso)
{
    TcpHeaders h;
    if (gso == Gso::none) return lib::err(lib::Error::invalid);
    if (len < eth_hlen) return lib::err(lib::Error::truncated);
    size_t l3 = eth_hlen;
    uint16_t type = be16(hdr + 12);
    if (type == ethertype_vlan) {  // IEEE 802.1Q: one tag
        if (len < eth_hlen + 4) return lib::err(lib::Error::truncated);
        type = be16(hdr + 16);
        l3 += 4;
    }
    size_t l4 = 0;
    if (gso == Gso::tcpv4) {
        if (type != ethertype_ipv4) return lib::err(lib::Error::invalid);
        if (len < l3 + 20) return lib::err(lib::Error::truncated);
        const uint8_t* ip = hdr + l3;
        const unsigned ihl = (ip[0] & 15) * 4u;
        if ((ip[0] >> 4) != 4 || ihl < 20) return lib::err(lib::Error::invalid);
        if (ip[9] != proto_tcp) return lib::err(lib::Error::invalid);
        if (be16(ip + 6) & 0x3fff) return lib::err(lib::Error::invalid);  // MF or a fragment offset (RFC 791)
        l4 = l3 + ihl;
    } else {
        if (type != ethertype_ipv6) return lib::err(lib::Error::invalid);
        if (len < l3 + 40) return lib::err(lib::Error::truncated);
        const uint8_t* ip = hdr + l3;
        if ((ip[0] >> 4) != 6 || ip[6] != proto_tcp) return lib::err(lib::Error::invalid);
        l4 = l3 + 40;
    }
    if (len < l4 + 20) return lib::err(lib::Error::truncated);
    const unsigned doff = (hdr[l4 + 12] >> 4) * 4u;
    if (doff < 20) return lib::err(lib::Error::invalid);
    if (len < l4 + doff) return lib::err(lib::Error::truncated);
    h.v6 = gso == Gso::tcpv6;
    h.l3 = uint16_t(l3);
    h.l4 = uint16_t(l4);
    h.hdr_len = uint16_t(l4 + doff);
    return h;
}

lib::Status TcpSegmenter::start(const Frame& f)
{
    frame_ = nullptr;
    if (f.off.gso == Gso::none || f.off.gso_size == 0) return lib::err(lib::Error::invalid);
    const size_t got = f.read(0, orig_, max_header);
    h_ = TRY(parse_tcp_headers(orig_, got, f.off.gso));
    if (f.len < h_.hdr_len) return lib::err(lib::Error::truncated);
    frame_ = &f;
    payload_ = f.len - h_.hdr_len;
    mss_ = f.off.gso_size;
    count_ = payload_ ? (payload_ + mss_ - 1) / mss_ : 1;
    index_ = 0;
    return {};
}

bool TcpSegmenter::next(Segment& out)
{
    if (!frame_ || index_ >= count_) return false;
    const unsigned i = index_++;
    const uint32_t from = uint32_t(i) * mss_;
    const uint32_t plen = payload_ - from < mss_ ? payload_ - from : mss_;
    const bool last = index_ == count_;
    __builtin_memcpy(cur_, orig_, h_.hdr_len);
    uint8_t* ip = cur_ + h_.l3;
    uint8_t* tcp = cur_ + h_.l4;
    const uint32_t tcp_len = uint32_t(h_.hdr_len - h_.l4) + plen;
    uint32_t pseudo;
    if (!h_.v6) {
        const unsigned ihl = (ip[0] & 15) * 4u;
        put_be16(ip + 2, uint16_t(ihl + tcp_len));
        put_be16(ip + 4, uint16_t(be16(orig_ + h_.l3 + 4) + i));
        put_be16(ip + 10, 0);
        put_be16(ip + 10, inet_checksum(ip, ihl));
        pseudo = pseudo_sum_v4(ip + 12, ip + 16, proto_tcp, tcp_len);
    } else {
        put_be16(ip + 4, uint16_t(tcp_len));
        pseudo = pseudo_sum_v6(ip + 8, ip + 24, proto_tcp, tcp_len);
    }
    put_be32(tcp + 4, be32(orig_ + h_.l4 + 4) + from);
    uint8_t flags = tcp[13];
    if (!last) flags &= uint8_t(~(tcp_fin | tcp_psh));
    if (i > 0) flags &= uint8_t(~tcp_cwr);
    tcp[13] = flags;
    put_be16(tcp + 16, fold(pseudo));
    out.header = cur_;
    out.hdr_len = h_.hdr_len;
    out.payload_from = h_.hdr_len + from;
    out.payload_len = plen;
    out.off = Offload{};
    out.off.needs_csum = true;
    out.off.csum_start = h_.l4;
    out.off.csum_offset = 16;  // TCP checksum field (RFC 793 3.1)
    return true;
}

}  // namespace vmm::net
