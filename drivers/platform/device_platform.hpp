// The small platform interface Dom0's device drivers are written against:
// configuration space of one PCI function, MMIO windows, DMA buffers and
// interrupts as events. Dom0 implements it over hv's calls (vmm/hostdev);
// the host tests implement it over simulated devices, so each driver is
// unit-tested without hardware. Nothing here knows which domain runs it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace drivers {

// A PCI function's configuration space (the first 256 bytes: mechanism 1).
class PciConfig {
public:
    // width 1, 2 or 4; reg aligned to it.
    virtual uint32_t read(uint16_t reg, unsigned width) = 0;
    virtual void write(uint16_t reg, unsigned width, uint32_t value) = 0;

protected:
    ~PciConfig() = default;
};

// A device's register window (a memory BAR, mapped uncached). Accesses are
// calls so that a simulated device sees every one of them.
class MmioWindow {
public:
    virtual uint32_t read32(uint64_t off) = 0;
    virtual void write32(uint64_t off, uint32_t v) = 0;
    virtual uint64_t read64(uint64_t off) { return read32(off) | uint64_t(read32(off + 4)) << 32; }
    virtual void write64(uint64_t off, uint64_t v)
    {
        write32(off, uint32_t(v));
        write32(off + 4, uint32_t(v >> 32));
    }
    virtual uint16_t read16(uint64_t off) = 0;
    virtual void write16(uint64_t off, uint16_t v) = 0;
    virtual uint8_t read8(uint64_t off) = 0;
    virtual void write8(uint64_t off, uint8_t v) = 0;

protected:
    ~MmioWindow() = default;
};

// Memory a device reads and writes by DMA: page-aligned, physically
// contiguous, zeroed. `bus` is the address the device is given.
struct DmaBuffer {
    void* va = nullptr;
    uint64_t bus = 0;
    size_t size = 0;
};

// An MSI the device is to send: program address/data into its MSI or MSI-X
// table; `event` names it for wait_event.
struct MsiVector {
    uint64_t address = 0;
    uint32_t data = 0;
    uint32_t event = 0;
};

class DevicePlatform {
public:
    // The window of a BAR's physical range (whole pages; the platform keeps
    // it mapped for as long as it lives).
    virtual lib::Result<MmioWindow*> map_mmio(uint64_t phys, uint64_t size) = 0;
    // size: a multiple of 4 KiB, at most 2 MiB.
    virtual lib::Result<DmaBuffer> alloc_dma(size_t size) = 0;
    virtual lib::Result<MsiVector> bind_msi() = 0;
    // Blocks until `event` fired since the last call for it, or timeout_ns
    // passed; true if it fired. Drivers poll their completion queues after
    // either, so a lost or shared interrupt costs time, never a request.
    virtual bool wait_event(uint32_t event, uint64_t timeout_ns) = 0;
    virtual uint64_t now_ns() = 0;
    // Busy delay for the short waits a device's reset sequence asks for.
    virtual void delay_us(uint64_t us) = 0;

protected:
    ~DevicePlatform() = default;
};

}  // namespace drivers
