// drivers/e1000e through the Nic interface on a simulated 82574L
// (e1000e_sim.hpp): bring-up (the station address from RAL0/RAH0, or from
// the EEPROM through EERD when the load left RAH0.AV clear; the link
// following the cable; event() the bound MSI's; the receiver promiscuous
// with broadcast, CRC stripped, 2 KiB buffers; TIPG and TCTL as the
// datasheet recommends; every MTA entry cleared; receive checksum offload
// on, a frame whose IPv4 header and TCP or UDP checksums the card verified
// handed on as rx_checksum_verified, one with a bad or unchecked checksum
// handed on unmarked, not dropped), frames of 14, 60, 1514 and
// 1518 bytes transmitted byte-identical (the short ones padded by the
// card), many more frames than the transmit ring holds with poll()
// reclaiming, a full ring refused as busy (counted) until the card
// completes, many frames received byte-identical across several ring
// wraps, frames for other MACs received (promiscuous), an overrun when the
// driver does not poll (the card drops, the driver keeps working after),
// received frames kept while the transmit ring is full, the stats counters,
// MSIs on receive, transmit and link change with IMS set, a 64-bit BAR0
// above 4 GiB, a 32-bit MSI capability, no MSI at all (polled), a slow reset
// and a card firmware left running. The simulator records any breach of the
// datasheet by the driver, and every Rig expects none when it ends.
//
// Bad inputs tried: a function of another vendor or device ID
// (unsupported); BAR0 an I/O BAR or absent (unsupported); a reset that
// never ends and an EEPROM that never answers (busy, in simulated time, no
// hang); station addresses all zeros, multicast and broadcast, from RAL0 and
// from EERD (invalid); transmit of 0, 13 and 1519 bytes (invalid, nothing
// sent); a received frame with CE set and one spanning two descriptors
// (dropped, counted in rx_errors, the frames around them delivered); calls
// on a card that was never initialized.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "drivers/e1000e/e1000e.hpp"
#include "tests/unit/drivers/e1000e_sim.hpp"
#include "tests/unit/net_packets.hpp"

namespace {

using drivers::e1000e::E1000eNic;
using e1000e_sim::Bytes;
using e1000e_sim::InjectOptions;
using e1000e_sim::Rx;
using e1000e_sim::SimE1000e;
using e1000e_sim::SimMemory;
using e1000e_sim::SimOptions;
using e1000e_sim::SimPlatform;
namespace r = e1000e_sim::r;

constexpr uint64_t ms = 1000 * 1000;
constexpr uint32_t all_causes = e1000e_sim::icr_rxt0 | e1000e_sim::icr_rxo | e1000e_sim::icr_rxdmt0 |
                                e1000e_sim::icr_txdw | e1000e_sim::icr_lsc;

struct Rig {
    SimMemory mem;
    SimE1000e dev;
    SimPlatform platform{dev, mem};
    E1000eNic card;
    drivers::Nic& nic = card;
    std::vector<Bytes> got;
    std::vector<uint32_t> flags;

