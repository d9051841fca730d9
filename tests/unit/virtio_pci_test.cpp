// The virtio-pci modern transport (vmm/virtio/virtio_pci) behind the PCI
// host bridge, driven the way Linux's virtio_pci_modern drives it: BAR4 and
// the vendor capabilities, the status sequence of 3.1.1 (reset, ACKNOWLEDGE,
// DRIVER, features, FEATURES_OK re-read, queues, DRIVER_OK), queue
// registers, notifications, INTx + ISR and MSI-X vectors, reset, the PCI
// configuration access window, and DEVICE_NEEDS_RESET on a hostile ring.
//
// Bad inputs tried: FEATURES_OK without VERSION_1 and with bits never
// offered, feature writes after FEATURES_OK, DRIVER_OK before FEATURES_OK,
// status writes clearing bits or setting DEVICE_NEEDS_RESET, queue_select
// past num_queues, queue sizes 0/3/above the maximum, queue_enable 0 and
// before FEATURES_OK, ring address and size changes after enable, rings
// outside RAM, MSI-X vectors past the table, common-config accesses at the
// wrong width or offset, BAR accesses past 16 KiB or in other BARs, notify
// writes for queues that do not exist, kicks before DRIVER_OK, a looping
// descriptor chain (device breaks, a second device on the bus does not).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/unit/virtio_fake.hpp"
#include "tests/unit/virtio_pci_driver.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_pci.hpp"

using namespace vmm::virtio;
using namespace virtio_fake;

namespace {

constexpr uint64_t ram_base = 0x100000;
constexpr uint64_t data = ram_base + 0x40000;

// Queue 0 echoes each chain's readable bytes into its writable part; queue
// 1 is never used. 8 bytes of device config are scratch.
struct EchoDevice final : VirtioDevice {
    unsigned resets = 0, activations = 0, kicks = 0;
    uint8_t config[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    Chain c;
    uint16_t device_type() const override { return 42; }
    uint32_t pci_class() const override { return 0xff0000; }
    uint64_t device_features() const override { return 1ull << 0 | 1ull << 5; }
    unsigned num_queues() const override { return 2; }
    uint16_t queue_max_size(unsigned q) const override { return q == 0 ? 16 : 8; }
    uint32_t config_size() const override { return sizeof config; }
    uint32_t config_read(uint32_t off, unsigned size) override
    {
        uint32_t v = 0;
        std::memcpy(&v, config + off, size);
        return v;
    }
    void config_write(uint32_t off, unsigned size, uint32_t v) override { std::memcpy(config + off, &v, size); }
    void reset() override { ++resets; }
    void activate() override { ++activations; }
    lib::Status queue_notify(unsigned q) override
    {
        ++kicks;
        Virtqueue* vq = transport_->queue(q);
        if (!vq || q != 0) return {};
        for (;;) {
            auto r = vq->pop(c);
            if (!r) return lib::err(r.error());
            if (!*r) break;
            std::vector<uint8_t> tmp(c.readable);
            c.read(0, tmp.data(), tmp.size());
            const size_t n = c.write(0, tmp.data(), tmp.size());
            TRY(vq->push(c.head, uint32_t(n)));
        }
        transport_->queue_used(q);
        return {};
    }
    void changed() { transport_->config_changed(); }
};

constexpr uint64_t wanted = feature::version_1 | feature::event_idx | feature::indirect_desc | 1ull << 5;

struct VirtioPciTest : ::testing::Test {
    FakeRam ram{ram_base, 1 << 20};
    FakeIrq irq;
    EchoDevice dev;
    VirtioPci vp{dev, ram, irq};
    vmm::pci::HostBridge bus;
    unsigned slot = 0;
    PciDriver drv{bus, 0};
    DriverRing r0{ram, 16, ram_base + 0x1000};
    DriverRing r1{ram, 8, ram_base + 0x3000};

