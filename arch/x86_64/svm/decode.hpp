// Decoding a #VMEXIT (EXITCODE, EXITINFO1/2, NRIP; AMD APM Vol. 2 15.6-15.10,
// Appendix C) into the vendor-neutral hv::VmExit. Pure and header-only, so
// the host unit tests run it on VMCBs they build.
#pragma once

#include <cstdint>

#include "arch/x86_64/svm/vmcb.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/vcpu/vm_exit.hpp"

namespace arch::svm {

// Length of instructions whose encoding is fixed, for exits without NRIP: no
// decode needed (a prefixed form would be mis-sized; guests do not emit
// prefixes on these).
constexpr uint8_t fixed_length(ExitCode c)
{
    switch (c) {
    case ExitCode::hlt: return 1;
    case ExitCode::cpuid:
    case ExitCode::pause:
    case ExitCode::rdtsc:
    case ExitCode::invd:
    case ExitCode::wbinvd:
    case ExitCode::msr: return 2;
    case ExitCode::vmmcall:
    case ExitCode::rdtscp:
    case ExitCode::xsetbv:
    case ExitCode::monitor:
    case ExitCode::mwait: return 3;
    default: return 0;
    }
}

// `rcx` is the guest's RCX at the exit (the MSR number of RDMSR/WRMSR).
inline hv::VmExit decode_exit(const Vmcb& v, const virt::Capabilities& caps, uint64_t rcx)
{
    using R = hv::ExitReason;
    hv::VmExit x{};
    x.raw_reason = v.exit_code;
    // VMEXIT_INVALID is -1; some implementations store it as a 32-bit -1.
    if (uint32_t(v.exit_code) == 0xffffffffu) {
        x.reason = R::invalid_guest_state;
        return x;
    }
    auto code = ExitCode(v.exit_code);
    if (caps.nrip_save && v.next_rip > v.rip && v.next_rip - v.rip <= 15) x.insn_len = uint8_t(v.next_rip - v.rip);
    else x.insn_len = fixed_length(code);
    uint64_t c = v.exit_code;
    if (c <= uint64_t(ExitCode::cr15_write)) {
        x.reason = R::cr_access;
        x.cr.cr = uint8_t(c & 0xf);
        x.cr.write = c >= uint64_t(ExitCode::cr0_write);
        // Decode assists: EXITINFO1[63] valid, [3:0] the GPR (APM 15.8.1).
        x.cr.gpr_valid = caps.decode_assists && (v.exit_info1 & (1ull << 63));
        x.cr.gpr = uint8_t(v.exit_info1 & 0xf);
        return x;
    }
    if (c >= uint64_t(ExitCode::exception_base) && c < uint64_t(ExitCode::exception_base) + 32) {
        x.reason = R::exception;
        x.exception.vector = uint8_t(c - uint64_t(ExitCode::exception_base));
        unsigned vec = x.exception.vector;
        x.exception.has_error = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
        x.exception.error_code = uint32_t(v.exit_info1);
        if (vec == 14) x.exception.cr2 = v.exit_info2;
        return x;
    }
    switch (code) {
    case ExitCode::intr: x.reason = R::external_interrupt; return x;
    case ExitCode::nmi: x.reason = R::nmi; return x;
    case ExitCode::smi: x.reason = R::external_interrupt; return x;  // nothing to do but resume
    case ExitCode::init: x.reason = R::init; return x;
    case ExitCode::vintr: x.reason = R::interrupt_window; return x;
    case ExitCode::iret: x.reason = R::nmi_window; return x;
    case ExitCode::rdtsc: x.reason = R::rdtsc; return x;
    case ExitCode::cpuid: x.reason = R::cpuid; return x;
    case ExitCode::invd: x.reason = R::invd; return x;
    case ExitCode::pause: x.reason = R::pause; return x;
    case ExitCode::hlt: x.reason = R::hlt; return x;
    case ExitCode::invlpg: x.reason = R::invlpg; return x;
    case ExitCode::ioio: {
        // EXITINFO1 (APM 15.10.2): type, string, rep, size, address size, port.
        uint64_t i = v.exit_info1;
        x.reason = R::io;
        x.io.in = i & 1;
        x.io.string = i & (1u << 2);
        x.io.rep = i & (1u << 3);
        x.io.size = (i & (1u << 4)) ? 1 : (i & (1u << 5)) ? 2 : 4;
        x.io.addr_size = (i & (1u << 7)) ? 2 : (i & (1u << 8)) ? 4 : 8;
        x.io.port = uint16_t(i >> 16);
        // EXITINFO2 holds the next RIP even without NRIP save.
        if (v.exit_info2 > v.rip && v.exit_info2 - v.rip <= 15) x.insn_len = uint8_t(v.exit_info2 - v.rip);
        return x;
    }
    case ExitCode::msr:
        x.reason = v.exit_info1 ? R::msr_write : R::msr_read;
        x.msr = uint32_t(rcx);
        return x;
    case ExitCode::shutdown: x.reason = R::shutdown; return x;
    case ExitCode::vmmcall: x.reason = R::hypercall; return x;
    case ExitCode::rdtscp: x.reason = R::rdtscp; return x;
    case ExitCode::wbinvd: x.reason = R::wbinvd; return x;
    case ExitCode::monitor:
    case ExitCode::mwait: x.reason = R::monitor_mwait; return x;
    case ExitCode::xsetbv: x.reason = R::xsetbv; return x;
    case ExitCode::npf:
        // EXITINFO1: #PF-style error code; EXITINFO2: guest-physical address.
        x.reason = R::mmio;
        x.mmio.gpa = v.exit_info2;
        x.mmio.present = v.exit_info1 & 1;
        x.mmio.write = v.exit_info1 & 2;
        x.mmio.fetch = v.exit_info1 & 16;
        x.insn_len = 0;
        return x;
    default: x.reason = R::unhandled; return x;  // VMRUN, VMLOAD, task switch, ... in a guest: hv stops it
    }
}

}  // namespace arch::svm
