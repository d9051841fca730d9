// Reference clocks for calibrating the TSC and the LAPIC timer: the ACPI PM
// timer (3.579545 MHz, port from the FADT) and, without ACPI, PIT channel 2.
#pragma once

#include <cstdint>

#include "arch/x86_64/cpu.hpp"

namespace arch::ref_clock {

inline constexpr uint64_t pm_timer_hz = 3'579'545;
inline constexpr uint64_t pit_hz = 1'193'182;

void set_pm_timer(uint16_t port, bool is_32bit);
bool pm_timer_available();
uint32_t pm_timer_read();
uint32_t pm_timer_mask();

// Runs start(), waits about window_ns on the reference, runs stop(); returns
// the nanoseconds that actually passed between the two, or 0 on failure.
template <typename Start, typename Stop> uint64_t pm_timer_measure(uint64_t window_ns, Start start, Stop stop)
{
    uint32_t mask = pm_timer_mask();
    uint64_t want = window_ns * pm_timer_hz / 1'000'000'000ull;
    uint32_t t0 = pm_timer_read();
    start();
    uint32_t t1 = t0;
    // Bounded: a dead timer must not hang the boot (about 1e8 polls).
    for (uint64_t spins = 0; ((t1 - t0) & mask) < want; ++spins) {
        if (spins > 100'000'000) return 0;
        t1 = pm_timer_read();
    }
    stop();
    t1 = pm_timer_read();
    return ((t1 - t0) & mask) * 1'000'000'000ull / pm_timer_hz;
}

template <typename Start, typename Stop> uint64_t pit_measure(uint64_t window_ns, Start start, Stop stop)
{
    uint64_t count = window_ns * pit_hz / 1'000'000'000ull;
    if (count > 0xffff) count = 0xffff;
    // Channel 2, gate via port 0x61 bit 0, speaker off (bit 1), mode 0.
    outb(0x61, (inb(0x61) & ~0x03) | 0x00);
    outb(0x43, 0xb0);
    outb(0x42, uint8_t(count));
    outb(0x42, uint8_t(count >> 8));
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);  // gate high: counting starts
    start();
    for (uint64_t spins = 0; !(inb(0x61) & 0x20); ++spins)
        if (spins > 100'000'000) return 0;
    stop();
    return count * 1'000'000'000ull / pit_hz;
}

}  // namespace arch::ref_clock
