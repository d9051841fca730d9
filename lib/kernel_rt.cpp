// The few runtime symbols g++ expects from a freestanding environment:
// memory primitives (the compiler emits calls to them) and C++ ABI hooks.
// Kernel and Dom0 builds only; the host build uses the C library.
#include <cstddef>
#include <cstdint>

extern "C" {

// Quadwords first, then the bytes left: as fast as REP MOVSB where the CPU
// has fast strings, and 8 times fewer iterations where it has not (an
// emulator runs each iteration on its own: building a 256 MiB Linux domain
// under QEMU TCG spent seconds in REP STOSB/MOVSB).
void* memcpy(void* dst, const void* src, size_t n)
{
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    size_t q = n / 8, r = n % 8;
    asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
    asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(r) : : "memory");
    return dst;
}

void* memmove(void* dst, const void* src, size_t n)
{
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    if (d == s || n == 0) return dst;
    if (d < s || d >= s + n) return memcpy(dst, src, n);
    // Overlap with dst above src: copy backwards.
    d += n - 1;
    s += n - 1;
    asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void* memset(void* dst, int c, size_t n)
{
    auto* d = static_cast<unsigned char*>(dst);
    uint64_t pattern = uint64_t(uint8_t(c)) * 0x0101010101010101ull;
    size_t q = n / 8, r = n % 8;
    asm volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(pattern) : "memory");
    asm volatile("rep stosb" : "+D"(d), "+c"(r) : "a"(pattern) : "memory");
    return dst;
}

int memcmp(const void* a, const void* b, size_t n)
{
    auto* x = static_cast<const unsigned char*>(a);
    auto* y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char* s)
{
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

// A pure virtual call is a bug; stop loudly rather than jump through null.
[[noreturn]] void rt_panic(const char* fmt, ...);
void __cxa_pure_virtual() { rt_panic("pure virtual function called"); }

}  // extern "C"

// Deleting destructors of polymorphic classes reference operator delete even
// when nothing is deleted through them. Objects are never freed this way.
void operator delete(void*, size_t) noexcept { rt_panic("operator delete called"); }
void operator delete(void*) noexcept { rt_panic("operator delete called"); }
