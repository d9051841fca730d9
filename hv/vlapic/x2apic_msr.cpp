// The x2APIC interface: MSRs 0x800-0x8ff (SDM 10.12.1.2, Table 10-6), and
// IA32_TSC_DEADLINE (0x6e0, 10.5.4.1). All of 0x800-0x8ff raises #GP unless
// the APIC is in x2APIC mode (10.12.1.2); within it only the registers of
// Table 10-6 exist (0x840-0x8ff are reserved), and only ICR (0x830) is 64
// bits wide: bits 63:32 of every other register are reserved (#GP if set).
#include "hv/vlapic/vlapic.hpp"

namespace hv::vlapic {

lib::Result<uint64_t> Vlapic::read_msr(uint32_t msr, uint64_t now)
{
    if (msr < x2apic_msr_first || msr > x2apic_msr_last || mode_ != Mode::x2apic) return lib::err(lib::Error::invalid);
    advance(now);
    return read_reg(msr - x2apic_msr_first, true, now);
}

Fault Vlapic::write_msr(uint32_t msr, uint64_t value, uint64_t now)
{
    if (msr < x2apic_msr_first || msr > x2apic_msr_last || mode_ != Mode::x2apic) return lib::err(lib::Error::invalid);
    unsigned index = msr - x2apic_msr_first;
    if (index != unsigned(Reg::icr_low) && (value >> 32)) return lib::err(lib::Error::invalid);
    advance(now);
    return write_reg(index, value, true, now);
}

lib::Result<uint64_t> Vlapic::read_tsc_deadline(uint64_t now)
{
    if (!cfg_.tsc_deadline) return lib::err(lib::Error::invalid);  // MSR absent
    advance(now);
    // Reads 0 outside TSC-deadline mode (10.5.4.1).
    if (mode_ == Mode::disabled || timer_mode() != TimerMode::tsc_deadline) return uint64_t(0);
    return tsc_deadline_;
}

Fault Vlapic::write_tsc_deadline(uint64_t value, uint64_t now)
{
    if (!cfg_.tsc_deadline) return lib::err(lib::Error::invalid);
    advance(now);
    // Ignored outside TSC-deadline mode (10.5.4.1).
    if (mode_ == Mode::disabled || timer_mode() != TimerMode::tsc_deadline) return {};
    // 0 disarms; a deadline already passed fires at once.
    tsc_deadline_ = value;
    advance(now);
    return {};
}

}  // namespace hv::vlapic
