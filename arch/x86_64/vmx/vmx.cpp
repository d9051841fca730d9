// VMX detection and enabling (SDM Vol. 3C 24.6-24.8, Appendix A).
#include "arch/x86_64/vmx/vmx.hpp"

#include <cstring>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/vmx/exit_reason.hpp"
#include "arch/x86_64/vmx/vmcs.hpp"
#include "arch/x86_64/vmx/vmx_internal.hpp"
#include "hv/mem/frames.hpp"
#include "lib/log.hpp"

namespace arch::vmx {

Config config;
CpuState cpu_states[max_cpus];

namespace {

uint64_t rd(Msr m) { return rdmsr(uint32_t(m)); }

const char* yes(bool b) { return b ? "yes" : "no"; }

// Adjusts one control set against its capability MSR; logs what is missing.
bool adjust(ControlSet set, const char* what, Msr cap_msr, uint32_t required, uint32_t optional, uint32_t& out)
{
    uint64_t cap = rd(cap_msr);
    AdjustedControls a = adjust_controls(cap, required, optional);
    if (a.missing) {
        for (uint32_t bit = 1; bit; bit <<= 1) {
            if (a.missing & bit)
                LOG_ERROR("vmx: the CPU lacks the %s control '%s' (bit %#x; MSR %#x allows %#x): required",
                          what, control_name(set, bit), bit, uint32_t(cap_msr), uint32_t(cap >> 32));
        }
        return false;
    }
    out = a.value;
    return true;
}

}  // namespace

lib::Result<uint64_t> alloc_vmx_frame()
{
    hv::mem::FrameRequest req{};
    if (config.basic.phys_32bit) req.below = 1ull << 32;
    uint64_t pa = TRY(hv::mem::alloc_frames(req));
    memset(phys_to_virt<void>(pa), 0, page_size);
    return pa;
}

namespace detail {
void access_failed(const char* insn, uint32_t encoding, InsnStatus s)
{
    if (s == InsnStatus::fail_invalid) {
        LOG_ERROR("vmx: %s of field %#x failed: no current VMCS", insn, encoding);
        return;
    }
    uint64_t e = 0;
    (void)vmread_raw(uint32_t(Field32::vm_instruction_error), e);
    LOG_ERROR("vmx: %s of field %#x failed: %s (VM-instruction error %lu)", insn, encoding,
              insn_error_name(uint32_t(e)), e);
}
}  // namespace detail

bool present() { return cpuid(1).ecx & (1u << 5); }

lib::Status detect(virt::Capabilities& caps)
{
    if (!present()) return lib::err(lib::Error::unsupported);
    Config c{};
    c.basic = VmxBasic::decode(rd(Msr::basic));
    if (!c.basic.true_controls) {
        LOG_ERROR("vmx: IA32_VMX_BASIC[55] is 0: no IA32_VMX_TRUE_*_CTLS; this hypervisor needs them");
        return lib::err(lib::Error::unsupported);
    }
    if (c.basic.region_size > page_size || c.basic.memory_type != 6) {
        LOG_ERROR("vmx: VMCS region of %u bytes, memory type %u: need at most 4096 bytes, write-back",
                  c.basic.region_size, c.basic.memory_type);
        return lib::err(lib::Error::unsupported);
    }
    uint64_t proc_cap = rd(Msr::true_procbased_ctls);
    if (!control_allowed(proc_cap, proc::activate_secondary)) {
        LOG_ERROR("vmx: no secondary processor-based controls: EPT and unrestricted guest are required");
        return lib::err(lib::Error::unsupported);
    }

    // Pin-based (25.6.1): host interrupts and NMIs exit; virtual NMIs for the
    // NMI-window exit and NMI blocking state.
    if (!adjust(ControlSet::pin, "pin-based", Msr::true_pinbased_ctls,
                pin::external_interrupt_exiting | pin::nmi_exiting | pin::virtual_nmis, 0, c.pin))
        return lib::err(lib::Error::unsupported);

    // Primary processor-based (25.6.2). CR8 accesses exit: without a TPR
    // shadow a 64-bit guest would otherwise write the host's TPR. I/O exiting
    // (bitmaps or unconditional) is added per vCPU; the window exits are
    // switched on when hv asks.
    uint32_t proc_required = proc::hlt_exiting | proc::use_tsc_offsetting | proc::cr8_load_exiting |
                             proc::cr8_store_exiting | proc::use_msr_bitmaps | proc::mwait_exiting |
                             proc::monitor_exiting | proc::activate_secondary;
    if (!adjust(ControlSet::proc, "primary processor-based", Msr::true_procbased_ctls, proc_required, 0, c.proc))
        return lib::err(lib::Error::unsupported);
    const uint32_t proc_toggles[] = {proc::use_io_bitmaps, proc::unconditional_io_exiting,
                                     proc::interrupt_window_exiting, proc::nmi_window_exiting};
    for (uint32_t bit : proc_toggles) {
        if (!control_allowed(proc_cap, bit)) {
            LOG_ERROR("vmx: the CPU lacks the primary processor-based control '%s' (bit %#x): required",
                      control_name(ControlSet::proc, bit), bit);
            return lib::err(lib::Error::unsupported);
        }
    }

    // Secondary (25.6.2): EPT, VPID, unrestricted guest and WBINVD exiting
    // are required; RDTSCP/INVPCID/XSAVES run natively in the guest when the
    // CPU has them (otherwise they raise #UD there). PLE is switched on by
    // set_pause_tuning().
    uint64_t proc2_cap = rd(Msr::procbased_ctls2);
    uint32_t proc2_required =
        proc2::enable_ept | proc2::enable_vpid | proc2::unrestricted_guest | proc2::wbinvd_exiting;
    uint32_t proc2_optional = proc2::enable_rdtscp | proc2::enable_invpcid | proc2::enable_xsaves;
    if (!adjust(ControlSet::proc2, "secondary processor-based", Msr::procbased_ctls2, proc2_required, proc2_optional,
                c.proc2))
        return lib::err(lib::Error::unsupported);
    c.ple = control_allowed(proc2_cap, proc2::pause_loop_exiting);

    // Exit (25.7.1): 64-bit host, interrupts acknowledged on exit, guest
    // EFER/PAT saved and the host's loaded.
    if (!adjust(ControlSet::exit, "VM-exit", Msr::true_exit_ctls,
                exit_ctl::host_address_space_size | exit_ctl::acknowledge_interrupt | exit_ctl::save_efer |
                    exit_ctl::load_efer | exit_ctl::save_pat | exit_ctl::load_pat,
                exit_ctl::save_debug_controls, c.exit))
        return lib::err(lib::Error::unsupported);
    // Entry (25.8.1): guest EFER/PAT loaded; IA-32e mode guest follows EFER.LMA per vCPU.
    if (!adjust(ControlSet::entry, "VM-entry", Msr::true_entry_ctls, entry_ctl::load_efer | entry_ctl::load_pat,
                entry_ctl::load_debug_controls, c.entry))
        return lib::err(lib::Error::unsupported);
    if (!control_allowed(rd(Msr::true_entry_ctls), entry_ctl::ia32e_mode_guest)) {
        LOG_ERROR("vmx: the CPU cannot enter 64-bit guests (VM-entry control IA-32e mode guest)");
        return lib::err(lib::Error::unsupported);
    }

    // EPT and VPID (A.10).
    c.ept_vpid_cap = rd(Msr::ept_vpid_cap);
    uint64_t ec = c.ept_vpid_cap;
    struct Need {
        uint64_t bit;
        const char* what;
    };
    const Need needs[] = {
        {ept_cap::walk_length_4, "4-level EPT page walk"},
        {ept_cap::memtype_wb, "write-back EPT paging structures"},
        {ept_cap::invept, "INVEPT"},
        {ept_cap::invept_all, "all-context INVEPT"},
        {ept_cap::invvpid, "INVVPID"},
    };
    for (const Need& n : needs) {
        if (!(ec & n.bit)) {
            LOG_ERROR("vmx: IA32_VMX_EPT_VPID_CAP (%#lx) lacks %s: required", ec, n.what);
            return lib::err(lib::Error::unsupported);
        }
    }
    c.invept_single = ec & ept_cap::invept_single;
    c.invvpid_single = ec & ept_cap::invvpid_single;
    c.invvpid_all = ec & ept_cap::invvpid_all;
    if (!c.invvpid_single && !c.invvpid_all) {
        LOG_ERROR("vmx: INVVPID supports neither single-context nor all-context invalidation");
        return lib::err(lib::Error::unsupported);
    }

    c.misc = rd(Msr::misc);
    c.host_cr0 = {rd(Msr::cr0_fixed0), rd(Msr::cr0_fixed1)};
    c.host_cr4 = {rd(Msr::cr4_fixed0), rd(Msr::cr4_fixed1)};
    c.guest_cr0 = guest_cr0_fixed(c.host_cr0.fixed0, c.host_cr0.fixed1, true);
    c.guest_cr4 = c.host_cr4;
    config = c;

    caps.vendor = virt::Vendor::vmx;
    caps.nested_paging = true;
    caps.large_pages_2m = ec & ept_cap::pde_2m;
    caps.large_pages_1g = ec & ept_cap::pdpte_1g;
    caps.vmcs_revision = c.basic.revision;
    caps.vpid = true;
    caps.unrestricted_guest = true;
    caps.ple = c.ple;
    caps.invept_single = c.invept_single;
    caps.invvpid_single = c.invvpid_single;
    caps.preemption_timer = control_allowed(rd(Msr::true_pinbased_ctls), pin::preemption_timer);
    LOG_INFO("vmx: VMCS revision %#x; EPT 2M %s 1G %s; VPID; unrestricted guest; PLE %s; preemption timer %s; "
             "INVEPT single %s; INVVPID single %s",
             c.basic.revision, yes(caps.large_pages_2m), yes(caps.large_pages_1g), yes(c.ple),
             yes(caps.preemption_timer), yes(c.invept_single), yes(c.invvpid_single));
    LOG_INFO("vmx: controls pin %#x proc %#x proc2 %#x exit %#x entry %#x; CR0 fixed %#lx/%#lx CR4 fixed %#lx/%#lx",
             c.pin, c.proc, c.proc2, c.exit, c.entry, c.host_cr0.fixed0, c.host_cr0.fixed1, c.host_cr4.fixed0,
             c.host_cr4.fixed1);
    return {};
}

lib::Status enable_this_cpu()
{
    unsigned cpu = this_cpu().index;
    CpuState& st = this_cpu_state();
    if (st.on) return {};
    if (!present()) {
        LOG_ERROR("vmx: CPU %u has no VMX (CPUID.1:ECX[5] = 0)", cpu);
        return lib::err(lib::Error::unsupported);
    }
    // IA32_FEATURE_CONTROL (24.7): VMX outside SMX must be enabled; once the
    // lock bit is set the MSR cannot change until reset.
    uint64_t fc = rd(Msr::feature_control);
    if (fc & feature_control::lock) {
        if (!(fc & feature_control::vmx_outside_smx)) {
            LOG_ERROR("vmx: CPU %u: IA32_FEATURE_CONTROL is locked with VMX disabled (%#lx): "
                      "enable Intel VT-x in the firmware setup",
                      cpu, fc);
            return lib::err(lib::Error::unsupported);
        }
    } else {
        wrmsr(uint32_t(Msr::feature_control), fc | feature_control::vmx_outside_smx | feature_control::lock);
    }

    // CR0 and CR4 in VMX operation (24.8, A.7, A.8). The boot CR0 lacks NE.
    uint64_t cr0 = read_cr0(), cr4 = read_cr4() | cr4_bit::vmxe;
    if ((cr0 & ~config.host_cr0.fixed1) || (cr4 & ~config.host_cr4.fixed1)) {
        LOG_ERROR("vmx: CPU %u: CR0 %#lx / CR4 %#lx have bits VMX operation forbids (fixed1 %#lx / %#lx)", cpu, cr0,
                  cr4, config.host_cr0.fixed1, config.host_cr4.fixed1);
        return lib::err(lib::Error::unsupported);
    }
    write_cr0(config.host_cr0.apply(cr0));
    write_cr4(config.host_cr4.apply(cr4));

    if (!st.vmxon_phys) {
        auto pa = alloc_vmx_frame();
        if (!pa.ok()) {
            LOG_ERROR("vmx: CPU %u: no memory for the VMXON region", cpu);
            return lib::err(pa.error());
        }
        st.vmxon_phys = pa.value();
    }
    // The VMXON region starts with the VMCS revision identifier (24.11.5).
    *phys_to_virt<uint32_t>(st.vmxon_phys) = config.basic.revision;
    InsnStatus s = vmxon(st.vmxon_phys);
    if (s != InsnStatus::ok) {
        LOG_ERROR("vmx: CPU %u: VMXON failed (%s)", cpu,
                  s == InsnStatus::fail_invalid ? "VMfailInvalid: bad VMXON region or revision"
                                                : "VMfailValid: already in VMX operation");
        write_cr4(read_cr4() & ~cr4_bit::vmxe);
        return lib::err(lib::Error::unsupported);
    }
    st.on = true;
    st.current = nullptr;
    // Nothing tagged with an EPTP or VPID from before (firmware, an earlier
    // kernel) may survive; each new vCPU also flushes its own VPID.
    (void)invept(InveptType::all_context, 0);
    if (config.invvpid_all) (void)invvpid(InvvpidType::all_context, 0);
    LOG_DEBUG("vmx: CPU %u in VMX root operation (VMXON region %#lx)", cpu, st.vmxon_phys);
    return {};
}

void invept_all()
{
    InsnStatus s = invept(InveptType::all_context, 0);
    if (s != InsnStatus::ok) LOG_ERROR("vmx: CPU %u: all-context INVEPT failed", this_cpu().index);
}

}  // namespace arch::vmx
