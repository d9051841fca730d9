// MMIO emulator. See mmio_emulator.hpp for what is emulated and the memory
// model; instruction semantics per SDM Vol. 2 (MOV, MOVZX, MOVSX/MOVSXD, XCHG,
// ADD/ADC/SUB/SBB/CMP/AND/OR/XOR/TEST, BT/BTS/BTR/BTC, MOVS, STOS, LODS) and
// the LOCK rules of Vol. 2A §2.1.1 / the LOCK instruction page.
#include "hv/x86/mmio_emulator.hpp"

#include "hv/x86/address.hpp"
#include "hv/x86/flags.hpp"

namespace hv::x86 {

namespace {

constexpr uint64_t page_size = 4096;

// ---- registers --------------------------------------------------------------

// Byte registers 4-7 are AH CH DH BH without a REX prefix and SPL BPL SIL DIL
// with one (SDM Vol. 2A §2.2.1.2, Table 3-1).
uint64_t get_reg(const Regs& r, uint8_t reg, unsigned size, bool rex_present)
{
    if (size == 1 && !rex_present && reg >= 4 && reg < 8) return (r.gpr[reg - 4] >> 8) & 0xff;
    return r.gpr[reg & 15] & size_mask(size);
}

// 32-bit writes zero-extend into the full register; 8- and 16-bit writes
// leave the rest alone (SDM Vol. 1 §3.4.1.1).
void set_reg(Regs& r, uint8_t reg, unsigned size, bool rex_present, uint64_t v)
{
    if (size == 1 && !rex_present && reg >= 4 && reg < 8) {
        uint64_t& g = r.gpr[reg - 4];
        g = (g & ~0xff00ull) | ((v & 0xff) << 8);
        return;
    }
    uint64_t& g = r.gpr[reg & 15];
    if (size == 4) g = v & 0xffffffffull;
    else if (size == 8) g = v;
    else g = (g & ~size_mask(size)) | (v & size_mask(size));
}

// rSI/rDI/rCX arithmetic at the address size: a 32-bit update zero-extends,
// a 16-bit one keeps the upper bits.
void add_at_size(uint64_t& reg, int64_t delta, unsigned asz)
{
    const uint64_t v = reg + static_cast<uint64_t>(delta);
    if (asz == 8) reg = v;
    else if (asz == 4) reg = v & 0xffffffffull;
    else reg = (reg & ~0xffffull) | (v & 0xffff);
}

void advance_rip(const Insn& in, Regs& r) { r.rip = (r.rip + in.length) & ip_mask(r.mode); }

// ---- the emulator -----------------------------------------------------------

class Emulator {
public:
    Emulator(const Insn& in, Regs& regs, const MmioEnv& env)
        : in_(in), r_(regs), env_(env), rex_(in.has(prefix::rex)), lock_(in.has(prefix::lock))
    {
    }

    EmuStatus run();

private:
    EmuStatus primary();
    EmuStatus map0f();
    EmuStatus alu_mem(unsigned op, unsigned size, bool mem_is_dest, uint64_t other);
    EmuStatus bit_test(Op op, unsigned size);
    EmuStatus string_op();

    // Device access for the instruction's ModRM/moffs memory operand, `extra`
    // bytes past its effective address (BT with a register bit offset).
    EmuResult<uint64_t> operand_gpa(unsigned size, int64_t extra = 0) const
    {
        if (!in_.rm_is_mem) return unsupported_fault();  // register operands never reach MMIO
        const uint64_t ea = (effective_address(in_, r_) + static_cast<uint64_t>(extra)) & size_mask(in_.address_size);
        const uint64_t la = linear_address(r_, in_.mem.seg, ea);
        const uint64_t off = la & (page_size - 1);
        if (off + size > page_size) return unsupported_fault();  // straddles the MMIO page
        return (env_.gpa & ~(page_size - 1)) | off;
    }
    EmuResult<uint64_t> bus_read(uint64_t gpa, unsigned size) const
    {
        if (!env_.bus.read) return bus_fault(gpa);
        auto v = env_.bus.read(env_.bus.ctx, gpa, static_cast<uint8_t>(size));
        if (!v) return bus_fault(gpa);
        return *v & size_mask(size);
    }
    EmuStatus bus_write(uint64_t gpa, unsigned size, uint64_t value) const
    {
        if (!env_.bus.write || !env_.bus.write(env_.bus.ctx, gpa, static_cast<uint8_t>(size), value & size_mask(size)))
            return bus_fault(gpa);
        return {};
    }
    EmuResult<uint64_t> read_operand(unsigned size, int64_t extra = 0) const
    {
        const uint64_t gpa = TRY(operand_gpa(size, extra));
        return bus_read(gpa, size);
    }
    EmuStatus write_operand(unsigned size, uint64_t v, int64_t extra = 0) const
    {
        const uint64_t gpa = TRY(operand_gpa(size, extra));
        return bus_write(gpa, size, v);
    }

