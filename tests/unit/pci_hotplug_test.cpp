// PCI hotplug: the register block the DSDT's methods use (PciHotplug: PCIU
// and PCID read-to-clear, PCEJ written by _EJ0, odd sizes and offsets) and
// the PC platform's hotplug of a virtio function: inserted unconfigured
// with an edge on the hotplug GSI, found in config space, ejected only when
// the guest writes PCEJ, the slot empty afterwards. The AML that reads the
// registers is checked by acpi_builder_test (and iasl).
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "lib/allocator.hpp"
#include "vmm/platform/pc_platform.hpp"
#include "vmm/platform/pci_hotplug.hpp"
#include "vmm/virtio/virtio_console.hpp"

namespace {

using vmm::platform::PciHotplug;

constexpr uint16_t pciu = PciHotplug::base_port + PciHotplug::up_offset;
constexpr uint16_t pcid = PciHotplug::base_port + PciHotplug::down_offset;
constexpr uint16_t pcej = PciHotplug::base_port + PciHotplug::eject_offset;

uint32_t in(PciHotplug& h, uint16_t port, unsigned size = 4)
{
    uint32_t v = 0xdeadbeef;
    EXPECT_TRUE(h.port(port, size, true, v));
    return v;
}

void out(PciHotplug& h, uint16_t port, uint32_t v, unsigned size = 4) { EXPECT_TRUE(h.port(port, size, false, v)); }

TEST(PciHotplug, InsertionsReadOnceAndClear)
{
    PciHotplug h(0x00ffff00);
    EXPECT_EQ(in(h, pciu), 0u);
    EXPECT_TRUE(h.insert(8));
    EXPECT_TRUE(h.insert(17));
    EXPECT_EQ(in(h, pcid), 0u);
    EXPECT_EQ(in(h, pciu), (1u << 8) | (1u << 17));
    EXPECT_EQ(in(h, pciu), 0u) << "reading PCIU clears it";
    // Not hotpluggable: slot 0 (the host bridge), the console's slot 1, 24-31.
    EXPECT_FALSE(h.insert(0));
    EXPECT_FALSE(h.insert(1));
    EXPECT_FALSE(h.insert(24));
    EXPECT_FALSE(h.insert(32));
    EXPECT_EQ(in(h, pciu), 0u);
    EXPECT_EQ(PciHotplug(0xffffffff).slots(), 0xfffffffeu) << "never slot 0";
}

TEST(PciHotplug, EjectRequestStaysPendingUntilTheGuestEjects)
{
    PciHotplug h(0x00ffff00);
    EXPECT_TRUE(h.request_eject(16));
    EXPECT_TRUE(h.eject_pending(16));
    EXPECT_EQ(in(h, pcid), 1u << 16);
    EXPECT_EQ(in(h, pcid), 0u) << "the event is read once";
    EXPECT_TRUE(h.eject_pending(16)) << "the request is not done by reading it";
    EXPECT_EQ(h.take_ejected(), 0u);
    out(h, pcej, 1u << 16);
    EXPECT_FALSE(h.eject_pending(16));
    EXPECT_EQ(h.take_ejected(), 1u << 16);
    EXPECT_EQ(h.take_ejected(), 0u);
    EXPECT_EQ(in(h, pcej), 0u) << "PCEJ reads 0";
    // The guest may eject on its own (a slot's power file); slots outside the
    // hotplug set are ignored.
    out(h, pcej, (1u << 9) | (1u << 1) | (1u << 30) | 1u);
    EXPECT_EQ(h.take_ejected(), 1u << 9);
    // A new insertion cancels a pending eject, and the other way round.
    EXPECT_TRUE(h.request_eject(10));
    EXPECT_TRUE(h.insert(10));
    EXPECT_FALSE(h.eject_pending(10));
    EXPECT_EQ(in(h, pcid), 0u);
    EXPECT_EQ(in(h, pciu), 1u << 10);
    EXPECT_TRUE(h.insert(11));
    EXPECT_TRUE(h.request_eject(11));
    EXPECT_EQ(in(h, pciu), 0u);
    EXPECT_EQ(in(h, pcid), 1u << 11);
    EXPECT_FALSE(h.request_eject(3));
}

TEST(PciHotplug, ByteAndWordAccesses)
{
    PciHotplug h(0x00ffff00);
    h.insert(8);
    h.insert(20);
    // Byte 1 holds slots 8-15, byte 2 slots 16-23: each read clears its own bits only.
    EXPECT_EQ(in(h, pciu + 1, 1), 1u);
    EXPECT_EQ(in(h, pciu + 2, 2), 1u << 4);
    EXPECT_EQ(in(h, pciu), 0u);
    h.request_eject(12);
    out(h, pcej + 1, 1u << 4, 1);  // slot 12 as a byte write
    EXPECT_EQ(h.take_ejected(), 1u << 12);
    // Straddling a register boundary, odd sizes: nothing answers, nothing changes.
    h.insert(9);
    EXPECT_EQ(in(h, pciu + 3, 2), ~0u);
    EXPECT_EQ(in(h, pciu, 3), ~0u);
    EXPECT_EQ(in(h, pciu), 1u << 9);
    // Not its ports.
    uint32_t v = 0;
    EXPECT_FALSE(h.port(PciHotplug::base_port - 1, 1, true, v));
    EXPECT_FALSE(h.port(PciHotplug::base_port + PciHotplug::ports, 4, true, v));
}

// ---- the platform ----

struct Pulse {
    unsigned gsi;
    bool level;
};

struct RecordingHost final : vmm::platform::PlatformHost {
    std::vector<Pulse> lines;
    void irq_line(unsigned gsi, bool level) override { lines.push_back({gsi, level}); }
    void msi(uint64_t, uint32_t) override {}
};

struct MallocAllocator final : lib::Allocator {
    size_t live = 0;
    void* allocate(size_t size, size_t) override
    {
        ++live;
        return std::malloc(size);
    }
    void deallocate(void* p, size_t) override
    {
        --live;
        std::free(p);
    }
};

struct PlatformHotplug : ::testing::Test {
    std::vector<uint8_t> ram = std::vector<uint8_t>(1 << 20);
    RecordingHost host;
    MallocAllocator alloc;
    vmm::platform::PcPlatform pc{host, ram.data(), vmm::builder::split_ram(ram.size()), nullptr, nullptr};
    vmm::virtio::VirtioConsole dev{nullptr, nullptr};