    void SetUp() override
    {
        ASSERT_TRUE(vp.init().ok());
        slot = bus.attach(vp).value();
        drv.slot = slot;
        drv.probe();
    }
    void bring_up(bool msix)
    {
        if (msix) drv.enable_msix(3);
        ASSERT_TRUE(drv.negotiate(wanted));
        if (msix) {
            drv.wr(drv.common + 16, 2, 0);
            ASSERT_EQ(drv.rd(drv.common + 16, 2), 0u);
        }
        ASSERT_TRUE(drv.setup_queue(0, r0, msix ? 1 : no_vector));
        ASSERT_TRUE(drv.setup_queue(1, r1, msix ? 2 : no_vector));
        drv.add_status(status::driver_ok);
        ASSERT_TRUE(drv.status() & status::driver_ok);
    }
    // One echo request through queue 0; returns the bytes written back.
    // Like Linux's virtqueue_enable_cb, the driver first asks (used_event)
    // for an interrupt at the next used buffer, unless told not to.
    uint32_t echo(const char* s, bool want_irq = true)
    {
        if (want_irq) r0.set_used_event(r0.used_idx());
        std::memcpy(ram.at(data), s, std::strlen(s));
        r0.add({{data, uint32_t(std::strlen(s)), false}, {data + 0x100, 64, true}});
        drv.kick(0);
        if (r0.used_idx() != r0.avail_idx) return ~0u;
        return r0.used_elem(uint16_t(r0.used_idx() - 1)).len;
    }
};

}  // namespace

TEST_F(VirtioPciTest, PciIdentityAndBar)
{
    EXPECT_EQ(drv.cfg(0x00), uint32_t(0x1040 + 42) << 16 | 0x1af4);
    EXPECT_EQ(drv.cfg(0x08, 1), 1u);           // revision 1: non-transitional
    EXPECT_EQ(drv.cfg(0x09, 3), 0xffffffffu);  // bad size: all ones
    EXPECT_EQ(drv.cfg(0x08) >> 8, 0xff0000u);
    EXPECT_EQ(drv.cfg(0x2e, 2), 0x1040u + 42); // subsystem ID >= 0x40
    EXPECT_EQ(drv.cfg(0x3d, 1), 1u);           // INTA#
    // BAR4 is 64-bit memory, 16 KiB, non-prefetchable; the others are absent.
    drv.cfg_w(0x20, 0xffffffffu);
    EXPECT_EQ(drv.cfg(0x20), 0xffffc004u);
    drv.cfg_w(0x20, uint32_t(drv.bar_base));
    for (unsigned reg : {0x10u, 0x14u, 0x18u, 0x1cu}) {
        drv.cfg_w(reg, 0xffffffffu);
        EXPECT_EQ(drv.cfg(reg), 0u) << reg;
    }
}

TEST_F(VirtioPciTest, CapabilitiesAsLinuxFindsThem)
{
    EXPECT_EQ(drv.common, VirtioPci::common_offset);
    EXPECT_EQ(drv.notify, VirtioPci::notify_offset);
    EXPECT_EQ(drv.isr, VirtioPci::isr_offset);
    EXPECT_EQ(drv.device, VirtioPci::device_offset);
    EXPECT_EQ(drv.notify_mult, 4u);
    EXPECT_EQ(drv.notify_len, 2u * 4);
    EXPECT_NE(drv.pci_cfg, 0);
    EXPECT_NE(drv.msix_cap, 0);
    EXPECT_EQ(drv.caps_seen, 6u);
    EXPECT_EQ(drv.cfg(drv.msix_cap + 2, 2) & 0x7ff, 2u);  // 3 vectors: config + 2 queues
    EXPECT_EQ(drv.cfg(drv.msix_cap + 4), VirtioPci::msix_table_offset | 4);
    EXPECT_EQ(drv.cfg(drv.msix_cap + 8), VirtioPci::msix_pba_offset | 4);
}

TEST_F(VirtioPciTest, LinuxInitSequenceAndIntx)
{
    drv.set_status(0);
    EXPECT_EQ(drv.status(), 0u);
    drv.add_status(status::acknowledge);
    drv.add_status(status::driver);
    EXPECT_EQ(drv.status(), status::acknowledge | status::driver);
    const uint64_t f = drv.device_features();
    EXPECT_EQ(f, feature::version_1 | feature::event_idx | feature::indirect_desc | 1ull << 0 | 1ull << 5);
    drv.write_features(f & wanted);
    drv.add_status(status::features_ok);
    EXPECT_EQ(drv.status(), status::acknowledge | status::driver | status::features_ok);
    EXPECT_EQ(vp.negotiated(), f & wanted);
    EXPECT_EQ(drv.rd(drv.common + 18, 2), 2u);  // num_queues
    drv.wr(drv.common + 22, 2, 0);
    EXPECT_EQ(drv.rd(drv.common + 24, 2), 16u);  // max size offered
    EXPECT_EQ(drv.rd(drv.common + 26, 2), no_vector);
    EXPECT_EQ(drv.rd(drv.common + 30, 2), 0u);
    ASSERT_TRUE(drv.setup_queue(0, r0));
    ASSERT_TRUE(drv.setup_queue(1, r1));
    drv.wr(drv.common + 22, 2, 0);
    EXPECT_EQ(drv.rd(drv.common + 32, 8), r0.desc);
    EXPECT_EQ(drv.rd(drv.common + 44, 4), uint32_t(r0.avail >> 32));
    EXPECT_EQ(dev.activations, 0u);
    drv.add_status(status::driver_ok);
    EXPECT_EQ(drv.status(), status::acknowledge | status::driver | status::features_ok | status::driver_ok);
    EXPECT_EQ(dev.activations, 1u);
    EXPECT_TRUE(vp.live());

    // A used buffer without MSI-X: ISR bit 0 and INTx asserted; reading the
    // ISR returns and clears it and drops the line.
    EXPECT_EQ(echo("ping"), 4u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(ram.at(data + 0x100)), 4), "ping");
    EXPECT_TRUE(vp.intx_level());
    ASSERT_EQ(irq.levels, std::vector<bool>{true});
    EXPECT_TRUE(drv.cfg(0x06, 2) & vmm::pci::status_intx);
    EXPECT_EQ(drv.rd(drv.isr, 1), 1u);
    EXPECT_EQ(irq.levels, (std::vector<bool>{true, false}));
    EXPECT_EQ(drv.rd(drv.isr, 1), 0u);
    EXPECT_FALSE(drv.cfg(0x06, 2) & vmm::pci::status_intx);
    EXPECT_TRUE(irq.msgs.empty());

