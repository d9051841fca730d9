// The VMX vCPU: one VMCS, its MSR bitmap, and the hv::HwVcpu operations on
// them (SDM Vol. 3C Chapters 25-28).
//
// A VMCS is used on one CPU at a time: run() and every accessor make it
// current there (VMPTRLD) and, when the vCPU is new to that CPU, write the
// host-state area for it (per-CPU GS base, TSS, GDT). Moving a vCPU to
// another CPU needs a VMCLEAR on the old one first (25.11.1); until hv has a
// hook for that, a vCPU stays on the CPU that created it.
#include <cstring>
#include <new>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/descriptors.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/vmx/decode.hpp"
#include "arch/x86_64/vmx/entry_abi.h"
#include "arch/x86_64/vmx/vmcs.hpp"
#include "arch/x86_64/vmx/vmx.hpp"
#include "arch/x86_64/vmx/vmx_internal.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "lib/log.hpp"

extern "C" uint64_t vmx_enter(hv::GuestGprs* gprs, uint64_t launched);
extern "C" char vmx_exit_stub[];

namespace arch::vmx {

// entry.S addresses hv::GuestGprs and the host RSP field by these numbers.
#define HV_CHECK_GPR(name, reg) \
    static_assert(VMX_GPR_##name == offsetof(hv::GuestGprs, gpr) + 8 * unsigned(hv::Gpr::reg))
HV_CHECK_GPR(RAX, rax);
HV_CHECK_GPR(RCX, rcx);
HV_CHECK_GPR(RDX, rdx);
HV_CHECK_GPR(RBX, rbx);
HV_CHECK_GPR(RSP, rsp);
HV_CHECK_GPR(RBP, rbp);
HV_CHECK_GPR(RSI, rsi);
HV_CHECK_GPR(RDI, rdi);
HV_CHECK_GPR(R8, r8);
HV_CHECK_GPR(R9, r9);
HV_CHECK_GPR(R10, r10);
HV_CHECK_GPR(R11, r11);
HV_CHECK_GPR(R12, r12);
HV_CHECK_GPR(R13, r13);
HV_CHECK_GPR(R14, r14);
HV_CHECK_GPR(R15, r15);
#undef HV_CHECK_GPR
static_assert(sizeof(hv::GuestGprs) == 16 * 8);
static_assert(VMX_FIELD_HOST_RSP == uint32_t(FieldNat::host_rsp));

namespace {

constexpr uint64_t rflags_if = 1u << 9;
constexpr uint64_t efer_lme = 1u << 8;
constexpr uint64_t efer_lma = 1u << 10;
constexpr uint64_t reset_pat = 0x0007040600070406ull;  // SDM Vol. 3A 13.12.4
constexpr uint32_t msr_sysenter_cs = 0x174, msr_sysenter_esp = 0x175, msr_sysenter_eip = 0x176;

// MSRs a guest uses that VM entry and exit do not switch (27.3.2.1 loads
// only DEBUGCTL, SYSENTER_*, EFER, PAT, ... from the guest-state area): the
// SYSCALL MSRs, SWAPGS's KERNEL_GS_BASE and RDTSCP's TSC_AUX. Once hv passes
// them through, the guest's values live in the CPU's registers, so they are
// switched lazily when another vCPU runs on this CPU. The host itself uses
// none of them (no SYSCALL/SWAPGS/RDTSCP in the hypervisor); whatever later
// runs host code that does must load its own values first.
constexpr uint32_t lazy_msrs[] = {0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103};
constexpr unsigned lazy_msr_count = sizeof lazy_msrs / sizeof lazy_msrs[0];
constexpr uint32_t msr_tsc_aux = 0xc0000103;

// Exceptions intercepted from the start: #DB and #AC can make event delivery
// loop forever inside the guest (CVE-2015-8104, CVE-2015-5307); hv reflects them.
constexpr uint32_t default_exception_bitmap = (1u << 1) | (1u << 17);

// The VMCS exit fields, read on demand for decode_exit().
struct VmcsExitFields {
    uint32_t reason() { return read(Field32::exit_reason); }
    uint64_t qualification() { return read(FieldNat::exit_qualification); }
    uint32_t instruction_length() { return read(Field32::exit_instruction_length); }
    uint32_t instruction_info() { return read(Field32::exit_instruction_info); }
    uint32_t interruption_info() { return read(Field32::exit_interruption_info); }
    uint32_t interruption_error() { return read(Field32::exit_interruption_error); }
    uint32_t idt_vectoring_info() { return read(Field32::idt_vectoring_info); }
    uint64_t guest_physical() { return read(Field64::guest_physical_address); }
};
static_assert(ExitFields<VmcsExitFields>);

struct __attribute__((packed)) DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};
uint64_t idt_base()
{
    DescriptorPointer p;
    asm volatile("sidt %0" : "=m"(p));
    return p.base;
}
uint16_t read_fs() { uint16_t s; asm volatile("mov %%fs, %0" : "=r"(s)); return s; }
uint16_t read_gs() { uint16_t s; asm volatile("mov %%gs, %0" : "=r"(s)); return s; }

// An interrupt acknowledged on exit (exit control "acknowledge interrupt on
// exit", 28.2.2) has left the local APIC's IRR for its ISR: nobody will
// deliver it again. It goes through the same dispatcher the IDT stubs call,
// with interrupts disabled as behind an interrupt gate, so its handler runs
// (and sends the EOI) exactly as if the host had taken it directly. A frame
// without a real interrupted context: handlers only look at the vector.
void deliver_host_interrupt(uint8_t vector)
{
    InterruptFrame f{};
    f.vector = vector;
    f.rip = reinterpret_cast<uint64_t>(vmx_exit_stub);
    f.cs = sel::kernel_code;
    f.rflags = read_flags();
    f.ss = sel::kernel_data;
    interrupt_dispatch(&f);
}

}  // namespace

class VmxVcpu final : public hv::HwVcpu {
public:
    lib::Status init(const virt::VcpuConfig& cfg)
    {
        if (!this_cpu_state().on) {
            LOG_ERROR("vmx: CPU %u is not in VMX operation: cannot create a vCPU", this_cpu().index);
            return lib::err(lib::Error::invalid);
        }
        if (!cfg.p2m || !cfg.p2m->root()) return lib::err(lib::Error::invalid);
        if (cfg.vcpu_id >= 0xffff) {
            LOG_ERROR("vmx: vCPU id %u does not fit a VPID", cfg.vcpu_id);
            return lib::err(lib::Error::out_of_range);
        }
        if (cfg.io_bitmap_phys & (page_size - 1)) return lib::err(lib::Error::invalid);
        vpid_ = uint16_t(cfg.vcpu_id + 1);  // VPID 0 is the host's (25.6.12)
        p2m_ = cfg.p2m;
        eptp_ = make_eptp(cfg.p2m->root());

        vmcs_phys_ = TRY(alloc_vmx_frame());
        msr_bitmap_phys_ = TRY(alloc_vmx_frame());
        msr_bitmap_ = phys_to_virt<uint8_t>(msr_bitmap_phys_);
        memset(msr_bitmap_, 0xff, page_size);  // every MSR exits until hv opens it
        // The SYSCALL MSRs and KERNEL_GS_BASE are switched lazily (above):
        // the guest owns them without exits. TSC_AUX stays intercepted while
        // RDTSCP is hidden.
        for (unsigned i = 0; i < lazy_msr_count; ++i)
            if (lazy_msrs[i] != msr_tsc_aux) set_msr_intercept(lazy_msrs[i], false, false);
        // VMCS region: revision identifier, then a VMCLEAR makes it clear and
        // initializes the implementation-specific data (25.11.3).
        *phys_to_virt<uint32_t>(vmcs_phys_) = config.basic.revision;
        if (vmclear(vmcs_phys_) != InsnStatus::ok) {
            LOG_ERROR("vmx: VMCLEAR of a new VMCS at %#lx failed", vmcs_phys_);
            return lib::err(lib::Error::invalid);
        }
        TRY(make_current());

        // Controls.
        pin_ = config.pin;
        proc_ = config.proc;
        proc2_ = config.proc2;
        if (cfg.io_bitmap_phys) {
            proc_ |= proc::use_io_bitmaps;
            vmx::write(Field64::io_bitmap_a, cfg.io_bitmap_phys);
            vmx::write(Field64::io_bitmap_b, cfg.io_bitmap_phys + page_size);
        } else {
            proc_ |= proc::unconditional_io_exiting;
        }
        vmx::write(Field32::pin_controls, pin_);
        vmx::write(Field32::proc_controls, proc_);
        vmx::write(Field32::proc_controls2, proc2_);
        vmx::write(Field32::exit_controls, config.exit);
        vmx::write(Field32::entry_controls, config.entry);
        vmx::write(Field32::exception_bitmap, default_exception_bitmap);
        vmx::write(Field32::pf_error_mask, 0);
        vmx::write(Field32::pf_error_match, 0);
        vmx::write(Field32::cr3_target_count, 0);
        vmx::write(Field32::exit_msr_store_count, 0);
        vmx::write(Field32::exit_msr_load_count, 0);
        vmx::write(Field32::entry_msr_load_count, 0);
        vmx::write(Field32::entry_interruption_info, 0);
        vmx::write(Field64::msr_bitmap, msr_bitmap_phys_);
        vmx::write(Field64::tsc_offset, 0);
        vmx::write(Field64::ept_pointer, eptp_);
        vmx::write(Field16::vpid, vpid_);
        if (proc2_ & proc2::enable_xsaves) vmx::write(Field64::xss_exiting_bitmap, 0);
        // CR0/CR4 (25.6.6): the bits VMX fixes belong to the hypervisor. The
        // guest reads its own values from the read shadows; writing an owned
        // bit differently from its shadow exits.
        vmx::write(FieldNat::cr0_guest_host_mask, config.guest_cr0.owned());
        vmx::write(FieldNat::cr4_guest_host_mask, config.guest_cr4.owned());

        // Host state (27.2.2, 28.5): fixed parts; per-CPU parts in bind_host().
        vmx::write(Field16::host_cs_selector, sel::kernel_code);
        vmx::write(Field16::host_ss_selector, sel::kernel_data);
        vmx::write(Field16::host_ds_selector, sel::kernel_data);
        vmx::write(Field16::host_es_selector, sel::kernel_data);
        vmx::write(Field16::host_tr_selector, sel::tss);
        vmx::write(FieldNat::host_rip, reinterpret_cast<uint64_t>(vmx_exit_stub));
        bind_host();

        reset_guest_state();
        flush_guest_tlb();
        return {};
    }

