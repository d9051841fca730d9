// PCI bus 0 behind a host bridge: the host bridge function itself at 00.0
// (class 06/00; Linux's type-1 probe, pci_sanity_check, looks for a host
// bridge or VGA device on bus 0 before trusting 0xCF8) and up to 31 device
// slots, each a single-function device at function 0. Config space is
// reachable both through configuration mechanism #1 (PCI Local Bus 3.0
// 3.2.2.3.2: the CONFIG_ADDRESS dword at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF)
// and through ECAM (PCIe base 7.2.2: offset bus<<20 | dev<<15 | fn<<12 |
// reg), and both see the same registers. Functions that do not exist read
// all ones (a master abort). BAR accesses are routed to the device whose
// enabled BAR decodes the address. Portable, host-tested.
#pragma once

#include <cstdint>

#include "lib/result.hpp"
#include "vmm/pci/device.hpp"

namespace vmm::pci {

enum class Space : uint8_t { io, memory };

// A decoded BAR access: the device, which BAR, and the offset inside it.
struct BarHit {
    PciDevice* dev = nullptr;
    unsigned slot = 0;
    unsigned bar = 0;
    uint64_t offset = 0;
};

class HostBridge {
public:
    static constexpr unsigned num_slots = 32;  // slot 0 is the host bridge itself
    static constexpr uint16_t config_address_port = 0xcf8, config_data_port = 0xcfc;
    // ECAM window for bus 0 only (the integrator advertises bus range 0-0
    // in the ACPI MCFG table); accesses past it read all ones.
    static constexpr uint64_t ecam_size = 1ull << 20;

    // The host bridge function's identity. The default is the generic PCIe
    // host bridge ID from Red Hat's virtual-device range (1b36:0008), which
    // no Linux quirk matches.
    explicit HostBridge(uint16_t vendor = 0x1b36, uint16_t device = 0x0008);

    // Puts dev in `slot` (1..31), or in the first free slot when slot is
    // 0. Returns the slot used; exists when taken, no_memory when full.
    lib::Result<unsigned> attach(PciDevice& dev, unsigned slot = 0);
    // Takes dev out of `slot` (a hot unplug): the slot reads as empty from
    // then on. Nothing happens unless dev is the device there.
    void detach(unsigned slot, const PciDevice& dev);
    PciDevice* device(unsigned slot) const { return slot < num_slots ? slots_[slot] : nullptr; }

    // Port I/O at 0xCF8-0xCFF, size 1, 2 or 4. Only a dword access at
    // 0xCF8 is CONFIG_ADDRESS; the other bytes of 0xCF8-0xCFB are not ours
    // (on PCs 0xCF9 is the reset control register): they read all ones and
    // writes are dropped. Data accesses with the enable bit (31) clear also
    // read all ones.
    uint32_t io_read(uint16_t port, unsigned size);
    void io_write(uint16_t port, unsigned size, uint32_t value);
    uint32_t config_address() const { return config_address_; }

    // ECAM, offset from the window base; size 1, 2, 4 (or 8 as two dwords).
    uint64_t ecam_read(uint64_t offset, unsigned size);
    void ecam_write(uint64_t offset, unsigned size, uint64_t value);

    // Config access by bus/device/function/register (what both paths use).
    uint32_t config_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size);
    void config_write(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size, uint32_t value);

    // Finds the BAR that decodes [addr, addr+size): the BAR's kind matches
    // the space, its decoding is enabled in the command register, its
    // address is programmed (non-zero) and the access lies wholly inside.
    bool decode(Space space, uint64_t addr, unsigned size, BarHit& hit) const;
    // decode + forward; false when nothing decodes the access (the caller
    // then reads all ones / drops the write, as a master abort would).
    bool bar_read(Space space, uint64_t addr, unsigned size, uint64_t& value);
    bool bar_write(Space space, uint64_t addr, unsigned size, uint64_t value);

private:
    class Self final : public PciDevice {
    public:
        uint64_t bar_read(unsigned, uint64_t, unsigned) override { return ~0ull; }
        void bar_write(unsigned, uint64_t, unsigned, uint64_t) override {}
    };

    Self self_;
    PciDevice* slots_[num_slots] = {};
    uint32_t config_address_ = 0;
};

}  // namespace vmm::pci