    // INTx disable in the command register masks the pin, not the ISR.
    drv.cfg_w(0x04, vmm::pci::cmd_memory | vmm::pci::cmd_bus_master | vmm::pci::cmd_intx_disable, 2);
    EXPECT_EQ(echo("again"), 5u);
    EXPECT_FALSE(vp.intx_level());
    EXPECT_TRUE(drv.cfg(0x06, 2) & vmm::pci::status_intx);
    EXPECT_EQ(drv.rd(drv.isr, 1), 1u);
}

TEST_F(VirtioPciTest, FeaturesOkRefused)
{
    // No VERSION_1: a legacy driver; FEATURES_OK does not stick.
    drv.set_status(0);
    drv.add_status(status::acknowledge | status::driver);
    drv.write_features(feature::event_idx);
    drv.add_status(status::features_ok);
    EXPECT_FALSE(drv.status() & status::features_ok);
    // DRIVER_OK without FEATURES_OK does not stick either.
    drv.add_status(status::driver_ok);
    EXPECT_FALSE(drv.status() & status::driver_ok);
    // A bit never offered.
    drv.set_status(0);
    drv.add_status(status::acknowledge | status::driver);
    drv.write_features(feature::version_1 | 1ull << 7);
    drv.add_status(status::features_ok);
    EXPECT_FALSE(drv.status() & status::features_ok);
    // Queues cannot be enabled before FEATURES_OK.
    EXPECT_FALSE(drv.setup_queue(0, r0));
    // The right set works; later feature writes are ignored.
    drv.write_features(feature::version_1);
    drv.add_status(status::features_ok);
    EXPECT_TRUE(drv.status() & status::features_ok);
    drv.write_features(feature::version_1 | feature::event_idx);
    EXPECT_EQ(vp.negotiated(), feature::version_1);
    // Clearing a bit other than by reset, or setting DEVICE_NEEDS_RESET: ignored.
    drv.set_status(status::acknowledge);
    EXPECT_EQ(drv.status(), status::acknowledge | status::driver | status::features_ok);
    drv.add_status(status::device_needs_reset);
    EXPECT_FALSE(drv.status() & status::device_needs_reset);
}

