// A domain's virtual I/O APIC (82093AA datasheet; version 0x20 adds the EOI
// register that Linux uses with directed EOI): 24 redirection entries behind
// the IOREGSEL/IOWIN window at 0xfec00000, driven by input lines that device
// models raise and lower, and by EOIs that end a level-triggered interrupt
// (Remote IRR). Also decodes MSI messages (SDM Vol. 3A 10.11) into the same
// form, since both end up at the local APICs.
//
// Portable and host-tested. Not thread-safe: the domain serializes calls
// under its lock. Interrupts come out as Messages collected in an Outbox,
// which the domain delivers to vLAPICs after dropping that lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/vlapic/message.hpp"

namespace hv::vioapic {

inline constexpr unsigned pins = 24;
inline constexpr uint64_t default_base = 0xfec00000;
inline constexpr uint64_t window_size = 0x1000;
inline constexpr uint32_t version = 0x20;

// Redirection-table entry bits (82093AA 3.2.4).
namespace rte {
inline constexpr uint64_t vector_mask = 0xff;
inline constexpr unsigned delivery_shift = 8;   // 3 bits
inline constexpr uint64_t logical = 1ull << 11;
inline constexpr uint64_t delivery_status = 1ull << 12;  // read-only
inline constexpr uint64_t active_low = 1ull << 13;
inline constexpr uint64_t remote_irr = 1ull << 14;       // read-only
inline constexpr uint64_t level = 1ull << 15;
inline constexpr uint64_t masked = 1ull << 16;
inline constexpr unsigned dest_shift = 56;
// Bits software may write; the rest read back as hardware keeps them.
inline constexpr uint64_t writable = vector_mask | (7ull << delivery_shift) | logical | active_low | level | masked |
                                     (0xffull << dest_shift);
}  // namespace rte

struct Message {
    vlapic::Interrupt irq;
    vlapic::Destination dest;
};

// Messages produced by one call; at most one per pin.
struct Outbox {
    Message msg[pins];
    size_t count = 0;
    void push(const Message& m)
    {
        if (count < pins) msg[count++] = m;
    }
};

class Vioapic {
public:
    // Power-up: every entry masked, edge, vector 0; ID `id`.
    void reset(uint8_t id);

    // The MMIO window: IOREGSEL at 0x00, IOWIN at 0x10, EOI at 0x40. 32-bit
    // accesses (other sizes: the low bytes of the same register, as the
    // chipsets behind this design decode them). Unknown offsets read 0.
    uint32_t mmio_read(uint32_t offset) const;
    void mmio_write(uint32_t offset, uint32_t value, Outbox& out);

    // Input line `pin` asserted (true) or not. Edge-triggered entries send on
    // a rising edge; level-triggered ones while asserted and Remote IRR is
    // clear. Polarity is the guest's business: `asserted` is logical.
    // Out-of-range pins are ignored (false).
    bool set_line(unsigned pin, bool asserted, Outbox& out);
    // An EOI for `vector` (local APIC broadcast or the EOI register): clears
    // Remote IRR of the level-triggered entries with that vector; a line
    // still asserted sends again.
    void eoi(uint8_t vector, Outbox& out);

    uint64_t entry(unsigned pin) const { return pin < pins ? rte_[pin] : 0; }
    bool line(unsigned pin) const { return pin < pins && (lines_ >> pin) & 1; }

private:
    void write_register(uint8_t index, uint32_t value, Outbox& out);
    void try_send(unsigned pin, Outbox& out);

    uint8_t id_ = 0;
    uint8_t select_ = 0;
    uint32_t lines_ = 0;
    uint64_t rte_[pins] = {};
};

// Decodes an MSI write (address 0xFEExxxxx, data word: SDM 10.11.1-2).
// False for an address outside the interrupt window or a reserved delivery
// mode; redirection hint and lowest priority are treated as fixed to the
// first matching APIC by the domain.
bool decode_msi(uint64_t address, uint32_t data, Message& out);

}  // namespace hv::vioapic
