// Guest page-walk tests: each paging mode with its page sizes, and each #PF
// error-code bit (SDM Vol. 3A §4.7), against tables built in fake guest RAM.
// Also instruction fetch through the tables (page-crossing instructions).
#include <gtest/gtest.h>

#include "hv/x86/fetch.hpp"
#include "hv/x86/page_walk.hpp"
#include "tests/unit/x86/fake_guest.hpp"

using namespace hv::x86;
using x86test::FakeRam;

namespace {

constexpr uint64_t P = 1, W = 2, U = 4, A = 1u << 5, D = 1u << 6, PS = 1u << 7, XD = 1ull << 63;
constexpr Access rd{};
constexpr Access wr{.write = true};
constexpr Access urd{.user = true};
constexpr Access uwr{.write = true, .user = true};
constexpr Access fetch{.fetch = true};

// 4-level tables: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000.
//   0x0000_0000-0x0000_0fff  4K → 0x100000, user, writable
//   0x0000_1000-0x0000_1fff  4K → 0x101000, supervisor, read-only, XD
//   0x0020_0000-0x003f_ffff  2M → 0x200000, user, writable
//   0x4000_0000-0x7fff_ffff  1G → 0x40000000, user, read-only
//   0xffff_8000_0000_0000    → PDPT 0x14000 entry 0: 1G → 0, supervisor
struct Tables4 {
    FakeRam ram{4 << 20};
    Paging p;
    Tables4()
    {
        p.cr0 = cr0::pe | cr0::pg | cr0::wp;
        p.cr4 = cr4::pae;
        p.efer = efer::lme | efer::lma | efer::nxe;
        p.cr3 = 0x10000;
        ram.put<uint64_t>(0x10000, 0x11000 | P | W | U);
        ram.put<uint64_t>(0x10000 + 256 * 8, 0x14000 | P | W);
        ram.put<uint64_t>(0x11000, 0x12000 | P | W | U);
        ram.put<uint64_t>(0x11000 + 8, 0x40000000 | P | U | PS);
        ram.put<uint64_t>(0x12000, 0x13000 | P | W | U);
        ram.put<uint64_t>(0x12000 + 8, 0x200000 | P | W | U | PS);
        ram.put<uint64_t>(0x13000, 0x100000 | P | W | U);
        ram.put<uint64_t>(0x13000 + 8, 0x101000 | P | XD);
        ram.put<uint64_t>(0x14000, 0 | P | W | PS);
    }
    EmuResult<Translation> tr(uint64_t la, Access a, bool ad = false) { return translate(p, ram.phys(ad), la, a); }
};

uint32_t pf_code(const EmuResult<Translation>& r)
{
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, FaultKind::page_fault);
    return r.error().error_code;
}

}  // namespace

TEST(PageWalk, NoPagingIsIdentityBelow4G)
{
    FakeRam ram(4096);
    Paging p;
    auto r = translate(p, ram.phys(), 0x1234'5678'9abcull, wr);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->gpa, 0x5678'9abcu);
    EXPECT_EQ(paging_mode(p), PagingMode::none);
    EXPECT_EQ(ram.reads, 0u);
}

TEST(PageWalk, FourLevelPageSizes)
{
    Tables4 t;
    EXPECT_EQ(paging_mode(t.p), PagingMode::level4);
    auto a = t.tr(0x123, rd);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->gpa, 0x100123u);
    EXPECT_EQ(a->page_size, 4096u);
    EXPECT_TRUE(a->user);
    EXPECT_TRUE(a->writable);
    auto b = t.tr(0x2abcde, urd);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->gpa, 0x2abcdeu);
    EXPECT_EQ(b->page_size, 2u << 20);
    auto c = t.tr(0x40000000 + 0x12345678, urd);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->gpa, 0x40000000u + 0x12345678);
    EXPECT_EQ(c->page_size, 1u << 30);
    EXPECT_FALSE(c->writable);
    auto d = t.tr(0xffff800000001234ull, wr);  // upper half
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->gpa, 0x1234u);
}

