// A PCI function's configuration space: the type-0 header (PCI Local Bus 3.0
// 6.1), per-byte write masks so every register has exactly the writable bits
// the spec gives it, BARs with sizing (6.2.5.1: write all ones, read back the
// size mask), the capability list (6.7) and the command/status bits device
// models act on. Registers past 0x100 (PCIe extended space, reached only via
// ECAM) read 0: "no extended capabilities" (PCIe base 7.9.1 header of 0).
// Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace vmm::pci {

// Type-0 header offsets (PCI Local Bus 3.0 6.1, figure 6-1).
namespace reg {
inline constexpr unsigned vendor_id = 0x00, device_id = 0x02, command = 0x04, status = 0x06;
inline constexpr unsigned revision = 0x08, class_prog = 0x09, class_sub = 0x0a, class_base = 0x0b;
inline constexpr unsigned cache_line = 0x0c, latency = 0x0d, header_type = 0x0e, bist = 0x0f;
inline constexpr unsigned bar0 = 0x10, cardbus_cis = 0x28, subsys_vendor = 0x2c, subsys_id = 0x2e;
inline constexpr unsigned rom_base = 0x30, cap_ptr = 0x34, int_line = 0x3c, int_pin = 0x3d;
inline constexpr unsigned min_gnt = 0x3e, max_lat = 0x3f;
}  // namespace reg

// Command register bits (6.2.2) and status bits (6.2.3).
inline constexpr uint16_t cmd_io = 1u << 0, cmd_memory = 1u << 1, cmd_bus_master = 1u << 2;
inline constexpr uint16_t cmd_intx_disable = 1u << 10;
inline constexpr uint16_t status_intx = 1u << 3, status_cap_list = 1u << 4;

// Capability IDs (PCI Local Bus 3.0 appendix H).
inline constexpr uint8_t cap_id_vendor = 0x09, cap_id_msix = 0x11;

enum class BarKind : uint8_t { none, io, mem32, mem64 };

class ConfigSpace {
public:
    static constexpr unsigned header_size = 0x40;
    static constexpr unsigned size = 0x100;       // conventional config space
    static constexpr unsigned ecam_size = 0x1000;  // what ECAM decodes per function
    static constexpr unsigned num_bars = 6;

    // Until init() the vendor ID reads 0xffff, which is how PCI says "no
    // function here" (6.2.1). class_code is base<<16 | sub<<8 | prog-if.
    ConfigSpace() { raw_[0] = raw_[1] = 0xff; }
    void init(uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
              uint16_t subsys_vendor, uint16_t subsys_id);

    // Declares BAR `index`. size is a power of two: at least 4 for I/O
    // (6.2.5.1: 256 at most), at least 16 for memory. A 64-bit BAR takes
    // index and index+1, so index must be 0..4 and index+1 unused.
    lib::Status set_bar(unsigned index, BarKind kind, uint64_t size, bool prefetchable = false);
    BarKind bar_kind(unsigned index) const { return index < num_bars ? bars_[index].kind : BarKind::none; }
    uint64_t bar_size(unsigned index) const { return index < num_bars ? bars_[index].size : 0; }
    // The address the guest programmed (type bits stripped; both halves of
    // a 64-bit BAR).
    uint64_t bar_address(unsigned index) const;

    // INTx pin: 1..4 for INTA#..INTD#, 0 for none (6.2.4).
    void set_interrupt_pin(uint8_t pin);

    // Appends a capability (6.7): body is the whole structure, byte 0 the
    // capability ID and byte 1 the next pointer (filled in here); len at
    // least 2. write_mask (same length, may be null = read-only) says which
    // bits the guest may change. Returns the capability's offset (dword
    // aligned, from 0x40) or no_memory when config space is full.
    lib::Result<uint8_t> add_capability(const uint8_t* body, uint8_t len, const uint8_t* write_mask = nullptr);

    // Guest accesses: size 1, 2 or 4 and not crossing a dword; anything else
    // reads all ones / is dropped. Offsets 0x100..0xfff read 0.
    uint32_t read(unsigned offset, unsigned size) const;
    void write(unsigned offset, unsigned size, uint32_t value);

    uint16_t command() const { return uint16_t(raw_[reg::command] | raw_[reg::command + 1] << 8); }
    bool io_enabled() const { return command() & cmd_io; }
    bool memory_enabled() const { return command() & cmd_memory; }
    bool bus_master() const { return command() & cmd_bus_master; }
    bool intx_disabled() const { return command() & cmd_intx_disable; }
    // Status bit 3 mirrors the function's INTx level whether or not it is
    // disabled in the command register (6.2.3).
    void set_intx_status(bool asserted);

    // Device models read and update their own capability fields here
    // (bypassing the guest write masks).
    uint8_t* raw() { return raw_; }
    const uint8_t* raw() const { return raw_; }
    uint32_t raw_read(unsigned offset, unsigned size) const;
    void raw_write(unsigned offset, unsigned size, uint32_t value);

private:
    struct Bar {
        BarKind kind = BarKind::none;
        bool upper = false;  // the high half of the 64-bit BAR below
        uint64_t size = 0;
    };

    uint8_t raw_[size] = {};
    uint8_t wmask_[size] = {};
    Bar bars_[num_bars] = {};
    unsigned next_cap_ = header_size;
    uint8_t last_cap_ = 0;
};

}  // namespace vmm::pci
