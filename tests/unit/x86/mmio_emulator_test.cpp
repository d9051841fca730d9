// MMIO emulator tests: every supported instruction at every operand size
// against a fake device, with RFLAGS checked against the host CPU executing
// the same operation (the tests run on x86-64), and the string instructions
// against fake RAM through real guest page tables.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "hv/x86/decoder.hpp"
#include "hv/x86/flags.hpp"
#include "hv/x86/mmio_emulator.hpp"
#include "tests/unit/x86/fake_guest.hpp"

using namespace hv::x86;
using x86test::FakeDevice;
using x86test::FakeRam;
using x86test::Rng;

namespace {

constexpr uint64_t mmio = 0xfee00000;  // two pages of device registers

// Guest RAM 0..2M; the 4-level tables at 0x1000 (PML4) and 0x2000 (PDPT)
// identity-map the first 4G with 1G pages (user, writable) for string tests.
struct Machine {
    FakeRam ram{2 << 20};
    FakeDevice dev{mmio, 0x2000};
    Regs regs;
    MmioEnv env;
    Insn insn;

    explicit Machine(CpuMode mode = CpuMode::bits64)
    {
        regs.mode = mode;
        env.bus = dev.bus();
        env.ram = ram.phys();
        ram.put<uint64_t>(0x1000, 0x2000 | 7);
        for (uint64_t i = 0; i < 4; ++i) ram.put<uint64_t>(0x2000 + i * 8, (i << 30) | 0x87);
        if (mode == CpuMode::bits64) {
            env.paging.cr0 = cr0::pe | cr0::pg;
            env.paging.cr4 = cr4::pae;
            env.paging.efer = efer::lme | efer::lma;
            env.paging.cr3 = 0x1000;
        }
    }

    EmuStatus run(std::initializer_list<uint8_t> bytes, uint64_t gpa)
    {
        std::vector<uint8_t> b(bytes);
        auto d = decode(b.data(), b.size(), regs.mode);
        EXPECT_TRUE(d.ok()) << lib::error_name(d.error());
        if (!d.ok()) return unsupported_fault();
        insn = *d;
        EXPECT_EQ(insn.length, b.size());
        env.gpa = gpa;
        return emulate_mmio(insn, regs, env);
    }
    uint64_t& operator[](Gpr g) { return regs[g]; }
};

// The host CPU as the flags oracle: op is the group-1 index, or 8 for TEST.
template <typename T> uint64_t host_flags(unsigned op, T& a, T b, bool cf)
{
    uint64_t fin = 0x2 | (cf ? 1 : 0), fout = 0;
#define HOST_ALU(mnemonic)                                                                              \
    asm volatile("sub $128, %%rsp\n\tpush %[fin]\n\tpopfq\n\t" mnemonic " %[b], %[a]\n\tpushfq\n\t" \
                 "pop %[fout]\n\tadd $128, %%rsp"                                                      \
                 : [a] "+q"(a), [fout] "=&r"(fout)                                                     \
                 : [b] "q"(b), [fin] "r"(fin)                                                           \
                 : "cc", "memory")
    switch (op) {
    case 0: HOST_ALU("add"); break;
    case 1: HOST_ALU("or"); break;
    case 2: HOST_ALU("adc"); break;
    case 3: HOST_ALU("sbb"); break;
    case 4: HOST_ALU("and"); break;
    case 5: HOST_ALU("sub"); break;
    case 6: HOST_ALU("xor"); break;
    case 7: HOST_ALU("cmp"); break;
    default: HOST_ALU("test"); break;
    }
#undef HOST_ALU
    return fout & rflags::arith;
}

uint64_t host(unsigned op, unsigned size, uint64_t& a, uint64_t b, bool cf)
{
    uint64_t f;
    switch (size) {
    case 1: { uint8_t x = uint8_t(a); f = host_flags<uint8_t>(op, x, uint8_t(b), cf); a = x; break; }
    case 2: { uint16_t x = uint16_t(a); f = host_flags<uint16_t>(op, x, uint16_t(b), cf); a = x; break; }
    case 4: { uint32_t x = uint32_t(a); f = host_flags<uint32_t>(op, x, uint32_t(b), cf); a = x; break; }
    default: f = host_flags<uint64_t>(op, a, b, cf); break;
    }
    return f;
}

std::vector<uint8_t> size_prefix(unsigned size)
{
    if (size == 2) return {0x66};
    if (size == 8) return {0x48};
    return {};
}

uint64_t interesting_value(Rng& rng, unsigned size)
{
    const uint64_t m = size_mask(size), s = sign_bit(size);
    switch (rng.below(8)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return m;
    case 3: return s;
    case 4: return s - 1;
    case 5: return 0x0f & m;
    default: return rng.next() & m;
    }
}

const char* const alu_names[] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test"};

}  // namespace

