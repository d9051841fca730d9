// virtio-net (vmm/virtio/virtio_net) over virtio-pci, two or three guests
// on one bridge, each driven as Linux's virtio_net drives its device:
// identity, features and configuration; frames between guests; checksum
// offload both ways (NEEDS_CSUM kept for a GUEST_CSUM peer, completed in
// software for one without; DATA_VALID for host-verified frames); GSO
// passed unsegmented to a GUEST_TSO peer and segmented for one without;
// mergeable receive buffers (num_buffers, every buffer but the last used in
// full, buffers given back when too few); the control queue (promiscuous,
// all-multicast, MAC tables, VQ_PAIRS_SET and receive steering).
//
// Hostile drivers tried, each must leave that device in DEVICE_NEEDS_RESET
// and the others working: a transmit chain with a writable buffer, a
// transmit chain shorter than its header (8 bytes), a descriptor loop (a
// chain longer than the queue), a buffer address outside guest RAM, a
// zero-length buffer, a next index past the queue, a head past the queue
// size, avail->idx
// jumping by more than the queue size (and, in its own test, a head
// published twice while in flight), a receive chain with a readable
// buffer, a first receive buffer smaller than the header, a control chain
// without an ack byte. Bad frames in well-formed chains, each dropped and
// counted with the device still working: a runt, a frame over 1518 bytes
// without GSO, NEEDS_CSUM without CSUM negotiated, a checksum offset past
// the end, GSO without NEEDS_CSUM, UDP GSO, GSO with gso_size 0; bad
// control commands (wrong length, unknown class, a MAC table count past
// its data, trailing bytes, pairs 0 and past the maximum) answer ERR.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "tests/unit/net_packets.hpp"
#include "tests/unit/virtio_fake.hpp"
#include "tests/unit/virtio_pci_driver.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_net.hpp"

using namespace vmm::virtio;
using namespace virtio_fake;
using namespace net_packets;
namespace nf = vmm::virtio::net_feature;

namespace {

constexpr uint64_t ram_base = 0x100000;
constexpr uint64_t all_features = feature::version_1 | feature::event_idx | nf::csum | nf::guest_csum | nf::mtu |
                                  nf::mac | nf::guest_tso4 | nf::guest_tso6 | nf::host_tso4 | nf::host_tso6 |
                                  nf::mrg_rxbuf | nf::status | nf::ctrl_vq | nf::ctrl_rx | nf::mq;

struct Pkt {
    VirtioNetHdr hdr;
    Bytes frame;
};

uint64_t fake_clock(void* ctx) { return *static_cast<uint64_t*>(ctx); }

struct Guest {
    FakeRam ram{ram_base, 4 << 20};
    FakeIrq irq;
    VirtioNet net;
    VirtioPci vp{net, ram, irq};
    vmm::pci::HostBridge bus;
    PciDriver drv{bus, 0};
    DriverRing rx{ram, 128, ram_base + 0x1000};
    DriverRing tx{ram, 64, ram_base + 0x3000};
    DriverRing ctrl{ram, 16, ram_base + 0x5000};
    DriverRing rx1{ram, 128, ram_base + 0x7000};
    DriverRing tx1{ram, 64, ram_base + 0x9000};
    uint64_t next_buf = ram_base + 0x20000;
    std::map<uint16_t, uint64_t> rx_bufs;   // head -> buffer
    std::map<uint16_t, uint64_t> rx1_bufs;
    unsigned port = 0;

    explicit Guest(const Mac& m, unsigned pairs = 1) : net(m.b, pairs) {}

    void init(vmm::net::Bridge& br, uint64_t* now, const char* name)
    {
        ASSERT_TRUE(vp.init().ok());
        drv.slot = bus.attach(vp).value();
        drv.probe();
        port = br.attach(net, name).value();
        net.connect(&br, port, fake_clock, now);
    }
    uint64_t alloc(size_t n)
    {
        if (next_buf + n > ram_base + ram.mem.size()) next_buf = ram_base + 0x20000;
        const uint64_t at = next_buf;
        next_buf = (next_buf + n + 63) & ~63ull;
        return at;
    }
    bool up(uint64_t features)
    {
        const unsigned nq = net.num_queues();
        drv.enable_msix(nq + 1);
        if (!drv.negotiate(features)) return false;
        drv.wr(drv.common + 16, 2, 0);
        const bool mq = features & nf::mq && nq > 3;
        bool ok = drv.setup_queue(0, rx, 1) && drv.setup_queue(1, tx, 2);
        if (mq) ok = ok && drv.setup_queue(2, rx1, 3) && drv.setup_queue(3, tx1, 4);
        if (features & nf::ctrl_vq) ok = ok && drv.setup_queue(uint16_t(mq ? nq - 1 : 2), ctrl, uint16_t(mq ? 5 : 3));
        drv.add_status(status::driver_ok);
        return ok && vp.live();
    }
    // A driver starting over: reset, fresh rings, queues again.
    bool reup(uint64_t features)
    {
        for (DriverRing* r : {&rx, &tx, &ctrl, &rx1, &tx1}) {
            r->restart();
            ram.put16(r->avail, 0);
            ram.put16(r->avail + 2, 0);
        }
        rx_bufs.clear();
        rx1_bufs.clear();
        return up(features);
    }
    bool needs_reset() { return drv.status() & status::device_needs_reset; }

