#include "arch/x86_64/svm/svm.hpp"

#include <cstring>
#include <new>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/svm/decode.hpp"
#include "arch/x86_64/svm/vmcb.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "lib/log.hpp"

extern "C" void svm_run(uint64_t guest_vmcb_pa, hv::GuestGprs* gprs, uint64_t host_vmcb_pa);

namespace arch::svm {
namespace {

// svm_entry.S addresses GuestGprs by these offsets.
static_assert(offsetof(hv::GuestGprs, gpr) + 8 * 1 == 8);
static_assert(sizeof(hv::GuestGprs) == 16 * 8);

constexpr uint32_t msr_vm_cr = 0xc0010114;
constexpr uint32_t msr_vm_hsave_pa = 0xc0010117;
constexpr uint64_t vm_cr_svmdis = 1u << 4;
constexpr uint64_t vm_cr_lock = 1u << 3;
constexpr uint64_t efer_svme = 1u << 12;

virt::Capabilities* capabilities;

lib::Result<uint64_t> zeroed_frames(size_t count)
{
    uint64_t pa = TRY(hv::mem::alloc_frames({.count = count}));
    memset(phys_to_virt<void>(pa), 0, count * page_size);
    return pa;
}

hv::Segment from_vmcb(const VmcbSegment& s) { return {s.selector, s.attrib, s.limit, s.base, !(s.attrib & 0x80)}; }
VmcbSegment to_vmcb(const hv::Segment& s)
{
    return {s.selector, uint16_t(s.unusable ? 0 : s.attrib), s.limit, s.base};
}

class SvmVcpu final : public hv::HwVcpu {
public:
    lib::Status init(const virt::VcpuConfig& cfg)
    {
        vmcb_pa_ = TRY(zeroed_frames(1));
        vmcb_ = phys_to_virt<Vmcb>(vmcb_pa_);
        msrpm_pa_ = TRY(zeroed_frames(2));
        msrpm_ = phys_to_virt<uint8_t>(msrpm_pa_);
        memset(msrpm_, 0xff, 2 * page_size);  // intercept every MSR; hv opens safe ones
        iopm_pa_ = cfg.io_bitmap_phys;
        if (!iopm_pa_) {
            iopm_pa_ = TRY(zeroed_frames(3));
            own_iopm_ = true;
            memset(phys_to_virt<void>(iopm_pa_), 0xff, 3 * page_size);
        }

        Vmcb& v = *vmcb_;
        // CR0 and CR4 writes are checked by hv (CR3 needs no exit with NPT).
        v.intercept_cr = (1u << 16) | (1u << 20);
        v.intercept_misc1 = intercept::intr | intercept::nmi | intercept::smi | intercept::init |
                            intercept::cpuid | intercept::invd | intercept::hlt | intercept::invlpga |
                            intercept::ioio_prot | intercept::msr_prot | intercept::task_switch |
                            intercept::shutdown;
        v.intercept_misc2 = intercept::vmrun | intercept::vmmcall | intercept::vmload | intercept::vmsave |
                            intercept::stgi | intercept::clgi | intercept::skinit | intercept::monitor |
                            intercept::mwait | intercept::xsetbv;
        // #AC and #DB can loop forever in event delivery (CVE-2015-5307,
        // CVE-2015-8104): intercept and reflect them.
        v.intercept_exceptions = (1u << 17) | (1u << 1);
        v.iopm_base_pa = iopm_pa_;
        v.msrpm_base_pa = msrpm_pa_;
        // STAR, LSTAR, CSTAR, SFMASK and KERNEL_GS_BASE live in the VMCB and
        // are switched by VMLOAD/VMSAVE around VMRUN (svm_entry.S): the guest
        // owns them without exits (APM 15.5.2).
        for (uint32_t msr : {0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u, 0xc0000102u})
            set_msr_intercept(msr, false, false);
        v.guest_asid = cfg.vcpu_id + 1;  // ASID 0 is the host's
        v.vintr = vintr_masking;
        v.np_control = 1;
        v.n_cr3 = cfg.p2m->root();
        v.tlb_control = tlb_flush_all;  // first run: nothing cached is ours
        v.g_pat = 0x0007040600070406ull;
        v.dr6 = 0xffff0ff0;
        v.dr7 = 0x400;
        v.efer = efer_svme;  // required in the guest's EFER (APM 15.5.1); hidden from it by hv
        return {};
    }

