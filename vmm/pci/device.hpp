// What the PCI host bridge needs from a device model, and how device models
// raise interrupts. The integrator implements IrqSink over hypercalls.
#pragma once

#include <cstdint>

#include "vmm/pci/config_space.hpp"

namespace vmm::pci {

// Interrupt delivery into the guest. msi(): one MSI/MSI-X message, i.e. a
// 32-bit write of `data` to `address` as the device would do it on the bus
// (x86: address 0xFEExxxxx names the target APIC(s), data the vector and
// delivery mode; Intel SDM vol. 3 11.11). intx(): the level of the
// function's INTx pin (interrupt_pin in config space), which the integrator
// routes to an IOAPIC input (level-triggered, active high here: true means
// asserted). Called only on changes of level.
class IrqSink {
public:
    virtual void msi(uint64_t address, uint32_t data) = 0;
    virtual void intx(bool level) = 0;

protected:
    ~IrqSink() = default;
};

// A PCI function on bus 0. Config accesses go through config_read/write (a
// device may override them to watch its capability registers, calling
// through to the ConfigSpace); BAR accesses arrive already decoded to a BAR
// index and an offset inside it, and only while the command register enables
// that kind of decoding. Sizes are 1, 2, 4 or 8.
class PciDevice {
public:
    ConfigSpace& config() { return cfg_; }
    const ConfigSpace& config() const { return cfg_; }

    virtual uint32_t config_read(unsigned offset, unsigned size) { return cfg_.read(offset, size); }
    virtual void config_write(unsigned offset, unsigned size, uint32_t value) { cfg_.write(offset, size, value); }
    virtual uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) = 0;
    virtual void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) = 0;

protected:
    ~PciDevice() = default;
    ConfigSpace cfg_;
};

}  // namespace vmm::pci
