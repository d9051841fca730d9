// virtio-console (vmm/virtio/virtio_console) over virtio-pci, driven as
// Linux's virtio_console drives a single-port device: "hello" transmitted
// through queue 1 reaches the sink; host input lands in the receive buffers
// the guest posts on queue 0 and waits in the FIFO while there are none;
// console size and emergency write through the device configuration.
//
// Bad inputs tried: input before the driver is up, more input than the FIFO
// holds, receive buffers smaller than the input, receive chains with a
// readable segment first, transmit chains with writable segments, a looping
// receive chain (DEVICE_NEEDS_RESET, input kept), config accesses past the
// structure and emerg_wr at width 2.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "tests/unit/virtio_fake.hpp"
#include "tests/unit/virtio_pci_driver.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_console.hpp"

using namespace vmm::virtio;
using namespace virtio_fake;

namespace {

constexpr uint64_t ram_base = 0x100000;
constexpr uint64_t data = ram_base + 0x40000;

struct Out {
    std::string s;
    static void put(void* ctx, const char* d, size_t n) { static_cast<Out*>(ctx)->s.append(d, n); }
};

struct ConsoleTest : ::testing::Test {
    FakeRam ram{ram_base, 1 << 20};
    FakeIrq irq;
    Out out;
    VirtioConsole con{&Out::put, &out, 80, 25};
    VirtioPci vp{con, ram, irq};
    vmm::pci::HostBridge bus;
    PciDriver drv{bus, 0};
    DriverRing rx{ram, 8, ram_base + 0x1000};
    DriverRing tx{ram, 8, ram_base + 0x3000};

    void SetUp() override
    {
        ASSERT_TRUE(vp.init().ok());
        drv.slot = bus.attach(vp).value();
        drv.probe();
    }
    void bring_up()
    {
        drv.enable_msix(3);
        ASSERT_TRUE(drv.negotiate(feature::version_1 | feature::event_idx | console_feature::size |
                                  console_feature::emerg_write));
        drv.wr(drv.common + 16, 2, 0);
        ASSERT_TRUE(drv.setup_queue(0, rx, 1));
        ASSERT_TRUE(drv.setup_queue(1, tx, 2));
        drv.add_status(status::driver_ok);
        ASSERT_TRUE(vp.live());
    }
    void post_rx(uint64_t gpa, uint32_t len)
    {
        rx.set_used_event(rx.used_idx());
        rx.add({{gpa, len, true}});
        drv.kick(0);
    }
    std::string rx_got(uint16_t i, uint64_t gpa)
    {
        const auto e = rx.used_elem(i);
        return std::string(reinterpret_cast<char*>(ram.at(gpa)), e.len);
    }
};

}  // namespace

TEST_F(ConsoleTest, IdentityFeaturesAndConfig)
{
    EXPECT_EQ(drv.cfg(0x00), uint32_t(0x1043) << 16 | 0x1af4);
    EXPECT_EQ(drv.cfg(0x08) >> 8, 0x078000u);
    EXPECT_EQ(drv.rd(drv.common + 18, 2), 2u);
    const uint64_t f = drv.device_features();
    EXPECT_TRUE(f & console_feature::size);
    EXPECT_TRUE(f & console_feature::emerg_write);
    EXPECT_FALSE(f & console_feature::multiport);
    EXPECT_TRUE(f & feature::version_1);
    EXPECT_EQ(drv.rd(drv.device + 0, 2), 80u);
    EXPECT_EQ(drv.rd(drv.device + 2, 2), 25u);
    EXPECT_EQ(drv.rd(drv.device + 4, 4), 1u);
    EXPECT_EQ(drv.rd(drv.device + 12, 1), 0u);  // past the structure

    Out o2;
    VirtioConsole plain{&Out::put, &o2};
    EXPECT_FALSE(plain.device_features() & console_feature::size);
}

TEST_F(ConsoleTest, TransmitHello)
{
    bring_up();
    std::memcpy(ram.at(data), "hello", 5);
    tx.set_used_event(0);
    tx.add({{data, 5, false}});
    drv.kick(1);
    EXPECT_EQ(out.s, "hello");
    ASSERT_EQ(tx.used_idx(), 1u);
    EXPECT_EQ(tx.used_elem(0).len, 0u);  // nothing written into a transmit buffer
    ASSERT_FALSE(irq.msgs.empty());
    EXPECT_EQ(irq.msgs.back().data, 0x42u);  // queue 1 -> vector 2

    // A chain of two readable buffers, and one with a (ignored) writable tail.
    std::memcpy(ram.at(data + 0x100), ", wo", 4);
    std::memcpy(ram.at(data + 0x200), "rld", 3);
    tx.add({{data + 0x100, 4, false}, {data + 0x200, 3, false}});
    tx.add({{data + 0x200, 1, false}, {data + 0x300, 8, true}});
    drv.kick(1);
    EXPECT_EQ(out.s, "hello, worldr");
    EXPECT_EQ(tx.used_idx(), 3u);
}