    lib::Status run(hv::GuestGprs& gprs, hv::VmExit& exit) override
    {
        exit = hv::VmExit{};
        exit.reason = hv::ExitReason::invalid_guest_state;
        TRY(make_current());
        CpuState& st = this_cpu_state();
        if (st.msr_owner != this) {
            if (st.msr_owner) st.msr_owner->save_lazy_msrs();
            load_lazy_msrs();
            st.msr_owner = this;
        }
        // The exit returns to whatever address space run() was called in.
        uint64_t cr3 = read_cr3();
        if (cr3 != host_cr3_) {
            vmx::write(FieldNat::host_cr3, cr3);
            host_cr3_ = cr3;
        }
        // CR2 is not part of the VMCS: the guest's lives in the register.
        if (read_cr2() != cr2_) write_cr2(cr2_);
        vmx::write(FieldNat::guest_rsp, gprs[hv::Gpr::rsp]);

        bool interrupts_were_on = read_flags() & rflags_if;
        cli();
        uint64_t rc = vmx_enter(&gprs, launched_ ? 1 : 0);
        if (rc != VMX_ENTER_EXIT) {
            if (rc == VMX_ENTER_FAIL_VALID) {
                uint32_t e = instruction_error();
                LOG_ERROR("vmx: vCPU %u: %s failed: %s (VM-instruction error %u)", vpid_ - 1u,
                          launched_ ? "VMRESUME" : "VMLAUNCH", insn_error_name(e), e);
                exit.raw_reason = e;
            } else {
                LOG_ERROR("vmx: vCPU %u: %s failed: no current VMCS", vpid_ - 1u, launched_ ? "VMRESUME" : "VMLAUNCH");
            }
            if (interrupts_were_on) sti();
            return lib::err(lib::Error::invalid);
        }
        cr2_ = read_cr2();
        gprs[hv::Gpr::rsp] = vmx::read(FieldNat::guest_rsp);

        VmcsExitFields fields;
        DecodeNotes n = decode_exit(fields, gprs, config.basic.ins_outs_info, exit);
        lib::Status status{};
        if (n.entry_failure) {
            // 27.8: the qualification says which check failed (2: PDPTE
            // load, 3: NMI injection blocked, 4: VMCS link pointer).
            LOG_ERROR("vmx: vCPU %u: VM entry failed: %s (exit reason %#lx, qualification %#lx)", vpid_ - 1u,
                      basic_exit_name(n.basic), exit.raw_reason, vmx::read(FieldNat::exit_qualification));
            status = lib::err(lib::Error::invalid);
        } else {
            launched_ = true;  // the launch state changes only on a successful entry (31.3 VMLAUNCH)
            uint32_t idt = vmx::read(Field32::idt_vectoring_info);
            if (InterruptionInfo(idt).valid) {
                // The exit interrupted an event delivery: deliver it again on
                // the next entry (28.2.4, 27.6). hv sees it as event_pending().
                EntryEvent ev = reinjection(idt, vmx::read(Field32::idt_vectoring_error),
                                            vmx::read(Field32::exit_instruction_length));
                write_entry_event(ev);
            }
            if (n.restore_nmi_blocking) {
                // An IRET unblocked NMIs and then faulted: re-establish the
                // blocking before the IRET restarts (28.2.3).
                vmx::write(Field32::guest_interruptibility,
                      vmx::read(Field32::guest_interruptibility) | interruptibility::nmi);
            }
            if (n.ept_misconfig) {
                LOG_ERROR("vmx: vCPU %u: EPT misconfiguration at guest-physical %#lx (EPTP %#lx): the p2m holds "
                          "an entry the CPU rejects; stopping the guest",
                          vpid_ - 1u, n.gpa, eptp_);
                status = lib::err(lib::Error::invalid);
            }
        }
        // The host's own events that arrived while the guest ran.
        if (n.host_nmi) asm volatile("int $2" ::: "memory");  // its IRET also ends NMI blocking (28.5.3)
        if (n.host_vector >= 0) deliver_host_interrupt(uint8_t(n.host_vector));
        if (interrupts_were_on) sti();
        return status;
    }