TEST(PageWalk, NotPresentAtEachLevel)
{
    Tables4 t;
    // PML4E[1] absent (0x80_0000_0000), PDPTE[2] absent, PDE[2] absent, PTE[2] absent.
    EXPECT_EQ(pf_code(t.tr(0x8000000000ull, rd)), 0u);
    EXPECT_EQ(pf_code(t.tr(0x80000000ull, wr)), pf_error::write);
    EXPECT_EQ(pf_code(t.tr(0x400000ull, urd)), pf_error::user);
    auto r = t.tr(0x2000, uwr);
    EXPECT_EQ(pf_code(r), pf_error::write | pf_error::user);
    EXPECT_EQ(r.error().address, 0x2000u);
    // Instruction fetch: I/D set (PAE-format tables with NXE).
    EXPECT_EQ(pf_code(t.tr(0x2000, fetch)), pf_error::fetch);
}

TEST(PageWalk, AccessRights)
{
    Tables4 t;
    // User access to a supervisor page.
    EXPECT_EQ(pf_code(t.tr(0x1000, urd)), pf_error::present | pf_error::user);
    // Supervisor write to read-only: faults with CR0.WP, allowed without.
    EXPECT_EQ(pf_code(t.tr(0x1000, wr)), pf_error::present | pf_error::write);
    t.p.cr0 &= ~cr0::wp;
    EXPECT_TRUE(t.tr(0x1000, wr).ok());
    // User write to a read-only page faults regardless of WP.
    EXPECT_EQ(pf_code(t.tr(0x40000000, uwr)), pf_error::present | pf_error::write | pf_error::user);
    // XD: fetch faults with NXE, the bit is reserved without it.
    EXPECT_EQ(pf_code(t.tr(0x1000, fetch)), pf_error::present | pf_error::fetch);
    EXPECT_TRUE(t.tr(0x1000, rd).ok());
    t.p.efer &= ~efer::nxe;
    EXPECT_EQ(pf_code(t.tr(0x1000, rd)), pf_error::present | pf_error::reserved);
    EXPECT_EQ(pf_code(t.tr(0x1000, fetch)), pf_error::present | pf_error::reserved);  // no I/D without NXE/SMEP
}

TEST(PageWalk, SmepAndSmap)
{
    Tables4 t;
    EXPECT_TRUE(t.tr(0x0, fetch).ok());  // supervisor fetch from a user page
    t.p.cr4 |= cr4::smep;
    EXPECT_EQ(pf_code(t.tr(0x0, fetch)), pf_error::present | pf_error::fetch);
    EXPECT_TRUE(t.tr(0x0, rd).ok());
    t.p.cr4 |= cr4::smap;
    EXPECT_EQ(pf_code(t.tr(0x0, rd)), pf_error::present);
    EXPECT_EQ(pf_code(t.tr(0x0, wr)), pf_error::present | pf_error::write);
    EXPECT_TRUE(t.tr(0x0, Access{.ac = true}).ok());  // RFLAGS.AC overrides SMAP
    EXPECT_TRUE(t.tr(0x0, urd).ok());                   // user access unaffected
}

