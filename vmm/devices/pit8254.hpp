// The PC's 8254 programmable interval timer (Intel 8254 datasheet, order
// 231164): three counters at 0x40-0x42 and the control word at 0x43, clocked
// at 1.193182 MHz. Counter 0's OUT is ISA IRQ 0; counter 2's gate and OUT
// are reached through port 0x61 (the owner wires that port).
//
// Counting is computed from time, not stepped: a counter remembers when its
// count was loaded, and its count and OUT at any later time follow from the
// mode. Modes 0-5 (6 and 7 are 2 and 3), binary and BCD counts, the access
// modes (LSB, MSB, LSB then MSB), the counter latch command and the
// read-back command (count and status). Approximations: a new count in
// mode 2 or 3 restarts the counter at once instead of at the end of the
// current period; mode 3 with an odd count is shown counting down by two
// from the count itself. A counter with no control word written reads 0
// with its status showing "null count", and its OUT is high (as a counter
// the firmware left in mode 2 or 3: programming one of those modes gives
// IRQ 0 no stray edge).
//
// Portable, host-tested: time comes in as PIT ticks (ticks()) on every call
// that can observe it.
#pragma once

#include <cstdint>

namespace vmm::devices {

class Pit8254 {
public:
    static constexpr uint64_t hz = 1193182;
    static constexpr uint64_t never = ~0ull;
    // PIT input clocks since 0 at `ns` nanoseconds, and the first
    // nanosecond at which `ticks` have passed.
    static uint64_t ticks(uint64_t ns) { return uint64_t((unsigned __int128)ns * hz / 1000000000u); }
    static uint64_t ns_at(uint64_t ticks)
    {
        return uint64_t(((unsigned __int128)ticks * 1000000000u + hz - 1) / hz);
    }

    // Offset 0-2: the counters; 3: the control word (reads 0xff).
    uint8_t read(unsigned offset, uint64_t now);
    void write(unsigned offset, uint8_t value, uint64_t now);

    // Counter `ch`'s gate (counters 0 and 1 are tied high on a PC).
    void set_gate(unsigned ch, bool level, uint64_t now);
    bool gate(unsigned ch) const { return ch < 3 && ch_[ch].gate; }
    bool out(unsigned ch, uint64_t now) const;
    // The first rising edge of counter `ch`'s OUT strictly after `after`,
    // or never.
    uint64_t next_rising_edge(unsigned ch, uint64_t after) const;

    // State for tests and the owner.
    uint8_t mode(unsigned ch) const { return ch < 3 ? ch_[ch].mode : 0; }
    uint32_t reload(unsigned ch) const { return ch < 3 ? ch_[ch].reload : 0; }
    uint16_t count(unsigned ch, uint64_t now) const;

private:
    struct Channel {
        bool programmed = false;  // a control word was written
        uint8_t rw = 3;           // access: 1 LSB, 2 MSB, 3 LSB then MSB
        uint8_t mode = 0;
        bool bcd = false;
        uint32_t reload = 0;  // the count loaded: 1-65536 (1-10000 in BCD)
        bool loaded = false;  // a count was written since the control word
        bool counting = false;  // loaded and (modes 1, 5) triggered
        uint64_t start = 0;   // tick at which it started counting
        uint64_t frozen = 0;  // elapsed ticks while the gate holds it (modes 0, 4)
        bool gate = true;
        bool write_msb = false;  // the next write of an LSB-then-MSB count is its MSB
        uint8_t write_lsb = 0;
        bool read_msb = false;   // the next read of an LSB-then-MSB value is its MSB
        bool latched = false;
        uint16_t latch = 0;
        bool status_latched = false;
        uint8_t status = 0;
    };
    uint64_t elapsed(const Channel& c, uint64_t now) const;
    bool held(const Channel& c) const;  // gate low stops counting in this mode
    uint16_t count_of(const Channel& c, uint64_t now) const;
    bool out_of(const Channel& c, uint64_t now) const;
    void control(uint8_t value, uint64_t now);
    void load(Channel& c, uint32_t raw, uint64_t now);
    uint8_t read_value(Channel& c, uint16_t v, bool latched);

    Channel ch_[3];
};

}  // namespace vmm::devices