    uint64_t read(hv::GuestReg r) const override
    {
        if (!make_current().ok()) return 0;
        switch (r) {
        case hv::GuestReg::rip: return vmx::read(FieldNat::guest_rip);
        case hv::GuestReg::rflags: return vmx::read(FieldNat::guest_rflags);
        case hv::GuestReg::cr0:
            return guest_view(vmx::read(FieldNat::guest_cr0), vmx::read(FieldNat::cr0_read_shadow),
                              config.guest_cr0.owned());
        case hv::GuestReg::cr2: return cr2_;
        case hv::GuestReg::cr3: return vmx::read(FieldNat::guest_cr3);
        case hv::GuestReg::cr4:
            return guest_view(vmx::read(FieldNat::guest_cr4), vmx::read(FieldNat::cr4_read_shadow),
                              config.guest_cr4.owned());
        case hv::GuestReg::efer: return vmx::read(Field64::guest_efer);
        case hv::GuestReg::dr7: return vmx::read(FieldNat::guest_dr7);
        case hv::GuestReg::pat: return vmx::read(Field64::guest_pat);
        case hv::GuestReg::sysenter_cs: return vmx::read(Field32::guest_sysenter_cs);
        case hv::GuestReg::sysenter_esp: return vmx::read(FieldNat::guest_sysenter_esp);
        case hv::GuestReg::sysenter_eip: return vmx::read(FieldNat::guest_sysenter_eip);
        }
        return 0;
    }

