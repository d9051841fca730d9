// Shared helpers for the vLAPIC tests: a Bus that records what it is handed,
// configurations, and register accessors that fail the test on an error.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "hv/vlapic/vlapic.hpp"

namespace vt {

using namespace hv::vlapic;

struct RecordingBus : Bus {
    std::vector<Ipi> ipis;
    std::vector<uint8_t> eois;
    void send_ipi(Vlapic&, const Ipi& ipi) override { ipis.push_back(ipi); }
    void eoi_broadcast(Vlapic&, uint8_t vector) override { eois.push_back(vector); }
};

inline Config config(uint32_t id = 0)
{
    Config c{};
    c.apic_id = id;
    c.bsp = id == 0;
    c.tsc_hz = 2500000000;  // 2.5 TSC ticks per timer input clock: not an integer ratio
    c.bus_hz = 1000000000;
    return c;
}

constexpr uint64_t xapic_base = default_base | apic_base::en;
constexpr uint64_t x2apic_base = default_base | apic_base::en | apic_base::extd;

inline uint32_t rd(Vlapic& a, uint32_t off, uint64_t now = 0)
{
    auto r = a.mmio_read(off, 4, now);
    EXPECT_TRUE(r.ok()) << std::hex << off;
    return r.ok() ? uint32_t(*r) : 0xdeadbeef;
}

inline void wr(Vlapic& a, uint32_t off, uint32_t v, uint64_t now = 0)
{
    EXPECT_TRUE(a.mmio_write(off, 4, v, now).ok()) << std::hex << off;
}

inline uint64_t rdmsr(Vlapic& a, uint32_t msr, uint64_t now = 0)
{
    auto r = a.read_msr(msr, now);
    EXPECT_TRUE(r.ok()) << std::hex << msr;
    return r.ok() ? *r : 0xdeadbeef;
}

inline void wrmsr(Vlapic& a, uint32_t msr, uint64_t v, uint64_t now = 0)
{
    EXPECT_TRUE(a.write_msr(msr, v, now).ok()) << std::hex << msr << " <- " << v;
}

inline bool gp_read(Vlapic& a, uint32_t msr) { return !a.read_msr(msr, 0).ok(); }
inline bool gp_write(Vlapic& a, uint32_t msr, uint64_t v) { return !a.write_msr(msr, v, 0).ok(); }

// Enabled by SVR, in xAPIC mode.
inline void enable_xapic(Vlapic& a) { wr(a, 0xf0, 0x1ff); }

inline void enable_x2apic(Vlapic& a)
{
    ASSERT_TRUE(a.write_apic_base(x2apic_base | (a.apic_base() & apic_base::bsp), 0).ok());
    wrmsr(a, 0x80f, 0x1ff);
}

}  // namespace vt