TEST(PageWalk, ReservedBits)
{
    {
        Tables4 t;  // PS in a PML4E
        t.ram.put<uint64_t>(0x10000, 0x11000 | P | W | U | PS);
        EXPECT_EQ(pf_code(t.tr(0x0, rd)), pf_error::present | pf_error::reserved);
    }
    {
        Tables4 t;  // 1G page with bit 13 set
        t.ram.put<uint64_t>(0x11000 + 8, 0x40000000 | P | U | PS | (1u << 13));
        EXPECT_EQ(pf_code(t.tr(0x40000000, rd)), pf_error::present | pf_error::reserved);
    }
    {
        Tables4 t;  // 2M page with bit 20 set; bit 12 (PAT) is fine
        t.ram.put<uint64_t>(0x12000 + 8, 0x200000 | P | W | U | PS | (1u << 12));
        EXPECT_TRUE(t.tr(0x200000, rd).ok());
        EXPECT_EQ(t.tr(0x200000, rd)->gpa, 0x200000u);
        t.ram.put<uint64_t>(0x12000 + 8, 0x200000 | P | W | U | PS | (1u << 20));
        EXPECT_EQ(pf_code(t.tr(0x200000, urd)), pf_error::present | pf_error::reserved | pf_error::user);
    }
    {
        Tables4 t;  // address bits above MAXPHYADDR
        t.p.maxphyaddr = 36;
        t.ram.put<uint64_t>(0x13000, 0x100000 | P | W | U | (1ull << 40));
        EXPECT_EQ(pf_code(t.tr(0x0, rd)), pf_error::present | pf_error::reserved);
        t.p.maxphyaddr = 46;
        auto r = t.tr(0x0, rd);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->gpa, (1ull << 40) | 0x100000);
        // Bits 62:52 are ignored in IA-32e paging.
        t.ram.put<uint64_t>(0x13000, 0x100000 | P | (0x7ffull << 52));
        EXPECT_TRUE(t.tr(0x0, rd).ok());
    }
}

TEST(PageWalk, NonCanonicalIsGeneralProtection)
{
    Tables4 t;
    auto r = t.tr(0x0000800000000000ull, rd);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, FaultKind::general_protection);
}

TEST(PageWalk, AccessedAndDirtyBits)
{
    Tables4 t;
    ASSERT_TRUE(t.tr(0x10, rd, true).ok());
    EXPECT_TRUE(t.ram.get<uint64_t>(0x10000) & A);
    EXPECT_TRUE(t.ram.get<uint64_t>(0x13000) & A);
    EXPECT_FALSE(t.ram.get<uint64_t>(0x13000) & D);
    ASSERT_TRUE(t.tr(0x10, wr, true).ok());
    EXPECT_TRUE(t.ram.get<uint64_t>(0x13000) & D);
    EXPECT_FALSE(t.ram.get<uint64_t>(0x12000) & D);  // D only on the leaf
    // A faulting walk sets nothing; without cmpxchg nothing is written.
    ASSERT_TRUE(t.tr(0x200000, wr, false).ok());
    EXPECT_FALSE(t.ram.get<uint64_t>(0x12000 + 8) & A);
}

TEST(PageWalk, TablesOutsideRamAreBusErrors)
{
    Tables4 t;
    t.ram.put<uint64_t>(0x13000, 0x100000 | P);
    t.ram.put<uint64_t>(0x12000, 0x80000000ull | P | W);  // PT beyond RAM
    auto r = t.tr(0x0, rd);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, FaultKind::bus_error);
}

TEST(PageWalk, FiveLevel)
{
    Tables4 t;
    t.p.cr4 |= cr4::la57;
    t.p.cr3 = 0x15000;
    t.ram.put<uint64_t>(0x15000 + 8, 0x10000 | P | W | U);  // PML5E[1] → the PML4
    EXPECT_EQ(paging_mode(t.p), PagingMode::level5);
    auto r = t.tr((1ull << 48) | 0x2abcde, rd);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->gpa, 0x2abcdeu);
    EXPECT_EQ(pf_code(t.tr(0x2abcde, rd)), 0u);  // PML5E[0] absent
    // 57-bit canonical: bit 56 extends upward.
    EXPECT_EQ(t.tr(0x0100000000000000ull, rd).error().kind, FaultKind::general_protection);
}