    void write(hv::GuestReg r, uint64_t v) override
    {
        if (!make_current().ok()) return;
        switch (r) {
        case hv::GuestReg::rip:
            vmx::write(FieldNat::guest_rip, v);
            // hv moves RIP past an instruction it emulated: the STI / MOV SS
            // shadow ends with that instruction (26.1, Table 25-3).
            clear_interrupt_shadow();
            break;
        case hv::GuestReg::rflags: vmx::write(FieldNat::guest_rflags, v); break;
        case hv::GuestReg::cr0: {
            vmx::write(FieldNat::cr0_read_shadow, v);
            vmx::write(FieldNat::guest_cr0, config.guest_cr0.apply(v));
            // EFER.LMA follows CR0.PG when EFER.LME is set (SDM Vol. 3A 10.8.5).
            uint64_t efer = vmx::read(Field64::guest_efer);
            if (efer & efer_lme) write_efer((v & cr0_bit::pg) ? efer | efer_lma : efer & ~efer_lma);
            load_pdptes();
            break;
        }
        case hv::GuestReg::cr2: cr2_ = v; break;
        case hv::GuestReg::cr3:
            vmx::write(FieldNat::guest_cr3, v);
            load_pdptes();
            break;
        case hv::GuestReg::cr4:
            vmx::write(FieldNat::cr4_read_shadow, v);
            vmx::write(FieldNat::guest_cr4, config.guest_cr4.apply(v));
            load_pdptes();
            break;
        case hv::GuestReg::efer: write_efer(v); break;
        case hv::GuestReg::dr7: vmx::write(FieldNat::guest_dr7, v); break;
        case hv::GuestReg::pat: vmx::write(Field64::guest_pat, v); break;
        case hv::GuestReg::sysenter_cs: vmx::write(Field32::guest_sysenter_cs, uint32_t(v)); break;
        case hv::GuestReg::sysenter_esp: vmx::write(FieldNat::guest_sysenter_esp, v); break;
        case hv::GuestReg::sysenter_eip: vmx::write(FieldNat::guest_sysenter_eip, v); break;
        }
    }

