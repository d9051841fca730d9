// The interface between hv/'s vCPU model and a hardware backend
// (arch/x86_64/svm, arch/x86_64/vmx). One object per vCPU; used only on the
// physical CPU that currently runs the vCPU (VMX: the VMCS is current there).
#pragma once

#include <cstdint>

#include "hv/vcpu/guest_state.hpp"
#include "hv/vcpu/vm_exit.hpp"
#include "lib/result.hpp"

namespace hv {

enum class GuestReg : uint8_t { rip, rflags, cr0, cr2, cr3, cr4, efer, dr7, pat, sysenter_cs, sysenter_esp, sysenter_eip };

struct PauseTuning {
    bool enabled;
    uint32_t count;     // SVM Pause Filter count / VMX PLE_Window
    uint32_t gap;       // VMX PLE_Gap / SVM Pause Filter threshold (when present)
};

class HwVcpu {
public:
    // Enters the guest with `gprs` and returns when it exits. An error means
    // the entry itself failed (the exit record then says why, e.g.
    // invalid_guest_state).
    virtual lib::Status run(GuestGprs& gprs, VmExit& exit) = 0;

    virtual uint64_t read(GuestReg r) const = 0;
    virtual void write(GuestReg r, uint64_t v) = 0;
    virtual Segment segment(SegReg s) const = 0;
    virtual void set_segment(SegReg s, const Segment& seg) = 0;
    virtual DescriptorTable gdtr() const = 0;
    virtual DescriptorTable idtr() const = 0;
    virtual void set_gdtr(const DescriptorTable& t) = 0;
    virtual void set_idtr(const DescriptorTable& t) = 0;

    // Event injection for the next entry, and the windows that say when an
    // external interrupt or NMI can be injected.
    virtual void inject(const Event& e) = 0;
    virtual bool event_pending() const = 0;
    virtual void set_interrupt_window_exiting(bool on) = 0;
    virtual void set_nmi_window_exiting(bool on) = 0;
    // RFLAGS.IF set and no STI/MOV-SS shadow.
    virtual bool interrupts_open() const = 0;
    // An NMI is being handled (delivered, IRET not yet completed): another
    // must wait for the NMI window.
    virtual bool nmi_blocked() const = 0;

    virtual void set_tsc_offset(uint64_t offset) = 0;
    // Guarantees an exit by host-TSC time `tsc` (0: no deadline) even while
    // the guest runs with interrupts off: the end of a time slice. VMX uses
    // its preemption timer (some implementations, Bochs among them, hold a
    // host interrupt while the guest's RFLAGS.IF is clear); SVM's INTR
    // intercept always exits, so the host timer is enough there.
    virtual void set_preemption_deadline(uint64_t tsc) = 0;
    virtual void set_pause_tuning(const PauseTuning& t) = 0;
    // Intercept (true) or pass through (false) guest access to an MSR.
    virtual void set_msr_intercept(uint32_t msr, bool read, bool write) = 0;
    // Guest TLB entries tagged for this vCPU must be dropped before the next
    // entry (after a p2m change or a vCPU migration).
    virtual void flush_guest_tlb() = 0;

    // Detaches the backend state from the CPU that last ran it (VMCLEAR),
    // on that CPU, so that the next run() may happen on another CPU.
    virtual void unload() = 0;

    // Frees the backend state and this object. Called on the CPU that last
    // ran the vCPU (a VMCS must be VMCLEARed where it is active).
    virtual void destroy() = 0;

protected:
    ~HwVcpu() = default;
};

}  // namespace hv