    explicit Rig(SimOptions o = {}) : dev(mem, o) {}
    ~Rig() { EXPECT_EQ(dev.violations, std::vector<std::string>{}); }
    lib::Status init()
    {
        drivers::pci::Function fn(dev);
        return card.init(fn, platform);
    }
    unsigned poll() { return nic.poll(collect, this); }
    static void collect(void* ctx, const uint8_t* frame, size_t len, uint32_t flags)
    {
        static_cast<Rig*>(ctx)->got.emplace_back(frame, frame + len);
        static_cast<Rig*>(ctx)->flags.push_back(flags);
    }
};

// The station address SimOptions puts in the EEPROM.
const uint8_t* default_mac()
{
    static const SimOptions o;
    return o.mac;
}

// A frame of len bytes to dst from mac_b, of the local experimental
// EtherType (so that no checksum applies), random payload.
Bytes frame(const uint8_t* dst, size_t len, uint32_t seed)
{
    Bytes f(len);
    std::mt19937 g(seed);
    for (auto& b : f) b = uint8_t(g());
    std::memcpy(f.data(), dst, 6);
    std::memcpy(f.data() + 6, net_packets::mac_b.b, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    return f;
}
Bytes to_card(size_t len, uint32_t seed) { return frame(default_mac(), len, seed); }

// The frames as a list of their sizes, for failure messages.
std::string sizes(const std::vector<Bytes>& frames)
{
    std::string s = "{";
    for (size_t i = 0; i < frames.size(); ++i) s += (i ? ", " : "") + std::to_string(frames[i].size());
    return s + "}";
}
::testing::AssertionResult same_frames(const std::vector<Bytes>& got, const std::vector<Bytes>& want)
{
    for (size_t i = 0; i < got.size() && i < want.size(); ++i)
        if (got[i] != want[i])
            return ::testing::AssertionFailure() << "frame " << i << " differs; got " << got.size() << " frames "
                                                 << sizes(got) << ", want " << want.size() << " " << sizes(want);
    if (got.size() != want.size())
        return ::testing::AssertionFailure() << "got " << got.size() << " frames " << sizes(got) << ", want "
                                             << want.size() << " " << sizes(want);
    return ::testing::AssertionSuccess();
}

TEST(E1000eNic, BringsTheCardUp)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(std::memcmp(rig.nic.mac(), default_mac(), 6), 0);
    EXPECT_EQ(rig.dev.eeprom_reads, 0u);  // RAR0 held it
    EXPECT_EQ(rig.dev.resets, 1u);
    EXPECT_TRUE(rig.nic.link_up());
    EXPECT_EQ(rig.nic.event(), SimPlatform::event);
    EXPECT_EQ(rig.nic.max_frame(), 1518u);
    // RAR0 keeps the address, valid.
    EXPECT_EQ(rig.dev.peek(r::ral0), 0x3c211b00u);
    EXPECT_EQ(rig.dev.peek(r::rah0), 0x5e4du | e1000e_sim::rah_av);
    // Receiver: EN, UPE, MPE, BAM, SECRC; BSIZE 00 with BSEX 0 (2048), no
    // long packets, no bad packets, legacy descriptors, no loopback.
    uint32_t rctl = rig.dev.peek(r::rctl);
    EXPECT_EQ(rctl, 1u << 1 | 1u << 3 | 1u << 4 | 1u << 15 | 1u << 26);
    EXPECT_EQ((rctl >> 16) & 3, 0u);
    EXPECT_EQ(rctl & (1u << 25 | 1u << 5 | 1u << 2), 0u);
    // Transmitter: EN, PSP, CT 15, COLD 63 (full duplex); TIPG 8/8/6.
    uint32_t tctl = rig.dev.peek(r::tctl);
    EXPECT_EQ(tctl & (1u << 1 | 1u << 3), 1u << 1 | 1u << 3);
    EXPECT_EQ((tctl >> 4) & 0xff, 15u);
    EXPECT_EQ((tctl >> 12) & 0x3ff, 63u);
    constexpr uint32_t kept = ~(0xffu << 4 | 0x3ffu << 12 | 1u << 1 | 1u << 3);
    EXPECT_EQ(tctl & kept, e1000e_sim::tctl_default & kept) << "the bits the reset set (RTLC, MULR) are kept";
    uint32_t tipg = rig.dev.peek(r::tipg);
    EXPECT_EQ(tipg & 0x3ff, 8u);
    EXPECT_EQ((tipg >> 10) & 0x3ff, 8u);
    EXPECT_EQ((tipg >> 20) & 0x3ff, 6u);
    // Rings of 64 descriptors; the card owns all but one receive descriptor.
    EXPECT_EQ(rig.dev.peek(r::rdlen), 64u * 16);
    EXPECT_EQ(rig.dev.peek(r::tdlen), 64u * 16);
    EXPECT_EQ(rig.dev.peek(r::rdh), 0u);
    EXPECT_EQ(rig.dev.peek(r::rdt), 63u);
    EXPECT_EQ(rig.dev.peek(r::tdh), 0u);
    EXPECT_EQ(rig.dev.peek(r::tdt), 0u);
    EXPECT_EQ(rig.dev.peek(r::rdtr), 0u);
    for (unsigned i = 0; i < r::mta_entries; ++i) EXPECT_EQ(rig.dev.peek(r::mta + 4 * i), 0u) << i;
    // Receive checksum offload: IPv4 header (IPOFL) and TCP/UDP (TUOFL).
    EXPECT_EQ(rig.dev.peek(r::rxcsum), 1u << 8 | 1u << 9);
    // Interrupts: the causes it handles, through MSI, MSI-X left off.
    EXPECT_EQ(rig.dev.peek(r::ims), all_causes);
    EXPECT_TRUE(rig.dev.msi_enabled());
    EXPECT_FALSE(rig.dev.msix_enabled());
    EXPECT_EQ(rig.dev.msi_address_programmed(), SimPlatform::msi_address);
    EXPECT_EQ(rig.dev.msi_data_programmed(), SimPlatform::msi_data);
    EXPECT_EQ(rig.dev.command() & 6, 6u);  // memory, bus master
    EXPECT_EQ(rig.nic.stats().rx_packets + rig.nic.stats().tx_packets, 0u);
}

TEST(E1000eNic, StationAddressFromTheEepromWhenRar0IsEmpty)
{
    SimOptions o;
    o.mac_loaded = false;
    const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};  // locally administered
    std::memcpy(o.mac, mac, 6);
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(std::memcmp(rig.nic.mac(), mac, 6), 0);
    EXPECT_EQ(rig.dev.eeprom_reads, 3u);
    EXPECT_EQ(rig.dev.peek(r::ral0), 0x33221102u);
    EXPECT_EQ(rig.dev.peek(r::rah0), 0x5544u | e1000e_sim::rah_av);
    // Unicast filtering would now match it too.
    ASSERT_EQ(rig.dev.inject(frame(mac, 100, 1)), Rx::stored);
    EXPECT_EQ(rig.poll(), 1u);
}