TEST_F(VirtioPciTest, ResetClearsQueues)
{
    bring_up(true);
    EXPECT_EQ(echo("x"), 1u);
    const unsigned resets = dev.resets;
    drv.set_status(0);
    EXPECT_EQ(drv.status(), 0u);
    EXPECT_EQ(dev.resets, resets + 1);
    EXPECT_FALSE(vp.live());
    EXPECT_EQ(vp.negotiated(), 0u);
    EXPECT_EQ(drv.rd(drv.common + 16, 2), no_vector);
    for (uint16_t q = 0; q < 2; ++q) {
        drv.wr(drv.common + 22, 2, q);
        EXPECT_EQ(drv.rd(drv.common + 28, 2), 0u);
        EXPECT_EQ(drv.rd(drv.common + 24, 2), q == 0 ? 16u : 8u);
        EXPECT_EQ(drv.rd(drv.common + 26, 2), no_vector);
        EXPECT_EQ(drv.rd(drv.common + 32, 8), 0u);
        EXPECT_EQ(vp.queue(q), nullptr);
    }
    // A kick now does nothing; the ring is untouched.
    const uint16_t used = r0.used_idx();
    r0.add({{data, 1, false}, {data + 0x100, 4, true}});
    drv.kick(0);
    EXPECT_EQ(r0.used_idx(), used);
    // And the device comes up again from scratch.
    r0.restart();
    r1.restart();
    std::memset(ram.at(r0.desc), 0, r0.end() - r0.desc);
    bring_up(true);
    EXPECT_EQ(echo("again"), 5u);
}

TEST_F(VirtioPciTest, QueueRegistersLockedAfterEnable)
{
    ASSERT_TRUE(drv.negotiate(wanted));
    drv.wr(drv.common + 22, 2, 0);
    for (uint16_t bad : {0, 3, 32}) {
        drv.wr(drv.common + 24, 2, bad);
        EXPECT_EQ(drv.rd(drv.common + 24, 2), 16u) << bad;
    }
    ASSERT_TRUE(drv.setup_queue(0, r0));
    drv.wr(drv.common + 22, 2, 0);
    drv.wr(drv.common + 24, 2, 4);
    drv.wr(drv.common + 32, 4, 0x5000);
    drv.wr(drv.common + 48, 8, 0x9000);
    drv.wr(drv.common + 28, 2, 0);  // drivers must not write 0: ignored
    EXPECT_EQ(drv.rd(drv.common + 24, 2), 16u);
    EXPECT_EQ(drv.rd(drv.common + 32, 8), r0.desc);
    EXPECT_EQ(drv.rd(drv.common + 48, 8), r0.used);
    EXPECT_EQ(drv.rd(drv.common + 28, 2), 1u);
    // Non-existent queue: size 0, vector NO_VECTOR, writes go nowhere.
    drv.wr(drv.common + 22, 2, 2);
    EXPECT_EQ(drv.rd(drv.common + 24, 2), 0u);
    EXPECT_EQ(drv.rd(drv.common + 26, 2), no_vector);
    drv.wr(drv.common + 28, 2, 1);
    EXPECT_EQ(drv.rd(drv.common + 28, 2), 0u);
    // Wrong widths and offsets read 0 and write nothing.
    EXPECT_EQ(drv.rd(drv.common + 18, 4), 0u);
    EXPECT_EQ(drv.rd(drv.common + 19, 1), 0u);
    EXPECT_EQ(drv.rd(drv.common + 0x800, 4), 0u);
    drv.wr(drv.common + 20, 2, 0);  // status at the wrong width: not a reset
    EXPECT_TRUE(drv.status() & status::features_ok);
    EXPECT_EQ(drv.rd(common_queue_reset, 2), 0u);
    EXPECT_EQ(vp.bar_read(4, VirtioPci::bar_size, 4), 0u);
    EXPECT_EQ(vp.bar_read(0, 0, 4), 0u);
}

