// Guest FPU/SSE state is per vCPU: three vCPUs (two of them share a physical
// CPU whenever there are fewer than three) each load their own pattern into
// XMM0-XMM7 and MXCSR, then keep checking them across many time slices while
// the others do the same. A hypervisor that does not switch x87/SSE state
// between vCPUs fails this at once.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

extern "C" void guest_ap_main(uint32_t index);

namespace {
volatile uint32_t failures_seen;
volatile uint32_t finished;
volatile uint32_t go;

void enable_sse()
{
    uint64_t cr0, cr4;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~(1ull << 2)) | (1ull << 1);  // EM off, MP on
    asm volatile("mov %0, %%cr0" : : "r"(cr0));
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= (1u << 9) | (1u << 10);  // OSFXSR, OSXMMEXCPT
    asm volatile("mov %0, %%cr4" : : "r"(cr4));
}

// Loads XMM0-7 with a pattern derived from `id`, then checks them `rounds`
// times with busy waits in between (long enough to be preempted).
bool hold_pattern(uint32_t id, int rounds)
{
    alignas(16) static uint64_t want[4][16];
    alignas(16) static uint64_t got[4][16];
    for (int i = 0; i < 16; ++i) want[id][i] = 0x0101010101010101ull * (id + 1) + uint64_t(i);
    uint32_t mxcsr = 0x1f80 | (id << 13);  // rounding control differs per vCPU
    asm volatile("ldmxcsr %0" : : "m"(mxcsr));
    const uint64_t* w = want[id];
    asm volatile("movdqu 0(%0), %%xmm0; movdqu 16(%0), %%xmm1; movdqu 32(%0), %%xmm2; movdqu 48(%0), %%xmm3;"
                 "movdqu 64(%0), %%xmm4; movdqu 80(%0), %%xmm5; movdqu 96(%0), %%xmm6; movdqu 112(%0), %%xmm7"
                 :
                 : "r"(w)
                 : "memory");  // no XMM clobbers: this code is built without SSE, so nothing else uses them
    bool ok = true;
    for (int r = 0; r < rounds && ok; ++r) {
        busy_wait_us(3000);
        uint64_t* g = got[id];
        asm volatile("movdqu %%xmm0, 0(%0); movdqu %%xmm1, 16(%0); movdqu %%xmm2, 32(%0); movdqu %%xmm3, 48(%0);"
                     "movdqu %%xmm4, 64(%0); movdqu %%xmm5, 80(%0); movdqu %%xmm6, 96(%0); movdqu %%xmm7, 112(%0)"
                     :
                     : "r"(g)
                     : "memory");
        uint32_t now;
        asm volatile("stmxcsr %0" : "=m"(now));
        for (int i = 0; i < 16; ++i) ok &= got[id][i] == want[id][i];
        ok &= (now & ~0x3fu) == (mxcsr & ~0x3fu);
    }
    return ok;
}
}  // namespace

void guest_ap_main(uint32_t index)
{
    ap_started();
    enable_sse();
    while (!go) asm volatile("pause");
    if (!hold_pattern(index, 20)) __atomic_fetch_add(&failures_seen, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

int guest_main(uint32_t)
{
    uint32_t n = (cpuid(1).b >> 16) & 0xff;
    check(n == 3, "three vCPUs");
    enable_sse();
    check(start_aps(n) == n - 1, "APs started");
    go = 1;
    check(hold_pattern(0, 20), "vCPU 0 kept its XMM registers and MXCSR");
    while (finished < n - 1) asm volatile("pause");
    check(failures_seen == 0, "every AP kept its XMM registers and MXCSR");
    return verdict("fpu_test");
}
