// The legacy ISA interrupt controller and timer of the Multiboot test
// platform: the 8259A pair (0x20/0x21, 0xA0/0xA1, ELCR 0x4D0/0x4D1), the
// 8254 PIT (0x40-0x43) with its counter 0 on IRQ 0, and port 0x61 (system
// control port B: counter 2's gate and speaker enable, the refresh toggle
// and counter 2's OUT) and the CMOS RTC (0x70/0x71), as a kernel written
// for QEMU's -kernel finds them.
// The Linux PC platform has none of these (hardware-reduced ACPI).
//
// Interrupt delivery: the pair's INT output goes to vCPU 0 as an ExtINT
// with the vector the pair answers. The pair is acknowledged when the
// vector is handed to hv, not when the vCPU takes it (an approximation: a
// guest that masks the IRQ in between still gets the vector, where real
// hardware would give it a spurious IRQ 7). hv holds one such vector at a
// time; while it holds one, the request stays in the PIC's IRR and
// update() is retried after retry_ns.
//
// Time: the PIT runs from the caller's clock in nanoseconds. update() moves
// counter 0 to `now`, latching IRQ 0 if its OUT rose since the last call;
// several rises in between coalesce into one request (as on hardware while
// IRR is set), and update() asks to be called again at the next rise, but
// no sooner than min_interval_ns after now; and the pair's interrupts are
// handed over at most once per min_interval_ns (an EOI that unblocks the
// next request waits out the rest of it). A PIT programmed for a tiny
// period thus gives at most 10,000 interrupts a second, leaving the guest
// time between handlers and Dom0's device-model thread time for others. While IRQ 0 is masked or already requested
// no wakeup is asked for: the next access to these ports catches up.
//
// Portable, host-tested.
#pragma once

#include <cstdint>

#include "vmm/devices/cmos_rtc.hpp"
#include "vmm/devices/pic8259.hpp"
#include "vmm/devices/pit8254.hpp"

namespace vmm::platform {

// Where the PIC's vector goes: false while the previous one is not yet taken.
class ExtIntSink {
public:
    virtual bool extint(uint8_t vector) = 0;

protected:
    ~ExtIntSink() = default;
};

class LegacyIsa {
public:
    static constexpr uint64_t never = ~0ull;
    static constexpr uint64_t min_interval_ns = 100'000;
    static constexpr uint64_t retry_ns = 1'000'000;

    // true if `port` is one of these devices' (a read's answer in `value`;
    // one byte, wider accesses give 0xff in the upper bytes).
    bool port(uint16_t port, unsigned size, bool in, uint32_t& value, uint64_t now_ns);
    // Moves time to `now_ns` and offers a pending interrupt to `sink`.
    // Returns when to call it again (absolute ns), or never.
    uint64_t update(uint64_t now_ns, ExtIntSink& sink);

    devices::DualPic& pic() { return pic_; }
    devices::Pit8254& pit() { return pit_; }
    devices::CmosRtc& rtc() { return rtc_; }

private:
    void advance(uint64_t now_ns);

    devices::DualPic pic_;
    devices::Pit8254 pit_;
    devices::CmosRtc rtc_;
    uint64_t last_tick_ = 0;
    uint64_t last_delivery_ns_ = 0;
    uint8_t port61_ = 0;  // bits 0-3 as written
};

}  // namespace vmm::platform