TEST_F(VirtioPciTest, RingsOutsideRamNeedReset)
{
    ASSERT_TRUE(drv.negotiate(wanted));
    DriverRing bad{ram, 8, ram_base + (1 << 20) - 0x40};
    EXPECT_FALSE(drv.setup_queue(0, bad));
    EXPECT_TRUE(drv.status() & status::device_needs_reset);
}

TEST_F(VirtioPciTest, MsixVectorsAndDelivery)
{
    bring_up(true);
    // A vector past the table reads back NO_VECTOR (4.1.5.1.2.1).
    drv.wr(drv.common + 22, 2, 1);
    drv.wr(drv.common + 26, 2, 3);
    EXPECT_EQ(drv.rd(drv.common + 26, 2), no_vector);
    drv.wr(drv.common + 26, 2, 2);
    EXPECT_EQ(echo("msi"), 3u);
    ASSERT_EQ(irq.msgs.size(), 1u);
    EXPECT_EQ(irq.msgs[0].addr, 0xfee00000ull);
    EXPECT_EQ(irq.msgs[0].data, 0x41u);  // queue 0 -> vector 1
    EXPECT_TRUE(irq.levels.empty());     // no INTx with MSI-X on
    EXPECT_EQ(vp.isr(), 0u);
    // Configuration change -> vector 0, config_generation moves.
    const uint64_t gen = drv.rd(drv.common + 21, 1);
    dev.changed();
    ASSERT_EQ(irq.msgs.size(), 2u);
    EXPECT_EQ(irq.msgs[1].data, 0x40u);
    EXPECT_EQ(drv.rd(drv.common + 21, 1), (gen + 1) & 0xff);
    // A masked vector holds the message in the PBA until unmasked.
    drv.wr(VirtioPci::msix_table_offset + 16 + 12, 4, 1);
    EXPECT_EQ(echo("held"), 4u);
    EXPECT_EQ(irq.msgs.size(), 2u);
    EXPECT_EQ(drv.rd(VirtioPci::msix_pba_offset, 8), 0x2u);
    drv.wr(VirtioPci::msix_table_offset + 16 + 12, 4, 0);
    ASSERT_EQ(irq.msgs.size(), 3u);
    EXPECT_EQ(irq.msgs[2].data, 0x41u);
    // Queue vector NO_VECTOR: no interrupt at all.
    drv.wr(drv.common + 22, 2, 0);
    drv.wr(drv.common + 26, 2, no_vector);
    EXPECT_EQ(echo("quiet"), 5u);
    EXPECT_EQ(irq.msgs.size(), 3u);
    // EVENT_IDX was negotiated: used_event in the past suppresses.
    drv.wr(drv.common + 26, 2, 1);
    r0.set_used_event(0);
    EXPECT_EQ(echo("later", false), 5u);
    EXPECT_EQ(irq.msgs.size(), 3u);
    EXPECT_EQ(echo("now"), 3u);
    EXPECT_EQ(irq.msgs.size(), 4u);
}

