// Instruction decoder tests: lengths of ~580 encodings produced by GNU as and
// re-split by objdump (decoder_vectors.inc), then operands, prefixes, sizes
// and error cases written from the SDM (Vol. 2A chapter 2, Vol. 2D App. A).
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "hv/x86/address.hpp"
#include "hv/x86/decoder.hpp"

using namespace hv::x86;

namespace {

struct Vector {
    CpuMode mode;
    uint8_t length;
    uint8_t bytes[15];
    const char* text;
};

const Vector vectors[] = {
#include "decoder_vectors.inc"
};

// Decodes from a heap buffer of exactly the given bytes, so that ASan flags
// any read past them.
lib::Result<Insn> dec(std::initializer_list<uint8_t> bytes, CpuMode mode = CpuMode::bits64)
{
    std::vector<uint8_t> v(bytes);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[v.size()]);
    for (size_t i = 0; i < v.size(); ++i) buf[i] = v[i];
    return decode(buf.get(), v.size(), mode);
}

Insn ok(std::initializer_list<uint8_t> bytes, CpuMode mode = CpuMode::bits64)
{
    auto r = dec(bytes, mode);
    EXPECT_TRUE(r.ok()) << "error " << lib::error_name(r.error());
    return r.ok() ? r.value() : Insn{};
}

constexpr uint8_t R(Gpr g) { return static_cast<uint8_t>(g); }

}  // namespace

TEST(DecoderVectors, LengthsMatchGnuAsAndObjdump)
{
    size_t n = 0;
    for (const Vector& v : vectors) {
        std::unique_ptr<uint8_t[]> exact(new uint8_t[v.length]);
        for (unsigned i = 0; i < v.length; ++i) exact[i] = v.bytes[i];
        auto r = decode(exact.get(), v.length, v.mode);
        ASSERT_TRUE(r.ok()) << v.text << ": " << lib::error_name(r.error());
        EXPECT_EQ(r->length, v.length) << v.text;
        // One byte short is always "truncated", never a shorter instruction.
        auto s = decode(exact.get(), v.length - 1u, v.mode);
        EXPECT_EQ(s.error(), lib::Error::truncated) << v.text;
        // Trailing bytes do not change the length.
        uint8_t padded[15 + 15];
        for (unsigned i = 0; i < sizeof padded; ++i) padded[i] = i < v.length ? v.bytes[i] : 0x66;
        auto p = decode(padded, sizeof padded, v.mode);
        ASSERT_TRUE(p.ok()) << v.text;
        EXPECT_EQ(p->length, v.length) << v.text;
        ++n;
    }
    EXPECT_GT(n, 500u);
}

TEST(DecoderVectors, OperationsOfTheExitInstructions)
{
    struct Want {
        const char* text;
        Op op;
    };
    const Want wants[] = {
        {"cpuid", Op::cpuid},     {"rdmsr", Op::rdmsr},         {"wrmsr", Op::wrmsr},       {"hlt", Op::hlt},
        {"pause", Op::pause},     {"rdtsc", Op::rdtsc},         {"rdtscp", Op::rdtscp},     {"vmcall", Op::vmcall},
        {"vmmcall", Op::vmmcall}, {"xsetbv", Op::xsetbv},       {"wbinvd", Op::wbinvd},     {"clts", Op::clts},
        {"int3", Op::int3},       {"int $0x80", Op::int_n},     {"iretq", Op::iret},        {"insb", Op::ins},
        {"outsl", Op::outs},      {"in $0x60, %al", Op::in},    {"out %eax, (%dx)", Op::out},
        {"mov %cr0, %rax", Op::mov_from_cr},                    {"mov %rax, %cr3", Op::mov_to_cr},
        {"invlpg (%rax)", Op::invlpg}, {"lgdt (%rax)", Op::lgdt}, {"lidt 0x8(%rsp)", Op::lidt},
        {"movabs 0x1122334455667788, %eax", Op::mov},           {"rep movsb", Op::movs},
        {"rep stosl", Op::stos},  {"bt %eax, (%rbx)", Op::bt},  {"btl $5, (%rbx)", Op::bt},
        {"movslq (%rax), %rcx", Op::movsxd},                    {"movzwl (%rax), %ecx", Op::movzx},
        {"movsbq (%rax), %r9", Op::movsx},                      {"xchg %al, (%rbx)", Op::xchg},
        {"testl $0x10000, (%rbx)", Op::test},                   {"sbbq $1, (%rbx)", Op::sbb},
        {"vzeroupper", Op::vex},  {"vpaddd %zmm1, %zmm2, %zmm3{%k1}", Op::vex},
    };
    for (const Want& w : wants) {
        bool found = false;
        for (const Vector& v : vectors) {
            if (v.mode != CpuMode::bits64 || std::string(v.text) != w.text) continue;
            found = true;
            auto r = decode(v.bytes, v.length, v.mode);
            ASSERT_TRUE(r.ok()) << w.text;
            EXPECT_EQ(r->op, w.op) << w.text << " decoded as " << op_name(r->op);
        }
        EXPECT_TRUE(found) << w.text;
    }
}

