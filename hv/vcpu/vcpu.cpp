#include "hv/vcpu/vcpu.hpp"

#include <cstring>
#include <new>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/domain/domain.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "lib/format.hpp"
#include "lib/log.hpp"

namespace hv {

lib::Result<Vcpu*> create_vcpu(Domain& d, uint32_t id, uint32_t host_serial)
{
    void* mem = mem::kernel_heap().allocate(sizeof(Vcpu), alignof(Vcpu));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* v = new (mem) Vcpu{};
    v->domain = &d;
    v->id = id;
    v->host_serial = host_serial;
    v->running_on = -1;
    v->migrate_to = -1;
    v->state = id == 0 ? VcpuState::runnable : VcpuState::wait_for_sipi;
    const auto& t = arch::lapic::timer_info();
    vlapic::Config lc{.apic_id = id, .bsp = id == 0, .x2apic = true, .tsc_deadline = true,
                      .eoi_suppression = true, .cmci = false, .tsc_hz = t.tsc_hz, .bus_hz = t.lapic_hz,
                      .phys_addr_bits = 46};
    v->lapic.reset(lc, d.lapic_bus);
    v->tsc_offset = d.tsc_offset;
    arch::fpu_state_init(v->fpu);
    return v;
}

lib::Status ensure_hw(Vcpu& v)
{
    if (v.hw) return {};
    Domain& d = *v.domain;
    // Backend state (a VMCS in particular) belongs to the CPU that creates
    // it: the vCPU's own CPU, at its first run.
    auto hw = arch::virt::create_vcpu({.p2m = &d.p2m, .vcpu_id = v.host_serial, .io_bitmap_phys = d.io_bitmap_pa});
    if (!hw.ok()) return lib::err(hw.error());
    v.hw = hw.value();
    v.hw->set_tsc_offset(v.tsc_offset);
    v.hw->set_pause_tuning(d.pause);
    // MSRs whose guest values live in the guest-state area and are switched
    // by hardware on entry and exit on both backends: no exits needed.
    for (uint32_t msr : {0xc0000100u /* FS base */, 0xc0000101u /* GS base */, 0x174u, 0x175u, 0x176u /* SYSENTER */})
        v.hw->set_msr_intercept(msr, false, false);
    return {};
}

void destroy_vcpu(Vcpu* v)
{
    if (!v) return;
    // No CPU may save FPU state into a freed vCPU later.
    for (unsigned c = 0; c < arch::max_cpus; ++c)
        if (arch::cpus[c] && arch::cpus[c]->fpu_owner == &v->fpu) arch::cpus[c]->fpu_owner = nullptr;
    // The backend object's frames stay with the backend until it can free
    // them (a VMCS must be VMCLEARed on the CPU that last used it).
    mem::kernel_heap().deallocate(v, sizeof(Vcpu));
}

void set_flat32_entry_state(Vcpu& v, const Flat32Entry& e)
{
    if (!ensure_hw(v).ok()) {
        crash_domain(*v.domain, "vCPU %u: no memory for its virtualization state", v.id);
        return;
    }
    HwVcpu& hw = *v.hw;
    const Segment code{0x08, seg_attr::code32, 0xffffffff, 0, false};
    const Segment data{0x10, seg_attr::data32, 0xffffffff, 0, false};
    hw.set_segment(SegReg::cs, code);
    for (SegReg s : {SegReg::ds, SegReg::es, SegReg::fs, SegReg::gs, SegReg::ss}) hw.set_segment(s, data);
    hw.set_segment(SegReg::tr, {0, seg_attr::tss32_busy, 0xffff, 0, false});
    hw.set_segment(SegReg::ldtr, {0, seg_attr::ldt, 0xffff, 0, false});
    hw.set_gdtr({0, 0xffff});
    hw.set_idtr({0, 0x3ff});
    hw.write(GuestReg::cr0, 0x11);  // PE, ET
    hw.write(GuestReg::cr3, 0);
    hw.write(GuestReg::cr4, 0);
    hw.write(GuestReg::efer, 0);
    hw.write(GuestReg::rflags, 0x2);
    hw.write(GuestReg::rip, e.eip);
    memset(&v.gprs, 0, sizeof v.gprs);
    v.gprs[Gpr::rax] = e.eax;
    v.gprs[Gpr::rbx] = e.ebx;
    v.gprs[Gpr::rsi] = e.esi;
    v.gprs[Gpr::rdi] = e.edi;
}

void advance_rip(Vcpu& v, const VmExit& x)
{
    v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + x.insn_len);
    // Completing an instruction ends an STI/MOV-SS shadow; the backends keep
    // the interruptibility state, nothing more to do for the instructions
    // that exit here.
}

void inject_exception(Vcpu& v, uint8_t vector, bool has_error, uint32_t error)
{
    v.hw->inject({.vector = vector, .type = EventType::exception, .has_error = has_error, .error_code = error});
}