TEST(E1000eNic, LinkFollowsTheCable)
{
    SimOptions o;
    o.cable = false;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_FALSE(rig.nic.link_up());
    EXPECT_EQ(rig.dev.msis, 0u);
    rig.dev.set_cable(true);
    EXPECT_TRUE(rig.nic.link_up());
    EXPECT_EQ(rig.dev.msis, 1u);  // LSC
    EXPECT_EQ(rig.poll(), 0u);    // acknowledges it
    rig.dev.set_cable(false);
    EXPECT_FALSE(rig.nic.link_up());
    EXPECT_EQ(rig.dev.msis, 2u);
    EXPECT_EQ(rig.dev.inject(to_card(100, 1)), Rx::no_link);
    rig.dev.set_cable(true);
    EXPECT_TRUE(rig.nic.link_up());
}

TEST(E1000eNic, TransmitsFramesByteIdentical)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    const size_t sizes[] = {14, 60, 1514, 1518};
    std::vector<Bytes> out;
    for (size_t len : sizes) {
        out.push_back(frame(net_packets::mac_c.b, len, uint32_t(len)));
        ASSERT_TRUE(rig.nic.transmit(out.back().data(), len).ok()) << len;
    }
    ASSERT_EQ(rig.dev.sent.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
        Bytes want = out[i];
        if (want.size() < 60) want.resize(60, 0);  // PSP: the card pads
        EXPECT_EQ(rig.dev.sent[i].bytes, want) << sizes[i];
        EXPECT_TRUE(rig.dev.sent[i].fcs) << sizes[i];
    }
    EXPECT_EQ(rig.dev.peek(r::tdh), 4u);
    EXPECT_EQ(rig.nic.stats().tx_packets, 4u);
    EXPECT_EQ(rig.nic.stats().tx_bytes, 14u + 60 + 1514 + 1518);
    EXPECT_EQ(rig.nic.stats().tx_busy, 0u);
}

TEST(E1000eNic, RefusesFramesOfBadLength)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    Bytes f = frame(net_packets::mac_c.b, 1519, 2);
    EXPECT_EQ(rig.nic.transmit(f.data(), 13).error(), lib::Error::invalid);
    EXPECT_EQ(rig.nic.transmit(f.data(), 1519).error(), lib::Error::invalid);
    EXPECT_EQ(rig.nic.transmit(f.data(), 0).error(), lib::Error::invalid);
    EXPECT_TRUE(rig.dev.sent.empty());
    EXPECT_EQ(rig.dev.tx_descriptors, 0u);
    EXPECT_EQ(rig.dev.peek(r::tdt), 0u);
    EXPECT_EQ(rig.nic.stats().tx_packets, 0u);
    EXPECT_EQ(rig.nic.stats().tx_bytes, 0u);
    ASSERT_TRUE(rig.nic.transmit(f.data(), 1518).ok());  // and the next good one goes
    ASSERT_EQ(rig.dev.sent.size(), 1u);
    EXPECT_EQ(rig.dev.sent[0].bytes, Bytes(f.begin(), f.begin() + 1518));
}

