// RFC 1951 section numbers are cited where the format is decoded.
#include "vmm/block/inflate/inflate.hpp"

namespace vmm::block {
namespace {

constexpr int max_bits = 15;        // 3.2.7: code lengths are at most 15
constexpr int max_lit_codes = 288;  // 3.2.6: literal/length alphabet incl. 2 reserved
constexpr int max_dist_codes = 32;
constexpr int end_of_block = 256;

// 3.2.5 length and distance bases and extra bits.
constexpr uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,    65,    97,    129,
                                    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// 3.2.7: order in which code-length code lengths are stored.
constexpr uint8_t clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

class BitReader {
public:
    BitReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    // 3.1.1: data elements are packed starting with the least significant bit.
    bool bits(int count, uint32_t& v)
    {
        while (have_ < count) {
            if (pos_ >= n_) return false;
            acc_ |= uint32_t(p_[pos_++]) << have_;
            have_ += 8;
        }
        v = acc_ & ((1u << count) - 1);
        acc_ >>= count;
        have_ -= count;
        return true;
    }
    void align_to_byte()
    {
        acc_ = 0;
        have_ = 0;
    }
    const uint8_t* byte_ptr() const { return p_ + pos_; }
    size_t bytes_left() const { return n_ - pos_; }
    void skip_bytes(size_t k) { pos_ += k; }

private:
    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
    uint32_t acc_ = 0;
    int have_ = 0;
};

// Canonical Huffman code (3.2.2) described by how many codes have each length
// and the symbols sorted by (length, value).
struct Huffman {
    uint16_t count[max_bits + 1];
    uint16_t symbol[max_lit_codes];
    int nsym;
};

// Builds the decoding description from code lengths. Over-subscribed length
// sets are invalid; incomplete ones are accepted (a lone distance code is
// legal) and fail only if an unused code appears in the stream.
lib::Status build(Huffman& h, const uint8_t* lengths, int n)
{
    for (auto& c : h.count) c = 0;
    for (int i = 0; i < n; ++i) h.count[lengths[i]]++;
    h.nsym = n;
    int left = 1;
    for (int len = 1; len <= max_bits; ++len) {
        left <<= 1;
        left -= h.count[len];
        if (left < 0) return lib::Error::invalid;
    }
    uint16_t offs[max_bits + 2];
    offs[1] = 0;
    for (int len = 1; len <= max_bits; ++len) offs[len + 1] = uint16_t(offs[len] + h.count[len]);
    for (int i = 0; i < n; ++i)
        if (lengths[i] != 0) h.symbol[offs[lengths[i]]++] = uint16_t(i);
    return {};
}

// Reads one symbol: codes are sent most significant bit first (3.1.1), so
// the code is accumulated bit by bit and compared against the first code of
// each length.
lib::Result<int> decode(BitReader& br, const Huffman& h)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= max_bits; ++len) {
        uint32_t b;
        if (!br.bits(1, b)) return lib::err(lib::Error::truncated);
        code |= int(b);
        int count = h.count[len];
        if (code - first < count) return int(h.symbol[index + (code - first)]);
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return lib::err(lib::Error::invalid);  // code not in an incomplete table
}

struct Out {
    uint8_t* p;
    size_t cap;
    size_t len = 0;
    bool full() const { return len == cap; }
};

// Decodes literal/length + distance pairs until end of block (3.2.5).
// Returns true in `full` when the output filled up first.
lib::Status codes(BitReader& br, Out& out, const Huffman& lit, const Huffman& dist, bool& full)
{
    for (;;) {
        if (out.full()) {
            full = true;
            return {};
        }
        int sym = TRY(decode(br, lit));
        if (sym < 256) {
            out.p[out.len++] = uint8_t(sym);
            continue;
        }
        if (sym == end_of_block) return {};
        sym -= 257;
        if (sym >= 29) return lib::Error::invalid;  // 286, 287 are reserved
        uint32_t extra;
        if (!br.bits(length_extra[sym], extra)) return lib::Error::truncated;
        size_t length = length_base[sym] + extra;
        int dsym = TRY(decode(br, dist));
        if (dsym >= 30) return lib::Error::invalid;  // 30, 31 are reserved
        if (!br.bits(dist_extra[dsym], extra)) return lib::Error::truncated;
        size_t distance = dist_base[dsym] + extra;
        if (distance > out.len) return lib::Error::invalid;  // before the start of the output
        for (size_t i = 0; i < length; ++i) {
            if (out.full()) {
                full = true;
                return {};
            }
            out.p[out.len] = out.p[out.len - distance];
            out.len++;
        }
    }
}

// 3.2.4: non-compressed block.
lib::Status stored(BitReader& br, Out& out, bool& full)
{
    br.align_to_byte();
    if (br.bytes_left() < 4) return lib::Error::truncated;
    const uint8_t* h = br.byte_ptr();
    uint16_t len = uint16_t(h[0] | (h[1] << 8));
    uint16_t nlen = uint16_t(h[2] | (h[3] << 8));
    if (uint16_t(~nlen) != len) return lib::Error::invalid;
    br.skip_bytes(4);
    size_t take = len;
    if (take > out.cap - out.len) {
        take = out.cap - out.len;
        full = true;
    }
    if (br.bytes_left() < take) return lib::Error::truncated;
    const uint8_t* src = br.byte_ptr();
    for (size_t i = 0; i < take; ++i) out.p[out.len + i] = src[i];
    out.len += take;
    br.skip_bytes(take);
    if (!full && take < len) return lib::Error::truncated;
    return {};
}

// 3.2.6: fixed Huffman codes.
lib::Status fixed(BitReader& br, Out& out, bool& full)
{
    uint8_t lengths[max_lit_codes];
    int i = 0;
    for (; i < 144; ++i) lengths[i] = 8;
    for (; i < 256; ++i) lengths[i] = 9;
    for (; i < 280; ++i) lengths[i] = 7;
    for (; i < max_lit_codes; ++i) lengths[i] = 8;
    Huffman lit, dist;
    TRY(build(lit, lengths, max_lit_codes));
    for (i = 0; i < max_dist_codes; ++i) lengths[i] = 5;
    TRY(build(dist, lengths, max_dist_codes));
    return codes(br, out, lit, dist, full);
}

// 3.2.7: dynamic Huffman codes.
lib::Status dynamic(BitReader& br, Out& out, bool& full)
{
    uint32_t hlit, hdist, hclen;
    if (!br.bits(5, hlit) || !br.bits(5, hdist) || !br.bits(4, hclen)) return lib::Error::truncated;
    int nlen = int(hlit) + 257, ndist = int(hdist) + 1, ncode = int(hclen) + 4;
    if (nlen > 286 || ndist > 30) return lib::Error::invalid;

    uint8_t lengths[max_lit_codes + max_dist_codes] = {};
    for (int i = 0; i < ncode; ++i) {
        uint32_t v;
        if (!br.bits(3, v)) return lib::Error::truncated;
        lengths[clen_order[i]] = uint8_t(v);
    }
    Huffman lencode;
    TRY(build(lencode, lengths, 19));

    int index = 0;
    while (index < nlen + ndist) {
        int sym = TRY(decode(br, lencode));
        if (sym < 16) {
            lengths[index++] = uint8_t(sym);
            continue;
        }
        uint8_t value = 0;
        uint32_t rep;
        if (sym == 16) {
            if (index == 0) return lib::Error::invalid;  // nothing to repeat
            value = lengths[index - 1];
            if (!br.bits(2, rep)) return lib::Error::truncated;
            rep += 3;
        } else if (sym == 17) {
            if (!br.bits(3, rep)) return lib::Error::truncated;
            rep += 3;
        } else {
            if (!br.bits(7, rep)) return lib::Error::truncated;
            rep += 11;
        }
        if (index + int(rep) > nlen + ndist) return lib::Error::invalid;
        while (rep--) lengths[index++] = value;
    }
    if (lengths[end_of_block] == 0) return lib::Error::invalid;  // block could never end

    Huffman lit, dist;
    TRY(build(lit, lengths, nlen));
    TRY(build(dist, lengths + nlen, ndist));
    return codes(br, out, lit, dist, full);
}

}  // namespace

lib::Result<size_t> inflate_raw(const uint8_t* in, size_t in_len, uint8_t* out_buf, size_t out_cap)
{
    BitReader br(in, in_len);
    Out out{out_buf, out_cap};
    for (;;) {
        // 3.2.3: block header: BFINAL, then BTYPE.
        uint32_t last, type;
        if (!br.bits(1, last) || !br.bits(2, type)) return lib::err(lib::Error::truncated);
        bool full = false;
        switch (type) {
        case 0: TRY(stored(br, out, full)); break;
        case 1: TRY(fixed(br, out, full)); break;
        case 2: TRY(dynamic(br, out, full)); break;
        default: return lib::err(lib::Error::invalid);  // reserved block type
        }
        if (full || last) return out.len;
        if (out.full()) return out.len;
    }
}

}  // namespace vmm::block
