// Fake physical memory for parser tests: separate heap buffers mapped at
// chosen physical addresses. A PhysReader view succeeds only when the whole
// range lies inside one buffer, and every buffer is allocated at its exact
// size, so any read past what a view granted is caught by ASan.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "lib/phys_reader.hpp"

namespace test {

class FakePhys {
public:
    // A zero-filled readable range [base, base+size).
    uint8_t* add(uint64_t base, size_t size)
    {
        auto s = std::make_unique<Seg>();
        s->base = base;
        s->size = size;
        s->bytes.reset(new uint8_t[size]());
        uint8_t* p = s->bytes.get();
        segs_.push_back(std::move(s));
        return p;
    }
    // Writes bytes that must lie inside one added range.
    void put_bytes(uint64_t phys, const void* src, size_t len)
    {
        uint8_t* p = find(phys, len);
        if (!p) abort();  // a broken test, not a parser bug
        std::memcpy(p, src, len);
    }
    template <typename T> void put(uint64_t phys, const T& v) { put_bytes(phys, &v, sizeof v); }
    uint8_t* at(uint64_t phys, size_t len = 1) { return find(phys, len); }

    lib::PhysReader reader() { return lib::PhysReader{&FakePhys::map, this}; }

    // How many views were asked for (to check bounded scanning).
    size_t views = 0;

private:
    struct Seg {
        uint64_t base;
        size_t size;
        std::unique_ptr<uint8_t[]> bytes;
    };
    uint8_t* find(uint64_t phys, size_t len)
    {
        for (auto& s : segs_)
            if (phys >= s->base && phys - s->base <= s->size && len <= s->size - (phys - s->base))
                return s->bytes.get() + (phys - s->base);
        return nullptr;
    }
    static const void* map(void* ctx, uint64_t phys, size_t len)
    {
        auto* self = static_cast<FakePhys*>(ctx);
        ++self->views;
        if (len == 0) return nullptr;
        return self->find(phys, len);
    }
    std::vector<std::unique_ptr<Seg>> segs_;
};

}  // namespace test