// ALU Ev,Gv / Gv,Ev / group 1 with immediates / TEST, all sizes, against the
// host CPU (SDM Vol. 2 "ADD" .. "XOR": Flags Affected).
TEST(MmioAlu, MatchesHostCpuForAllOpsSizesAndForms)
{
    Rng rng(42);
    unsigned checked = 0;
    for (int iter = 0; iter < 4000; ++iter) {
        const unsigned op = rng.below(9);
        const unsigned size = 1u << rng.below(4);
        const unsigned form = rng.below(3);  // 0: Ev,Gv  1: Gv,Ev  2: Ev,imm
        if (op == 8 && form == 1) continue;  // TEST has no Gv,Ev form
        const uint64_t a = interesting_value(rng, size);
        uint64_t b = interesting_value(rng, size);
        const bool cf = rng.below(2);
        uint64_t off = rng.below(0x2000 - 8);
        if ((off & 0xfff) + size > 0x1000) off -= size;  // stay inside one page

        Machine m;
        m.regs.rflags = rflags::fixed1 | (cf ? rflags::cf : 0) | rflags::zf | rflags::of;  // junk to overwrite
        m[Gpr::rbx] = mmio + off;
        std::vector<uint8_t> code = size_prefix(size);
        bool mem_dest = true;
        if (form == 2) {
            // 80 /op ib, 81 /op iz, 83 /op ib (sign-extended); F6/F7 /0 for TEST.
            const bool imm8 = size == 1 || rng.below(2);
            int64_t imm;
            if (imm8) imm = static_cast<int8_t>(b);
            else imm = size == 2 ? static_cast<int16_t>(b) : static_cast<int32_t>(b);
            b = static_cast<uint64_t>(imm) & size_mask(size);
            if (op == 8) {
                if (size != 1 && imm8) continue;  // no TEST Ev,Ib
                code.push_back(size == 1 ? 0xf6 : 0xf7);
                code.push_back(0x03);
            } else {
                code.push_back(size == 1 ? 0x80 : imm8 ? 0x83 : 0x81);
                code.push_back(static_cast<uint8_t>(0x03 | (op << 3)));
            }
            const unsigned n = imm8 ? 1 : size == 2 ? 2 : 4;
            for (unsigned i = 0; i < n; ++i) code.push_back(static_cast<uint8_t>(static_cast<uint64_t>(imm) >> (8 * i)));
            m.dev.put<uint64_t>(mmio + off, a);
        } else {
            const uint8_t base = op == 8 ? 0x84 : static_cast<uint8_t>(op << 3);
            code.push_back(static_cast<uint8_t>(base | (size == 1 ? 0 : 1) | (form == 1 ? 2 : 0)));
            code.push_back(0x0b);  // reg = rcx, rm = (%rbx)
            mem_dest = form == 0;
            if (mem_dest) {
                m.dev.put<uint64_t>(mmio + off, a);
                m[Gpr::rcx] = b | 0xdead000000000000ull * (size < 8);
            } else {
                m.dev.put<uint64_t>(mmio + off, b);
                m[Gpr::rcx] = a | 0xdead000000000000ull * (size < 8);
            }
        }
        auto d = decode(code.data(), code.size(), CpuMode::bits64);
        ASSERT_TRUE(d.ok());
        m.env.gpa = mmio + off;
        const uint64_t rcx_before = m[Gpr::rcx];
        auto st = emulate_mmio(*d, m.regs, m.env);
        ASSERT_TRUE(st.ok()) << alu_names[op] << " size " << size << " form " << form;

        uint64_t expect = a;
        const uint64_t flags = host(op, size, expect, b, cf);
        const char* what = alu_names[op];
        EXPECT_EQ(m.regs.rflags & rflags::arith, flags)
            << what << " size " << size << " form " << form << " a=" << std::hex << a << " b=" << b << " cf=" << cf;
        const bool writes = op != 7 && op != 8;
        if (mem_dest) {
            EXPECT_EQ(m.dev.get<uint64_t>(mmio + off) & size_mask(size), writes ? expect : a) << what;
            EXPECT_EQ(m[Gpr::rcx], rcx_before);
        } else {
            uint64_t want = rcx_before;
            if (writes) {
                if (size == 4) want = expect;
                else want = (rcx_before & ~size_mask(size)) | expect;
            }
            EXPECT_EQ(m[Gpr::rcx], want) << what;
        }
        EXPECT_EQ(m.regs.rip, d->length);
        ++checked;
    }
    EXPECT_GT(checked, 3000u);
}

