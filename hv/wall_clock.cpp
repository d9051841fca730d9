#include "hv/wall_clock.hpp"

#include "arch/x86_64/cmos_rtc.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/lapic.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {
uint64_t base_unix_ns;  // at base_tsc
uint64_t base_tsc;
}  // namespace

void init_wall_clock(uint8_t century_index)
{
    auto t = arch::cmos::read_unix_time(century_index);
    if (!t.ok() || *t < 0) {
        LOG_WARN("clock: no usable CMOS RTC (%s): guests' wall clock starts at 1970",
                 t.ok() ? "before 1970" : lib::error_name(t.error()));
        return;
    }
    base_tsc = arch::rdtsc();
    base_unix_ns = uint64_t(*t) * 1'000'000'000ull;
    LOG_INFO("clock: RTC says %lu s since 1970 (UTC)", uint64_t(*t));
}

uint64_t wall_clock_ns()
{
    if (!base_unix_ns) return 0;
    uint64_t hz = arch::lapic::timer_info().tsc_hz;
    uint64_t d = arch::rdtsc() - base_tsc;
    return base_unix_ns + d / hz * 1'000'000'000ull + d % hz * 1'000'000'000ull / hz;
}

}  // namespace hv
