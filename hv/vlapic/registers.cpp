// Register semantics shared by the xAPIC page and the x2APIC MSRs. One switch
// over the register index (xAPIC offset >> 4 == MSR - 0x800), with the two
// modes' rules side by side:
//  - xAPIC (Table 10-1): reserved bits are ignored on write, writes to
//    read-only registers are ignored, reads of write-only EOI give 0, reserved
//    offsets set ESR bit 7 "illegal register address" (10.5.3) and read 0.
//  - x2APIC (10.12.1.2 Table 10-6, 10.12.1.3): non-zero reserved bits,
//    WRMSR of read-only registers, RDMSR of EOI / SELF IPI, and registers
//    that do not exist in x2APIC mode (APR, RRD, DFR, ICR high 0x831) raise
//    #GP (returned as an error).
#include "hv/vlapic/vlapic.hpp"

namespace hv::vlapic {
namespace {

constexpr auto gp = lib::Error::invalid;

bool is_lvt(unsigned index) { return index == unsigned(Reg::lvt_cmci) || (index >= unsigned(Reg::lvt_timer) && index <= unsigned(Reg::lvt_error)); }

unsigned lvt_slot(unsigned index) { return index == unsigned(Reg::lvt_cmci) ? 0 : index - unsigned(Reg::lvt_timer) + 1; }

}  // namespace

lib::Result<uint32_t> Vlapic::lvt_writable_mask(unsigned index) const
{
    // Figure 10-8: which LVT fields exist for which source.
    switch (Reg(index)) {
    case Reg::lvt_cmci:
        if (!cfg_.cmci) return lib::err(gp);
        return lvt::vector | lvt::delivery_mode | lvt::masked;
    case Reg::lvt_timer: return lvt::vector | lvt::masked | (cfg_.tsc_deadline ? lvt::timer_mode : (1u << lvt::timer_mode_shift));
    case Reg::lvt_thermal:
    case Reg::lvt_perf: return lvt::vector | lvt::delivery_mode | lvt::masked;
    case Reg::lvt_lint0:
    case Reg::lvt_lint1: return lvt::vector | lvt::delivery_mode | lvt::polarity | lvt::level | lvt::masked;
    case Reg::lvt_error: return lvt::vector | lvt::masked;
    default: return lib::err(gp);
    }
}

lib::Result<uint64_t> Vlapic::read_reg(unsigned index, bool x2, uint64_t now)
{
    auto reserved = [&]() -> lib::Result<uint64_t> {
        if (x2) return lib::err(gp);
        record_error(esr::illegal_register);
        return uint64_t(0);
    };
    if (index >= reg_count) return reserved();
    if (index >= unsigned(Reg::isr0) && index < unsigned(Reg::isr0) + 8) return uint64_t(isr_.word(index - unsigned(Reg::isr0)));
    if (index >= unsigned(Reg::tmr0) && index < unsigned(Reg::tmr0) + 8) return uint64_t(tmr_.word(index - unsigned(Reg::tmr0)));
    if (index >= unsigned(Reg::irr0) && index < unsigned(Reg::irr0) + 8) return uint64_t(irr_.word(index - unsigned(Reg::irr0)));
    if (is_lvt(index)) {
        if (!lvt_writable_mask(index)) return reserved();  // CMCI not offered
        return uint64_t(lvt_[lvt_slot(index)]);
    }
    switch (Reg(index)) {
    case Reg::id: return x2 ? uint64_t(cfg_.apic_id) : uint64_t(xapic_id_) << 24;
    case Reg::version: return uint64_t(version_value());
    case Reg::tpr: return uint64_t(tpr_);
    case Reg::apr: return x2 ? lib::Result<uint64_t>(lib::err(gp)) : uint64_t(apr());
    case Reg::ppr: return uint64_t(ppr());
    case Reg::eoi: return x2 ? lib::Result<uint64_t>(lib::err(gp)) : uint64_t(0);  // write-only
    case Reg::rrd: return x2 ? lib::Result<uint64_t>(lib::err(gp)) : uint64_t(0);  // remote read: never valid
    case Reg::ldr: return uint64_t(ldr_);
    case Reg::dfr: return x2 ? lib::Result<uint64_t>(lib::err(gp)) : uint64_t(dfr_ | 0x0fffffff);
    case Reg::svr: return uint64_t(svr_);
    case Reg::esr: return uint64_t(esr_);
    case Reg::icr_low: return x2 ? icr_ : uint64_t(uint32_t(icr_));  // delivery status: always idle
    case Reg::icr_high: return x2 ? lib::Result<uint64_t>(lib::err(gp)) : uint64_t(icr_ >> 32);
    case Reg::timer_initial: return uint64_t(initial_count_);
    case Reg::timer_current: return uint64_t(timer_current(now));
    case Reg::timer_divide: return uint64_t(divide_);
    case Reg::self_ipi: return reserved();  // write-only in x2APIC, absent in xAPIC
    default: return reserved();
    }
}

void Vlapic::write_svr(uint32_t v)
{
    svr_ = v;
    // 10.4.7.2: while software-disabled every LVT entry is masked and stays so.
    if (!(v & svr::enable))
        for (auto& l : lvt_) l |= lvt::masked;
}

void Vlapic::write_esr()
{
    // 10.5.3: a write makes the errors since the previous write visible and
    // starts collecting anew.
    esr_ = esr_pending_;
    esr_pending_ = 0;
}

void Vlapic::send_icr(uint64_t value)
{
    // 10.6.1: decode and check the command; delivery happens at once, so the
    // delivery-status bit always reads idle.
    Interrupt irq{
        .vector = uint8_t(value & icr::vector),
        .mode = DeliveryMode((value & icr::delivery_mode) >> icr::delivery_mode_shift),
        .level_triggered = bool(value & icr::level_trigger),
        .assert_level = bool(value & icr::level_assert),
    };
    bool x2 = mode_ == Mode::x2apic;
    Destination dest{
        .id = x2 ? uint32_t(value >> 32) : uint32_t(value >> 56),
        .logical = bool(value & icr::logical),
        .x2apic_format = x2,
        .shorthand = Shorthand((value & icr::shorthand) >> icr::shorthand_shift),
    };
    // 011b and 111b are reserved delivery modes in the ICR: nothing is sent.
    if (irq.mode == DeliveryMode::reserved3 || irq.mode == DeliveryMode::extint) return;
    bool fixed = irq.mode == DeliveryMode::fixed || irq.mode == DeliveryMode::lowest_priority;
    if (fixed && irq.vector < 16) {
        // 10.5.3 bit 5: an illegal vector in a message being sent.
        record_error(esr::send_illegal_vector);
        return;
    }
    // INIT level de-assert (10.6.1): no effect on current processors.
    if (irq.mode == DeliveryMode::init && !irq.assert_level && irq.level_triggered) return;
    if (dest.shorthand == Shorthand::self) {
        // Table 10-3: the self shorthand is valid with fixed delivery only.
        if (irq.mode == DeliveryMode::fixed) accept_fixed(irq.vector, irq.level_triggered);
        return;
    }
    if (bus_) bus_->send_ipi(*this, Ipi{.irq = irq, .dest = dest, .source_id = id()});
}

Fault Vlapic::write_reg(unsigned index, uint64_t value, bool x2, uint64_t now)
{
    auto reserved = [&]() -> Fault {
        if (x2) return lib::err(gp);
        record_error(esr::illegal_register);
        return {};
    };
    // Read-only registers: #GP in x2APIC mode, ignored in xAPIC mode.
    auto read_only = [&]() -> Fault { return x2 ? Fault(lib::err(gp)) : Fault(); };
    // x2APIC: any reserved bit set is #GP (10.12.1.3).
    auto bad_bits = [&](uint64_t allowed) { return x2 && (value & ~allowed); };

    if (index >= reg_count) return reserved();
    if (index >= unsigned(Reg::isr0) && index < unsigned(Reg::irr0) + 8) return read_only();  // ISR/TMR/IRR
    if (is_lvt(index)) {
        auto mask = lvt_writable_mask(index);
        if (!mask) return reserved();
        uint32_t ro = lvt::delivery_status | lvt::remote_irr;
        if (bad_bits(*mask | ro)) return lib::err(gp);
        uint32_t v = uint32_t(value) & *mask;
        if (Reg(index) == Reg::lvt_timer && x2 && TimerMode((v & lvt::timer_mode) >> lvt::timer_mode_shift) == TimerMode::reserved)
            return lib::err(gp);
        if (!software_enabled()) v |= lvt::masked;  // 10.4.7.2
        unsigned slot = lvt_slot(index);
        if (Reg(index) == Reg::lvt_timer) {
            timer_write_lvt(v, now);
        } else {
            lvt_[slot] = v | (lvt_[slot] & lvt::remote_irr);
        }
        return {};
    }
    switch (Reg(index)) {
    case Reg::id:
        if (x2) return lib::err(gp);  // read-only in x2APIC mode
        xapic_id_ = uint8_t(value >> 24);
        return {};
    case Reg::version:
    case Reg::ppr:
    case Reg::timer_current: return read_only();
    case Reg::apr:
    case Reg::rrd: return x2 ? Fault(lib::err(gp)) : Fault();  // read-only in xAPIC, absent in x2APIC
    case Reg::tpr:
        if (bad_bits(0xff)) return lib::err(gp);
        tpr_ = uint8_t(value);
        return {};
    case Reg::eoi:
        // x2APIC: only 0 may be written (Table 10-6); xAPIC: any value.
        if (x2 && value) return lib::err(gp);
        (void)eoi();
        return {};
    case Reg::ldr:
        if (x2) return lib::err(gp);  // derived from the x2APIC ID, read-only
        ldr_ = uint32_t(value) & 0xff000000;
        return {};
    case Reg::dfr:
        if (x2) return lib::err(gp);
        dfr_ = uint32_t(value) | 0x0fffffff;
        return {};
    case Reg::svr: {
        uint32_t allowed = svr::vector | svr::enable | svr::focus_disable | (cfg_.eoi_suppression ? svr::eoi_suppress : 0);
        if (bad_bits(allowed)) return lib::err(gp);
        write_svr(uint32_t(value) & allowed);
        return {};
    }
    case Reg::esr:
        if (x2 && value) return lib::err(gp);  // only 0 may be written in x2APIC mode
        write_esr();
        return {};
    case Reg::icr_low:
        if (x2) {
            // 10.12.9: one 64-bit register; bits 12, 13, 16-17, 20-31 reserved.
            if (value & ~(icr::low_writable | 0xffffffff00000000ull)) return lib::err(gp);
            icr_ = value;
        } else {
            icr_ = (icr_ & ~0xffffffffull) | (value & icr::low_writable);
        }
        send_icr(icr_);
        return {};
    case Reg::icr_high:
        if (x2) return lib::err(gp);  // 0x831 does not exist in x2APIC mode
        icr_ = (icr_ & 0xffffffffull) | ((value << 32) & icr::xapic_dest_mask);
        return {};
    case Reg::timer_initial:
        if (bad_bits(0xffffffff)) return lib::err(gp);
        timer_write_initial(uint32_t(value), now);
        return {};
    case Reg::timer_divide:
        if (bad_bits(divide::writable)) return lib::err(gp);
        timer_write_divide(uint32_t(value) & divide::writable, now);
        return {};
    case Reg::self_ipi:
        // 10.12.11: x2APIC only; vector in bits 7:0, fixed, edge, to self.
        if (!x2) return reserved();
        if (bad_bits(0xff)) return lib::err(gp);
        if (value < 16) {
            record_error(esr::send_illegal_vector);
            return {};
        }
        accept_fixed(uint8_t(value), false);
        return {};
    default: return reserved();
    }
}

}  // namespace hv::vlapic