TEST(MmioMov, StoresOfEverySize)
{
    Machine m;
    m[Gpr::rax] = 0x1122334455667788ull;
    m[Gpr::rdi] = mmio + 0x100;
    ASSERT_TRUE(m.run({0x88, 0x07}, mmio + 0x100).ok());  // mov %al, (%rdi)
    EXPECT_EQ(m.dev.log.back().size, 1);
    EXPECT_EQ(m.dev.log.back().value, 0x88u);
    ASSERT_TRUE(m.run({0x66, 0x89, 0x07}, mmio + 0x100).ok());
    EXPECT_EQ(m.dev.log.back().value, 0x7788u);
    ASSERT_TRUE(m.run({0x89, 0x07}, mmio + 0x100).ok());
    EXPECT_EQ(m.dev.log.back().value, 0x55667788u);
    ASSERT_TRUE(m.run({0x48, 0x89, 0x07}, mmio + 0x100).ok());
    EXPECT_EQ(m.dev.log.back().value, 0x1122334455667788u);
    EXPECT_EQ(m.dev.log.back().gpa, mmio + 0x100);
    EXPECT_EQ(m.regs.rip, 2u + 3 + 2 + 3);
    // AH (no REX) versus SPL (REX): mov %ah,(%rdi) / mov %spl,(%rdi).
    m[Gpr::rsp] = 0xabcd;
    ASSERT_TRUE(m.run({0x88, 0x27}, mmio + 0x100).ok());
    EXPECT_EQ(m.dev.log.back().value, 0x77u);
    ASSERT_TRUE(m.run({0x40, 0x88, 0x27}, mmio + 0x100).ok());
    EXPECT_EQ(m.dev.log.back().value, 0xcdu);
    // R8-R15 through REX.R, memory through REX.B: mov %r9d, 0x10(%r12).
    m[Gpr::r9] = 0xcafef00d;
    m[Gpr::r12] = mmio + 0x1000;
    ASSERT_TRUE(m.run({0x45, 0x89, 0x4c, 0x24, 0x10}, mmio + 0x1010).ok());
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x1010), 0xcafef00du);
}

TEST(MmioMov, LoadsExtendAsTheArchitectureSays)
{
    Machine m;
    m.dev.put<uint64_t>(mmio + 8, 0x8899aabbccddeeffull);
    m[Gpr::rsi] = mmio + 8;
    m[Gpr::rcx] = 0xffffffffffffffffull;
    ASSERT_TRUE(m.run({0x8a, 0x0e}, mmio + 8).ok());  // mov (%rsi), %cl: upper bits kept
    EXPECT_EQ(m[Gpr::rcx], 0xffffffffffffffffull);
    m[Gpr::rcx] = 0x1111111111111111ull;
    ASSERT_TRUE(m.run({0x8a, 0x0e}, mmio + 8).ok());
    EXPECT_EQ(m[Gpr::rcx], 0x11111111111111ffull);
    ASSERT_TRUE(m.run({0x66, 0x8b, 0x0e}, mmio + 8).ok());
    EXPECT_EQ(m[Gpr::rcx], 0x111111111111eeffull);
    ASSERT_TRUE(m.run({0x8b, 0x0e}, mmio + 8).ok());  // 32-bit load zero-extends
    EXPECT_EQ(m[Gpr::rcx], 0xccddeeffull);
    ASSERT_TRUE(m.run({0x48, 0x8b, 0x0e}, mmio + 8).ok());
    EXPECT_EQ(m[Gpr::rcx], 0x8899aabbccddeeffull);
    m[Gpr::rcx] = 0;
    ASSERT_TRUE(m.run({0x8a, 0x2e}, mmio + 8).ok());  // mov (%rsi), %ch
    EXPECT_EQ(m[Gpr::rcx], 0xff00u);
    ASSERT_TRUE(m.run({0x4c, 0x8b, 0x3e}, mmio + 8).ok());  // mov (%rsi), %r15
    EXPECT_EQ(m[Gpr::r15], 0x8899aabbccddeeffull);
}

