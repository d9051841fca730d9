// 128-by-64-bit division for the timer's time arithmetic. Written out here
// because the compiler's own (__udivti3 / __umodti3 in libgcc) is built for
// user space: it uses the red zone and SSE registers, neither of which the
// kernel may touch (-mno-red-zone -mno-sse).
#pragma once

#include <cstdint>

namespace hv::vlapic {

using u128 = unsigned __int128;

struct WideDiv {
    u128 quot;
    uint64_t rem;
};

// Portable reference: schoolbook division, one quotient bit per step for the
// low half. A zero divisor gives an all-ones quotient instead of a trap.
constexpr WideDiv wide_divmod_generic(u128 n, uint64_t d)
{
    if (d == 0) return {~u128(0), 0};
    uint64_t hi = uint64_t(n >> 64), lo = uint64_t(n);
    uint64_t qhi = hi / d, r = hi % d, qlo = 0;
    for (int i = 63; i >= 0; --i) {
        bool carry = r >> 63;
        r = (r << 1) | ((lo >> i) & 1);
        if (carry || r >= d) {
            r -= d;
            qlo |= 1ull << i;
        }
    }
    return {(u128(qhi) << 64) | qlo, r};
}

// Fast path: the high half with 64-bit division, then DIV on (rem:low),
// whose quotient fits in 64 bits because rem < d.
inline WideDiv wide_divmod(u128 n, uint64_t d)
{
#if defined(__x86_64__)
    if (d == 0) return {~u128(0), 0};
    uint64_t hi = uint64_t(n >> 64), lo = uint64_t(n);
    uint64_t qhi = hi / d, r = hi % d, qlo;
    asm("divq %[d]" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), [d] "rm"(d) : "cc");
    return {(u128(qhi) << 64) | qlo, r};
#else
    return wide_divmod_generic(n, d);
#endif
}

}  // namespace hv::vlapic
