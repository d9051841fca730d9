// x86 instruction decoder. See decoder.hpp for the contract; the attribute
// tables are in opcode_table.hpp. SDM references are to Vol. 2A chapter 2 and
// Vol. 2D Appendix A unless noted.
#include "hv/x86/decoder.hpp"

#include "hv/x86/opcode_table.hpp"

namespace hv::x86 {

namespace {

using detail::Imm;
namespace attr = detail::attr;

constexpr Op alu_ops[8] = {Op::add, Op::or_, Op::adc, Op::sbb, Op::and_, Op::sub, Op::xor_, Op::cmp};

class Decoder {
public:
    Decoder(const uint8_t* bytes, size_t len, CpuMode mode)
        : bytes_(bytes), avail_(len < max_insn_length ? len : max_insn_length), short_buffer_(len < max_insn_length),
          mode_(mode), m64_(mode == CpuMode::bits64)
    {
    }

    lib::Result<Insn> run();

private:
    // Byte reads never go past avail_; a read beyond sets failed_ and yields 0,
    // so decoding runs to its end on bounded garbage and then reports the error.
    uint8_t peek() const { return pos_ < avail_ ? bytes_[pos_] : 0; }
    uint8_t next()
    {
        if (pos_ >= avail_) {
            failed_ = true;
            return 0;
        }
        return bytes_[pos_++];
    }
    uint64_t next_le(unsigned n)
    {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(next()) << (8 * i);
        return v;
    }
    lib::Error length_error() const { return short_buffer_ ? lib::Error::truncated : lib::Error::out_of_range; }

    void prefixes();
    lib::Status opcode();
    lib::Status vex_like(uint8_t escape);
    void sizes(uint16_t a);
    void modrm(bool mod_is_reg);
    void mem16(uint8_t mod, uint8_t rm);
    void mem32(uint8_t mod, uint8_t rm);
    void immediate(Imm kind);
    void read_imm(unsigned n)
    {
        in_.imm_size = static_cast<uint8_t>(n);
        uint64_t v = next_le(n);
        if (n < 8) {
            uint64_t sign = 1ull << (n * 8 - 1);
            v = (v ^ sign) - sign;  // sign-extend
        }
        in_.imm = static_cast<int64_t>(v);
    }
    void classify();
    void classify_primary();
    void classify_0f();

