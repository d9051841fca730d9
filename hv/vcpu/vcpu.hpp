// The vendor-neutral vCPU: guest registers, the backend object, exit
// counters by reason, and the run loop that dispatches exits. hv/ code sees
// only the exit record and HwVcpu accessors.
#pragma once

#include <cstdint>

#include "hv/vcpu/guest_state.hpp"
#include "hv/vcpu/hw_vcpu.hpp"
#include "hv/vcpu/vm_exit.hpp"
#include "hv/vlapic/vlapic.hpp"
#include "lib/result.hpp"

namespace hv {

struct Domain;

struct Vcpu {
    vlapic::Vlapic lapic;  // first: it needs 16-byte alignment
    Domain* domain;
    uint32_t id;  // within the domain
    HwVcpu* hw;
    GuestGprs gprs;
    uint64_t exits[static_cast<unsigned>(ExitReason::count_)];
    uint64_t exits_total;
    bool blocked;  // HLT with nothing to wake it
    // Pending external interrupt from an hv-side source (the vLAPIC later;
    // the test device now), injected when the guest can take it.
    bool nmi_pending;
    bool irq_pending;
    uint8_t irq_vector;
    // A one-shot virtual timer: at guest-independent host TSC `timer_deadline`
    // (0 = off) `timer_vector` becomes pending. The host LAPIC timer is armed
    // for it while the vCPU runs or halts.
    uint64_t timer_deadline;
    uint8_t timer_vector;
    uint64_t host_timer_for;  // wakeup time the host LAPIC timer is armed for
    // Emulated MSR state.
    uint64_t tsc_offset;
    uint64_t misc_enable;
};

lib::Result<Vcpu*> create_vcpu(Domain& d, uint32_t id, uint32_t host_serial);
void destroy_vcpu(Vcpu* v);

// Puts the vCPU in the state a Multiboot loader leaves: 32-bit protected
// mode, flat segments, paging off, EAX = magic, EBX = info, EIP = entry.
void set_multiboot_entry_state(Vcpu& v, uint32_t entry, uint32_t magic, uint32_t info);

// Runs the vCPU on this CPU until its domain stops or it blocks for good.
void run_vcpu(Vcpu& v);

// Logs the per-reason exit counters (when a domain ends; xl will show them).
void dump_exit_counters(const Vcpu& v);

// The guest's TSC now (host TSC + the vCPU's offset): the vLAPIC's clock.
uint64_t guest_tsc(const Vcpu& v);

// Makes `vector` pending for the vCPU (external interrupt).
void raise_irq(Vcpu& v, uint8_t vector);
void raise_nmi(Vcpu& v);

// Exit handlers (one file each). Each returns normally with the guest ready
// to resume, or stops the domain.
void handle_cpuid(Vcpu& v, const VmExit& x);
void handle_io(Vcpu& v, const VmExit& x);
void handle_msr(Vcpu& v, const VmExit& x);
void handle_cr(Vcpu& v, const VmExit& x);
void handle_mmio(Vcpu& v, const VmExit& x);

// Helpers for handlers.
void advance_rip(Vcpu& v, const VmExit& x);
void inject_exception(Vcpu& v, uint8_t vector, bool has_error = false, uint32_t error = 0);

}  // namespace hv
