// The vendor-neutral exit record: what a backend reports after the guest
// stopped running, decoded from the VMCS exit reason/qualification or the VMCB
// EXITCODE/EXITINFO fields. hv/ dispatches on this and never sees either.
#pragma once

#include <cstdint>

namespace hv {

enum class ExitReason : uint8_t {
    cpuid,
    io,
    mmio,              // NPF / EPT violation on a guest-physical address
    msr_read,
    msr_write,
    cr_access,
    xsetbv,
    hlt,
    pause,
    external_interrupt,
    nmi,
    interrupt_window,
    nmi_window,
    exception,
    shutdown,          // triple fault
    hypercall,         // VMCALL / VMMCALL
    init,
    sipi,
    rdtsc,
    rdtscp,
    invd,
    wbinvd,
    invlpg,
    monitor_mwait,
    preemption_timer,
    invalid_guest_state,  // VM entry failed on guest state
    unhandled,            // a reason hv has no handler for (raw code in raw_reason)
    count_                // number of reasons (for counters)
};

constexpr const char* exit_reason_name(ExitReason r)
{
    switch (r) {
    case ExitReason::cpuid: return "cpuid";
    case ExitReason::io: return "io";
    case ExitReason::mmio: return "mmio";
    case ExitReason::msr_read: return "msr_read";
    case ExitReason::msr_write: return "msr_write";
    case ExitReason::cr_access: return "cr_access";
    case ExitReason::xsetbv: return "xsetbv";
    case ExitReason::hlt: return "hlt";
    case ExitReason::pause: return "pause";
    case ExitReason::external_interrupt: return "external_interrupt";
    case ExitReason::nmi: return "nmi";
    case ExitReason::interrupt_window: return "interrupt_window";
    case ExitReason::nmi_window: return "nmi_window";
    case ExitReason::exception: return "exception";
    case ExitReason::shutdown: return "shutdown";
    case ExitReason::hypercall: return "hypercall";
    case ExitReason::init: return "init";
    case ExitReason::sipi: return "sipi";
    case ExitReason::rdtsc: return "rdtsc";
    case ExitReason::rdtscp: return "rdtscp";
    case ExitReason::invd: return "invd";
    case ExitReason::wbinvd: return "wbinvd";
    case ExitReason::invlpg: return "invlpg";
    case ExitReason::monitor_mwait: return "monitor_mwait";
    case ExitReason::preemption_timer: return "preemption_timer";
    case ExitReason::invalid_guest_state: return "invalid_guest_state";
    case ExitReason::unhandled: return "unhandled";
    case ExitReason::count_: break;
    }
    return "?";
}

struct IoExit {
    uint16_t port;
    uint8_t size;       // 1, 2 or 4 bytes
    bool in;
    bool string;        // INS/OUTS
    bool rep;
    uint8_t addr_size;  // 2, 4 or 8 (string forms)
};

struct MmioExit {
    uint64_t gpa;
    bool write;
    bool fetch;
    bool present;       // the p2m had a mapping (permission fault) vs none
};

struct CrExit {
    uint8_t cr;         // 0, 3, 4, 8
    bool write;
    uint8_t gpr;        // source/destination register (x86 number), if known
    bool gpr_valid;     // false when the backend has no decode (SVM without decode assists)
};

struct ExceptionExit {
    uint8_t vector;
    bool has_error;
    uint32_t error_code;
    uint64_t cr2;       // #PF: faulting linear address
};

struct VmExit {
    ExitReason reason;
    uint64_t raw_reason;  // backend's own code, for logs
    // Length of the exiting instruction, 0 when the hardware did not say
    // (SVM without NRIP save: decode the instruction instead).
    uint8_t insn_len;
    union {
        IoExit io;
        MmioExit mmio;
        CrExit cr;
        ExceptionExit exception;
        uint32_t msr;       // msr_read / msr_write: ECX
    };
};

}  // namespace hv
