// libFuzzer target for the split virtqueue engine (vmm/virtio/virtqueue):
// the input is the guest: its RAM image under the rings and the moments at
// which it changes that RAM while the device works. Inputs are short
// (-max_len=64), so byte 0 picks the setup and the rest patches it:
//   byte 0: bits 2:0 queue size 2^n (n capped at 4), bit 3 EVENT_IDX, bit 4
//   INDIRECT_DESC, bits 7:5 one of the valid starting states built below
//   (empty, one-buffer chains, readable+writable chains, indirect chains,
//   direct-then-indirect chains);
//   then each 3 bytes are one patch (op in the top 2 bits of the first byte,
//   a 14-bit offset into the 16 KiB of guest RAM, a value byte): poke a byte,
//   poke a 16-bit boundary value (0, 1, size-1, size, 0x7fff, 0x8000, 0xffff,
//   value), poke a 64-bit address from a table (outside RAM, RAM's last
//   bytes, wrapping 2^64, valid buffers), or run the device for `value & 7`
//   steps now (so later patches land while chains are in flight).
// Finally the device drains the queue. Besides crashes and sanitizer
// reports, a finding is: a popped segment outside guest RAM, a chain
// breaking the readable-before-writable order, an error that does not leave
// the queue broken, or more chains in flight than the queue size.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vmm/virtio/virtqueue.hpp"

namespace {

using namespace vmm::virtio;

constexpr uint64_t ram_base = 0x4000, ram_size = 0x4000;
constexpr uint64_t desc_gpa = ram_base, avail_gpa = ram_base + 0x100, used_gpa = ram_base + 0x200;
constexpr uint64_t data_gpa = ram_base + 0x1000, table_gpa = ram_base + 0x3000;

struct Ram final : GuestRam {
    uint8_t mem[ram_size];
    uint8_t* span(uint64_t gpa, uint64_t len) override
    {
        if (gpa < ram_base || len > ram_size || gpa - ram_base > ram_size - len) return nullptr;
        return mem + (gpa - ram_base);
    }
    void put16(uint64_t gpa, uint16_t v) { std::memcpy(mem + (gpa - ram_base), &v, 2); }
    void put32(uint64_t gpa, uint32_t v) { std::memcpy(mem + (gpa - ram_base), &v, 4); }
    void put64(uint64_t gpa, uint64_t v) { std::memcpy(mem + (gpa - ram_base), &v, 8); }
};

[[noreturn]] void finding(const char* what)
{
    std::fprintf(stderr, "virtqueue_fuzzer: %s\n", what);
    std::abort();
}

void set_desc(Ram& ram, uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    ram.put64(table + 16 * i, addr);
    ram.put32(table + 16 * i + 8, len);
    ram.put16(table + 16 * i + 12, flags);
    ram.put16(table + 16 * i + 14, next);
}

void build(Ram& ram, uint16_t size, unsigned kind)
{
    std::memset(ram.mem, 0, sizeof ram.mem);
    uint16_t heads = 0;
    for (uint16_t i = 0; i < size; ++i) {
        const uint64_t buf = data_gpa + 0x100 * i;
        switch (kind % 5) {
        case 0: return;
        case 1: set_desc(ram, desc_gpa, i, buf, 64, i & 1 ? desc_f_write : 0, 0); break;
        case 2:  // pairs: readable -> writable
            if (i + 1 >= size) break;
            set_desc(ram, desc_gpa, i, buf, 16, desc_f_next, uint16_t(i + 1));
            set_desc(ram, desc_gpa, i + 1, buf + 16, 32, desc_f_write, 0);
            ram.put16(avail_gpa + 4 + 2 * heads++, i);
            ++i;
            continue;
        case 3: {  // each head an indirect table of three
            const uint64_t t = table_gpa + 0x40 * (i % 16);
            set_desc(ram, t, 0, buf, 8, desc_f_next, 1);
            set_desc(ram, t, 1, buf + 8, 8, desc_f_next, 2);
            set_desc(ram, t, 2, buf + 16, 8, desc_f_write, 0);
            set_desc(ram, desc_gpa, i, t, 48, desc_f_indirect, 0);
            break;
        }
        case 4:  // one direct descriptor, then an indirect one
            if (i + 1 >= size) break;
            set_desc(ram, table_gpa + 0x40 * (i % 16), 0, buf + 32, 16, desc_f_write, 0);
            set_desc(ram, desc_gpa, i, buf, 16, desc_f_next, uint16_t(i + 1));
            set_desc(ram, desc_gpa, i + 1, table_gpa + 0x40 * (i % 16), 16, desc_f_indirect, 0);
            ram.put16(avail_gpa + 4 + 2 * heads++, i);
            ++i;
            continue;
        }
        ram.put16(avail_gpa + 4 + 2 * heads++, i);
    }
    ram.put16(avail_gpa + 2, heads);
}

struct Device {
    Ram& ram;
    Virtqueue& q;
    Chain chain;
    uint16_t held[Virtqueue::max_size];
    unsigned nheld = 0;
    unsigned steps = 0;

