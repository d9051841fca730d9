// Interrupt messages between local APICs, and from the vIOAPIC / MSI to a
// local APIC: the decoded content of an ICR write (SDM 10.6.1) or of an
// I/O APIC redirection entry / MSI data word (10.11.2).
#pragma once

#include <cstdint>

namespace hv::vlapic {

// Delivery modes (10.6.1 Figure 10-12, 10.5.1). 011b is reserved; 111b is
// ExtINT for LVT/IOAPIC/MSI sources and reserved in the ICR.
enum class DeliveryMode : uint8_t { fixed = 0, lowest_priority = 1, smi = 2, reserved3 = 3, nmi = 4, init = 5, startup = 6, extint = 7 };

// ICR destination shorthand (10.6.1).
enum class Shorthand : uint8_t { none = 0, self = 1, all_including_self = 2, all_excluding_self = 3 };

// What arrives at a local APIC.
struct Interrupt {
    uint8_t vector;          // fixed/lowest: the vector; startup: the SIPI page
    DeliveryMode mode;
    bool level_triggered;    // trigger mode (TMR bit for fixed interrupts)
    bool assert_level = true;  // ICR level bit: INIT with 0 is "INIT level de-assert"
};

// Where it goes: one ICR write after validation.
struct Destination {
    uint32_t id;             // xAPIC: 8-bit MDA; x2APIC: 32-bit
    bool logical;            // destination mode
    bool x2apic_format;      // sender in x2APIC mode: decides width and broadcast value
    Shorthand shorthand;
};

struct Ipi {
    Interrupt irq;
    Destination dest;
    uint32_t source_id;      // sender's APIC ID (x2APIC ID, or xAPIC ID in xAPIC mode)
};

constexpr uint32_t xapic_broadcast = 0xff;
constexpr uint32_t x2apic_broadcast = 0xffffffff;

}  // namespace hv::vlapic
