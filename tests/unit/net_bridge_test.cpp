// vmm/net/bridge: learning, ageing and flooding with recording fake ports.
// Unknown unicast, broadcast and multicast frames go to every port but the
// ingress one; a learnt MAC gets its frames alone; an entry ages out after
// the ageing time and the next frame floods again; a MAC that moves follows
// its new port; a detached port's MACs are forgotten and it gets nothing;
// per-port counters add up.
//
// Bad inputs tried: a runt (13 bytes), a multicast source address, a frame
// to a MAC learnt on its own ingress port (filtered, not sent back), a port
// that drops or filters, more MACs than the probe window holds.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/unit/net_packets.hpp"
#include "vmm/net/bridge.hpp"

using namespace vmm::net;
using namespace net_packets;

namespace {

struct FakePort final : BridgePort {
    std::vector<Bytes> got;
    Delivery answer = Delivery::delivered;
    Delivery deliver(const Frame& f) override
    {
        Bytes b(f.len);
        EXPECT_EQ(f.read(0, b.data(), b.size()), b.size());
        got.push_back(b);
        return answer;
    }
};

struct BridgeTest : ::testing::Test {
    Bridge br{"xenbr0"};
    FakePort p[4];
    unsigned id[4] = {};
    uint64_t now = 1'000'000'000;

    void SetUp() override
    {
        for (unsigned i = 0; i < 4; ++i) id[i] = br.attach(p[i], "vif").value();
    }
    void send(unsigned from, const Bytes& b)
    {
        Span s{b.data(), uint32_t(b.size())};
        Frame f;
        f.spans = &s;
        f.count = 1;
        f.len = uint32_t(b.size());
        br.input(id[from], f, now);
    }
    std::vector<size_t> counts() const { return {p[0].got.size(), p[1].got.size(), p[2].got.size(), p[3].got.size()}; }
};

Mac host(uint8_t n) { return Mac{{0x00, 0x16, 0x3e, 0x01, 0x00, n}}; }

}  // namespace

TEST_F(BridgeTest, FloodsThenLearns)
{
    EXPECT_STREQ(br.name(), "xenbr0");
    // A to B, B unknown: flooded to everyone but A.
    send(0, eth(mac_b, mac_a, 0x0800, 50));
    EXPECT_EQ(counts(), (std::vector<size_t>{0, 1, 1, 1}));
    EXPECT_EQ(br.lookup(mac_a.b, now), int(id[0]));
    // B answers A: A is learnt, so only A gets it; B is learnt now.
    send(1, eth(mac_a, mac_b, 0x0800, 50));
    EXPECT_EQ(counts(), (std::vector<size_t>{1, 1, 1, 1}));
    // A to B again: only B.
    send(0, eth(mac_b, mac_a, 0x0800, 50));
    EXPECT_EQ(counts(), (std::vector<size_t>{1, 2, 1, 1}));
    EXPECT_EQ(br.fdb_count(now), 2u);
    EXPECT_EQ(p[1].got.back(), eth(mac_b, mac_a, 0x0800, 50));
}

TEST_F(BridgeTest, BroadcastAndMulticastFlood)
{
    send(1, eth(mac_a, mac_b, 0x0800, 10));  // learn B
    send(0, eth(mac_b, mac_a, 0x0800, 10));  // learn A (to B only)
    const auto before = counts();
    send(0, eth(broadcast, mac_a, 0x0806, 28));
    send(0, eth(mcast, mac_a, 0x0800, 28));
    EXPECT_EQ(p[0].got.size(), before[0]);
    for (int i = 1; i < 4; ++i) EXPECT_EQ(p[i].got.size(), before[i] + 2) << i;
}

