// The hypervisor console: log lines go to the log ring (all levels) and to the
// serial console (levels up to the configured threshold).
#pragma once

#include <cstdint>

#include "hv/log_ring.hpp"
#include "lib/log.hpp"

namespace hv::console {

// Early console on COM1 at 115200 before the command line is parsed.
void init_early();
// Reconfigure from `console=`: port base 0 means no serial console.
void configure(uint16_t port_base, uint32_t baud);
void set_level(lib::LogLevel level);
LogRing& ring();
// Raw write to the serial line, bypassing the ring (panic path).
void write_raw(const char* s);

}  // namespace hv::console
