// A PCI function as its driver sees it: identity, BARs (decoded and sized),
// the capability list, the command register, and MSI-X or MSI pointed at the
// vectors the platform bound. Also the bus scan that finds functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "drivers/platform/device_platform.hpp"
#include "lib/result.hpp"

namespace drivers::pci {

// Configuration space by bus/device/function, for the scan.
class PciBus {
public:
    virtual uint32_t read(uint32_t bdf, uint16_t reg, unsigned width) = 0;
    virtual void write(uint32_t bdf, uint16_t reg, unsigned width, uint32_t value) = 0;

protected:
    ~PciBus() = default;
};

constexpr uint32_t make_bdf(uint32_t bus, uint32_t dev, uint32_t fn) { return (bus & 0xff) << 8 | (dev & 0x1f) << 3 | (fn & 7); }

// One function's window onto a PciBus.
class FunctionConfig final : public PciConfig {
public:
    FunctionConfig(PciBus& bus, uint32_t bdf) : bus_(&bus), bdf_(bdf) {}
    uint32_t read(uint16_t reg, unsigned width) override { return bus_->read(bdf_, reg, width); }
    void write(uint16_t reg, unsigned width, uint32_t value) override { bus_->write(bdf_, reg, width, value); }

private:
    PciBus* bus_;
    uint32_t bdf_;
};

struct FunctionId {
    uint32_t bdf = 0;
    uint16_t vendor = 0, device = 0;
    uint32_t class_code = 0;  // base << 16 | sub << 8 | prog-if
};

// Every function on bus 0 and on the buses behind PCI-PCI bridges (as
// firmware numbered them). Returns how many were found (up to cap stored).
size_t scan(PciBus& bus, FunctionId* out, size_t cap);

struct Bar {
    uint64_t base = 0;
    uint64_t size = 0;  // 0: not implemented
    bool io = false;
    bool is64 = false;
};

namespace reg {
inline constexpr uint16_t vendor = 0x00, device = 0x02, command = 0x04, status = 0x06, class_rev = 0x08,
                          header_type = 0x0e, bar0 = 0x10, subsystem = 0x2c, cap_ptr = 0x34, interrupt_line = 0x3c;
}
namespace command {
inline constexpr uint16_t io = 1u << 0, memory = 1u << 1, bus_master = 1u << 2, intx_disable = 1u << 10;
}
namespace cap {
inline constexpr uint8_t msi = 0x05, vendor = 0x09, pcie = 0x10, msix = 0x11;
}

class Function {
public:
    explicit Function(PciConfig& cfg) : cfg_(&cfg) {}
    PciConfig& config() { return *cfg_; }
    uint16_t vendor() { return uint16_t(cfg_->read(reg::vendor, 2)); }
    uint16_t device_id() { return uint16_t(cfg_->read(reg::device, 2)); }
    uint32_t class_code() { return cfg_->read(reg::class_rev, 4) >> 8; }
    // BAR i (0-5) as firmware assigned it, sized with decoding off for the
    // moment it takes. The upper half of a 64-bit BAR reads as not implemented.
    Bar bar(unsigned i);
    // Offset of the first capability with this id after `after` (0: from the
    // start), 0 if none. The walk stops after 48 entries (a looped list).
    uint8_t find_capability(uint8_t id, uint8_t after = 0);
    // Sets these command bits (memory, io, bus_master, intx_disable).
    void enable(uint16_t bits);
    // Points MSI-X table entries 0..n-1 at vectors[0..n-1] and enables MSI-X
    // (INTx off). `unsupported` without the capability, `out_of_range` when
    // the table is smaller than n.
    lib::Status enable_msix(DevicePlatform& p, const MsiVector* vectors, unsigned n);
    // One MSI vector through the MSI capability.
    lib::Status enable_msi(const MsiVector& v);
    // MSI-X with n vectors if it has it, else MSI with vectors[0] (how many
    // were programmed goes to *used), else `unsupported`.
    lib::Status enable_interrupts(DevicePlatform& p, const MsiVector* vectors, unsigned n, unsigned* used);

private:
    PciConfig* cfg_;
};

}  // namespace drivers::pci