TEST(Decoder, FixedLengthSystemInstructions)
{
    EXPECT_EQ(ok({0x0f, 0xa2}).op, Op::cpuid);
    EXPECT_EQ(ok({0x0f, 0x32}).op, Op::rdmsr);
    EXPECT_EQ(ok({0x0f, 0x30}).op, Op::wrmsr);
    EXPECT_EQ(ok({0xf4}).length, 1);
    EXPECT_EQ(ok({0xf3, 0x90}).op, Op::pause);
    EXPECT_EQ(ok({0x90}).op, Op::nop);
    EXPECT_EQ(ok({0x41, 0x90}).op, Op::xchg);  // XCHG r8, rax: 90 with REX.B is not NOP
    Insn vmcall = ok({0x0f, 0x01, 0xc1});
    EXPECT_EQ(vmcall.op, Op::vmcall);
    EXPECT_EQ(vmcall.length, 3);
    EXPECT_EQ(ok({0x0f, 0x01, 0xd9}).op, Op::vmmcall);
    EXPECT_EQ(ok({0x0f, 0x01, 0xd1}).op, Op::xsetbv);
    EXPECT_EQ(ok({0x0f, 0x01, 0xf9}).op, Op::rdtscp);
    EXPECT_EQ(ok({0x0f, 0x01, 0xf0}).op, Op::lmsw);  // 0F 01 /6 with a register
    EXPECT_EQ(ok({0x0f, 0x01, 0xe0}).op, Op::smsw);
    EXPECT_EQ(ok({0x0f, 0x06}).op, Op::clts);
    EXPECT_EQ(ok({0x0f, 0x09}).op, Op::wbinvd);
    EXPECT_EQ(ok({0x0f, 0x0b}).op, Op::ud2);
    EXPECT_EQ(ok({0xcc}).op, Op::int3);
    Insn intn = ok({0xcd, 0x80});
    EXPECT_EQ(intn.op, Op::int_n);
    EXPECT_EQ(intn.imm_unsigned(), 0x80u);
    EXPECT_EQ(ok({0xce}, CpuMode::bits32).op, Op::into);
    EXPECT_EQ(dec({0xce}).error(), lib::Error::invalid);  // INTO is #UD in 64-bit mode
    EXPECT_EQ(ok({0x48, 0xcf}).operand_size, 8);          // IRETQ
}

TEST(Decoder, PortIo)
{
    Insn in = ok({0xe4, 0xf0});
    EXPECT_EQ(in.op, Op::in);
    EXPECT_EQ(in.operand_size, 1);
    EXPECT_EQ(in.imm_unsigned(), 0xf0u);  // ports are unsigned
    EXPECT_EQ(ok({0x66, 0xe5, 0x60}).operand_size, 2);
    EXPECT_EQ(ok({0xed}).operand_size, 4);
    EXPECT_EQ(ok({0xed}, CpuMode::bits16).operand_size, 2);
    EXPECT_EQ(ok({0xee}).op, Op::out);
    Insn outs = ok({0xf3, 0x66, 0x6f});
    EXPECT_EQ(outs.op, Op::outs);
    EXPECT_EQ(outs.rep, 0xf3);
    EXPECT_EQ(outs.operand_size, 2);
    EXPECT_EQ(ok({0x6c}).operand_size, 1);
    EXPECT_EQ(ok({0x67, 0x6d}).address_size, 4);
}

