#include "arch/x86_64/lapic.hpp"

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/ref_clock.hpp"
#include "lib/log.hpp"

namespace arch::lapic {
namespace {

// Register offsets in xAPIC MMIO; x2APIC MSR = 0x800 + offset / 16.
enum Reg : uint32_t {
    reg_id = 0x20,
    reg_tpr = 0x80,
    reg_eoi = 0xb0,
    reg_svr = 0xf0,
    reg_esr = 0x280,
    reg_icr_low = 0x300,
    reg_icr_high = 0x310,
    reg_lvt_timer = 0x320,
    reg_lvt_error = 0x370,
    reg_timer_initial = 0x380,
    reg_timer_current = 0x390,
    reg_timer_divide = 0x3e0,
};
constexpr uint64_t apic_base_enable = 1u << 11;
constexpr uint64_t apic_base_x2apic = 1u << 10;
constexpr uint32_t icr_pending = 1u << 12;
constexpr uint32_t icr_assert = 1u << 14;
constexpr uint32_t lvt_masked = 1u << 16;
constexpr uint32_t lvt_tsc_deadline = 2u << 17;

Mode apic_mode = Mode::xapic;
bool apic_ready = false;
volatile uint32_t* mmio = nullptr;
TimerInfo timer{};

uint32_t read(Reg r)
{
    if (apic_mode == Mode::x2apic) return uint32_t(rdmsr(0x800 + r / 16));
    return mmio[r / 4];
}
void write(Reg r, uint32_t v)
{
    if (apic_mode == Mode::x2apic) wrmsr(0x800 + r / 16, v);
    else mmio[r / 4] = v;
}

void enable_this_cpu()
{
    uint64_t base = rdmsr(msr::apic_base) | apic_base_enable;
    wrmsr(msr::apic_base, base);
    if (apic_mode == Mode::x2apic) wrmsr(msr::apic_base, base | apic_base_x2apic);
    write(reg_tpr, 0);
    write(reg_lvt_error, vector::lapic_error);
    write(reg_esr, 0);
    write(reg_svr, 0x100 | vector::spurious);  // software enable
    write(reg_lvt_timer, lvt_masked | vector::lapic_timer);
}

void error_interrupt(InterruptFrame&)
{
    write(reg_esr, 0);
    LOG_WARN("lapic: error interrupt, ESR %#x", read(reg_esr));
    eoi();
}

}  // namespace

lib::Status init_bsp(uint64_t madt_lapic_address)
{
    bool x2 = cpuid(1).ecx & (1u << 21);
    apic_mode = x2 ? Mode::x2apic : Mode::xapic;
    if (!x2) {
        uint64_t base = rdmsr(msr::apic_base) & 0x000ffffffffff000ull;
        if (base == 0) base = madt_lapic_address;
        mmio = static_cast<volatile uint32_t*>(TRY(map_mmio(base, 4096)));
    }
    enable_this_cpu();
    apic_ready = true;
    set_interrupt_handler(vector::lapic_error, error_interrupt);
    LOG_INFO("lapic: %s mode, BSP APIC ID %u", x2 ? "x2APIC" : "xAPIC", id());
    return {};
}

void init_ap() { enable_this_cpu(); }

Mode mode() { return apic_mode; }
bool ready() { return apic_ready; }

uint32_t id()
{
    uint32_t v = read(reg_id);
    return apic_mode == Mode::x2apic ? v : v >> 24;
}

void eoi() { write(reg_eoi, 0); }

void send_ipi(uint32_t apic_id, IpiKind kind, uint8_t vec)
{
    uint32_t low = uint32_t(kind) | vec | icr_assert;
    if (apic_mode == Mode::x2apic) {
        wrmsr(0x830, (uint64_t(apic_id) << 32) | low);
        return;  // x2APIC ICR writes have no delivery-status wait
    }
    write(reg_icr_high, apic_id << 24);
    write(reg_icr_low, low);
    for (int i = 0; i < 100000 && (read(reg_icr_low) & icr_pending); ++i) pause();
}

void send_nmi_all_but_self()
{
    constexpr uint32_t all_excluding_self = 3u << 18;
    uint32_t low = uint32_t(IpiKind::nmi) | icr_assert | all_excluding_self;
    if (apic_mode == Mode::x2apic) wrmsr(0x830, low);
    else write(reg_icr_low, low);
}

lib::Status calibrate_timer()
{
    timer.tsc_deadline = cpuid(1).ecx & (1u << 24);
    // CPUID 0x15: TSC = crystal * ebx / eax, exact when the crystal is given.
    uint64_t tsc_from_cpuid = 0;
    if (cpuid(0).eax >= 0x15) {
        auto c = cpuid(0x15);
        if (c.eax && c.ebx && c.ecx) tsc_from_cpuid = uint64_t(c.ecx) * c.ebx / c.eax;
    }
    // Measure TSC and LAPIC counts over the same interval of the reference.
    write(reg_timer_divide, 0xb);  // divide by 1
    write(reg_lvt_timer, lvt_masked | vector::lapic_timer);
    uint64_t ref_ns = 0, tsc0 = 0, tsc1 = 0;
    uint32_t apic0 = 0xffffffff, apic1 = 0;
    auto start = [&] {
        write(reg_timer_initial, 0xffffffff);
        tsc0 = rdtsc();
    };
    auto stop = [&] {
        tsc1 = rdtsc();
        apic1 = read(reg_timer_current);
    };
    constexpr uint64_t window_ns = 20'000'000;  // 20 ms
    if (ref_clock::pm_timer_available()) {
        timer.reference = "ACPI PM timer";
        ref_ns = ref_clock::pm_timer_measure(window_ns, start, stop);
    } else {
        timer.reference = "PIT";
        ref_ns = ref_clock::pit_measure(window_ns, start, stop);
    }
    if (ref_ns == 0) return lib::err(lib::Error::io);
    timer.tsc_hz = (tsc1 - tsc0) * 1'000'000'000ull / ref_ns;
    timer.lapic_hz = uint64_t(apic0 - apic1) * 1'000'000'000ull / ref_ns;
    if (tsc_from_cpuid) {
        timer.tsc_hz = tsc_from_cpuid;
        timer.reference = "CPUID 0x15 (TSC), ACPI PM timer/PIT (APIC)";
    }
    write(reg_timer_initial, 0);
    LOG_INFO("lapic: timer calibrated against %s: TSC %lu.%03lu MHz, APIC timer %lu.%03lu MHz%s", timer.reference,
             timer.tsc_hz / 1000000, timer.tsc_hz / 1000 % 1000, timer.lapic_hz / 1000000,
             timer.lapic_hz / 1000 % 1000, timer.tsc_deadline ? ", TSC-deadline" : ", one-shot");
    if (timer.tsc_hz == 0 || timer.lapic_hz == 0) return lib::err(lib::Error::io);
    return {};
}

const TimerInfo& timer_info() { return timer; }

void arm_oneshot(uint64_t ns, uint8_t vec)
{
    if (timer.tsc_deadline) {
        write(reg_lvt_timer, lvt_tsc_deadline | vec);
        // SDM 10.5.4.1: order the LVT write before the deadline MSR write.
        asm volatile("mfence" ::: "memory");
        wrmsr(msr::tsc_deadline, rdtsc() + ns * timer.tsc_hz / 1'000'000'000ull + 1);
        return;
    }
    write(reg_lvt_timer, vec);  // one-shot mode
    uint64_t count = ns * timer.lapic_hz / 1'000'000'000ull;
    if (count == 0) count = 1;
    if (count > 0xffffffff) count = 0xffffffff;
    write(reg_timer_initial, uint32_t(count));
}

void delay_us(uint64_t us)
{
    uint64_t hz = timer.tsc_hz ? timer.tsc_hz : 1'000'000'000ull;  // before calibration: assume 1 GHz
    uint64_t end = rdtsc() + us * hz / 1'000'000;
    while (rdtsc() < end) pause();
}

}  // namespace arch::lapic