TEST(MmioMov, Immediates)
{
    Machine m;
    m[Gpr::rax] = mmio;
    ASSERT_TRUE(m.run({0xc6, 0x00, 0xa5}, mmio).ok());
    EXPECT_EQ(m.dev.log.back().value, 0xa5u);
    EXPECT_EQ(m.dev.log.back().size, 1);
    ASSERT_TRUE(m.run({0x66, 0xc7, 0x00, 0x34, 0x12}, mmio).ok());
    EXPECT_EQ(m.dev.log.back().value, 0x1234u);
    ASSERT_TRUE(m.run({0xc7, 0x40, 0x10, 0x78, 0x56, 0x34, 0x12}, mmio + 0x10).ok());
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x10), 0x12345678u);
    ASSERT_TRUE(m.run({0x48, 0xc7, 0x00, 0xfe, 0xff, 0xff, 0xff}, mmio).ok());  // imm32 sign-extended
    EXPECT_EQ(m.dev.log.back().value, 0xfffffffffffffffeull);
    EXPECT_EQ(m.dev.log.back().size, 8);
}

TEST(MmioMov, Moffs)
{
    Machine m;
    m.dev.put<uint64_t>(mmio + 0x40, 0x0102030405060708ull);
    m[Gpr::rax] = ~0ull;
    ASSERT_TRUE(m.run({0xa0, 0x40, 0x00, 0xe0, 0xfe, 0, 0, 0, 0}, mmio + 0x40).ok());
    EXPECT_EQ(m[Gpr::rax], 0xffffffffffffff08ull);
    ASSERT_TRUE(m.run({0xa1, 0x40, 0x00, 0xe0, 0xfe, 0, 0, 0, 0}, mmio + 0x40).ok());
    EXPECT_EQ(m[Gpr::rax], 0x05060708u);
    ASSERT_TRUE(m.run({0x48, 0xa1, 0x40, 0x00, 0xe0, 0xfe, 0, 0, 0, 0}, mmio + 0x40).ok());
    EXPECT_EQ(m[Gpr::rax], 0x0102030405060708ull);
    m[Gpr::rax] = 0xaabbccdd;
    ASSERT_TRUE(m.run({0x67, 0xa3, 0x48, 0x00, 0xe0, 0xfe}, mmio + 0x48).ok());
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x48), 0xaabbccddu);
    ASSERT_TRUE(m.run({0x66, 0xa3, 0x50, 0x00, 0xe0, 0xfe, 0, 0, 0, 0}, mmio + 0x50).ok());
    EXPECT_EQ(m.dev.log.back().size, 2);
    EXPECT_EQ(m.dev.log.back().value, 0xccddu);
    ASSERT_TRUE(m.run({0xa2, 0x58, 0x00, 0xe0, 0xfe, 0, 0, 0, 0}, mmio + 0x58).ok());
    EXPECT_EQ(m.dev.log.back().value, 0xddu);
}

TEST(MmioMov, ZeroAndSignExtension)
{
    Machine m;
    m.dev.put<uint16_t>(mmio, 0x8081);
    m[Gpr::rbx] = mmio;
    m[Gpr::rcx] = ~0ull;
    ASSERT_TRUE(m.run({0x0f, 0xb6, 0x0b}, mmio).ok());  // movzbl
    EXPECT_EQ(m[Gpr::rcx], 0x81u);
    ASSERT_TRUE(m.run({0x48, 0x0f, 0xb7, 0x0b}, mmio).ok());  // movzwq
    EXPECT_EQ(m[Gpr::rcx], 0x8081u);
    ASSERT_TRUE(m.run({0x0f, 0xbe, 0x0b}, mmio).ok());  // movsbl
    EXPECT_EQ(m[Gpr::rcx], 0xffffff81u);
    ASSERT_TRUE(m.run({0x48, 0x0f, 0xbf, 0x0b}, mmio).ok());  // movswq
    EXPECT_EQ(m[Gpr::rcx], 0xffffffffffff8081ull);
    m[Gpr::rcx] = 0x1234567800000000ull;
    ASSERT_TRUE(m.run({0x66, 0x0f, 0xbe, 0x0b}, mmio).ok());  // movsbw: 16-bit destination
    EXPECT_EQ(m[Gpr::rcx], 0x123456780000ff81ull);
    m.dev.put<uint32_t>(mmio, 0x80000001);
    ASSERT_TRUE(m.run({0x48, 0x63, 0x0b}, mmio).ok());  // movslq
    EXPECT_EQ(m[Gpr::rcx], 0xffffffff80000001ull);
    EXPECT_EQ(m.dev.log.back().size, 4);
    ASSERT_TRUE(m.run({0x63, 0x0b}, mmio).ok());  // movsxd without REX.W: a 32-bit move
    EXPECT_EQ(m[Gpr::rcx], 0x80000001u);
}

