// Wall-clock time: the CMOS RTC read once at boot, then the TSC (invariant,
// synchronised across CPUs) since that reading. Guests get it through
// kvm-clock's wall clock, Dom0 through system_info.
#pragma once

#include <cstdint>

namespace hv {

// After the TSC is calibrated. century_index: the FADT's CMOS century byte.
void init_wall_clock(uint8_t century_index);
// Nanoseconds since 1970 (UTC), 0 if the RTC could not be read.
uint64_t wall_clock_ns();

}  // namespace hv