void raise_irq(Vcpu& v, uint8_t vector)
{
    v.irq_pending = true;
    v.irq_vector = vector;
}

void raise_nmi(Vcpu& v) { v.nmi_pending = true; }

uint64_t guest_tsc(const Vcpu& v) { return arch::rdtsc() + v.tsc_offset; }

namespace {

void expire_timer(Vcpu& v)
{
    if (v.timer_deadline && arch::rdtsc() >= v.timer_deadline) {
        v.timer_deadline = 0;
        raise_irq(v, v.timer_vector);
    }
}

// Arms the host LAPIC timer for the vCPU's virtual timer, so its expiry
// interrupts the guest (an external-interrupt exit) or wakes a halted vCPU.
// The next host-TSC time at which something becomes pending, 0 if none.
uint64_t next_wakeup(const Vcpu& v)
{
    uint64_t next = v.timer_deadline;
    uint64_t lapic = v.lapic.next_event();
    if (lapic != vlapic::Vlapic::never) {
        uint64_t host = lapic - v.tsc_offset;
        if (!next || host < next) next = host ? host : 1;
    }
    return next;
}

// Re-arms only when the wakeup time changed: after the one-shot fired the
// deadline has passed and changes anyway.
void arm_host_timer(Vcpu& v, uint64_t slice_end = 0)
{
    uint64_t when = next_wakeup(v);
    if (slice_end && (!when || slice_end < when)) when = slice_end;
    if (!when || when == v.host_timer_for) return;
    v.host_timer_for = when;
    uint64_t now = arch::rdtsc();
    uint64_t hz = arch::lapic::timer_info().tsc_hz;
    uint64_t delta = when > now ? when - now : 0;
    // Clamp: a far deadline is re-armed at the next exit anyway.
    if (delta > hz) delta = hz;
    uint64_t ns = delta * 1'000'000'000ull / hz;
    arch::lapic::arm_oneshot(ns ? ns : 1, arch::vector::lapic_timer);
}

// Moves vLAPIC timer expiries and its events (NMI, INIT, SIPI) to the vCPU.
void poll_lapic(Vcpu& v)
{
    uint64_t next = v.lapic.next_event();
    if (next != vlapic::Vlapic::never && next <= guest_tsc(v)) v.lapic.advance(guest_tsc(v));
    if (!v.lapic.has_events()) return;
    vlapic::Events e = v.lapic.take_events();
    if (e.nmi) v.nmi_pending = true;
    if (e.init) {
        // INIT: the vCPU waits for a SIPI (SDM 8.4.1); its APIC resets.
        v.lapic.init_reset();
        v.pvclock_msr = 0;
        v.nmi_pending = v.irq_pending = v.extint_pending = false;
        v.state = VcpuState::wait_for_sipi;
    }
    if (e.startup && v.state == VcpuState::wait_for_sipi) {
        v.sipi_vector = e.startup_vector;
        v.sipi_received = true;
        v.state = VcpuState::runnable;
    }
    if (e.extint || e.smi)
        LOG_WARN("dom%u vcpu%u: APIC %s%s ignored (no virtual PIC, no SMM)", v.domain->id, v.id,
                 e.extint ? "ExtINT " : "", e.smi ? "SMI" : "");
}

// A SIPI starts the vCPU in real mode at vector << 12 (SDM 8.4.3).
void enter_sipi_state(Vcpu& v, uint8_t vector)
{
    HwVcpu& hw = *v.hw;
    uint16_t sel = uint16_t(vector) << 8;
    hw.set_segment(SegReg::cs, {sel, 0x9b, 0xffff, uint64_t(vector) << 12, false});
    for (SegReg s : {SegReg::ds, SegReg::es, SegReg::fs, SegReg::gs, SegReg::ss})
        hw.set_segment(s, {0, 0x93, 0xffff, 0, false});
    hw.set_segment(SegReg::tr, {0, 0x8b, 0xffff, 0, false});
    hw.set_segment(SegReg::ldtr, {0, 0x82, 0xffff, 0, false});
    hw.set_gdtr({0, 0xffff});
    hw.set_idtr({0, 0xffff});
    hw.write(GuestReg::cr0, 0x10);  // ET; caches enabled (the reset value has CD/NW set)
    hw.write(GuestReg::cr3, 0);
    hw.write(GuestReg::cr4, 0);
    hw.write(GuestReg::efer, 0);
    hw.write(GuestReg::rflags, 0x2);
    hw.write(GuestReg::rip, 0);
    memset(&v.gprs, 0, sizeof v.gprs);
    v.gprs[Gpr::rdx] = 0x600;  // a family-6 processor signature, as after reset
}

// Before each entry: inject a pending interrupt if the guest can take it now,
// otherwise ask for an exit when it can (interrupt window).
void deliver_pending(Vcpu& v)
{
    arch::SpinGuard g(v.lock);
    expire_timer(v);
    poll_lapic(v);
    if (v.state != VcpuState::runnable) return;
    if (v.hw->event_pending()) return;  // a re-injection goes first
    // An instruction half-way through forwarded MMIO accesses finishes
    // first: an interrupt now would run it again later, repeating accesses.
    if (v.mmio_log.count) return;
    if (v.nmi_pending) {
        if (!v.hw->nmi_blocked()) {
            v.hw->inject({.vector = 2, .type = EventType::nmi});
            v.nmi_pending = false;
            return;
        }
        v.hw->set_nmi_window_exiting(true);
    }
    bool lapic_pending = v.lapic.pending_vector().ok();
    bool extint = v.extint_pending && v.lapic.accepts_extint();
    if (!v.irq_pending && !extint && !lapic_pending) return;
    if (!v.hw->interrupts_open()) {
        v.hw->set_interrupt_window_exiting(true);
        return;
    }
    v.hw->set_interrupt_window_exiting(false);
    if (v.irq_pending) {  // the direct line (test device) outranks the APIC here
        v.hw->inject({.vector = v.irq_vector, .type = EventType::external});
        v.irq_pending = false;
        return;
    }
    if (extint) {  // the PIC's answer: not through the APIC's IRR and ISR
        v.hw->inject({.vector = v.extint_vector, .type = EventType::external});
        v.extint_pending = false;
        return;
    }
    auto vec = v.lapic.acknowledge();
    if (vec.ok()) v.hw->inject({.vector = vec.value(), .type = EventType::external});
}

void handle_exit(Vcpu& v, const VmExit& x)
{
    Domain& d = *v.domain;
    switch (x.reason) {
    case ExitReason::cpuid: handle_cpuid(v, x); return;
    case ExitReason::io: handle_io(v, x); return;
    case ExitReason::msr_read:
    case ExitReason::msr_write: handle_msr(v, x); return;
    case ExitReason::cr_access: handle_cr(v, x); return;
    case ExitReason::external_interrupt:
    case ExitReason::nmi:
        // Take the host interrupt that caused the exit, then resume. It may
        // have been the one-shot armed for this vCPU: arm it again.
        arch::sti();
        asm volatile("nop");
        arch::cli();
        v.host_timer_for = 0;
        return;
    case ExitReason::hlt: {
        advance_rip(v, x);
        arch::SpinGuard g(v.lock);
        v.state = VcpuState::halted;  // the CPU loop runs others until it wakes
        return;
    }
    case ExitReason::pause:
        // A spinning vCPU: with directed yield the CPU loop runs a preempted
        // sibling (likely the lock holder) before this one again.
        advance_rip(v, x);
        if (d.directed_yield) v.yield_requested = true;
        return;
    case ExitReason::invd:
    case ExitReason::wbinvd:
    case ExitReason::monitor_mwait: advance_rip(v, x); return;  // no-ops for a guest with no cache control
    case ExitReason::hypercall:
        // No guest hypercalls yet: -ENOSYS, as Xen answers unknown ones.
        v.gprs[Gpr::rax] = uint64_t(-38);
        advance_rip(v, x);
        return;
    case ExitReason::xsetbv:
        // XSAVE is not offered in CPUID, so XSETBV is undefined for the guest.
        inject_exception(v, 6);
        return;
    case ExitReason::exception:
        // Intercepted only to stop event-delivery loops (#AC, #DB): reflect.
        inject_exception(v, x.exception.vector, x.exception.has_error, x.exception.error_code);
        return;
    case ExitReason::interrupt_window:
        v.hw->set_interrupt_window_exiting(false);
        return;
    case ExitReason::preemption_timer: return;  // the slice ended: run_vcpu returns to the CPU loop
    case ExitReason::nmi_window:
        v.hw->set_nmi_window_exiting(false);
        return;
    case ExitReason::shutdown:
        crash_domain(d, "vCPU %u triple fault at rip %#lx", v.id, v.hw->read(GuestReg::rip));
        return;
    case ExitReason::mmio: handle_mmio(v, x); return;
    case ExitReason::invalid_guest_state:
        crash_domain(d, "vCPU %u: VM entry refused the guest state (exit code %#lx)", v.id, x.raw_reason);
        return;
    case ExitReason::init:
    case ExitReason::sipi:
    case ExitReason::rdtsc:
    case ExitReason::rdtscp:
    case ExitReason::invlpg:
    case ExitReason::unhandled:
    case ExitReason::count_:
        break;
    }
    crash_domain(d, "vCPU %u: unhandled exit %s (raw %#lx) at rip %#lx", v.id, exit_reason_name(x.reason),
                 x.raw_reason, v.hw->read(GuestReg::rip));
}

}  // namespace