TEST(MmioXchg, SwapsRegisterAndDevice)
{
    Machine m;
    m.dev.put<uint64_t>(mmio, 0x1111222233334444ull);
    m[Gpr::rbx] = mmio;
    m[Gpr::rdx] = 0xaaaabbbbccccddddull;
    ASSERT_TRUE(m.run({0x48, 0x87, 0x13}, mmio).ok());
    EXPECT_EQ(m[Gpr::rdx], 0x1111222233334444ull);
    EXPECT_EQ(m.dev.get<uint64_t>(mmio), 0xaaaabbbbccccddddull);
    ASSERT_TRUE(m.run({0x86, 0x33}, mmio).ok());  // xchg %dh, (%rbx)
    EXPECT_EQ(m.dev.get<uint8_t>(mmio), 0x44u);
    EXPECT_EQ(m[Gpr::rdx], 0x111122223333dd44ull);
    ASSERT_TRUE(m.run({0xf0, 0x87, 0x13}, mmio).ok());  // LOCK XCHG is legal
    EXPECT_EQ(m[Gpr::rdx] >> 32, 0u);                   // 32-bit register write zero-extends
}

TEST(MmioBitTest, RegisterAndImmediateOffsets)
{
    Machine m;
    m.dev.put<uint64_t>(mmio + 0x100, 0x8000000000000001ull);
    m.dev.put<uint32_t>(mmio + 0xfc, 0x80000000u);
    m[Gpr::rbx] = mmio + 0x100;
    m[Gpr::rcx] = 0;
    ASSERT_TRUE(m.run({0x0f, 0xa3, 0x0b}, mmio + 0x100).ok());  // bt %ecx, (%rbx): bit 0
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    m[Gpr::rcx] = 1;
    m.regs.rflags |= rflags::zf;
    ASSERT_TRUE(m.run({0x0f, 0xa3, 0x0b}, mmio + 0x100).ok());
    EXPECT_FALSE(m.regs.rflags & rflags::cf);
    EXPECT_TRUE(m.regs.rflags & rflags::zf);  // ZF unaffected
    m[Gpr::rcx] = 63;
    ASSERT_TRUE(m.run({0x48, 0x0f, 0xa3, 0x0b}, mmio + 0x100).ok());
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    // A negative offset reaches below the operand: -1 is bit 31 of the dword at -4.
    m[Gpr::rcx] = static_cast<uint64_t>(-1);
    ASSERT_TRUE(m.run({0x0f, 0xa3, 0x0b}, mmio + 0x100).ok());
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    EXPECT_EQ(m.dev.log.back().gpa, mmio + 0xfc);
    // A large offset reaches above it: 32*3+5 → dword at +12, bit 5.
    m[Gpr::rcx] = 32 * 3 + 5;
    m.dev.put<uint32_t>(mmio + 0x10c, 1u << 5);
    ASSERT_TRUE(m.run({0x0f, 0xa3, 0x0b}, mmio + 0x100).ok());
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    EXPECT_EQ(m.dev.log.back().gpa, mmio + 0x10c);
    // Immediate offsets are taken modulo the operand size, no address change.
    ASSERT_TRUE(m.run({0x48, 0x0f, 0xba, 0x23, 0x7f}, mmio + 0x100).ok());  // btq $127 → bit 63
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    EXPECT_EQ(m.dev.log.back().gpa, mmio + 0x100);
    ASSERT_TRUE(m.run({0x66, 0x0f, 0xba, 0x23, 0x11}, mmio + 0x100).ok());  // btw $17 → bit 1
    EXPECT_FALSE(m.regs.rflags & rflags::cf);
    EXPECT_EQ(m.dev.log.back().size, 2);
    // BTS/BTR/BTC write back.
    ASSERT_TRUE(m.run({0x0f, 0xba, 0x2b, 0x04}, mmio + 0x100).ok());  // btsl $4
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x100), 0x11u);
    ASSERT_TRUE(m.run({0xf0, 0x0f, 0xba, 0x33, 0x00}, mmio + 0x100).ok());  // lock btrl $0
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x100), 0x10u);
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    m[Gpr::rcx] = 4;
    ASSERT_TRUE(m.run({0x0f, 0xbb, 0x0b}, mmio + 0x100).ok());  // btc %ecx
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x100), 0x0u);
    EXPECT_TRUE(m.regs.rflags & rflags::cf);
    EXPECT_FALSE(m.run({0xf0, 0x0f, 0xa3, 0x0b}, mmio + 0x100).ok());  // LOCK BT: #UD
}