    void check(const Chain& c)
    {
        bool seen_write = false;
        for (unsigned i = 0; i < c.count; ++i) {
            const Segment& s = c.seg[i];
            if (s.len == 0 || s.host < ram.mem || s.host + s.len > ram.mem + ram_size) finding("segment outside RAM");
            if (s.host != ram.mem + (s.gpa - ram_base)) finding("segment host/gpa mismatch");
            if (!s.writable && seen_write) finding("readable after writable");
            seen_write |= s.writable;
        }
    }

    // One device step: pop a chain (every other one is held back for a
    // while so heads stay in flight), or return a held one.
    void step()
    {
        ++steps;
        if (nheld && (steps % 3 == 0 || nheld == q.size())) {
            const uint16_t h = held[--nheld];
            if (!q.push(h, 0).ok() && !q.broken()) finding("push of a held head failed");
            (void)q.should_interrupt();
            return;
        }
        auto r = q.pop(chain);
        if (!r.ok()) {
            if (!q.broken()) finding("pop failed without breaking the queue");
            return;
        }
        if (!*r) {
            (void)q.enable_notify();
            return;
        }
        check(chain);
        uint8_t buf[256];
        const size_t n = chain.read(0, buf, sizeof buf);
        const size_t w = chain.write(0, buf, n);
        if (steps & 1) {
            held[nheld++] = chain.head;
        } else {
            if (!q.push(chain.head, uint32_t(w)).ok()) finding("push of a popped head failed");
            (void)q.should_interrupt();
            if (steps & 2) q.disable_notify();
        }
        if (q.in_flight() > q.size()) finding("more in flight than the queue size");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1) return 0;
    static Ram ram;
    static Virtqueue q;
    const unsigned n = (data[0] & 7) > 4 ? 4 : data[0] & 7;
    const uint16_t qsize = uint16_t(1u << n);
    build(ram, qsize, data[0] >> 5);
    q.reset();
    if (!q.enable(ram, {qsize, desc_gpa, avail_gpa, used_gpa}, data[0] & 8, data[0] & 16).ok()) finding("enable failed");
    Device dev{ram, q};

    const uint64_t addrs[] = {0, ram_base - 1, ram_base + ram_size - 2, ram_base + ram_size, ~0ull - 7,
                              data_gpa, table_gpa, desc_gpa};
    for (size_t i = 1; i + 3 <= size; i += 3) {
        const unsigned op = data[i] >> 6;
        const uint64_t off = ((uint64_t(data[i] & 0x3f) << 8) | data[i + 1]) % ram_size;
        const uint8_t v = data[i + 2];
        switch (op) {
        case 0: ram.mem[off] = v; break;
        case 1: {
            const uint16_t vals[] = {0, 1, uint16_t(qsize - 1), qsize, 0x7fff, 0x8000, 0xffff, v};
            if (off + 2 <= ram_size) std::memcpy(ram.mem + off, &vals[v & 7], 2);
            break;
        }
        case 2:
            if (off + 8 <= ram_size) std::memcpy(ram.mem + off, &addrs[v & 7], 8);
            break;
        case 3:
            for (unsigned k = 0; k < (v & 7u); ++k) dev.step();
            break;
        }
    }
    for (unsigned k = 0; k < 4u * qsize + 8; ++k) dev.step();
    return 0;
}