TEST_F(BridgeTest, EntriesAgeOut)
{
    br.set_ageing(10'000'000'000ull);  // 10 s
    send(1, eth(mac_a, mac_b, 0x0800, 10));
    EXPECT_EQ(br.lookup(mac_b.b, now), int(id[1]));
    now += 9'000'000'000ull;
    send(0, eth(mac_b, mac_a, 0x0800, 10));
    EXPECT_EQ(counts(), (std::vector<size_t>{1, 1, 1, 1}));  // the flood, then B alone
    now += 2'000'000'000ull;  // 11 s after B was last seen
    EXPECT_EQ(br.lookup(mac_b.b, now), -1);
    EXPECT_EQ(br.lookup(mac_a.b, now), int(id[0]));  // A was seen 2 s ago
    send(0, eth(mac_b, mac_a, 0x0800, 10));
    EXPECT_EQ(counts(), (std::vector<size_t>{1, 2, 2, 2}));  // flooded again
    // Seeing B again refreshes it.
    send(1, eth(mac_a, mac_b, 0x0800, 10));
    EXPECT_EQ(br.lookup(mac_b.b, now), int(id[1]));
}

TEST_F(BridgeTest, MacMovesWithItsHost)
{
    send(1, eth(broadcast, mac_b, 0x0806, 28));
    EXPECT_EQ(br.lookup(mac_b.b, now), int(id[1]));
    send(2, eth(broadcast, mac_b, 0x0806, 28));  // B now behind port 2
    EXPECT_EQ(br.lookup(mac_b.b, now), int(id[2]));
    const auto before = counts();
    send(0, eth(mac_b, mac_a, 0x0800, 10));
    EXPECT_EQ(p[2].got.size(), before[2] + 1);
    EXPECT_EQ(p[1].got.size(), before[1]);
}

TEST_F(BridgeTest, NeverBackToTheIngressPort)
{
    send(1, eth(broadcast, mac_b, 0x0806, 28));
    send(1, eth(broadcast, mac_c, 0x0806, 28));  // B and C both behind port 1
    const auto before = counts();
    send(1, eth(mac_c, mac_b, 0x0800, 10));  // filtered: the destination is on the same port
    EXPECT_EQ(counts(), before);
    EXPECT_EQ(br.stats(id[1]).rx_packets, 3u);
}

TEST_F(BridgeTest, DetachForgets)
{
    send(1, eth(broadcast, mac_b, 0x0806, 28));
    br.detach(id[1]);
    EXPECT_FALSE(br.attached(id[1]));
    EXPECT_EQ(br.lookup(mac_b.b, now), -1);
    const auto before = counts();
    send(0, eth(mac_b, mac_a, 0x0800, 10));  // unknown again: flooded to 2 and 3 only
    EXPECT_EQ(p[1].got.size(), before[1]);
    EXPECT_EQ(p[2].got.size(), before[2] + 1);
    EXPECT_EQ(p[3].got.size(), before[3] + 1);
    // Its slot is reused by the next port.
    FakePort again;
    EXPECT_EQ(br.attach(again, "vif9.0").value(), id[1]);
    EXPECT_STREQ(br.port_name(id[1]), "vif9.0");
    EXPECT_EQ(br.stats(id[1]).tx_packets, 0u);
}

TEST_F(BridgeTest, CountersAndBadFrames)
{
    p[2].answer = BridgePort::Delivery::dropped;
    p[3].answer = BridgePort::Delivery::filtered;
    send(0, eth(broadcast, mac_a, 0x0806, 28));  // 42 bytes
    const PortStats& a = br.stats(id[0]);
    EXPECT_EQ(a.rx_packets, 1u);
    EXPECT_EQ(a.rx_bytes, 42u);
    EXPECT_EQ(br.stats(id[1]).tx_packets, 1u);
    EXPECT_EQ(br.stats(id[1]).tx_bytes, 42u);
    EXPECT_EQ(br.stats(id[2]).tx_dropped, 1u);
    EXPECT_EQ(br.stats(id[2]).tx_packets, 0u);
    EXPECT_EQ(br.stats(id[3]).tx_dropped, 0u);  // filtered is not a drop
    EXPECT_EQ(br.stats(id[3]).tx_packets, 0u);
    // A runt and a multicast source: counted as the sender's rx drops,
    // nothing forwarded, nothing learnt.
    const auto before = counts();
    Bytes runt = eth(broadcast, mac_a, 0x0806, 0);
    runt.pop_back();
    send(0, runt);
    send(0, eth(broadcast, mcast, 0x0806, 28));
    EXPECT_EQ(counts(), before);
    EXPECT_EQ(a.rx_dropped, 2u);
    EXPECT_EQ(a.rx_packets, 1u);
    EXPECT_EQ(br.lookup(mcast.b, now), -1);
}

TEST_F(BridgeTest, FullTableStillForwards)
{
    // Many more hosts than the table holds: learning fails for some (the
    // probe window is full of live entries), forwarding never does.
    for (unsigned n = 0; n < 2000; ++n) {
        Mac m{{0x02, 0x00, uint8_t(n >> 8), uint8_t(n), 0x00, 0x01}};
        send(1 + n % 3, eth(broadcast, m, 0x0806, 28));
    }
    EXPECT_LE(br.fdb_count(now), size_t(Bridge::fdb_size));
    EXPECT_GT(br.fdb_full(), 0u);
    EXPECT_EQ(p[0].got.size(), 2000u);
    // Once they age out, new hosts are learnt again.
    now += Bridge::default_ageing_ns;
    send(1, eth(broadcast, host(7), 0x0806, 28));
    EXPECT_EQ(br.lookup(host(7).b, now), int(id[1]));
    EXPECT_EQ(br.fdb_count(now), 1u);
}
