// One virtual local APIC (one per vCPU): the state of SDM Vol. 3A chapter 10
// (chapter 11 in newer SDMs) behind two interfaces onto the same registers,
// the xAPIC MMIO page (xapic_mmio.cpp) and the x2APIC MSRs 0x800-0x8ff
// (x2apic_msr.cpp); interrupt acceptance, priority and EOI (vlapic.cpp);
// the register semantics both interfaces share (registers.cpp); the timer in
// one-shot, periodic and TSC-deadline modes (timer.cpp); IPI destination
// matching (destination.cpp).
//
// Portable and host-tested: no allocation, no floating point, time comes in
// as the guest TSC value `now` on every call that can observe it.
//
// Not thread-safe: the owner serializes all calls on one Vlapic (the domain
// takes the target's lock when it routes an IPI or an IOAPIC/MSI interrupt
// into another vCPU's vLAPIC, then kicks that vCPU).
//
// Errors are values: an Error from an MSR access means #GP(0) for the guest.
#pragma once

#include <cstdint>

#include "hv/vlapic/message.hpp"
#include "hv/vlapic/regs.hpp"
#include "hv/vlapic/vector_set.hpp"
#include "lib/result.hpp"

namespace hv::vlapic {

struct Config {
    uint32_t apic_id = 0;          // initial APIC ID (CPUID.01H:EBX[31:24], CPUID.0BH:EDX)
    bool bsp = false;              // IA32_APIC_BASE.BSP
    bool x2apic = true;            // CPUID.01H:ECX[21] offered: EXTD may be set
    bool tsc_deadline = true;      // CPUID.01H:ECX[24] offered: timer mode 10b, MSR 0x6e0
    bool eoi_suppression = true;   // version bit 24 offered: SVR bit 12 writable
    bool cmci = false;             // LVT CMCI present (max LVT entry 6 instead of 5)
    uint64_t tsc_hz = 1000000000;  // guest TSC frequency
    uint64_t bus_hz = 1000000000;  // timer input clock before the divider (10.5.4)
    uint8_t phys_addr_bits = 46;   // MAXPHYADDR: higher APIC_BASE bits are reserved
};

enum class Mode : uint8_t { disabled, xapic, x2apic };

// Events for the vCPU state machine, collected until take_events().
struct Events {
    bool nmi = false;          // NMI (ICR, LVT, IOAPIC/MSI): inject when the NMI window opens
    bool init = false;         // INIT: the vCPU enters wait-for-SIPI; call init_reset()
    bool startup = false;      // SIPI: start at startup_vector << 12 if waiting for SIPI
    uint8_t startup_vector = 0;
    bool extint = false;       // ExtINT (LINT0 virtual wire): ask the vPIC for the vector
    bool smi = false;          // SMI: not emulated; reported so it can be logged
    constexpr bool any() const { return nmi || init || startup || extint || smi; }
};

class Vlapic;

// What the domain implements: routing of IPIs to the target vLAPICs and the
// EOI broadcast to the vIOAPIC. Called synchronously from inside a register
// write on the sending vLAPIC (which is consistent at that point: the ICR has
// been stored). A handler may call deliver() on `from` itself (shorthand
// all-including-self, or a destination that matches the sender).
class Bus {
public:
    virtual void send_ipi(Vlapic& from, const Ipi& ipi) = 0;
    // An EOI for a level-triggered vector (TMR set) that is not suppressed
    // by SVR bit 12 (10.8.5): the vIOAPIC clears Remote IRR of the entries
    // with this vector.
    virtual void eoi_broadcast(Vlapic& from, uint8_t vector) = 0;

protected:
    ~Bus() = default;
};

// The value an exit handler turns into #GP(0).
using Fault = lib::Status;

class Vlapic {
public:
    static constexpr uint64_t never = ~0ull;

    // Power-up / RESET state (10.4.7.1, 10.12.5.1): xAPIC mode, enabled,
    // base 0xfee00000, everything else initialized. `bus` may be null (IPIs
    // to others and EOI broadcasts are then dropped).
    void reset(const Config& cfg, Bus* bus);
    // INIT (10.4.7.3, 10.12.5.1): registers initialized, APIC ID, mode and
    // IA32_APIC_BASE kept. The vCPU state machine calls this when it acts on
    // an INIT event.
    void init_reset();

    // --- IA32_APIC_BASE (MSR 0x1b), 10.4.4 and 10.12.5 ----------------------
    uint64_t apic_base() const { return apic_base_; }
    // Illegal transitions and reserved bits give an error (#GP): EN=0 with
    // EXTD=1, x2APIC -> xAPIC, disabled -> x2APIC, EXTD when x2APIC is not
    // offered, bits 0-7, 9 or above MAXPHYADDR. BSP is read-only (writes of
    // it are ignored). Re-read base_address() and mode() afterwards: the
    // MMIO page moves or disappears.
    Fault write_apic_base(uint64_t value, uint64_t now);
    Mode mode() const { return mode_; }
    uint64_t base_address() const { return apic_base_ & apic_base::base_mask & phys_mask(); }

