#include "tests/guests/runtime/guest.hpp"

#include <cstdarg>

#include "lib/format.hpp"

extern "C" {
volatile uint64_t guest_resume_rip;
volatile uint64_t guest_last_vector;
volatile uint64_t guest_last_error;
volatile uint64_t guest_exception_count;
volatile uint64_t guest_irq_count;
volatile uint64_t guest_nmi_count;
volatile uint64_t guest_apic_irq_count;
volatile uint64_t guest_nmi_count_in_handler;

void guest_exit(uint32_t value)
{
    guest::outl(0xf4, value);
    for (;;) asm volatile("cli; hlt");
}

// Stubs from start.S.
#define STUB(n) void exc_stub_##n();
STUB(0) STUB(1) STUB(2) STUB(3) STUB(4) STUB(5) STUB(6) STUB(7) STUB(8) STUB(9) STUB(10) STUB(11) STUB(12)
STUB(13) STUB(14) STUB(15) STUB(16) STUB(17) STUB(18) STUB(19) STUB(20) STUB(21)
#undef STUB
void irq_stub_40();
void nmi_stub();
void irq_stub_41();

struct __attribute__((packed)) IdtEntry {
    uint16_t off0, sel;
    uint8_t ist, attr;
    uint16_t off1;
    uint32_t off2, zero;
};
IdtEntry guest_idt[0x42];

void guest_load_idt();
// Guests that start APs define their own.
__attribute__((weak)) void guest_ap_main(uint32_t) {}
void guest_install_idt_ap() { guest_load_idt(); }

void guest_install_idt()
{
    void (*stubs[22])() = {exc_stub_0,  exc_stub_1,  exc_stub_2,  exc_stub_3,  exc_stub_4,  exc_stub_5,
                           exc_stub_6,  exc_stub_7,  exc_stub_8,  exc_stub_9,  exc_stub_10, exc_stub_11,
                           exc_stub_12, exc_stub_13, exc_stub_14, exc_stub_15, exc_stub_16, exc_stub_17,
                           exc_stub_18, exc_stub_19, exc_stub_20, exc_stub_21};
    for (int i = 0; i < 22; ++i) {
        auto a = reinterpret_cast<uint64_t>(stubs[i]);
        guest_idt[i] = {uint16_t(a), 0x08, 0, 0x8e, uint16_t(a >> 16), uint32_t(a >> 32), 0};
    }
    auto nmi = reinterpret_cast<uint64_t>(nmi_stub);
    guest_idt[2] = {uint16_t(nmi), 0x08, 0, 0x8e, uint16_t(nmi >> 16), uint32_t(nmi >> 32), 0};
    auto irq = reinterpret_cast<uint64_t>(irq_stub_40);
    guest_idt[0x40] = {uint16_t(irq), 0x08, 0, 0x8e, uint16_t(irq >> 16), uint32_t(irq >> 32), 0};
    auto apic = reinterpret_cast<uint64_t>(irq_stub_41);
    guest_idt[0x41] = {uint16_t(apic), 0x08, 0, 0x8e, uint16_t(apic >> 16), uint32_t(apic >> 32), 0};
    guest_load_idt();
}

void guest_load_idt()
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr{sizeof guest_idt - 1, reinterpret_cast<uint64_t>(guest_idt)};
    asm volatile("lidt %0" : : "m"(idtr));
}

// The freestanding runtime bits the compiler may call.
void* memcpy(void* d, const void* s, unsigned long n)
{
    auto* dd = static_cast<char*>(d);
    auto* ss = static_cast<const char*>(s);
    while (n--) *dd++ = *ss++;
    return d;
}
void* memset(void* d, int c, unsigned long n)
{
    auto* dd = static_cast<char*>(d);
    while (n--) *dd++ = char(c);
    return d;
}
}

extern "C" const char guest_ap_trampoline[], guest_ap_trampoline_end[];

namespace guest {
namespace {
int failures;

void putc(char c)
{
    for (int i = 0; i < 100000 && !(inb(0x3fd) & 0x20); ++i) {
    }
    outb(0x3f8, uint8_t(c));
}
}  // namespace

void print(const char* fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    lib::vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (const char* p = buf; *p; ++p) putc(*p);
}

void check(bool ok, const char* what)
{
    if (ok) return;
    ++failures;
    print("FAIL: %s\n", what);
}

namespace {
volatile uint32_t aps_started;
}

void busy_wait_us(uint64_t us)
{
    uint64_t khz = cpuid(0x40000010).a;
    uint64_t end = rdtsc() + us * (khz ? khz : 1000000) / 1000;
    while (rdtsc() < end) {
    }
}

uint32_t start_aps(uint32_t count)
{
    constexpr uint64_t trampoline = 0x8000;
    memcpy(reinterpret_cast<void*>(trampoline), guest_ap_trampoline,
           static_cast<unsigned long>(guest_ap_trampoline_end - guest_ap_trampoline));
    wrmsr(0x1b, rdmsr(0x1b) | (1u << 10));
    wrmsr(0x80f, 0x1ff);
    for (uint32_t ap = 1; ap < count; ++ap) {
        auto icr = [&](uint32_t low) { wrmsr(0x830, (uint64_t(ap) << 32) | low); };
        icr(0x4500);  // INIT, level assert
        busy_wait_us(10000);
        icr(0x4600 | uint32_t(trampoline >> 12));  // SIPI, twice (SDM 8.4.4.1)
        busy_wait_us(200);
        icr(0x4600 | uint32_t(trampoline >> 12));
    }
    uint64_t khz = cpuid(0x40000010).a;
    uint64_t deadline = rdtsc() + 5000 * (khz ? khz : 1000000);
    while (aps_started < count - 1 && rdtsc() < deadline) asm volatile("pause");
    return aps_started;
}

void ap_started() { __atomic_fetch_add(&aps_started, 1, __ATOMIC_SEQ_CST); }

int verdict(const char* name)
{
    if (failures == 0) print("PASS %s\n", name);
    else print("FAIL %s: %d check(s) failed\n", name, failures);
    return failures ? 1 : 0;
}

}  // namespace guest