TEST(Decoder, ControlRegisterMoves)
{
    Insn a = ok({0x0f, 0x20, 0xd8});  // mov %cr3, %rax
    EXPECT_EQ(a.op, Op::mov_from_cr);
    EXPECT_EQ(a.reg, 3);
    EXPECT_EQ(a.rm_reg, R(Gpr::rax));
    EXPECT_EQ(a.operand_size, 8);
    Insn b = ok({0x44, 0x0f, 0x22, 0xc1});  // mov %rcx, %cr8
    EXPECT_EQ(b.op, Op::mov_to_cr);
    EXPECT_EQ(b.reg, 8);
    EXPECT_EQ(b.rm_reg, R(Gpr::rcx));
    // ModRM.mod is ignored: never a memory operand, never a displacement.
    Insn c = ok({0x0f, 0x22, 0x05});
    EXPECT_EQ(c.length, 3);
    EXPECT_FALSE(c.rm_is_mem);
    EXPECT_EQ(c.rm_reg, R(Gpr::rbp));
    EXPECT_EQ(ok({0x0f, 0x20, 0xe0}, CpuMode::bits32).operand_size, 4);
    Insn d = ok({0x0f, 0x23, 0xf8});  // mov %rax, %dr7
    EXPECT_EQ(d.op, Op::mov_to_dr);
    EXPECT_EQ(d.reg, 7);
}

TEST(Decoder, DescriptorTablesAndInvlpg)
{
    Insn lgdt = ok({0x0f, 0x01, 0x10});
    EXPECT_EQ(lgdt.op, Op::lgdt);
    EXPECT_TRUE(lgdt.rm_is_mem);
    EXPECT_EQ(lgdt.mem.base, R(Gpr::rax));
    Insn lidt = ok({0x0f, 0x01, 0x5c, 0x24, 0x08});  // lidt 0x8(%rsp)
    EXPECT_EQ(lidt.op, Op::lidt);
    EXPECT_EQ(lidt.mem.base, R(Gpr::rsp));
    EXPECT_EQ(lidt.mem.disp, 8);
    Insn inv = ok({0x0f, 0x01, 0x3d, 0x10, 0, 0, 0});  // invlpg 0x10(%rip)
    EXPECT_EQ(inv.op, Op::invlpg);
    EXPECT_EQ(inv.mem.base, reg_rip);
    Regs r;
    r.rip = 0x1000;
    EXPECT_EQ(effective_address(inv, r), 0x1000u + 7 + 0x10);
}

TEST(Decoder, ModRmAndSib64)
{
    Insn a = ok({0x89, 0x07});  // mov %eax, (%rdi)
    EXPECT_EQ(a.op, Op::mov);
    EXPECT_EQ(a.operand_size, 4);
    EXPECT_EQ(a.address_size, 8);
    EXPECT_EQ(a.reg, R(Gpr::rax));
    EXPECT_TRUE(a.rm_is_mem);
    EXPECT_EQ(a.mem.base, R(Gpr::rdi));
    EXPECT_EQ(a.mem.index, no_reg);

    Insn b = ok({0x48, 0x89, 0x84, 0xc8, 0x78, 0x56, 0x34, 0x12});  // mov %rax, 0x12345678(%rax,%rcx,8)
    EXPECT_EQ(b.length, 8);
    EXPECT_EQ(b.operand_size, 8);
    EXPECT_EQ(b.mem.base, R(Gpr::rax));
    EXPECT_EQ(b.mem.index, R(Gpr::rcx));
    EXPECT_EQ(b.mem.scale, 8);
    EXPECT_EQ(b.mem.disp, 0x12345678);
    EXPECT_TRUE(b.has_sib);

    Insn c = ok({0x8b, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12});  // SIB, no base, no index: absolute disp32
    EXPECT_EQ(c.mem.base, no_reg);
    EXPECT_EQ(c.mem.index, no_reg);
    EXPECT_EQ(c.mem.disp, 0x12345678);

    Insn d = ok({0x42, 0x8b, 0x04, 0x20});  // mov (%rax,%r12,1): REX.X makes index 100b usable
    EXPECT_EQ(d.mem.index, R(Gpr::r12));
    Insn e = ok({0x41, 0x8b, 0x04, 0x24});  // mov (%r12), %eax: needs a SIB
    EXPECT_EQ(e.mem.base, R(Gpr::r12));
    EXPECT_EQ(e.mem.index, no_reg);
    Insn f = ok({0x41, 0x8b, 0x45, 0x00});  // mov 0(%r13): mod 01, disp8
    EXPECT_EQ(f.mem.base, R(Gpr::r13));
    EXPECT_EQ(f.disp_size, 1);
    Insn g = ok({0x8b, 0x45, 0xf0});  // mov -0x10(%rbp): disp8 sign-extended
    EXPECT_EQ(g.mem.disp, -16);
    Insn h = ok({0x45, 0x8b, 0x0c, 0x8a});  // mov (%r10,%rcx,4), %r9d
    EXPECT_EQ(h.reg, R(Gpr::r9));
    EXPECT_EQ(h.mem.base, R(Gpr::r10));
    EXPECT_EQ(h.mem.index, R(Gpr::rcx));
    EXPECT_EQ(h.mem.scale, 4);
    Insn reg = ok({0x48, 0x01, 0xd8});  // add %rbx, %rax
    EXPECT_FALSE(reg.rm_is_mem);
    EXPECT_EQ(reg.rm_reg, R(Gpr::rax));
    EXPECT_EQ(reg.reg, R(Gpr::rbx));
    EXPECT_EQ(reg.op, Op::add);
}