    // --- x2APIC MSRs 0x800-0x8ff (10.12.1.2, Table 10-6) --------------------
    // Any MSR in the range while not in x2APIC mode, a missing or reserved
    // register, RDMSR of a write-only one, WRMSR of a read-only one, reserved
    // bits set: error (#GP).
    lib::Result<uint64_t> read_msr(uint32_t msr, uint64_t now);
    Fault write_msr(uint32_t msr, uint64_t value, uint64_t now);

    // --- IA32_TSC_DEADLINE (MSR 0x6e0), 10.5.4.1 ----------------------------
    // Error (#GP) when TSC-deadline is not offered. Reads 0 and ignores
    // writes unless the LVT timer is in TSC-deadline mode.
    lib::Result<uint64_t> read_tsc_deadline(uint64_t now);
    Fault write_tsc_deadline(uint64_t value, uint64_t now);

    // --- xAPIC MMIO page (10.4.1, Table 10-1) -------------------------------
    // `offset` within the 4 KiB page, `size` 1, 2, 4 or 8. Error
    // not_found: the page is not decoded (APIC disabled or in x2APIC mode:
    // treat as unclaimed memory). Error invalid: offset/size outside the page
    // or an impossible size (a decoder bug; the caller stops the guest).
    // Otherwise the access completes the way hardware completes it (see
    // xapic_mmio.cpp): no #GP exists for MMIO.
    lib::Result<uint64_t> mmio_read(uint32_t offset, unsigned size, uint64_t now);
    Fault mmio_write(uint32_t offset, unsigned size, uint64_t value, uint64_t now);

    // --- Interrupt acceptance (10.8) ----------------------------------------
    // An interrupt arriving from another vLAPIC, the vIOAPIC or MSI (the
    // destination already matched). Fixed and lowest-priority set IRR (and
    // TMR from the trigger mode); vectors 0-15 are refused with the
    // receive-illegal-vector ESR bit (10.5.2). NMI/INIT/SIPI/ExtINT/SMI
    // become Events. Nothing is accepted while hardware-disabled; fixed
    // interrupts are not accepted while software-disabled (10.4.7.2).
    void deliver(const Interrupt& irq);
    // Fixed interrupt with vector and trigger mode.
    void accept_fixed(uint8_t vector, bool level_triggered);
    // The LINT0/LINT1 pins (vPIC INTR, NMI button): delivered as the LVT
    // entry says, unless masked.
    void raise_lint(unsigned pin);
    // Whether the PIC's INTR reaches the processor (the rule of KVM's
    // kvm_apic_accept_pic_intr): the APIC hardware-disabled, or LINT0
    // unmasked with delivery mode ExtINT (10.5.1, virtual wire mode).
    bool accepts_extint() const
    {
        uint32_t l = lvt(Lvt::lint0);
        return mode_ == Mode::disabled || (!(l & lvt::masked) && (l & lvt::delivery_mode) == lvt::delivery_mode);
    }

    // Highest IRR vector whose priority class is above PPR[7:4] (10.8.3.1),
    // if the APIC is enabled; error not_found otherwise.
    lib::Result<uint8_t> pending_vector() const;
    // The processor takes that interrupt: IRR -> ISR, returns the vector to
    // inject (10.8.4). Call only when the guest can take an external
    // interrupt now (RFLAGS.IF, no shadow, no other event being injected).
    lib::Result<uint8_t> acknowledge();
    // EOI (10.8.5): clears the highest ISR bit; a level-triggered vector is
    // broadcast through Bus::eoi_broadcast unless SVR bit 12 suppresses it.
    // Returns the vector that was retired (not_found if ISR was empty).
    lib::Result<uint8_t> eoi();
    // Pending NMI/INIT/SIPI/ExtINT, cleared by the call.
    Events take_events();
    bool has_events() const { return events_.any(); }

    // --- Priorities ----------------------------------------------------------
    uint8_t tpr() const { return tpr_; }
    void set_tpr(uint8_t tpr) { tpr_ = tpr; }
    // CR8 is TPR[7:4] (10.8.6.1).
    uint64_t cr8() const { return tpr_ >> 4; }
    void write_cr8(uint64_t v) { tpr_ = uint8_t((v & 0xf) << 4); }
    uint8_t ppr() const;   // 10.8.3.1
    uint8_t apr() const;   // 10.6.2.4, for lowest-priority arbitration

