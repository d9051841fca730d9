// Physical memory map clean-up: turns the loader's raw, possibly unsorted and
// overlapping region list into a sorted, non-overlapping one whose usable
// regions are whole 4 KiB frames. Works in place on a caller's array; never
// allocates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/boot/boot_info.hpp"
#include "lib/result.hpp"

namespace hv::mem {

using boot::MemRegion;
using boot::MemType;

inline constexpr uint64_t frame_size = 4096;

// How restrictive a type is when regions overlap: the higher one wins.
// bad > reserved > acpi_nvs > acpi_reclaimable > usable.
constexpr int mem_type_rank(MemType t)
{
    switch (t) {
    case MemType::usable: return 0;
    case MemType::acpi_reclaimable: return 1;
    case MemType::acpi_nvs: return 2;
    case MemType::reserved: return 3;
    case MemType::bad: return 4;
    }
    return 3;  // an out-of-range value is treated as reserved
}

// Sort by base; resolve overlaps (more restrictive type wins); merge
// adjacent/overlapping regions of equal type; shrink usable regions inward to
// 4 KiB boundaries; drop empty ones. In place; returns the new count (never
// more than `cap`; if splitting would exceed cap, warns and drops the
// smallest usable pieces). Regions running past 2^64 are clipped. If
// count > cap, only the first cap regions are considered (warning).
size_t normalize_memmap(MemRegion* regions, size_t count, size_t cap);

// Takes [base, base+size) out of the usable regions of a normalized map
// (those bytes become reserved), splitting as needed and merging with
// neighbouring reserved regions. The range is widened to whole 4 KiB frames
// so usable regions stay frame-aligned. Returns the new count;
// Error::out_of_range if cap would be exceeded (regions unchanged then).
lib::Result<size_t> reserve_range(MemRegion* regions, size_t count, size_t cap, uint64_t base, uint64_t size);

uint64_t usable_bytes(const MemRegion* regions, size_t count);

}  // namespace hv::mem