    hv::Segment segment(hv::SegReg s) const override
    {
        if (!make_current().ok()) return hv::Segment{};
        unsigned i = unsigned(s);
        return from_access_rights(vmx::read(guest_selector(i)), vmx::read(guest_access_rights(i)),
                                  vmx::read(guest_limit(i)), vmx::read(guest_base(i)));
    }
    void set_segment(hv::SegReg s, const hv::Segment& seg) override
    {
        if (!make_current().ok()) return;
        unsigned i = unsigned(s);
        vmx::write(guest_selector(i), seg.selector);
        vmx::write(guest_access_rights(i), to_access_rights(seg));
        vmx::write(guest_limit(i), seg.limit);
        vmx::write(guest_base(i), seg.base);
    }
    hv::DescriptorTable gdtr() const override
    {
        if (!make_current().ok()) return {};
        return {vmx::read(FieldNat::guest_gdtr_base), vmx::read(Field32::guest_gdtr_limit)};
    }
    hv::DescriptorTable idtr() const override
    {
        if (!make_current().ok()) return {};
        return {vmx::read(FieldNat::guest_idtr_base), vmx::read(Field32::guest_idtr_limit)};
    }
    void set_gdtr(const hv::DescriptorTable& t) override
    {
        if (!make_current().ok()) return;
        vmx::write(FieldNat::guest_gdtr_base, t.base);
        vmx::write(Field32::guest_gdtr_limit, t.limit);
    }
    void set_idtr(const hv::DescriptorTable& t) override
    {
        if (!make_current().ok()) return;
        vmx::write(FieldNat::guest_idtr_base, t.base);
        vmx::write(Field32::guest_idtr_limit, t.limit);
    }

    void inject(const hv::Event& e) override
    {
        if (!make_current().ok()) return;
        bool pe = vmx::read(FieldNat::guest_cr0) & cr0_bit::pe;
        write_entry_event(encode_event(e, pe));
    }
    bool event_pending() const override
    {
        if (!make_current().ok()) return false;
        return vmx::read(Field32::entry_interruption_info) & interruption_valid;
    }
    void set_interrupt_window_exiting(bool on) override { set_proc(proc::interrupt_window_exiting, on); }
    // Needs "virtual NMIs" (25.6.2), which detect() requires.
    void set_nmi_window_exiting(bool on) override { set_proc(proc::nmi_window_exiting, on); }
    bool nmi_blocked() const override
    {
        if (!make_current().ok()) return true;
        return vmx::read(Field32::guest_interruptibility) & interruptibility::nmi;
    }
    bool interrupts_open() const override
    {
        if (!make_current().ok()) return false;
        return (vmx::read(FieldNat::guest_rflags) & rflags_if) &&
               !(vmx::read(Field32::guest_interruptibility) & (interruptibility::sti | interruptibility::mov_ss));
    }

    // "Use TSC offsetting" is always on: RDTSC in the guest returns TSC +
    // offset (26.6.5).
    void set_tsc_offset(uint64_t offset) override
    {
        if (make_current().ok()) vmx::write(Field64::tsc_offset, offset);
    }

    void set_pause_tuning(const hv::PauseTuning& t) override
    {
        if (!make_current().ok()) return;
        if (config.ple) {
            // PAUSE-loop exiting (26.1.3): exit when PAUSEs less than PLE_Gap
            // cycles apart have spun for more than PLE_Window cycles.
            proc2_ = t.enabled ? proc2_ | proc2::pause_loop_exiting : proc2_ & ~proc2::pause_loop_exiting;
            vmx::write(Field32::proc_controls2, proc2_);
            if (t.enabled) {
                vmx::write(Field32::ple_gap, t.gap);
                vmx::write(Field32::ple_window, t.count);
            }
        } else {
            // No PLE: every PAUSE exits when hv wants pause exits at all.
            set_proc(proc::pause_exiting, t.enabled);
        }
    }

    void set_msr_intercept(uint32_t msr, bool rd, bool wr) override
    {
        auto set = [&](bool write_half, bool on) {
            MsrBitmapPos p = msr_bitmap_pos(msr, write_half);
            if (!p.in_range) return;  // outside the bitmap: always exits
            if (on) msr_bitmap_[p.byte] |= uint8_t(1u << p.bit);
            else msr_bitmap_[p.byte] &= uint8_t(~(1u << p.bit));
        };
        set(false, rd);
        set(true, wr);
    }

