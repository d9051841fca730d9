// A simulated machine for Dom0's drivers in host tests: PCI configuration
// space is this project's PCI host bridge's ECAM, BAR windows its MMIO
// dispatch (so the device models of vmm/ are the devices), DMA memory a
// fake RAM whose bus addresses are its guest-physical addresses, and an MSI
// an entry in the interrupt sink. Time advances only when a driver waits.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "drivers/pci/pci_function.hpp"
#include "drivers/platform/device_platform.hpp"
#include "tests/unit/virtio_fake.hpp"
#include "vmm/pci/host_bridge.hpp"

namespace simplat {

using virtio_fake::FakeIrq;
using virtio_fake::FakeRam;

constexpr uint64_t ram_base = 0x100000;
constexpr uint64_t ram_bytes = 8 << 20;

struct SimPlatform final : drivers::DevicePlatform, drivers::pci::PciBus {
    vmm::pci::HostBridge& bridge;
    FakeRam& ram;
    FakeIrq& irq;
    uint64_t next_dma = ram_base;
    size_t msis_seen = 0;
    uint64_t clock = 0;

    struct Window final : drivers::MmioWindow {
        vmm::pci::HostBridge* b = nullptr;
        uint64_t phys = 0;
        uint64_t rd(uint64_t off, unsigned n)
        {
            uint64_t v = ~0ull;
            if (!b->bar_read(vmm::pci::Space::memory, phys + off, n, v)) return ~0ull;
            return v;
        }
        void wr(uint64_t off, unsigned n, uint64_t v) { (void)b->bar_write(vmm::pci::Space::memory, phys + off, n, v); }
        uint32_t read32(uint64_t off) override { return uint32_t(rd(off, 4)); }
        void write32(uint64_t off, uint32_t v) override { wr(off, 4, v); }
        uint16_t read16(uint64_t off) override { return uint16_t(rd(off, 2)); }
        void write16(uint64_t off, uint16_t v) override { wr(off, 2, v); }
        uint8_t read8(uint64_t off) override { return uint8_t(rd(off, 1)); }
        void write8(uint64_t off, uint8_t v) override { wr(off, 1, v); }
    };
    std::vector<std::unique_ptr<Window>> windows;

    SimPlatform(vmm::pci::HostBridge& b, FakeRam& r, FakeIrq& i) : bridge(b), ram(r), irq(i) {}

    // PciBus: ECAM offsets are bus << 20 | dev << 15 | fn << 12.
    uint32_t read(uint32_t bdf, uint16_t reg, unsigned width) override
    {
        return uint32_t(bridge.ecam_read(uint64_t(bdf) << 12 | reg, width));
    }
    void write(uint32_t bdf, uint16_t reg, unsigned width, uint32_t value) override
    {
        bridge.ecam_write(uint64_t(bdf) << 12 | reg, width, value);
    }

    lib::Result<drivers::MmioWindow*> map_mmio(uint64_t phys, uint64_t size) override
    {
        if ((phys | size) & 0xfff) return lib::Error::invalid;
        windows.push_back(std::make_unique<Window>());
        windows.back()->b = &bridge;
        windows.back()->phys = phys;
        return static_cast<drivers::MmioWindow*>(windows.back().get());
    }
    lib::Result<drivers::DmaBuffer> alloc_dma(size_t size) override
    {
        if (size & 0xfff || next_dma + size > ram_base + ram_bytes) return lib::Error::no_memory;
        uint64_t at = next_dma;
        next_dma += size;
        std::memset(ram.at(at), 0, size);
        return drivers::DmaBuffer{ram.at(at), at, size};
    }
    lib::Result<drivers::MsiVector> bind_msi() override { return drivers::MsiVector{0xfee00000u, 0x51, 7}; }
    bool wait_event(uint32_t event, uint64_t timeout_ns) override
    {
        EXPECT_EQ(event, 7u);
        clock += timeout_ns;
        bool fired = irq.msgs.size() > msis_seen;
        msis_seen = irq.msgs.size();
        return fired;
    }
    uint64_t now_ns() override { return clock; }
    void delay_us(uint64_t us) override { clock += us * 1000; }
};

}  // namespace simplat
