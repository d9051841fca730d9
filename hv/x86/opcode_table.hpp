// Per-opcode attributes for the decoder: which bytes follow the opcode
// (ModRM, immediate kind) and how the operand size is formed. Internal to
// decoder.cpp; kept apart so the tables read like the SDM's opcode maps
// (SDM Vol. 2D Appendix A: Table A-2 one-byte, A-3 two-byte 0F, A-4 0F 38,
// A-5 0F 3A). Built at compile time: no static constructors.
#pragma once

#include <cstdint>

namespace hv::x86::detail {

// Immediate kinds (SDM Vol. 2D §A.2.2 operand-type codes).
enum class Imm : uint8_t {
    none,
    ib,     // 8 bits
    iw,     // 16 bits
    iz,     // 16 bits with a 16-bit operand size, 32 bits otherwise
    iv,     // operand size: 16, 32 or 64 bits (B8+r only)
    moffs,  // address size: 16, 32 or 64 bits (A0-A3)
    iw_ib,  // ENTER: iw then ib
    ptr,    // Ap: offset of operand size (16/32) then a 16-bit selector
    grp3,   // F6/F7: ib / iz for /0 and /1 (TEST), none otherwise
};

namespace attr {
inline constexpr uint16_t modrm = 1u << 0;    // a ModRM byte follows
inline constexpr uint16_t byte = 1u << 1;     // operand size 8 bits
inline constexpr uint16_t inv64 = 1u << 2;    // #UD in 64-bit mode ("i64")
inline constexpr uint16_t def64 = 1u << 3;    // operand size defaults to 64 in 64-bit mode ("d64")
inline constexpr uint16_t force64 = 1u << 4;  // operand size is 64 in 64-bit mode ("f64")
inline constexpr uint16_t undef = 1u << 5;    // undefined opcode: #UD
inline constexpr int imm_shift = 8;
}  // namespace attr

constexpr uint16_t with_imm(uint16_t a, Imm i) { return static_cast<uint16_t>(a | (static_cast<uint16_t>(i) << attr::imm_shift)); }
constexpr Imm imm_of(uint16_t a) { return static_cast<Imm>((a >> attr::imm_shift) & 0xf); }

struct OpcodeTable {
    uint16_t a[256];
};

// SDM Vol. 2D Table A-2 (one-byte opcode map).
constexpr OpcodeTable make_primary()
{
    using namespace attr;
    OpcodeTable t{};
    // 00-3F: the eight ALU rows Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz.
    for (int row = 0; row < 0x40; row += 8) {
        t.a[row + 0] = modrm | byte;
        t.a[row + 1] = modrm;
        t.a[row + 2] = modrm | byte;
        t.a[row + 3] = modrm;
        t.a[row + 4] = with_imm(byte, Imm::ib);
        t.a[row + 5] = with_imm(0, Imm::iz);
    }
    constexpr uint8_t legacy_only[] = {0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f};
    for (int op : legacy_only) t.a[op] = inv64;
    // 40-4F INC/DEC (REX in 64-bit mode, consumed as a prefix), 50-5F PUSH/POP.
    for (int op = 0x50; op <= 0x5f; ++op) t.a[op] = def64;
    t.a[0x60] = inv64;  // PUSHA
    t.a[0x61] = inv64;  // POPA
    t.a[0x62] = modrm | inv64;  // BOUND (EVEX in 64-bit mode, handled before the table)
    t.a[0x63] = modrm;          // ARPL / MOVSXD
    t.a[0x68] = with_imm(def64, Imm::iz);
    t.a[0x69] = with_imm(modrm, Imm::iz);
    t.a[0x6a] = with_imm(def64, Imm::ib);
    t.a[0x6b] = with_imm(modrm, Imm::ib);
    t.a[0x6c] = byte;  // INSB
    t.a[0x6e] = byte;  // OUTSB
    for (int op = 0x70; op <= 0x7f; ++op) t.a[op] = with_imm(force64, Imm::ib);  // Jcc rel8
    t.a[0x80] = with_imm(modrm | byte, Imm::ib);
    t.a[0x81] = with_imm(modrm, Imm::iz);
    t.a[0x82] = with_imm(modrm | byte | inv64, Imm::ib);
    t.a[0x83] = with_imm(modrm, Imm::ib);
    for (int op = 0x84; op <= 0x8b; ++op) t.a[op] = (op & 1) ? modrm : uint16_t(modrm | byte);
    t.a[0x8c] = modrm;
    t.a[0x8d] = modrm;
    t.a[0x8e] = modrm;
    t.a[0x8f] = modrm | def64;  // POP Ev (XOP escape handled before the table)
    t.a[0x9a] = with_imm(inv64, Imm::ptr);
    t.a[0x9c] = def64;
    t.a[0x9d] = def64;
    t.a[0xa0] = with_imm(byte, Imm::moffs);
    t.a[0xa1] = with_imm(0, Imm::moffs);
    t.a[0xa2] = with_imm(byte, Imm::moffs);
    t.a[0xa3] = with_imm(0, Imm::moffs);
    for (int op = 0xa4; op <= 0xaf; op += 2) t.a[op] = byte;  // MOVSB CMPSB (A8) STOSB LODSB SCASB
    t.a[0xa8] = with_imm(byte, Imm::ib);
    t.a[0xa9] = with_imm(0, Imm::iz);
    for (int op = 0xb0; op <= 0xb7; ++op) t.a[op] = with_imm(byte, Imm::ib);
    for (int op = 0xb8; op <= 0xbf; ++op) t.a[op] = with_imm(0, Imm::iv);
    t.a[0xc0] = with_imm(modrm | byte, Imm::ib);
    t.a[0xc1] = with_imm(modrm, Imm::ib);
    t.a[0xc2] = with_imm(force64, Imm::iw);
    t.a[0xc3] = force64;
    t.a[0xc4] = modrm | inv64;  // LES (VEX3 handled before the table)
    t.a[0xc5] = modrm | inv64;  // LDS (VEX2)
    t.a[0xc6] = with_imm(modrm | byte, Imm::ib);
    t.a[0xc7] = with_imm(modrm, Imm::iz);
    t.a[0xc8] = with_imm(def64, Imm::iw_ib);
    t.a[0xc9] = def64;
    t.a[0xca] = with_imm(0, Imm::iw);
    t.a[0xcd] = with_imm(0, Imm::ib);
    t.a[0xce] = inv64;
    t.a[0xd0] = modrm | byte;
    t.a[0xd1] = modrm;
    t.a[0xd2] = modrm | byte;
    t.a[0xd3] = modrm;
    t.a[0xd4] = with_imm(inv64, Imm::ib);
    t.a[0xd5] = with_imm(inv64, Imm::ib);
    t.a[0xd6] = inv64;
    t.a[0xd7] = byte;
    for (int op = 0xd8; op <= 0xdf; ++op) t.a[op] = modrm;  // x87 escapes
    for (int op = 0xe0; op <= 0xe3; ++op) t.a[op] = with_imm(force64, Imm::ib);  // LOOPcc, JrCXZ
    t.a[0xe4] = with_imm(byte, Imm::ib);
    t.a[0xe5] = with_imm(0, Imm::ib);
    t.a[0xe6] = with_imm(byte, Imm::ib);
    t.a[0xe7] = with_imm(0, Imm::ib);
    t.a[0xe8] = with_imm(force64, Imm::iz);
    t.a[0xe9] = with_imm(force64, Imm::iz);
    t.a[0xea] = with_imm(inv64, Imm::ptr);
    t.a[0xeb] = with_imm(force64, Imm::ib);
    t.a[0xec] = byte;
    t.a[0xee] = byte;
    t.a[0xf6] = with_imm(modrm | byte, Imm::grp3);
    t.a[0xf7] = with_imm(modrm, Imm::grp3);
    t.a[0xfe] = modrm | byte;
    t.a[0xff] = modrm;
    return t;
}

// SDM Vol. 2D Table A-3 (two-byte opcode map, 0F xx). 0F 0F (3DNow!), 0F 38
// and 0F 3A are escapes handled by the decoder.
constexpr OpcodeTable make_map0f()
{
    using namespace attr;
    OpcodeTable t{};
    for (int op = 0; op < 256; ++op) t.a[op] = modrm;  // the common case
    constexpr uint8_t undefined_ops[] = {0x04, 0x0a, 0x0c, 0x24, 0x25, 0x26, 0x27, 0x36, 0x39, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
                   0x7a, 0x7b, 0xa6, 0xa7};
    for (int op : undefined_ops)
        t.a[op] = undef;
    // No ModRM: SYSCALL CLTS SYSRET INVD WBINVD UD2 FEMMS, WRMSR RDTSC RDMSR
    // RDPMC SYSENTER SYSEXIT GETSEC, EMMS, CPUID RSM, BSWAP.
    constexpr uint8_t no_modrm[] = {0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37,
                   0x77, 0xa2, 0xaa};
    for (int op : no_modrm)
        t.a[op] = 0;
    for (int op = 0xc8; op <= 0xcf; ++op) t.a[op] = 0;
    for (int op = 0x70; op <= 0x73; ++op) t.a[op] = with_imm(modrm, Imm::ib);
    for (int op = 0x80; op <= 0x8f; ++op) t.a[op] = with_imm(force64, Imm::iz);  // Jcc rel16/32
    for (int op = 0x90; op <= 0x9f; ++op) t.a[op] = modrm | byte;                 // SETcc
    t.a[0xa0] = def64;  // PUSH FS
    t.a[0xa1] = def64;  // POP FS
    t.a[0xa8] = def64;  // PUSH GS
    t.a[0xa9] = def64;  // POP GS
    t.a[0xa4] = with_imm(modrm, Imm::ib);  // SHLD Ib
    t.a[0xac] = with_imm(modrm, Imm::ib);  // SHRD Ib
    t.a[0xb0] = modrm | byte;              // CMPXCHG Eb
    t.a[0xba] = with_imm(modrm, Imm::ib);  // Group 8
    t.a[0xc0] = modrm | byte;              // XADD Eb
    constexpr uint8_t sse_ib[] = {0xc2, 0xc4, 0xc5, 0xc6};
    for (int op : sse_ib) t.a[op] = with_imm(modrm, Imm::ib);
    return t;
}

inline constexpr OpcodeTable primary_table = make_primary();
inline constexpr OpcodeTable map0f_table = make_map0f();

static_assert(imm_of(primary_table.a[0x81]) == Imm::iz);
static_assert(primary_table.a[0x0f] == 0);  // escape, never looked up
static_assert(imm_of(map0f_table.a[0xba]) == Imm::ib);

}  // namespace hv::x86::detail