    void post_rx(unsigned n, uint32_t size, unsigned pair = 0)
    {
        DriverRing& r = pair ? rx1 : rx;
        for (unsigned i = 0; i < n; ++i) {
            const uint64_t b = alloc(size);
            (pair ? rx1_bufs : rx_bufs)[r.add({{b, size, true}})] = b;
        }
        drv.kick(uint16_t(2 * pair));
    }
    // Transmits header + frame as two descriptors (Linux's layout without
    // any_header_sg) on pair `pair`.
    void send(const VirtioNetHdr& h, const Bytes& f, unsigned pair = 0)
    {
        const uint64_t hb = alloc(sizeof h), fb = alloc(f.size());
        std::memcpy(ram.at(hb), &h, sizeof h);
        std::memcpy(ram.at(fb), f.data(), f.size());
        (pair ? tx1 : tx).add({{hb, uint32_t(sizeof h), false}, {fb, uint32_t(f.size()), false}});
        drv.kick(uint16_t(2 * pair + 1));
    }
    void send(const Bytes& f) { send(VirtioNetHdr{}, f); }
    // Packets completed on a receive queue since the last call.
    std::vector<Pkt> received(unsigned pair = 0)
    {
        DriverRing& r = pair ? rx1 : rx;
        auto& bufs = pair ? rx1_bufs : rx_bufs;
        std::vector<Pkt> out;
        while (r.last_used != r.used_idx()) {
            auto e = r.used_elem(r.last_used++);
            const uint64_t b = bufs.at(uint16_t(e.id));
            Pkt p;
            std::memcpy(&p.hdr, ram.at(b), sizeof p.hdr);
            EXPECT_GE(e.len, sizeof p.hdr);
            p.frame.assign(ram.at(b) + sizeof p.hdr, ram.at(b) + e.len);
            for (unsigned k = 1; k < p.hdr.num_buffers; ++k) {
                EXPECT_NE(r.last_used, r.used_idx());
                auto e2 = r.used_elem(r.last_used++);
                const uint64_t b2 = bufs.at(uint16_t(e2.id));
                p.frame.insert(p.frame.end(), ram.at(b2), ram.at(b2) + e2.len);
            }
            out.push_back(p);
        }
        return out;
    }
    // Sends one control command; returns the ack byte (0xee: none written).
    uint8_t command(uint8_t cls, uint8_t cmd, const Bytes& data)
    {
        const uint64_t hb = alloc(2), db = alloc(data.size() + 1), ab = alloc(1);
        ram.at(hb)[0] = cls;
        ram.at(hb)[1] = cmd;
        if (!data.empty()) std::memcpy(ram.at(db), data.data(), data.size());
        ram.at(ab)[0] = 0xee;
        std::vector<Buf> chain{{hb, 2, false}};
        if (!data.empty()) chain.push_back({db, uint32_t(data.size()), false});
        chain.push_back({ab, 1, true});
        ctrl.add(chain);
        drv.kick(uint16_t(net.ctrl_queue()));
        return ram.at(ab)[0];
    }
};

VirtioNetHdr csum_hdr(uint16_t start, uint16_t offset)
{
    VirtioNetHdr h{};
    h.flags = net_hdr::f_needs_csum;
    h.csum_start = start;
    h.csum_offset = offset;
    return h;
}

VirtioNetHdr gso_hdr(bool v6, uint16_t mss)
{
    VirtioNetHdr h = csum_hdr(uint16_t(v6 ? 54 : 34), 16);
    h.gso_type = v6 ? net_hdr::gso_tcpv6 : net_hdr::gso_tcpv4;
    h.gso_size = mss;
    h.hdr_len = uint16_t(v6 ? 74 : 54);
    return h;
}

Bytes mac_table(const std::vector<Mac>& uc, const std::vector<Mac>& mc)
{
    Bytes d;
    for (const auto* t : {&uc, &mc}) {
        const uint32_t n = uint32_t(t->size());
        for (int i = 0; i < 4; ++i) d.push_back(uint8_t(n >> (8 * i)));
        for (const Mac& m : *t) d.insert(d.end(), m.b, m.b + 6);
    }
    return d;
}

struct NetTest : ::testing::Test {
    vmm::net::Bridge br{"xenbr0"};
    uint64_t now = 1'000'000'000;
    Guest a{mac_a}, b{mac_b}, c{mac_c};

