// Bridges a Vcpu to the instruction emulator's types (hv/x86): its register
// file, paging controls and guest-RAM access through the domain's memory.
#pragma once

#include "hv/vcpu/vcpu.hpp"
#include "hv/x86/fetch.hpp"
#include "hv/x86/guest_phys.hpp"
#include "hv/x86/page_walk.hpp"
#include "hv/x86/regs.hpp"

namespace hv {

x86::Regs emulator_regs(const Vcpu& v);
// Writes back GPRs, RIP and RFLAGS changed by the emulator.
void apply_emulator_regs(Vcpu& v, const x86::Regs& r);
x86::Paging emulator_paging(const Vcpu& v);
x86::GuestPhys guest_ram(Domain& d);

// Length of the instruction at the guest's RIP, for exits where the hardware
// did not say (SVM without NRIP save). Injects the fault and returns 0 if the
// instruction cannot be fetched.
uint8_t decode_insn_length(Vcpu& v);

// Turns an emulator fault into what the guest sees (#PF with CR2, #GP, #UD),
// or stops the domain for a bus error.
void deliver_fault(Vcpu& v, const x86::Fault& f);

}  // namespace hv