// The card takes a while (hold_tx) and poll() reclaims: 1000 frames through
// a ring of 64, in order and intact, never busy.
TEST(E1000eNic, ManyMoreFramesThanTheRingHolds)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    rig.dev.hold_tx = true;
    std::vector<Bytes> out;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < 1000; ++i) {
        out.push_back(frame(net_packets::mac_c.b, 60 + (i * 37) % 1455, i));
        bytes += out.back().size();
        ASSERT_TRUE(rig.nic.transmit(out.back().data(), out.back().size()).ok()) << i;
        if (i % 20 == 19) {
            rig.dev.complete_tx();
            EXPECT_EQ(rig.poll(), 0u);
        }
    }
    rig.dev.complete_tx();
    ASSERT_EQ(rig.dev.sent.size(), 1000u);
    for (unsigned i = 0; i < 1000; ++i) ASSERT_EQ(rig.dev.sent[i].bytes, out[i]) << i;
    EXPECT_EQ(rig.nic.stats().tx_packets, 1000u);
    EXPECT_EQ(rig.nic.stats().tx_bytes, bytes);
    EXPECT_EQ(rig.nic.stats().tx_busy, 0u);
}

// 63 frames fill the ring (one descriptor stays empty); the 64th is busy
// until the card has sent them, round after round so that the ring wraps.
TEST(E1000eNic, FullTransmitRingIsBusyUntilTheCardCompletes)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    rig.dev.hold_tx = true;
    std::vector<Bytes> out;
    for (unsigned round = 0; round < 5; ++round) {
        for (unsigned i = 0; i < 63; ++i) {
            out.push_back(frame(net_packets::mac_c.b, 100 + i, round * 100 + i));
            ASSERT_TRUE(rig.nic.transmit(out.back().data(), out.back().size()).ok()) << round << " " << i;
        }
        Bytes extra = frame(net_packets::mac_c.b, 200, 9999);
        EXPECT_EQ(rig.nic.transmit(extra.data(), extra.size()).error(), lib::Error::busy);
        EXPECT_EQ(rig.nic.transmit(extra.data(), extra.size()).error(), lib::Error::busy);
        EXPECT_EQ(rig.nic.stats().tx_busy, 2u * (round + 1));
        EXPECT_EQ(rig.dev.sent.size(), 63u * round);
        rig.dev.complete_tx();
        EXPECT_EQ(rig.dev.sent.size(), 63u * (round + 1));
        // No poll here: the next transmit reclaims what the card finished.
    }
    ASSERT_EQ(rig.dev.sent.size(), out.size());
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(rig.dev.sent[i].bytes, out[i]) << i;
    EXPECT_EQ(rig.nic.stats().tx_packets, out.size());
}

// Frames the card received must reach poll's callback even when transmit
// found its ring full and reclaimed slots on its own.
TEST(E1000eNic, ReceivedFramesSurviveAFullTransmitRing)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    std::vector<Bytes> in;
    for (unsigned i = 0; i < 3; ++i) {
        in.push_back(to_card(300 + i, 50 + i));
        ASSERT_EQ(rig.dev.inject(in.back()), Rx::stored);
    }
    rig.dev.hold_tx = true;
    Bytes out = frame(net_packets::mac_c.b, 100, 7);
    for (unsigned i = 0; i < 63; ++i) ASSERT_TRUE(rig.nic.transmit(out.data(), out.size()).ok()) << i;
    EXPECT_EQ(rig.nic.transmit(out.data(), out.size()).error(), lib::Error::busy);
    rig.dev.complete_tx();
    EXPECT_TRUE(rig.nic.transmit(out.data(), out.size()).ok());
    EXPECT_EQ(rig.poll(), 3u);
    EXPECT_TRUE(same_frames(rig.got, in));
}

TEST(E1000eNic, ReceivesManyFramesAcrossRingWraps)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    std::vector<Bytes> in;
    uint64_t bytes = 0;
    std::mt19937 g(5);
    unsigned total = 0;
    for (unsigned round = 0; total < 700; ++round) {
        unsigned batch = round == 0 ? 63 : 1 + g() % 63;  // a full ring first
        for (unsigned i = 0; i < batch; ++i) {
            in.push_back(to_card(60 + g() % 1455, total + i));
            bytes += in.back().size();
            ASSERT_EQ(rig.dev.inject(in.back()), Rx::stored) << round << " " << i;
        }
        total += batch;
        ASSERT_EQ(rig.poll(), batch) << round;
        // Every descriptor given back but the last one it read.
        EXPECT_EQ(rig.dev.peek(r::rdt), (total - 1) % 64) << round;
    }
    ASSERT_EQ(rig.got.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(rig.got[i], in[i]) << i;
    EXPECT_GE(rig.dev.rx_descriptors / 64, 10u);  // ten wraps at least
    EXPECT_EQ(rig.nic.stats().rx_packets, in.size());
    EXPECT_EQ(rig.nic.stats().rx_bytes, bytes);
    EXPECT_EQ(rig.nic.stats().rx_errors, 0u);
    EXPECT_EQ(rig.dev.rx_overruns, 0u);
    EXPECT_EQ(rig.poll(), 0u);
}

