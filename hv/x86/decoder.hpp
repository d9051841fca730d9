// x86 instruction decoder: one instruction from at most 15 bytes, in 16-, 32-
// or 64-bit mode. It measures every encoding a guest can execute (one-byte,
// 0F, 0F 38, 0F 3A, 3DNow!, VEX, EVEX, XOP), because without SVM's NRIP the
// hypervisor needs instruction lengths for instructions it does not emulate,
// and it names the operations the exit handlers and the MMIO emulator act on.
//
// References: SDM Vol. 2A chapter 2 (instruction format, Tables 2-1..2-3 for
// ModRM/SIB), Vol. 2D Appendix A (opcode maps), AMD APM Vol. 3 §1 and
// Appendix A (XOP, 3DNow!, SSE4a).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/x86/insn.hpp"
#include "hv/x86/regs.hpp"
#include "lib/result.hpp"

namespace hv::x86 {

// The architectural limit on instruction length (SDM Vol. 2A §2.3.11): a
// longer instruction raises #GP(0).
inline constexpr size_t max_insn_length = 15;

// Decodes the instruction starting at bytes[0]. At most min(len, 15) bytes are
// read. Errors:
//   Error::truncated     the instruction continues past `len` (< 15) bytes: fetch
//                        more (or the fetch faulted: inject that fault)
//   Error::out_of_range  longer than 15 bytes: the CPU raises #GP(0)
//   Error::invalid       an undefined encoding (or invalid in this mode): #UD
lib::Result<Insn> decode(const uint8_t* bytes, size_t len, CpuMode mode);

}  // namespace hv::x86
