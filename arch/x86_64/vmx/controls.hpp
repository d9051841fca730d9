// VMX capability MSRs and VM-execution, VM-exit and VM-entry control bits
// (SDM Vol. 3C 25.6-25.8, Appendix A), with the pure rules for turning a
// wish list of controls into a value the CPU accepts (Appendix A.3-A.5) and
// for CR0/CR4 under the fixed-bit MSRs (A.7, A.8).
//
// Portable: no instructions, compiled on the host by the unit tests.
#pragma once

#include <cstdint>

namespace arch::vmx {

// Capability MSRs (SDM Vol. 4 Table 2-2, Vol. 3C Appendix A).
enum class Msr : uint32_t {
    feature_control = 0x3a,
    basic = 0x480,
    pinbased_ctls = 0x481,
    procbased_ctls = 0x482,
    exit_ctls = 0x483,
    entry_ctls = 0x484,
    misc = 0x485,
    cr0_fixed0 = 0x486,
    cr0_fixed1 = 0x487,
    cr4_fixed0 = 0x488,
    cr4_fixed1 = 0x489,
    vmcs_enum = 0x48a,
    procbased_ctls2 = 0x48b,
    ept_vpid_cap = 0x48c,
    true_pinbased_ctls = 0x48d,
    true_procbased_ctls = 0x48e,
    true_exit_ctls = 0x48f,
    true_entry_ctls = 0x490,
};

// IA32_FEATURE_CONTROL (SDM Vol. 3C 24.7).
namespace feature_control {
inline constexpr uint64_t lock = 1ull << 0;
inline constexpr uint64_t vmx_in_smx = 1ull << 1;
inline constexpr uint64_t vmx_outside_smx = 1ull << 2;
}  // namespace feature_control

// IA32_VMX_BASIC (Appendix A.1).
struct VmxBasic {
    uint32_t revision;       // bits 30:0
    uint32_t region_size;    // bits 44:32: bytes to allocate for VMXON region and VMCS
    bool phys_32bit;         // bit 48: VMXON/VMCS/bitmap addresses limited to 32 bits
    uint8_t memory_type;     // bits 53:50: 6 = write-back
    bool ins_outs_info;      // bit 54: VM-exit instruction information valid for INS/OUTS
    bool true_controls;      // bit 55: IA32_VMX_TRUE_*_CTLS exist
    static constexpr VmxBasic decode(uint64_t v)
    {
        return VmxBasic{uint32_t(v & 0x7fffffff), uint32_t((v >> 32) & 0x1fff), bool(v & (1ull << 48)),
                        uint8_t((v >> 50) & 0xf), bool(v & (1ull << 54)), bool(v & (1ull << 55))};
    }
};

// Pin-based VM-execution controls (Table 25-5).
namespace pin {
inline constexpr uint32_t external_interrupt_exiting = 1u << 0;
inline constexpr uint32_t nmi_exiting = 1u << 3;
inline constexpr uint32_t virtual_nmis = 1u << 5;
inline constexpr uint32_t preemption_timer = 1u << 6;
inline constexpr uint32_t posted_interrupts = 1u << 7;
}  // namespace pin

// Primary processor-based VM-execution controls (Table 25-6).
namespace proc {
inline constexpr uint32_t interrupt_window_exiting = 1u << 2;
inline constexpr uint32_t use_tsc_offsetting = 1u << 3;
inline constexpr uint32_t hlt_exiting = 1u << 7;
inline constexpr uint32_t invlpg_exiting = 1u << 9;
inline constexpr uint32_t mwait_exiting = 1u << 10;
inline constexpr uint32_t rdpmc_exiting = 1u << 11;
inline constexpr uint32_t rdtsc_exiting = 1u << 12;
inline constexpr uint32_t cr3_load_exiting = 1u << 15;
inline constexpr uint32_t cr3_store_exiting = 1u << 16;
inline constexpr uint32_t cr8_load_exiting = 1u << 19;
inline constexpr uint32_t cr8_store_exiting = 1u << 20;
inline constexpr uint32_t use_tpr_shadow = 1u << 21;
inline constexpr uint32_t nmi_window_exiting = 1u << 22;
inline constexpr uint32_t mov_dr_exiting = 1u << 23;
inline constexpr uint32_t unconditional_io_exiting = 1u << 24;
inline constexpr uint32_t use_io_bitmaps = 1u << 25;
inline constexpr uint32_t monitor_trap_flag = 1u << 27;
inline constexpr uint32_t use_msr_bitmaps = 1u << 28;
inline constexpr uint32_t monitor_exiting = 1u << 29;
inline constexpr uint32_t pause_exiting = 1u << 30;
inline constexpr uint32_t activate_secondary = 1u << 31;
}  // namespace proc

// Secondary processor-based VM-execution controls (Table 25-7).
namespace proc2 {
inline constexpr uint32_t virtualize_apic_accesses = 1u << 0;
inline constexpr uint32_t enable_ept = 1u << 1;
inline constexpr uint32_t descriptor_table_exiting = 1u << 2;
inline constexpr uint32_t enable_rdtscp = 1u << 3;
inline constexpr uint32_t virtualize_x2apic = 1u << 4;
inline constexpr uint32_t enable_vpid = 1u << 5;
inline constexpr uint32_t wbinvd_exiting = 1u << 6;
inline constexpr uint32_t unrestricted_guest = 1u << 7;
inline constexpr uint32_t pause_loop_exiting = 1u << 10;
inline constexpr uint32_t rdrand_exiting = 1u << 11;
inline constexpr uint32_t enable_invpcid = 1u << 12;
inline constexpr uint32_t enable_xsaves = 1u << 20;
}  // namespace proc2

// VM-exit controls (Table 25-13).
namespace exit_ctl {
inline constexpr uint32_t save_debug_controls = 1u << 2;
inline constexpr uint32_t host_address_space_size = 1u << 9;
inline constexpr uint32_t load_perf_global_ctrl = 1u << 12;
inline constexpr uint32_t acknowledge_interrupt = 1u << 15;
inline constexpr uint32_t save_pat = 1u << 18;
inline constexpr uint32_t load_pat = 1u << 19;
inline constexpr uint32_t save_efer = 1u << 20;
inline constexpr uint32_t load_efer = 1u << 21;
inline constexpr uint32_t save_preemption_timer = 1u << 22;
}  // namespace exit_ctl

// VM-entry controls (Table 25-15).
namespace entry_ctl {
inline constexpr uint32_t load_debug_controls = 1u << 2;
inline constexpr uint32_t ia32e_mode_guest = 1u << 9;
inline constexpr uint32_t entry_to_smm = 1u << 10;
inline constexpr uint32_t load_perf_global_ctrl = 1u << 13;
inline constexpr uint32_t load_pat = 1u << 14;
inline constexpr uint32_t load_efer = 1u << 15;
}  // namespace entry_ctl

// IA32_VMX_EPT_VPID_CAP (Appendix A.10).
namespace ept_cap {
inline constexpr uint64_t execute_only = 1ull << 0;
inline constexpr uint64_t walk_length_4 = 1ull << 6;
inline constexpr uint64_t memtype_uc = 1ull << 8;
inline constexpr uint64_t memtype_wb = 1ull << 14;
inline constexpr uint64_t pde_2m = 1ull << 16;
inline constexpr uint64_t pdpte_1g = 1ull << 17;
inline constexpr uint64_t invept = 1ull << 20;
inline constexpr uint64_t accessed_dirty = 1ull << 21;
inline constexpr uint64_t invept_single = 1ull << 25;
inline constexpr uint64_t invept_all = 1ull << 26;
inline constexpr uint64_t invvpid = 1ull << 32;
inline constexpr uint64_t invvpid_address = 1ull << 40;
inline constexpr uint64_t invvpid_single = 1ull << 41;
inline constexpr uint64_t invvpid_all = 1ull << 42;
inline constexpr uint64_t invvpid_single_keep_global = 1ull << 43;
}  // namespace ept_cap

// IA32_VMX_MISC (Appendix A.6).
namespace misc {
constexpr unsigned preemption_timer_shift(uint64_t v) { return unsigned(v & 0x1f); }
inline constexpr uint64_t activity_hlt = 1ull << 6;
inline constexpr uint64_t activity_wait_sipi = 1ull << 8;
}  // namespace misc

// Extended-page-table pointer (SDM 25.6.11): memory type in bits 2:0, page-walk
// length minus one in bits 5:3, A/D enable bit 6, PML4 address from bit 12.
constexpr uint64_t make_eptp(uint64_t pml4_phys)
{
    constexpr uint64_t wb = 6, walk4 = 3ull << 3;
    return (pml4_phys & 0x000ffffffffff000ull) | walk4 | wb;
}

// A control MSR reports in bits 31:0 the allowed-0 settings (a 1 there means
// the control must be 1) and in bits 63:32 the allowed-1 settings (a 0 there
// means it must be 0) (Appendix A.3.1). `required` must all be available;
// `optional` are set where the CPU allows.
struct AdjustedControls {
    uint32_t value;    // what to write to the VMCS
    uint32_t missing;  // required bits the CPU cannot set (0 = fine)
};
constexpr AdjustedControls adjust_controls(uint64_t cap, uint32_t required, uint32_t optional = 0)
{
    uint32_t must_be_one = uint32_t(cap);
    uint32_t may_be_one = uint32_t(cap >> 32);
    uint32_t value = ((required | optional) & may_be_one) | must_be_one;
    return {value, required & ~may_be_one};
}
constexpr bool control_allowed(uint64_t cap, uint32_t bit) { return (cap >> 32) & bit; }

// Names of the controls this backend asks for, for the refusal message when
// a CPU lacks one. `bit` is a single control bit of the given set.
enum class ControlSet : uint8_t { pin, proc, proc2, exit, entry };
constexpr const char* control_name(ControlSet set, uint32_t bit)
{
    switch (set) {
    case ControlSet::pin:
        if (bit == pin::external_interrupt_exiting) return "external-interrupt exiting";
        if (bit == pin::nmi_exiting) return "NMI exiting";
        if (bit == pin::virtual_nmis) return "virtual NMIs";
        if (bit == pin::preemption_timer) return "VMX-preemption timer";
        break;
    case ControlSet::proc:
        if (bit == proc::interrupt_window_exiting) return "interrupt-window exiting";
        if (bit == proc::use_tsc_offsetting) return "use TSC offsetting";
        if (bit == proc::hlt_exiting) return "HLT exiting";
        if (bit == proc::mwait_exiting) return "MWAIT exiting";
        if (bit == proc::cr8_load_exiting) return "CR8-load exiting";
        if (bit == proc::cr8_store_exiting) return "CR8-store exiting";
        if (bit == proc::nmi_window_exiting) return "NMI-window exiting";
        if (bit == proc::unconditional_io_exiting) return "unconditional I/O exiting";
        if (bit == proc::use_io_bitmaps) return "use I/O bitmaps";
        if (bit == proc::use_msr_bitmaps) return "use MSR bitmaps";
        if (bit == proc::monitor_exiting) return "MONITOR exiting";
        if (bit == proc::pause_exiting) return "PAUSE exiting";
        if (bit == proc::activate_secondary) return "activate secondary controls";
        break;
    case ControlSet::proc2:
        if (bit == proc2::enable_ept) return "enable EPT";
        if (bit == proc2::enable_rdtscp) return "enable RDTSCP";
        if (bit == proc2::enable_vpid) return "enable VPID";
        if (bit == proc2::wbinvd_exiting) return "WBINVD exiting";
        if (bit == proc2::unrestricted_guest) return "unrestricted guest";
        if (bit == proc2::pause_loop_exiting) return "PAUSE-loop exiting";
        if (bit == proc2::enable_invpcid) return "enable INVPCID";
        if (bit == proc2::enable_xsaves) return "enable XSAVES/XRSTORS";
        break;
    case ControlSet::exit:
        if (bit == exit_ctl::save_debug_controls) return "save debug controls";
        if (bit == exit_ctl::host_address_space_size) return "host address-space size";
        if (bit == exit_ctl::acknowledge_interrupt) return "acknowledge interrupt on exit";
        if (bit == exit_ctl::save_pat) return "save IA32_PAT";
        if (bit == exit_ctl::load_pat) return "load IA32_PAT";
        if (bit == exit_ctl::save_efer) return "save IA32_EFER";
        if (bit == exit_ctl::load_efer) return "load IA32_EFER";
        break;
    case ControlSet::entry:
        if (bit == entry_ctl::load_debug_controls) return "load debug controls";
        if (bit == entry_ctl::ia32e_mode_guest) return "IA-32e mode guest";
        if (bit == entry_ctl::load_pat) return "load IA32_PAT";
        if (bit == entry_ctl::load_efer) return "load IA32_EFER";
        break;
    }
    return "unnamed control";
}

// CR0 and CR4 under VMX (Appendix A.7, A.8): a bit set in FIXED0 must be 1, a
// bit clear in FIXED1 must be 0. With "unrestricted guest" CR0.PE and CR0.PG
// are exempt in the guest (SDM 27.3.1.1).
namespace cr0_bit {
inline constexpr uint64_t pe = 1ull << 0;
inline constexpr uint64_t ts = 1ull << 3;
inline constexpr uint64_t ne = 1ull << 5;
inline constexpr uint64_t nw = 1ull << 29;
inline constexpr uint64_t cd = 1ull << 30;
inline constexpr uint64_t pg = 1ull << 31;
}  // namespace cr0_bit
namespace cr4_bit {
inline constexpr uint64_t pae = 1ull << 5;
inline constexpr uint64_t vmxe = 1ull << 13;
}  // namespace cr4_bit

struct CrFixed {
    uint64_t fixed0;  // must be 1
    uint64_t fixed1;  // may be 1
    constexpr uint64_t apply(uint64_t v) const { return (v | fixed0) & fixed1; }
    // Bits the hypervisor owns in the guest/host mask: the guest's writes to
    // them exit, its reads see the read shadow (SDM 25.6.6).
    constexpr uint64_t owned() const { return fixed0 | ~fixed1; }
};
constexpr CrFixed guest_cr0_fixed(uint64_t fixed0, uint64_t fixed1, bool unrestricted)
{
    if (unrestricted) fixed0 &= ~(cr0_bit::pe | cr0_bit::pg);
    return {fixed0, fixed1};
}

}  // namespace arch::vmx
