// Raw DEFLATE decoder against streams made by zlib (stored, fixed and dynamic
// Huffman blocks, many block boundaries) and against damaged streams.
// Bad inputs tried: every truncation length of a real stream, reserved block
// type 3, stored block with LEN != ~NLEN, distance reaching before the start
// of the output, over-subscribed code lengths, reserved length symbol 286,
// empty input, random garbage (never a crash, never past the output buffer).
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <vector>

#include "vmm/block/inflate/inflate.hpp"

namespace {

std::vector<uint8_t> deflate_raw(const std::vector<uint8_t>& in, int level, int strategy = Z_DEFAULT_STRATEGY)
{
    z_stream s{};
    EXPECT_EQ(deflateInit2(&s, level, Z_DEFLATED, -15, 8, strategy), Z_OK);
    std::vector<uint8_t> out(deflateBound(&s, in.size()) + 64);
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = uInt(in.size());
    s.next_out = out.data();
    s.avail_out = uInt(out.size());
    EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

std::vector<uint8_t> sample(size_t n, int kind)
{
    std::vector<uint8_t> v(n);
    std::mt19937 rng(unsigned(n + kind));
    for (size_t i = 0; i < n; ++i) {
        switch (kind) {
        case 0: v[i] = 0; break;
        case 1: v[i] = uint8_t(rng()); break;                       // incompressible
        case 2: v[i] = "the quick brown fox "[i % 20]; break;      // long matches
        default: v[i] = uint8_t((rng() % 7) + (i / 1000) % 50); break;  // skewed alphabet
        }
    }
    return v;
}

using vmm::block::inflate_raw;

}  // namespace

TEST(Inflate, DecodesZlibStreamsOfEveryBlockType)
{
    for (size_t n : {size_t(0), size_t(1), size_t(511), size_t(65536), size_t(300000)}) {
        for (int kind = 0; kind < 4; ++kind) {
            auto in = sample(n, kind);
            for (int level : {0, 1, 6, 9}) {
                for (int strategy : {Z_DEFAULT_STRATEGY, Z_FIXED, Z_HUFFMAN_ONLY, Z_RLE}) {
                    auto z = deflate_raw(in, level, strategy);
                    std::vector<uint8_t> out(n + 16, 0xee);
                    auto r = inflate_raw(z.data(), z.size(), out.data(), out.size());
                    ASSERT_TRUE(r.ok()) << n << " " << kind << " " << level << " " << strategy;
                    ASSERT_EQ(*r, n);
                    ASSERT_TRUE(std::equal(in.begin(), in.end(), out.begin()));
                }
            }
        }
    }
}

TEST(Inflate, StopsWhenTheOutputIsFullAndIgnoresTrailingBytes)
{
    auto in = sample(65536, 3);
    auto z = deflate_raw(in, 6);
    std::vector<uint8_t> out(1000);
    auto r = inflate_raw(z.data(), z.size(), out.data(), out.size());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 1000u);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), in.begin()));
    z.insert(z.end(), 100, 0x5a);  // qcow2 pads compressed clusters to sectors
    std::vector<uint8_t> full(65536);
    auto r2 = inflate_raw(z.data(), z.size(), full.data(), full.size());
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(full, in);
}

TEST(Inflate, TruncatedStreamsAreErrors)
{
    auto in = sample(20000, 3);
    for (int level : {0, 1, 9}) {
        auto z = deflate_raw(in, level, level == 1 ? Z_FIXED : Z_DEFAULT_STRATEGY);
        // Room for more than the stream holds, so only the end-of-block
        // code can end decoding: every cut must be an error.
        std::vector<uint8_t> out(in.size() + 1);
        for (size_t cut = 0; cut < z.size(); cut += (cut < 64 || cut + 64 > z.size()) ? 1 : 13) {
            auto r = inflate_raw(z.data(), cut, out.data(), out.size());
            ASSERT_FALSE(r.ok()) << "cut at " << cut << " of " << z.size();
            EXPECT_TRUE(r.error() == lib::Error::truncated || r.error() == lib::Error::invalid) << cut;
        }
    }
}

TEST(Inflate, MalformedStreamsAreErrors)
{
    uint8_t out[64];
    const uint8_t reserved_type[] = {0x07};                       // BFINAL=1, BTYPE=11
    EXPECT_EQ(inflate_raw(reserved_type, 1, out, sizeof out).error(), lib::Error::invalid);
    const uint8_t bad_nlen[] = {0x01, 0x05, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd', 'e'};
    EXPECT_EQ(inflate_raw(bad_nlen, sizeof bad_nlen, out, sizeof out).error(), lib::Error::invalid);
    // Fixed block: length 3 (symbol 257) at distance 1 with no output yet.
    // Bits LSB first: 1 (final), 10 (fixed: 01 reversed), 0000001 (257), 00000 (dist 0 = 1).
    const uint8_t far_back[] = {0x03, 0x02, 0x00};
    EXPECT_EQ(inflate_raw(far_back, sizeof far_back, out, sizeof out).error(), lib::Error::invalid);
    // Dynamic block whose code-length code is over-subscribed (all 19 lengths = 1).
    std::vector<uint8_t> dyn = {0x05, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    dyn[0] = 0x05;  // BFINAL=1, BTYPE=10, HLIT=0
    dyn[1] = 0x00;  // HDIST=0, HCLEN low bits
    dyn[2] = 0x3c;  // HCLEN=15 (19 codes) then lengths start
    auto r = inflate_raw(dyn.data(), dyn.size(), out, sizeof out);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(inflate_raw(nullptr, 0, out, sizeof out).error(), lib::Error::truncated);
    // Fixed block with reserved length symbol 286 (code 11000110).
    const uint8_t sym286[] = {0x1b, 0x03, 0x00};
    EXPECT_FALSE(inflate_raw(sym286, sizeof sym286, out, sizeof out).ok());
}

TEST(Inflate, RandomGarbageNeverOverrunsTheOutput)
{
    std::mt19937 rng(1);
    std::vector<uint8_t> out(4096 + 64);
    for (int i = 0; i < 3000; ++i) {
        std::vector<uint8_t> in(1 + rng() % 300);
        for (auto& b : in) b = uint8_t(rng());
        std::fill(out.begin(), out.end(), 0xcc);
        auto r = inflate_raw(in.data(), in.size(), out.data(), 4096);
        if (r.ok()) {
            EXPECT_LE(*r, 4096u);
        }
        for (size_t k = 4096; k < out.size(); ++k) ASSERT_EQ(out[k], 0xcc);
    }
}