bool wake_if_pending(Vcpu& v)
{
    arch::SpinGuard g(v.lock);
    if (v.state == VcpuState::runnable) return true;
    if (v.state == VcpuState::stopped) return false;
    if (v.state == VcpuState::waiting_io) {
        // Runs again once its device model answered (run_vcpu applies it).
        if (v.ioreq.state == IoreqState::done) v.state = VcpuState::runnable;
        return v.state == VcpuState::runnable;
    }
    expire_timer(v);
    poll_lapic(v);  // INIT and SIPI move a waiting vCPU here
    if (v.state != VcpuState::halted) return v.state == VcpuState::runnable;
    bool open = v.hw && (v.hw->read(GuestReg::rflags) & (1u << 9));
    bool extint = v.extint_pending && v.lapic.accepts_extint();
    if (v.nmi_pending || (open && (v.irq_pending || extint || v.lapic.pending_vector().ok())))
        v.state = VcpuState::runnable;
    return v.state == VcpuState::runnable;
}

bool blocked_for_good(Vcpu& v)
{
    arch::SpinGuard g(v.lock);
    switch (v.state) {
    case VcpuState::stopped:
    case VcpuState::wait_for_sipi: return true;
    case VcpuState::runnable:
    case VcpuState::waiting_io: return false;
    case VcpuState::halted:
        if (v.nmi_pending || v.timer_deadline) return false;
        if (v.hw && (v.hw->read(GuestReg::rflags) & (1u << 9)))
            return v.lapic.next_event() == vlapic::Vlapic::never && !v.irq_pending && !v.extint_pending;
        return true;
    }
    return true;
}