    lib::Status run(hv::GuestGprs& gprs, hv::VmExit& exit) override
    {
        Vmcb& v = *vmcb_;
        if (!(v.event_inject & event_valid) && reinject_) {
            v.event_inject = reinject_;
            reinject_ = 0;
        }
        v.rax = gprs[hv::Gpr::rax];
        v.rsp = gprs[hv::Gpr::rsp];
        uint64_t rip_before = v.rip;
        PerCpu& cpu = this_cpu();
        for (;;) {
            v.clean_bits = 0;  // we do not track which fields changed: reload all
            if (v.event_inject & event_valid) note_injected(v.event_inject);
            svm_run(vmcb_pa_, &gprs, cpu.svm_host_vmcb_pa);
            v.tlb_control = tlb_flush_none;
            if (v.exit_int_info & event_valid) reinject_ = v.exit_int_info;
            if (!nmi_window_step(v)) break;
        }
        gprs[hv::Gpr::rax] = v.rax;
        gprs[hv::Gpr::rsp] = v.rsp;
        (void)rip_before;
        exit = decode_exit(v, *capabilities, gprs[hv::Gpr::rcx]);
        if (nmi_window_open_) {
            nmi_window_open_ = false;
            exit = {};
            exit.reason = hv::ExitReason::nmi_window;
            exit.raw_reason = uint64_t(ExitCode::iret);
        }
        if (exit.reason == hv::ExitReason::invalid_guest_state) return lib::err(lib::Error::invalid);
        return {};
    }

    uint64_t read(hv::GuestReg r) const override
    {
        const Vmcb& v = *vmcb_;
        switch (r) {
        case hv::GuestReg::rip: return v.rip;
        case hv::GuestReg::rflags: return v.rflags;
        case hv::GuestReg::cr0: return v.cr0;
        case hv::GuestReg::cr2: return v.cr2;
        case hv::GuestReg::cr3: return v.cr3;
        case hv::GuestReg::cr4: return v.cr4;
        case hv::GuestReg::efer: return v.efer & ~efer_svme;
        case hv::GuestReg::dr7: return v.dr7;
        case hv::GuestReg::pat: return v.g_pat;
        case hv::GuestReg::sysenter_cs: return v.sysenter_cs;
        case hv::GuestReg::sysenter_esp: return v.sysenter_esp;
        case hv::GuestReg::sysenter_eip: return v.sysenter_eip;
        }
        return 0;
    }

    void write(hv::GuestReg r, uint64_t val) override
    {
        Vmcb& v = *vmcb_;
        switch (r) {
        case hv::GuestReg::rip: v.rip = val; break;
        case hv::GuestReg::rflags: v.rflags = val; break;
        case hv::GuestReg::cr0: v.cr0 = val; break;
        case hv::GuestReg::cr2: v.cr2 = val; break;
        case hv::GuestReg::cr3: v.cr3 = val; break;
        case hv::GuestReg::cr4: v.cr4 = val; break;
        case hv::GuestReg::efer: v.efer = val | efer_svme; break;
        case hv::GuestReg::dr7: v.dr7 = val; break;
        case hv::GuestReg::pat: v.g_pat = val; break;
        case hv::GuestReg::sysenter_cs: v.sysenter_cs = val; break;
        case hv::GuestReg::sysenter_esp: v.sysenter_esp = val; break;
        case hv::GuestReg::sysenter_eip: v.sysenter_eip = val; break;
        }
    }

    hv::Segment segment(hv::SegReg s) const override { return from_vmcb(seg(s)); }
    void set_segment(hv::SegReg s, const hv::Segment& value) override
    {
        seg(s) = to_vmcb(value);
        if (s == hv::SegReg::cs) {
            // CPL follows SS.DPL (APM 15.5.1); on a CS load in flat protected
            // mode both are the same.
        } else if (s == hv::SegReg::ss) {
            vmcb_->cpl = uint8_t(hv::seg_attr::dpl(value.attrib));
        }
    }
    hv::DescriptorTable gdtr() const override { return {vmcb_->gdtr.base, vmcb_->gdtr.limit}; }
    hv::DescriptorTable idtr() const override { return {vmcb_->idtr.base, vmcb_->idtr.limit}; }
    void set_gdtr(const hv::DescriptorTable& t) override
    {
        vmcb_->gdtr.base = t.base;
        vmcb_->gdtr.limit = t.limit;
    }
    void set_idtr(const hv::DescriptorTable& t) override
    {
        vmcb_->idtr.base = t.base;
        vmcb_->idtr.limit = t.limit;
    }

    void inject(const hv::Event& e) override
    {
        uint64_t ev = e.vector | (uint64_t(e.type) << 8) | event_valid;
        if (e.has_error) ev |= event_error_valid | (uint64_t(e.error_code) << 32);
        vmcb_->event_inject = ev;
    }
    bool event_pending() const override { return (vmcb_->event_inject & event_valid) || reinject_; }