    void SetUp() override { ASSERT_TRUE(pc.init().ok()); }
    uint32_t cfg(unsigned slot, unsigned reg) { return uint32_t(pc.bridge().ecam_read(uint64_t(slot) << 15 | reg, 4)); }
    uint32_t port_in(uint16_t port)
    {
        uint32_t v = 0;
        vmm::platform::Stop stop = vmm::platform::Stop::none;
        EXPECT_TRUE(pc.port(port, 4, true, v, stop));
        return v;
    }
    void port_out(uint16_t port, uint32_t v)
    {
        vmm::platform::Stop stop = vmm::platform::Stop::none;
        EXPECT_TRUE(pc.port(port, 4, false, v, stop));
        EXPECT_EQ(stop, vmm::platform::Stop::none);
    }
    bool pulsed()
    {
        bool p = host.lines.size() == 2 && host.lines[0].gsi == vmm::platform::hotplug_gsi && host.lines[0].level &&
                 host.lines[1].gsi == vmm::platform::hotplug_gsi && !host.lines[1].level;
        host.lines.clear();
        return p;
    }
};

TEST_F(PlatformHotplug, InsertThenEjectThroughTheRegisters)
{
    EXPECT_EQ(cfg(17, 0), ~0u);
    ASSERT_TRUE(pc.hotplug_virtio(dev, 17, alloc).ok());
    EXPECT_TRUE(pulsed()) << "an edge on the hotplug GSI";
    EXPECT_EQ(cfg(17, 0) & 0xffff, 0x1af4u) << "virtio's vendor in the slot";
    EXPECT_EQ(cfg(17, 0x20) & ~0xfu, 0u) << "BAR4 left for the guest to assign";
    EXPECT_EQ(cfg(17, 0x24), 0u);
    EXPECT_EQ(cfg(17, 0x04) & 0x6, 0u) << "decoding off, as a card just inserted";
    EXPECT_EQ(port_in(vmm::platform::hotplug_port), 1u << 17);
    EXPECT_EQ(port_in(vmm::platform::hotplug_port), 0u);

    // A second device in the same slot, the console's slot, a slot past the hotplug range.
    vmm::virtio::VirtioConsole other{nullptr, nullptr};
    EXPECT_FALSE(pc.hotplug_virtio(other, 17, alloc).ok());
    EXPECT_FALSE(pc.hotplug_virtio(other, 1, alloc).ok());
    EXPECT_FALSE(pc.hotplug_virtio(other, 24, alloc).ok());
    EXPECT_TRUE(host.lines.empty());
    EXPECT_EQ(cfg(17, 0) & 0xffff, 0x1af4u) << "the first device is still there";

    // Eject: asked, then nothing happens until the guest writes PCEJ.
    EXPECT_FALSE(pc.request_eject(18).ok()) << "nothing in slot 18";
    EXPECT_FALSE(pc.request_eject(1).ok()) << "the console is not hotpluggable";
    EXPECT_TRUE(host.lines.empty());
    ASSERT_TRUE(pc.request_eject(17).ok());
    EXPECT_TRUE(pulsed());
    EXPECT_TRUE(pc.eject_pending(17));
    EXPECT_EQ(port_in(vmm::platform::hotplug_port + 4), 1u << 17);
    EXPECT_NE(pc.virtio_function(17), nullptr);
    EXPECT_EQ(pc.take_ejected(), 0u);
    port_out(vmm::platform::hotplug_port + 8, 1u << 17);
    EXPECT_EQ(pc.virtio_function(17), nullptr);
    EXPECT_EQ(cfg(17, 0), ~0u) << "the slot reads empty";
    EXPECT_FALSE(pc.eject_pending(17));
    EXPECT_EQ(pc.take_ejected(), 1u << 17);
    EXPECT_EQ(pc.take_ejected(), 0u);
    // A second _EJ0 of the empty slot: nothing to take.
    port_out(vmm::platform::hotplug_port + 8, 1u << 17);
    EXPECT_EQ(pc.take_ejected(), 0u);
    EXPECT_EQ(alloc.live, 0u) << "the function was freed";

    // The slot can be used again.
    ASSERT_TRUE(pc.hotplug_virtio(other, 17, alloc).ok());
    EXPECT_TRUE(pulsed());
    EXPECT_EQ(cfg(17, 0) & 0xffff, 0x1af4u);
}

TEST_F(PlatformHotplug, GuestInitiatedEjectAndBootDevices)
{
    // A boot-time function (attach_virtio: BAR placed) in a hotplug slot can
    // be ejected too; the guest may eject it unasked.
    ASSERT_TRUE(pc.attach_virtio(dev, 8, alloc).ok());
    EXPECT_TRUE(host.lines.empty()) << "no event for a device there from the start";
    EXPECT_NE(cfg(8, 0x20), 0u);
    port_out(vmm::platform::hotplug_port + 8, 1u << 8);
    EXPECT_EQ(pc.virtio_function(8), nullptr);
    EXPECT_EQ(pc.take_ejected(), 1u << 8);
    // remove_virtio: at once, without the guest.
    ASSERT_TRUE(pc.hotplug_virtio(dev, 9, alloc).ok());
    pc.remove_virtio(9);
    EXPECT_EQ(cfg(9, 0), ~0u);
    EXPECT_EQ(pc.take_ejected(), 0u);
    EXPECT_EQ(alloc.live, 0u);
}

TEST_F(PlatformHotplug, NotifyAddressFollowsTheBar)
{
    // Where the doorbells go: BAR4 + the notify offset while decoding is on.
    ASSERT_TRUE(pc.attach_virtio(dev, 8, alloc).ok());
    const uint64_t placed = vmm::platform::PcPlatform::virtio_bar(8) + vmm::virtio::VirtioPci::notify_offset;
    EXPECT_EQ(pc.notify_address(8), placed);
    auto write = [&](unsigned slot, unsigned reg, unsigned size, uint32_t v) {
        port_out(vmm::pci::HostBridge::config_address_port, 0x80000000u | slot << 11 | reg);
        vmm::platform::Stop stop = vmm::platform::Stop::none;
        EXPECT_TRUE(pc.port(uint16_t(vmm::pci::HostBridge::config_data_port), size, false, v, stop));
    };
    // Linux sizes BARs with decoding off: no doorbells meanwhile.
    const uint32_t command = cfg(8, 0x04) & 0xffff;
    write(8, 0x04, 2, command & ~0x2u);
    EXPECT_EQ(pc.notify_address(8), 0u);
    // Moved to a new address above 4 GiB, decoding back on.
    write(8, 0x20, 4, 0x40000000u | (cfg(8, 0x20) & 0xf));
    write(8, 0x24, 4, 0x1);
    write(8, 0x04, 2, command | 0x2u);
    EXPECT_EQ(pc.notify_address(8), 0x1'4000'0000ull + vmm::virtio::VirtioPci::notify_offset);

    // A hot-plugged function: nothing until the guest assigns BAR4 and
    // turns decoding on.
    vmm::virtio::VirtioConsole other{nullptr, nullptr};
    ASSERT_TRUE(pc.hotplug_virtio(other, 17, alloc).ok());
    EXPECT_EQ(pc.notify_address(17), 0u);
    write(17, 0x20, 4, 0xc0200000u | (cfg(17, 0x20) & 0xf));
    EXPECT_EQ(pc.notify_address(17), 0u) << "decoding still off";
    write(17, 0x04, 2, 0x6);
    EXPECT_EQ(pc.notify_address(17), 0xc0200000ull + vmm::virtio::VirtioPci::notify_offset);
    // No function, a slot out of range.
    EXPECT_EQ(pc.notify_address(18), 0u);
    EXPECT_EQ(pc.notify_address(40), 0u);
}

TEST_F(PlatformHotplug, PullOutAGuestDoesNotEject)
{
    // xl block-detach -f: asked, the guest does not eject, Dom0 pulls the
    // function; the guest gets a device check for the slot (PCIU), finds it
    // empty, and a late _EJ0 of it ejects nothing.
    ASSERT_TRUE(pc.hotplug_virtio(dev, 17, alloc).ok());
    EXPECT_TRUE(pulsed());
    EXPECT_EQ(port_in(vmm::platform::hotplug_port), 1u << 17);
    ASSERT_TRUE(pc.request_eject(17).ok());
    EXPECT_TRUE(pulsed());
    ASSERT_TRUE(pc.pull_virtio(17).ok());
    EXPECT_TRUE(pulsed()) << "the guest is told to look at the slot";
    EXPECT_EQ(cfg(17, 0), ~0u) << "the slot reads empty at once";
    EXPECT_EQ(pc.virtio_function(17), nullptr);
    EXPECT_FALSE(pc.eject_pending(17)) << "nothing is left to eject";
    EXPECT_EQ(port_in(vmm::platform::hotplug_port), 1u << 17);
    EXPECT_EQ(alloc.live, 0u);
    port_out(vmm::platform::hotplug_port + 8, 1u << 17);
    EXPECT_EQ(pc.virtio_function(17), nullptr);

    // Bad input: an empty slot, the console, a slot past the hotplug range.
    host.lines.clear();
    EXPECT_FALSE(pc.pull_virtio(17).ok());
    EXPECT_FALSE(pc.pull_virtio(1).ok());
    EXPECT_FALSE(pc.pull_virtio(40).ok());
    EXPECT_TRUE(host.lines.empty());
    // A boot-time function outside the hotplug slots stays.
    ASSERT_TRUE(pc.attach_virtio(dev, 24, alloc).ok());
    EXPECT_FALSE(pc.pull_virtio(24).ok());
    EXPECT_NE(pc.virtio_function(24), nullptr);
}

}  // namespace
