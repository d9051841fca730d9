// VMX basic exit reasons (SDM Vol. 3C Appendix C, Table C-1) and
// VM-instruction error numbers (SDM Vol. 3C 31.4, Table 31-1), with names for
// logs. Portable.
#pragma once

#include <cstdint>

namespace arch::vmx {

enum class BasicExit : uint16_t {
    exception_or_nmi = 0,
    external_interrupt = 1,
    triple_fault = 2,
    init = 3,
    sipi = 4,
    io_smi = 5,
    other_smi = 6,
    interrupt_window = 7,
    nmi_window = 8,
    task_switch = 9,
    cpuid = 10,
    getsec = 11,
    hlt = 12,
    invd = 13,
    invlpg = 14,
    rdpmc = 15,
    rdtsc = 16,
    rsm = 17,
    vmcall = 18,
    vmclear = 19,
    vmlaunch = 20,
    vmptrld = 21,
    vmptrst = 22,
    vmread = 23,
    vmresume = 24,
    vmwrite = 25,
    vmxoff = 26,
    vmxon = 27,
    cr_access = 28,
    mov_dr = 29,
    io_instruction = 30,
    rdmsr = 31,
    wrmsr = 32,
    entry_invalid_guest_state = 33,
    entry_msr_loading = 34,
    mwait = 36,
    monitor_trap_flag = 37,
    monitor = 39,
    pause = 40,
    entry_machine_check = 41,
    tpr_below_threshold = 43,
    apic_access = 44,
    virtualized_eoi = 45,
    gdtr_idtr_access = 46,
    ldtr_tr_access = 47,
    ept_violation = 48,
    ept_misconfiguration = 49,
    invept = 50,
    rdtscp = 51,
    preemption_timer = 52,
    invvpid = 53,
    wbinvd = 54,
    xsetbv = 55,
    apic_write = 56,
    rdrand = 57,
    invpcid = 58,
    vmfunc = 59,
    encls = 60,
    rdseed = 61,
    pml_full = 62,
    xsaves = 63,
    xrstors = 64,
    spp = 66,
    umwait = 67,
    tpause = 68,
    loadiwkey = 69,
};

// The exit-reason field (SDM 25.9.1, Table 25-18): basic reason in bits 15:0,
// bit 31 set when VM entry failed.
inline constexpr uint32_t exit_reason_entry_failure = 1u << 31;
constexpr BasicExit basic_exit(uint32_t exit_reason) { return BasicExit(exit_reason & 0xffff); }

constexpr const char* basic_exit_name(BasicExit r)
{
    switch (r) {
    case BasicExit::exception_or_nmi: return "exception or NMI";
    case BasicExit::external_interrupt: return "external interrupt";
    case BasicExit::triple_fault: return "triple fault";
    case BasicExit::init: return "INIT";
    case BasicExit::sipi: return "SIPI";
    case BasicExit::io_smi: return "I/O SMI";
    case BasicExit::other_smi: return "other SMI";
    case BasicExit::interrupt_window: return "interrupt window";
    case BasicExit::nmi_window: return "NMI window";
    case BasicExit::task_switch: return "task switch";
    case BasicExit::cpuid: return "CPUID";
    case BasicExit::getsec: return "GETSEC";
    case BasicExit::hlt: return "HLT";
    case BasicExit::invd: return "INVD";
    case BasicExit::invlpg: return "INVLPG";
    case BasicExit::rdpmc: return "RDPMC";
    case BasicExit::rdtsc: return "RDTSC";
    case BasicExit::rsm: return "RSM";
    case BasicExit::vmcall: return "VMCALL";
    case BasicExit::vmclear: return "VMCLEAR";
    case BasicExit::vmlaunch: return "VMLAUNCH";
    case BasicExit::vmptrld: return "VMPTRLD";
    case BasicExit::vmptrst: return "VMPTRST";
    case BasicExit::vmread: return "VMREAD";
    case BasicExit::vmresume: return "VMRESUME";
    case BasicExit::vmwrite: return "VMWRITE";
    case BasicExit::vmxoff: return "VMXOFF";
    case BasicExit::vmxon: return "VMXON";
    case BasicExit::cr_access: return "control-register access";
    case BasicExit::mov_dr: return "MOV DR";
    case BasicExit::io_instruction: return "I/O instruction";
    case BasicExit::rdmsr: return "RDMSR";
    case BasicExit::wrmsr: return "WRMSR";
    case BasicExit::entry_invalid_guest_state: return "VM-entry failure: invalid guest state";
    case BasicExit::entry_msr_loading: return "VM-entry failure: MSR loading";
    case BasicExit::mwait: return "MWAIT";
    case BasicExit::monitor_trap_flag: return "monitor trap flag";
    case BasicExit::monitor: return "MONITOR";
    case BasicExit::pause: return "PAUSE";
    case BasicExit::entry_machine_check: return "VM-entry failure: machine check";
    case BasicExit::tpr_below_threshold: return "TPR below threshold";
    case BasicExit::apic_access: return "APIC access";
    case BasicExit::virtualized_eoi: return "virtualized EOI";
    case BasicExit::gdtr_idtr_access: return "GDTR/IDTR access";
    case BasicExit::ldtr_tr_access: return "LDTR/TR access";
    case BasicExit::ept_violation: return "EPT violation";
    case BasicExit::ept_misconfiguration: return "EPT misconfiguration";
    case BasicExit::invept: return "INVEPT";
    case BasicExit::rdtscp: return "RDTSCP";
    case BasicExit::preemption_timer: return "VMX-preemption timer expired";
    case BasicExit::invvpid: return "INVVPID";
    case BasicExit::wbinvd: return "WBINVD";
    case BasicExit::xsetbv: return "XSETBV";
    case BasicExit::apic_write: return "APIC write";
    case BasicExit::rdrand: return "RDRAND";
    case BasicExit::invpcid: return "INVPCID";
    case BasicExit::vmfunc: return "VMFUNC";
    case BasicExit::encls: return "ENCLS";
    case BasicExit::rdseed: return "RDSEED";
    case BasicExit::pml_full: return "page-modification log full";
    case BasicExit::xsaves: return "XSAVES";
    case BasicExit::xrstors: return "XRSTORS";
    case BasicExit::spp: return "SPP-related event";
    case BasicExit::umwait: return "UMWAIT";
    case BasicExit::tpause: return "TPAUSE";
    case BasicExit::loadiwkey: return "LOADIWKEY";
    }
    return "unknown exit reason";
}

// VM-instruction error numbers (Table 31-1), read from the VM-instruction
// error field after a VMfailValid.
enum class InsnError : uint32_t {
    vmcall_in_root = 1,
    vmclear_invalid_address = 2,
    vmclear_vmxon_pointer = 3,
    vmlaunch_not_clear = 4,
    vmresume_not_launched = 5,
    vmresume_after_vmxoff = 6,
    entry_invalid_control = 7,
    entry_invalid_host_state = 8,
    vmptrld_invalid_address = 9,
    vmptrld_vmxon_pointer = 10,
    vmptrld_bad_revision = 11,
    unsupported_field = 12,
    write_read_only_field = 13,
    vmxon_in_root = 15,
    entry_invalid_executive_vmcs = 16,
    entry_nonlaunched_executive_vmcs = 17,
    entry_executive_not_vmxon = 18,
    vmcall_nonclear_vmcs = 19,
    vmcall_invalid_exit_control = 20,
    vmcall_bad_mseg_revision = 22,
    vmxoff_dual_monitor = 23,
    vmcall_bad_smm_features = 24,
    entry_invalid_executive_control = 25,
    entry_mov_ss_blocking = 26,
    invalid_invept_invvpid_operand = 28,
};

constexpr const char* insn_error_name(uint32_t e)
{
    switch (InsnError(e)) {
    case InsnError::vmcall_in_root: return "VMCALL executed in VMX root operation";
    case InsnError::vmclear_invalid_address: return "VMCLEAR with invalid physical address";
    case InsnError::vmclear_vmxon_pointer: return "VMCLEAR with VMXON pointer";
    case InsnError::vmlaunch_not_clear: return "VMLAUNCH with non-clear VMCS";
    case InsnError::vmresume_not_launched: return "VMRESUME with non-launched VMCS";
    case InsnError::vmresume_after_vmxoff: return "VMRESUME after VMXOFF";
    case InsnError::entry_invalid_control: return "VM entry with invalid control field(s)";
    case InsnError::entry_invalid_host_state: return "VM entry with invalid host-state field(s)";
    case InsnError::vmptrld_invalid_address: return "VMPTRLD with invalid physical address";
    case InsnError::vmptrld_vmxon_pointer: return "VMPTRLD with VMXON pointer";
    case InsnError::vmptrld_bad_revision: return "VMPTRLD with incorrect VMCS revision identifier";
    case InsnError::unsupported_field: return "VMREAD/VMWRITE from/to unsupported VMCS component";
    case InsnError::write_read_only_field: return "VMWRITE to read-only VMCS component";
    case InsnError::vmxon_in_root: return "VMXON executed in VMX root operation";
    case InsnError::entry_invalid_executive_vmcs: return "VM entry with invalid executive-VMCS pointer";
    case InsnError::entry_nonlaunched_executive_vmcs: return "VM entry with non-launched executive VMCS";
    case InsnError::entry_executive_not_vmxon: return "VM entry with executive-VMCS pointer not VMXON pointer";
    case InsnError::vmcall_nonclear_vmcs: return "VMCALL with non-clear VMCS";
    case InsnError::vmcall_invalid_exit_control: return "VMCALL with invalid VM-exit control fields";
    case InsnError::vmcall_bad_mseg_revision: return "VMCALL with incorrect MSEG revision identifier";
    case InsnError::vmxoff_dual_monitor: return "VMXOFF under dual-monitor treatment of SMIs and SMM";
    case InsnError::vmcall_bad_smm_features: return "VMCALL with invalid SMM-monitor features";
    case InsnError::entry_invalid_executive_control:
        return "VM entry with invalid VM-execution control fields in executive VMCS";
    case InsnError::entry_mov_ss_blocking: return "VM entry with events blocked by MOV SS";
    case InsnError::invalid_invept_invvpid_operand: return "invalid operand to INVEPT/INVVPID";
    }
    return "unknown VM-instruction error";
}

}  // namespace arch::vmx
