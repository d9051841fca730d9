#include "vmm/virtio/virtio_net.hpp"

#include "vmm/net/checksum.hpp"
#include "vmm/net/tso.hpp"

namespace vmm::virtio {
namespace {

using net::BridgePort;

constexpr uint32_t hdr_size = sizeof(VirtioNetHdr);

inline uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
inline void put_le16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }

// Visits bytes [at, at + n) of a buffer scattered over segs in order, one
// (host pointer, length) piece per segment it touches; stops when visit
// returns false.
template <typename Visit>
void for_each_piece(const Segment* segs, unsigned nsegs, uint64_t at, uint64_t n, Visit visit)
{
    uint64_t pos = 0;
    for (unsigned i = 0; i < nsegs && n; ++i) {
        const Segment& s = segs[i];
        if (at < pos + s.len) {
            const uint64_t skip = at - pos;
            uint64_t k = s.len - skip;
            if (k > n) k = n;
            if (!visit(s.host + skip, k)) return;
            n -= k;
            at += k;
        }
        pos += s.len;
    }
}

VirtioNetHdr decode_hdr(const uint8_t* b)
{
    return {b[0], b[1], le16(b + 2), le16(b + 4), le16(b + 6), le16(b + 8), le16(b + 10)};
}

void encode_hdr(const VirtioNetHdr& h, uint8_t* b)
{
    b[0] = h.flags;
    b[1] = h.gso_type;
    put_le16(b + 2, h.hdr_len);
    put_le16(b + 4, h.gso_size);
    put_le16(b + 6, h.csum_start);
    put_le16(b + 8, h.csum_offset);
    put_le16(b + 10, h.num_buffers);
}

}  // namespace

VirtioNet::VirtioNet(const uint8_t mac[6], unsigned pairs, uint16_t mtu)
    : max_pairs_(pairs == 0 ? 1 : pairs > max_pairs_limit ? max_pairs_limit : pairs), mtu_(mtu)
{
    __builtin_memcpy(mac_, mac, 6);
}

void VirtioNet::connect(net::Bridge* bridge, unsigned port, Clock clock, void* ctx)
{
    bridge_ = bridge;
    port_ = port;
    clock_ = clock;
    clock_ctx_ = ctx;
}

void VirtioNet::set_link(bool up)
{
    if (up == link_up_) return;
    link_up_ = up;
    if (transport_) transport_->config_changed();  // 5.1.4.2: status changes are configuration changes
}

uint64_t VirtioNet::device_features() const
{
    namespace f = net_feature;
    return f::csum | f::guest_csum | f::mtu | f::mac | f::guest_tso4 | f::guest_tso6 | f::host_tso4 | f::host_tso6 |
           f::mrg_rxbuf | f::status | f::ctrl_vq | f::ctrl_rx | (max_pairs_ > 1 ? f::mq : 0);
}

unsigned VirtioNet::ctrl_queue() const { return has(net_feature::mq) ? 2 * max_pairs_ : 2; }

uint32_t VirtioNet::config_read(uint32_t offset, unsigned size)
{
    uint8_t b[sizeof(VirtioNetConfig)] = {};
    __builtin_memcpy(b, mac_, 6);
    put_le16(b + 6, link_up_ ? net_status_link_up : 0);
    put_le16(b + 8, uint16_t(max_pairs_));
    put_le16(b + 10, mtu_);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && offset + i < sizeof b; ++i) v |= uint32_t(b[offset + i]) << (8 * i);
    return v;
}

void VirtioNet::reset()
{
    // Back to what the device is before a driver: one pair, the receive
    // filter open (as QEMU starts: drivers narrow it through CTRL_RX).
    active_pairs_ = 1;
    last_tx_pair_ = 0;
    promisc_ = true;
    allmulti_ = false;
    uc_overflow_ = mc_overflow_ = false;
    uc_count_ = mc_count_ = 0;
    rx_nbufs_ = rx_nsegs_ = 0;
}

