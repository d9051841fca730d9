// Dom0's uplink: the virtio-net card driver (drivers/virtio/virtio_net_nic)
// against this project's virtio-net device model, and the Uplink port
// (vmm/hostdev/uplink) that joins the card to Dom0's bridge. The device
// model sits on a bridge of its own, "the wire", where a test port plays the
// outside world; a second test port on xenbr0 plays a guest.
//
// What a user would check: frames from the guest reach the world unchanged;
// frames from the world reach the guest; a guest's TCP frame of 20 KB with
// a partial checksum (GSO) leaves as MSS-sized segments with valid IPv4 and
// TCP checksums; a UDP frame's partial checksum is completed; many frames
// in a row (more than the card's buffers) all arrive, as the driver reposts
// receive buffers and reclaims transmit slots; a frame a card says it
// verified the checksums of reaches the guests marked data_valid (their
// DATA_VALID), others unmarked.
//
// Bad inputs tried: frames shorter than an Ethernet header and longer than
// the card takes (refused, counted as dropped by the uplink); a GSO frame
// whose headers are not TCP (dropped); a device that reports a used length
// shorter than the virtio-net header (the frame is dropped and counted,
// the buffer reposted, later frames fine); a function that is not a
// virtio-net card.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "drivers/virtio/virtio_net_nic.hpp"
#include "tests/unit/drivers/sim_platform.hpp"
#include "tests/unit/net_packets.hpp"
#include "vmm/hostdev/uplink.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/virtio/virtio_net.hpp"
#include "vmm/virtio/virtio_pci.hpp"

using namespace net_packets;
using simplat::SimPlatform;

namespace {

constexpr uint64_t bar_base = 0xfe000000ull;
const Mac card_mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

uint64_t test_clock(void*) { return 1; }

struct Capture final : vmm::net::BridgePort {
    std::vector<Bytes> got;
    std::vector<vmm::net::Offload> offs;
    Delivery deliver(const vmm::net::Frame& f) override
    {
        Bytes b(f.len);
        f.read(0, b.data(), b.size());
        got.push_back(b);
        offs.push_back(f.off);
        return Delivery::delivered;
    }
};

vmm::net::Frame frame_of(const Bytes& b, vmm::net::Span& span, vmm::net::Offload off = {})
{
    span = {b.data(), uint32_t(b.size())};
    vmm::net::Frame f;
    f.spans = &span;
    f.count = 1;
    f.len = uint32_t(b.size());
    f.off = off;
    return f;
}

class NicTest : public ::testing::Test {
protected:
    virtio_fake::FakeRam ram{simplat::ram_base, simplat::ram_bytes};
    virtio_fake::FakeIrq irq;
    vmm::pci::HostBridge bridge_hw;
    SimPlatform plat{bridge_hw, ram, irq};
    vmm::net::Bridge wire{"wire"};
    vmm::net::Bridge xenbr0{"xenbr0"};
    vmm::virtio::VirtioNet model{card_mac.b, 1};
    vmm::virtio::VirtioPci fn_model{model, ram, irq};
    Capture world, guest;
    unsigned world_port = 0, guest_port = 0;
    std::unique_ptr<drivers::pci::FunctionConfig> cfg;
    std::unique_ptr<drivers::pci::Function> fn;
    drivers::virtio::VirtioNetNic nic;
    vmm::hostdev::Uplink uplink;

