// vmm/net's checksum helpers and software TCP segmentation, checked against
// the plain word sum of tests/unit/net_packets.hpp: RFC 1071's worked
// example, runs split at odd offsets, the IPv4 and IPv6 pseudo headers;
// segments of IPv4 and IPv6 GSO frames (lengths, IP ids and checksums,
// sequence numbers, FIN/PSH on the last only, CWR on the first only,
// payload reassembled byte for byte).
//
// Bad inputs tried: gso_size 0, a UDP packet, an IPv4 fragment, an IPv6
// packet with an extension header, a TCP data offset under 5, headers cut
// short, an ethertype that is not IP, a frame shorter than its headers.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/unit/net_packets.hpp"
#include "vmm/net/checksum.hpp"
#include "vmm/net/tso.hpp"

using namespace vmm::net;
using namespace net_packets;

namespace {

Frame whole(const Bytes& b, Span& s)
{
    s = {b.data(), uint32_t(b.size())};
    Frame f;
    f.spans = &s;
    f.count = 1;
    f.len = uint32_t(b.size());
    return f;
}

}  // namespace

TEST(NetChecksum, Rfc1071Example)
{
    // RFC 1071 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(fold(sum_bytes(b, sizeof b)), 0xddf2);
    EXPECT_EQ(inet_checksum(b, sizeof b), 0x220d);
    // A buffer carrying its own checksum verifies to 0.
    const uint8_t with[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x22, 0x0d};
    EXPECT_EQ(inet_checksum(with, sizeof with), 0);
}

TEST(NetChecksum, SplitRunsMatchOneRun)
{
    std::vector<uint8_t> b(1001);
    for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 131 + 17);
    const uint16_t one = fold(sum_bytes(b.data(), b.size()));
    EXPECT_EQ(one, word_sum(b.data(), b.size()));
    for (size_t cut1 : {0u, 1u, 2u, 3u, 500u, 501u})
        for (size_t cut2 : {cut1, cut1 + 1, cut1 + 7, size_t(1000)}) {
            if (cut2 < cut1 || cut2 > b.size()) continue;
            uint32_t s = sum_bytes(b.data(), cut1);
            s = sum_bytes(b.data() + cut1, cut2 - cut1, s, cut1 & 1);
            s = sum_bytes(b.data() + cut2, b.size() - cut2, s, cut2 & 1);
            EXPECT_EQ(fold(s), one) << cut1 << " " << cut2;
        }
    // Sums that carry many times stay exact.
    std::vector<uint8_t> ff(70000, 0xff);
    EXPECT_EQ(fold(sum_bytes(ff.data(), ff.size())), 0xffff);
}

TEST(NetChecksum, PseudoHeaders)
{
    for (bool v6 : {false, true}) {
        Bytes f = tcp_frame(mac_b, mac_a, v6, 100, false);
        const uint8_t* ip = &f[14];
        const uint32_t tcp_len = 120;
        const uint32_t p = v6 ? pseudo_sum_v6(ip + 8, ip + 24, 6, tcp_len) : pseudo_sum_v4(ip + 12, ip + 16, 6, tcp_len);
        EXPECT_EQ(fold(p), pseudo(f, v6, tcp_len)) << v6;
        // The full checksum built by the test helper verifies with ours.
        const size_t l4 = 14 + (v6 ? 40 : 20);
        EXPECT_EQ(finish(sum_bytes(&f[l4], tcp_len, p)), 0) << v6;
        EXPECT_TRUE(tcp_checksum_ok(f, v6));
    }
    // Lengths above 64 KiB (IPv6 jumbograms) fold the upper half in.
    const uint8_t a[16] = {}, b[16] = {};
    EXPECT_EQ(fold(pseudo_sum_v6(a, b, 6, 0x10002)), 6 + 1 + 2);
}

TEST(NetTso, SegmentsIpv4)
{
    const size_t payload = 4000, mss = 1448;
    Bytes f = tcp_frame(mac_b, mac_a, false, payload, true, 0x80 | 0x18 | 0x01);  // CWR, PSH, ACK, FIN
    Span sp;
    Frame fr = whole(f, sp);
    fr.off.gso = Gso::tcpv4;
    fr.off.gso_size = mss;
    fr.off.needs_csum = true;
    TcpSegmenter seg;
    ASSERT_TRUE(seg.start(fr).ok());
    EXPECT_EQ(seg.segments(), 3u);
    TcpSegmenter::Segment s;
    Bytes joined;
    unsigned i = 0;
    while (seg.next(s)) {
        Bytes out(s.header, s.header + s.hdr_len);
        out.insert(out.end(), f.begin() + s.payload_from, f.begin() + s.payload_from + s.payload_len);
        const size_t expect_len = i < 2 ? mss : payload - 2 * mss;
        EXPECT_EQ(s.payload_len, expect_len);
        EXPECT_EQ(be16(&out[14 + 2]), 40 + expect_len);       // total length
        EXPECT_EQ(be16(&out[14 + 4]), 0x1234 + i);            // identification
        EXPECT_EQ(word_sum(&out[14], 20), 0xffff);            // header checksum
        EXPECT_EQ(be32(&out[34 + 4]), 0x10000000u + i * mss);  // sequence number
        const uint8_t flags = out[34 + 13];
        EXPECT_EQ(bool(flags & 0x01), i == 2) << i;  // FIN last
        EXPECT_EQ(bool(flags & 0x08), i == 2) << i;  // PSH last
        EXPECT_EQ(bool(flags & 0x80), i == 0) << i;  // CWR first
        EXPECT_TRUE(flags & 0x10);                    // ACK on all
        // The TCP checksum field holds the segment's pseudo sum: completing
        // it gives a valid segment.
        EXPECT_TRUE(s.off.needs_csum);
        EXPECT_EQ(s.off.csum_start, 34);
        EXPECT_EQ(s.off.csum_offset, 16);
        EXPECT_EQ(be16(&out[34 + 16]), pseudo(out, false, uint32_t(20 + expect_len)));
        const uint16_t c = finish(sum_bytes(&out[34], out.size() - 34));
        put16(&out[34 + 16], c);
        EXPECT_TRUE(tcp_checksum_ok(out, false)) << i;
        joined.insert(joined.end(), out.begin() + 54, out.end());
        ++i;
    }
    EXPECT_EQ(i, 3u);
    EXPECT_EQ(joined, Bytes(f.begin() + 54, f.end()));
    EXPECT_FALSE(seg.next(s));
}

