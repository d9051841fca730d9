// Local APIC of the physical CPU (SDM Vol. 3A ch. 10): x2APIC through MSRs
// when the CPU has it, xAPIC through uncached MMIO otherwise.
#pragma once

#include <cstdint>

#include "lib/result.hpp"

namespace arch::lapic {

enum class Mode : uint8_t { xapic, x2apic };

// BSP: picks the mode, maps the MMIO page if needed, enables the APIC.
lib::Status init_bsp(uint64_t madt_lapic_address);
// AP: enables its APIC in the mode the BSP chose.
void init_ap();
Mode mode();
// True once the BSP's APIC is set up (IPIs can be sent).
bool ready();
uint32_t id();
void eoi();

enum class IpiKind : uint32_t { fixed = 0, nmi = 4u << 8, init = 5u << 8, startup = 6u << 8 };
// Sends an IPI and waits (bounded) until the APIC accepted it.
void send_ipi(uint32_t apic_id, IpiKind kind, uint8_t vector = 0);
// NMI to every CPU but this one.
void send_nmi_all_but_self();

// Timer. Frequencies measured by calibrate_timer().
struct TimerInfo {
    uint64_t tsc_hz;
    uint64_t lapic_hz;  // with divide-by-1
    bool tsc_deadline;
    const char* reference;
};
lib::Status calibrate_timer();
const TimerInfo& timer_info();
// One-shot interrupt on `vector` after `ns` nanoseconds (TSC-deadline when
// available, else the one-shot count-down mode).
void arm_oneshot(uint64_t ns, uint8_t vector);

void delay_us(uint64_t us);

}  // namespace arch::lapic