    void SetUp() override
    {
        a.init(br, &now, "vif1.0");
        b.init(br, &now, "vif2.0");
        c.init(br, &now, "vif3.0");
    }
};

}  // namespace

TEST_F(NetTest, IdentityFeaturesConfig)
{
    EXPECT_EQ(a.drv.cfg(0, 2), pci_vendor_id);
    EXPECT_EQ(a.drv.cfg(2, 2), 0x1041u);
    EXPECT_EQ(a.drv.cfg(8) >> 8, 0x020000u);  // network controller, Ethernet
    const uint64_t f = a.drv.device_features();
    for (uint64_t want : {feature::version_1, feature::event_idx, nf::csum, nf::guest_csum, nf::mtu, nf::mac,
                          nf::guest_tso4, nf::guest_tso6, nf::host_tso4, nf::host_tso6, nf::mrg_rxbuf, nf::status,
                          nf::ctrl_vq, nf::ctrl_rx})
        EXPECT_TRUE(f & want) << std::hex << want;
    EXPECT_FALSE(f & nf::mq);  // one pair: no MQ
    EXPECT_FALSE(f & (nf::guest_ufo | nf::host_ufo | nf::ctrl_vlan | nf::host_ecn | nf::guest_ecn));
    for (int i = 0; i < 6; ++i) EXPECT_EQ(a.drv.rd(a.drv.device + i, 1), mac_a.b[i]);
    EXPECT_EQ(a.drv.rd(a.drv.device + 6, 2), net_status_link_up);
    EXPECT_EQ(a.drv.rd(a.drv.device + 8, 2), 1u);  // max_virtqueue_pairs
    EXPECT_EQ(a.drv.rd(a.drv.device + 10, 2), 1500u);
    EXPECT_EQ(a.drv.rd(a.drv.common + 18, 2), 3u);  // rx, tx, ctrl
    // Link down is a configuration change.
    ASSERT_TRUE(a.up(all_features));
    const size_t msgs = a.irq.msgs.size();
    a.net.set_link(false);
    EXPECT_EQ(a.drv.rd(a.drv.device + 6, 2), 0u);
    EXPECT_EQ(a.irq.msgs.size(), msgs + 1);
}

// event_idx=0 on a vif: VIRTIO_F_EVENT_IDX is not offered, and every used
// buffer interrupts (no used_event to wait for).
TEST_F(NetTest, EventIdxOff)
{
    a.net.set_event_idx_offered(false);
    EXPECT_FALSE(a.drv.device_features() & feature::event_idx);
    EXPECT_TRUE(b.drv.device_features() & feature::event_idx);
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    a.post_rx(8, 2048);
    b.post_rx(8, 2048);
    const size_t before = a.irq.msgs.size();
    for (int i = 0; i < 3; ++i) b.send(eth(mac_a, mac_b, 0x0800, 100));
    EXPECT_EQ(a.received().size(), 3u);
    EXPECT_EQ(a.irq.msgs.size(), before + 3);
}

TEST_F(NetTest, FramesBetweenGuests)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    ASSERT_TRUE(c.up(all_features & ~nf::mrg_rxbuf));
    b.post_rx(8, 2048);
    c.post_rx(8, 2048);
    a.post_rx(8, 2048);
    // A broadcast reaches B and C, byte for byte, one buffer each.
    const Bytes arp = eth(broadcast, mac_a, 0x0806, 28);
    a.send(arp);
    for (Guest* g : {&b, &c}) {
        auto got = g->received();
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].frame, arp);
        EXPECT_EQ(got[0].hdr.num_buffers, 1);
        EXPECT_EQ(got[0].hdr.flags, 0);
        EXPECT_EQ(got[0].hdr.gso_type, 0);
    }
    EXPECT_TRUE(a.received().empty());
    // B answers A by unicast: A only (it was learnt).
    const Bytes reply = eth(mac_a, mac_b, 0x0806, 28);
    b.send(reply);
    auto got = a.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, reply);
    EXPECT_TRUE(c.received().empty());
    // The transmit buffers came back, and the bridge counted.
    EXPECT_EQ(a.tx.used_idx(), 1);
    EXPECT_EQ(br.stats(a.port).rx_packets, 1u);
    EXPECT_EQ(br.stats(a.port).tx_packets, 1u);
    EXPECT_EQ(br.stats(b.port).tx_bytes, arp.size());
    // A guest that posted no buffers drops (counted), the others still get it.
    Guest d{Mac{{0x00, 0x16, 0x3e, 0, 0, 0x0d}}};
    d.init(br, &now, "vif4.0");
    ASSERT_TRUE(d.up(all_features));
    a.send(arp);
    EXPECT_EQ(b.received().size(), 1u);
    EXPECT_EQ(d.net.stats().rx_no_buffer, 1u);
    EXPECT_EQ(br.stats(d.port).tx_dropped, 1u);
    br.detach(d.port);
}