TEST(Decoder, RipRelative)
{
    Insn a = ok({0x8b, 0x05, 0x10, 0x00, 0x00, 0x00});
    EXPECT_EQ(a.mem.base, reg_rip);
    EXPECT_EQ(a.mem.disp, 0x10);
    Regs r;
    r.rip = 0xffffffff80001000ull;
    EXPECT_EQ(effective_address(a, r), 0xffffffff80001000ull + 6 + 0x10);
    // With 67: EIP-relative, the address wraps at 32 bits.
    Insn b = ok({0x67, 0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff});
    EXPECT_EQ(b.mem.base, reg_rip);
    EXPECT_EQ(b.address_size, 4);
    r.rip = 0x100000000ull + 0x20;
    EXPECT_EQ(effective_address(b, r), (0x20u + 7 - 0x10));
    // Outside 64-bit mode the same encoding is an absolute disp32.
    Insn c = ok({0x8b, 0x05, 0x10, 0x00, 0x00, 0x00}, CpuMode::bits32);
    EXPECT_EQ(c.mem.base, no_reg);
}

TEST(Decoder, Addressing16)
{
    // SDM Vol. 2A Table 2-1.
    Insn a = ok({0x8b, 0x00}, CpuMode::bits16);  // mov (%bx,%si), %ax
    EXPECT_EQ(a.operand_size, 2);
    EXPECT_EQ(a.address_size, 2);
    EXPECT_EQ(a.mem.base, R(Gpr::rbx));
    EXPECT_EQ(a.mem.index, R(Gpr::rsi));
    EXPECT_EQ(a.mem.seg, Seg::ds);
    Insn b = ok({0x8b, 0x46, 0x10}, CpuMode::bits16);  // mov 0x10(%bp), %ax: SS
    EXPECT_EQ(b.mem.base, R(Gpr::rbp));
    EXPECT_EQ(b.mem.seg, Seg::ss);
    EXPECT_EQ(b.mem.disp, 0x10);
    Insn c = ok({0x8b, 0x06, 0x34, 0x12}, CpuMode::bits16);  // mov 0x1234, %ax
    EXPECT_EQ(c.mem.base, no_reg);
    EXPECT_EQ(c.mem.disp, 0x1234);
    EXPECT_EQ(c.length, 4);
    Insn d = ok({0x8b, 0x83, 0x34, 0x12}, CpuMode::bits16);  // mov 0x1234(%bp,%di): disp16 sign-extended
    EXPECT_EQ(d.mem.disp, 0x1234);
    EXPECT_EQ(d.mem.seg, Seg::ss);
    Regs r;
    r.mode = CpuMode::bits16;
    r[Gpr::rbp] = 0xfff0;
    r[Gpr::rdi] = 0x0020;
    EXPECT_EQ(effective_address(d, r), (0xfff0u + 0x20 + 0x1234) & 0xffff);  // wraps at 64K
    // 67 in 16-bit mode selects 32-bit addressing with a SIB.
    Insn e = ok({0x67, 0x8b, 0x04, 0x58}, CpuMode::bits16);
    EXPECT_EQ(e.address_size, 4);
    EXPECT_EQ(e.mem.base, R(Gpr::rax));
    EXPECT_EQ(e.mem.index, R(Gpr::rbx));
    EXPECT_EQ(e.mem.scale, 2);
    // And 66 selects a 32-bit operand with a 32-bit immediate.
    Insn f = ok({0x66, 0xc7, 0x07, 0x78, 0x56, 0x34, 0x12}, CpuMode::bits16);
    EXPECT_EQ(f.operand_size, 4);
    EXPECT_EQ(f.imm, 0x12345678);
    // 32-bit mode with 67: 16-bit addressing.
    Insn g = ok({0x67, 0x8b, 0x00}, CpuMode::bits32);
    EXPECT_EQ(g.address_size, 2);
    EXPECT_EQ(g.mem.base, R(Gpr::rbx));
    EXPECT_EQ(g.mem.index, R(Gpr::rsi));
}

