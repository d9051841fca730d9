// Directed-yield benchmark guest: all vCPUs contend on one test-and-set spin
// lock (PAUSE in the wait loop), each doing a fixed number of critical
// sections with work inside, so a lock holder is often preempted while its
// siblings spin. The BSP prints the completion time in guest TSC ticks
// (instructions under QEMU -icount) as `bench: spinlock_ticks <n>` and checks
// that no increment was lost.
#include "tests/guests/runtime/guest.hpp"

using namespace guest;

extern "C" void guest_ap_main(uint32_t index);

namespace {
constexpr uint32_t rounds = 300;
uint32_t work = 3000;  // per critical section; `work=N` on the module command line
volatile uint32_t lock_word;
volatile uint64_t shared_count;
volatile uint32_t go;
volatile uint32_t done;

void acquire()
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (lock_word) asm volatile("pause");
}
void release() { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

void contend()
{
    for (uint32_t r = 0; r < rounds; ++r) {
        acquire();
        uint64_t c = shared_count;
        for (uint32_t i = 0; i < work; ++i) asm volatile("" : "+r"(c));  // work inside the lock
        shared_count = c + 1;
        release();
    }
    __atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
}
}  // namespace

void guest_ap_main(uint32_t)
{
    ap_started();
    while (!go) asm volatile("pause");
    contend();
}

int guest_main(uint32_t mbi)
{
    // Multiboot info: flags bit 2 -> command line at offset 16.
    auto* info = reinterpret_cast<const uint32_t*>(uint64_t(mbi));
    if (info[0] & 4) {
        const char* c = reinterpret_cast<const char*>(uint64_t(info[4]));
        for (; *c; ++c)
            if (c[0] == 'w' && c[1] == 'o' && c[2] == 'r' && c[3] == 'k' && c[4] == '=') {
                uint32_t v = 0;
                for (c += 5; *c >= '0' && *c <= '9'; ++c) v = v * 10 + uint32_t(*c - '0');
                if (v) work = v;
                break;
            }
    }
    uint32_t n = (cpuid(1).b >> 16) & 0xff;
    if (n < 2) n = 1;
    uint32_t up = n > 1 ? start_aps(n) : 0;
    check(up == n - 1, "every AP started");
    uint64_t t0 = rdtsc();
    go = 1;
    contend();
    while (done < n) asm volatile("pause");
    uint64_t ticks = rdtsc() - t0;
    print("bench: spinlock_ticks %lu\n", ticks);
    check(shared_count == uint64_t(rounds) * n, "no increment lost under the lock");
    return verdict("spinlock_bench");
}
