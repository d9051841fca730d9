// The paravirtual clock Linux knows as kvm-clock (Documentation/virt/kvm/
// x86/msr.rst): a guest writes the guest-physical address of a per-vCPU
// pvclock_vcpu_time_info to MSR 0x4b564d01 and of a pvclock_wall_clock to
// MSR 0x4b564d00; the hypervisor fills them in. With it, a guest knows the
// TSC frequency exactly (no calibration against a PIT or PM timer that an
// emulated, loaded machine cannot keep steady) and the wall-clock time
// without an RTC. hv offers it through the KVM CPUID leaves at 0x40000100
// (cpuid_policy.cpp), next to its own at 0x40000000, as Xen does with
// Viridian.
//
// hv's guest TSC is the host TSC plus one per-domain offset and runs at a
// constant rate, so one set of parameters (time 0 at guest TSC 0) holds for
// the life of the domain and every vCPU: the structure is written once per
// MSR write and never updated, with PVCLOCK_TSC_STABLE_BIT set.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::pvclock {

inline constexpr uint32_t msr_wall_clock = 0x4b564d00;   // MSR_KVM_WALL_CLOCK_NEW
inline constexpr uint32_t msr_system_time = 0x4b564d01;  // MSR_KVM_SYSTEM_TIME_NEW
inline constexpr uint64_t system_time_enable = 1;        // bit 0 of the system-time MSR

inline constexpr uint8_t flag_tsc_stable = 1u << 0;  // PVCLOCK_TSC_STABLE_BIT

struct VcpuTimeInfo {
    uint32_t version;  // odd while the hypervisor updates the rest
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;  // ns at tsc_timestamp
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};
static_assert(sizeof(VcpuTimeInfo) == 32);
static_assert(offsetof(VcpuTimeInfo, tsc_timestamp) == 8);
static_assert(offsetof(VcpuTimeInfo, system_time) == 16);
static_assert(offsetof(VcpuTimeInfo, tsc_to_system_mul) == 24);
static_assert(offsetof(VcpuTimeInfo, tsc_shift) == 28);
static_assert(offsetof(VcpuTimeInfo, flags) == 29);

struct WallClock {
    uint32_t version;
    uint32_t sec;  // wall-clock time at system time 0
    uint32_t nsec;
};
static_assert(sizeof(WallClock) == 12);

// ns = ((tsc_delta << shift, or >> -shift) * mul) >> 32.
struct Scale {
    uint32_t mul;
    int8_t shift;
};

// The scale for a TSC running at tsc_hz (0: {0, 0}, a clock that stands
// still rather than a division by zero).
constexpr Scale scale_for(uint64_t tsc_hz)
{
    if (tsc_hz == 0) return {0, 0};
    // Bring tsc_hz * 2^shift into (1e9, 2e9], so that mul = 2^32 * 1e9 /
    // (tsc_hz * 2^shift) lies in [2^31, 2^32): all 32 bits of precision.
    const uint64_t ns = 1'000'000'000;
    uint64_t den = tsc_hz;
    int shift = 0;
    while (den > 2 * ns) {
        den >>= 1;
        --shift;
    }
    while (den <= ns) {
        den <<= 1;
        ++shift;
    }
    return {uint32_t((ns << 32) / den), int8_t(shift)};
}

// What a guest computes from the structure (for tests).
constexpr uint64_t scaled_ns(uint64_t delta, Scale s)
{
    delta = s.shift >= 0 ? delta << s.shift : delta >> -s.shift;
    // 64x32 multiply, high part first, so that it does not overflow.
    return ((delta >> 32) * s.mul) + (((delta & 0xffffffffull) * s.mul) >> 32);
}

constexpr VcpuTimeInfo time_info(uint64_t tsc_hz)
{
    Scale s = scale_for(tsc_hz);
    return {.version = 2, .pad0 = 0, .tsc_timestamp = 0, .system_time = 0, .tsc_to_system_mul = s.mul,
            .tsc_shift = s.shift, .flags = flag_tsc_stable, .pad = {0, 0}};
}

}  // namespace hv::pvclock