TEST(E1000eNic, FramesForOtherMacsAreReceived)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    std::vector<Bytes> in = {frame(net_packets::mac_c.b, 100, 1), frame(net_packets::mcast.b, 100, 2),
                             frame(net_packets::broadcast.b, 60, 3), to_card(100, 4),
                             frame(net_packets::mac_a.b, 1514, 5)};
    for (const Bytes& f : in) EXPECT_EQ(rig.dev.inject(f), Rx::stored);
    EXPECT_EQ(rig.dev.rx_filtered, 0u);
    EXPECT_EQ(rig.poll(), in.size());
    EXPECT_TRUE(same_frames(rig.got, in));
}

TEST(E1000eNic, OverrunWhenNotPolledAndWorkingAfter)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    std::vector<Bytes> in;
    unsigned stored = 0;
    for (unsigned i = 0; i < 100; ++i) {
        in.push_back(to_card(200 + i, i));
        Rx r = rig.dev.inject(in.back());
        EXPECT_TRUE(r == Rx::stored || r == Rx::overrun) << i;
        stored += r == Rx::stored;
    }
    EXPECT_EQ(stored, 63u);  // the ring less the descriptor the driver keeps
    EXPECT_EQ(rig.dev.rx_overruns, 37u);
    EXPECT_EQ(rig.poll(), 63u);
    EXPECT_TRUE(same_frames(rig.got, std::vector<Bytes>(in.begin(), in.begin() + 63)));
    rig.got.clear();
    std::vector<Bytes> later;
    for (unsigned i = 0; i < 200; ++i) {
        later.push_back(to_card(60 + i, 1000 + i));
        ASSERT_EQ(rig.dev.inject(later.back()), Rx::stored) << i;
        if (i % 10 == 9) {
            EXPECT_EQ(rig.poll(), 10u);
        }
    }
    EXPECT_TRUE(same_frames(rig.got, later));
    EXPECT_EQ(rig.dev.rx_overruns, 37u);
    EXPECT_EQ(rig.nic.stats().rx_packets, 263u);
    EXPECT_EQ(rig.nic.stats().rx_errors, 0u);
}

TEST(E1000eNic, FrameWithAnErrorBitIsDropped)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    Bytes a = to_card(100, 1), bad = to_card(120, 2), b = to_card(140, 3);
    // SBP is clear: the MAC itself discards a frame with a CRC error...
    EXPECT_EQ(rig.dev.inject(bad, {e1000e_sim::rxerr_ce, false}), Rx::discarded);
    // ...but should one reach the ring, the driver drops it.
    EXPECT_EQ(rig.dev.inject(a), Rx::stored);
    EXPECT_EQ(rig.dev.inject(bad, {e1000e_sim::rxerr_ce, true}), Rx::stored);
    EXPECT_EQ(rig.dev.inject(b), Rx::stored);
    EXPECT_EQ(rig.poll(), 2u);
    EXPECT_TRUE(same_frames(rig.got, std::vector<Bytes>{a, b}));
    EXPECT_EQ(rig.nic.stats().rx_errors, 1u);
    EXPECT_EQ(rig.nic.stats().rx_packets, 2u);
    EXPECT_EQ(rig.nic.stats().rx_bytes, 240u);
    // And the ring goes on.
    Bytes c = to_card(160, 4);
    EXPECT_EQ(rig.dev.inject(c), Rx::stored);
    EXPECT_EQ(rig.poll(), 1u);
    EXPECT_EQ(rig.got.back(), c);
}

TEST(E1000eNic, FrameSpanningTwoDescriptorsIsDropped)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    Bytes a = to_card(100, 1), big = to_card(3000, 2), b = to_card(140, 3);
    // LPE is clear: the MAC discards it...
    EXPECT_EQ(rig.dev.inject(big), Rx::discarded);
    // ...but should the card spread it over two buffers, the driver drops it.
    EXPECT_EQ(rig.dev.inject(a), Rx::stored);
    unsigned before = rig.dev.rx_descriptors;
    EXPECT_EQ(rig.dev.inject(big, {0, true}), Rx::stored);
    EXPECT_EQ(rig.dev.rx_descriptors - before, 2u);
    EXPECT_EQ(rig.dev.inject(b), Rx::stored);
    rig.poll();
    EXPECT_TRUE(same_frames(rig.got, std::vector<Bytes>{a, b}));
    EXPECT_GE(rig.nic.stats().rx_errors, 1u);
    EXPECT_EQ(rig.nic.stats().rx_packets, 2u);
    Bytes c = to_card(160, 4);
    EXPECT_EQ(rig.dev.inject(c), Rx::stored);
    rig.poll();
    EXPECT_EQ(rig.got.back(), c);
}

