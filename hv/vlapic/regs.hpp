// Local APIC register map and bit layouts, shared by the xAPIC MMIO page and
// the x2APIC MSR interface. SDM Vol. 3A chapter 10 (chapter 11 in newer
// editions): Table 10-1 (xAPIC offsets), Table 10-6 (x2APIC MSRs, 10.12.1.2),
// Figures 10-8 (LVT), 10-12/10-28 (ICR), 10-10 (divide configuration).
//
// A register is named by its index: xAPIC offset >> 4 == x2APIC MSR - 0x800.
#pragma once

#include <cstdint>

namespace hv::vlapic {

enum class Reg : uint8_t {
    id = 0x02,
    version = 0x03,
    tpr = 0x08,
    apr = 0x09,        // xAPIC only
    ppr = 0x0a,
    eoi = 0x0b,
    rrd = 0x0c,        // remote read: xAPIC only, reads 0
    ldr = 0x0d,
    dfr = 0x0e,        // xAPIC only
    svr = 0x0f,
    isr0 = 0x10,       // .. 0x17
    tmr0 = 0x18,       // .. 0x1f
    irr0 = 0x20,       // .. 0x27
    esr = 0x28,
    lvt_cmci = 0x2f,
    icr_low = 0x30,    // x2APIC: the whole 64-bit ICR
    icr_high = 0x31,   // xAPIC only
    lvt_timer = 0x32,
    lvt_thermal = 0x33,
    lvt_perf = 0x34,
    lvt_lint0 = 0x35,
    lvt_lint1 = 0x36,
    lvt_error = 0x37,
    timer_initial = 0x38,
    timer_current = 0x39,
    timer_divide = 0x3e,
    self_ipi = 0x3f,   // x2APIC only (10.12.11)
};

constexpr unsigned reg_count = 0x40;  // the architectural registers end at offset 0x3f0
constexpr uint32_t x2apic_msr_first = 0x800;
constexpr uint32_t x2apic_msr_last = 0x8ff;
constexpr uint32_t msr_apic_base = 0x1b;
constexpr uint32_t msr_tsc_deadline = 0x6e0;
constexpr uint64_t default_base = 0xfee00000;
constexpr uint32_t mmio_size = 0x1000;

// IA32_APIC_BASE (10.4.4, Figure 10-5; 10.12.1).
namespace apic_base {
constexpr uint64_t bsp = 1ull << 8;
constexpr uint64_t extd = 1ull << 10;  // x2APIC enable
constexpr uint64_t en = 1ull << 11;    // global enable
constexpr uint64_t base_mask = ~0xfffull;
}  // namespace apic_base

// Version register (10.4.8, Figure 10-7).
namespace version {
constexpr uint32_t integrated_apic = 0x14;
constexpr unsigned max_lvt_shift = 16;
constexpr uint32_t eoi_suppression = 1u << 24;
}  // namespace version

// Spurious-interrupt vector register (10.9, Figure 10-23).
namespace svr {
constexpr uint32_t vector = 0xff;
constexpr uint32_t enable = 1u << 8;
constexpr uint32_t focus_disable = 1u << 9;  // kept for Linux, which sets it; no effect
constexpr uint32_t eoi_suppress = 1u << 12;
}  // namespace svr

// Error status register (10.5.3, Figure 10-9).
namespace esr {
constexpr uint32_t send_checksum = 1u << 0;
constexpr uint32_t receive_checksum = 1u << 1;
constexpr uint32_t send_accept = 1u << 2;
constexpr uint32_t receive_accept = 1u << 3;
constexpr uint32_t redirectable_ipi = 1u << 4;
constexpr uint32_t send_illegal_vector = 1u << 5;
constexpr uint32_t receive_illegal_vector = 1u << 6;
constexpr uint32_t illegal_register = 1u << 7;
}  // namespace esr

// LVT entries (10.5.1, Figure 10-8).
namespace lvt {
constexpr uint32_t vector = 0xff;
constexpr uint32_t delivery_mode = 7u << 8;
constexpr uint32_t delivery_status = 1u << 12;  // read-only, always idle here
constexpr uint32_t polarity = 1u << 13;         // LINT0/1
constexpr uint32_t remote_irr = 1u << 14;       // LINT0/1, read-only
constexpr uint32_t level = 1u << 15;            // trigger mode, LINT0/1
constexpr uint32_t masked = 1u << 16;
constexpr uint32_t timer_mode = 3u << 17;
constexpr unsigned timer_mode_shift = 17;
constexpr uint32_t reset = masked;
}  // namespace lvt

// Index of an LVT entry in Vlapic's table, in register order.
enum class Lvt : uint8_t { cmci, timer, thermal, perf, lint0, lint1, error, count_ };
constexpr unsigned lvt_count = static_cast<unsigned>(Lvt::count_);

// Timer modes, LVT timer bits 18:17 (10.5.4, 10.5.4.1).
enum class TimerMode : uint8_t { one_shot = 0, periodic = 1, tsc_deadline = 2, reserved = 3 };

// ICR (10.6.1, Figure 10-12; x2APIC 10.12.9, Figure 10-28).
namespace icr {
constexpr uint64_t vector = 0xff;
constexpr uint64_t delivery_mode = 7u << 8;
constexpr unsigned delivery_mode_shift = 8;
constexpr uint64_t logical = 1u << 11;
constexpr uint64_t delivery_status = 1u << 12;  // xAPIC only, read-only
constexpr uint64_t level_assert = 1u << 14;
constexpr uint64_t level_trigger = 1u << 15;
constexpr uint64_t shorthand = 3u << 18;
constexpr unsigned shorthand_shift = 18;
// Bits software may set in the low half (the rest is reserved).
constexpr uint64_t low_writable = vector | delivery_mode | logical | level_assert | level_trigger | shorthand;
constexpr uint64_t xapic_dest_mask = 0xffull << 56;  // ICR high bits 31:24
}  // namespace icr

// Divide configuration register (10.5.4, Figure 10-10): bits 0, 1 and 3.
namespace divide {
constexpr uint32_t writable = 0xb;
// Divisor for a divide-configuration value: 2, 4, .. 128, and 1 for 1011b.
constexpr uint32_t divisor(uint32_t dcr)
{
    uint32_t v = ((dcr >> 1) & 4) | (dcr & 3);
    return v == 7 ? 1 : 2u << v;
}
}  // namespace divide

static_assert(divide::divisor(0x0) == 2);
static_assert(divide::divisor(0x3) == 16);
static_assert(divide::divisor(0x8) == 32);
static_assert(divide::divisor(0xa) == 128);
static_assert(divide::divisor(0xb) == 1);

}  // namespace hv::vlapic
