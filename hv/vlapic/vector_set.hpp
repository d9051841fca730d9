// A 256-bit set of interrupt vectors: the shape of IRR, ISR and TMR
// (SDM 10.8.4, Figure 10-20). Eight 32-bit words as the registers show them.
#pragma once

#include <bit>
#include <cstdint>

namespace hv::vlapic {

class VectorSet {
public:
    static constexpr int none = -1;

    constexpr bool test(uint8_t v) const { return (w_[v >> 5] >> (v & 31)) & 1; }
    constexpr void set(uint8_t v) { w_[v >> 5] |= 1u << (v & 31); }
    constexpr void clear(uint8_t v) { w_[v >> 5] &= ~(1u << (v & 31)); }
    constexpr void assign(uint8_t v, bool on)
    {
        if (on) set(v);
        else clear(v);
    }
    constexpr void clear_all()
    {
        for (auto& w : w_) w = 0;
    }
    // Highest vector in the set, or `none`.
    constexpr int highest() const
    {
        for (int i = 7; i >= 0; --i)
            if (w_[i]) return i * 32 + 31 - std::countl_zero(w_[i]);
        return none;
    }
    constexpr bool empty() const { return highest() == none; }
    // Register view: bits 32*i+31 .. 32*i.
    constexpr uint32_t word(unsigned i) const { return w_[i & 7]; }

private:
    uint32_t w_[8] = {};
};

}  // namespace hv::vlapic