lib::Status VirtioNet::queue_notify(unsigned q)
{
    if (has(net_feature::ctrl_vq) && q == ctrl_queue()) return handle_ctrl();
    const unsigned pairs = has(net_feature::mq) ? max_pairs_ : 1;
    if (q < 2 * pairs && (q & 1)) return drain_tx(q);
    // A receive queue's kick only says buffers were added: frames that
    // found none were dropped, nothing waits for them.
    return {};
}

// ------------------------------------------------------------------ transmit

lib::Status VirtioNet::drain_tx(unsigned q)
{
    if (!transport_ || !transport_->live()) return {};
    Virtqueue* vq = transport_->queue(q);
    if (!vq) return {};
    bool used = false;
    for (;;) {
        vq->disable_notify();
        for (;;) {
            auto r = vq->pop(chain_);
            if (!r) return lib::err(r.error());
            if (!*r) break;
            // 5.1.6.2: transmit buffers are device-readable and start with
            // the header; anything else is the driver breaking the device.
            if (chain_.writable || chain_.readable < hdr_size) {
                vq->set_broken();
                return lib::err(lib::Error::invalid);
            }
            uint8_t hb[hdr_size];
            (void)chain_.read(0, hb, hdr_size);
            const VirtioNetHdr h = decode_hdr(hb);
            // The frame: the readable bytes after the header, as spans.
            net::Frame f;
            uint64_t skip = hdr_size;
            for (unsigned i = 0; i < chain_.count; ++i) {
                const Segment& s = chain_.seg[i];
                if (skip >= s.len) {
                    skip -= s.len;
                    continue;
                }
                spans_[f.count++] = {s.host + skip, uint32_t(s.len - skip)};
                skip = 0;
            }
            f.spans = spans_;
            f.len = uint32_t(chain_.readable - hdr_size);
            bool ok = f.len >= net::eth_hlen;
            const uint8_t gso = h.gso_type & uint8_t(~net_hdr::gso_ecn);
            if (h.flags & net_hdr::f_needs_csum) {
                // 5.1.6.2: only with CSUM; the checksum field must lie in the frame.
                ok = ok && has(net_feature::csum) && uint32_t(h.csum_start) + h.csum_offset + 2 <= f.len;
                f.off.needs_csum = true;
                f.off.csum_start = h.csum_start;
                f.off.csum_offset = h.csum_offset;
            }
            if (gso == net_hdr::gso_tcpv4) {
                ok = ok && has(net_feature::host_tso4);
                f.off.gso = net::Gso::tcpv4;
            } else if (gso == net_hdr::gso_tcpv6) {
                ok = ok && has(net_feature::host_tso6);
                f.off.gso = net::Gso::tcpv6;
            } else if (gso != net_hdr::gso_none) {
                ok = false;  // UDP fragmentation offload is not offered
            }
            if (f.off.gso != net::Gso::none) {
                // 5.1.6.2.1: a GSO packet also asks for its checksum.
                ok = ok && f.off.needs_csum && h.gso_size > 0 && f.len <= net::max_gso_frame;
                f.off.gso_size = h.gso_size;
                f.off.ecn = h.gso_type & net_hdr::gso_ecn;
            } else {
                ok = ok && f.len <= net::max_plain_frame;
            }
            if (!ok) ++stats_.tx_malformed;
            else if (bridge_) {
                last_tx_pair_ = q / 2;
                bridge_->input(port_, f, clock_ ? clock_(clock_ctx_) : 0);
            }
            TRY(vq->push(chain_.head, 0));
            used = true;
        }
        if (!vq->enable_notify()) break;
    }
    if (used) transport_->queue_used(q);
    return {};
}

// ------------------------------------------------------------------- receive