TEST_F(NetTest, PartialChecksumKeptOrCompleted)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));                  // GUEST_CSUM
    ASSERT_TRUE(c.up(all_features & ~(nf::guest_csum | nf::guest_tso4 | nf::guest_tso6)));  // none
    b.post_rx(8, 2048);
    c.post_rx(8, 2048);
    for (bool v6 : {false, true}) {
        const Bytes f = tcp_frame(broadcast, mac_a, v6, 700, true);
        const uint16_t l4 = uint16_t(v6 ? 54 : 34);
        a.send(csum_hdr(l4, 16), f);
        auto gb = b.received();
        ASSERT_EQ(gb.size(), 1u);
        EXPECT_EQ(gb[0].hdr.flags, net_hdr::f_needs_csum);
        EXPECT_EQ(gb[0].hdr.csum_start, l4);
        EXPECT_EQ(gb[0].hdr.csum_offset, 16);
        EXPECT_EQ(gb[0].frame, f);  // still partial: B's stack completes it if it forwards
        auto gc = c.received();
        ASSERT_EQ(gc.size(), 1u);
        EXPECT_EQ(gc[0].hdr.flags, 0);
        EXPECT_TRUE(tcp_checksum_ok(gc[0].frame, v6)) << v6;
        EXPECT_EQ(Bytes(gc[0].frame.begin() + l4 + 18, gc[0].frame.end()), Bytes(f.begin() + l4 + 18, f.end()));
    }
    EXPECT_EQ(c.net.stats().rx_csum_completed, 2u);
    // A frame with a full checksum passes untouched, no flags.
    const Bytes full = tcp_frame(broadcast, mac_a, false, 100, false);
    a.send(full);
    auto gc = c.received();
    ASSERT_EQ(gc.size(), 1u);
    EXPECT_EQ(gc[0].frame, full);
    EXPECT_EQ(gc[0].hdr.flags, 0);
    EXPECT_EQ(b.received().at(0).hdr.flags, 0);
}

TEST_F(NetTest, HostVerifiedFramesAreDataValid)
{
    // A port of the host's (an uplink NIC that checked the checksum).
    ASSERT_TRUE(b.up(all_features));
    ASSERT_TRUE(c.up(all_features & ~(nf::guest_csum | nf::guest_tso4 | nf::guest_tso6)));
    b.post_rx(4, 2048);
    c.post_rx(4, 2048);
    struct Uplink final : vmm::net::BridgePort {
        Delivery deliver(const vmm::net::Frame&) override { return Delivery::delivered; }
    } up;
    const unsigned port = br.attach(up, "uplink").value();
    const Bytes f = tcp_frame(broadcast, mac_c, false, 300, false);
    vmm::net::Span s{f.data(), uint32_t(f.size())};
    vmm::net::Frame fr;
    fr.spans = &s;
    fr.count = 1;
    fr.len = uint32_t(f.size());
    fr.off.data_valid = true;
    br.input(port, fr, now);
    EXPECT_EQ(b.received().at(0).hdr.flags, net_hdr::f_data_valid);
    EXPECT_EQ(c.received().at(0).hdr.flags, 0);  // 5.1.6.4: no flags without GUEST_CSUM
}

