// Host-side fakes for the virtio tests: guest RAM over a std::vector, an
// interrupt sink that records what it is asked, and the driver half of a
// split virtqueue (what Linux's virtio_ring does: descriptors, avail ring,
// used ring reads), all writing little-endian guest memory.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "vmm/pci/device.hpp"
#include "vmm/virtio/guest_ram.hpp"
#include "vmm/virtio/virtqueue.hpp"

namespace virtio_fake {

struct FakeRam final : vmm::virtio::GuestRam {
    uint64_t base;
    std::vector<uint8_t> mem;
    explicit FakeRam(uint64_t base_gpa = 0x100000, size_t bytes = 1 << 20) : base(base_gpa), mem(bytes) {}
    uint8_t* span(uint64_t gpa, uint64_t len) override
    {
        if (gpa < base || len > mem.size() || gpa - base > mem.size() - len) return nullptr;
        return mem.data() + (gpa - base);
    }
    uint8_t* at(uint64_t gpa) { return mem.data() + (gpa - base); }
    void put16(uint64_t gpa, uint16_t v) { std::memcpy(at(gpa), &v, 2); }
    void put32(uint64_t gpa, uint32_t v) { std::memcpy(at(gpa), &v, 4); }
    void put64(uint64_t gpa, uint64_t v) { std::memcpy(at(gpa), &v, 8); }
    uint16_t get16(uint64_t gpa) { uint16_t v; std::memcpy(&v, at(gpa), 2); return v; }
    uint32_t get32(uint64_t gpa) { uint32_t v; std::memcpy(&v, at(gpa), 4); return v; }
};

struct Msg {
    uint64_t addr;
    uint32_t data;
};

struct FakeIrq final : vmm::pci::IrqSink {
    std::vector<Msg> msgs;
    std::vector<bool> levels;
    void msi(uint64_t a, uint32_t d) override { msgs.push_back({a, d}); }
    void intx(bool l) override { levels.push_back(l); }
};

struct Buf {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

// The driver side of one split ring in FakeRam.
struct DriverRing {
    FakeRam& ram;
    uint16_t size;
    void restart() { avail_idx = next_desc = last_used = 0; }
    uint64_t desc, avail, used;
    uint16_t avail_idx = 0;
    uint16_t next_desc = 0;
    uint16_t last_used = 0;

    DriverRing(FakeRam& r, uint16_t n, uint64_t at) : ram(r), size(n), desc(at), avail(at + 16ull * n),
        used((at + 16ull * n + 6 + 2ull * n + 3) & ~3ull) {}
    vmm::virtio::Virtqueue::Layout layout() const { return {size, desc, avail, used}; }
    uint64_t end() const { return used + 6 + 8ull * size; }

    void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
    {
        const uint64_t d = desc + 16ull * i;
        ram.put64(d, addr);
        ram.put32(d + 8, len);
        ram.put16(d + 12, flags);
        ram.put16(d + 14, next);
    }
    // Publishes head in the next avail slot and bumps avail->idx.
    void publish(uint16_t head)
    {
        ram.put16(avail + 4 + 2ull * (avail_idx % size), head);
        ++avail_idx;
        ram.put16(avail + 2, avail_idx);
    }
    // Builds a direct chain from consecutive free descriptors and publishes it.
    uint16_t add(const std::vector<Buf>& bufs)
    {
        const uint16_t head = next_desc;
        for (size_t k = 0; k < bufs.size(); ++k) {
            const uint16_t i = uint16_t((head + k) % size);
            const bool last = k + 1 == bufs.size();
            set_desc(i, bufs[k].gpa, bufs[k].len,
                     uint16_t((bufs[k].writable ? vmm::virtio::desc_f_write : 0) | (last ? 0 : vmm::virtio::desc_f_next)),
                     uint16_t((i + 1) % size));
        }
        next_desc = uint16_t((head + bufs.size()) % size);
        publish(head);
        return head;
    }
    uint16_t used_idx() { return ram.get16(used + 2); }
    uint16_t used_flags() { return ram.get16(used); }
    vmm::virtio::VirtqUsedElem used_elem(uint16_t i)
    {
        const uint64_t e = used + 4 + 8ull * (i % size);
        return {ram.get32(e), ram.get32(e + 4)};
    }
    uint16_t avail_event() { return ram.get16(used + 4 + 8ull * size); }
    void set_used_event(uint16_t v) { ram.put16(avail + 4 + 2ull * size, v); }
    void set_avail_flags(uint16_t f) { ram.put16(avail, f); }
};

}  // namespace virtio_fake