TEST_F(ConsoleTest, HostInputBufferedUntilBuffersPosted)
{
    // Before the driver exists, and with no buffers: all of it waits.
    EXPECT_EQ(con.receive("ab", 2), 2u);
    bring_up();
    EXPECT_EQ(con.receive("cde", 3), 3u);
    EXPECT_EQ(con.rx_pending(), 5u);
    EXPECT_EQ(rx.used_idx(), 0u);

    // A 2-byte buffer takes "ab"; the rest stays.
    post_rx(data, 2);
    ASSERT_EQ(rx.used_idx(), 1u);
    EXPECT_EQ(rx_got(0, data), "ab");
    EXPECT_EQ(con.rx_pending(), 3u);
    ASSERT_FALSE(irq.msgs.empty());
    EXPECT_EQ(irq.msgs.back().data, 0x41u);  // queue 0 -> vector 1

    // Two buffers posted: the first gets all of "cde".
    rx.set_used_event(rx.used_idx());
    rx.add({{data + 0x100, 64, true}});
    post_rx(data + 0x200, 64);
    ASSERT_EQ(rx.used_idx(), 2u);
    EXPECT_EQ(rx_got(1, data + 0x100), "cde");
    EXPECT_EQ(con.rx_pending(), 0u);

    // With a buffer waiting, input goes straight in.
    EXPECT_EQ(con.receive("xyz", 3), 3u);
    ASSERT_EQ(rx.used_idx(), 3u);
    EXPECT_EQ(rx_got(2, data + 0x200), "xyz");
    EXPECT_EQ(con.rx_pending(), 0u);
}

TEST_F(ConsoleTest, FifoLimitAndWrap)
{
    bring_up();
    std::string big(VirtioConsole::rx_capacity + 10, 'q');
    for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
    EXPECT_EQ(con.receive(big.data(), big.size()), VirtioConsole::rx_capacity);
    std::string got;
    // Drain in odd-sized pieces, refilling so the FIFO wraps.
    size_t fed = VirtioConsole::rx_capacity;
    for (int round = 0; round < 40 && (con.rx_pending() || fed < big.size()); ++round) {
        const uint64_t buf = data + 0x1000 * (round % 8);
        post_rx(buf, 100);
        got += rx_got(uint16_t(rx.used_idx() - 1), buf);
        if (fed < big.size()) fed += con.receive(big.data() + fed, big.size() - fed);
    }
    EXPECT_EQ(got, big);
}

TEST_F(ConsoleTest, ReceiveChainWithReadableHead)
{
    bring_up();
    con.receive("hi", 2);
    rx.add({{data, 4, false}, {data + 0x100, 4, true}});
    drv.kick(0);
    ASSERT_EQ(rx.used_idx(), 1u);
    EXPECT_EQ(rx_got(0, data + 0x100), "hi");
}

TEST_F(ConsoleTest, EmergencyWriteAndResize)
{
    bring_up();
    drv.wr(drv.device + 8, 4, 'E');
    drv.wr(drv.device + 8, 2, 'x');  // wrong width: ignored
    EXPECT_EQ(out.s, "E");
    const size_t before = irq.msgs.size();
    con.resize(132, 43);
    ASSERT_EQ(irq.msgs.size(), before + 1);
    EXPECT_EQ(irq.msgs.back().data, 0x40u);  // config vector
    EXPECT_EQ(drv.rd(drv.device + 0, 2), 132u);
    EXPECT_EQ(drv.rd(drv.device + 2, 2), 43u);
}

TEST_F(ConsoleTest, HostileReceiveRingNeedsReset)
{
    bring_up();
    rx.set_desc(0, data, 4, desc_f_write | desc_f_next, 0);  // loops
    rx.publish(0);
    con.receive("lost?", 5);
    EXPECT_TRUE(drv.status() & status::device_needs_reset);
    EXPECT_EQ(con.rx_pending(), 5u);  // input kept for after the reset
    // Reset and re-init: the buffered input arrives.
    drv.set_status(0);
    rx.restart();
    tx.restart();
    std::memset(ram.at(rx.desc), 0, rx.end() - rx.desc);
    bring_up();
    post_rx(data + 0x100, 16);
    ASSERT_EQ(rx.used_idx(), 1u);
    EXPECT_EQ(rx_got(0, data + 0x100), "lost?");
}