    void flush_guest_tlb() override
    {
        // EPT-tagged (guest-physical and combined) translations of this EPTP,
        // and linear translations tagged with this VPID (29.4.3.1, 31.3).
        InsnStatus s = config.invept_single ? invept(InveptType::single_context, eptp_)
                                            : invept(InveptType::all_context, 0);
        if (s != InsnStatus::ok) LOG_ERROR("vmx: vCPU %u: INVEPT failed", vpid_ - 1u);
        s = config.invvpid_single ? invvpid(InvvpidType::single_context, vpid_) : invvpid(InvvpidType::all_context, 0);
        if (s != InsnStatus::ok) LOG_ERROR("vmx: vCPU %u: INVVPID failed", vpid_ - 1u);
    }

private:
    // Makes this VMCS current on the calling CPU (VMPTRLD, 31.3), and
    // rewrites the host state when the vCPU is new to this CPU.
    lib::Status make_current() const
    {
        CpuState& st = this_cpu_state();
        unsigned cpu = this_cpu().index;
        if (st.current == this) return {};
        if (cpu_ >= 0 && unsigned(cpu_) != cpu) {
            LOG_ERROR("vmx: vCPU %u: its VMCS is active on CPU %d, used on CPU %u without a VMCLEAR there",
                      vpid_ - 1u, cpu_, cpu);
            return lib::err(lib::Error::busy);
        }
        InsnStatus s = vmptrld(vmcs_phys_);
        if (s != InsnStatus::ok) {
            LOG_ERROR("vmx: vCPU %u: VMPTRLD %#lx failed: %s", vpid_ - 1u, vmcs_phys_,
                      s == InsnStatus::fail_invalid ? "invalid" : insn_error_name(instruction_error()));
            return lib::err(lib::Error::invalid);
        }
        st.current = this;
        if (cpu_ < 0) {
            cpu_ = int(cpu);
            const_cast<VmxVcpu*>(this)->bind_host();
        }
        return {};
    }

    // Host state that differs between CPUs or may change (27.2.2, 28.5).
    void bind_host()
    {
        PerCpu& c = this_cpu();
        vmx::write(FieldNat::host_cr0, read_cr0());
        host_cr3_ = read_cr3();
        vmx::write(FieldNat::host_cr3, host_cr3_);
        vmx::write(FieldNat::host_cr4, read_cr4());
        // FS/GS: only the bases matter to 64-bit code; a selector must have
        // RPL 0 and TI 0 (27.2.3), which null satisfies.
        uint16_t fs = read_fs(), gs = read_gs();
        vmx::write(Field16::host_fs_selector, uint16_t(fs & 7 ? 0 : fs));
        vmx::write(Field16::host_gs_selector, uint16_t(gs & 7 ? 0 : gs));
        vmx::write(FieldNat::host_fs_base, rdmsr(msr::fs_base));
        vmx::write(FieldNat::host_gs_base, reinterpret_cast<uint64_t>(&c));  // this_cpu() after the exit
        vmx::write(FieldNat::host_tr_base, reinterpret_cast<uint64_t>(&c.tss));
        // The exit sets the GDTR and IDTR limits to 0xffff (28.5.2): harmless,
        // no selector or vector beyond the real tables is ever used.
        vmx::write(FieldNat::host_gdtr_base, reinterpret_cast<uint64_t>(&c.gdt));
        vmx::write(FieldNat::host_idtr_base, idt_base());
        vmx::write(Field32::host_sysenter_cs, uint32_t(rdmsr(msr_sysenter_cs)));
        vmx::write(FieldNat::host_sysenter_esp, rdmsr(msr_sysenter_esp));
        vmx::write(FieldNat::host_sysenter_eip, rdmsr(msr_sysenter_eip));
        vmx::write(Field64::host_efer, rdmsr(msr::efer));
        vmx::write(Field64::host_pat, rdmsr(msr::pat));
    }

    // The state after RESET (SDM Vol. 3A 10.1.1, Table 10-1), in real mode
    // thanks to "unrestricted guest"; hv adjusts it before the first run.
    void reset_guest_state()
    {
        vmx::write(FieldNat::guest_rip, 0xfff0);
        vmx::write(FieldNat::guest_rflags, 0x2);
        vmx::write(FieldNat::guest_rsp, 0);
        cr2_ = 0;
        write_efer(0);
        write(hv::GuestReg::cr0, 0x60000010);  // CD, NW, ET
        vmx::write(FieldNat::guest_cr3, 0);
        write(hv::GuestReg::cr4, 0);
        vmx::write(Field64::guest_pat, reset_pat);
        vmx::write(FieldNat::guest_dr7, 0x400);
        vmx::write(Field64::guest_debugctl, 0);
        vmx::write(Field32::guest_sysenter_cs, 0);
        vmx::write(FieldNat::guest_sysenter_esp, 0);
        vmx::write(FieldNat::guest_sysenter_eip, 0);
        vmx::write(Field64::vmcs_link_pointer, ~0ull);  // no shadow VMCS (25.4.2)
        vmx::write(Field32::guest_activity_state, uint32_t(ActivityState::active));
        vmx::write(Field32::guest_interruptibility, 0);
        vmx::write(FieldNat::guest_pending_debug, 0);

        constexpr uint16_t data16_rw = 0x3 | hv::seg_attr::s | hv::seg_attr::present;  // 0x93
        for (auto s : {hv::SegReg::es, hv::SegReg::ss, hv::SegReg::ds, hv::SegReg::fs, hv::SegReg::gs})
            set_segment(s, {0, data16_rw, 0xffff, 0, false});
        set_segment(hv::SegReg::cs, {0xf000, hv::seg_attr::code16, 0xffff, 0xffff0000, false});
        set_segment(hv::SegReg::ldtr, {0, hv::seg_attr::ldt, 0xffff, 0, false});
        set_segment(hv::SegReg::tr, {0, hv::seg_attr::tss32_busy, 0xffff, 0, false});
        set_gdtr({0, 0xffff});
        set_idtr({0, 0xffff});
    }

