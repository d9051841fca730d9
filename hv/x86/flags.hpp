// RFLAGS status-flag arithmetic for the emulated ALU instructions: the exact
// CF/PF/AF/ZF/SF/OF each of ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST
// produces at operand sizes 1, 2, 4 and 8 bytes (SDM Vol. 1 §3.4.3.1 and
// Appendix A "EFLAGS Cross-Reference"; Vol. 2 "Flags Affected" of each
// instruction). AF is undefined after the logical instructions; hardware
// (Intel and AMD) clears it, and so do we.
#pragma once

#include <bit>
#include <cstdint>

#include "hv/x86/regs.hpp"

namespace hv::x86 {

constexpr uint64_t size_mask(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1; }
constexpr uint64_t sign_bit(unsigned bytes) { return 1ull << (bytes * 8 - 1); }

// Sign-extends the low `bytes` bytes of v to 64 bits.
constexpr uint64_t sign_extend(uint64_t v, unsigned bytes)
{
    if (bytes >= 8) return v;
    const uint64_t s = sign_bit(bytes);
    return ((v & size_mask(bytes)) ^ s) - s;
}

struct AluResult {
    uint64_t value;  // truncated to the operand size
    uint64_t flags;  // only rflags::arith bits
};

// PF, ZF and SF of a result (PF: even parity of the low byte).
constexpr uint64_t result_flags(uint64_t r, unsigned bytes)
{
    uint64_t f = 0;
    if ((std::popcount(static_cast<unsigned>(r & 0xff)) & 1) == 0) f |= rflags::pf;
    if ((r & size_mask(bytes)) == 0) f |= rflags::zf;
    if (r & sign_bit(bytes)) f |= rflags::sf;
    return f;
}

// a + b + carry_in (ADD: carry_in 0; ADC: CF).
constexpr AluResult alu_add(uint64_t a, uint64_t b, bool carry_in, unsigned bytes)
{
    const uint64_t m = size_mask(bytes);
    a &= m;
    b &= m;
    const uint64_t full = a + b + (carry_in ? 1 : 0);  // may wrap only at 8 bytes
    const uint64_t r = full & m;
    bool cf;
    if (bytes >= 8) cf = full < a || (carry_in && full == a);
    else cf = (full >> (bytes * 8)) != 0;
    uint64_t f = result_flags(r, bytes);
    if (cf) f |= rflags::cf;
    if ((a ^ b ^ r) & 0x10) f |= rflags::af;
    if ((a ^ r) & (b ^ r) & sign_bit(bytes)) f |= rflags::of;
    return {r, f};
}

// a - b - borrow_in (SUB/CMP: borrow_in 0; SBB: CF).
constexpr AluResult alu_sub(uint64_t a, uint64_t b, bool borrow_in, unsigned bytes)
{
    const uint64_t m = size_mask(bytes);
    a &= m;
    b &= m;
    const uint64_t r = (a - b - (borrow_in ? 1 : 0)) & m;
    const bool cf = a < b || (borrow_in && a == b);
    uint64_t f = result_flags(r, bytes);
    if (cf) f |= rflags::cf;
    if ((a ^ b ^ r) & 0x10) f |= rflags::af;
    if ((a ^ b) & (a ^ r) & sign_bit(bytes)) f |= rflags::of;
    return {r, f};
}

// AND, OR, XOR, TEST: CF = OF = 0, AF cleared, PF/ZF/SF from the result.
constexpr AluResult alu_logic(uint64_t r, unsigned bytes)
{
    r &= size_mask(bytes);
    return {r, result_flags(r, bytes)};
}

// Merges computed arithmetic flags into RFLAGS, replacing all six.
constexpr uint64_t merge_arith_flags(uint64_t rflags_value, uint64_t arith)
{
    return (rflags_value & ~rflags::arith) | (arith & rflags::arith);
}

static_assert(alu_add(0xff, 1, false, 1).value == 0);
static_assert(alu_add(0xff, 1, false, 1).flags == (rflags::cf | rflags::pf | rflags::af | rflags::zf));
static_assert(alu_sub(0, 1, false, 4).flags == (rflags::cf | rflags::pf | rflags::af | rflags::sf));
static_assert(alu_add(0x7fffffffffffffffull, 1, false, 8).flags == (rflags::pf | rflags::af | rflags::sf | rflags::of));

}  // namespace hv::x86