    void set_interrupt_window_exiting(bool on) override
    {
        // A virtual interrupt request with V_IGN_TPR makes the CPU exit with
        // VINTR as soon as the guest could take an interrupt (APM 15.21.4).
        if (on) {
            vmcb_->vintr |= vintr_irq | vintr_ign_tpr;
            vmcb_->intercept_misc1 |= intercept::vintr;
        } else {
            vmcb_->vintr &= ~(vintr_irq | vintr_ign_tpr);
            vmcb_->intercept_misc1 &= ~intercept::vintr;
        }
    }
    void set_nmi_window_exiting(bool on) override
    {
        // SVM has no NMI-window exit: NMIs stay blocked until the guest's
        // IRET completes. The IRET intercept fires *before* the IRET runs,
        // so run() then single-steps it (TF + #DB intercept) and reports the
        // window once the IRET is done (see nmi_window_step).
        nmi_window_wanted_ = on;
        if (on && nmi_masked_ && step_ == Step::none) vmcb_->intercept_misc1 |= intercept_iret;
        if (!on && !nmi_masked_ && step_ == Step::none) vmcb_->intercept_misc1 &= ~intercept_iret;
    }
    bool nmi_blocked() const override { return nmi_masked_; }
    bool interrupts_open() const override { return (vmcb_->rflags & (1u << 9)) && !(vmcb_->interrupt_shadow & 1); }

    void set_tsc_offset(uint64_t offset) override { vmcb_->tsc_offset = offset; }
    // The INTR intercept exits on the host timer whatever the guest's IF.
    void set_preemption_deadline(uint64_t) override {}

    void set_pause_tuning(const hv::PauseTuning& t) override
    {
        if (!t.enabled) {
            vmcb_->intercept_misc1 &= ~intercept::pause;
            return;
        }
        vmcb_->intercept_misc1 |= intercept::pause;
        // Without Pause Filter support every PAUSE exits (QEMU TCG).
        vmcb_->pause_filter_count = capabilities->pause_filter ? uint16_t(t.count) : 0;
        vmcb_->pause_filter_threshold = capabilities->pause_filter_threshold ? uint16_t(t.gap) : 0;
    }

    void set_msr_intercept(uint32_t msr, bool rd, bool wr) override
    {
        // MSRPM: 2 bits per MSR (read, write) in three 2 KiB ranges (APM 15.11).
        uint32_t base;
        if (msr <= 0x1fff) base = 0;
        else if (msr - 0xc0000000u <= 0x1fff) base = 0x800 * 8, msr -= 0xc0000000u;
        else if (msr - 0xc0010000u <= 0x1fff) base = 0x1000 * 8, msr -= 0xc0010000u;
        else return;  // outside the map: always intercepted
        uint32_t bit = base + msr * 2;
        auto set = [&](uint32_t b, bool on) {
            if (on) msrpm_[b / 8] |= uint8_t(1u << (b % 8));
            else msrpm_[b / 8] &= uint8_t(~(1u << (b % 8)));
        };
        set(bit, rd);
        set(bit + 1, wr);
    }

    void flush_guest_tlb() override
    {
        vmcb_->tlb_control = capabilities->flush_by_asid ? tlb_flush_asid : tlb_flush_all;
    }

private:
    static constexpr uint32_t intercept_iret = 1u << 20;
    static constexpr uint64_t rflags_tf = 1u << 8;
    static constexpr uint64_t rflags_rf = 1u << 16;
    enum class Step : uint8_t { none, stepping };

    void note_injected(uint64_t ev)
    {
        // An injected NMI blocks further NMIs until the guest's IRET, and
        // only the IRET intercept tells when that is: arm it now, not just
        // when a second NMI waits, or the masking would never end for an NMI
        // that arrives after the handler returned.
        if (((ev >> 8) & 7) == uint64_t(hv::EventType::nmi)) {
            nmi_masked_ = true;
            if (step_ == Step::none) vmcb_->intercept_misc1 |= intercept_iret;
        }
    }

    // Handles the exits of the NMI-window machinery inside run(): returns
    // true to re-enter the guest at once.
    bool nmi_window_step(Vmcb& v)
    {
        if (v.exit_code == uint64_t(ExitCode::iret) && nmi_masked_) {
            v.intercept_misc1 &= ~intercept_iret;
            step_ = Step::stepping;
            saved_dr6_ = v.dr6;
            // TF set before IRET traps after IRET completes, whatever RFLAGS
            // the IRET loads (SDM Vol. 3A 17.3.1.4).
            v.rflags |= rflags_tf | rflags_rf;
            return true;
        }
        if (step_ == Step::stepping && v.exit_code == uint64_t(ExitCode::exception_base) + 1) {
            step_ = Step::none;
            v.dr6 = saved_dr6_;  // the single step was ours, not the guest's
            nmi_masked_ = false;
            if (nmi_window_wanted_) {
                nmi_window_wanted_ = false;
                nmi_window_open_ = true;
                return false;
            }
            return true;
        }
        return false;
    }

