// MMIO emulation through the test device at 0xfe000000: every width of MOV,
// MOVZX/MOVSX, the ALU forms with their flags, TEST/CMP, XCHG, BT/BTS, and
// the string forms (REP MOVSB RAM->MMIO->RAM, REP STOSD) — each checked for
// the value and, via the device's access counter, that it really reached the
// device rather than RAM.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

namespace {
volatile uint8_t* const dev = reinterpret_cast<volatile uint8_t*>(0xfe000000ull);
template <typename T> volatile T& reg(unsigned off) { return *reinterpret_cast<volatile T*>(dev + off); }
uint64_t accesses() { return reg<uint64_t>(0xff8); }
uint64_t flags_of(uint64_t f) { return f & 0x8d5; }  // CF PF AF ZF SF OF
}  // namespace

int guest_main(uint32_t)
{
    uint64_t a0 = accesses();
    reg<uint8_t>(0x00) = 0x81;
    reg<uint16_t>(0x02) = 0x8002;
    reg<uint32_t>(0x04) = 0x80000003u;
    reg<uint64_t>(0x08) = 0x8000000000000004ull;
    check(reg<uint8_t>(0x00) == 0x81, "8-bit write/read");
    check(reg<uint16_t>(0x02) == 0x8002, "16-bit write/read");
    check(reg<uint32_t>(0x04) == 0x80000003u, "32-bit write/read");
    check(reg<uint64_t>(0x08) == 0x8000000000000004ull, "64-bit write/read");
    check(accesses() - a0 == 9, "eight accesses reached the device (plus the counter read)");

    uint32_t zx, sx;
    asm volatile("movzbl (%1), %0" : "=r"(zx) : "r"(dev) : "memory");
    asm volatile("movsbl (%1), %0" : "=r"(sx) : "r"(dev) : "memory");
    check(zx == 0x81 && sx == 0xffffff81u, "movzx/movsx byte");
    asm volatile("movswl 2(%1), %0" : "=r"(sx) : "r"(dev) : "memory");
    check(sx == 0xffff8002u, "movsx word");

    reg<uint32_t>(0x10) = 0xf0f0f0f0u;
    uint64_t f;
    asm volatile("andl $0x0ff00ff0, 0x10(%1); pushfq; popq %0" : "=r"(f) : "r"(dev) : "memory", "cc");
    check(reg<uint32_t>(0x10) == 0x00f000f0u && !(f & 0x40), "and to MMIO, ZF clear");
    asm volatile("orl $0x1, 0x10(%1); xorl $0x00f000f1, 0x10(%1); pushfq; popq %0" : "=r"(f) : "r"(dev)
                 : "memory", "cc");
    check(reg<uint32_t>(0x10) == 0 && (f & 0x40), "or then xor to zero, ZF set");

    reg<uint32_t>(0x14) = 5;
    asm volatile("cmpl $7, 0x14(%1); pushfq; popq %0" : "=r"(f) : "r"(dev) : "memory", "cc");
    // 5 - 7 = 0xfffffffe: borrow (CF), nibble borrow (AF), negative (SF);
    // low byte 0xfe has seven 1 bits, so PF is clear.
    check(flags_of(f) == 0x091, "cmp 5,7: CF AF SF set, PF ZF OF clear");
    asm volatile("testb $0x80, (%1); pushfq; popq %0" : "=r"(f) : "r"(dev) : "memory", "cc");
    check((f & 0x40) == 0 && (f & 0x80), "test 0x81&0x80: ZF clear, SF set");

    uint32_t x = 0x12345678;
    asm volatile("xchgl %0, 0x18(%1)" : "+r"(x) : "r"(dev) : "memory");
    check(reg<uint32_t>(0x18) == 0x12345678u && x == 0, "xchg register with MMIO");

    reg<uint32_t>(0x1c) = 0;
    asm volatile("btsl $5, 0x1c(%1); btl $5, 0x1c(%1); pushfq; popq %0" : "=r"(f) : "r"(dev) : "memory", "cc");
    check(reg<uint32_t>(0x1c) == 0x20 && (f & 1), "bts then bt: bit set, CF set");

    static char src[] = "string through the device";
    static char back[sizeof src];
    const char* s = src;
    volatile uint8_t* d = dev + 0x100;
    uint64_t n = sizeof src;
    asm volatile("cld; rep movsb" : "+S"(s), "+D"(d), "+c"(n) : : "memory");
    s = reinterpret_cast<const char*>(0xfe000100ull);
    char* o = back;
    n = sizeof src;
    asm volatile("cld; rep movsb" : "+S"(s), "+D"(o), "+c"(n) : : "memory");
    check(__builtin_memcmp(src, back, sizeof src) == 0, "rep movsb RAM -> MMIO -> RAM");

    volatile uint8_t* st = dev + 0x200;
    n = 16;
    uint64_t before = accesses();
    asm volatile("cld; rep stosl" : "+D"(st), "+c"(n) : "a"(0xa5a5a5a5u) : "memory");
    check(reg<uint32_t>(0x200) == 0xa5a5a5a5u && reg<uint32_t>(0x23c) == 0xa5a5a5a5u, "rep stosd into MMIO");
    check(accesses() - before >= 16, "each stosd element reached the device");
    return verdict("mmio_test");
}
