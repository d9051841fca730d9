// MMIO emulation: carries out one decoded guest instruction whose memory
// access hit device memory (an NPF / EPT-violation exit on an MMIO region),
// against a device bus, and updates the guest registers, RFLAGS and RIP.
//
// Emulated (SDM Vol. 2 instruction pages; all operand sizes and prefixes):
//   MOV 88 89 8A 8B C6/0 C7/0 A0-A3 (moffs)     MOVZX 0F B6/B7   MOVSX 0F BE/BF
//   MOVSXD 63 (64-bit mode)                      XCHG 86 87
//   ADD OR ADC SBB AND SUB XOR CMP: 00-03 08-0B 10-13 18-1B 20-23 28-2B 30-33
//       38-3B, 80 81 82 83 (group 1)
//   TEST 84 85, F6/F7 /0 (and its alias /1)
//   BT BTS BTR BTC: 0F A3 AB B3 BB, 0F BA /4-/7
//   MOVS A4 A5, STOS AA AB, LODS AC AD, with REP (F3, or F2 which acts as REP
//       for these): DF direction, count in RCX/ECX/CX by address size.
// Anything else, or a LOCK where the CPU would raise #UD, is `unsupported`.
//
// Memory model: for non-string instructions the operand's page offset
// (from its linear address) is combined with the page frame of the faulting
// guest-physical address; an operand that crosses out of that 4K page is
// `unsupported`. String instructions translate DS:rSI / ES:rDI through the
// guest page tables for every element and use RAM where GuestPhys answers and
// the device where it answers Error::not_found (so MMIO-to-RAM, RAM-to-MMIO
// and MMIO-to-MMIO copies all work). Both sides are translated before either
// is accessed, so a #PF never loses a device read.
//
// A REP instruction runs at most `max_iterations` elements per call; if the
// count is not exhausted RIP stays on the instruction (RCX/RSI/RDI updated),
// the guest re-executes it and exits again: interrupts get a chance in
// between, as on hardware. On any failure the registers describe the
// elements completed so far and RIP is unchanged.
//
// The caller still owns what surrounds the instruction: RFLAGS.RF/TF
// (single-step #DB after an emulated instruction), interrupt shadow, and
// turning a Fault into an injected exception.
#pragma once

#include <cstdint>

#include "hv/x86/fault.hpp"
#include "hv/x86/guest_phys.hpp"
#include "hv/x86/insn.hpp"
#include "hv/x86/page_walk.hpp"
#include "hv/x86/regs.hpp"
#include "lib/result.hpp"

namespace hv::x86 {

// The device side. `size` is 1, 2, 4 or 8; values are little-endian,
// zero-extended.
struct MmioBus {
    void* ctx = nullptr;
    lib::Result<uint64_t> (*read)(void* ctx, uint64_t gpa, uint8_t size) = nullptr;
    lib::Status (*write)(void* ctx, uint64_t gpa, uint8_t size, uint64_t value) = nullptr;
};

struct MmioEnv {
    uint64_t gpa = 0;  // faulting guest-physical address from the exit
    MmioBus bus;
    GuestPhys ram;    // guest RAM: the non-MMIO side of string instructions, page walks
    Paging paging;    // guest CR0/CR3/CR4/EFER: string instructions only
    uint32_t max_iterations = 1024;
};

EmuStatus emulate_mmio(const Insn& insn, Regs& regs, const MmioEnv& env);

}  // namespace hv::x86
