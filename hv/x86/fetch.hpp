// Fetching and decoding the guest instruction at RIP through the guest's page
// tables: what the exit handlers use to learn an instruction's length where
// SVM has no NRIP, and what MMIO emulation decodes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/x86/fault.hpp"
#include "hv/x86/guest_phys.hpp"
#include "hv/x86/insn.hpp"
#include "hv/x86/page_walk.hpp"
#include "hv/x86/regs.hpp"

namespace hv::x86 {

// Reads up to 15 instruction bytes at CS:RIP into `buf`, stopping early at a
// page that does not translate or is not RAM. Returns the number of bytes
// read (>= 1); fails only when not even the first byte can be fetched.
EmuResult<size_t> fetch_insn_bytes(const Regs& regs, const Paging& paging, const GuestPhys& mem, uint8_t* buf);

// fetch_insn_bytes + decode. Failures: the fetch's page fault (on the first
// page, or on the second when the instruction continues into it),
// bus_error (code not in RAM), general_protection (longer than 15 bytes),
// unsupported (undefined opcode: the CPU would raise #UD).
EmuResult<Insn> fetch_and_decode(const Regs& regs, const Paging& paging, const GuestPhys& mem);

}  // namespace hv::x86