    VmcbSegment& seg(hv::SegReg s)
    {
        switch (s) {
        case hv::SegReg::es: return vmcb_->es;
        case hv::SegReg::cs: return vmcb_->cs;
        case hv::SegReg::ss: return vmcb_->ss;
        case hv::SegReg::ds: return vmcb_->ds;
        case hv::SegReg::fs: return vmcb_->fs;
        case hv::SegReg::gs: return vmcb_->gs;
        case hv::SegReg::ldtr: return vmcb_->ldtr;
        case hv::SegReg::tr: return vmcb_->tr;
        }
        return vmcb_->es;
    }
    const VmcbSegment& seg(hv::SegReg s) const { return const_cast<SvmVcpu*>(this)->seg(s); }

public:
    // A VMCB is not tied to a CPU (hv flushes the guest TLB on the next
    // CPU: it may hold entries with this ASID from an earlier stay there).
    void unload() override {}

    void destroy() override
    {
        if (vmcb_pa_) (void)hv::mem::free_frames(vmcb_pa_, 1);
        if (msrpm_pa_) (void)hv::mem::free_frames(msrpm_pa_, 2);
        if (own_iopm_) (void)hv::mem::free_frames(iopm_pa_, 3);
        this->~SvmVcpu();
        hv::mem::kernel_heap().deallocate(this, sizeof(SvmVcpu));
    }

private:
    bool own_iopm_ = false;
    Vmcb* vmcb_ = nullptr;
    uint64_t vmcb_pa_ = 0;
    uint8_t* msrpm_ = nullptr;
    uint64_t msrpm_pa_ = 0;
    uint64_t iopm_pa_ = 0;
    uint64_t reinject_ = 0;
    bool nmi_masked_ = false;
    bool nmi_window_wanted_ = false;
    bool nmi_window_open_ = false;
    Step step_ = Step::none;
    uint64_t saved_dr6_ = 0;
};

}  // namespace

bool present() { return cpuid(0x80000000).eax >= 0x8000000a && (cpuid(0x80000001).ecx & (1u << 2)); }

lib::Status detect(virt::Capabilities& caps)
{
    if (!present()) return lib::err(lib::Error::unsupported);
    if (rdmsr(msr_vm_cr) & vm_cr_svmdis) {
        LOG_ERROR("svm: disabled by the firmware (VM_CR.SVMDIS%s): enable SVM in the BIOS setup",
                  rdmsr(msr_vm_cr) & vm_cr_lock ? ", locked" : "");
        return lib::err(lib::Error::unsupported);
    }
    auto f = cpuid(0x8000000a);
    caps.vendor = virt::Vendor::svm;
    caps.asid_count = f.ebx;
    caps.nested_paging = f.edx & (1u << 0);
    caps.nrip_save = f.edx & (1u << 3);
    caps.vmcb_clean = f.edx & (1u << 5);
    caps.flush_by_asid = f.edx & (1u << 6);
    caps.decode_assists = f.edx & (1u << 7);
    caps.pause_filter = f.edx & (1u << 10);
    caps.pause_filter_threshold = f.edx & (1u << 12);
    caps.large_pages_2m = true;
    caps.large_pages_1g = cpuid(0x80000001).edx & (1u << 26);
    if (!caps.nested_paging) {
        // Gate on CPUID: QEMU runs NPT even when it says NP=0.
        LOG_ERROR("svm: the CPU has no nested paging (CPUID 8000_000Ah:EDX.NP=0); it is required");
        return lib::err(lib::Error::unsupported);
    }
    if (caps.asid_count < 2) {
        LOG_ERROR("svm: the CPU reports %u ASIDs; at least 2 are required", caps.asid_count);
        return lib::err(lib::Error::unsupported);
    }
    capabilities = &caps;
    return {};
}

lib::Status enable_this_cpu()
{
    PerCpu& cpu = this_cpu();
    if (!cpu.svm_host_save_pa) {
        cpu.svm_host_save_pa = TRY(zeroed_frames(1));
        cpu.svm_host_vmcb_pa = TRY(zeroed_frames(1));
    }
    wrmsr(msr::efer, rdmsr(msr::efer) | efer_svme);
    wrmsr(msr_vm_hsave_pa, cpu.svm_host_save_pa);
    return {};
}

lib::Result<hv::HwVcpu*> create_vcpu(const virt::VcpuConfig& cfg)
{
    void* mem = hv::mem::kernel_heap().allocate(sizeof(SvmVcpu), alignof(SvmVcpu));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* v = new (mem) SvmVcpu();
    auto s = v->init(cfg);
    if (!s.ok()) return lib::err(s.error());  // frames of a half-built vCPU stay allocated: boot-time only
    return static_cast<hv::HwVcpu*>(v);
}

}  // namespace arch::svm