// IPv4 + UDP with a correct header and UDP checksum (unless udp_sum says).
Bytes udp_frame(const uint8_t* dst, size_t payload, bool with_sum = true)
{
    using net_packets::put16;
    Bytes f = net_packets::eth(net_packets::Mac{{dst[0], dst[1], dst[2], dst[3], dst[4], dst[5]}},
                               net_packets::mac_b, 0x0800, 20 + 8 + payload);
    uint8_t* ip = &f[14];
    std::memset(ip, 0, 28);
    ip[0] = 0x45;
    put16(ip + 2, uint16_t(28 + payload));
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t src[4] = {192, 168, 1, 7}, to[4] = {192, 168, 1, 9};
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, to, 4);
    put16(ip + 10, uint16_t(~net_packets::word_sum(ip, 20)));
    uint8_t* udp = ip + 20;
    put16(udp, 5353);
    put16(udp + 2, 5353);
    put16(udp + 4, uint16_t(8 + payload));
    if (with_sum) {
        uint32_t pseudo = net_packets::word_sum(ip + 12, 8) + 17 + uint32_t(8 + payload);
        put16(udp + 6, uint16_t(~net_packets::word_sum(udp, 8 + payload, pseudo)));
    }
    return f;
}

TEST(E1000eNic, ChecksumsTheCardVerifiedAreReported)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    const net_packets::Mac me{{default_mac()[0], default_mac()[1], default_mac()[2], default_mac()[3],
                               default_mac()[4], default_mac()[5]}};
    struct Case {
        const char* what;
        Bytes f;
        bool verified;
    };
    std::vector<Case> cases;
    cases.push_back({"TCP over IPv4", net_packets::tcp_frame(me, net_packets::mac_b, false, 1000, false), true});
    cases.push_back({"TCP over IPv6", net_packets::tcp_frame(me, net_packets::mac_b, true, 500, false), true});
    cases.push_back({"UDP over IPv4", udp_frame(default_mac(), 300), true});
    cases.push_back(
        {"short TCP, Ethernet padding", net_packets::tcp_frame(me, net_packets::mac_b, false, 2, false), true});
    Bytes bad_tcp = net_packets::tcp_frame(me, net_packets::mac_b, false, 200, false);
    bad_tcp[14 + 20 + 16] ^= 0x5a;
    cases.push_back({"a wrong TCP checksum", bad_tcp, false});
    Bytes bad_ip = net_packets::tcp_frame(me, net_packets::mac_b, false, 200, false);
    bad_ip[14 + 10] ^= 0x01;
    cases.push_back({"a wrong IPv4 header checksum", bad_ip, false});
    Bytes fragment = net_packets::tcp_frame(me, net_packets::mac_b, false, 200, false);
    net_packets::put16(&fragment[14 + 6], 0x2000);  // MF: the card checks no TCP checksum
    net_packets::put16(&fragment[14 + 10], 0);
    net_packets::put16(&fragment[14 + 10], uint16_t(~net_packets::word_sum(&fragment[14], 20)));
    cases.push_back({"an IPv4 fragment", fragment, false});
    cases.push_back({"ARP", net_packets::eth(me, net_packets::mac_b, 0x0806, 46), false});
    cases.push_back({"partial TCP checksum", net_packets::tcp_frame(me, net_packets::mac_b, false, 100, true), false});
    for (auto& c : cases)
        if (c.f.size() < 60) c.f.resize(60, 0);  // the sender's padding: not part of the IP packet
    for (const auto& c : cases) ASSERT_EQ(rig.dev.inject(c.f), Rx::stored) << c.what;
    EXPECT_EQ(rig.poll(), cases.size());
    ASSERT_EQ(rig.got.size(), cases.size());
    unsigned verified = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        EXPECT_EQ(rig.got[i], cases[i].f) << cases[i].what;
        EXPECT_EQ(rig.flags[i], cases[i].verified ? drivers::rx_checksum_verified : 0u) << cases[i].what;
        verified += cases[i].verified;
    }
    EXPECT_EQ(rig.card.rx_verified(), verified);
    EXPECT_EQ(rig.nic.stats().rx_errors, 0u);  // a bad checksum is the guest's to judge, not a frame error
}