TEST(MmioErrors, UnsupportedAndBusErrors)
{
    Machine m;
    m[Gpr::rbx] = mmio;
    EXPECT_EQ(m.run({0xf0, 0x89, 0x03}, mmio).error().kind, FaultKind::unsupported);  // LOCK MOV
    EXPECT_EQ(m.run({0xf0, 0x3b, 0x03}, mmio).error().kind, FaultKind::unsupported);  // LOCK CMP
    EXPECT_EQ(m.run({0xf0, 0x03, 0x03}, mmio).error().kind, FaultKind::unsupported);  // LOCK Gv,Ev
    EXPECT_TRUE(m.run({0xf0, 0x01, 0x03}, mmio).ok());                                // LOCK ADD Ev,Gv
    EXPECT_EQ(m.run({0x01, 0xc3}, mmio).error().kind, FaultKind::unsupported);        // register operand
    EXPECT_EQ(m.run({0xf7, 0x13}, mmio).error().kind, FaultKind::unsupported);        // NOT
    EXPECT_EQ(m.run({0x0f, 0xa2}, mmio).error().kind, FaultKind::unsupported);        // CPUID
    EXPECT_EQ(m.run({0xc5, 0xfe, 0x6f, 0x03}, mmio).error().kind, FaultKind::unsupported);  // VMOVDQU
    EXPECT_EQ(m.run({0xc7, 0x0b, 0, 0, 0, 0}, mmio).error().kind, FaultKind::unsupported);  // C7 /1
    // An operand straddling the end of the MMIO page.
    m[Gpr::rbx] = mmio + 0xffe;
    EXPECT_EQ(m.run({0x89, 0x03}, mmio + 0xffe).error().kind, FaultKind::unsupported);
    EXPECT_TRUE(m.run({0x66, 0x89, 0x03}, mmio + 0xffe).ok());
    // Device failure: bus error, RIP untouched.
    const uint64_t rip = m.regs.rip;
    m.dev.fail = true;
    EXPECT_EQ(m.run({0x66, 0x89, 0x03}, mmio + 0xffe).error().kind, FaultKind::bus_error);
    EXPECT_EQ(m.regs.rip, rip);
}

TEST(MmioAddressing, SegmentBaseAndSixteenBitModes)
{
    // 32-bit protected mode, DS base 0x10000: the device page offset comes
    // from the linear address.
    Machine m(CpuMode::bits32);
    m.regs.seg_base[unsigned(Seg::ds)] = 0x10000;
    m[Gpr::rbx] = mmio - 0x10000 + 0x24;
    m[Gpr::rax] = 0xdeadbeef;
    ASSERT_TRUE(m.run({0x89, 0x03}, mmio + 0x24).ok());
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x24), 0xdeadbeefu);
    // Real mode: DS = 0xf000, (bx+si) = 0x34: linear 0xf0034, page offset 0x34.
    Machine r(CpuMode::bits16);
    r.regs.seg_base[unsigned(Seg::ds)] = 0xf0000;
    r.regs.rip = 0xfffe;
    r[Gpr::rbx] = 0x30;
    r[Gpr::rsi] = 0x4;
    r.dev.put<uint16_t>(mmio + 0x34, 0xbeef);
    ASSERT_TRUE(r.run({0x8b, 0x00}, mmio + 0x34).ok());  // mov (%bx,%si), %ax
    EXPECT_EQ(r[Gpr::rax] & 0xffff, 0xbeefu);
    EXPECT_EQ(r.regs.rip, 0u);  // IP wraps at 64K
    r[Gpr::rax] = 0x12345678;
    ASSERT_TRUE(r.run({0x66, 0x89, 0x00}, mmio + 0x34).ok());
    EXPECT_EQ(r.dev.get<uint32_t>(mmio + 0x34), 0x12345678u);
}

// ---- string instructions ------------------------------------------------------

