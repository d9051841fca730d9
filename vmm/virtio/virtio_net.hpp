// virtio-net (virtio 1.2 5.1), device ID 1: an Ethernet port of a
// net::Bridge. Queues (5.1.2): receiveq/transmitq pairs 0..2N-1 (receiveq
// of pair k is 2k, transmitq 2k+1) and the control queue at 2N with
// VIRTIO_NET_F_MQ, at 2 without it.
//
// Offered: VERSION_1, RING_EVENT_IDX (the transport), MAC, STATUS
// (LINK_UP), MTU, MRG_RXBUF, CSUM and GUEST_CSUM, HOST_TSO4/6 and
// GUEST_TSO4/6, CTRL_VQ, CTRL_RX (promiscuous, all-multicast and the MAC
// filter table) and MQ (VQ_PAIRS_SET; receive steering to the pair the
// guest last transmitted on, 5.1.6.5.6's automatic steering simplified).
//
// Transmit: each chain is one virtio_net_hdr and one frame, handed to the
// bridge as spans into guest memory (no copy here). Receive: the bridge's
// frame is copied once into the guest's receive buffers, several per
// packet with MRG_RXBUF (num_buffers in the first header). Offloads travel
// between guests: a partial checksum (NEEDS_CSUM) reaches a peer that
// negotiated GUEST_CSUM as NEEDS_CSUM and is completed in software for
// one that did not; a GSO packet reaches a peer with the matching
// GUEST_TSO unsegmented and is cut in software (net::TcpSegmenter) for one
// without; frames the host verified arrive DATA_VALID. With no receive
// buffer posted a frame is dropped and counted, as a NIC with a full ring
// drops.
//
// A driver that breaks the ring protocol (the virtqueue's checks: loops,
// addresses outside RAM, zero lengths, chains longer than the queue, heads
// reused) or this device's (a transmit chain with writable buffers or
// shorter than its header, a receive chain with readable buffers, a
// control chain without its command or ack) sets DEVICE_NEEDS_RESET on
// this device only; a well-formed chain whose frame is unusable (a runt,
// too long, offload fields that do not fit it or were not negotiated) is
// dropped and counted. Portable, host-tested, fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/net/bridge.hpp"
#include "vmm/net/frame.hpp"
#include "vmm/virtio/virtio_pci.hpp"

namespace vmm::virtio {

// Feature bits (5.1.3).
namespace net_feature {
inline constexpr uint64_t csum = 1ull << 0, guest_csum = 1ull << 1, mtu = 1ull << 3, mac = 1ull << 5;
inline constexpr uint64_t guest_tso4 = 1ull << 7, guest_tso6 = 1ull << 8, guest_ecn = 1ull << 9, guest_ufo = 1ull << 10;
inline constexpr uint64_t host_tso4 = 1ull << 11, host_tso6 = 1ull << 12, host_ecn = 1ull << 13, host_ufo = 1ull << 14;
inline constexpr uint64_t mrg_rxbuf = 1ull << 15, status = 1ull << 16, ctrl_vq = 1ull << 17, ctrl_rx = 1ull << 18;
inline constexpr uint64_t ctrl_vlan = 1ull << 19, guest_announce = 1ull << 21, mq = 1ull << 22;
inline constexpr uint64_t ctrl_mac_addr = 1ull << 23;
}  // namespace net_feature

inline constexpr uint16_t net_status_link_up = 1;  // VIRTIO_NET_S_LINK_UP (5.1.4)

// struct virtio_net_config (5.1.4), the part this device has.
struct VirtioNetConfig {
    uint8_t mac[6];
    uint16_t status;
    uint16_t max_virtqueue_pairs;
    uint16_t mtu;
};
static_assert(sizeof(VirtioNetConfig) == 12);
static_assert(offsetof(VirtioNetConfig, status) == 6 && offsetof(VirtioNetConfig, max_virtqueue_pairs) == 8 &&
              offsetof(VirtioNetConfig, mtu) == 10);

// struct virtio_net_hdr (5.1.6); num_buffers is always there in 1.x.
struct VirtioNetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
static_assert(sizeof(VirtioNetHdr) == 12);
static_assert(offsetof(VirtioNetHdr, hdr_len) == 2 && offsetof(VirtioNetHdr, gso_size) == 4 &&
              offsetof(VirtioNetHdr, csum_start) == 6 && offsetof(VirtioNetHdr, csum_offset) == 8 &&
              offsetof(VirtioNetHdr, num_buffers) == 10);

namespace net_hdr {
inline constexpr uint8_t f_needs_csum = 1, f_data_valid = 2;
inline constexpr uint8_t gso_none = 0, gso_tcpv4 = 1, gso_udp = 3, gso_tcpv6 = 4, gso_ecn = 0x80;
}  // namespace net_hdr

// Control queue classes and commands (5.1.6.5).
namespace net_ctrl {
inline constexpr uint8_t ok = 0, err = 1;
inline constexpr uint8_t class_rx = 0, rx_promisc = 0, rx_allmulti = 1;
inline constexpr uint8_t class_mac = 1, mac_table_set = 0, mac_addr_set = 1;
inline constexpr uint8_t class_mq = 4, mq_vq_pairs_set = 0;
}  // namespace net_ctrl

// What the device counts beyond the bridge's per-port counters.
struct VirtioNetStats {
    uint64_t tx_malformed = 0;     // well-formed chains with an unusable frame: dropped
    uint64_t rx_no_buffer = 0;     // no (or not enough) receive buffers: dropped
    uint64_t rx_too_big = 0;       // the packet needs more buffers than one packet may take
    uint64_t rx_segmented = 0;     // GSO frames cut in software for this receiver
    uint64_t rx_csum_completed = 0;  // partial checksums completed in software
};

class VirtioNet final : public VirtioDevice, public net::BridgePort {
public:
    static constexpr uint16_t device_id = 1;
    static constexpr uint16_t queue_size = 256;
    static constexpr unsigned max_pairs_limit = 8;
    static constexpr unsigned mac_table_entries = 64;  // per table; beyond it that kind of address all passes
    static constexpr unsigned max_rx_bufs = 64;        // receive chains one packet may take (MRG_RXBUF)
    static constexpr unsigned rx_seg_pool = 256;       // their writable segments together
    using Clock = uint64_t (*)(void* ctx);