TEST_F(VirtioPciTest, DeviceConfigAndPciCfgWindow)
{
    EXPECT_EQ(drv.rd(drv.device, 4), 0x04030201u);
    EXPECT_EQ(drv.rd(drv.device + 6, 2), 0x0807u);
    drv.wr(drv.device + 1, 1, 0xaa);
    EXPECT_EQ(dev.config[1], 0xaa);
    EXPECT_EQ(drv.rd(drv.device + 8, 1), 0u);  // past config_size
    // VIRTIO_PCI_CAP_PCI_CFG: read num_queues, then write the status.
    const unsigned c = drv.pci_cfg;
    drv.cfg_w(c + 4, 4, 1);
    drv.cfg_w(c + 8, VirtioPci::common_offset + 18);
    drv.cfg_w(c + 12, 2);
    EXPECT_EQ(drv.cfg(c + 16, 2), 2u);
    drv.cfg_w(c + 8, VirtioPci::common_offset + 20);
    drv.cfg_w(c + 12, 1);
    drv.cfg_w(c + 16, status::acknowledge, 1);
    EXPECT_EQ(drv.status(), status::acknowledge);
    // A misaligned or oversized window does nothing.
    drv.cfg_w(c + 8, VirtioPci::common_offset + 21);
    drv.cfg_w(c + 12, 2);
    drv.cfg_w(c + 16, 0);
    EXPECT_EQ(drv.status(), status::acknowledge);
    drv.cfg_w(c + 12, 8);
    drv.cfg_w(c + 16, 0);
    EXPECT_EQ(drv.status(), status::acknowledge);
}

TEST_F(VirtioPciTest, EarlyBuffersAreServedAtDriverOk)
{
    ASSERT_TRUE(drv.negotiate(wanted));
    ASSERT_TRUE(drv.setup_queue(0, r0));
    ASSERT_TRUE(drv.setup_queue(1, r1));
    std::memcpy(ram.at(data), "early", 5);
    r0.add({{data, 5, false}, {data + 0x100, 8, true}});
    drv.kick(0);  // before DRIVER_OK: ignored
    EXPECT_EQ(r0.used_idx(), 0u);
    EXPECT_EQ(dev.kicks, 0u);
    drv.add_status(status::driver_ok);
    EXPECT_EQ(r0.used_idx(), 1u);
    vp.notify(7);  // no such queue
    drv.wr(drv.notify + 4 * 9, 2, 9);
}

TEST_F(VirtioPciTest, HostileRingNeedsResetOtherDeviceUnaffected)
{
    EchoDevice dev2;
    VirtioPci vp2{dev2, ram, irq};
    ASSERT_TRUE(vp2.init().ok());
    PciDriver drv2{bus, bus.attach(vp2).value()};
    drv2.bar_base = 0xfd000000ull;
    drv2.probe();
    DriverRing s0{ram, 16, ram_base + 0x8000}, s1{ram, 8, ram_base + 0xa000};

    bring_up(true);
    drv2.enable_msix(3);
    ASSERT_TRUE(drv2.negotiate(wanted));
    drv2.wr(drv2.common + 16, 2, 0);
    ASSERT_TRUE(drv2.setup_queue(0, s0, 1));
    ASSERT_TRUE(drv2.setup_queue(1, s1, 2));
    drv2.add_status(status::driver_ok);

    // Device 1: a looping chain.
    r0.set_desc(0, data, 4, desc_f_next, 0);
    r0.publish(0);
    drv.kick(0);
    EXPECT_TRUE(drv.status() & status::device_needs_reset);
    EXPECT_FALSE(vp.live());
    ASSERT_EQ(irq.msgs.size(), 1u);
    EXPECT_EQ(irq.msgs[0].data, 0x40u);  // configuration change vector
    const unsigned kicks = dev.kicks;
    drv.kick(0);
    EXPECT_EQ(dev.kicks, kicks);  // ignored until reset

    // Device 2 still works.
    std::memcpy(ram.at(data + 0x2000), "fine", 4);
    s0.add({{data + 0x2000, 4, false}, {data + 0x2100, 8, true}});
    drv2.kick(0);
    EXPECT_EQ(s0.used_idx(), 1u);
    EXPECT_EQ(s0.used_elem(0).len, 4u);
    EXPECT_FALSE(drv2.status() & status::device_needs_reset);

    // Reset recovers device 1.
    drv.set_status(0);
    EXPECT_EQ(drv.status(), 0u);
    r0.restart();
    r1.restart();
    std::memset(ram.at(r0.desc), 0, r0.end() - r0.desc);
    bring_up(true);
    EXPECT_EQ(echo("back"), 4u);
}
