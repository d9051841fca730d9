// A guest's CMOS real-time clock (Motorola MC146818A, as the PC's chipset
// has it): the index port 0x70 (bit 7: the NMI mask, stored) and data port
// 0x71. The time registers (0, 2, 4, 6-9 and the century at 0x32) show the
// wall clock in BCD or binary and 12- or 24-hour form as status B says
// (the formats of arch/x86_64/cmos_rtc.hpp); status A's update-in-progress
// bit is set for the last 244 us of each second; writing the time
// registers sets the clock (held while status B's SET bit is on), and the
// rest of the 128 bytes is battery-backed RAM. No interrupts: the
// periodic, alarm and update-ended flags of status C stay 0 and IRQ 8 is
// never raised.
//
// Portable, host-tested: time comes in as the caller's nanoseconds, and
// the wall clock at 0 as set_clock().
#pragma once

#include <cstdint>

namespace vmm::devices {

class CmosRtc {
public:
    CmosRtc();
    // Unix time in ns when the caller's clock read 0.
    void set_clock(int64_t wall_at_zero_ns) { offset_ns_ = wall_at_zero_ns; }
    // Port offset 0 (0x70) or 1 (0x71).
    uint8_t read(unsigned offset, uint64_t now);
    void write(unsigned offset, uint8_t value, uint64_t now);
    uint8_t index() const { return index_; }
    bool nmi_masked() const { return nmi_masked_; }
    int64_t unix_seconds(uint64_t now) const;

private:
    uint8_t time_reg(unsigned reg, int64_t secs) const;
    void set_time_reg(unsigned reg, uint8_t value, uint64_t now);
    uint8_t encode(unsigned v) const;

    __int128 offset_ns_ = 0;  // wide: a guest may set any year up to 9999
    uint8_t index_ = 0;
    bool nmi_masked_ = false;
    int64_t held_secs_ = 0;  // the time while status B's SET bit holds it
    uint8_t ram_[128] = {};
};

}  // namespace vmm::devices