    VirtioNet(const uint8_t mac[6], unsigned pairs = 2, uint16_t mtu = 1500);

    // Connects the device to a bridge port; frames it transmits go in
    // there stamped with clock(ctx). Frames come out through deliver().
    void connect(net::Bridge* bridge, unsigned port, Clock clock, void* ctx);
    void set_link(bool up);
    const uint8_t* mac() const { return mac_; }
    unsigned active_pairs() const { return active_pairs_; }
    bool promisc() const { return promisc_; }
    bool allmulti() const { return allmulti_; }
    const VirtioNetStats& stats() const { return stats_; }
    // The queue index of the control queue under the negotiated features.
    unsigned ctrl_queue() const;

    // net::BridgePort: a frame for this guest.
    Delivery deliver(const net::Frame& f) override;

    // VirtioDevice
    uint16_t device_type() const override { return device_id; }
    uint32_t pci_class() const override { return 0x020000; }  // network controller, Ethernet
    uint64_t device_features() const override;
    unsigned num_queues() const override { return 2 * max_pairs_ + 1; }
    uint16_t queue_max_size(unsigned) const override { return queue_size; }
    uint32_t config_size() const override { return sizeof(VirtioNetConfig); }
    uint32_t config_read(uint32_t offset, unsigned size) override;
    void config_write(uint32_t, unsigned, uint32_t) override {}
    void reset() override;
    lib::Status queue_notify(unsigned q) override;

private:
    struct RxBuf {
        uint16_t head;
        uint16_t first_seg, nseg;
        uint32_t cap;
    };

    bool has(uint64_t f) const { return transport_ && (transport_->negotiated() & f); }
    bool accepts(const uint8_t* dst) const;
    lib::Status drain_tx(unsigned q);
    lib::Status handle_ctrl();
    uint8_t ctrl_command(uint8_t cls, uint8_t cmd, const uint8_t* data, size_t len);
    // One packet into the receive queue: `prefix` (rebuilt headers, may be
    // empty) then frame bytes [from, from + n). hdr carries the offload
    // fields; num_buffers is filled in here.
    Delivery receive_packet(const uint8_t* prefix, uint32_t prefix_len, const net::Frame& f, uint32_t from, uint32_t n,
                            VirtioNetHdr hdr, const net::Offload& off);
    void rx_write(uint64_t at, const uint8_t* src, uint64_t n);
    void rx_write_frame(uint64_t at, const net::Frame& f, uint32_t from, uint32_t n);
    uint32_t rx_sum(uint64_t at, uint64_t n) const;

    uint8_t mac_[6];
    unsigned max_pairs_;
    uint16_t mtu_;
    bool link_up_ = true;
    net::Bridge* bridge_ = nullptr;
    unsigned port_ = 0;
    Clock clock_ = nullptr;
    void* clock_ctx_ = nullptr;

    unsigned active_pairs_ = 1;
    unsigned last_tx_pair_ = 0;
    bool promisc_ = true, allmulti_ = false;
    bool uc_overflow_ = false, mc_overflow_ = false;
    unsigned uc_count_ = 0, mc_count_ = 0;
    uint8_t uc_[mac_table_entries][6] = {};
    uint8_t mc_[mac_table_entries][6] = {};
    VirtioNetStats stats_;

    Chain chain_;     // transmit and control chains
    Chain rx_chain_;  // receive chains while they are collected
    net::Span spans_[Chain::max_segments];
    RxBuf rx_bufs_[max_rx_bufs];
    unsigned rx_nbufs_ = 0;
    Segment rx_segs_[rx_seg_pool];
    unsigned rx_nsegs_ = 0;
};

}  // namespace vmm::virtio