    // --- Timer (10.5.4) ------------------------------------------------------
    // Absolute guest TSC at which the timer next sets IRR, or `never`
    // (stopped, expired, or masked: a masked timer keeps counting, but it
    // has nothing to deliver). Changes after any register access: read it
    // again after each exit that touched the vLAPIC.
    uint64_t next_event() const;
    // Fires everything due at `now`: one-shot stops, periodic reloads
    // without drift (missed periods coalesce into one IRR bit, as they do on
    // hardware), TSC-deadline clears IA32_TSC_DEADLINE.
    void advance(uint64_t now);

    // --- Identity and raw state (for routing, tests, save/restore) ----------
    uint32_t id() const;               // x2APIC ID, or the 8-bit xAPIC ID in xAPIC mode
    uint32_t ldr() const { return ldr_; }
    uint32_t dfr() const { return dfr_; }
    uint32_t svr() const { return svr_; }
    bool software_enabled() const { return svr_ & svr::enable; }
    uint32_t lvt(Lvt which) const { return lvt_[static_cast<unsigned>(which)]; }
    uint64_t icr() const { return icr_; }
    uint32_t esr() const { return esr_; }
    const VectorSet& irr() const { return irr_; }
    const VectorSet& isr() const { return isr_; }
    const VectorSet& tmr() const { return tmr_; }
    const Config& config() const { return cfg_; }

private:
    // registers.cpp: the semantics shared by MMIO and MSRs. `x2` selects the
    // x2APIC rules (#GP for reserved bits / wrong direction) over the xAPIC
    // rules (ignore).
    lib::Result<uint64_t> read_reg(unsigned index, bool x2, uint64_t now);
    Fault write_reg(unsigned index, uint64_t value, bool x2, uint64_t now);
    lib::Result<uint32_t> lvt_writable_mask(unsigned index) const;
    void write_svr(uint32_t v);
    void write_esr();
    void send_icr(uint64_t value);

    // vlapic.cpp
    void record_error(uint32_t bits);
    void local_interrupt(Lvt which);
    void clear_registers();
    uint64_t phys_mask() const { return (cfg_.phys_addr_bits >= 64) ? ~0ull : ((1ull << cfg_.phys_addr_bits) - 1); }
    uint32_t version_value() const;

    // timer.cpp
    TimerMode timer_mode() const;
    void timer_write_lvt(uint32_t new_lvt, uint64_t now);
    void timer_write_initial(uint32_t count, uint64_t now);
    void timer_write_divide(uint32_t dcr, uint64_t now);
    uint32_t timer_current(uint64_t now) const;
    void timer_stop();

    Config cfg_{};
    Bus* bus_ = nullptr;
    Mode mode_ = Mode::xapic;
    uint64_t apic_base_ = 0;
    uint8_t xapic_id_ = 0;     // ID register bits 31:24 in xAPIC mode (writable there)
    uint8_t tpr_ = 0;
    uint32_t ldr_ = 0;
    uint32_t dfr_ = 0xffffffff;
    uint32_t svr_ = 0xff;
    uint32_t esr_ = 0;          // visible ESR
    uint32_t esr_pending_ = 0;  // errors since the last ESR write (10.5.3)
    uint64_t icr_ = 0;
    uint32_t lvt_[lvt_count] = {};
    VectorSet irr_, isr_, tmr_;
    Events events_{};
    bool in_error_interrupt_ = false;

    // Timer. Time is kept in units of 1/bus_hz TSC ticks (1 TSC tick =
    // bus_hz units, 1 timer input clock = tsc_hz units), so both clocks are
    // exact integers and a periodic timer never drifts.
    uint32_t initial_count_ = 0;
    uint32_t divide_ = 0;
    bool timer_armed_ = false;     // one-shot / periodic counting down
    uint32_t start_count_ = 0;     // count at anchor_ (initial, or the rest after a divide change)
    unsigned __int128 anchor_ = 0; // when the count was start_count_
    uint64_t tsc_deadline_ = 0;    // IA32_TSC_DEADLINE, 0 = disarmed
};

// --- IPI destinations (destination.cpp; 10.6.2, 10.12.10) --------------------
// Whether `target` is addressed by `dest` (physical ID incl. broadcast
// 0xff / 0xffffffff, logical flat or cluster in xAPIC mode, x2APIC cluster
// logical), shorthand ignored. Used for MSI and vIOAPIC routing as well.
bool matches_destination(const Vlapic& target, const Destination& dest);
// The same with the ICR shorthand applied (`sender` is the IPI's source).
bool is_ipi_target(const Vlapic& target, const Vlapic& sender, const Destination& dest);

}  // namespace hv::vlapic
