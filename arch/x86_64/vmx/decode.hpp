// Pure VMX decoding: exit qualifications and interruption-information fields
// as small value types, segment access rights to and from hv's packed form,
// events to the VM-entry interruption-information format, MSR-bitmap bit
// positions, and the whole exit record (VMCS exit fields -> hv::VmExit).
//
// Portable: compiled into the kernel and into the host unit tests
// (tests/unit/vmx_decode_test.cpp). The exit decoder reads VMCS fields
// through a template parameter, so the kernel passes a VMREAD-backed reader
// that reads only the fields an exit needs, and tests pass a fake.
// Section and table numbers are those of the SDM Vol. 3C, 2023 edition
// (Chapter 25 VMCS, 27 VM entries, 28 VM exits).
#pragma once

#include <concepts>
#include <cstdint>

#include "arch/x86_64/vmx/exit_reason.hpp"
#include "hv/vcpu/guest_state.hpp"
#include "hv/vcpu/vm_exit.hpp"

namespace arch::vmx {

// Exit qualification for I/O instructions (28.2.1, Table 28-5).
struct IoQualification {
    uint8_t size;       // 1, 2 or 4
    bool in;
    bool string;
    bool rep;
    bool immediate;     // port given as an immediate (else DX)
    uint16_t port;
    explicit constexpr IoQualification(uint64_t q)
        : size(uint8_t((q & 7) + 1)),
          in(q & (1u << 3)),
          string(q & (1u << 4)),
          rep(q & (1u << 5)),
          immediate(q & (1u << 6)),
          port(uint16_t(q >> 16))
    {
    }
};

// Address size of INS/OUTS from the VM-exit instruction-information field
// (28.2.5, Table 28-8): bits 9:7 = 0 (16-bit), 1 (32-bit), 2 (64-bit).
// Returns 0 when the encoding is reserved.
constexpr uint8_t ins_outs_address_size(uint32_t insn_info)
{
    switch ((insn_info >> 7) & 7) {
    case 0: return 2;
    case 1: return 4;
    case 2: return 8;
    default: return 0;
    }
}

// Exit qualification for control-register accesses (28.2.1, Table 28-3).
enum class CrAccessType : uint8_t { mov_to_cr = 0, mov_from_cr = 1, clts = 2, lmsw = 3 };
struct CrQualification {
    uint8_t cr;             // bits 3:0
    CrAccessType type;      // bits 5:4
    bool lmsw_memory;       // bit 6: LMSW operand in memory
    uint8_t gpr;            // bits 11:8, x86 register number (MOV CR only)
    uint16_t lmsw_source;   // bits 31:16 (LMSW only)
    explicit constexpr CrQualification(uint64_t q)
        : cr(uint8_t(q & 0xf)),
          type(CrAccessType((q >> 4) & 3)),
          lmsw_memory(q & (1u << 6)),
          gpr(uint8_t((q >> 8) & 0xf)),
          lmsw_source(uint16_t(q >> 16))
    {
    }
};

// Exit qualification for EPT violations (28.2.1, Table 28-7). Bits 5:3 give
// the permissions of the guest-physical translation: all clear means it was
// not mapped at all.
struct EptViolation {
    bool read;                // bit 0: data read
    bool write;               // bit 1: data write
    bool fetch;               // bit 2: instruction fetch
    bool present;             // bits 5:3 not all clear
    bool linear_valid;        // bit 7: guest-linear address field valid
    bool nmi_unblocking;      // bit 12: NMI unblocking due to IRET
    explicit constexpr EptViolation(uint64_t q)
        : read(q & 1),
          write(q & 2),
          fetch(q & 4),
          present(q & 0x38),
          linear_valid(q & (1u << 7)),
          nmi_unblocking(q & (1u << 12))
    {
    }
};

// Interruption types in the VM-exit and IDT-vectoring information fields and
// the VM-entry interruption-information field (25.8.3, 25.9.2, 25.9.3).
enum class InterruptionType : uint8_t {
    external = 0,
    nmi = 2,
    hardware_exception = 3,
    software_interrupt = 4,
    privileged_software_exception = 5,
    software_exception = 6,
    other = 7,
};
constexpr bool is_software_event(InterruptionType t)
{
    return t == InterruptionType::software_interrupt || t == InterruptionType::privileged_software_exception ||
           t == InterruptionType::software_exception;
}

// VM-exit interruption information and IDT-vectoring information (25.9.2,
// Table 25-19; 25.9.3, Table 25-20).
struct InterruptionInfo {
    uint8_t vector;           // bits 7:0
    InterruptionType type;    // bits 10:8
    bool error_valid;         // bit 11
    bool nmi_unblocking;      // bit 12 (exit info only; undefined in IDT-vectoring info)
    bool valid;               // bit 31
    explicit constexpr InterruptionInfo(uint32_t v)
        : vector(uint8_t(v)),
          type(InterruptionType((v >> 8) & 7)),
          error_valid(v & (1u << 11)),
          nmi_unblocking(v & (1u << 12)),
          valid(v & (1u << 31))
    {
    }
};

// What to write to the three VM-entry event-injection fields (25.8.3).
struct EntryEvent {
    uint32_t info;        // VM-entry interruption-information field
    uint32_t error_code;  // VM-entry exception error code
    uint32_t length;      // VM-entry instruction length
};
inline constexpr uint32_t interruption_valid = 1u << 31;
inline constexpr uint32_t interruption_deliver_error = 1u << 11;

// Exceptions that push an error code (SDM Vol. 3A Table 6-1, #CP left out:
// no CET for guests).
constexpr bool exception_has_error_code(uint8_t v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

// hv's Event -> VM-entry fields. The deliver-error-code bit must be 1 exactly
// when the guest is in protected mode (CR0.PE, which "unrestricted guest" lets
// be 0), the type is a hardware exception and the vector is one that pushes
// an error code (27.2.1.3); the CPU refuses the entry otherwise, so the bit is
// derived from those facts, not from Event::has_error. Software interrupts
// need the instruction length (1-15) so that the pushed return address
// follows the INT n.
constexpr EntryEvent encode_event(const hv::Event& e, bool protected_mode)
{
    InterruptionType t = InterruptionType::external;
    switch (e.type) {
    case hv::EventType::external: t = InterruptionType::external; break;
    case hv::EventType::nmi: t = InterruptionType::nmi; break;
    case hv::EventType::exception: t = InterruptionType::hardware_exception; break;
    case hv::EventType::software_int: t = InterruptionType::software_interrupt; break;
    }
    uint8_t vector = t == InterruptionType::nmi ? 2 : e.vector;
    bool deliver_error = protected_mode && t == InterruptionType::hardware_exception &&
                         exception_has_error_code(vector);
    EntryEvent out{};
    out.info = vector | (uint32_t(t) << 8) | (deliver_error ? interruption_deliver_error : 0) | interruption_valid;
    out.error_code = deliver_error ? e.error_code : 0;
    out.length = is_software_event(t) ? e.insn_len : 0;
    return out;
}

// An exit that interrupted the delivery of an event (IDT-vectoring
// information valid, 28.2.4) must deliver it again at the next entry
// (28.2.4 "Information for VM Exits That Occur During Event Delivery",
// 27.6.1). Bits 30:12 of the entry field are reserved and cleared here.
constexpr EntryEvent reinjection(uint32_t idt_vectoring_info, uint32_t idt_vectoring_error, uint32_t insn_len)
{
    InterruptionInfo i(idt_vectoring_info);
    EntryEvent out{};
    out.info = (idt_vectoring_info & 0xfff) | interruption_valid;
    out.error_code = i.error_valid ? idt_vectoring_error : 0;
    out.length = is_software_event(i.type) ? insn_len : 0;
    return out;
}

// Guest interruptibility state (25.4.2, Table 25-3).
namespace interruptibility {
inline constexpr uint32_t sti = 1u << 0;
inline constexpr uint32_t mov_ss = 1u << 1;
inline constexpr uint32_t smi = 1u << 2;
inline constexpr uint32_t nmi = 1u << 3;
}  // namespace interruptibility

// Guest activity state (25.4.2).
enum class ActivityState : uint32_t { active = 0, hlt = 1, shutdown = 2, wait_for_sipi = 3 };

// Segment access rights (25.4.1, Table 25-2): descriptor bits 40-47 in bits
// 7:0, bits 52-55 (AVL, L, D/B, G) in bits 15:12, bit 16 "unusable".
// hv::Segment packs bits 52-55 in 11:8 instead.
inline constexpr uint32_t access_rights_unusable = 1u << 16;
constexpr uint32_t to_access_rights(const hv::Segment& s)
{
    if (s.unusable) return access_rights_unusable;
    return (s.attrib & 0xffu) | (uint32_t(s.attrib & 0xf00u) << 4);
}
constexpr hv::Segment from_access_rights(uint16_t selector, uint32_t ar, uint32_t limit, uint64_t base)
{
    hv::Segment s{};
    s.selector = selector;
    s.attrib = uint16_t((ar & 0xff) | ((ar >> 4) & 0xf00));
    s.limit = limit;
    s.base = base;
    s.unusable = ar & access_rights_unusable;
    return s;
}

// MSR bitmap (25.6.9): one 4 KiB page, read-low at 0, read-high at 1024,
// write-low at 2048, write-high at 3072 bytes; low = MSRs 0-0x1fff, high =
// 0xc0000000-0xc0001fff. MSRs outside both ranges always exit.
struct MsrBitmapPos {
    bool in_range;
    uint16_t byte;
    uint8_t bit;
};
constexpr MsrBitmapPos msr_bitmap_pos(uint32_t msr, bool write)
{
    uint32_t base;
    if (msr <= 0x1fff) base = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff) base = 1024;
    else return {false, 0, 0};
    if (write) base += 2048;
    uint32_t index = msr & 0x1fff;
    return {true, uint16_t(base + index / 8), uint8_t(index % 8)};
}

// I/O bitmaps (25.6.4): A covers ports 0-0x7fff, B 0x8000-0xffff, one bit per
// port. An access touching several ports exits if any of their bits is set.

// The VMCS exit fields the decoder may read. Each is read only for the exit
// reasons that define it.
template <typename F>
concept ExitFields = requires(F& f) {
    { f.reason() } -> std::same_as<uint32_t>;
    { f.qualification() } -> std::same_as<uint64_t>;
    { f.instruction_length() } -> std::same_as<uint32_t>;
    { f.instruction_info() } -> std::same_as<uint32_t>;
    { f.interruption_info() } -> std::same_as<uint32_t>;
    { f.interruption_error() } -> std::same_as<uint32_t>;
    { f.idt_vectoring_info() } -> std::same_as<uint32_t>;
    { f.guest_physical() } -> std::same_as<uint64_t>;
};

// What the backend must act on beyond the exit record.
struct DecodeNotes {
    BasicExit basic = BasicExit::exception_or_nmi;
    bool entry_failure = false;       // exit reason bit 31 (27.8)
    bool ept_misconfig = false;       // log: the p2m has a bad entry
    uint64_t gpa = 0;                 // EPT violation / misconfiguration address
    int host_vector = -1;             // external interrupt acknowledged on exit: deliver to the host
    bool host_nmi = false;            // NMI exiting: an NMI for the host arrived in the guest
    bool restore_nmi_blocking = false;  // IRET unblocked NMIs, then faulted: block again (28.2.3)
};

// Exit fields -> hv::VmExit (28.2). `gprs` holds the guest's registers as
// saved by the exit stub (ECX names the MSR of RDMSR/WRMSR). `ins_outs_info`
// is IA32_VMX_BASIC[54]: the instruction-information field gives the address
// size of INS/OUTS (otherwise addr_size is 0 and hv derives it from the
// guest's mode). insn_len is set only where the SDM defines
// VM_EXIT_INSTRUCTION_LEN (28.2.5): instruction exits and software
// exceptions/interrupts; never on EPT violations.
template <ExitFields F>
DecodeNotes decode_exit(F& f, const hv::GuestGprs& gprs, bool ins_outs_info, hv::VmExit& out)
{
    using hv::ExitReason;
    DecodeNotes n;
    uint32_t raw = f.reason();
    n.basic = basic_exit(raw);
    out = hv::VmExit{};
    out.raw_reason = raw;
    out.insn_len = 0;
    out.reason = ExitReason::unhandled;
    if (raw & exit_reason_entry_failure) {
        // 27.8: VM entry failed while checking or loading guest state; the
        // basic reason says which (33, 34 or 41).
        n.entry_failure = true;
        out.reason = ExitReason::invalid_guest_state;
        return n;
    }
    auto insn = [&](ExitReason r) {
        out.reason = r;
        out.insn_len = uint8_t(f.instruction_length());
    };
    switch (n.basic) {
    case BasicExit::exception_or_nmi: {
        InterruptionInfo i(f.interruption_info());
        n.restore_nmi_blocking = i.nmi_unblocking && i.vector != 8 &&
                                 !InterruptionInfo(f.idt_vectoring_info()).valid;
        if (i.type == InterruptionType::nmi) {
            // NMI exiting: the NMI was meant for the host (28.2.2).
            out.reason = ExitReason::nmi;
            n.host_nmi = true;
            break;
        }
        out.reason = ExitReason::exception;
        out.exception.vector = i.vector;
        out.exception.has_error = i.error_valid;
        out.exception.error_code = i.error_valid ? f.interruption_error() : 0;
        // #PF: the qualification is the faulting linear address (28.2.1).
        out.exception.cr2 = i.vector == 14 ? f.qualification() : 0;
        if (is_software_event(i.type)) out.insn_len = uint8_t(f.instruction_length());
        break;
    }
    case BasicExit::external_interrupt: {
        // "Acknowledge interrupt on exit": the CPU took the vector from the
        // local APIC and put it in the exit interruption information.
        out.reason = ExitReason::external_interrupt;
        InterruptionInfo i(f.interruption_info());
        if (i.valid) n.host_vector = i.vector;
        break;
    }
    case BasicExit::triple_fault: out.reason = ExitReason::shutdown; break;
    case BasicExit::init: out.reason = ExitReason::init; break;
    case BasicExit::sipi:
        // Qualification bits 7:0: the SIPI vector (28.2.1). VmExit has no
        // field of its own for it: reported in exception.vector.
        out.reason = ExitReason::sipi;
        out.exception.vector = uint8_t(f.qualification());
        break;
    case BasicExit::interrupt_window: out.reason = ExitReason::interrupt_window; break;
    case BasicExit::nmi_window: out.reason = ExitReason::nmi_window; break;
    case BasicExit::cpuid: insn(ExitReason::cpuid); break;
    case BasicExit::hlt: insn(ExitReason::hlt); break;
    case BasicExit::invd: insn(ExitReason::invd); break;
    case BasicExit::invlpg: insn(ExitReason::invlpg); break;
    case BasicExit::rdtsc: insn(ExitReason::rdtsc); break;
    case BasicExit::rdtscp: insn(ExitReason::rdtscp); break;
    case BasicExit::vmcall: insn(ExitReason::hypercall); break;
    case BasicExit::wbinvd: insn(ExitReason::wbinvd); break;
    case BasicExit::xsetbv: insn(ExitReason::xsetbv); break;
    case BasicExit::pause: insn(ExitReason::pause); break;  // PAUSE exiting and PAUSE-loop exiting alike
    case BasicExit::mwait:
    case BasicExit::monitor: insn(ExitReason::monitor_mwait); break;
    case BasicExit::rdmsr:
    case BasicExit::wrmsr:
        insn(n.basic == BasicExit::rdmsr ? ExitReason::msr_read : ExitReason::msr_write);
        out.msr = uint32_t(gprs[hv::Gpr::rcx]);
        break;
    case BasicExit::io_instruction: {
        insn(ExitReason::io);
        IoQualification q(f.qualification());
        out.io.port = q.port;
        out.io.size = q.size;
        out.io.in = q.in;
        out.io.string = q.string;
        out.io.rep = q.rep;
        out.io.addr_size = q.string && ins_outs_info ? ins_outs_address_size(f.instruction_info()) : 0;
        break;
    }
    case BasicExit::cr_access: {
        insn(ExitReason::cr_access);
        CrQualification q(f.qualification());
        out.cr.cr = q.cr;
        out.cr.write = q.type != CrAccessType::mov_from_cr;
        // CLTS and LMSW write CR0 without a register operand: hv decodes the
        // instruction, as on SVM without decode assists.
        out.cr.gpr_valid = q.type == CrAccessType::mov_to_cr || q.type == CrAccessType::mov_from_cr;
        out.cr.gpr = out.cr.gpr_valid ? q.gpr : 0;
        break;
    }
    case BasicExit::ept_violation: {
        EptViolation q(f.qualification());
        out.reason = ExitReason::mmio;
        n.gpa = f.guest_physical();
        out.mmio.gpa = n.gpa;
        out.mmio.write = q.write;
        out.mmio.fetch = q.fetch;
        out.mmio.present = q.present;
        n.restore_nmi_blocking = q.nmi_unblocking && !InterruptionInfo(f.idt_vectoring_info()).valid;
        break;
    }
    case BasicExit::ept_misconfiguration:
        // A p2m entry the CPU rejects (29.3.3.1): a hypervisor bug, not the
        // guest's fault, but only this guest can be stopped.
        n.ept_misconfig = true;
        n.gpa = f.guest_physical();
        out.reason = ExitReason::invalid_guest_state;
        break;
    case BasicExit::preemption_timer: out.reason = ExitReason::preemption_timer; break;
    default:
        // Every other reason (task switch, VMX instructions, MOV DR, ...) is
        // one hv has no handler for: it stops the guest with raw_reason in the log.
        out.reason = ExitReason::unhandled;
        break;
    }
    return n;
}

}  // namespace arch::vmx