TEST_F(NetTest, GsoPassedOrSegmented)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));  // GUEST_TSO4/6 and mergeable buffers
    ASSERT_TRUE(c.up(all_features & ~(nf::guest_tso4 | nf::guest_tso6)));
    b.post_rx(60, 1536);
    c.post_rx(60, 1536);
    for (bool v6 : {false, true}) {
        const size_t payload = 10000, mss = 1448;
        const Bytes f = tcp_frame(broadcast, mac_a, v6, payload, true, 0x19);  // PSH ACK FIN
        a.send(gso_hdr(v6, mss), f);
        // B: one packet, unsegmented, over several mergeable buffers.
        auto gb = b.received();
        ASSERT_EQ(gb.size(), 1u);
        EXPECT_EQ(gb[0].hdr.gso_type, v6 ? net_hdr::gso_tcpv6 : net_hdr::gso_tcpv4);
        EXPECT_EQ(gb[0].hdr.gso_size, mss);
        EXPECT_EQ(gb[0].hdr.hdr_len, v6 ? 74 : 54);
        EXPECT_EQ(gb[0].hdr.flags, net_hdr::f_needs_csum);
        EXPECT_EQ(gb[0].hdr.num_buffers, (12 + f.size() + 1535) / 1536);
        EXPECT_EQ(gb[0].frame, f);
        // C: MSS-sized segments, each with valid checksums (C has
        // GUEST_CSUM, so the TCP checksum comes as NEEDS_CSUM: complete it).
        auto gc = c.received();
        ASSERT_EQ(gc.size(), (payload + mss - 1) / mss);
        Bytes joined;
        const size_t hl = v6 ? 74 : 54;
        for (size_t i = 0; i < gc.size(); ++i) {
            Pkt& p = gc[i];
            EXPECT_EQ(p.hdr.gso_type, 0);
            ASSERT_EQ(p.hdr.flags, net_hdr::f_needs_csum);
            ASSERT_GE(p.frame.size(), hl);
            const size_t start = p.hdr.csum_start;
            put16(&p.frame[start + p.hdr.csum_offset],
                  uint16_t(~word_sum(&p.frame[start], p.frame.size() - start)));
            EXPECT_TRUE(tcp_checksum_ok(p.frame, v6)) << i;
            EXPECT_EQ(be32(&p.frame[hl - 20 + 4]), 0x10000000u + i * mss);
            EXPECT_EQ(bool(p.frame[hl - 20 + 13] & 0x01), i + 1 == gc.size());
            joined.insert(joined.end(), p.frame.begin() + long(hl), p.frame.end());
        }
        EXPECT_EQ(joined, Bytes(f.begin() + long(hl), f.end()));
    }
    EXPECT_EQ(c.net.stats().rx_segmented, 2u);
}

TEST_F(NetTest, GsoSegmentedAndCompletedWithoutGuestCsum)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(c.up(feature::version_1 | nf::mac));  // a minimal driver
    c.post_rx(20, 1600);
    const Bytes f = tcp_frame(mac_c, mac_a, false, 5000, true);
    a.send(gso_hdr(false, 1000), f);
    auto gc = c.received();
    ASSERT_EQ(gc.size(), 5u);
    for (auto& p : gc) {
        EXPECT_EQ(p.hdr.flags, 0);
        EXPECT_EQ(p.hdr.num_buffers, 1);
        EXPECT_EQ(p.frame.size(), 54u + 1000);
        EXPECT_TRUE(tcp_checksum_ok(p.frame, false));
    }
}

TEST_F(NetTest, MergeableBuffers)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    // 1000-byte buffers; a 1500-byte frame plus the header takes two.
    b.post_rx(3, 1000);
    const Bytes big = eth(mac_b, mac_a, 0x0800, 1486);
    a.send(big);
    EXPECT_EQ(b.rx.used_elem(0).len, 1000u);  // the first in full
    EXPECT_EQ(b.rx.used_elem(1).len, 12u + 1500 - 1000);
    auto got = b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hdr.num_buffers, 2);
    EXPECT_EQ(got[0].frame, big);
    // One buffer left: the next big frame does not fit, is dropped, and the
    // buffer is given back for a small one.
    a.send(big);
    EXPECT_TRUE(b.received().empty());
    EXPECT_EQ(b.net.stats().rx_no_buffer, 1u);
    const Bytes small = eth(mac_b, mac_a, 0x0800, 100);
    a.send(small);
    got = b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, small);
    // More than a packet may take (max_rx_bufs chains): dropped as too big.
    b.post_rx(VirtioNet::max_rx_bufs + 6, 64);
    a.send(gso_hdr(false, 1448), tcp_frame(mac_b, mac_a, false, 8000, true));
    EXPECT_TRUE(b.received().empty());
    EXPECT_EQ(b.net.stats().rx_too_big, 1u);
    EXPECT_FALSE(b.needs_reset());
}

TEST_F(NetTest, WithoutMergeableOneBufferPerPacket)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features & ~nf::mrg_rxbuf));
    b.post_rx(1, 500);
    a.send(eth(mac_b, mac_a, 0x0800, 1000));  // does not fit 500 bytes: dropped, buffer kept
    EXPECT_TRUE(b.received().empty());
    EXPECT_EQ(b.net.stats().rx_too_big, 1u);
    const Bytes f = eth(mac_b, mac_a, 0x0800, 400);
    a.send(f);
    auto got = b.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hdr.num_buffers, 1);  // 5.1.6.4: 1 without MRG_RXBUF
    EXPECT_EQ(got[0].frame, f);
}

