#include "vmm/platform/legacy_isa.hpp"

namespace vmm::platform {
namespace {

constexpr uint16_t pit_base = 0x40, port_b = 0x61;
// Port B bit 4 toggles with every DRAM refresh request, about every 15 us
// (18 PIT clocks): delay loops poll it.
constexpr uint64_t refresh_ticks = 18;

}  // namespace

void LegacyIsa::advance(uint64_t now_ns)
{
    uint64_t t = devices::Pit8254::ticks(now_ns);
    if (t < last_tick_) t = last_tick_;
    uint64_t edge = pit_.next_rising_edge(0, last_tick_);
    if (edge != devices::Pit8254::never && edge <= t) {
        pic_.set_irq(0, false);  // a rise since the last look: one edge for the PIC
        pic_.set_irq(0, true);
    }
    pic_.set_irq(0, pit_.out(0, t));
    last_tick_ = t;
}

bool LegacyIsa::port(uint16_t port, unsigned size, bool in, uint32_t& value, uint64_t now_ns)
{
    bool pit = port >= pit_base && port < pit_base + 4;
    if (port == 0x70 || port == 0x71) {
        uint8_t b = in ? rtc_.read(port - 0x70u, now_ns) : 0;
        if (!in) rtc_.write(port - 0x70u, uint8_t(value), now_ns);
        if (in) value = size > 1 ? (0xffffff00u | b) : b;
        return true;
    }
    if (!pit && port != port_b && port != 0x20 && port != 0x21 && port != 0xa0 && port != 0xa1 && port != 0x4d0 &&
        port != 0x4d1)
        return false;
    advance(now_ns);
    uint64_t t = last_tick_;
    uint8_t b = uint8_t(value);
    if (pit) {
        if (in) b = pit_.read(port - pit_base, t);
        else pit_.write(port - pit_base, b, t);
    } else if (port == port_b) {
        if (in) {
            b = uint8_t((port61_ & 0x0f) | (((t / refresh_ticks) & 1) ? 0x10 : 0) | (pit_.out(2, t) ? 0x20 : 0));
        } else {
            port61_ = b & 0x0f;
            pit_.set_gate(2, b & 0x01, t);
        }
    } else {
        (void)pic_.port(port, in, b);
    }
    advance(now_ns);  // a new count or a changed gate may have moved OUT
    if (in) value = size > 1 ? (0xffffff00u | b) : b;
    return true;
}

uint64_t LegacyIsa::update(uint64_t now_ns, ExtIntSink& sink)
{
    advance(now_ns);
    uint64_t next = never;
    if (pic_.intr() && now_ns - last_delivery_ns_ < min_interval_ns) {
        next = last_delivery_ns_ + min_interval_ns;  // at most one interrupt per interval
    } else if (pic_.intr()) {
        devices::DualPic taken = pic_;
        uint8_t vector = taken.acknowledge();
        if (sink.extint(vector)) {
            pic_ = taken;
            last_delivery_ns_ = now_ns;
        } else {
            next = now_ns + retry_ns;  // hv still holds the last one
        }
        if (pic_.intr() && next == never) next = now_ns + min_interval_ns;  // another behind it (auto-EOI, nesting)
    }
    // A rise of IRQ 0 matters only if it can make a new request: not while
    // it is masked or already requested (a later port access catches up).
    const devices::Pic8259& m = pic_.master();
    uint64_t edge = (m.imr() & 1) || (m.irr() & 1) ? devices::Pit8254::never : pit_.next_rising_edge(0, last_tick_);
    if (edge != devices::Pit8254::never) {
        uint64_t at = devices::Pit8254::ns_at(edge);
        if (at < now_ns + min_interval_ns) at = now_ns + min_interval_ns;
        if (at < next) next = at;
    }
    return next;
}

}  // namespace vmm::platform
