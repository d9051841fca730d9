// Effective and linear addresses of decoded memory operands (SDM Vol. 1
// §3.7.5 "Specifying an Offset", §3.3.7 for 64-bit mode; Vol. 3A §3.4.4 for
// which segment bases apply in 64-bit mode). Segment limits and access rights
// are not checked: the CPU checked them before the access that exited.
#pragma once

#include <cstdint>

#include "hv/x86/flags.hpp"
#include "hv/x86/insn.hpp"
#include "hv/x86/regs.hpp"

namespace hv::x86 {

// Address of the next instruction, wrapped to the code size.
constexpr uint64_t ip_mask(CpuMode mode)
{
    return mode == CpuMode::bits64 ? ~0ull : mode == CpuMode::bits32 ? 0xffffffffull : 0xffffull;
}

// Segment base as used for linear addresses: in 64-bit mode only FS and GS
// have a base.
constexpr uint64_t segment_base(const Regs& r, Seg s)
{
    if (r.mode == CpuMode::bits64 && s != Seg::fs && s != Seg::gs) return 0;
    return r.seg_base[static_cast<unsigned>(s)];
}

// seg:offset → linear; outside 64-bit mode linear addresses are 32 bits.
constexpr uint64_t linear_address(const Regs& r, Seg s, uint64_t offset)
{
    const uint64_t la = segment_base(r, s) + offset;
    return r.mode == CpuMode::bits64 ? la : (la & 0xffffffffull);
}

// base + index*scale + disp, truncated to the address size. RIP-relative
// operands are relative to the next instruction (SDM Vol. 2A §2.2.1.6).
constexpr uint64_t effective_address(const Insn& in, const Regs& r)
{
    const MemOperand& m = in.mem;
    uint64_t ea = static_cast<uint64_t>(m.disp);
    if (m.base == reg_rip) ea += r.rip + in.length;
    else if (m.base < gpr_count) ea += r.gpr[m.base];
    if (m.index < gpr_count) ea += r.gpr[m.index] * m.scale;
    return ea & size_mask(in.address_size);
}

constexpr uint64_t operand_linear_address(const Insn& in, const Regs& r)
{
    return linear_address(r, in.mem.seg, effective_address(in, r));
}

// Linear address of the instruction at RIP (CS base + RIP).
constexpr uint64_t rip_linear_address(const Regs& r)
{
    return linear_address(r, Seg::cs, r.rip & ip_mask(r.mode));
}

}  // namespace hv::x86