TEST(MmioString, RepMovsFromDeviceToRam)
{
    Machine m;
    for (unsigned i = 0; i < 16; ++i) m.dev.put<uint32_t>(mmio + 4 * i, 0x1000 + i);
    m[Gpr::rsi] = mmio;
    m[Gpr::rdi] = 0x10000;
    m[Gpr::rcx] = 16;
    ASSERT_TRUE(m.run({0xf3, 0xa5}, mmio).ok());  // rep movsl
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(m.ram.get<uint32_t>(0x10000 + 4 * i), 0x1000 + i);
    EXPECT_EQ(m[Gpr::rcx], 0u);
    EXPECT_EQ(m[Gpr::rsi], mmio + 64);
    EXPECT_EQ(m[Gpr::rdi], 0x10040u);
    EXPECT_EQ(m.regs.rip, 2u);
    EXPECT_EQ(m.dev.log.size(), 16u);
}

TEST(MmioString, MovsFromRamToDeviceBackwards)
{
    Machine m;
    for (unsigned i = 0; i < 4; ++i) m.ram.put<uint64_t>(0x20000 + 8 * i, 0xa0a0a0a000000000ull + i);
    m.regs.rflags |= rflags::df;
    m[Gpr::rsi] = 0x20018;
    m[Gpr::rdi] = mmio + 0x118;
    m[Gpr::rcx] = 4;
    ASSERT_TRUE(m.run({0xf3, 0x48, 0xa5}, mmio + 0x118).ok());  // rep movsq, DF=1
    for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(m.dev.get<uint64_t>(mmio + 0x100 + 8 * i), 0xa0a0a0a000000000ull + i);
    EXPECT_EQ(m[Gpr::rsi], 0x20018u - 32);
    EXPECT_EQ(m[Gpr::rdi], mmio + 0x118 - 32);
    EXPECT_EQ(m.dev.log.front().gpa, mmio + 0x118);
}

TEST(MmioString, SingleMovsAndStosAndLods)
{
    Machine m;
    m.ram.put<uint16_t>(0x30000, 0xabcd);
    m[Gpr::rsi] = 0x30000;
    m[Gpr::rdi] = mmio + 0x20;
    m[Gpr::rcx] = 99;  // no REP: RCX untouched
    ASSERT_TRUE(m.run({0x66, 0xa5}, mmio + 0x20).ok());
    EXPECT_EQ(m.dev.get<uint16_t>(mmio + 0x20), 0xabcdu);
    EXPECT_EQ(m[Gpr::rcx], 99u);
    EXPECT_EQ(m[Gpr::rsi], 0x30002u);
    m[Gpr::rax] = 0x5a;
    m[Gpr::rdi] = mmio + 0x200;
    m[Gpr::rcx] = 0x100;
    ASSERT_TRUE(m.run({0xf3, 0xaa}, mmio + 0x200).ok());  // rep stosb
    for (unsigned i = 0; i < 0x100; ++i) ASSERT_EQ(m.dev.get<uint8_t>(mmio + 0x200 + i), 0x5a);
    EXPECT_EQ(m[Gpr::rdi], mmio + 0x300);
    m.dev.put<uint32_t>(mmio + 0x40, 0x76543210);
    m[Gpr::rsi] = mmio + 0x40;
    m[Gpr::rax] = ~0ull;
    ASSERT_TRUE(m.run({0xad}, mmio + 0x40).ok());  // lodsl
    EXPECT_EQ(m[Gpr::rax], 0x76543210u);
}

TEST(MmioString, DeviceToDeviceAndZeroCount)
{
    Machine m;
    m.dev.put<uint32_t>(mmio + 0x10, 0x11223344);
    m[Gpr::rsi] = mmio + 0x10;
    m[Gpr::rdi] = mmio + 0x1010;
    ASSERT_TRUE(m.run({0xa5}, mmio + 0x10).ok());
    EXPECT_EQ(m.dev.get<uint32_t>(mmio + 0x1010), 0x11223344u);
    m[Gpr::rcx] = 0;
    const size_t accesses = m.dev.log.size();
    const uint64_t rip = m.regs.rip;
    ASSERT_TRUE(m.run({0xf3, 0xa5}, mmio + 0x10).ok());  // count 0: nothing but RIP
    EXPECT_EQ(m.dev.log.size(), accesses);
    EXPECT_EQ(m.regs.rip, rip + 2);
}