TEST(Decoder, SegmentOverrides)
{
    EXPECT_EQ(ok({0x64, 0x8b, 0x00}).mem.seg, Seg::fs);
    EXPECT_EQ(ok({0x65, 0x8b, 0x00}).mem.seg, Seg::gs);
    // CS/DS/ES/SS overrides are ignored in 64-bit mode (but reported).
    Insn a = ok({0x2e, 0x8b, 0x00});
    EXPECT_EQ(a.mem.seg, Seg::ds);
    EXPECT_TRUE(a.has(prefix::seg));
    EXPECT_EQ(a.seg_override, Seg::cs);
    EXPECT_EQ(ok({0x2e, 0x8b, 0x00}, CpuMode::bits32).mem.seg, Seg::cs);
    EXPECT_EQ(ok({0x26, 0x8b, 0x00}, CpuMode::bits32).mem.seg, Seg::es);
    // EBP/ESP bases default to SS.
    EXPECT_EQ(ok({0x8b, 0x45, 0x10}, CpuMode::bits32).mem.seg, Seg::ss);
    EXPECT_EQ(ok({0x8b, 0x04, 0x24}, CpuMode::bits32).mem.seg, Seg::ss);
    EXPECT_EQ(ok({0x3e, 0x8b, 0x45, 0x10}, CpuMode::bits32).mem.seg, Seg::ds);
    // The last segment prefix wins.
    EXPECT_EQ(ok({0x26, 0x64, 0x8b, 0x00}, CpuMode::bits32).mem.seg, Seg::fs);
    // moffs honours overrides too.
    EXPECT_EQ(ok({0x64, 0xa1, 0x10, 0, 0, 0}, CpuMode::bits32).mem.seg, Seg::fs);
}

TEST(Decoder, RexRules)
{
    // REX.W: 64-bit operand.
    EXPECT_EQ(ok({0x48, 0x89, 0x07}).operand_size, 8);
    // 66 + REX.W: REX.W wins.
    EXPECT_EQ(ok({0x66, 0x48, 0x89, 0x07}).operand_size, 8);
    // A REX followed by a legacy prefix is ignored (SDM Vol. 2A §2.2.1).
    Insn a = ok({0x48, 0x66, 0x89, 0x07});
    EXPECT_EQ(a.operand_size, 2);
    EXPECT_EQ(a.rex, 0);
    EXPECT_FALSE(a.has(prefix::rex));
    EXPECT_EQ(a.length, 4);
    Insn b = ok({0x41, 0xf0, 0x01, 0x07});  // REX.B ignored: (%rdi), not (%r15)
    EXPECT_EQ(b.mem.base, R(Gpr::rdi));
    EXPECT_TRUE(b.has(prefix::lock));
    // Of two REX prefixes only the last counts.
    Insn c = ok({0x41, 0x48, 0x89, 0x07});
    EXPECT_EQ(c.operand_size, 8);
    EXPECT_EQ(c.mem.base, R(Gpr::rdi));
    EXPECT_EQ(c.length, 4);
    // REX turns byte registers 4-7 into SPL..DIL; without it they are AH..BH.
    Insn d = ok({0x40, 0x88, 0x37});
    EXPECT_TRUE(d.has(prefix::rex));
    EXPECT_EQ(d.reg, R(Gpr::rsi));
    Insn e = ok({0x88, 0x37});
    EXPECT_FALSE(e.has(prefix::rex));
    EXPECT_EQ(e.reg, 6);  // DH
    EXPECT_EQ(e.operand_size, 1);
    // 40-4F are INC/DEC outside 64-bit mode.
    EXPECT_EQ(ok({0x48}, CpuMode::bits32).length, 1);
    EXPECT_EQ(ok({0x48, 0x89, 0x07}, CpuMode::bits32).length, 1);
    // REX.R extends ModRM.reg; REX.B the r/m register.
    Insn f = ok({0x4d, 0x89, 0xc1});  // mov %r8, %r9
    EXPECT_EQ(f.reg, R(Gpr::r8));
    EXPECT_EQ(f.rm_reg, R(Gpr::r9));
    // B8+r with REX.B and REX.W: mov $imm64, %r10.
    Insn g = ok({0x49, 0xba, 1, 2, 3, 4, 5, 6, 7, 8});
    EXPECT_EQ(g.reg, R(Gpr::r10));
    EXPECT_EQ(g.imm_size, 8);
    EXPECT_EQ(static_cast<uint64_t>(g.imm), 0x0807060504030201ull);
}