    void SetUp() override
    {
        ASSERT_TRUE(fn_model.init().ok());
        unsigned slot = bridge_hw.attach(fn_model).value();
        unsigned model_port = wire.attach(model, "card").value();
        model.connect(&wire, model_port, test_clock, nullptr);
        world_port = wire.attach(world, "world").value();
        guest_port = xenbr0.attach(guest, "vif1.0").value();
        cfg = std::make_unique<drivers::pci::FunctionConfig>(plat, drivers::pci::make_bdf(0, slot, 0));
        fn = std::make_unique<drivers::pci::Function>(*cfg);
        cfg->write(0x20, 4, uint32_t(bar_base));
        cfg->write(0x24, 4, uint32_t(bar_base >> 32));
        ASSERT_TRUE(nic.init(*fn, plat).ok());
        ASSERT_TRUE(uplink.attach(nic, xenbr0, "eth0").ok());
    }
    void from_guest(const Bytes& b, vmm::net::Offload off = {})
    {
        vmm::net::Span s;
        xenbr0.input(guest_port, frame_of(b, s, off), 1);
        (void)uplink.poll(1);  // reclaims transmit slots
    }
    void from_world(const Bytes& b)
    {
        vmm::net::Span s;
        wire.input(world_port, frame_of(b, s), 1);
    }
};

TEST_F(NicTest, ReportsItsMacAndLink)
{
    EXPECT_EQ(std::memcmp(nic.mac(), card_mac.b, 6), 0);
    EXPECT_TRUE(nic.link_up());
    EXPECT_NE(nic.event(), ~0u);
    EXPECT_TRUE(fn_model.live());
}

TEST_F(NicTest, FramesCrossInBothDirections)
{
    Bytes out = eth(broadcast, mac_a, 0x0806, 46);
    for (size_t i = 14; i < out.size(); ++i) out[i] = uint8_t(i);
    from_guest(out);
    ASSERT_EQ(world.got.size(), 1u);
    EXPECT_EQ(world.got[0], out);

    Bytes in = eth(mac_a, mac_b, 0x0800, 1000);
    for (size_t i = 14; i < in.size(); ++i) in[i] = uint8_t(i * 7);
    from_world(in);
    EXPECT_EQ(uplink.poll(2), 1u);
    ASSERT_EQ(guest.got.size(), 1u);
    EXPECT_EQ(guest.got[0], in);
    EXPECT_FALSE(guest.offs[0].data_valid);  // the guest checks what came from outside
    EXPECT_EQ(xenbr0.stats(uplink.port()).rx_packets, 1u);
    EXPECT_EQ(nic.stats().tx_packets, 1u);
    EXPECT_EQ(nic.stats().rx_packets, 1u);
}

TEST_F(NicTest, ManyFramesPastTheCardsBuffers)
{
    from_guest(eth(broadcast, mac_a, 0x0806, 46));  // the bridge learns the guest's MAC
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 40; ++i) {
            Bytes in = eth(mac_a, mac_b, 0x0800, 60 + i);
            in[20] = uint8_t(round);
            in[21] = uint8_t(i);
            from_world(in);
            Bytes out = eth(mac_b, mac_a, 0x0800, 100 + i);
            out[20] = uint8_t(round);
            from_guest(out);
        }
        (void)uplink.poll(3);
    }
    EXPECT_EQ(guest.got.size(), 400u);
    EXPECT_EQ(world.got.size(), 401u);
    EXPECT_EQ(uplink.tx_dropped(), 0u);
    for (size_t k = 0; k < guest.got.size(); ++k) {
        EXPECT_EQ(guest.got[k][20], uint8_t(k / 40));
        EXPECT_EQ(guest.got[k][21], uint8_t(k % 40));
    }
}

TEST_F(NicTest, GsoFramesLeaveAsCheckedSegments)
{
    Bytes big = tcp_frame(mac_b, mac_a, false, 20000, true);
    vmm::net::Offload off;
    off.needs_csum = true;
    off.csum_start = 14 + 20;
    off.csum_offset = 16;
    off.gso = vmm::net::Gso::tcpv4;
    off.gso_size = 1448;
    from_guest(big, off);
    ASSERT_EQ(world.got.size(), (20000 + 1447) / 1448);
    size_t payload = 0;
    for (const Bytes& s : world.got) {
        EXPECT_LE(s.size(), 1514u);
        EXPECT_TRUE(tcp_checksum_ok(s, false));
        payload += s.size() - 14 - 20 - 20;
    }
    EXPECT_EQ(payload, 20000u);
    EXPECT_EQ(std::memcmp(world.got[0].data() + 54, big.data() + 54, 1448), 0);

    // A plain frame with a partial checksum: completed.
    Bytes small = tcp_frame(mac_b, mac_a, false, 300, true);
    vmm::net::Offload part;
    part.needs_csum = true;
    part.csum_start = 34;
    part.csum_offset = 16;
    from_guest(small, part);
    ASSERT_EQ(world.got.size(), (20000 + 1447) / 1448 + 1);
    EXPECT_TRUE(tcp_checksum_ok(world.got.back(), false));

    // A GSO frame that is not TCP is dropped, not sent half-made.
    Bytes arp = eth(mac_b, mac_a, 0x0806, 3000);
    vmm::net::Offload bad;
    bad.gso = vmm::net::Gso::tcpv4;
    bad.gso_size = 1000;
    size_t before = world.got.size();
    from_guest(arp, bad);
    EXPECT_EQ(world.got.size(), before);
    EXPECT_EQ(uplink.tx_dropped(), 1u);
}

TEST_F(NicTest, RefusesWhatTheWireCannotTake)
{
    uint8_t tiny[10] = {};
    EXPECT_EQ(nic.transmit(tiny, sizeof tiny).error(), lib::Error::invalid);
    Bytes huge(1600, 0);
    EXPECT_EQ(nic.transmit(huge.data(), huge.size()).error(), lib::Error::invalid);
    Bytes jumbo = eth(mac_b, mac_a, 0x0800, 3000);  // no GSO: too big for the wire
    from_guest(jumbo);
    EXPECT_TRUE(world.got.empty());
    EXPECT_EQ(uplink.tx_dropped(), 1u);
    from_guest(eth(mac_b, mac_a, 0x0800, 100));
    EXPECT_EQ(world.got.size(), 1u);  // and the next frame goes
}