    // Guest EFER and the "IA-32e mode guest" entry control, which must match
    // EFER.LMA (27.3.1.1). Exits store LMA into that control themselves
    // (28.2.x / 28.3): read it back rather than cache it.
    void write_efer(uint64_t efer)
    {
        vmx::write(Field64::guest_efer, efer);
        uint32_t entry = vmx::read(Field32::entry_controls);
        entry = (efer & efer_lma) ? entry | entry_ctl::ia32e_mode_guest : entry & ~entry_ctl::ia32e_mode_guest;
        vmx::write(Field32::entry_controls, entry);
    }

    // With EPT, a guest in PAE paging (CR0.PG, CR4.PAE, not IA-32e) has its
    // four PDPTEs in the VMCS: VM entry loads them from the guest-PDPTE
    // fields, VM exit stores them (27.3.2.4, 28.3.4). When the guest itself
    // writes CR3 the CPU loads them; when hv sets CR0/CR3/CR4, this does,
    // from the 32-byte PDPT that CR3 points to in guest-physical memory.
    void load_pdptes()
    {
        uint64_t cr0 = vmx::read(FieldNat::guest_cr0), cr4 = vmx::read(FieldNat::guest_cr4);
        if (!(cr0 & cr0_bit::pg) || !(cr4 & cr4_bit::pae) || (vmx::read(Field64::guest_efer) & efer_lma)) return;
        uint64_t gpa = vmx::read(FieldNat::guest_cr3) & 0xffffffe0u;
        uint64_t pdpte[4] = {};
        auto hpa = p2m_->translate(gpa);
        if (hpa.ok()) {
            const auto* p = phys_to_virt<const uint64_t>(hpa.value());
            for (int i = 0; i < 4; ++i) pdpte[i] = p[i];
        } else {
            // Not RAM: all four not present; the guest's next access faults.
            LOG_WARN("vmx: vCPU %u: PAE CR3 %#lx points outside guest RAM", vpid_ - 1u, gpa);
        }
        vmx::write(Field64::guest_pdpte0, pdpte[0]);
        vmx::write(Field64::guest_pdpte1, pdpte[1]);
        vmx::write(Field64::guest_pdpte2, pdpte[2]);
        vmx::write(Field64::guest_pdpte3, pdpte[3]);
    }

    void set_preemption_deadline(uint64_t tsc) override
    {
        if (!virt::caps().preemption_timer || !make_current().ok()) return;
        uint32_t pin = tsc ? pin_ | pin::preemption_timer : pin_ & ~pin::preemption_timer;
        if (pin != pin_) {
            pin_ = pin;
            vmx::write(Field32::pin_controls, pin_);
        }
        if (!tsc) return;
        // The timer counts down at TSC >> IA32_VMX_MISC[4:0] (SDM 25.5.1).
        uint64_t now = rdtsc();
        uint64_t ticks = tsc > now ? (tsc - now) >> misc::preemption_timer_shift(config.misc) : 0;
        vmx::write(Field32::guest_preemption_timer, ticks > 0xffffffffu ? 0xffffffffu : uint32_t(ticks));
    }

    void set_proc(uint32_t bit, bool on)
    {
        if (!make_current().ok()) return;
        proc_ = on ? proc_ | bit : proc_ & ~bit;
        vmx::write(Field32::proc_controls, proc_);
    }

    void clear_interrupt_shadow()
    {
        uint32_t i = vmx::read(Field32::guest_interruptibility);
        if (i & (interruptibility::sti | interruptibility::mov_ss))
            vmx::write(Field32::guest_interruptibility, i & ~(interruptibility::sti | interruptibility::mov_ss));
    }

