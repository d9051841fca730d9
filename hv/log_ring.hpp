// The hypervisor log ring: every log line, whatever the console level, kept in
// a fixed byte ring so that `xl dmesg` can read the whole boot later. Oldest
// lines are dropped whole when the ring is full. Portable (host-tested).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/log.hpp"

namespace hv {

class LogRing {
public:
    constexpr LogRing(char* storage, size_t capacity) : buf_(storage), cap_(capacity) {}

    // Appends one line (a newline is added). Lines longer than the ring are
    // cut to fit.
    void append(lib::LogLevel level, const char* line);

    // Copies whole lines starting with sequence number `from_seq` (or the
    // oldest kept, if that one was dropped) into out, NUL-terminated. Each line
    // is "Ltext\n" where L is the level digit. Returns the sequence number
    // after the last line copied, so callers can read incrementally.
    uint64_t read(uint64_t from_seq, char* out, size_t out_cap, size_t* out_len) const;

    uint64_t first_seq() const { return first_seq_; }
    uint64_t next_seq() const { return next_seq_; }
    uint64_t dropped() const { return first_seq_; }

private:
    void push_byte(char c);
    void drop_oldest_line();
    size_t used() const { return tail_ - head_; }

    char* buf_;
    size_t cap_;
    uint64_t head_ = 0;  // monotonically increasing byte positions
    uint64_t tail_ = 0;
    uint64_t first_seq_ = 0;  // sequence number of the line at head_
    uint64_t next_seq_ = 0;
};

}  // namespace hv
