// VMCS component encodings (SDM Vol. 3C Appendix B), one enum class per
// width so that a field can only be read or written with an accessor of its
// own width: vmcs.hpp offers read/write overloads per enum, and a 64-bit value
// never reaches a 16-bit field by accident. The width is also part of the
// encoding itself (bits 14:13, SDM 25.11.2 / Table 25-21); the static_asserts
// at the bottom check every enumerator against it.
//
// Portable: constants only, compiled on the host by the unit tests.
#pragma once

#include <cstdint>

namespace arch::vmx {

// Bits 14:13 of an encoding (SDM Table 25-21).
enum class FieldWidth : uint8_t { w16 = 0, w64 = 1, w32 = 2, natural = 3 };
constexpr FieldWidth field_width(uint32_t encoding) { return FieldWidth((encoding >> 13) & 3); }

// 16-bit fields (Appendix B.1).
enum class Field16 : uint32_t {
    vpid = 0x0000,
    guest_es_selector = 0x0800,
    guest_cs_selector = 0x0802,
    guest_ss_selector = 0x0804,
    guest_ds_selector = 0x0806,
    guest_fs_selector = 0x0808,
    guest_gs_selector = 0x080a,
    guest_ldtr_selector = 0x080c,
    guest_tr_selector = 0x080e,
    host_es_selector = 0x0c00,
    host_cs_selector = 0x0c02,
    host_ss_selector = 0x0c04,
    host_ds_selector = 0x0c06,
    host_fs_selector = 0x0c08,
    host_gs_selector = 0x0c0a,
    host_tr_selector = 0x0c0c,
};

// 64-bit fields (Appendix B.2), full access (bit 0 = 0).
enum class Field64 : uint32_t {
    io_bitmap_a = 0x2000,
    io_bitmap_b = 0x2002,
    msr_bitmap = 0x2004,
    exit_msr_store_addr = 0x2006,
    exit_msr_load_addr = 0x2008,
    entry_msr_load_addr = 0x200a,
    tsc_offset = 0x2010,
    ept_pointer = 0x201a,
    xss_exiting_bitmap = 0x202c,
    guest_physical_address = 0x2400,  // read-only
    vmcs_link_pointer = 0x2800,
    guest_debugctl = 0x2802,
    guest_pat = 0x2804,
    guest_efer = 0x2806,
    guest_pdpte0 = 0x280a,
    guest_pdpte1 = 0x280c,
    guest_pdpte2 = 0x280e,
    guest_pdpte3 = 0x2810,
    host_pat = 0x2c00,
    host_efer = 0x2c02,
};

// 32-bit fields (Appendix B.3).
enum class Field32 : uint32_t {
    pin_controls = 0x4000,
    proc_controls = 0x4002,
    exception_bitmap = 0x4004,
    pf_error_mask = 0x4006,
    pf_error_match = 0x4008,
    cr3_target_count = 0x400a,
    exit_controls = 0x400c,
    exit_msr_store_count = 0x400e,
    exit_msr_load_count = 0x4010,
    entry_controls = 0x4012,
    entry_msr_load_count = 0x4014,
    entry_interruption_info = 0x4016,
    entry_exception_error = 0x4018,
    entry_instruction_length = 0x401a,
    tpr_threshold = 0x401c,
    proc_controls2 = 0x401e,
    ple_gap = 0x4020,
    ple_window = 0x4022,
    // Read-only data fields (B.3.2).
    vm_instruction_error = 0x4400,
    exit_reason = 0x4402,
    exit_interruption_info = 0x4404,
    exit_interruption_error = 0x4406,
    idt_vectoring_info = 0x4408,
    idt_vectoring_error = 0x440a,
    exit_instruction_length = 0x440c,
    exit_instruction_info = 0x440e,
    // Guest state (B.3.3).
    guest_es_limit = 0x4800,
    guest_cs_limit = 0x4802,
    guest_ss_limit = 0x4804,
    guest_ds_limit = 0x4806,
    guest_fs_limit = 0x4808,
    guest_gs_limit = 0x480a,
    guest_ldtr_limit = 0x480c,
    guest_tr_limit = 0x480e,
    guest_gdtr_limit = 0x4810,
    guest_idtr_limit = 0x4812,
    guest_es_access_rights = 0x4814,
    guest_cs_access_rights = 0x4816,
    guest_ss_access_rights = 0x4818,
    guest_ds_access_rights = 0x481a,
    guest_fs_access_rights = 0x481c,
    guest_gs_access_rights = 0x481e,
    guest_ldtr_access_rights = 0x4820,
    guest_tr_access_rights = 0x4822,
    guest_interruptibility = 0x4824,
    guest_activity_state = 0x4826,
    guest_sysenter_cs = 0x482a,
    guest_preemption_timer = 0x482e,
    // Host state (B.3.4).
    host_sysenter_cs = 0x4c00,
};

// Natural-width fields (Appendix B.4): 64 bits on a 64-bit host.
enum class FieldNat : uint32_t {
    cr0_guest_host_mask = 0x6000,
    cr4_guest_host_mask = 0x6002,
    cr0_read_shadow = 0x6004,
    cr4_read_shadow = 0x6006,
    exit_qualification = 0x6400,  // read-only
    guest_linear_address = 0x640a,  // read-only
    guest_cr0 = 0x6800,
    guest_cr3 = 0x6802,
    guest_cr4 = 0x6804,
    guest_es_base = 0x6806,
    guest_cs_base = 0x6808,
    guest_ss_base = 0x680a,
    guest_ds_base = 0x680c,
    guest_fs_base = 0x680e,
    guest_gs_base = 0x6810,
    guest_ldtr_base = 0x6812,
    guest_tr_base = 0x6814,
    guest_gdtr_base = 0x6816,
    guest_idtr_base = 0x6818,
    guest_dr7 = 0x681a,
    guest_rsp = 0x681c,
    guest_rip = 0x681e,
    guest_rflags = 0x6820,
    guest_pending_debug = 0x6822,
    guest_sysenter_esp = 0x6824,
    guest_sysenter_eip = 0x6826,
    host_cr0 = 0x6c00,
    host_cr3 = 0x6c02,
    host_cr4 = 0x6c04,
    host_fs_base = 0x6c06,
    host_gs_base = 0x6c08,
    host_tr_base = 0x6c0a,
    host_gdtr_base = 0x6c0c,
    host_idtr_base = 0x6c0e,
    host_sysenter_esp = 0x6c10,
    host_sysenter_eip = 0x6c12,
    host_rsp = 0x6c14,
    host_rip = 0x6c16,
};

// Guest segment fields by register, in hv::SegReg order (es cs ss ds fs gs
// ldtr tr): the encodings are consecutive (step 2) in every group.
constexpr Field16 guest_selector(unsigned seg) { return Field16(0x0800 + 2 * seg); }
constexpr Field32 guest_limit(unsigned seg) { return Field32(0x4800 + 2 * seg); }
constexpr Field32 guest_access_rights(unsigned seg) { return Field32(0x4814 + 2 * seg); }
constexpr FieldNat guest_base(unsigned seg) { return FieldNat(0x6806 + 2 * seg); }
static_assert(guest_selector(7) == Field16::guest_tr_selector);
static_assert(guest_limit(7) == Field32::guest_tr_limit);
static_assert(guest_access_rights(7) == Field32::guest_tr_access_rights);
static_assert(guest_base(7) == FieldNat::guest_tr_base);

namespace detail {
template <typename F, unsigned N> constexpr bool all_have_width(const F (&fields)[N], FieldWidth w)
{
    for (F f : fields)
        if (field_width(uint32_t(f)) != w || (uint32_t(f) & 1)) return false;
    return true;
}
constexpr Field16 all16[] = {
    Field16::vpid, Field16::guest_es_selector, Field16::guest_cs_selector, Field16::guest_ss_selector,
    Field16::guest_ds_selector, Field16::guest_fs_selector, Field16::guest_gs_selector,
    Field16::guest_ldtr_selector, Field16::guest_tr_selector, Field16::host_es_selector, Field16::host_cs_selector,
    Field16::host_ss_selector, Field16::host_ds_selector, Field16::host_fs_selector, Field16::host_gs_selector,
    Field16::host_tr_selector
};
constexpr Field64 all64[] = {
    Field64::io_bitmap_a, Field64::io_bitmap_b, Field64::msr_bitmap, Field64::exit_msr_store_addr,
    Field64::exit_msr_load_addr, Field64::entry_msr_load_addr, Field64::tsc_offset, Field64::ept_pointer,
    Field64::xss_exiting_bitmap, Field64::guest_physical_address, Field64::vmcs_link_pointer,
    Field64::guest_debugctl, Field64::guest_pat, Field64::guest_efer, Field64::guest_pdpte0, Field64::guest_pdpte1,
    Field64::guest_pdpte2, Field64::guest_pdpte3, Field64::host_pat, Field64::host_efer
};
constexpr Field32 all32[] = {
    Field32::pin_controls, Field32::proc_controls, Field32::exception_bitmap, Field32::pf_error_mask,
    Field32::pf_error_match, Field32::cr3_target_count, Field32::exit_controls, Field32::exit_msr_store_count,
    Field32::exit_msr_load_count, Field32::entry_controls, Field32::entry_msr_load_count,
    Field32::entry_interruption_info, Field32::entry_exception_error, Field32::entry_instruction_length,
    Field32::tpr_threshold, Field32::proc_controls2, Field32::ple_gap, Field32::ple_window,
    Field32::vm_instruction_error, Field32::exit_reason, Field32::exit_interruption_info,
    Field32::exit_interruption_error, Field32::idt_vectoring_info, Field32::idt_vectoring_error,
    Field32::exit_instruction_length, Field32::exit_instruction_info, Field32::guest_es_limit,
    Field32::guest_cs_limit, Field32::guest_ss_limit, Field32::guest_ds_limit, Field32::guest_fs_limit,
    Field32::guest_gs_limit, Field32::guest_ldtr_limit, Field32::guest_tr_limit, Field32::guest_gdtr_limit,
    Field32::guest_idtr_limit, Field32::guest_es_access_rights, Field32::guest_cs_access_rights,
    Field32::guest_ss_access_rights, Field32::guest_ds_access_rights, Field32::guest_fs_access_rights,
    Field32::guest_gs_access_rights, Field32::guest_ldtr_access_rights, Field32::guest_tr_access_rights,
    Field32::guest_interruptibility, Field32::guest_activity_state, Field32::guest_sysenter_cs,
    Field32::guest_preemption_timer, Field32::host_sysenter_cs
};
constexpr FieldNat all_nat[] = {
    FieldNat::cr0_guest_host_mask, FieldNat::cr4_guest_host_mask, FieldNat::cr0_read_shadow,
    FieldNat::cr4_read_shadow, FieldNat::exit_qualification, FieldNat::guest_linear_address, FieldNat::guest_cr0,
    FieldNat::guest_cr3, FieldNat::guest_cr4, FieldNat::guest_es_base, FieldNat::guest_cs_base,
    FieldNat::guest_ss_base, FieldNat::guest_ds_base, FieldNat::guest_fs_base, FieldNat::guest_gs_base,
    FieldNat::guest_ldtr_base, FieldNat::guest_tr_base, FieldNat::guest_gdtr_base, FieldNat::guest_idtr_base,
    FieldNat::guest_dr7, FieldNat::guest_rsp, FieldNat::guest_rip, FieldNat::guest_rflags,
    FieldNat::guest_pending_debug, FieldNat::guest_sysenter_esp, FieldNat::guest_sysenter_eip, FieldNat::host_cr0,
    FieldNat::host_cr3, FieldNat::host_cr4, FieldNat::host_fs_base, FieldNat::host_gs_base, FieldNat::host_tr_base,
    FieldNat::host_gdtr_base, FieldNat::host_idtr_base, FieldNat::host_sysenter_esp, FieldNat::host_sysenter_eip,
    FieldNat::host_rsp, FieldNat::host_rip
};
}  // namespace detail
static_assert(detail::all_have_width(detail::all16, FieldWidth::w16));
static_assert(detail::all_have_width(detail::all64, FieldWidth::w64));
static_assert(detail::all_have_width(detail::all32, FieldWidth::w32));
static_assert(detail::all_have_width(detail::all_nat, FieldWidth::natural));

}  // namespace arch::vmx
