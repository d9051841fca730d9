// The APIC timer (SDM 10.5.4): one-shot and periodic countdown from the
// initial-count register at the bus clock divided by the divide
// configuration, and TSC-deadline mode (10.5.4.1).
//
// Time arrives as the guest TSC. Internally a point in time is a 128-bit
// count of units of 1/bus_hz TSC ticks: one TSC tick is bus_hz units and one
// timer input clock is tsc_hz units, so both clocks are exact and a periodic
// timer's n-th expiry is exactly anchor + n * period, with no rounding
// carried from one period into the next. The TSC value handed out is the
// first TSC tick at or after the exact expiry.
//
// Bounds (reset() clamps both frequencies to at most 2^40 Hz): a time is at
// most 2^64 * 2^40 units, a tick at most 128 * 2^40, a full count 2^79, so
// every product fits in 128 bits and every divisor in 64 (wide_div.hpp: no
// compiler 128-bit division in the kernel).
#include "hv/vlapic/vlapic.hpp"
#include "hv/vlapic/wide_div.hpp"

namespace hv::vlapic {
namespace {

u128 units(uint64_t tsc, const Config& c) { return u128(tsc) * c.bus_hz; }

// Units per timer tick (one count of the current-count register).
uint64_t tick_units(uint32_t dcr, const Config& c) { return uint64_t(divide::divisor(dcr)) * c.tsc_hz; }

}  // namespace

TimerMode Vlapic::timer_mode() const
{
    return TimerMode((lvt_[static_cast<unsigned>(Lvt::timer)] & lvt::timer_mode) >> lvt::timer_mode_shift);
}

void Vlapic::timer_stop()
{
    timer_armed_ = false;
    start_count_ = 0;
}

void Vlapic::timer_write_initial(uint32_t count, uint64_t now)
{
    // 10.5.4.1: ignored in TSC-deadline mode.
    if (timer_mode() == TimerMode::tsc_deadline) return;
    initial_count_ = count;
    // 10.5.4: writing the initial count (re)starts the countdown; 0 stops it.
    if (count == 0) {
        timer_stop();
        return;
    }
    timer_armed_ = true;
    start_count_ = count;
    anchor_ = units(now, cfg_);
}

void Vlapic::timer_write_divide(uint32_t dcr, uint64_t now)
{
    // A new divider applies from now on to the count that is left; the
    // fraction of the current tick is dropped (not architecturally defined).
    if (timer_armed_ && timer_mode() != TimerMode::tsc_deadline) {
        uint32_t left = timer_current(now);
        divide_ = dcr;
        if (left == 0) {
            timer_stop();
            return;
        }
        start_count_ = left;
        anchor_ = units(now, cfg_);
        return;
    }
    divide_ = dcr;
}

void Vlapic::timer_write_lvt(uint32_t new_lvt, uint64_t now)
{
    (void)now;
    bool was_deadline = timer_mode() == TimerMode::tsc_deadline;
    lvt_[static_cast<unsigned>(Lvt::timer)] = new_lvt;
    bool is_deadline = timer_mode() == TimerMode::tsc_deadline;
    // 10.5.4.1: a transition between TSC-deadline and the other modes
    // disarms the timer. One-shot <-> periodic keeps the countdown running.
    if (was_deadline != is_deadline) {
        timer_stop();
        initial_count_ = 0;
        tsc_deadline_ = 0;
    }
}

uint32_t Vlapic::timer_current(uint64_t now) const
{
    // 10.5.4.1: reads 0 in TSC-deadline mode.
    if (!timer_armed_ || timer_mode() == TimerMode::tsc_deadline) return 0;
    u128 n = units(now, cfg_);
    if (n <= anchor_) return start_count_;
    u128 ticks = wide_divmod(n - anchor_, tick_units(divide_, cfg_)).quot;
    if (ticks < start_count_) return uint32_t(start_count_ - uint32_t(ticks));
    if (timer_mode() == TimerMode::periodic && initial_count_) {
        uint64_t into = wide_divmod(ticks - start_count_, initial_count_).rem;
        return uint32_t(initial_count_ - uint32_t(into));
    }
    return 0;
}

uint64_t Vlapic::next_event() const
{
    if (mode_ == Mode::disabled) return never;
    uint32_t l = lvt_[static_cast<unsigned>(Lvt::timer)];
    if (l & lvt::masked) return never;  // still counts; nothing to deliver
    switch (timer_mode()) {
    case TimerMode::tsc_deadline: return tsc_deadline_ ? tsc_deadline_ : never;
    case TimerMode::one_shot:
    case TimerMode::periodic: {
        if (!timer_armed_) return never;
        u128 expiry = anchor_ + u128(start_count_) * tick_units(divide_, cfg_);
        u128 tsc = wide_divmod(expiry + cfg_.bus_hz - 1, cfg_.bus_hz).quot;
        return tsc >= never ? never - 1 : uint64_t(tsc);
    }
    case TimerMode::reserved: break;
    }
    return never;
}

void Vlapic::advance(uint64_t now)
{
    if (mode_ == Mode::disabled) return;
    switch (timer_mode()) {
    case TimerMode::tsc_deadline:
        // 10.5.4.1: the deadline fires once and the MSR reads 0 afterwards,
        // masked or not.
        if (tsc_deadline_ && now >= tsc_deadline_) {
            tsc_deadline_ = 0;
            local_interrupt(Lvt::timer);
        }
        return;
    case TimerMode::one_shot:
    case TimerMode::periodic: {
        if (!timer_armed_) return;
        u128 n = units(now, cfg_);
        uint64_t tick = tick_units(divide_, cfg_);
        u128 expiry = anchor_ + u128(start_count_) * tick;
        if (n < expiry) return;
        if (timer_mode() == TimerMode::periodic && initial_count_) {
            // Reload: the next period starts exactly at the expiry; periods
            // that passed unobserved are skipped (their interrupts would
            // have merged into the same IRR bit).
            // floor(x / (a*b)) == floor(floor(x / a) / b)
            u128 periods = wide_divmod(wide_divmod(n - expiry, tick).quot, initial_count_).quot;
            anchor_ = expiry + periods * initial_count_ * tick;
            start_count_ = initial_count_;
        } else {
            timer_stop();
        }
        local_interrupt(Lvt::timer);
        return;
    }
    case TimerMode::reserved: return;  // 11b: the timer does not run
    }
}

}  // namespace hv::vlapic