TEST(E1000eNic, CountsTraffic)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    for (size_t len : {100u, 200u, 14u}) {
        Bytes f = frame(net_packets::mac_c.b, len, uint32_t(len));
        ASSERT_TRUE(rig.nic.transmit(f.data(), f.size()).ok());
    }
    EXPECT_EQ(rig.dev.inject(to_card(60, 1)), Rx::stored);
    EXPECT_EQ(rig.dev.inject(to_card(1514, 2)), Rx::stored);
    EXPECT_EQ(rig.dev.inject(to_card(1514, 3), {e1000e_sim::rxerr_ce, true}), Rx::stored);
    EXPECT_EQ(rig.poll(), 2u);
    const drivers::NicStats& s = rig.nic.stats();
    EXPECT_EQ(s.tx_packets, 3u);
    EXPECT_EQ(s.tx_bytes, 314u);
    EXPECT_EQ(s.tx_busy, 0u);
    EXPECT_EQ(s.rx_packets, 2u);
    EXPECT_EQ(s.rx_bytes, 1574u);
    EXPECT_EQ(s.rx_errors, 1u);
}

TEST(E1000eNic, InterruptsThroughMsi)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    uint32_t ev = rig.nic.event();
    EXPECT_EQ(rig.dev.msis, 0u);
    EXPECT_FALSE(rig.platform.wait_event(ev, ms));
    ASSERT_EQ(rig.dev.inject(to_card(100, 1)), Rx::stored);
    EXPECT_EQ(rig.dev.msis, 1u);  // RXT0
    EXPECT_TRUE(rig.platform.wait_event(ev, ms));
    EXPECT_FALSE(rig.platform.wait_event(ev, ms));
    ASSERT_EQ(rig.dev.inject(to_card(100, 2)), Rx::stored);
    EXPECT_EQ(rig.dev.msis, 1u);  // ICR not read yet: no new message
    EXPECT_EQ(rig.poll(), 2u);    // reads ICR
    ASSERT_EQ(rig.dev.inject(to_card(100, 3)), Rx::stored);
    EXPECT_EQ(rig.dev.msis, 2u);
    EXPECT_EQ(rig.poll(), 1u);
    Bytes f = frame(net_packets::mac_c.b, 100, 4);
    ASSERT_TRUE(rig.nic.transmit(f.data(), f.size()).ok());
    EXPECT_EQ(rig.dev.msis, 3u);  // TXDW
    EXPECT_TRUE(rig.platform.wait_event(ev, ms));
    EXPECT_EQ(rig.poll(), 0u);
    rig.dev.set_cable(false);
    EXPECT_EQ(rig.dev.msis, 4u);  // LSC
    EXPECT_EQ(rig.dev.interrupts_undelivered, 0u);
}

TEST(E1000eNic, ThirtyTwoBitMsiCapability)
{
    SimOptions o;
    o.msi_64bit = false;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.nic.event(), SimPlatform::event);
    ASSERT_EQ(rig.dev.inject(to_card(100, 1)), Rx::stored);
    EXPECT_EQ(rig.dev.msis, 1u);
    EXPECT_EQ(rig.poll(), 1u);
}

TEST(E1000eNic, WithoutMsiTheCardIsPolled)
{
    for (bool capability : {false, true}) {
        SimOptions o;
        o.has_msi = capability;
        Rig rig(o);
        rig.platform.msi_available = !capability;  // no capability, or no vector to bind
        ASSERT_TRUE(rig.init().ok()) << capability;
        EXPECT_EQ(rig.nic.event(), ~0u);
        EXPECT_EQ(rig.dev.peek(r::ims), 0u);
        EXPECT_FALSE(rig.dev.msi_enabled());
        std::vector<Bytes> in;
        for (unsigned i = 0; i < 100; ++i) {
            in.push_back(to_card(60 + i, i));
            ASSERT_EQ(rig.dev.inject(in.back()), Rx::stored);
            if (i % 25 == 24) {
                EXPECT_EQ(rig.poll(), 25u);
            }
            ASSERT_TRUE(rig.nic.transmit(in.back().data(), in.back().size()).ok());
        }
        EXPECT_TRUE(same_frames(rig.got, in));
        EXPECT_EQ(rig.dev.sent.size(), 100u);
        EXPECT_EQ(rig.dev.msis, 0u);
    }
}

TEST(E1000eNic, SixtyFourBitBar0AboveFourGib)
{
    SimOptions o;
    o.bar0 = SimOptions::Bar0::memory64;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.dev.bar0(), e1000e_sim::bar0_base64);
    Bytes f = frame(net_packets::mac_c.b, 100, 1);
    ASSERT_TRUE(rig.nic.transmit(f.data(), f.size()).ok());
    ASSERT_EQ(rig.dev.sent.size(), 1u);
    EXPECT_EQ(rig.dev.sent[0].bytes, f);
    ASSERT_EQ(rig.dev.inject(to_card(100, 2)), Rx::stored);
    EXPECT_EQ(rig.poll(), 1u);
}

