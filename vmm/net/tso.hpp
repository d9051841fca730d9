// Software TCP segmentation (what a NIC's TSO engine does): a GSO frame —
// Ethernet, IPv4 or IPv6 (no extension headers), TCP, then up to 64 KiB of
// payload — is cut into segments of at most gso_size payload bytes, each
// with its own headers: IPv4 total length, identification (+1 per segment)
// and header checksum, IPv6 payload length, TCP sequence number, FIN and
// PSH only on the last segment, CWR only on the first (RFC 3168 6.1.2 as
// Linux's tcp_gso_segment does it). The TCP checksum field of each segment
// holds its pseudo-header sum, so each segment is a partial-checksum packet
// the receiver completes (or hands on as NEEDS_CSUM).
//
// Nothing is copied from the payload here: a segment is its rebuilt headers
// (in the segmenter's own buffer) plus a byte range of the original frame,
// so the receiver copies payload bytes once, from the sender's buffers into
// its own. The headers are read once into the segmenter, so a sender that
// changes its buffers meanwhile cannot make them differ between checks and
// use. Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/net/frame.hpp"

namespace vmm::net {

// Where the headers of a TCP frame are.
struct TcpHeaders {
    bool v6 = false;
    uint16_t l3 = 0;       // IP header offset (14, or 18 behind one VLAN tag)
    uint16_t l4 = 0;       // TCP header offset
    uint16_t hdr_len = 0;  // through the end of the TCP header
};

// Parses the Ethernet/IP/TCP headers in hdr[0..len) for a GSO frame of kind
// `gso`. invalid: not that kind of packet (other ethertype or protocol, IPv4
// options too long, an IPv4 fragment, IPv6 extension headers, a TCP data
// offset under 5); truncated: the headers do not fit.
lib::Result<TcpHeaders> parse_tcp_headers(const uint8_t* hdr, size_t len, Gso gso);

class TcpSegmenter {
public:
    static constexpr size_t max_header = eth_hlen + 4 + 60 + 60;  // Ethernet + VLAN, IPv4 with options or IPv6, TCP with options

    struct Segment {
        const uint8_t* header;  // hdr_len bytes, valid until the next call
        uint16_t hdr_len;
        uint32_t payload_from;  // frame offset of this segment's payload
        uint32_t payload_len;
        Offload off;            // needs_csum over the TCP part, no GSO
        uint32_t len() const { return hdr_len + payload_len; }
    };

    // Checks the frame (a GSO frame with gso_size > 0 whose headers parse)
    // and reads its headers. Errors as parse_tcp_headers, and invalid for a
    // zero gso_size.
    lib::Status start(const Frame& f);
    // The next segment; false after the last one.
    bool next(Segment& out);
    unsigned segments() const { return count_; }

private:
    const Frame* frame_ = nullptr;
    TcpHeaders h_;
    uint8_t orig_[max_header] = {};
    uint8_t cur_[max_header] = {};
    uint32_t payload_ = 0;  // total payload bytes
    uint16_t mss_ = 0;
    unsigned count_ = 0, index_ = 0;
};

}  // namespace vmm::net
