// The hypervisor console: log lines go to the log ring (all levels) and to the
// serial console (levels up to the configured threshold).
#pragma once

#include <cstddef>
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
// Dom0's shell takes the serial line over: from now on only warnings and
// errors of the hypervisor log appear there as they happen (the rest is in
// the log ring, for xl dmesg), so the shell is not buried in log lines.
void hand_line_to_dom0();
// Dom0's console on the same line: its output (not kept in the log ring)
// and the bytes typed on the serial line.
void write_dom0(const char* s, size_t n);
bool input_ready();
// LogRing::read under the console lock.
uint64_t read_log(uint64_t from_seq, char* out, size_t cap, size_t* len);
size_t read_input(char* buf, size_t cap);

}  // namespace hv::console