    const uint8_t* bytes_;
    size_t avail_;
    bool short_buffer_;
    CpuMode mode_;
    bool m64_;
    size_t pos_ = 0;
    bool failed_ = false;
    bool has_rex_ = false;
    Insn in_;
};

// Legacy prefixes in any order, then (64-bit mode) REX. A REX that is not
// immediately before the opcode (another prefix follows it) is ignored
// (SDM Vol. 2A §2.2.1).
void Decoder::prefixes()
{
    for (;;) {
        uint8_t b = peek();
        if (pos_ >= avail_) return;
        switch (b) {
        case 0xf0: in_.prefixes |= prefix::lock; break;
        case 0xf2: in_.prefixes |= prefix::repne; in_.rep = b; break;
        case 0xf3: in_.prefixes |= prefix::rep; in_.rep = b; break;
        case 0x66: in_.prefixes |= prefix::opsize; break;
        case 0x67: in_.prefixes |= prefix::addrsize; break;
        case 0x26: in_.prefixes |= prefix::seg; in_.seg_override = Seg::es; break;
        case 0x2e: in_.prefixes |= prefix::seg; in_.seg_override = Seg::cs; break;
        case 0x36: in_.prefixes |= prefix::seg; in_.seg_override = Seg::ss; break;
        case 0x3e: in_.prefixes |= prefix::seg; in_.seg_override = Seg::ds; break;
        case 0x64: in_.prefixes |= prefix::seg; in_.seg_override = Seg::fs; break;
        case 0x65: in_.prefixes |= prefix::seg; in_.seg_override = Seg::gs; break;
        default:
            if (m64_ && (b & 0xf0) == 0x40) {
                has_rex_ = true;
                in_.rex = b & 0x0f;
                ++pos_;
                continue;
            }
            return;
        }
        ++pos_;
        has_rex_ = false;  // a legacy prefix after REX cancels it
        in_.rex = 0;
    }
}

// Operand and address size (SDM Vol. 1 §3.6, Vol. 2A §2.2.1.2 and Table 2-4;
// "d64"/"f64" from Vol. 2D §A.2.5).
void Decoder::sizes(uint16_t a)
{
    const bool p66 = in_.has(prefix::opsize);
    const bool p67 = in_.has(prefix::addrsize);
    if (m64_) in_.address_size = p67 ? 4 : 8;
    else if (mode_ == CpuMode::bits32) in_.address_size = p67 ? 2 : 4;
    else in_.address_size = p67 ? 4 : 2;

    if (a & attr::byte) in_.operand_size = 1;
    else if (m64_ && (in_.rex & rex::w)) in_.operand_size = 8;
    // Near branches ("f64") in 64-bit mode: Intel ignores 66 and keeps a
    // 64-bit operand size with a rel32; AMD (APM Vol. 3 §1.2.5 / Table 1-5)
    // honours 66 with a rel16. We follow AMD, as QEMU and binutils do: the
    // decoder's lengths matter where SVM lacks NRIP, and branches never need
    // emulation or an exit-time length on either vendor.
    else if (m64_ && (a & (attr::def64 | attr::force64))) in_.operand_size = p66 ? 2 : 8;
    else if (mode_ == CpuMode::bits16) in_.operand_size = p66 ? 4 : 2;
    else in_.operand_size = p66 ? 2 : 4;
}

// 16-bit addressing forms (SDM Vol. 2A Table 2-1).
void Decoder::mem16(uint8_t mod, uint8_t rm)
{
    constexpr uint8_t bx = uint8_t(Gpr::rbx), bp = uint8_t(Gpr::rbp), si = uint8_t(Gpr::rsi), di = uint8_t(Gpr::rdi);
    constexpr uint8_t base[8] = {bx, bx, bp, bp, si, di, bp, bx};
    constexpr uint8_t index[8] = {si, di, si, di, no_reg, no_reg, no_reg, no_reg};
    MemOperand& m = in_.mem;
    m.base = base[rm];
    m.index = index[rm];
    m.seg = (m.base == bp) ? Seg::ss : Seg::ds;
    if (mod == 0 && rm == 6) {  // disp16, no base
        m.base = no_reg;
        m.seg = Seg::ds;
        in_.disp_size = 2;
    } else if (mod == 1) {
        in_.disp_size = 1;
    } else if (mod == 2) {
        in_.disp_size = 2;
    }
}

// 32/64-bit addressing forms (SDM Vol. 2A Tables 2-2 and 2-3, §2.2.1.3 for
// REX and §2.2.1.6 for RIP-relative addressing).
void Decoder::mem32(uint8_t mod, uint8_t rm)
{
    MemOperand& m = in_.mem;
    const uint8_t rb = (in_.rex & rex::b) ? 8 : 0;
    if (rm == 4) {
        in_.has_sib = true;
        in_.sib = next();
        const uint8_t ss = in_.sib >> 6, idx = (in_.sib >> 3) & 7, b = in_.sib & 7;
        m.scale = static_cast<uint8_t>(1u << ss);
        const uint8_t full_idx = static_cast<uint8_t>(idx | ((in_.rex & rex::x) ? 8 : 0));
        m.index = (full_idx == 4) ? no_reg : full_idx;  // index 100b without REX.X: none
        if (b == 5 && mod == 0) {
            m.base = no_reg;
            in_.disp_size = 4;
        } else {
            m.base = static_cast<uint8_t>(b | rb);
        }
    } else if (rm == 5 && mod == 0) {
        m.base = m64_ ? reg_rip : no_reg;
        in_.disp_size = 4;
    } else {
        m.base = static_cast<uint8_t>(rm | rb);
    }
    if (mod == 1) in_.disp_size = 1;
    else if (mod == 2) in_.disp_size = 4;
    m.seg = (m.base == uint8_t(Gpr::rsp) || m.base == uint8_t(Gpr::rbp)) ? Seg::ss : Seg::ds;
}

void Decoder::modrm(bool mod_is_reg)
{
    in_.has_modrm = true;
    in_.modrm = next();
    const uint8_t mod = in_.modrm >> 6, rm = in_.modrm & 7;
    in_.reg = static_cast<uint8_t>(((in_.modrm >> 3) & 7) | ((in_.rex & rex::r) ? 8 : 0));
    if (mod == 3 || mod_is_reg) {
        in_.rm_is_mem = false;
        in_.rm_reg = static_cast<uint8_t>(rm | ((in_.rex & rex::b) ? 8 : 0));
        return;
    }
    in_.rm_is_mem = true;
    if (in_.address_size == 2) mem16(mod, rm);
    else mem32(mod, rm);
    if (in_.disp_size) {
        uint64_t v = next_le(in_.disp_size);
        uint64_t sign = 1ull << (in_.disp_size * 8 - 1);
        in_.mem.disp = static_cast<int64_t>((v ^ sign) - sign);
    }
    // Segment override: in 64-bit mode only FS and GS take effect (SDM Vol. 1
    // §3.3.7.1 / Vol. 3A §3.4.4).
    if (in_.has(prefix::seg) && (!m64_ || in_.seg_override == Seg::fs || in_.seg_override == Seg::gs))
        in_.mem.seg = in_.seg_override;
}

void Decoder::immediate(Imm kind)
{
    switch (kind) {
    case Imm::none: return;
    case Imm::ib: read_imm(1); return;
    case Imm::iw: read_imm(2); return;
    case Imm::iz: read_imm(in_.operand_size == 2 ? 2 : 4); return;
    case Imm::iv: read_imm(in_.operand_size); return;
    case Imm::grp3:
        if (in_.modrm_reg() < 2) read_imm(in_.operand_size == 1 ? 1 : in_.operand_size == 2 ? 2 : 4);
        return;
    case Imm::iw_ib:
        read_imm(2);
        in_.imm2_size = 1;
        in_.imm2 = next();
        return;
    case Imm::ptr:  // far pointer: offset, then selector
        read_imm(in_.operand_size == 2 ? 2 : 4);
        in_.imm2_size = 2;
        in_.imm2 = static_cast<uint16_t>(next_le(2));
        return;
    case Imm::moffs: {  // an absolute offset of address size (SDM Vol. 2A §2.2.1.4)
        in_.rm_is_mem = true;
        in_.disp_size = in_.address_size;
        in_.mem.base = no_reg;
        in_.mem.disp = static_cast<int64_t>(next_le(in_.address_size));
        in_.mem.seg = Seg::ds;
        if (in_.has(prefix::seg) && (!m64_ || in_.seg_override == Seg::fs || in_.seg_override == Seg::gs))
            in_.mem.seg = in_.seg_override;
        return;
    }
    }
}

// VEX (C4/C5), EVEX (62) and XOP (8F): the escape and its payload replace the
// REX and mandatory prefixes (SDM Vol. 2A §2.3 and §2.7; AMD APM Vol. 3 §1.8
// for XOP). Only the length and the addressing operand are decoded.
lib::Status Decoder::vex_like(uint8_t escape)
{
    // Any of 66/F2/F3/REX/LOCK before VEX or EVEX is #UD (SDM Vol. 2A §2.3.2).
    if (has_rex_ || in_.has(prefix::opsize | prefix::rep | prefix::repne | prefix::lock))
        return lib::err(lib::Error::invalid);
    in_.op = Op::vex;
    in_.map = OpcodeMap::vex;
    uint8_t map = 1;
    uint8_t inv_rxb = 0xe0;  // R X B stored inverted in bits 7:5
    bool w = false;
    if (escape == 0xc5) {
        in_.prefixes |= prefix::vex;
        uint8_t p1 = next();
        inv_rxb = static_cast<uint8_t>((p1 & 0x80) | 0x60);
    } else if (escape == 0xc4) {
        in_.prefixes |= prefix::vex;
        uint8_t p1 = next(), p2 = next();
        inv_rxb = p1 & 0xe0;
        map = p1 & 0x1f;
        w = p2 & 0x80;
        if (map < 1 || map > 3) return failed_ ? lib::err(length_error()) : lib::err(lib::Error::invalid);
    } else if (escape == 0x62) {
        in_.prefixes |= prefix::evex;
        uint8_t p0 = next(), p1 = next();
        next();  // P2: z L'L b V' aaa
        inv_rxb = p0 & 0xe0;
        map = p0 & 0x07;
        w = p1 & 0x80;
        if (failed_) return lib::err(length_error());
        // P1 bit 2 is fixed to 1; maps 1, 2, 3, 5, 6 are defined.
        if (!(p1 & 0x04) || map == 0 || map == 4 || map == 7) return lib::err(lib::Error::invalid);
    } else {  // 0x8F: XOP
        in_.prefixes |= prefix::xop;
        uint8_t p1 = next(), p2 = next();
        inv_rxb = p1 & 0xe0;
        map = p1 & 0x1f;
        w = p2 & 0x80;
        if (failed_) return lib::err(length_error());
        if (map < 8 || map > 10) return lib::err(lib::Error::invalid);
    }
    if (m64_) {
        in_.rex = static_cast<uint8_t>((~inv_rxb >> 5) & 7);  // bit 7 R, 6 X, 5 B
        in_.rex = static_cast<uint8_t>(((in_.rex & 4) ? rex::r : 0) | ((in_.rex & 2) ? rex::x : 0) |
                                       ((in_.rex & 1) ? rex::b : 0) | (w ? rex::w : 0));
    }
    in_.opcode = next();
    sizes(0);
    bool has_modrm = !(escape == 0xc5 || escape == 0xc4) || !(map == 1 && in_.opcode == 0x77);  // VZEROUPPER/ALL
    if (has_modrm) modrm(false);
    unsigned imm = 0;
    if (escape == 0x8f) imm = map == 8 ? 1 : map == 10 ? 4 : 0;
    else if (map == 3) imm = 1;
    else if (map == 1) {
        uint8_t o = in_.opcode;
        if ((o >= 0x70 && o <= 0x73) || o == 0xc2 || o == 0xc4 || o == 0xc5 || o == 0xc6) imm = 1;
    }
    if (imm) read_imm(imm);
    return {};
}

lib::Status Decoder::opcode()
{
    uint8_t b = next();
    if (failed_) return lib::err(length_error());
    if (b == 0x0f) {
        uint8_t b2 = next();
        if (b2 == 0x38 || b2 == 0x3a) {
            in_.map = b2 == 0x38 ? OpcodeMap::map0f38 : OpcodeMap::map0f3a;
            in_.opcode = next();
            sizes(0);
            modrm(false);
            if (b2 == 0x3a) read_imm(1);
            return {};
        }
        if (b2 == 0x0f) {  // 3DNow!: 0F 0F ModRM [SIB] [disp] imm8-opcode
            in_.map = OpcodeMap::amd3dnow;
            sizes(0);
            modrm(false);
            in_.opcode = next();
            return {};
        }
        in_.map = OpcodeMap::map0f;
        in_.opcode = b2;
        uint16_t a = detail::map0f_table.a[b2];
        if (failed_) return lib::err(length_error());
        if (a & attr::undef) return lib::err(lib::Error::invalid);
        if (b2 == 0xb8 && in_.rep != 0xf3) return lib::err(lib::Error::invalid);  // JMPE: not on x86-64 CPUs
        sizes(a);
        if (b2 >= 0x20 && b2 <= 0x23) {
            // MOV to/from CRn/DRn: ModRM.mod is ignored, always a register
            // operand (SDM Vol. 2B "MOV—Move to/from Control Registers"). The
            // operand size is fixed: 64 bits in 64-bit mode, 32 otherwise.
            in_.operand_size = m64_ ? 8 : 4;
            modrm(true);
            return {};
        }
        if (a & attr::modrm) modrm(false);
        immediate(detail::imm_of(a));
        // SSE4a EXTRQ/INSERTQ with immediates: 66/F2 0F 78 /r ib ib (AMD APM Vol. 4).
        if (b2 == 0x78 && (in_.has(prefix::opsize) || in_.rep == 0xf2)) {
            read_imm(1);
            in_.imm2_size = 1;
            in_.imm2 = next();
        }
        return {};
    }
    // VEX/EVEX in 16/32-bit mode overlay LES/LDS/BOUND: they are VEX/EVEX
    // only when the next byte's top two bits are 11b (a register ModRM for the
    // legacy instruction). XOP overlays POP Ev when the map field is >= 8.
    if (b == 0xc4 || b == 0xc5 || b == 0x62) {
        if (pos_ >= avail_) return lib::err(length_error());
        if (m64_ || (peek() & 0xc0) == 0xc0) return vex_like(b);
    }
    if (b == 0x8f) {
        if (pos_ >= avail_) return lib::err(length_error());
        if ((peek() & 0x1f) >= 8) return vex_like(b);
    }
    in_.map = OpcodeMap::primary;
    in_.opcode = b;
    uint16_t a = detail::primary_table.a[b];
    if (m64_ && (a & attr::inv64)) return lib::err(lib::Error::invalid);
    sizes(a);
    if (a & attr::modrm) modrm(false);
    if (b == 0xff && in_.has_modrm && m64_) {
        // FF /2 CALL and /4 JMP near are f64, /6 PUSH is d64.
        uint8_t r = in_.modrm_reg();
        if ((r == 2 || r == 4) && !(in_.rex & rex::w)) in_.operand_size = 8;
        if (r == 6 && !(in_.rex & rex::w)) in_.operand_size = in_.has(prefix::opsize) ? 2 : 8;
    }
    if ((b >= 0xb0 && b <= 0xbf) || (b >= 0x50 && b <= 0x5f) || (b >= 0x91 && b <= 0x97)) {
        // "+r" forms: the register is in the opcode's low bits, extended by REX.B.
        in_.reg = static_cast<uint8_t>((b & 7) | ((in_.rex & rex::b) ? 8 : 0));
    }
    immediate(detail::imm_of(a));
    return {};
}

void Decoder::classify_primary()
{
    const uint8_t b = in_.opcode;
    const uint8_t r = in_.modrm_reg();
    if (b < 0x40 && (b & 7) < 6) {
        in_.op = alu_ops[b >> 3];
        return;
    }
    switch (b) {
    case 0x63: in_.op = m64_ ? Op::movsxd : Op::other; return;  // ARPL outside 64-bit mode
    case 0x6c: case 0x6d: in_.op = Op::ins; return;
    case 0x6e: case 0x6f: in_.op = Op::outs; return;
    case 0x80: case 0x81: case 0x82: case 0x83: in_.op = alu_ops[r]; return;
    case 0x84: case 0x85: case 0xa8: case 0xa9: in_.op = Op::test; return;
    case 0x86: case 0x87: in_.op = Op::xchg; return;
    case 0x88: case 0x89: case 0x8a: case 0x8b: in_.op = Op::mov; return;
    case 0x90:
        if (in_.rex & rex::b) in_.op = Op::xchg;  // XCHG r8, rAX
        else in_.op = (in_.rep == 0xf3) ? Op::pause : Op::nop;
        return;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: in_.op = Op::mov; return;
    case 0xa4: case 0xa5: in_.op = Op::movs; return;
    case 0xa6: case 0xa7: in_.op = Op::cmps; return;
    case 0xaa: case 0xab: in_.op = Op::stos; return;
    case 0xac: case 0xad: in_.op = Op::lods; return;
    case 0xae: case 0xaf: in_.op = Op::scas; return;
    case 0xc6: case 0xc7: in_.op = (r == 0) ? Op::mov : Op::other; return;  // /7 XABORT, XBEGIN
    case 0xcc: in_.op = Op::int3; return;
    case 0xcd: in_.op = Op::int_n; return;
    case 0xce: in_.op = Op::into; return;
    case 0xcf: in_.op = Op::iret; return;
    case 0xe4: case 0xe5: case 0xec: case 0xed: in_.op = Op::in; return;
    case 0xe6: case 0xe7: case 0xee: case 0xef: in_.op = Op::out; return;
    case 0xf1: in_.op = Op::int1; return;
    case 0xf4: in_.op = Op::hlt; return;
    case 0xf6: case 0xf7: in_.op = (r < 2) ? Op::test : Op::other; return;  // /1 is an alias of TEST
    default: break;
    }
    if (b >= 0x91 && b <= 0x97) in_.op = Op::xchg;
    else if (b >= 0xb0 && b <= 0xbf) in_.op = Op::mov;
}

void Decoder::classify_0f()
{
    const uint8_t b = in_.opcode;
    const uint8_t r = in_.modrm_reg();
    const bool regform = in_.modrm_mod() == 3;
    switch (b) {
    case 0x00: {  // Group 6
        constexpr Op g6[8] = {Op::sldt, Op::str, Op::lldt, Op::ltr, Op::other, Op::other, Op::other, Op::other};
        in_.op = g6[r];
        return;
    }
    case 0x01:  // Group 7 (SDM Vol. 2D Table A-6; AMD APM Vol. 3 Table A-7)
        if (!regform) {
            constexpr Op g7[8] = {Op::sgdt, Op::sidt, Op::lgdt, Op::lidt, Op::smsw, Op::other, Op::lmsw, Op::invlpg};
            in_.op = g7[r];
            return;
        }
        if (r == 4) { in_.op = Op::smsw; return; }
        if (r == 6) { in_.op = Op::lmsw; return; }
        switch (in_.modrm) {
        case 0xc1: in_.op = Op::vmcall; return;
        case 0xc2: in_.op = Op::vmlaunch; return;
        case 0xc3: in_.op = Op::vmresume; return;
        case 0xc4: in_.op = Op::vmxoff; return;
        case 0xc8: in_.op = Op::monitor; return;
        case 0xc9: in_.op = Op::mwait; return;
        case 0xd0: in_.op = Op::xgetbv; return;
        case 0xd1: in_.op = Op::xsetbv; return;
        case 0xd8: in_.op = Op::vmrun; return;
        case 0xd9: in_.op = Op::vmmcall; return;
        case 0xda: in_.op = Op::vmload; return;
        case 0xdb: in_.op = Op::vmsave; return;
        case 0xdc: in_.op = Op::stgi; return;
        case 0xdd: in_.op = Op::clgi; return;
        case 0xde: in_.op = Op::skinit; return;
        case 0xdf: in_.op = Op::invlpga; return;
        case 0xf8: in_.op = Op::swapgs; return;
        case 0xf9: in_.op = Op::rdtscp; return;
        default: return;
        }
    case 0x05: in_.op = Op::syscall; return;
    case 0x06: in_.op = Op::clts; return;
    case 0x07: in_.op = Op::sysret; return;
    case 0x08: in_.op = Op::invd; return;
    case 0x09: in_.op = Op::wbinvd; return;
    case 0x0b: in_.op = Op::ud2; return;
    case 0x1f: in_.op = Op::nop; return;
    case 0x20: in_.op = Op::mov_from_cr; return;
    case 0x21: in_.op = Op::mov_from_dr; return;
    case 0x22: in_.op = Op::mov_to_cr; return;
    case 0x23: in_.op = Op::mov_to_dr; return;
    case 0x30: in_.op = Op::wrmsr; return;
    case 0x31: in_.op = Op::rdtsc; return;
    case 0x32: in_.op = Op::rdmsr; return;
    case 0x33: in_.op = Op::rdpmc; return;
    case 0x34: in_.op = Op::sysenter; return;
    case 0x35: in_.op = Op::sysexit; return;
    case 0xa2: in_.op = Op::cpuid; return;
    case 0xa3: in_.op = Op::bt; return;
    case 0xab: in_.op = Op::bts; return;
    case 0xb3: in_.op = Op::btr; return;
    case 0xbb: in_.op = Op::btc; return;
    case 0xba: {  // Group 8
        constexpr Op g8[8] = {Op::other, Op::other, Op::other, Op::other, Op::bt, Op::bts, Op::btr, Op::btc};
        in_.op = g8[r];
        return;
    }
    case 0xb6: case 0xb7: in_.op = Op::movzx; return;
    case 0xbe: case 0xbf: in_.op = Op::movsx; return;
    default: return;
    }
}

void Decoder::classify()
{
    if (in_.map == OpcodeMap::primary) classify_primary();
    else if (in_.map == OpcodeMap::map0f) classify_0f();
}

lib::Result<Insn> Decoder::run()
{
    prefixes();
    if (has_rex_) in_.prefixes |= prefix::rex;
    lib::Status st = opcode();
    if (failed_) return lib::err(length_error());
    if (!st) return lib::err(st.error());
    if (in_.map != OpcodeMap::vex) classify();
    in_.length = static_cast<uint8_t>(pos_);
    return in_;
}

}  // namespace

lib::Result<Insn> decode(const uint8_t* bytes, size_t len, CpuMode mode)
{
    if (!bytes || len == 0) return lib::err(lib::Error::truncated);
    Decoder d(bytes, len, mode);
    return d.run();
}

const char* op_name(Op op)
{
    switch (op) {
    case Op::other: return "other";
    case Op::mov: return "mov";
    case Op::movzx: return "movzx";
    case Op::movsx: return "movsx";
    case Op::movsxd: return "movsxd";
    case Op::movs: return "movs";
    case Op::stos: return "stos";
    case Op::add: return "add";
    case Op::or_: return "or";
    case Op::adc: return "adc";
    case Op::sbb: return "sbb";
    case Op::and_: return "and";
    case Op::sub: return "sub";
    case Op::xor_: return "xor";
    case Op::cmp: return "cmp";
    case Op::test: return "test";
    case Op::xchg: return "xchg";
    case Op::bt: return "bt";
    case Op::lods: return "lods";
    case Op::cmps: return "cmps";
    case Op::scas: return "scas";
    case Op::bts: return "bts";
    case Op::btr: return "btr";
    case Op::btc: return "btc";
    case Op::cpuid: return "cpuid";
    case Op::rdmsr: return "rdmsr";
    case Op::wrmsr: return "wrmsr";
    case Op::rdtsc: return "rdtsc";
    case Op::rdtscp: return "rdtscp";
    case Op::rdpmc: return "rdpmc";
    case Op::hlt: return "hlt";
    case Op::pause: return "pause";
    case Op::nop: return "nop";
    case Op::in: return "in";
    case Op::out: return "out";
    case Op::ins: return "ins";
    case Op::outs: return "outs";
    case Op::vmcall: return "vmcall";
    case Op::vmmcall: return "vmmcall";
    case Op::vmlaunch: return "vmlaunch";
    case Op::vmresume: return "vmresume";
    case Op::vmxoff: return "vmxoff";
    case Op::vmrun: return "vmrun";
    case Op::vmload: return "vmload";
    case Op::vmsave: return "vmsave";
    case Op::stgi: return "stgi";
    case Op::clgi: return "clgi";
    case Op::skinit: return "skinit";
    case Op::invlpga: return "invlpga";
    case Op::xgetbv: return "xgetbv";
    case Op::xsetbv: return "xsetbv";
    case Op::monitor: return "monitor";
    case Op::mwait: return "mwait";
    case Op::swapgs: return "swapgs";
    case Op::mov_from_cr: return "mov from cr";
    case Op::mov_to_cr: return "mov to cr";
    case Op::mov_from_dr: return "mov from dr";
    case Op::mov_to_dr: return "mov to dr";
    case Op::clts: return "clts";
    case Op::lmsw: return "lmsw";
    case Op::smsw: return "smsw";
    case Op::invlpg: return "invlpg";
    case Op::invd: return "invd";
    case Op::wbinvd: return "wbinvd";
    case Op::lgdt: return "lgdt";
    case Op::lidt: return "lidt";
    case Op::sgdt: return "sgdt";
    case Op::sidt: return "sidt";
    case Op::lldt: return "lldt";
    case Op::ltr: return "ltr";
    case Op::sldt: return "sldt";
    case Op::str: return "str";
    case Op::int3: return "int3";
    case Op::int_n: return "int";
    case Op::into: return "into";
    case Op::int1: return "int1";
    case Op::iret: return "iret";
    case Op::ud2: return "ud2";
    case Op::syscall: return "syscall";
    case Op::sysret: return "sysret";
    case Op::sysenter: return "sysenter";
    case Op::sysexit: return "sysexit";
    case Op::vex: return "vex";
    }
    return "?";
}

}  // namespace hv::x86