    // String-instruction element addressing (RAM or device, found per element).
    struct Place {
        uint64_t la = 0;
        uint64_t gpa[2] = {};  // gpa[1]: the part in the next page, if the element straddles
        unsigned first = 0;    // bytes in the first page
    };
    EmuResult<Place> resolve(Seg seg, uint64_t offset, unsigned size, bool write) const;
    EmuResult<uint64_t> load(const Place& p, unsigned size) const;
    EmuStatus store(const Place& p, unsigned size, uint64_t v) const;

    const Insn& in_;
    Regs& r_;
    const MmioEnv& env_;
    bool rex_;
    bool lock_;
};

// op: the group-1 index (ADD OR ADC SBB AND SUB XOR CMP).
AluResult alu(unsigned op, uint64_t a, uint64_t b, bool cf, unsigned size)
{
    switch (op & 7) {
    case 0: return alu_add(a, b, false, size);
    case 1: return alu_logic(a | b, size);
    case 2: return alu_add(a, b, cf, size);
    case 3: return alu_sub(a, b, cf, size);
    case 4: return alu_logic(a & b, size);
    case 5: return alu_sub(a, b, false, size);
    case 6: return alu_logic(a ^ b, size);
    default: return alu_sub(a, b, false, size);  // CMP
    }
}

// ALU with a memory operand: mem_is_dest: mem = mem op other; otherwise
// reg(ModRM.reg) = reg op mem. CMP writes nothing but flags.
EmuStatus Emulator::alu_mem(unsigned op, unsigned size, bool mem_is_dest, uint64_t other)
{
    const bool is_cmp = op == 7;
    if (lock_ && (!mem_is_dest || is_cmp)) return unsupported_fault();  // #UD
    const uint64_t m = TRY(read_operand(size));
    const bool cf = (r_.rflags & rflags::cf) != 0;
    if (mem_is_dest) {
        const AluResult res = alu(op, m, other, cf, size);
        if (!is_cmp) TRY(write_operand(size, res.value));
        r_.rflags = merge_arith_flags(r_.rflags, res.flags);
    } else {
        const AluResult res = alu(op, get_reg(r_, in_.reg, size, rex_), m, cf, size);
        if (!is_cmp) set_reg(r_, in_.reg, size, rex_, res.value);
        r_.rflags = merge_arith_flags(r_.rflags, res.flags);
    }
    advance_rip(in_, r_);
    return {};
}

// BT/BTS/BTR/BTC (SDM Vol. 2A "BT—Bit Test"): CF = the selected bit; the
// other status flags are left unchanged (OF/SF/AF/PF are undefined, ZF is
// unaffected on current processors). A register bit offset is a signed
// integer that may select a bit outside the addressed operand: the access
// moves by (offset SAR log2(bits)) operands.
EmuStatus Emulator::bit_test(Op op, unsigned size)
{
    if (size == 1) return unsupported_fault();
    if (lock_ && op == Op::bt) return unsupported_fault();  // LOCK BT is #UD
    const unsigned bits = size * 8;
    const unsigned log2 = size == 2 ? 4 : size == 4 ? 5 : 6;
    int64_t extra = 0;
    unsigned bit;
    if (in_.opcode == 0xba) {
        bit = static_cast<unsigned>(in_.imm_unsigned()) & (bits - 1);
    } else {
        const int64_t off = static_cast<int64_t>(sign_extend(get_reg(r_, in_.reg, size, rex_), size));
        extra = (off >> log2) * static_cast<int64_t>(size);
        bit = static_cast<unsigned>(off) & (bits - 1);
    }
    const uint64_t v = TRY(read_operand(size, extra));
    const bool set = (v >> bit) & 1;
    uint64_t nv = v;
    if (op == Op::bts) nv |= 1ull << bit;
    else if (op == Op::btr) nv &= ~(1ull << bit);
    else if (op == Op::btc) nv ^= 1ull << bit;
    if (op != Op::bt) TRY(write_operand(size, nv, extra));
    r_.rflags = set ? (r_.rflags | rflags::cf) : (r_.rflags & ~rflags::cf);
    advance_rip(in_, r_);
    return {};
}

auto Emulator::resolve(Seg seg, uint64_t offset, unsigned size, bool write) const -> EmuResult<Place>
{
    Place p;
    p.la = linear_address(r_, seg, offset & size_mask(in_.address_size));
    const Access acc{.write = write, .user = r_.cpl == 3, .fetch = false, .ac = (r_.rflags & rflags::ac) != 0};
    const Translation t0 = TRY(translate(env_.paging, env_.ram, p.la, acc));
    p.gpa[0] = t0.gpa;
    const uint64_t room = page_size - (p.la & (page_size - 1));
    p.first = size <= room ? size : static_cast<unsigned>(room);
    if (p.first < size) {
        uint64_t next = p.la + p.first;
        if (r_.mode != CpuMode::bits64) next &= 0xffffffffull;
        const Translation t1 = TRY(translate(env_.paging, env_.ram, next, acc));
        p.gpa[1] = t1.gpa;
    }
    return p;
}

EmuResult<uint64_t> Emulator::load(const Place& p, unsigned size) const
{
    uint64_t v = 0;
    auto* bytes = reinterpret_cast<uint8_t*>(&v);
    if (!env_.ram.read) return bus_fault(p.la);
    lib::Status s = env_.ram.read(env_.ram.ctx, p.gpa[0], bytes, p.first);
    if (!s && s.error() == lib::Error::not_found) {
        if (p.first < size) return unsupported_fault();  // device access straddling pages
        return bus_read(p.gpa[0], size);
    }
    if (!s) return bus_fault(p.la);
    if (p.first < size) {
        lib::Status s2 = env_.ram.read(env_.ram.ctx, p.gpa[1], bytes + p.first, size - p.first);
        if (!s2) return s2.error() == lib::Error::not_found ? unsupported_fault() : bus_fault(p.la);
    }
    return v;
}

EmuStatus Emulator::store(const Place& p, unsigned size, uint64_t v) const
{
    v &= size_mask(size);
    const auto* bytes = reinterpret_cast<const uint8_t*>(&v);
    if (!env_.ram.write) return bus_fault(p.la);
    lib::Status s = env_.ram.write(env_.ram.ctx, p.gpa[0], bytes, p.first);
    if (!s && s.error() == lib::Error::not_found) {
        if (p.first < size) return unsupported_fault();
        return bus_write(p.gpa[0], size, v);
    }
    if (!s) return bus_fault(p.la);
    if (p.first < size) {
        lib::Status s2 = env_.ram.write(env_.ram.ctx, p.gpa[1], bytes + p.first, size - p.first);
        if (!s2) return s2.error() == lib::Error::not_found ? unsupported_fault() : bus_fault(p.la);
    }
    return {};
}

// MOVS, STOS, LODS with optional REP (SDM Vol. 2B "MOVS", "STOS", "LODS",
// "REP/REPE/REPZ/REPNE/REPNZ"). The source segment is DS unless overridden;
// the destination is always ES.
EmuStatus Emulator::string_op()
{
    if (lock_) return unsupported_fault();
    const unsigned size = (in_.opcode & 1) ? in_.operand_size : 1;
    const unsigned asz = in_.address_size;
    const bool rep = in_.rep != 0;
    Seg src_seg = Seg::ds;
    if (in_.has(prefix::seg)) src_seg = in_.seg_override;
    const int64_t step = (r_.rflags & rflags::df) ? -static_cast<int64_t>(size) : static_cast<int64_t>(size);
    uint64_t& rsi = r_.gpr[unsigned(Gpr::rsi)];
    uint64_t& rdi = r_.gpr[unsigned(Gpr::rdi)];
    uint64_t& rcx = r_.gpr[unsigned(Gpr::rcx)];

    uint64_t count = rep ? (rcx & size_mask(asz)) : 1;
    const uint32_t limit = env_.max_iterations ? env_.max_iterations : 1;
    for (uint32_t done = 0; count != 0 && done < limit; ++done) {
        switch (in_.op) {
        case Op::movs: {
            const Place src = TRY(resolve(src_seg, rsi, size, false));
            const Place dst = TRY(resolve(Seg::es, rdi, size, true));
            const uint64_t v = TRY(load(src, size));
            TRY(store(dst, size, v));
            add_at_size(rsi, step, asz);
            add_at_size(rdi, step, asz);
            break;
        }
        case Op::stos: {
            const Place dst = TRY(resolve(Seg::es, rdi, size, true));
            TRY(store(dst, size, r_.gpr[unsigned(Gpr::rax)]));
            add_at_size(rdi, step, asz);
            break;
        }
        default: {  // LODS
            const Place src = TRY(resolve(src_seg, rsi, size, false));
            const uint64_t v = TRY(load(src, size));
            set_reg(r_, uint8_t(Gpr::rax), size, true, v);
            add_at_size(rsi, step, asz);
            break;
        }
        }
        --count;
        if (rep) add_at_size(rcx, -1, asz);
    }
    if (count == 0) advance_rip(in_, r_);
    return {};
}

EmuStatus Emulator::primary()
{
    const uint8_t b = in_.opcode;
    const unsigned osz = in_.operand_size;
    if (b < 0x40 && (b & 7) < 4) {  // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev
        const unsigned size = (b & 1) ? osz : 1;
        const bool mem_is_dest = (b & 2) == 0;
        return alu_mem(b >> 3, size, mem_is_dest, get_reg(r_, in_.reg, size, rex_));
    }
    switch (b) {
    case 0x80: case 0x81: case 0x82: case 0x83: {  // group 1 Eb,Ib / Ev,Iz / Ev,Ib
        const unsigned size = (b == 0x80 || b == 0x82) ? 1 : osz;
        return alu_mem(in_.modrm_reg(), size, true, static_cast<uint64_t>(in_.imm));
    }
    case 0x84: case 0x85: case 0xf6: case 0xf7: {  // TEST Ev,Gv / Ev,Iz
        if (lock_) return unsupported_fault();
        const unsigned size = (b & 1) ? osz : 1;
        if (b >= 0xf6 && in_.modrm_reg() > 1) return unsupported_fault();
        const uint64_t other = b >= 0xf6 ? static_cast<uint64_t>(in_.imm) : get_reg(r_, in_.reg, size, rex_);
        const uint64_t m = TRY(read_operand(size));
        r_.rflags = merge_arith_flags(r_.rflags, alu_logic(m & other, size).flags);
        advance_rip(in_, r_);
        return {};
    }
    case 0x86: case 0x87: {  // XCHG Ev,Gv (implicitly locked)
        const unsigned size = (b & 1) ? osz : 1;
        const uint64_t m = TRY(read_operand(size));
        TRY(write_operand(size, get_reg(r_, in_.reg, size, rex_)));
        set_reg(r_, in_.reg, size, rex_, m);
        advance_rip(in_, r_);
        return {};
    }
    case 0x88: case 0x89: case 0x8a: case 0x8b: {
        if (lock_) return unsupported_fault();
        const unsigned size = (b & 1) ? osz : 1;
        if (b < 0x8a) {
            TRY(write_operand(size, get_reg(r_, in_.reg, size, rex_)));
        } else {
            const uint64_t m = TRY(read_operand(size));
            set_reg(r_, in_.reg, size, rex_, m);
        }
        advance_rip(in_, r_);
        return {};
    }
    case 0xc6: case 0xc7: {  // MOV Eb,Ib / Ev,Iz (/0 only)
        if (lock_ || in_.modrm_reg() != 0) return unsupported_fault();
        const unsigned size = (b & 1) ? osz : 1;
        TRY(write_operand(size, static_cast<uint64_t>(in_.imm)));
        advance_rip(in_, r_);
        return {};
    }
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {  // MOV AL/rAX <-> moffs
        if (lock_) return unsupported_fault();
        const unsigned size = (b & 1) ? osz : 1;
        if (b < 0xa2) {
            const uint64_t m = TRY(read_operand(size));
            set_reg(r_, uint8_t(Gpr::rax), size, true, m);
        } else {
            TRY(write_operand(size, r_.gpr[unsigned(Gpr::rax)]));
        }
        advance_rip(in_, r_);
        return {};
    }
    case 0x63: {  // MOVSXD Gv, Ed (64-bit mode; SDM Vol. 2B "MOVSX/MOVSXD")
        if (lock_ || r_.mode != CpuMode::bits64 || in_.op != Op::movsxd) return unsupported_fault();
        const unsigned src = osz == 8 ? 4 : osz;
        const uint64_t m = TRY(read_operand(src));
        set_reg(r_, in_.reg, osz, rex_, osz == 8 ? sign_extend(m, 4) : m);
        advance_rip(in_, r_);
        return {};
    }
    case 0xa4: case 0xa5: case 0xaa: case 0xab: case 0xac: case 0xad:
        return string_op();
    default:
        return unsupported_fault();
    }
}

EmuStatus Emulator::map0f()
{
    const uint8_t b = in_.opcode;
    switch (b) {
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {  // MOVZX / MOVSX Gv, Eb/Ew
        if (lock_) return unsupported_fault();
        const unsigned src = (b & 1) ? 2 : 1;
        const uint64_t m = TRY(read_operand(src));
        set_reg(r_, in_.reg, in_.operand_size, rex_, b >= 0xbe ? sign_extend(m, src) : m);
        advance_rip(in_, r_);
        return {};
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba:
        if (in_.op != Op::bt && in_.op != Op::bts && in_.op != Op::btr && in_.op != Op::btc)
            return unsupported_fault();
        return bit_test(in_.op, in_.operand_size);
    default:
        return unsupported_fault();
    }
}

EmuStatus Emulator::run()
{
    if (in_.length == 0 || in_.operand_size == 0) return unsupported_fault();
    if (in_.map == OpcodeMap::primary) return primary();
    if (in_.map == OpcodeMap::map0f) return map0f();
    return unsupported_fault();
}

}  // namespace

EmuStatus emulate_mmio(const Insn& insn, Regs& regs, const MmioEnv& env)
{
    Emulator e(insn, regs, env);
    return e.run();
}

}  // namespace hv::x86