bool VirtioNet::accepts(const uint8_t* dst) const
{
    if (promisc_ || net::is_broadcast(dst)) return true;
    if (net::is_multicast(dst)) {
        if (allmulti_ || mc_overflow_) return true;
        for (unsigned i = 0; i < mc_count_; ++i)
            if (net::mac_equal(mc_[i], dst)) return true;
        return false;
    }
    if (net::mac_equal(dst, mac_) || uc_overflow_) return true;
    for (unsigned i = 0; i < uc_count_; ++i)
        if (net::mac_equal(uc_[i], dst)) return true;
    return false;
}

BridgePort::Delivery VirtioNet::deliver(const net::Frame& f)
{
    if (!transport_ || !transport_->live() || !link_up_) return Delivery::dropped;
    uint8_t dst[6];
    if (f.read(0, dst, 6) != 6) return Delivery::dropped;
    if (!accepts(dst)) return Delivery::filtered;
    const bool guest_csum = has(net_feature::guest_csum);
    if (f.off.gso != net::Gso::none) {
        const bool takes = !f.off.ecn && guest_csum &&
                           has(f.off.gso == net::Gso::tcpv4 ? net_feature::guest_tso4 : net_feature::guest_tso6);
        if (takes) {
            // Unsegmented: the receiver's stack takes the GSO packet as is
            // (5.1.6.4: gso fields as the sender gave them, NEEDS_CSUM).
            VirtioNetHdr h{};
            h.gso_type = f.off.gso == net::Gso::tcpv4 ? net_hdr::gso_tcpv4 : net_hdr::gso_tcpv6;
            h.gso_size = f.off.gso_size;
            uint8_t head[net::TcpSegmenter::max_header];
            auto th = net::parse_tcp_headers(head, f.read(0, head, sizeof head), f.off.gso);
            if (!th) return Delivery::dropped;
            h.hdr_len = th->hdr_len;
            return receive_packet(nullptr, 0, f, 0, f.len, h, f.off);
        }
        net::TcpSegmenter seg;
        if (!seg.start(f)) return Delivery::dropped;
        ++stats_.rx_segmented;
        net::TcpSegmenter::Segment s;
        Delivery result = Delivery::delivered;
        while (seg.next(s)) {
            Delivery d = receive_packet(s.header, s.hdr_len, f, s.payload_from, s.payload_len, VirtioNetHdr{}, s.off);
            if (d != Delivery::delivered) result = d;
        }
        return result;
    }
    return receive_packet(nullptr, 0, f, 0, f.len, VirtioNetHdr{}, f.off);
}