TEST_F(NetTest, ControlQueueReceiveFilter)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    b.post_rx(32, 2048);
    EXPECT_TRUE(b.net.promisc());  // open until the driver narrows it
    const Bytes to_c = eth(mac_c, mac_a, 0x0800, 50);
    a.send(to_c);  // C unknown: flooded, B promiscuous takes it
    EXPECT_EQ(b.received().size(), 1u);
    EXPECT_EQ(b.command(net_ctrl::class_rx, net_ctrl::rx_promisc, {0}), net_ctrl::ok);
    EXPECT_FALSE(b.net.promisc());
    a.send(to_c);
    EXPECT_TRUE(b.received().empty());  // filtered: not a drop
    EXPECT_EQ(br.stats(b.port).tx_dropped, 0u);
    a.send(eth(mac_b, mac_a, 0x0800, 50));  // its own MAC
    a.send(eth(broadcast, mac_a, 0x0806, 28));
    EXPECT_EQ(b.received().size(), 2u);
    a.send(eth(mcast, mac_a, 0x0800, 50));
    EXPECT_TRUE(b.received().empty());
    // MAC tables: C as an extra unicast address, mcast as a group.
    EXPECT_EQ(b.command(net_ctrl::class_mac, net_ctrl::mac_table_set, mac_table({mac_c}, {mcast})), net_ctrl::ok);
    a.send(to_c);
    a.send(eth(mcast, mac_a, 0x0800, 50));
    EXPECT_EQ(b.received().size(), 2u);
    Mac other{{0x01, 0x00, 0x5e, 0, 0, 1}};
    a.send(eth(other, mac_a, 0x0800, 50));
    EXPECT_TRUE(b.received().empty());
    EXPECT_EQ(b.command(net_ctrl::class_rx, net_ctrl::rx_allmulti, {1}), net_ctrl::ok);
    a.send(eth(other, mac_a, 0x0800, 50));
    EXPECT_EQ(b.received().size(), 1u);
    // A table longer than kept: every address of that kind passes.
    std::vector<Mac> many(VirtioNet::mac_table_entries + 1, mac_a);
    EXPECT_EQ(b.command(net_ctrl::class_mac, net_ctrl::mac_table_set, mac_table(many, {})), net_ctrl::ok);
    a.send(eth(Mac{{0x02, 0, 0, 0, 0, 9}}, mac_a, 0x0800, 50));
    EXPECT_EQ(b.received().size(), 1u);
    // Bad commands: ERR, nothing changed, the device goes on.
    EXPECT_EQ(b.command(net_ctrl::class_rx, net_ctrl::rx_promisc, {}), net_ctrl::err);
    EXPECT_EQ(b.command(net_ctrl::class_rx, net_ctrl::rx_promisc, {1, 1}), net_ctrl::err);
    EXPECT_EQ(b.command(net_ctrl::class_rx, 7, {1}), net_ctrl::err);
    EXPECT_EQ(b.command(9, 0, {1}), net_ctrl::err);
    Bytes lying = mac_table({mac_c}, {});
    lying[0] = 3;  // three entries, data for one
    EXPECT_EQ(b.command(net_ctrl::class_mac, net_ctrl::mac_table_set, lying), net_ctrl::err);
    Bytes trailing = mac_table({}, {});
    trailing.push_back(0);
    EXPECT_EQ(b.command(net_ctrl::class_mac, net_ctrl::mac_table_set, trailing), net_ctrl::err);
    EXPECT_EQ(b.command(net_ctrl::class_mac, net_ctrl::mac_addr_set, Bytes(mac_c.b, mac_c.b + 6)), net_ctrl::err);
    EXPECT_EQ(b.command(net_ctrl::class_mq, net_ctrl::mq_vq_pairs_set, {1, 0}), net_ctrl::err);  // no MQ here
    EXPECT_FALSE(b.net.promisc());
    EXPECT_FALSE(b.needs_reset());
    // CTRL_RX not negotiated: RX commands refused.
    ASSERT_TRUE(c.reup(all_features & ~nf::ctrl_rx));
    EXPECT_EQ(c.command(net_ctrl::class_rx, net_ctrl::rx_promisc, {0}), net_ctrl::err);
}

