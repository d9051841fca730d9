// A set of physical CPUs (hard affinity, xl vcpu-pin): one bit per CPU index,
// up to 256 CPUs. A plain value type: constexpr, no allocation.
#pragma once

#include <bit>
#include <cstdint>

namespace hv::sched {

inline constexpr unsigned max_cpus = 256;

class CpuMask {
public:
    static constexpr unsigned words = max_cpus / 64;

    constexpr CpuMask() = default;

    // CPUs 0..count-1 (count clamped to max_cpus).
    static constexpr CpuMask first_n(unsigned count)
    {
        CpuMask m;
        for (unsigned c = 0; c < count && c < max_cpus; ++c) m.set(c);
        return m;
    }
    static constexpr CpuMask single(unsigned cpu)
    {
        CpuMask m;
        m.set(cpu);
        return m;
    }

    constexpr void set(unsigned cpu)
    {
        if (cpu < max_cpus) w_[cpu / 64] |= uint64_t(1) << (cpu % 64);
    }
    constexpr void clear(unsigned cpu)
    {
        if (cpu < max_cpus) w_[cpu / 64] &= ~(uint64_t(1) << (cpu % 64));
    }
    constexpr bool test(unsigned cpu) const { return cpu < max_cpus && (w_[cpu / 64] >> (cpu % 64)) & 1; }

    constexpr bool empty() const
    {
        for (uint64_t w : w_)
            if (w) return false;
        return true;
    }
    constexpr unsigned count() const
    {
        unsigned n = 0;
        for (uint64_t w : w_) n += unsigned(std::popcount(w));
        return n;
    }
    // True if no bit at or above `cpu_count` is set.
    constexpr bool within(unsigned cpu_count) const
    {
        for (unsigned i = 0; i < words; ++i) {
            unsigned lo = i * 64;
            if (cpu_count >= lo + 64) continue;
            uint64_t allowed = cpu_count <= lo ? 0 : (uint64_t(1) << (cpu_count - lo)) - 1;
            if (w_[i] & ~allowed) return false;
        }
        return true;
    }
    // Lowest set CPU at or above `from`, or max_cpus if none.
    constexpr unsigned next(unsigned from) const
    {
        for (unsigned i = from / 64; i < words && from < max_cpus; ++i) {
            uint64_t w = w_[i];
            if (i == from / 64) w &= ~uint64_t(0) << (from % 64);
            if (w) return i * 64 + unsigned(std::countr_zero(w));
        }
        return max_cpus;
    }
    constexpr unsigned first() const { return next(0); }

    constexpr uint64_t word(unsigned i) const { return i < words ? w_[i] : 0; }

    friend constexpr bool operator==(const CpuMask&, const CpuMask&) = default;

private:
    uint64_t w_[words] = {};
};

}  // namespace hv::sched