uint64_t vcpu_wakeup_time(const Vcpu& v) { return next_wakeup(v); }

bool run_vcpu(Vcpu& v, uint64_t slice_end)
{
    Domain& d = *v.domain;
    if (auto s = ensure_hw(v); !s.ok()) {
        crash_domain(d, "vCPU %u: no memory for its virtualization state", v.id);
        return false;
    }
    if (v.sipi_received) {
        v.sipi_received = false;
        enter_sipi_state(v, v.sipi_vector);
    }
    if (v.boot_pending) {
        v.boot_pending = false;
        set_flat32_entry_state(v, {v.boot_eip, v.boot_eax, v.boot_ebx, v.boot_esi, v.boot_edi});
    }
    if (v.ioreq.state == IoreqState::done) apply_ioreq(v);
    // The guest's x87/SSE registers: the hypervisor never touches them, so
    // they only change hands when another vCPU ran on this CPU.
    arch::fpu_switch(arch::this_cpu().fpu_owner, &v.fpu);
    VmExit exit{};
    while (d.state == DomainState::running && !d.paused && v.state == VcpuState::runnable) {
        arch::cli();
        deliver_pending(v);
        if (v.state != VcpuState::runnable) break;
        arm_host_timer(v, slice_end);
        v.hw->set_preemption_deadline(slice_end);
        if (v.p2m_generation != d.p2m.generation()) {
            // A mapping was removed or narrowed since this vCPU last ran:
            // stale guest-physical translations must go (INVEPT / ASID flush),
            // even where an emulator would forgive it.
            v.p2m_generation = d.p2m.generation();
            v.hw->flush_guest_tlb();
        }
        auto s = v.hw->run(v.gprs, exit);
        unsigned r = static_cast<unsigned>(exit.reason);
        if (r < static_cast<unsigned>(ExitReason::count_)) ++v.exits[r];
        ++v.exits_total;
        if (!s.ok() && exit.reason != ExitReason::invalid_guest_state) {
            crash_domain(d, "vCPU %u: VM entry failed", v.id);
            break;
        }
        handle_exit(v, exit);
        if (v.outbox_count || v.eoi_count) flush_ipis(v);
        if (v.yield_requested) break;
        // Asked to move (xl vcpu-pin): the CPU loop hands it over, and a vCPU
        // alone on its CPU may have a slice with no end.
        if (v.migrate_to >= 0 && unsigned(v.migrate_to) != v.cpu) break;
        if (arch::rdtsc() >= slice_end) break;  // time slice used up: let the CPU loop decide
    }
    arch::sti();
    return true;
}

void dump_exit_counters(const Vcpu& v)
{
    char line[400];
    size_t n = lib::format(line, sizeof line, "dom%u vcpu%u: %lu exits, %lu directed yields:", v.domain->id, v.id,
                           v.exits_total, v.directed_yields);
    for (unsigned i = 0; i < static_cast<unsigned>(ExitReason::count_) && n < sizeof line; ++i)
        if (v.exits[i])
            n += lib::format(line + n, sizeof line - n, " %s %lu", exit_reason_name(ExitReason(i)), v.exits[i]);
    LOG_INFO("%s", line);
}

}  // namespace hv