TEST(E1000eNic, SlowResetIsWaitedFor)
{
    SimOptions o;
    o.reset_ns = 50 * ms;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_GE(rig.dev.clock_ns, 50 * ms);
    EXPECT_TRUE(rig.nic.link_up());
}

TEST(E1000eNic, CardLeftRunningByFirmware)
{
    SimOptions o;
    o.firmware_left_running = true;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.dev.peek(r::rdlen), 64u * 16);
    ASSERT_EQ(rig.dev.inject(to_card(100, 1)), Rx::stored);
    EXPECT_EQ(rig.poll(), 1u);
}

TEST(E1000eNic, RefusesOtherVendorsAndDevices)
{
    struct Id {
        uint16_t vendor, device;
    };
    for (Id id : {Id{0x10ec, 0x8168}, Id{0x8086, 0x100e}, Id{0x8086, 0x10d4}, Id{0x1af4, 0x10d3}}) {
        SimOptions o;
        o.vendor = id.vendor;
        o.device = id.device;
        Rig rig(o);
        EXPECT_EQ(rig.init().error(), lib::Error::unsupported) << id.vendor << ":" << id.device;
        EXPECT_EQ(rig.dev.mmio_accesses, 0u);
        EXPECT_EQ(rig.dev.command(), 0u);
    }
    for (uint16_t device : {uint16_t(0x10d3), uint16_t(0x10f6), uint16_t(0x150c)}) {
        SimOptions o;
        o.device = device;
        Rig rig(o);
        drivers::pci::Function fn(rig.dev);
        EXPECT_TRUE(E1000eNic::supports(fn)) << device;
    }
}

TEST(E1000eNic, RefusesAFunctionWithoutMemoryBar0)
{
    for (auto kind : {SimOptions::Bar0::io, SimOptions::Bar0::absent}) {
        SimOptions o;
        o.bar0 = kind;
        Rig rig(o);
        EXPECT_EQ(rig.init().error(), lib::Error::unsupported);
        EXPECT_EQ(rig.dev.mmio_accesses, 0u);
    }
}

TEST(E1000eNic, ResetThatNeverEndsIsBusy)
{
    SimOptions o;
    o.reset_never_ends = true;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::busy);
    EXPECT_GE(rig.dev.clock_ns, 100 * ms);  // the driver's timeout...
    EXPECT_LT(rig.dev.clock_ns, 1000 * ms);  // ...and not much longer
    Bytes f = frame(net_packets::mac_c.b, 100, 1);
    EXPECT_FALSE(rig.nic.transmit(f.data(), f.size()).ok());
    EXPECT_EQ(rig.poll(), 0u);
}

TEST(E1000eNic, EepromThatNeverAnswersIsBusy)
{
    SimOptions o;
    o.mac_loaded = false;
    o.eeprom_never_answers = true;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::busy);
    EXPECT_EQ(rig.dev.eeprom_reads, 1u);
    EXPECT_GE(rig.dev.clock_ns, 10 * ms);
    EXPECT_LT(rig.dev.clock_ns, 1000 * ms);
}

TEST(E1000eNic, RefusesInvalidStationAddresses)
{
    const uint8_t bad[][6] = {
        {0, 0, 0, 0, 0, 0}, {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    for (const auto& mac : bad) {
        for (bool loaded : {true, false}) {
            SimOptions o;
            std::memcpy(o.mac, mac, 6);
            o.mac_loaded = loaded;
            Rig rig(o);
            EXPECT_EQ(rig.init().error(), lib::Error::invalid) << int(mac[0]) << " " << loaded;
            EXPECT_EQ(rig.dev.eeprom_reads, loaded ? 0u : 3u);
        }
    }
}

TEST(E1000eNic, UninitializedCardDoesNothing)
{
    Rig rig;
    Bytes f = frame(net_packets::mac_c.b, 100, 1);
    EXPECT_EQ(rig.nic.transmit(f.data(), f.size()).error(), lib::Error::invalid);
    EXPECT_EQ(rig.poll(), 0u);
    EXPECT_FALSE(rig.nic.link_up());
    EXPECT_EQ(rig.nic.event(), ~0u);
    EXPECT_EQ(rig.dev.mmio_accesses, 0u);
}

}  // namespace