BridgePort::Delivery VirtioNet::receive_packet(const uint8_t* prefix, uint32_t prefix_len, const net::Frame& f,
                                               uint32_t from, uint32_t n, VirtioNetHdr hdr, const net::Offload& off)
{
    const unsigned pair = last_tx_pair_ < active_pairs_ ? last_tx_pair_ : 0;
    const unsigned q = 2 * pair;
    Virtqueue* vq = transport_->queue(q);
    if (!vq) return Delivery::dropped;
    const bool mrg = has(net_feature::mrg_rxbuf);
    const uint64_t total = hdr_size + uint64_t(prefix_len) + n;
    // Collect receive chains until the packet fits: one without MRG_RXBUF
    // (5.1.6.3.1: each buffer then holds a whole packet), as many as it
    // takes with it. Too few: give them all back and drop.
    rx_nbufs_ = rx_nsegs_ = 0;
    uint64_t cap = 0;
    auto give_back = [&] {
        for (unsigned i = rx_nbufs_; i-- > 0;) (void)vq->unpop(rx_bufs_[i].head);
        rx_nbufs_ = rx_nsegs_ = 0;
    };
    while (cap < total) {
        if (rx_nbufs_ == max_rx_bufs || (!mrg && rx_nbufs_ == 1)) {
            give_back();
            ++stats_.rx_too_big;
            return Delivery::dropped;
        }
        auto r = vq->pop(rx_chain_);
        if (!r) {
            transport_->device_error();  // the ring is broken: DEVICE_NEEDS_RESET
            return Delivery::dropped;
        }
        if (!*r) {
            give_back();
            ++stats_.rx_no_buffer;
            return Delivery::dropped;
        }
        // 5.1.6.3: receive buffers are device-writable only, and the first
        // must hold at least the header.
        if (rx_chain_.readable || (rx_nbufs_ == 0 && rx_chain_.writable < hdr_size)) {
            vq->set_broken();
            transport_->device_error();
            return Delivery::dropped;
        }
        if (rx_nsegs_ + rx_chain_.count > rx_seg_pool) {
            (void)vq->unpop(rx_chain_.head);
            give_back();
            ++stats_.rx_too_big;
            return Delivery::dropped;
        }
        RxBuf& b = rx_bufs_[rx_nbufs_++];
        b.head = rx_chain_.head;
        b.first_seg = uint16_t(rx_nsegs_);
        b.nseg = uint16_t(rx_chain_.count);
        b.cap = uint32_t(rx_chain_.writable);
        for (unsigned i = 0; i < rx_chain_.count; ++i) rx_segs_[rx_nsegs_++] = rx_chain_.seg[i];
        cap += rx_chain_.writable;
    }
    // The packet, after the header.
    if (prefix_len) rx_write(hdr_size, prefix, prefix_len);
    rx_write_frame(hdr_size + prefix_len, f, from, n);
    const bool guest_csum = has(net_feature::guest_csum);
    hdr.flags = 0;
    if (off.needs_csum) {
        if (guest_csum) {
            hdr.flags = net_hdr::f_needs_csum;
            hdr.csum_start = off.csum_start;
            hdr.csum_offset = off.csum_offset;
        } else {
            // Complete it here: the sum from csum_start to the end (the
            // field holds the pseudo-header sum already), stored at
            // csum_start + csum_offset. Summed over what the receiver got.
            const uint64_t start = hdr_size + uint64_t(off.csum_start);
            const uint16_t c = net::finish(rx_sum(start, total - start));
            const uint8_t be[2] = {uint8_t(c >> 8), uint8_t(c)};
            rx_write(start + off.csum_offset, be, 2);
            ++stats_.rx_csum_completed;
        }
    } else if (off.data_valid && guest_csum) {
        hdr.flags = net_hdr::f_data_valid;  // 5.1.6.4: only with GUEST_CSUM
    }
    hdr.num_buffers = uint16_t(rx_nbufs_);  // 1 without MRG_RXBUF (5.1.6.4)
    uint8_t hb[hdr_size];
    encode_hdr(hdr, hb);
    rx_write(0, hb, hdr_size);
    // Every buffer but the last is used in full (5.1.6.4.1).
    uint64_t left = total;
    for (unsigned i = 0; i < rx_nbufs_; ++i) {
        const uint32_t used = uint32_t(left < rx_bufs_[i].cap ? left : rx_bufs_[i].cap);
        left -= used;
        if (!vq->push(rx_bufs_[i].head, used)) {
            transport_->device_error();
            return Delivery::dropped;
        }
    }
    rx_nbufs_ = rx_nsegs_ = 0;
    transport_->queue_used(q);
    return Delivery::delivered;
}

void VirtioNet::rx_write(uint64_t at, const uint8_t* src, uint64_t n)
{
    for_each_piece(rx_segs_, rx_nsegs_, at, n, [&](uint8_t* dst, uint64_t k) {
        __builtin_memcpy(dst, src, k);
        src += k;
        return true;
    });
}

void VirtioNet::rx_write_frame(uint64_t at, const net::Frame& f, uint32_t from, uint32_t n)
{
    // The one copy: from the sender's spans straight into our segments.
    for_each_piece(rx_segs_, rx_nsegs_, at, n, [&](uint8_t* dst, uint64_t k) {
        if (f.read(from, dst, size_t(k)) != k) return false;  // shorter than it said: cannot happen for a checked Frame
        from += uint32_t(k);
        return true;
    });
}

