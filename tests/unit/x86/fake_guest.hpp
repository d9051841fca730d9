// Host-test fakes for the x86 emulator: guest RAM as a byte vector (anything
// outside it answers not_found, i.e. "device memory"), a device that records
// every access, and a deterministic PRNG.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "hv/x86/guest_phys.hpp"
#include "hv/x86/mmio_emulator.hpp"

namespace x86test {

struct FakeRam {
    uint64_t base = 0;
    std::vector<uint8_t> bytes;
    unsigned reads = 0;

    explicit FakeRam(size_t size, uint64_t base_gpa = 0) : base(base_gpa), bytes(size, 0) {}

    bool contains(uint64_t gpa, size_t len) const
    {
        return gpa >= base && len <= bytes.size() && gpa - base <= bytes.size() - len;
    }
    template <typename T> void put(uint64_t gpa, T v) { std::memcpy(&bytes.at(gpa - base), &v, sizeof v); }
    template <typename T> T get(uint64_t gpa) const
    {
        T v;
        std::memcpy(&v, &bytes.at(gpa - base), sizeof v);
        return v;
    }
    void put_bytes(uint64_t gpa, const std::vector<uint8_t>& b) { std::memcpy(&bytes.at(gpa - base), b.data(), b.size()); }

    static lib::Status read(void* ctx, uint64_t gpa, void* dst, size_t len)
    {
        auto* self = static_cast<FakeRam*>(ctx);
        ++self->reads;
        if (!self->contains(gpa, len)) return lib::err(lib::Error::not_found);
        std::memcpy(dst, &self->bytes[gpa - self->base], len);
        return {};
    }
    static lib::Status write(void* ctx, uint64_t gpa, const void* src, size_t len)
    {
        auto* self = static_cast<FakeRam*>(ctx);
        if (!self->contains(gpa, len)) return lib::err(lib::Error::not_found);
        std::memcpy(&self->bytes[gpa - self->base], src, len);
        return {};
    }
    static bool cmpxchg64(void* ctx, uint64_t gpa, uint64_t expected, uint64_t desired)
    {
        auto* self = static_cast<FakeRam*>(ctx);
        if (!self->contains(gpa, 8) || self->get<uint64_t>(gpa) != expected) return false;
        self->put<uint64_t>(gpa, desired);
        return true;
    }
    static bool cmpxchg32(void* ctx, uint64_t gpa, uint32_t expected, uint32_t desired)
    {
        auto* self = static_cast<FakeRam*>(ctx);
        if (!self->contains(gpa, 4) || self->get<uint32_t>(gpa) != expected) return false;
        self->put<uint32_t>(gpa, desired);
        return true;
    }
    hv::x86::GuestPhys phys(bool with_ad = false)
    {
        hv::x86::GuestPhys p;
        p.ctx = this;
        p.read = read;
        p.write = write;
        if (with_ad) {
            p.cmpxchg64 = cmpxchg64;
            p.cmpxchg32 = cmpxchg32;
        }
        return p;
    }
};

// A device with `size` bytes of registers at `base`, little-endian.
struct FakeDevice {
    struct Access {
        bool write;
        uint64_t gpa;
        uint8_t size;
        uint64_t value;
    };
    uint64_t base;
    std::vector<uint8_t> regs;
    std::vector<Access> log;
    bool fail = false;

    FakeDevice(uint64_t base_gpa, size_t size) : base(base_gpa), regs(size, 0) {}

    template <typename T> void put(uint64_t gpa, T v) { std::memcpy(&regs.at(gpa - base), &v, sizeof v); }
    template <typename T> T get(uint64_t gpa) const
    {
        T v;
        std::memcpy(&v, &regs.at(gpa - base), sizeof v);
        return v;
    }

    static lib::Result<uint64_t> read(void* ctx, uint64_t gpa, uint8_t size)
    {
        auto* self = static_cast<FakeDevice*>(ctx);
        if (self->fail || gpa < self->base || gpa - self->base + size > self->regs.size())
            return lib::err(lib::Error::io);
        uint64_t v = 0;
        std::memcpy(&v, &self->regs[gpa - self->base], size);
        self->log.push_back({false, gpa, size, v});
        return v;
    }
    static lib::Status write(void* ctx, uint64_t gpa, uint8_t size, uint64_t value)
    {
        auto* self = static_cast<FakeDevice*>(ctx);
        if (self->fail || gpa < self->base || gpa - self->base + size > self->regs.size())
            return lib::err(lib::Error::io);
        std::memcpy(&self->regs[gpa - self->base], &value, size);
        self->log.push_back({true, gpa, size, value});
        return {};
    }
    hv::x86::MmioBus bus()
    {
        hv::x86::MmioBus b;
        b.ctx = this;
        b.read = read;
        b.write = write;
        return b;
    }
};

// splitmix64: deterministic, seedable.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
};

}  // namespace x86test
