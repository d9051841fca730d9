#include "arch/x86_64/fpu.hpp"

#include "arch/x86_64/cpu.hpp"

namespace arch {

void fpu_state_init(FpuState& s)
{
    for (auto& b : s.area) b = 0;
    s.area[0] = 0x7f;  // FCW 0x037F
    s.area[1] = 0x03;
    uint32_t mxcsr = 0x1f80;
    for (int i = 0; i < 4; ++i) s.area[24 + i] = uint8_t(mxcsr >> (8 * i));
}

void fpu_enable_this_cpu()
{
    auto f = cpuid(1);
    bool fxsr = f.edx & (1u << 24), sse = f.edx & (1u << 25);
    uint64_t cr4 = read_cr4();
    if (fxsr) cr4 |= 1u << 9;   // OSFXSR
    if (sse) cr4 |= 1u << 10;   // OSXMMEXCPT
    write_cr4(cr4);
    uint64_t cr0 = read_cr0();
    cr0 &= ~((1ull << 2) | (1ull << 3));  // EM, TS off: guests' FPU use must not fault in the host
    cr0 |= 1ull << 1;                     // MP
    write_cr0(cr0);
}

void fpu_switch(FpuState*& owner, FpuState* next)
{
    if (owner == next) return;
    if (owner) asm volatile("fxsave64 %0" : "=m"(*owner));
    asm volatile("fxrstor64 %0" : : "m"(*next));
    owner = next;
}

void fpu_release(FpuState*& owner, FpuState* s)
{
    if (owner != s || !s) return;
    asm volatile("fxsave64 %0" : "=m"(*s));
    owner = nullptr;
}

}  // namespace arch
