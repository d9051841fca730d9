// I/O APICs (82093AA datasheet; ACPI MADT gives their addresses and GSI
// bases, and the ISA overrides): routing a global system interrupt to a
// vector on one CPU, masking and unmasking it. hv masks every pin at boot and
// routes only what Dom0's drivers ask for.
#pragma once

#include <cstdint>

#include "lib/result.hpp"

namespace arch::ioapic {

struct Chip {
    uint64_t phys;
    uint32_t gsi_base;
};

struct Polarity {
    bool level;      // level-triggered (else edge)
    bool active_low;
};

// Maps the chips, masks every pin. ISA IRQs 0-15 default to edge/high
// unless an override says otherwise (set_override).
lib::Status init(const Chip* chips, unsigned count);
void set_override(uint8_t isa_irq, uint32_t gsi, uint16_t mps_flags);
// The GSI an ISA IRQ arrives on, and how it is triggered.
uint32_t gsi_of_isa(uint8_t isa_irq);
Polarity polarity_of(uint32_t gsi);
bool gsi_exists(uint32_t gsi);
// Whether [phys, phys+size) overlaps a chip's registers.
bool overlaps(uint64_t phys, uint64_t size);

// Programs the pin of `gsi`: fixed delivery of `vector` to `apic_id`
// (physical destination), masked or not.
lib::Status route(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool masked);
void mask(uint32_t gsi, bool masked);

}  // namespace arch::ioapic