uint32_t VirtioNet::rx_sum(uint64_t at, uint64_t n) const
{
    uint32_t sum = 0;
    bool odd = false;
    for_each_piece(rx_segs_, rx_nsegs_, at, n, [&](const uint8_t* p, uint64_t k) {
        sum = net::sum_bytes(p, size_t(k), sum, odd);
        odd ^= (k & 1);
        return true;
    });
    return sum;
}

// ------------------------------------------------------------------- control

lib::Status VirtioNet::handle_ctrl()
{
    if (!transport_ || !transport_->live()) return {};
    Virtqueue* vq = transport_->queue(ctrl_queue());
    if (!vq) return {};
    bool used = false;
    for (;;) {
        auto r = vq->pop(chain_);
        if (!r) return lib::err(r.error());
        if (!*r) break;
        // 5.1.6.5: class and command readable, then command data, then the
        // one-byte ack the device writes.
        if (chain_.readable < 2 || chain_.writable < 1) {
            vq->set_broken();
            return lib::err(lib::Error::invalid);
        }
        uint8_t cmd[2];
        (void)chain_.read(0, cmd, 2);
        static constexpr size_t max_data = 2 * (4 + 6 * 256);  // two MAC tables of 256 entries
        uint8_t data[max_data];
        const uint64_t len = chain_.readable - 2;
        uint8_t ack = net_ctrl::err;
        if (len <= max_data) {
            (void)chain_.read(2, data, size_t(len));
            ack = ctrl_command(cmd[0], cmd[1], data, size_t(len));
        }
        (void)chain_.write(0, &ack, 1);
        TRY(vq->push(chain_.head, 1));
        used = true;
    }
    if (used) transport_->queue_used(ctrl_queue());
    return {};
}

uint8_t VirtioNet::ctrl_command(uint8_t cls, uint8_t cmd, const uint8_t* data, size_t len)
{
    using namespace net_ctrl;
    if (cls == class_rx && has(net_feature::ctrl_rx)) {
        // 5.1.6.5.1: one byte, on or off. The other RX commands come with
        // CTRL_RX_EXTRA, not offered.
        if (len != 1 || (cmd != rx_promisc && cmd != rx_allmulti)) return err;
        (cmd == rx_promisc ? promisc_ : allmulti_) = data[0] != 0;
        return ok;
    }
    if (cls == class_mac && cmd == mac_table_set && has(net_feature::ctrl_rx)) {
        // 5.1.6.5.2: a unicast table then a multicast table, each le32
        // entries and that many MACs. More than we keep: all of that kind
        // pass (as QEMU's overflow).
        size_t at = 0;
        unsigned counts[2] = {};
        bool overflow[2] = {};
        for (int t = 0; t < 2; ++t) {
            if (len - at < 4) return err;
            const uint32_t n = le32(data + at);
            at += 4;
            if (n > (len - at) / 6) return err;
            overflow[t] = n > mac_table_entries;
            counts[t] = overflow[t] ? 0 : n;
            uint8_t (*table)[6] = t == 0 ? uc_ : mc_;
            for (unsigned i = 0; i < counts[t]; ++i) __builtin_memcpy(table[i], data + at + 6 * i, 6);
            at += 6ull * n;
        }
        if (at != len) return err;
        uc_count_ = counts[0];
        mc_count_ = counts[1];
        uc_overflow_ = overflow[0];
        mc_overflow_ = overflow[1];
        return ok;
    }
    if (cls == class_mq && cmd == mq_vq_pairs_set && has(net_feature::mq)) {
        // 5.1.6.5.5: 1..max_virtqueue_pairs.
        if (len != 2) return err;
        const uint16_t n = le16(data);
        if (n < 1 || n > max_pairs_) return err;
        active_pairs_ = n;
        if (last_tx_pair_ >= n) last_tx_pair_ = 0;
        return ok;
    }
    return err;  // VLAN, announce, guest offloads, MAC_ADDR_SET: not offered
}

}  // namespace vmm::virtio
