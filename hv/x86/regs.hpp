// The instruction emulator's view of a vCPU: the 16 general-purpose registers,
// RIP, RFLAGS, the segment bases it needs to form linear addresses, and the
// execution mode. A plain struct: the core copies its exit state in before
// decoding/emulating and copies it back afterwards. Nothing here names a VMCS
// or VMCB field.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::x86 {

// Default operand/address size of the code segment being executed.
// SDM Vol. 1 §3.6 / Vol. 3A §5.2.1: 64-bit mode when IA32_EFER.LMA = 1 and
// CS.L = 1; otherwise CS.D selects 32- or 16-bit defaults (real and virtual-8086
// mode are 16-bit).
enum class CpuMode : uint8_t { bits16, bits32, bits64 };

constexpr CpuMode cpu_mode(bool cr0_pe, bool rflags_vm, bool efer_lma, bool cs_l, bool cs_d)
{
    if (!cr0_pe || rflags_vm) return CpuMode::bits16;
    if (efer_lma && cs_l) return CpuMode::bits64;
    return cs_d ? CpuMode::bits32 : CpuMode::bits16;
}

// General-purpose registers in their encoding order (SDM Vol. 2A §2.1.5,
// Table 2-2 / §2.2.1.2 REX extensions).
enum class Gpr : uint8_t {
    rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi,
    r8, r9, r10, r11, r12, r13, r14, r15,
};
inline constexpr size_t gpr_count = 16;

// Segment registers in their encoding order (SDM Vol. 2A §3.1.1.3, Sreg).
enum class Seg : uint8_t { es, cs, ss, ds, fs, gs };
inline constexpr size_t seg_count = 6;

// RFLAGS bits (SDM Vol. 1 §3.4.3).
namespace rflags {
inline constexpr uint64_t cf = 1ull << 0;
inline constexpr uint64_t fixed1 = 1ull << 1;
inline constexpr uint64_t pf = 1ull << 2;
inline constexpr uint64_t af = 1ull << 4;
inline constexpr uint64_t zf = 1ull << 6;
inline constexpr uint64_t sf = 1ull << 7;
inline constexpr uint64_t tf = 1ull << 8;
inline constexpr uint64_t if_ = 1ull << 9;
inline constexpr uint64_t df = 1ull << 10;
inline constexpr uint64_t of = 1ull << 11;
inline constexpr uint64_t vm = 1ull << 17;
inline constexpr uint64_t ac = 1ull << 18;
// The six status flags the arithmetic instructions write.
inline constexpr uint64_t arith = cf | pf | af | zf | sf | of;
}  // namespace rflags

struct Regs {
    uint64_t gpr[gpr_count] = {};
    uint64_t rip = 0;
    uint64_t rflags = rflags::fixed1;
    // Segment bases (hidden part of the segment registers), indexed by Seg. In
    // 64-bit mode only FS and GS bases are used (SDM Vol. 3A §3.4.4).
    uint64_t seg_base[seg_count] = {};
    CpuMode mode = CpuMode::bits64;
    uint8_t cpl = 0;  // current privilege level (user accesses when 3)

    constexpr uint64_t& operator[](Gpr r) { return gpr[static_cast<size_t>(r)]; }
    constexpr uint64_t operator[](Gpr r) const { return gpr[static_cast<size_t>(r)]; }
};

}  // namespace hv::x86
