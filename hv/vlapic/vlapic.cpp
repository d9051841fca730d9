// vLAPIC life cycle, IA32_APIC_BASE, priorities, acceptance, acknowledge and
// EOI. SDM Vol. 3A chapter 10 (11 in newer SDMs).
#include "hv/vlapic/vlapic.hpp"

namespace hv::vlapic {

void Vlapic::clear_registers()
{
    // 10.4.7.1 / 10.12.5.1: IRR, ISR, TMR, ICR, LDR, TPR, DCR, timer counts
    // zero; LVTs masked; SVR 0xff; DFR all ones; ESR clear.
    tpr_ = 0;
    ldr_ = 0;
    dfr_ = 0xffffffff;
    svr_ = 0xff;
    esr_ = 0;
    esr_pending_ = 0;
    icr_ = 0;
    for (auto& l : lvt_) l = lvt::reset;
    irr_.clear_all();
    isr_.clear_all();
    tmr_.clear_all();
    events_ = {};
    in_error_interrupt_ = false;
    initial_count_ = 0;
    divide_ = 0;
    timer_stop();
    tsc_deadline_ = 0;
    // 10.12.10.2: in x2APIC mode the logical ID is derived from the x2APIC
    // ID: cluster = ID[19:4] in LDR[31:16], 1 << ID[3:0] in LDR[15:0].
    if (mode_ == Mode::x2apic) ldr_ = ((cfg_.apic_id >> 4) << 16) | (1u << (cfg_.apic_id & 0xf));
}

void Vlapic::reset(const Config& cfg, Bus* bus)
{
    cfg_ = cfg;
    // Keep the timer arithmetic within 128 bits (timer.cpp): 1 Hz .. 2^40 Hz.
    constexpr uint64_t max_hz = 1ull << 40;
    if (cfg_.tsc_hz == 0) cfg_.tsc_hz = 1;
    if (cfg_.bus_hz == 0) cfg_.bus_hz = 1;
    if (cfg_.tsc_hz > max_hz) cfg_.tsc_hz = max_hz;
    if (cfg_.bus_hz > max_hz) cfg_.bus_hz = max_hz;
    if (cfg_.phys_addr_bits < 32 || cfg_.phys_addr_bits > 52) cfg_.phys_addr_bits = 36;
    bus_ = bus;
    mode_ = Mode::xapic;
    apic_base_ = default_base | apic_base::en | (cfg_.bsp ? apic_base::bsp : 0);
    // 10.12.5.1: the low 8 bits of the x2APIC ID are the xAPIC ID.
    xapic_id_ = uint8_t(cfg_.apic_id);
    clear_registers();
}

void Vlapic::init_reset()
{
    // INIT keeps the mode and the ID register (10.12.5.1); a hardware-disabled
    // APIC stays disabled.
    clear_registers();
}

uint32_t Vlapic::id() const { return mode_ == Mode::x2apic ? cfg_.apic_id : xapic_id_; }

uint32_t Vlapic::version_value() const
{
    uint32_t max_lvt = cfg_.cmci ? 6 : 5;  // entries minus one (10.4.8)
    return version::integrated_apic | (max_lvt << version::max_lvt_shift) |
           (cfg_.eoi_suppression ? version::eoi_suppression : 0);
}

Fault Vlapic::write_apic_base(uint64_t value, uint64_t now)
{
    advance(now);
    // Reserved: bits 0-7, 9, above MAXPHYADDR; EXTD when x2APIC is not offered.
    uint64_t reserved = 0x2ffull | ~phys_mask();
    if (!cfg_.x2apic) reserved |= apic_base::extd;
    if (value & reserved) return lib::err(lib::Error::invalid);

    bool en = value & apic_base::en;
    bool extd = value & apic_base::extd;
    Mode to;
    if (!en && extd) return lib::err(lib::Error::invalid);  // the invalid state (10.12.5)
    to = !en ? Mode::disabled : extd ? Mode::x2apic : Mode::xapic;
    // 10.12.5, Figure 10-27: x2APIC -> xAPIC and disabled -> x2APIC are illegal.
    if (mode_ == Mode::x2apic && to == Mode::xapic) return lib::err(lib::Error::invalid);
    if (mode_ == Mode::disabled && to == Mode::x2apic) return lib::err(lib::Error::invalid);

    Mode from = mode_;
    // BSP is set by the platform, not by software.
    apic_base_ = (value & ~apic_base::bsp) | (apic_base_ & apic_base::bsp);
    mode_ = to;
    if (from == to) return {};
    if (to == Mode::disabled) {
        // 10.4.3: the APIC loses its state; the IDs survive (10.12.5.1).
        clear_registers();
    } else if (from == Mode::disabled) {
        // Disabled -> xAPIC: the power-up state (10.4.3), ID from the hardware.
        xapic_id_ = uint8_t(cfg_.apic_id);
        clear_registers();
    } else {
        // xAPIC -> x2APIC (10.12.5.1): the x2APIC ID is the hardware one,
        // the logical ID is derived; other registers are not architecturally
        // defined across the switch: they are kept.
        ldr_ = ((cfg_.apic_id >> 4) << 16) | (1u << (cfg_.apic_id & 0xf));
        icr_ &= ~icr::delivery_status;
    }
    return {};
}

uint8_t Vlapic::ppr() const
{
    // 10.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0.
    int isrv = isr_.highest();
    uint8_t isr_class = isrv < 0 ? 0 : uint8_t(isrv & 0xf0);
    if ((tpr_ & 0xf0) >= isr_class) return tpr_;
    return isr_class;
}

uint8_t Vlapic::apr() const
{
    // 10.6.2.4 (Pentium 4 / Xeon rules): APR = TPR if TPR[7:4] >= IRRV[7:4]
    // and TPR[7:4] > ISRV[7:4]; otherwise the highest of the three classes.
    int isrv = isr_.highest(), irrv = irr_.highest();
    unsigned tc = tpr_ >> 4, ic = isrv < 0 ? 0 : unsigned(isrv) >> 4, rc = irrv < 0 ? 0 : unsigned(irrv) >> 4;
    if (tc >= rc && tc > ic) return tpr_;
    unsigned m = tc > ic ? tc : ic;
    if (rc > m) m = rc;
    return uint8_t(m << 4);
}

void Vlapic::record_error(uint32_t bits)
{
    // 10.5.3: errors collect until the next ESR write; detecting one raises
    // the error LVT. An illegal vector in the error LVT itself is only
    // recorded (no second error interrupt from inside the first).
    esr_pending_ |= bits;
    if (in_error_interrupt_) return;
    in_error_interrupt_ = true;
    local_interrupt(Lvt::error);
    in_error_interrupt_ = false;
}

void Vlapic::accept_fixed(uint8_t vector, bool level_triggered)
{
    if (mode_ == Mode::disabled || !software_enabled()) return;  // 10.4.7.2: not accepted
    if (vector < 16) {
        // 10.5.2: vectors 0-15 are illegal; not written into IRR.
        record_error(esr::receive_illegal_vector);
        return;
    }
    // 10.8.4: an interrupt already pending for this vector merges with it.
    irr_.set(vector);
    tmr_.assign(vector, level_triggered);
}

void Vlapic::deliver(const Interrupt& irq)
{
    if (mode_ == Mode::disabled) return;
    switch (irq.mode) {
    case DeliveryMode::fixed:
    case DeliveryMode::lowest_priority: accept_fixed(irq.vector, irq.level_triggered); return;
    case DeliveryMode::nmi: events_.nmi = true; return;
    case DeliveryMode::init:
        // 10.6.1: INIT level de-assert (level 0, level trigger) only syncs
        // arbitration IDs on old processors; no effect here.
        if (!irq.assert_level && irq.level_triggered) return;
        events_.init = true;
        return;
    case DeliveryMode::startup:
        events_.startup = true;
        events_.startup_vector = irq.vector;
        return;
    case DeliveryMode::extint: events_.extint = true; return;
    case DeliveryMode::smi: events_.smi = true; return;
    case DeliveryMode::reserved3: return;
    }
}

void Vlapic::local_interrupt(Lvt which)
{
    // 10.5.1: a local source delivers as its LVT entry says unless masked.
    // Timer, error (and thermal/perf/CMCI when fixed) are edge-triggered.
    uint32_t e = lvt_[static_cast<unsigned>(which)];
    if (mode_ == Mode::disabled || (e & lvt::masked)) return;
    uint8_t vector = uint8_t(e & lvt::vector);
    bool has_mode = which != Lvt::timer && which != Lvt::error;
    auto dm = has_mode ? DeliveryMode((e & lvt::delivery_mode) >> 8) : DeliveryMode::fixed;
    bool level = (which == Lvt::lint0) && (e & lvt::level);  // LINT1 is always edge (10.5.1)
    switch (dm) {
    case DeliveryMode::fixed:
        if (vector >= 16 && level && mode_ != Mode::disabled && software_enabled())
            lvt_[static_cast<unsigned>(which)] |= lvt::remote_irr;
        accept_fixed(vector, level);
        return;
    case DeliveryMode::nmi: events_.nmi = true; return;
    case DeliveryMode::smi: events_.smi = true; return;
    case DeliveryMode::init: events_.init = true; return;
    case DeliveryMode::extint: events_.extint = true; return;
    case DeliveryMode::lowest_priority:
    case DeliveryMode::reserved3:
    case DeliveryMode::startup: return;  // reserved for LVT entries
    }
}

void Vlapic::raise_lint(unsigned pin)
{
    if (pin > 1) return;
    Lvt which = pin == 0 ? Lvt::lint0 : Lvt::lint1;
    // A level-triggered LINT0 that is still in service (remote IRR) is not
    // taken again until its EOI (10.5.1).
    if ((lvt_[static_cast<unsigned>(which)] & lvt::remote_irr)) return;
    local_interrupt(which);
}

lib::Result<uint8_t> Vlapic::pending_vector() const
{
    if (mode_ == Mode::disabled || !software_enabled()) return lib::err(lib::Error::not_found);
    int v = irr_.highest();
    // 10.8.3.1: delivered only if its priority class is above PPR[7:4].
    if (v < 0 || (unsigned(v) >> 4) <= unsigned(ppr() >> 4)) return lib::err(lib::Error::not_found);
    return uint8_t(v);
}

lib::Result<uint8_t> Vlapic::acknowledge()
{
    auto v = pending_vector();
    if (!v) return v;
    irr_.clear(*v);
    isr_.set(*v);
    return v;
}

lib::Result<uint8_t> Vlapic::eoi()
{
    int v = isr_.highest();
    if (v < 0) return lib::err(lib::Error::not_found);
    uint8_t vec = uint8_t(v);
    isr_.clear(vec);
    if (tmr_.test(vec)) {
        // A level-triggered LINT0 waiting for this EOI may fire again.
        uint32_t& l0 = lvt_[static_cast<unsigned>(Lvt::lint0)];
        if ((l0 & lvt::remote_irr) && (l0 & lvt::vector) == vec) l0 &= ~lvt::remote_irr;
        // 10.8.5: broadcast to the I/O APICs unless suppressed (SVR bit 12,
        // directed EOI: the guest then writes the vIOAPIC's EOI register).
        bool suppress = cfg_.eoi_suppression && (svr_ & svr::eoi_suppress);
        if (!suppress && bus_) bus_->eoi_broadcast(*this, vec);
    }
    return vec;
}

Events Vlapic::take_events()
{
    Events e = events_;
    events_ = {};
    return e;
}

}  // namespace hv::vlapic
