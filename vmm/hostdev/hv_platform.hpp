// DevicePlatform and PciBus over hv's calls, for the drivers Dom0 runs:
// configuration space through pci_config_read/write, BAR windows through
// device_mmio_map, DMA buffers as regions (region_create, region_map,
// region_phys) and MSIs bound to event ports (device_msi_bind). Dom0 only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "drivers/pci/pci_function.hpp"
#include "drivers/platform/device_platform.hpp"

namespace vmm::hostdev {

class HvPciBus final : public drivers::pci::PciBus {
public:
    explicit HvPciBus(uint32_t control) : control_(control) {}
    uint32_t read(uint32_t bdf, uint16_t reg, unsigned width) override;
    void write(uint32_t bdf, uint16_t reg, unsigned width, uint32_t value) override;

private:
    uint32_t control_;
};

class HvPlatform final : public drivers::DevicePlatform {
public:
    explicit HvPlatform(uint32_t control) : control_(control) {}

    lib::Result<drivers::MmioWindow*> map_mmio(uint64_t phys, uint64_t size) override;
    lib::Result<drivers::DmaBuffer> alloc_dma(size_t size) override;
    lib::Result<drivers::MsiVector> bind_msi() override;
    bool wait_event(uint32_t event, uint64_t timeout_ns) override;
    uint64_t now_ns() override;
    void delay_us(uint64_t us) override;

    // DMA memory handed out so far, bytes.
    uint64_t dma_bytes() const { return dma_bytes_; }

private:
    struct Window final : drivers::MmioWindow {
        volatile uint8_t* base = nullptr;
        uint64_t phys = 0, size = 0;
        uint32_t read32(uint64_t off) override { return *reinterpret_cast<volatile uint32_t*>(base + off); }
        void write32(uint64_t off, uint32_t v) override { *reinterpret_cast<volatile uint32_t*>(base + off) = v; }
        uint64_t read64(uint64_t off) override { return *reinterpret_cast<volatile uint64_t*>(base + off); }
        void write64(uint64_t off, uint64_t v) override { *reinterpret_cast<volatile uint64_t*>(base + off) = v; }
        uint16_t read16(uint64_t off) override { return *reinterpret_cast<volatile uint16_t*>(base + off); }
        void write16(uint64_t off, uint16_t v) override { *reinterpret_cast<volatile uint16_t*>(base + off) = v; }
        uint8_t read8(uint64_t off) override { return base[off]; }
        void write8(uint64_t off, uint8_t v) override { base[off] = v; }
    };
    static constexpr unsigned max_windows = 48;

    uint32_t control_;
    Window windows_[max_windows];
    unsigned window_count_ = 0;
    uint64_t next_va_ = 0;
    uint64_t dma_bytes_ = 0;
};

}  // namespace vmm::hostdev
