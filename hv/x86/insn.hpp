// A decoded x86 instruction: what the decoder (decoder.hpp) produces and the
// MMIO emulator (mmio_emulator.hpp) and the exit handlers consume. Plain data.
//
// Encoding vocabulary follows SDM Vol. 2A chapter 2 (instruction format):
// legacy prefixes, REX, opcode (1, 2 or 3 bytes, or VEX/EVEX/XOP escaped),
// ModRM, SIB, displacement, immediate.
#pragma once

#include <cstdint>

#include "hv/x86/regs.hpp"

namespace hv::x86 {

// What the instruction does, as far as the hypervisor cares. Everything the
// decoder can measure but nobody emulates is `other`.
enum class Op : uint8_t {
    other,
    // Data movement and arithmetic the MMIO emulator implements.
    mov, movzx, movsx, movsxd, movs, stos,
    add, or_, adc, sbb, and_, sub, xor_, cmp, test, xchg, bt,
    // Recognised for the exit handlers (length, operands) but not emulated here.
    lods, cmps, scas, bts, btr, btc,
    cpuid, rdmsr, wrmsr, rdtsc, rdtscp, rdpmc, hlt, pause, nop,
    in, out, ins, outs,
    vmcall, vmmcall, vmlaunch, vmresume, vmxoff, vmrun, vmload, vmsave, stgi, clgi, skinit,
    invlpga, xgetbv, xsetbv, monitor, mwait, swapgs,
    mov_from_cr, mov_to_cr, mov_from_dr, mov_to_dr, clts, lmsw, smsw,
    invlpg, invd, wbinvd, lgdt, lidt, sgdt, sidt, lldt, ltr, sldt, str,
    int3, int_n, into, int1, iret, ud2, syscall, sysret, sysenter, sysexit,
    vex,  // any VEX/EVEX/XOP-encoded instruction (length only)
};

const char* op_name(Op op);

// Which opcode table the opcode byte indexes (SDM Vol. 2A Appendix A.3).
enum class OpcodeMap : uint8_t {
    primary,   // one-byte opcodes (Table A-2)
    map0f,     // 0F xx (Table A-3)
    map0f38,   // 0F 38 xx (Table A-4)
    map0f3a,   // 0F 3A xx (Table A-5)
    amd3dnow,  // 0F 0F ModRM ... imm8 (AMD APM Vol. 3; `opcode` is the imm8)
    vex,       // VEX/EVEX/XOP: `opcode` is the byte after the escape
};

// Prefix bits seen (SDM Vol. 2A §2.1.1).
namespace prefix {
inline constexpr uint16_t lock = 1u << 0;      // F0
inline constexpr uint16_t repne = 1u << 1;     // F2 seen
inline constexpr uint16_t rep = 1u << 2;       // F3 seen
inline constexpr uint16_t opsize = 1u << 3;    // 66
inline constexpr uint16_t addrsize = 1u << 4;  // 67
inline constexpr uint16_t seg = 1u << 5;       // a segment override (see Insn::seg_override)
inline constexpr uint16_t rex = 1u << 6;       // a REX prefix that took effect
inline constexpr uint16_t vex = 1u << 7;       // VEX (C4/C5)
inline constexpr uint16_t evex = 1u << 8;      // EVEX (62)
inline constexpr uint16_t xop = 1u << 9;       // XOP (8F)
}  // namespace prefix

// REX bits (SDM Vol. 2A §2.2.1, Table 2-4).
namespace rex {
inline constexpr uint8_t b = 1u << 0;
inline constexpr uint8_t x = 1u << 1;
inline constexpr uint8_t r = 1u << 2;
inline constexpr uint8_t w = 1u << 3;
}  // namespace rex

inline constexpr uint8_t no_reg = 0xff;
inline constexpr uint8_t reg_rip = 0x10;  // MemOperand::base for RIP-relative

// A memory operand: seg:[base + index*scale + disp], truncated to the address
// size. moffs forms (A0-A3) have no base and the offset in `disp`.
struct MemOperand {
    uint8_t base = no_reg;   // Gpr number, reg_rip, or no_reg
    uint8_t index = no_reg;  // Gpr number or no_reg
    uint8_t scale = 1;       // 1, 2, 4, 8
    Seg seg = Seg::ds;       // effective segment after defaults and overrides
    int64_t disp = 0;        // sign-extended displacement (moffs: zero-extended)
};

struct Insn {
    Op op = Op::other;
    OpcodeMap map = OpcodeMap::primary;
    uint8_t opcode = 0;
    uint8_t length = 0;        // total bytes, 1..15
    uint8_t operand_size = 0;  // bytes: 1, 2, 4 or 8
    uint8_t address_size = 0;  // bytes: 2, 4 or 8
    uint16_t prefixes = 0;     // prefix:: bits
    uint8_t rep = 0;           // last of F2/F3 (0 if none): the one that counts
    uint8_t rex = 0;           // effective REX low nibble (W R X B), 0 if none
    Seg seg_override = Seg::ds;  // valid when prefixes & prefix::seg (raw, even where 64-bit mode ignores it)

    bool has_modrm = false;
    bool has_sib = false;
    uint8_t modrm = 0;
    uint8_t sib = 0;

    // ModRM.reg extended by REX.R (or, for "+r" opcodes such as B8+r, the
    // register in the opcode's low bits extended by REX.B). For 0F 20-23 it is
    // the control/debug register number.
    uint8_t reg = 0;
    // The r/m operand: a register (rm_reg, extended by REX.B) when ModRM.mod is
    // 3, otherwise memory. moffs forms (A0-A3) also set rm_is_mem; string
    // instructions (MOVS, STOS, ...) leave it clear: their operands are implicit.
    bool rm_is_mem = false;
    uint8_t rm_reg = 0;
    MemOperand mem;

    uint8_t disp_size = 0;   // bytes of displacement encoded (0, 1, 2, 4, 8 for moffs)
    uint8_t imm_size = 0;    // bytes of the first immediate (0, 1, 2, 4, 8)
    int64_t imm = 0;         // first immediate, sign-extended from imm_size bytes
    uint8_t imm2_size = 0;   // ENTER's imm8, EXTRQ/INSERTQ's second imm8, far pointer selector
    uint16_t imm2 = 0;

    constexpr bool has(uint16_t p) const { return (prefixes & p) != 0; }
    constexpr uint8_t modrm_mod() const { return modrm >> 6; }
    constexpr uint8_t modrm_reg() const { return (modrm >> 3) & 7; }  // raw 3 bits (group index)
    constexpr uint8_t modrm_rm() const { return modrm & 7; }
    // The first immediate zero-extended from its encoded size (ports, vectors).
    constexpr uint64_t imm_unsigned() const
    {
        return imm_size >= 8 ? static_cast<uint64_t>(imm)
                             : static_cast<uint64_t>(imm) & ((1ull << (imm_size * 8)) - 1);
    }
};

}  // namespace hv::x86