TEST_F(NicTest, ADeviceReportingAShortFrameIsCountedNotDelivered)
{
    from_guest(eth(broadcast, mac_a, 0x0806, 46));
    // Let the model fill a buffer, then forge its used length below the header.
    from_world(eth(mac_a, mac_b, 0x0800, 100));
    // The receive queue's used ring, through the model's common config.
    ASSERT_TRUE(bridge_hw.bar_write(vmm::pci::Space::memory, bar_base + 0x16, 2, 0));
    uint64_t lo = 0, hi = 0, size = 0;
    ASSERT_TRUE(bridge_hw.bar_read(vmm::pci::Space::memory, bar_base + 0x30, 4, lo));
    ASSERT_TRUE(bridge_hw.bar_read(vmm::pci::Space::memory, bar_base + 0x34, 4, hi));
    ASSERT_TRUE(bridge_hw.bar_read(vmm::pci::Space::memory, bar_base + 0x18, 2, size));
    uint64_t used = lo | hi << 32;
    uint16_t idx = ram.get16(used + 2);
    ram.put32(used + 4 + 8ull * ((idx - 1) % size) + 4, 5);  // the last used entry's length
    EXPECT_EQ(uplink.poll(2), 0u);
    EXPECT_EQ(nic.stats().rx_errors, 1u);
    EXPECT_TRUE(guest.got.empty());
    from_world(eth(mac_a, mac_b, 0x0800, 100));
    EXPECT_EQ(uplink.poll(3), 1u);
    EXPECT_EQ(guest.got.size(), 1u);
}

// A card with receive checksum offload (as drivers/e1000e): its verdict
// travels with the frame through the bridge.
struct CheckingCard final : drivers::Nic {
    std::vector<std::pair<Bytes, uint32_t>> inbox;
    drivers::NicStats st;
    uint8_t m[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
    const uint8_t* mac() const override { return m; }
    bool link_up() override { return true; }
    size_t max_frame() const override { return 1518; }
    lib::Status transmit(const void*, size_t) override { return {}; }
    unsigned poll(Receive rx, void* ctx) override
    {
        for (auto& [b, flags] : inbox) rx(ctx, b.data(), b.size(), flags);
        unsigned n = unsigned(inbox.size());
        inbox.clear();
        return n;
    }
    uint32_t event() const override { return ~0u; }
    const drivers::NicStats& stats() const override { return st; }
};

TEST(UplinkOffload, VerifiedChecksumsReachTheGuestsAsDataValid)
{
    vmm::net::Bridge br{"xenbr0"};
    Capture guest;
    unsigned gp = br.attach(guest, "vif1.0").value();
    (void)gp;
    CheckingCard card;
    vmm::hostdev::Uplink up;
    ASSERT_TRUE(up.attach(card, br, "eth0").ok());
    const Mac guest_mac{{0x00, 0x16, 0x3e, 0x00, 0x00, 0x01}};
    const Mac far{{0x52, 0x54, 0x00, 0x99, 0x99, 0x99}};
    card.inbox.push_back({tcp_frame(guest_mac, far, false, 1000, false), drivers::rx_checksum_verified});
    card.inbox.push_back({tcp_frame(guest_mac, far, true, 500, false), 0});
    card.inbox.push_back({tcp_frame(guest_mac, far, false, 100, false), drivers::rx_checksum_verified | 0x80});
    EXPECT_EQ(up.poll(1), 3u);
    ASSERT_EQ(guest.got.size(), 3u);  // flooded: the bridge has not learnt the guest's MAC
    EXPECT_TRUE(guest.offs[0].data_valid);
    EXPECT_FALSE(guest.offs[1].data_valid) << "the card did not check it";
    EXPECT_TRUE(guest.offs[2].data_valid) << "flags it does not know are ignored";
    for (const auto& o : guest.offs) EXPECT_FALSE(o.needs_csum);
}

TEST(NicProbe, RefusesAFunctionThatIsNotAVirtioNetCard)
{
    virtio_fake::FakeRam ram{simplat::ram_base, simplat::ram_bytes};
    virtio_fake::FakeIrq irq;
    vmm::pci::HostBridge hw;
    SimPlatform plat{hw, ram, irq};
    drivers::pci::FunctionConfig c(plat, drivers::pci::make_bdf(0, 0, 0));
    drivers::pci::Function f(c);
    drivers::virtio::VirtioNetNic n;
    EXPECT_EQ(n.init(f, plat).error(), lib::Error::unsupported);
}

}  // namespace
