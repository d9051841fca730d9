// x87/SSE state of guests (FXSAVE format, SDM Vol. 1 10.5.1). The hypervisor
// itself never uses the FPU (-mgeneral-regs-only), so a CPU's FPU registers
// hold the state of the last vCPU that ran there; it is saved and the next
// vCPU's loaded only when a different vCPU runs on that CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace arch {

struct alignas(16) FpuState {
    uint8_t area[512];
};
static_assert(sizeof(FpuState) == 512);

// The state after FNINIT with SSE defaults: FCW 0x37F, MXCSR 0x1F80.
void fpu_state_init(FpuState& s);
// CR4.OSFXSR and OSXMMEXCPT on this CPU, so FXSAVE/FXRSTOR include XMM state.
void fpu_enable_this_cpu();
// Makes `next` the state in this CPU's FPU registers (saving the previous
// owner's). `owner` is this CPU's record of whose state is loaded.
void fpu_switch(FpuState*& owner, FpuState* next);
// If `s` is in this CPU's registers, saves it there and leaves the CPU
// without an owner (before `s` moves to another CPU).
void fpu_release(FpuState*& owner, FpuState* s);

}  // namespace arch