TEST(NetMq, PairsAndSteering)
{
    vmm::net::Bridge br{"xenbr0"};
    uint64_t now = 0;
    Guest a{mac_a, 2}, b{mac_b, 2};
    a.init(br, &now, "vif1.0");
    b.init(br, &now, "vif2.0");
    EXPECT_TRUE(a.drv.device_features() & nf::mq);
    EXPECT_EQ(a.drv.rd(a.drv.device + 8, 2), 2u);
    EXPECT_EQ(a.drv.rd(a.drv.common + 18, 2), 5u);
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    EXPECT_EQ(b.net.ctrl_queue(), 4u);
    b.post_rx(4, 2048, 0);
    b.post_rx(4, 2048, 1);
    a.post_rx(4, 2048, 0);
    a.post_rx(4, 2048, 1);
    EXPECT_EQ(b.command(net_ctrl::class_mq, net_ctrl::mq_vq_pairs_set, {0, 0}), net_ctrl::err);
    EXPECT_EQ(b.command(net_ctrl::class_mq, net_ctrl::mq_vq_pairs_set, {3, 0}), net_ctrl::err);
    EXPECT_EQ(b.command(net_ctrl::class_mq, net_ctrl::mq_vq_pairs_set, {2, 0}), net_ctrl::ok);
    EXPECT_EQ(b.net.active_pairs(), 2u);
    // B transmits on pair 1: what comes back to it arrives on pair 1.
    b.send(VirtioNetHdr{}, eth(broadcast, mac_b, 0x0806, 28), 1);
    EXPECT_EQ(b.tx1.used_idx(), 1);
    EXPECT_EQ(a.received(0).size(), 1u);  // A still uses one pair
    a.send(eth(mac_b, mac_a, 0x0800, 60));
    EXPECT_EQ(b.received(1).size(), 1u);
    EXPECT_TRUE(b.received(0).empty());
    // Back to one pair: pair 0 again.
    EXPECT_EQ(b.command(net_ctrl::class_mq, net_ctrl::mq_vq_pairs_set, {1, 0}), net_ctrl::ok);
    a.send(eth(mac_b, mac_a, 0x0800, 60));
    EXPECT_EQ(b.received(0).size(), 1u);
}

TEST_F(NetTest, BadFramesAreDroppedNotFatal)
{
    ASSERT_TRUE(a.up(all_features & ~(nf::csum | nf::host_tso4 | nf::host_tso6)));
    ASSERT_TRUE(b.up(all_features));
    ASSERT_TRUE(c.up(all_features));
    b.post_rx(16, 2048);
    c.post_rx(16, 2048);
    a.send(Bytes(13, 0xff));                      // a runt
    a.send(eth(broadcast, mac_a, 0x0800, 1505));  // 1519 bytes, no GSO
    a.send(csum_hdr(34, 16), tcp_frame(broadcast, mac_a, false, 10, true));          // CSUM not negotiated
    a.send(gso_hdr(false, 1000), tcp_frame(broadcast, mac_a, false, 3000, true));    // HOST_TSO4 not negotiated
    EXPECT_EQ(a.net.stats().tx_malformed, 4u);
    EXPECT_TRUE(b.received().empty());
    EXPECT_EQ(a.tx.used_idx(), 4);  // all returned
    EXPECT_FALSE(a.needs_reset());
    // B negotiated everything; its bad offload fields are dropped too.
    b.send(csum_hdr(34, 100), tcp_frame(broadcast, mac_b, false, 10, true));  // field past the end
    VirtioNetHdr no_csum = gso_hdr(false, 1000);
    no_csum.flags = 0;
    b.send(no_csum, tcp_frame(broadcast, mac_b, false, 3000, true));
    VirtioNetHdr udp = gso_hdr(false, 1000);
    udp.gso_type = net_hdr::gso_udp;
    b.send(udp, tcp_frame(broadcast, mac_b, false, 3000, true));
    b.send(gso_hdr(false, 0), tcp_frame(broadcast, mac_b, false, 3000, true));
    EXPECT_EQ(b.net.stats().tx_malformed, 4u);
    EXPECT_TRUE(c.received().empty());
    // A GSO frame that is not TCP is refused by the receiver that must cut it.
    ASSERT_TRUE(c.reup(all_features & ~(nf::guest_tso4 | nf::guest_tso6)));
    c.post_rx(16, 2048);
    b.send(gso_hdr(false, 1000), eth(broadcast, mac_b, 0x0806, 3000));
    EXPECT_TRUE(c.received().empty());
    EXPECT_EQ(br.stats(c.port).tx_dropped, 1u);
    // All still work.
    const Bytes ok = eth(broadcast, mac_b, 0x0806, 28);
    b.send(ok);
    EXPECT_EQ(c.received().size(), 1u);
    EXPECT_FALSE(b.needs_reset());
    EXPECT_FALSE(c.needs_reset());
}

// ------------------------------------------------------------ hostile rings

