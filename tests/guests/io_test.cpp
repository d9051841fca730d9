// Port I/O: unclaimed ports read as all ones at every size and ignore writes;
// string forms (REP OUTSB to the console, REP INSW/INSD from an unclaimed port)
// move the right data and update RSI/RDI/RCX; DF=1 walks backwards.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

int guest_main(uint32_t)
{
    constexpr uint16_t nothing = 0x2e0;  // no device behind it
    check(inb(nothing) == 0xff, "inb from an unclaimed port is 0xff");
    check(inw(nothing) == 0xffff, "inw from an unclaimed port is 0xffff");
    check(inl(nothing) == 0xffffffffu, "inl from an unclaimed port is all ones");
    outb(nothing, 1);
    outw(nothing, 2);
    outl(nothing, 3);

    // IN AL keeps RAX's upper bytes; IN EAX zero-extends.
    uint64_t rax = 0x1122334455667700ull;
    asm volatile("inb %w1, %%al" : "+a"(rax) : "d"(nothing));
    check(rax == 0x11223344556677ffull, "inb keeps the rest of RAX");
    rax = 0x1122334455667700ull;
    asm volatile("inl %w1, %%eax" : "+a"(rax) : "d"(nothing));
    check(rax == 0xffffffffull, "inl zero-extends into RAX");

    static const char msg[] = "console line written by rep outsb\n";
    const char* src = msg;
    uint64_t count = sizeof msg - 1;
    asm volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(uint16_t(0x3f8)) : "memory");
    check(count == 0 && src == msg + sizeof msg - 1, "rep outsb advanced RSI and cleared RCX");

    static uint16_t words[8];
    uint16_t* dst = words;
    count = 8;
    asm volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(nothing) : "memory");
    bool all = true;
    for (uint16_t w : words) all = all && w == 0xffff;
    check(all && dst == words + 8 && count == 0, "rep insw filled the buffer");

    static uint32_t dwords[4] = {0, 0, 0, 0};
    uint32_t* back = &dwords[3];
    count = 2;
    asm volatile("std; rep insl; cld" : "+D"(back), "+c"(count) : "d"(nothing) : "memory");
    check(dwords[3] == 0xffffffffu && dwords[2] == 0xffffffffu && dwords[1] == 0, "rep insd with DF=1 walks down");
    check(back == &dwords[1], "RDI moved down by two dwords");
    return verdict("io_test");
}