    void write_entry_event(const EntryEvent& ev)
    {
        vmx::write(Field32::entry_interruption_info, ev.info);
        vmx::write(Field32::entry_exception_error, ev.error_code);
        vmx::write(Field32::entry_instruction_length, ev.length);
    }

public:
    void unload() override
    {
        CpuState& st = this_cpu_state();
        if (st.msr_owner == this) {
            save_lazy_msrs();
            st.msr_owner = nullptr;
        }
        if (cpu_ < 0 || unsigned(cpu_) != this_cpu().index) return;
        // VMCLEAR writes the VMCS back to memory and makes it launchable
        // anywhere (31.3, 24.11.3); the next CPU VMPTRLDs it and rewrites
        // the host state (make_current).
        if (vmclear(vmcs_phys_) != InsnStatus::ok) LOG_ERROR("vmx: VMCLEAR of %#lx failed", vmcs_phys_);
        if (st.current == this) st.current = nullptr;
        cpu_ = -1;
        launched_ = false;
    }

    void destroy() override
    {
        CpuState& st = this_cpu_state();
        if (st.msr_owner == this) st.msr_owner = nullptr;  // its values in the MSRs are garbage now
        if (vmcs_phys_ && (cpu_ < 0 || unsigned(cpu_) == this_cpu().index)) {
            // VMCLEAR makes the VMCS inactive and not current (31.3).
            if (vmclear(vmcs_phys_) != InsnStatus::ok) LOG_ERROR("vmx: VMCLEAR of %#lx failed", vmcs_phys_);
            if (st.current == this) st.current = nullptr;
            (void)hv::mem::free_frames(vmcs_phys_, 1);
        } else if (vmcs_phys_) {
            // Active on another CPU: freeing it would let that CPU write into a reused frame.
            LOG_ERROR("vmx: vCPU %u destroyed away from CPU %d: its VMCS frame is kept", vpid_ - 1u, cpu_);
        }
        if (msr_bitmap_phys_) (void)hv::mem::free_frames(msr_bitmap_phys_, 1);
        this->~VmxVcpu();
        hv::mem::kernel_heap().deallocate(this, sizeof(VmxVcpu));
    }

    // Called with this vCPU's values loaded on this CPU (release_lazy_msrs).
    void save_lazy_msrs()
    {
        for (unsigned i = 0; i < lazy_msr_count; ++i)
            if (lazy_msr_present(i)) lazy_msr_values_[i] = rdmsr(lazy_msrs[i]);
    }

private:
    bool lazy_msr_present(unsigned i) const
    {
        return lazy_msrs[i] != msr_tsc_aux || (proc2_ & proc2::enable_rdtscp);
    }
    void load_lazy_msrs()
    {
        for (unsigned i = 0; i < lazy_msr_count; ++i)
            if (lazy_msr_present(i)) wrmsr(lazy_msrs[i], lazy_msr_values_[i]);
    }

    static uint64_t guest_view(uint64_t real, uint64_t shadow, uint64_t owned)
    {
        return (real & ~owned) | (shadow & owned);
    }

    const virt::GuestPhysMap* p2m_ = nullptr;
    uint64_t vmcs_phys_ = 0;
    uint64_t msr_bitmap_phys_ = 0;
    uint8_t* msr_bitmap_ = nullptr;
    uint64_t eptp_ = 0;
    uint64_t cr2_ = 0;
    uint64_t host_cr3_ = 0;
    uint64_t lazy_msr_values_[lazy_msr_count] = {};  // while another vCPU's are loaded (RESET values: 0)
    uint32_t pin_ = 0, proc_ = 0, proc2_ = 0;  // as written; the CPU never changes these
    uint16_t vpid_ = 0;
    bool launched_ = false;
    mutable int cpu_ = -1;  // where the VMCS is active (-1: nowhere yet)
};

bool release_lazy_msrs()
{
    CpuState& st = this_cpu_state();
    if (!st.msr_owner) return false;
    st.msr_owner->save_lazy_msrs();
    st.msr_owner = nullptr;
    return true;
}

lib::Result<hv::HwVcpu*> create_vcpu(const virt::VcpuConfig& cfg)
{
    void* mem = hv::mem::kernel_heap().allocate(sizeof(VmxVcpu), alignof(VmxVcpu));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* v = new (mem) VmxVcpu();
    auto s = v->init(cfg);
    if (!s.ok()) return lib::err(s.error());  // a half-built vCPU's frames stay allocated: boot-time only
    return static_cast<hv::HwVcpu*>(v);
}

}  // namespace arch::vmx
