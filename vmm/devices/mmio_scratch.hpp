// The Multiboot platform's MMIO test device (4 KiB at 0xfe000000, as hv's
// test build has it): byte-addressable scratch registers, and a read-only
// 64-bit counter at 0xff8 of the accesses that reached the device, so a
// guest can tell emulation from RAM. Portable.
#pragma once

#include <cstdint>
#include <cstring>

namespace vmm::devices {

class MmioScratch {
public:
    static constexpr uint64_t base = 0xfe000000;
    static constexpr uint64_t size = 0x1000;
    static constexpr uint64_t counter = 0xff8;

    // `off` within the device; size 1, 2, 4 or 8. Out-of-range accesses
    // read as all ones and are not counted.
    uint64_t read(uint64_t off, unsigned width)
    {
        if (!valid(off, width)) return ~0ull;
        uint64_t v = 0;
        if (off >= counter) {
            uint64_t c = accesses_;
            std::memcpy(&v, reinterpret_cast<const uint8_t*>(&c) + (off - counter), width);
        } else {
            std::memcpy(&v, regs_ + off, width);
        }
        ++accesses_;
        return v;
    }
    void write(uint64_t off, unsigned width, uint64_t value)
    {
        if (!valid(off, width)) return;
        if (off + width <= counter) std::memcpy(regs_ + off, &value, width);  // the counter is read-only
        ++accesses_;
    }
    uint64_t accesses() const { return accesses_; }

private:
    static bool valid(uint64_t off, unsigned width)
    {
        return (width == 1 || width == 2 || width == 4 || width == 8) && off < size && width <= size - off;
    }
    uint8_t regs_[counter] = {};
    uint64_t accesses_ = 0;
};

}  // namespace vmm::devices
