// MSI-X (PCI Local Bus 3.0 6.8.2): the capability in config space and the
// vector table and pending bit array (PBA) inside one of the function's
// memory BARs. The owner forwards BAR accesses that fall in the table or PBA
// here, and calls config_written() after any guest write to config space so
// enable / function-mask changes take effect. notify(v) delivers vector v
// through the IrqSink, or sets its pending bit while the vector or the whole
// function is masked; unmasking delivers pending messages (6.8.2.9).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/pci/config_space.hpp"
#include "vmm/pci/device.hpp"

namespace vmm::pci {

// Capability structure (6.8.2, figure 6-10), 12 bytes.
struct MsixCap {
    uint8_t cap_id;         // 0x11
    uint8_t next;
    uint16_t control;       // bits 10:0 table size - 1, 14 function mask, 15 enable
    uint32_t table;         // bits 2:0 BIR, 31:3 offset
    uint32_t pba;           // bits 2:0 BIR, 31:3 offset
};
static_assert(sizeof(MsixCap) == 12);
static_assert(offsetof(MsixCap, control) == 2 && offsetof(MsixCap, table) == 4 && offsetof(MsixCap, pba) == 8);

// One table entry (6.8.2.6-6.8.2.9), 16 bytes.
struct MsixEntry {
    uint32_t addr_lo;
    uint32_t addr_hi;
    uint32_t data;
    uint32_t vector_control;  // bit 0: masked
};
static_assert(sizeof(MsixEntry) == 16);
static_assert(offsetof(MsixEntry, addr_hi) == 4 && offsetof(MsixEntry, data) == 8 &&
              offsetof(MsixEntry, vector_control) == 12);

inline constexpr uint16_t msix_ctrl_enable = 1u << 15, msix_ctrl_function_mask = 1u << 14;

class Msix {
public:
    static constexpr unsigned max_vectors = 64;

    // Adds the capability to cfg. table_offset must be 8-byte aligned (the
    // low three bits of the register are the BIR) and the table and PBA must
    // not overlap.
    lib::Status init(ConfigSpace& cfg, IrqSink& sink, unsigned vectors, uint8_t bar, uint32_t table_offset,
                     uint32_t pba_offset);

    unsigned vectors() const { return vectors_; }
    uint8_t cap_offset() const { return cap_; }
    uint8_t bar() const { return bar_; }
    bool enabled() const;
    bool function_masked() const;
    bool vector_masked(unsigned v) const;
    bool pending(unsigned v) const;

    // After any guest config write (cheap; looks at the control register).
    void config_written();

    // BAR accesses. contains() says whether [offset, offset+size) lies in the
    // table or PBA.
    bool contains(uint64_t offset, unsigned size) const;
    uint64_t read(uint64_t offset, unsigned size) const;
    void write(uint64_t offset, unsigned size, uint64_t value);

    // Signals vector v (ignored when v is out of range or MSI-X is off: the
    // caller then falls back to INTx, 6.8.2: the two are exclusive).
    void notify(unsigned v);

    // Function reset: all vectors masked, no pending bits, enable and
    // function mask clear (6.8.2.3, 6.8.2.9).
    void reset();

private:
    uint32_t entry_word(unsigned v, unsigned word) const;
    void deliver_pending();
    void deliver(unsigned v);

    ConfigSpace* cfg_ = nullptr;
    IrqSink* sink_ = nullptr;
    unsigned vectors_ = 0;
    uint8_t cap_ = 0, bar_ = 0;
    uint32_t table_off_ = 0, pba_off_ = 0;
    bool was_active_ = false;  // enabled and not function-masked, as last seen
    uint8_t table_[max_vectors * sizeof(MsixEntry)] = {};
    uint64_t pba_ = 0;  // max_vectors bits
};

}  // namespace vmm::pci