TEST(PageWalk, Pae)
{
    FakeRam ram(4 << 20);
    Paging p;
    p.cr0 = cr0::pe | cr0::pg | cr0::wp;
    p.cr4 = cr4::pae;
    p.efer = efer::nxe;
    p.cr3 = 0x3020;  // 32-byte aligned PDPT
    ram.put<uint64_t>(0x3020 + 8 * 1, 0x4000 | P);  // PDPTE[1]: 0x4000_0000-0x7fff_ffff
    ram.put<uint64_t>(0x4000, 0x5000 | P | W | U);
    ram.put<uint64_t>(0x4000 + 8, 0x200000 | P | W | PS);
    ram.put<uint64_t>(0x5000 + 8 * 3, 0x7000 | P | W | U | XD);
    EXPECT_EQ(paging_mode(p), PagingMode::pae);
    auto a = translate(p, ram.phys(), 0x40003123, urd);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->gpa, 0x7123u);
    auto b = translate(p, ram.phys(), 0x40212345, wr);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->gpa, 0x212345u);
    EXPECT_EQ(b->page_size, 2u << 20);
    EXPECT_EQ(translate(p, ram.phys(), 0x40003000, fetch).error().error_code, pf_error::present | pf_error::fetch);
    EXPECT_EQ(translate(p, ram.phys(), 0x3000, rd).error().error_code, 0u);  // PDPTE[0] absent
    // PDPTE reserved bits (2:1) and XD in a PDPTE.
    ram.put<uint64_t>(0x3020 + 8 * 1, 0x4000 | P | W);
    EXPECT_EQ(translate(p, ram.phys(), 0x40003123, rd).error().error_code, pf_error::present | pf_error::reserved);
    ram.put<uint64_t>(0x3020 + 8 * 1, 0x4000 | P | XD);
    EXPECT_EQ(translate(p, ram.phys(), 0x40003123, rd).error().error_code, pf_error::present | pf_error::reserved);
    // Upper linear bits are not part of a 32-bit address.
    ram.put<uint64_t>(0x3020 + 8 * 1, 0x4000 | P);
    EXPECT_EQ(translate(p, ram.phys(), 0xffffffff40003123ull, rd)->gpa, 0x7123u);
}

TEST(PageWalk, ThirtyTwoBit)
{
    FakeRam ram(4 << 20);
    Paging p;
    p.cr0 = cr0::pe | cr0::pg;
    p.cr3 = 0x1000;
    p.maxphyaddr = 36;
    ram.put<uint32_t>(0x1000 + 4 * 1, 0x2000 | P | W | U);
    ram.put<uint32_t>(0x2000 + 4 * 5, 0x5000 | P | W | U);
    ram.put<uint32_t>(0x1000 + 4 * 2, 0x00c00000 | P | W | PS);
    ram.put<uint32_t>(0x1000 + 4 * 3, 0x00400000 | (0x5u << 13) | P | PS);  // PSE-36: phys bits 35:32 = 5
    ram.put<uint32_t>(0x1000 + 4 * 4, 0x00400000 | (1u << 21) | P | PS);   // bit 21 reserved
    EXPECT_EQ(paging_mode(p), PagingMode::bits32);
    auto a = translate(p, ram.phys(), (1u << 22) | (5u << 12) | 0x123, uwr);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->gpa, 0x5123u);
    // Without CR4.PSE, PS is ignored: PDE[2] points at a "page table" at
    // 0xc00000, outside guest RAM.
    EXPECT_EQ(translate(p, ram.phys(), (2u << 22) | 0x12345, rd).error().kind, FaultKind::bus_error);
    p.cr4 = cr4::pse;
    auto b = translate(p, ram.phys(), (2u << 22) | 0x12345, rd);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->gpa, 0xc12345u);
    EXPECT_EQ(b->page_size, 4u << 20);
    auto c = translate(p, ram.phys(), (3u << 22) | 0x10, rd);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->gpa, 0x500400010ull);
    EXPECT_EQ(translate(p, ram.phys(), (4u << 22), rd).error().error_code, pf_error::present | pf_error::reserved);
    // User access to a supervisor 4M page; no XD in 32-bit paging, so no I/D bit without SMEP.
    EXPECT_EQ(translate(p, ram.phys(), (2u << 22), urd).error().error_code, pf_error::present | pf_error::user);
    EXPECT_EQ(translate(p, ram.phys(), (9u << 22), fetch).error().error_code, 0u);
    p.cr4 |= cr4::smep;
    EXPECT_EQ(translate(p, ram.phys(), (9u << 22), fetch).error().error_code, pf_error::fetch);
    // A/D through 4-byte cmpxchg.
    ASSERT_TRUE(translate(p, ram.phys(true), (1u << 22) | (5u << 12), wr).ok());
    EXPECT_EQ(ram.get<uint32_t>(0x2000 + 4 * 5) & (A | D), A | D);
}

