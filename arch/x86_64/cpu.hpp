// Thin wrappers for privileged x86-64 instructions. Kernel only.
#pragma once

#include <cstdint>

namespace arch {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v)
{
    asm volatile("wrmsr" : : "c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory");
}

struct CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0)
{
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline uint64_t rdtsc()
{
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}

#define HV_CR_ACCESSORS(n)                                                  \
    inline uint64_t read_cr##n()                                            \
    {                                                                       \
        uint64_t v;                                                         \
        asm volatile("mov %%cr" #n ", %0" : "=r"(v));                       \
        return v;                                                           \
    }                                                                       \
    inline void write_cr##n(uint64_t v) { asm volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
HV_CR_ACCESSORS(0)
HV_CR_ACCESSORS(2)
HV_CR_ACCESSORS(3)
HV_CR_ACCESSORS(4)
#undef HV_CR_ACCESSORS

inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void halt() { asm volatile("hlt" ::: "memory"); }
inline void pause() { asm volatile("pause"); }
inline void invlpg(const void* va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }
inline uint64_t read_flags()
{
    uint64_t f;
    asm volatile("pushfq; popq %0" : "=r"(f));
    return f;
}
inline uint64_t read_rbp()
{
    uint64_t v;
    asm volatile("mov %%rbp, %0" : "=r"(v));
    return v;
}

[[noreturn]] inline void halt_forever()
{
    for (;;) {
        cli();
        halt();
    }
}

// MSR numbers used by the core (SDM Vol. 4).
namespace msr {
inline constexpr uint32_t apic_base = 0x1b;
inline constexpr uint32_t tsc_deadline = 0x6e0;
inline constexpr uint32_t efer = 0xc0000080;
inline constexpr uint32_t fs_base = 0xc0000100;
inline constexpr uint32_t gs_base = 0xc0000101;
inline constexpr uint32_t kernel_gs_base = 0xc0000102;
inline constexpr uint32_t pat = 0x277;
}  // namespace msr

}  // namespace arch