namespace {

struct HostileCase {
    const char* what;
    void (*make)(Guest& g);
};

void hostile_writable_tx(Guest& g)
{
    const uint64_t b = g.alloc(100);
    g.tx.add({{b, 12, false}, {b + 12, 60, true}});
    g.drv.kick(1);
}
void hostile_short_header(Guest& g)
{
    const uint64_t b = g.alloc(8);
    g.tx.add({{b, 8, false}});
    g.drv.kick(1);
}
void hostile_loop(Guest& g)
{
    const uint64_t b = g.alloc(100);
    g.tx.set_desc(0, b, 12, desc_f_next, 1);
    g.tx.set_desc(1, b + 12, 60, desc_f_next, 0);
    g.tx.publish(0);
    g.drv.kick(1);
}
void hostile_outside_ram(Guest& g)
{
    g.tx.add({{0x100, 12, false}, {0xfff00000ull, 60, false}});
    g.drv.kick(1);
}
void hostile_zero_len(Guest& g)
{
    const uint64_t b = g.alloc(100);
    g.tx.add({{b, 12, false}, {b + 12, 0, false}});
    g.drv.kick(1);
}
void hostile_next_out_of_queue(Guest& g)
{
    const uint64_t b = g.alloc(100);
    g.tx.set_desc(0, b, 12, desc_f_next, 200);  // next past the 64-entry table
    g.tx.publish(0);
    g.drv.kick(1);
}
void hostile_head_range(Guest& g)
{
    g.tx.publish(64);
    g.drv.kick(1);
}
void hostile_avail_jump(Guest& g)
{
    g.tx.avail_idx = uint16_t(g.tx.avail_idx + 65);
    g.ram.put16(g.tx.avail + 2, g.tx.avail_idx);
    g.drv.kick(1);
}
void hostile_readable_rx(Guest& g)
{
    const uint64_t b = g.alloc(2048);
    g.rx.add({{b, 100, false}, {b + 100, 1900, true}});
    g.drv.kick(0);
}
void hostile_tiny_rx(Guest& g)
{
    const uint64_t b = g.alloc(8);
    g.rx.add({{b, 8, true}});
    g.drv.kick(0);
}
void hostile_ctrl_no_ack(Guest& g)
{
    const uint64_t b = g.alloc(8);
    g.ram.at(b)[0] = net_ctrl::class_rx;
    g.ctrl.add({{b, 3, false}});
    g.drv.kick(2);
}

}  // namespace

TEST_F(NetTest, HostileDriversBreakOnlyTheirDevice)
{
    const HostileCase cases[] = {
        {"writable transmit buffer", hostile_writable_tx},
        {"transmit header too short", hostile_short_header},
        {"descriptor loop", hostile_loop},
        {"address outside RAM", hostile_outside_ram},
        {"zero-length buffer", hostile_zero_len},
        {"next past the queue", hostile_next_out_of_queue},
        {"head past the queue", hostile_head_range},
        {"avail index jump", hostile_avail_jump},
        {"readable receive buffer", hostile_readable_rx},
        {"receive buffer under the header", hostile_tiny_rx},
        {"control chain without ack", hostile_ctrl_no_ack},
    };
    ASSERT_TRUE(b.up(all_features));
    ASSERT_TRUE(c.up(all_features));
    for (const HostileCase& hc : cases) {
        SCOPED_TRACE(hc.what);
        // A fresh driver for A each time.
        ASSERT_TRUE(a.reup(all_features));
        hc.make(a);
        // Receive-side faults show when a frame arrives for A.
        c.post_rx(2, 2048);
        b.send(eth(broadcast, mac_b, 0x0806, 28));
        EXPECT_TRUE(a.needs_reset());
        EXPECT_FALSE(a.vp.live());
        // B and C unaffected: C got B's broadcast, and the next one.
        EXPECT_EQ(c.received().size(), 1u);
        b.send(eth(broadcast, mac_b, 0x0806, 28));
        EXPECT_EQ(c.received().size(), 1u);
        EXPECT_FALSE(b.needs_reset());
        EXPECT_FALSE(c.needs_reset());
    }
}

TEST_F(NetTest, HeadReusedWhileInFlight)
{
    // The receive side holds chains in flight while it collects buffers for
    // a mergeable packet: an avail ring naming the same head twice is caught
    // there.
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    const uint64_t buf = b.alloc(1000);
    b.rx.set_desc(0, buf, 1000, desc_f_write, 0);
    b.rx.publish(0);
    b.rx.publish(0);
    b.drv.kick(0);
    a.send(eth(mac_b, mac_a, 0x0800, 1486));  // needs two buffers: the second pop meets head 0 again
    EXPECT_TRUE(b.needs_reset());
    EXPECT_TRUE(b.received().empty());
}

TEST_F(NetTest, ResetRecovers)
{
    ASSERT_TRUE(a.up(all_features));
    ASSERT_TRUE(b.up(all_features));
    hostile_short_header(a);
    EXPECT_TRUE(a.needs_reset());
    // The driver resets and starts over: the device works again.
    ASSERT_TRUE(a.reup(all_features));
    EXPECT_FALSE(a.needs_reset());
    b.post_rx(2, 2048);
    a.send(eth(broadcast, mac_a, 0x0806, 28));
    EXPECT_EQ(b.received().size(), 1u);
}
