// Control-register rules as the CPU applies them, through the hypervisor's
// CR0/CR4 write exits: legal changes stick (TS via CLTS and MOV, WP, MP via
// LMSW, CR4.OSFXSR); illegal ones raise #GP(0) and change nothing: CR0 bits
// 63:32, NW without CD, clearing PG in 64-bit mode, CR4.VMXE (not offered),
// a reserved CR4 bit, clearing CR4.PAE in IA-32e mode, CR4.PCIDE with CR3[11:0]
// non-zero.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
uint64_t cr0()
{
    uint64_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
uint64_t cr4()
{
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
int set_cr0(uint64_t v) { return GUEST_FAULT_OF("mov %0, %%cr0", "r"(v)); }
int set_cr4(uint64_t v) { return GUEST_FAULT_OF("mov %0, %%cr4", "r"(v)); }
}  // namespace

int guest_main(uint32_t)
{
    uint64_t c0 = cr0(), c4 = cr4();
    print("CR0 %#lx CR4 %#lx\n", c0, c4);

    check(set_cr0(c0 | (1u << 3)) == -1 && (cr0() & (1u << 3)), "MOV sets CR0.TS");
    asm volatile("clts");
    check(!(cr0() & (1u << 3)), "CLTS clears CR0.TS");
    check(set_cr0(c0 & ~(1ull << 16)) == -1 && !(cr0() & (1u << 16)), "CR0.WP can be cleared");
    check(set_cr0(c0) == -1 && (cr0() & (1u << 16)) == (c0 & (1u << 16)), "and restored");
    uint16_t msw = uint16_t(cr0() | 2);
    asm volatile("lmsw %0" : : "r"(msw));
    check(cr0() & 2, "LMSW sets CR0.MP");

    uint64_t before = cr0();
    check(set_cr0(before | (1ull << 40)) == 13 && guest_last_error == 0, "CR0 bit 40 -> #GP(0)");
    check(set_cr0((before | (1u << 29)) & ~(1ull << 30)) == 13, "CR0.NW without CD -> #GP");
    check(set_cr0(before & ~(1ull << 31)) == 13, "clearing CR0.PG in 64-bit mode -> #GP");
    check(cr0() == before, "CR0 unchanged after refused writes");

    check(set_cr4(c4 | (1u << 9)) == -1 && (cr4() & (1u << 9)), "CR4.OSFXSR set");
    check(set_cr4(c4 | (1u << 13)) == 13, "CR4.VMXE (not offered) -> #GP");
    check(set_cr4(c4 | (1ull << 31)) == 13, "reserved CR4 bit 31 -> #GP");
    check(set_cr4(cr4() & ~(1ull << 5)) == 13, "clearing CR4.PAE in IA-32e mode -> #GP");
    uint64_t cr3;
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    if (cpuid(1).c & (1u << 17)) {  // PCID offered
        bool low_bits = cr3 & 0xfff;
        if (!low_bits) print("CR3[11:0] is 0: PCIDE may be set here\n");
        else check(set_cr4(cr4() | (1u << 17)) == 13, "CR4.PCIDE with CR3[11:0] != 0 -> #GP");
    }
    check((cr4() & ((1u << 13) | (1ull << 31))) == 0, "CR4 unchanged by refused writes");
    return verdict("cr_test");
}