TEST(Decoder, Moffs)
{
    Insn a = ok({0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11});
    EXPECT_EQ(a.op, Op::mov);
    EXPECT_EQ(a.length, 9);
    EXPECT_TRUE(a.rm_is_mem);
    EXPECT_EQ(a.mem.base, no_reg);
    EXPECT_EQ(static_cast<uint64_t>(a.mem.disp), 0x1122334455667788ull);
    Insn b = ok({0x67, 0xa3, 0x44, 0x33, 0x22, 0x11});  // 32-bit moffs in 64-bit mode
    EXPECT_EQ(b.length, 6);
    EXPECT_EQ(b.address_size, 4);
    EXPECT_EQ(b.mem.disp, 0x11223344);
    EXPECT_EQ(ok({0xa0, 0x44, 0x33, 0x22, 0x11}, CpuMode::bits32).length, 5);
    EXPECT_EQ(ok({0x67, 0xa0, 0x34, 0x12}, CpuMode::bits32).length, 4);
    Insn c = ok({0xa2, 0x34, 0x12}, CpuMode::bits16);
    EXPECT_EQ(c.length, 3);
    EXPECT_EQ(c.operand_size, 1);
    Insn d = ok({0x48, 0xa3, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    EXPECT_EQ(d.operand_size, 8);
    EXPECT_EQ(static_cast<uint64_t>(d.mem.disp), 0xfffffffffffffff0ull);
}

TEST(Decoder, Immediates)
{
    Insn a = ok({0xc7, 0x00, 0x78, 0x56, 0x34, 0x12});
    EXPECT_EQ(a.imm_size, 4);
    EXPECT_EQ(a.imm, 0x12345678);
    Insn b = ok({0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff});  // imm32 sign-extended to 64
    EXPECT_EQ(b.operand_size, 8);
    EXPECT_EQ(b.imm, -1);
    Insn c = ok({0x66, 0xc7, 0x00, 0x34, 0x12});
    EXPECT_EQ(c.length, 5);
    EXPECT_EQ(c.imm, 0x1234);
    Insn d = ok({0x83, 0x00, 0xff});
    EXPECT_EQ(d.op, Op::add);
    EXPECT_EQ(d.imm, -1);
    EXPECT_EQ(d.imm_size, 1);
    Insn e = ok({0x81, 0x38, 0x00, 0x00, 0x00, 0x80});  // cmpl $0x80000000, (%rax)
    EXPECT_EQ(e.op, Op::cmp);
    EXPECT_EQ(e.imm, -0x80000000ll);
    // F6/F7: only /0 and /1 (TEST) carry an immediate.
    EXPECT_EQ(ok({0xf6, 0x00, 0x01}).length, 3);
    EXPECT_EQ(ok({0xf6, 0x10}).length, 2);  // NOT
    EXPECT_EQ(ok({0xf7, 0x00, 1, 2, 3, 4}).length, 6);
    EXPECT_EQ(ok({0x66, 0xf7, 0x00, 1, 2}).length, 5);
    EXPECT_EQ(ok({0x48, 0xf7, 0x08, 1, 2, 3, 4}).op, Op::test);  // /1 is TEST too
    EXPECT_EQ(ok({0xf7, 0x18}).length, 2);                        // NEG
    Insn enter = ok({0xc8, 0x10, 0x00, 0x01});
    EXPECT_EQ(enter.imm, 16);
    EXPECT_EQ(enter.imm2, 1);
    Insn far = ok({0x9a, 0x78, 0x56, 0x34, 0x12, 0x10, 0x00}, CpuMode::bits32);
    EXPECT_EQ(far.length, 7);
    EXPECT_EQ(far.imm, 0x12345678);
    EXPECT_EQ(far.imm2, 0x10);
    EXPECT_EQ(ok({0xea, 0x00, 0x10, 0x08, 0x00}, CpuMode::bits16).length, 5);
    EXPECT_EQ(dec({0xea, 0, 0, 0, 0, 0, 0}).error(), lib::Error::invalid);
    // Near branches: rel32 (rel16 with 66, as AMD and QEMU do).
    EXPECT_EQ(ok({0xe8, 0, 0, 0, 0}).length, 5);
    EXPECT_EQ(ok({0x0f, 0x85, 0, 0, 0, 0}).length, 6);
    EXPECT_EQ(ok({0xe8, 0, 0}, CpuMode::bits16).length, 3);
    EXPECT_EQ(ok({0x66, 0xe8, 0, 0, 0, 0}, CpuMode::bits16).length, 6);
    EXPECT_EQ(ok({0x6a, 0xff}).imm, -1);
    EXPECT_EQ(ok({0x68, 1, 0, 0, 0}).operand_size, 8);  // push: d64
    EXPECT_EQ(ok({0x0f, 0xba, 0x20, 0x05}).op, Op::bt);
}

TEST(Decoder, SizesOfMovzxMovsxd)
{
    Insn a = ok({0x0f, 0xb6, 0x08});  // movzbl (%rax), %ecx
    EXPECT_EQ(a.op, Op::movzx);
    EXPECT_EQ(a.operand_size, 4);
    Insn b = ok({0x48, 0x0f, 0xbf, 0x08});
    EXPECT_EQ(b.op, Op::movsx);
    EXPECT_EQ(b.operand_size, 8);
    Insn c = ok({0x48, 0x63, 0x08});
    EXPECT_EQ(c.op, Op::movsxd);
    EXPECT_EQ(c.operand_size, 8);
    EXPECT_EQ(ok({0x63, 0x08}, CpuMode::bits32).op, Op::other);  // ARPL
}

TEST(Decoder, StringInstructions)
{
    Insn a = ok({0xf3, 0x48, 0xa5});
    EXPECT_EQ(a.op, Op::movs);
    EXPECT_EQ(a.operand_size, 8);
    EXPECT_EQ(a.rep, 0xf3);
    EXPECT_FALSE(a.rm_is_mem);
    Insn b = ok({0xf2, 0xf3, 0xaa});  // the last of F2/F3 counts
    EXPECT_EQ(b.rep, 0xf3);
    EXPECT_TRUE(b.has(prefix::repne));
    EXPECT_EQ(ok({0x67, 0xab}).address_size, 4);
    EXPECT_EQ(ok({0xab}, CpuMode::bits16).operand_size, 2);
    EXPECT_EQ(ok({0xac}).op, Op::lods);
}

TEST(Decoder, VexEvexXop)
{
    Insn a = ok({0xc5, 0xf8, 0x77});
    EXPECT_EQ(a.op, Op::vex);
    EXPECT_EQ(a.length, 3);
    EXPECT_TRUE(a.has(prefix::vex));
    EXPECT_EQ(ok({0xc5, 0xf8, 0x77}, CpuMode::bits32).op, Op::vex);
    // In 32-bit mode C5 with a memory ModRM is LDS.
    Insn lds = ok({0xc5, 0x00}, CpuMode::bits32);
    EXPECT_EQ(lds.length, 2);
    EXPECT_EQ(lds.op, Op::other);
    // In 64-bit mode C5 is always VEX: payload, opcode and ModRM follow.
    EXPECT_EQ(dec({0xc5, 0x00}).error(), lib::Error::truncated);
    EXPECT_EQ(dec({0xc5, 0x00, 0x58}).error(), lib::Error::truncated);
    // Legacy 66/F2/F3, LOCK or REX before VEX: #UD.
    EXPECT_EQ(dec({0x66, 0xc5, 0xf8, 0x77}).error(), lib::Error::invalid);
    EXPECT_EQ(dec({0x48, 0xc5, 0xf8, 0x77}).error(), lib::Error::invalid);
    // VEX3 with an undefined map.
    EXPECT_EQ(dec({0xc4, 0xe0, 0x7d, 0x6f, 0x00}).error(), lib::Error::invalid);
    // EVEX with disp8*N still has a one-byte displacement.
    Insn e = ok({0x62, 0xf1, 0x7c, 0x48, 0x10, 0x48, 0x01});  // vmovups 0x40(%rax), %zmm1
    EXPECT_EQ(e.length, 7);
    EXPECT_TRUE(e.has(prefix::evex));
    EXPECT_EQ(e.disp_size, 1);
    // 8F with map < 8 is POP Ev, >= 8 is XOP.
    Insn pop = ok({0x8f, 0x00});
    EXPECT_EQ(pop.length, 2);
    EXPECT_EQ(pop.op, Op::other);
    Insn xop = ok({0x8f, 0xea, 0x78, 0x10, 0xc8, 0x34, 0x12, 0x00, 0x00});  // bextr $0x1234 (XOP map A, imm32)
    EXPECT_EQ(xop.length, 9);
    EXPECT_TRUE(xop.has(prefix::xop));
}

TEST(Decoder, ThreeDNow)
{
    Insn a = ok({0x0f, 0x0f, 0xc1, 0x9e});  // pfadd %mm1, %mm0
    EXPECT_EQ(a.map, OpcodeMap::amd3dnow);
    EXPECT_EQ(a.opcode, 0x9e);
    EXPECT_EQ(a.length, 4);
    EXPECT_EQ(ok({0x0f, 0x0f, 0x44, 0x98, 0x10, 0xb4}).length, 6);
}

TEST(Decoder, LengthLimitsAndTruncation)
{
    // 14 prefixes + a one-byte opcode: exactly 15 bytes, legal.
    std::vector<uint8_t> v(14, 0x66);
    v.push_back(0x90);
    auto r = decode(v.data(), v.size(), CpuMode::bits64);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->length, 15);
    // One more prefix: 16 bytes, #GP.
    v.insert(v.begin(), 0x66);
    EXPECT_EQ(decode(v.data(), v.size(), CpuMode::bits64).error(), lib::Error::out_of_range);
    // A buffer of 15 bytes that would need a 16th (and 17th).
    std::vector<uint8_t> w(11, 0x67);
    w.insert(w.end(), {0xc7, 0x00, 1, 2});
    EXPECT_EQ(decode(w.data(), w.size(), CpuMode::bits64).error(), lib::Error::out_of_range);
    // Short buffers.
    EXPECT_EQ(dec({0x0f}).error(), lib::Error::truncated);
    EXPECT_EQ(dec({0xc7, 0x00, 0x78, 0x56}).error(), lib::Error::truncated);
    EXPECT_EQ(dec({0x66, 0x67, 0xf3}).error(), lib::Error::truncated);
    EXPECT_EQ(decode(nullptr, 0, CpuMode::bits64).error(), lib::Error::truncated);
    uint8_t one = 0x90;
    EXPECT_EQ(decode(&one, 0, CpuMode::bits64).error(), lib::Error::truncated);
}

TEST(Decoder, UndefinedOpcodes)
{
    for (uint8_t op : {0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0xce, 0xd4, 0xd5, 0xd6})
        EXPECT_EQ(dec({op, 0, 0, 0}).error(), lib::Error::invalid) << int(op);
    EXPECT_EQ(dec({0x82, 0x00, 0x01}).error(), lib::Error::invalid);
    EXPECT_EQ(ok({0x82, 0x00, 0x01}, CpuMode::bits32).op, Op::add);
    EXPECT_EQ(dec({0x0f, 0x04}).error(), lib::Error::invalid);
    EXPECT_EQ(dec({0x0f, 0xb8, 0xc0}).error(), lib::Error::invalid);  // JMPE
    EXPECT_EQ(ok({0xf3, 0x0f, 0xb8, 0xc0}).length, 4);                 // POPCNT
}

TEST(Decoder, OpNamesCoverEveryOp)
{
    for (unsigned i = 0; i <= static_cast<unsigned>(Op::vex); ++i)
        EXPECT_STRNE(op_name(static_cast<Op>(i)), "?") << i;
}