TEST(NetTso, SegmentsIpv6AcrossSpans)
{
    const size_t payload = 3000, mss = 1000;
    Bytes f = tcp_frame(mac_b, mac_a, true, payload, true);
    // The frame in three spans, cut inside the headers and the payload.
    Span spans[3] = {{f.data(), 20}, {f.data() + 20, 1000}, {f.data() + 1020, uint32_t(f.size() - 1020)}};
    Frame fr;
    fr.spans = spans;
    fr.count = 3;
    fr.len = uint32_t(f.size());
    fr.off.gso = Gso::tcpv6;
    fr.off.gso_size = mss;
    TcpSegmenter seg;
    ASSERT_TRUE(seg.start(fr).ok());
    EXPECT_EQ(seg.segments(), 3u);
    TcpSegmenter::Segment s;
    unsigned i = 0;
    while (seg.next(s)) {
        Bytes out(s.header, s.header + s.hdr_len);
        Bytes pl(s.payload_len);
        ASSERT_EQ(fr.read(s.payload_from, pl.data(), pl.size()), pl.size());
        out.insert(out.end(), pl.begin(), pl.end());
        EXPECT_EQ(be16(&out[14 + 4]), 20 + mss);  // IPv6 payload length
        EXPECT_EQ(s.off.csum_start, 54);
        put16(&out[54 + 16], finish(sum_bytes(&out[54], out.size() - 54)));
        EXPECT_TRUE(tcp_checksum_ok(out, true)) << i;
        EXPECT_EQ(be32(&out[54 + 4]), 0x10000000u + i * mss);
        ++i;
    }
    EXPECT_EQ(i, 3u);
}

TEST(NetTso, EmptyPayloadIsOneSegment)
{
    Bytes f = tcp_frame(mac_b, mac_a, false, 0, true);
    Span sp;
    Frame fr = whole(f, sp);
    fr.off.gso = Gso::tcpv4;
    fr.off.gso_size = 1448;
    TcpSegmenter seg;
    ASSERT_TRUE(seg.start(fr).ok());
    TcpSegmenter::Segment s;
    ASSERT_TRUE(seg.next(s));
    EXPECT_EQ(s.payload_len, 0u);
    EXPECT_EQ(s.hdr_len, 54);
    EXPECT_FALSE(seg.next(s));
}

TEST(NetTso, RefusesWhatItCannotCut)
{
    auto refused = [](Bytes f, Gso gso, uint16_t mss, lib::Error want) {
        Span sp;
        Frame fr = whole(f, sp);
        fr.off.gso = gso;
        fr.off.gso_size = mss;
        TcpSegmenter seg;
        auto st = seg.start(fr);
        TcpSegmenter::Segment s;
        EXPECT_FALSE(seg.next(s));
        return !st.ok() && st.error() == want;
    };
    EXPECT_TRUE(refused(tcp_frame(mac_b, mac_a, false, 100, true), Gso::tcpv4, 0, lib::Error::invalid));
    EXPECT_TRUE(refused(tcp_frame(mac_b, mac_a, false, 100, true), Gso::tcpv6, 100, lib::Error::invalid));
    EXPECT_TRUE(refused(tcp_frame(mac_b, mac_a, true, 100, true), Gso::tcpv4, 100, lib::Error::invalid));
    Bytes udp = tcp_frame(mac_b, mac_a, false, 100, true);
    udp[14 + 9] = 17;
    EXPECT_TRUE(refused(udp, Gso::tcpv4, 100, lib::Error::invalid));
    Bytes frag = tcp_frame(mac_b, mac_a, false, 100, true);
    frag[14 + 6] = 0x20;  // MF
    EXPECT_TRUE(refused(frag, Gso::tcpv4, 100, lib::Error::invalid));
    Bytes ext = tcp_frame(mac_b, mac_a, true, 100, true);
    ext[14 + 6] = 0;  // hop-by-hop options header first
    EXPECT_TRUE(refused(ext, Gso::tcpv6, 100, lib::Error::invalid));
    Bytes doff = tcp_frame(mac_b, mac_a, false, 100, true);
    doff[34 + 12] = 4 << 4;
    EXPECT_TRUE(refused(doff, Gso::tcpv4, 100, lib::Error::invalid));
    Bytes arp = eth(broadcast, mac_a, 0x0806, 28);
    EXPECT_TRUE(refused(arp, Gso::tcpv4, 100, lib::Error::invalid));
    Bytes cut = tcp_frame(mac_b, mac_a, false, 0, true);
    cut.resize(40);
    EXPECT_TRUE(refused(cut, Gso::tcpv4, 100, lib::Error::truncated));
    Bytes opts = tcp_frame(mac_b, mac_a, false, 0, true);
    opts[34 + 12] = 15 << 4;  // a 60-byte TCP header the frame does not hold
    EXPECT_TRUE(refused(opts, Gso::tcpv4, 100, lib::Error::truncated));
}