TEST(Fetch, InstructionAcrossPages)
{
    Tables4 t;
    // cpuid at the last byte of page 0 and the first of page 1 (0x1000 is a
    // supervisor XD page: a supervisor fetch faults with I/D).
    t.ram.put<uint8_t>(0x100fff, 0x0f);
    t.ram.put<uint8_t>(0x101000, 0xa2);
    Regs regs;
    regs.rip = 0xfff;
    auto r = fetch_and_decode(regs, t.p, t.ram.phys());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, FaultKind::page_fault);
    EXPECT_EQ(r.error().address, 0x1000u);
    EXPECT_EQ(r.error().error_code, pf_error::present | pf_error::fetch);
    // Executable second page: decodes across the boundary.
    t.ram.put<uint64_t>(0x13000 + 8, 0x101000 | P);
    auto r2 = fetch_and_decode(regs, t.p, t.ram.phys());
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->op, Op::cpuid);
    EXPECT_EQ(r2->length, 2);
    // A short instruction at the end of a page does not need the next one.
    t.ram.put<uint64_t>(0x13000 + 8, 0);
    t.ram.put<uint8_t>(0x100fff, 0xf4);
    auto r3 = fetch_and_decode(regs, t.p, t.ram.phys());
    ASSERT_TRUE(r3.ok());
    EXPECT_EQ(r3->op, Op::hlt);
    // Nothing fetchable at RIP.
    regs.rip = 0x2000;
    EXPECT_EQ(fetch_and_decode(regs, t.p, t.ram.phys()).error().error_code, pf_error::fetch);
}

TEST(Fetch, SegmentedModesAndUserMode)
{
    FakeRam ram(1 << 20);
    const uint8_t code[] = {0x66, 0x0f, 0x01, 0xd9};  // (66) vmmcall
    for (unsigned i = 0; i < sizeof code; ++i) ram.put<uint8_t>(0xf0010 + i, code[i]);
    Paging real;  // paging off
    Regs regs;
    regs.mode = CpuMode::bits16;
    regs.seg_base[unsigned(Seg::cs)] = 0xf0000;
    regs.rip = 0x10;
    auto r = fetch_and_decode(regs, real, ram.phys());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->op, Op::vmmcall);
    EXPECT_EQ(r->length, 4);
    uint8_t buf[15];
    auto n = fetch_insn_bytes(regs, real, ram.phys(), buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 15u);
    EXPECT_EQ(buf[3], 0xd9);
    // Code outside RAM.
    regs.seg_base[unsigned(Seg::cs)] = 0x200000;
    EXPECT_EQ(fetch_and_decode(regs, real, ram.phys()).error().kind, FaultKind::bus_error);

    // User-mode fetch from a supervisor page.
    Tables4 t;
    t.ram.put<uint8_t>(0x101000, 0x90);
    t.ram.put<uint64_t>(0x13000 + 8, 0x101000 | P);
    Regs u;
    u.rip = 0x1000;
    u.cpl = 3;
    EXPECT_EQ(fetch_and_decode(u, t.p, t.ram.phys()).error().error_code,
              pf_error::present | pf_error::user | pf_error::fetch);
}
