#include "vmm/devices/pit8254.hpp"

namespace vmm::devices {
namespace {

uint32_t from_bcd16(uint32_t v)
{
    return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

uint16_t to_bcd16(uint32_t v)
{
    v %= 10000;
    return uint16_t((v / 1000) << 12 | ((v / 100) % 10) << 8 | ((v / 10) % 10) << 4 | (v % 10));
}

}  // namespace

bool Pit8254::held(const Channel& c) const { return !c.gate && c.mode != 1 && c.mode != 5; }

uint64_t Pit8254::elapsed(const Channel& c, uint64_t now) const
{
    if (!c.counting) return 0;
    if (held(c)) return c.frozen;
    return now >= c.start ? now - c.start : 0;
}

uint16_t Pit8254::count_of(const Channel& c, uint64_t now) const
{
    if (!c.programmed || !c.loaded) return 0;
    uint64_t n = c.reload, e = elapsed(c, now);
    uint64_t v;
    switch (c.mode) {
    case 2: v = n - e % n; break;  // n down to 1, then reload
    case 3: {
        // Down by two through each half period (OUT high, then low).
        uint64_t p = e % n, half = (n + 1) / 2;
        v = p < half ? n - 2 * p : n - 2 * (p - half);
        break;
    }
    default: {
        // Modes 0, 1, 4, 5: down to 0, then on around the full range.
        uint64_t range = c.bcd ? 10000 : 65536;
        v = (n + range - e % range) % range;
        break;
    }
    }
    return c.bcd ? to_bcd16(uint32_t(v)) : uint16_t(v);
}

bool Pit8254::out_of(const Channel& c, uint64_t now) const
{
    if (!c.programmed) return true;  // as if idle in mode 2 or 3: no edge when a kernel programs those
    uint64_t n = c.reload, e = elapsed(c, now);
    switch (c.mode) {
    case 0: return c.counting && e >= n;  // low from the control word to the terminal count
    case 1: return !c.counting || e >= n;  // low from the trigger to the terminal count
    case 2: return !c.counting || held(c) || n == 1 || e % n != n - 1;  // low for the clock at count 1
    case 3: return !c.counting || held(c) || e % n < (n + 1) / 2;
    default: return !c.counting || e != n;  // 4, 5: low for the clock after the terminal count
    }
}

uint16_t Pit8254::count(unsigned ch, uint64_t now) const { return ch < 3 ? count_of(ch_[ch], now) : 0; }

bool Pit8254::out(unsigned ch, uint64_t now) const { return ch < 3 && out_of(ch_[ch], now); }

uint64_t Pit8254::next_rising_edge(unsigned ch, uint64_t after) const
{
    if (ch > 2) return never;
    const Channel& c = ch_[ch];
    if (!c.programmed || !c.counting || held(c)) return never;
    uint64_t n = c.reload, s = c.start;
    auto once = [&](uint64_t t) { return t > after ? t : never; };
    switch (c.mode) {
    case 0:
    case 1: return once(s + n);
    case 4:
    case 5: return once(s + n + 1);
    default:  // 2, 3: at the start of every period after the first
        if (after < s + n) return s + n;
        return s + ((after - s) / n + 1) * n;
    }
}

void Pit8254::set_gate(unsigned ch, bool level, uint64_t now)
{
    if (ch > 2) return;
    Channel& c = ch_[ch];
    if (level == c.gate) return;
    if (!level) {
        c.frozen = elapsed(c, now);  // modes 0, 2, 3, 4 stop counting while the gate is low
        c.gate = false;
        return;
    }
    c.gate = true;
    if (!c.programmed || !c.loaded) return;
    switch (c.mode) {
    case 0:
    case 4: c.start = now - c.frozen; return;  // counting resumes
    default:  // 1, 5 are triggered; 2, 3 restart with the reload value
        c.counting = true;
        c.start = now;
        c.frozen = 0;
        return;
    }
}

void Pit8254::load(Channel& c, uint32_t raw, uint64_t now)
{
    uint32_t n = c.bcd ? from_bcd16(raw) : raw;
    if (n == 0) n = c.bcd ? 10000 : 65536;
    c.reload = n;
    c.loaded = true;
    if (c.mode == 1 || c.mode == 5) return;  // waits for a gate trigger
    c.counting = true;
    c.start = now;
    c.frozen = 0;
}

void Pit8254::control(uint8_t value, uint64_t now)
{
    unsigned sc = value >> 6;
    if (sc == 3) {
        // Read-back: bit 5 clear latches the counts, bit 4 clear the status,
        // of the counters selected by bits 3-1. A latch already held stays.
        for (unsigned i = 0; i < 3; ++i) {
            if (!(value & (2u << i))) continue;
            Channel& c = ch_[i];
            if (!(value & 0x20) && !c.latched) {
                c.latch = count_of(c, now);
                c.latched = true;
                c.read_msb = false;
            }
            if (!(value & 0x10) && !c.status_latched) {
                c.status = c.programmed ? uint8_t((out_of(c, now) ? 0x80 : 0) | (c.loaded ? 0 : 0x40) | (c.rw << 4) |
                                                  (c.mode << 1) | (c.bcd ? 1 : 0))
                                        : uint8_t(0x40);
                c.status_latched = true;
            }
        }
        return;
    }
    Channel& c = ch_[sc];
    unsigned rw = (value >> 4) & 3;
    if (rw == 0) {  // counter latch command
        if (!c.latched) {
            c.latch = count_of(c, now);
            c.latched = true;
            c.read_msb = false;
        }
        return;
    }
    unsigned m = (value >> 1) & 7;
    c.programmed = true;
    c.rw = uint8_t(rw);
    c.mode = uint8_t(m >= 6 ? m - 4 : m);
    c.bcd = value & 1;
    c.loaded = false;
    c.counting = false;
    c.frozen = 0;
    c.write_msb = false;
    c.read_msb = false;
}

void Pit8254::write(unsigned offset, uint8_t value, uint64_t now)
{
    if (offset == 3) return control(value, now);
    if (offset > 3) return;
    Channel& c = ch_[offset];
    if (!c.programmed) return;  // no access mode yet: ignored
    switch (c.rw) {
    case 1: load(c, value, now); return;
    case 2: load(c, uint32_t(value) << 8, now); return;
    default:
        if (!c.write_msb) {
            c.write_lsb = value;
            c.write_msb = true;
            if (c.mode == 0) c.counting = false;  // the first byte stops a mode-0 count (OUT low)
            return;
        }
        c.write_msb = false;
        load(c, c.write_lsb | uint32_t(value) << 8, now);
        return;
    }
}

uint8_t Pit8254::read_value(Channel& c, uint16_t v, bool latched)
{
    switch (c.rw) {
    case 1:
        c.latched = c.latched && !latched;
        return uint8_t(v);
    case 2:
        c.latched = c.latched && !latched;
        return uint8_t(v >> 8);
    default:
        if (!c.read_msb) {
            c.read_msb = true;
            return uint8_t(v);
        }
        c.read_msb = false;
        c.latched = c.latched && !latched;
        return uint8_t(v >> 8);
    }
}

uint8_t Pit8254::read(unsigned offset, uint64_t now)
{
    if (offset > 2) return 0xff;  // the control word is write-only
    Channel& c = ch_[offset];
    if (c.status_latched) {
        c.status_latched = false;
        return c.status;
    }
    if (c.latched) return read_value(c, c.latch, true);
    return read_value(c, count_of(c, now), false);
}

}  // namespace vmm::devices
