// Deterministic fuzzing of the decoder, the MMIO emulator and the page walker
// (label unit; the libFuzzer target in tests/fuzz/ explores further). 200,000
// random byte strings, biased towards prefixes, escapes and VEX-like bytes,
// each decoded from a heap buffer of exactly its length so ASan reports any
// read past it. Invariants: a result is ok with 1 <= length <= min(len, 15),
// or one of truncated / out_of_range / invalid consistent with the buffer;
// decoding exactly `length` bytes gives the same instruction; one byte fewer
// is truncated. Decoded instructions are then run through the MMIO emulator
// against fakes, and random paging structures through the walker: nothing may
// crash or trip a sanitizer.
#include <gtest/gtest.h>

#include <memory>

#include "hv/x86/decoder.hpp"
#include "hv/x86/fetch.hpp"
#include "hv/x86/mmio_emulator.hpp"
#include "hv/x86/page_walk.hpp"
#include "tests/unit/x86/fake_guest.hpp"

using namespace hv::x86;
using x86test::Rng;

namespace {

constexpr uint8_t interesting[] = {0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36,
                                   0x40, 0x48, 0x4f, 0x0f, 0x38, 0x3a, 0xc4, 0xc5, 0x62, 0x8f, 0x0f};

std::vector<uint8_t> random_insn(Rng& rng)
{
    const size_t len = 1 + rng.below(20);  // sometimes longer than 15
    std::vector<uint8_t> b(len);
    for (size_t i = 0; i < len; ++i)
        b[i] = rng.below(3) == 0 ? interesting[rng.below(sizeof interesting)] : static_cast<uint8_t>(rng.next());
    if (rng.below(16) == 0) {  // a long run of legacy prefixes: the 15-byte limit
        b.resize(15 + rng.below(6));
        const size_t run = 10 + rng.below(8);
        for (size_t i = 0; i < run && i < b.size(); ++i) b[i] = interesting[rng.below(11)];
    }
    return b;
}

lib::Result<Insn> decode_exact(const uint8_t* src, size_t len, CpuMode mode)
{
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
    for (size_t i = 0; i < len; ++i) buf[i] = src[i];
    return decode(len ? buf.get() : nullptr, len, mode);
}

constexpr CpuMode modes[] = {CpuMode::bits16, CpuMode::bits32, CpuMode::bits64};

}  // namespace

TEST(DecoderFuzz, RandomBytesKeepInvariants)
{
    Rng rng(0x5eed0001);
    unsigned okc = 0, trunc = 0, toolong = 0, inval = 0;
    for (int iter = 0; iter < 200000; ++iter) {
        std::vector<uint8_t> b = random_insn(rng);
        const CpuMode mode = modes[iter % 3];
        auto r = decode_exact(b.data(), b.size(), mode);
        if (r.ok()) {
            ++okc;
            ASSERT_GE(r->length, 1);
            ASSERT_LE(r->length, 15);
            ASSERT_LE(r->length, b.size());
            ASSERT_TRUE(r->operand_size == 1 || r->operand_size == 2 || r->operand_size == 4 || r->operand_size == 8);
            ASSERT_TRUE(r->address_size == 2 || r->address_size == 4 || r->address_size == 8);
            auto exact = decode_exact(b.data(), r->length, mode);
            ASSERT_TRUE(exact.ok());
            ASSERT_EQ(exact->length, r->length);
            ASSERT_EQ(exact->op, r->op);
            ASSERT_EQ(exact->imm, r->imm);
            ASSERT_EQ(exact->mem.disp, r->mem.disp);
            ASSERT_EQ(decode_exact(b.data(), r->length - 1u, mode).error(), lib::Error::truncated);
        } else {
            switch (r.error()) {
            case lib::Error::truncated: ++trunc; ASSERT_LT(b.size(), 15u); break;
            case lib::Error::out_of_range: ++toolong; ASSERT_GE(b.size(), 15u); break;
            case lib::Error::invalid: ++inval; break;
            default: FAIL() << "unexpected error " << lib::error_name(r.error());
            }
        }
    }
    // The generator must exercise every outcome.
    EXPECT_GT(okc, 100000u);
    EXPECT_GT(trunc, 1000u);
    EXPECT_GT(toolong, 100u);
    EXPECT_GT(inval, 1000u);
}

TEST(DecoderFuzz, EmulatorNeverCrashesOnDecodedGarbage)
{
    Rng rng(0x5eed0002);
    x86test::FakeRam ram(1 << 20);
    x86test::FakeDevice dev(0xfee00000, 4096);
    unsigned emulated = 0;
    for (int iter = 0; iter < 100000; ++iter) {
        std::vector<uint8_t> b = random_insn(rng);
        const CpuMode mode = modes[iter % 3];
        auto r = decode_exact(b.data(), b.size(), mode);
        if (!r.ok()) continue;
        Regs regs;
        regs.mode = mode;
        for (auto& g : regs.gpr) g = rng.below(4) ? rng.next() & 0xfffff : rng.next();
        regs.rflags = rng.next() & 0xfd5;
        regs.rip = rng.next() & 0xffff;
        MmioEnv env;
        env.gpa = 0xfee00000 + rng.below(4096);
        env.bus = dev.bus();
        env.ram = ram.phys();
        env.max_iterations = 64;
        if (emulate_mmio(*r, regs, env).ok()) ++emulated;
    }
    EXPECT_GT(emulated, 1000u);
}

TEST(DecoderFuzz, PageWalkerNeverCrashesOnRandomTables)
{
    Rng rng(0x5eed0003);
    x86test::FakeRam ram(64 * 4096);
    for (auto& byte : ram.bytes) byte = static_cast<uint8_t>(rng.next());
    // Bias entries towards pointing back into the RAM so walks go deep.
    for (size_t off = 0; off < ram.bytes.size(); off += 8) {
        if (rng.below(2)) {
            uint64_t e = (rng.below(64) * 4096ull) | (rng.next() & 0x1ff) | 1;
            if (rng.below(4) == 0) e |= rng.next() & 0xfff0000000000000ull;
            ram.put<uint64_t>(off, e);
        }
    }
    unsigned translated = 0, faults = 0;
    for (int iter = 0; iter < 100000; ++iter) {
        Paging p;
        p.cr0 = cr0::pg | cr0::pe | (rng.below(2) ? cr0::wp : 0);
        p.cr4 = rng.next() & (cr4::pse | cr4::pae | cr4::la57 | cr4::smep | cr4::smap);
        p.efer = rng.next() & (efer::lma | efer::lme | efer::nxe);
        p.cr3 = rng.below(64) * 4096ull | (rng.next() & 0xfe0);
        p.maxphyaddr = static_cast<uint8_t>(rng.below(60));
        Access a{.write = rng.below(2) != 0, .user = rng.below(2) != 0, .fetch = rng.below(4) == 0, .ac = rng.below(2) != 0};
        auto r = translate(p, ram.phys(iter & 1), rng.next(), a);
        if (r.ok()) ++translated;
        else ++faults;
        // Instruction fetch through the same tables.
        Regs regs;
        regs.mode = modes[iter % 3];
        regs.rip = rng.next();
        regs.cpl = rng.below(2) ? 3 : 0;
        (void)fetch_and_decode(regs, p, ram.phys());
    }
    EXPECT_GT(translated, 100u);
    EXPECT_GT(faults, 100u);
}