TEST(MmioString, IterationCapLeavesRipForReexecution)
{
    Machine m;
    m.env.max_iterations = 10;
    m[Gpr::rax] = 0;
    m[Gpr::rdi] = mmio;
    m[Gpr::rcx] = 25;
    m.regs.rip = 0x500;
    ASSERT_TRUE(m.run({0xf3, 0x48, 0xab}, mmio).ok());
    EXPECT_EQ(m[Gpr::rcx], 15u);
    EXPECT_EQ(m.regs.rip, 0x500u);
    ASSERT_TRUE(m.run({0xf3, 0x48, 0xab}, mmio + 80).ok());
    ASSERT_TRUE(m.run({0xf3, 0x48, 0xab}, mmio + 160).ok());
    EXPECT_EQ(m[Gpr::rcx], 0u);
    EXPECT_EQ(m.regs.rip, 0x503u);
    EXPECT_EQ(m[Gpr::rdi], mmio + 200);
}

TEST(MmioString, AddressSizeSelectsCounterAndIndexWidth)
{
    Machine m;
    m.dev.put<uint32_t>(mmio, 0x01020304);
    m[Gpr::rcx] = 0xffffffff00000001ull;  // ECX = 1
    m[Gpr::rsi] = 0xabcd000000000000ull | mmio;
    m[Gpr::rdi] = 0x40000;
    ASSERT_TRUE(m.run({0x67, 0xf3, 0xa5}, mmio).ok());  // addr32 rep movsl
    EXPECT_EQ(m.ram.get<uint32_t>(0x40000), 0x01020304u);
    EXPECT_EQ(m[Gpr::rcx], 0u);  // ECX written: upper half cleared
    EXPECT_EQ(m[Gpr::rsi], mmio + 4);
    // 16-bit: CX counts, DI wraps at 64K; both keep their upper bits.
    Machine r(CpuMode::bits16);
    r.regs.seg_base[unsigned(Seg::es)] = 0x20000;
    r[Gpr::rdi] = 0x12340000 | 0xfffe;
    r[Gpr::rcx] = 0x55550002;
    r[Gpr::rax] = 0x7777;
    ASSERT_TRUE(r.run({0xf3, 0xab}, mmio).ok());  // rep stosw (here into RAM)
    EXPECT_EQ(r[Gpr::rcx], 0x55550000u);
    EXPECT_EQ(r[Gpr::rdi], 0x12340002u);
    EXPECT_EQ(r.ram.get<uint16_t>(0x2fffe), 0x7777u);
    EXPECT_EQ(r.ram.get<uint16_t>(0x20000), 0x7777u);
}

TEST(MmioString, PageFaultOnRamSideKeepsCompletedWork)
{
    Machine m;
    // Map linear 0x7fff000.. via 4K tables: PML4[0] → PDPT at 0x2000 (already
    // identity 1G) is replaced for this test by a 2M/4K tree at 0x3000.
    m.ram.put<uint64_t>(0x2000, 0x3000 | 7);      // PDPT[0] → PD
    m.ram.put<uint64_t>(0x3000 + 8 * 63, 0x4000 | 7);  // PD[63] (0x7e00000) → PT
    m.ram.put<uint64_t>(0x4000 + 8 * 511, 0x50000 | 7);  // PT[511]: 0x7fff000 → 0x50000; 0x8000000 is PD[64]: absent
    m.dev.put<uint64_t>(mmio, 0x1111111111111111ull);
    m.dev.put<uint64_t>(mmio + 8, 0x2222222222222222ull);
    m[Gpr::rsi] = mmio;
    m[Gpr::rdi] = 0x7fffff8;
    m[Gpr::rcx] = 2;
    auto st = m.run({0xf3, 0x48, 0xa5}, mmio);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, FaultKind::page_fault);
    EXPECT_EQ(st.error().address, 0x8000000u);
    EXPECT_EQ(st.error().error_code, pf_error::write);
    EXPECT_EQ(m.ram.get<uint64_t>(0x50ff8), 0x1111111111111111ull);  // first element done
    EXPECT_EQ(m[Gpr::rcx], 1u);
    EXPECT_EQ(m[Gpr::rsi], mmio + 8);
    EXPECT_EQ(m.regs.rip, 0u);
    EXPECT_EQ(m.dev.log.size(), 1u);  // the faulting element never read the device
}

TEST(MmioString, UserModeAndLockChecks)
{
    Machine m;
    m.ram.put<uint64_t>(0x2000, 0x83);  // 0..1G: supervisor-only 1G page
    m.regs.cpl = 3;
    m[Gpr::rsi] = 0x1000;
    m[Gpr::rdi] = mmio;
    auto st = m.run({0xa4}, mmio);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().kind, FaultKind::page_fault);
    EXPECT_EQ(st.error().error_code, pf_error::present | pf_error::user);
    EXPECT_EQ(m.run({0xf0, 0xa4}, mmio).error().kind, FaultKind::unsupported);
}
