// Pieces the kernel loaders share (not an interface for other parts):
// checking ELF segments against RAM and the boot structures, placing
// modules at the top of RAM, writing command lines. Each check runs before
// anything is written, so a refused kernel leaves the domain's RAM as it
// was.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/elf.hpp"
#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/builder/boot.hpp"

namespace vmm::builder::detail {

inline constexpr uint64_t page_size = 4096;
inline constexpr uint64_t four_gib = 4ull << 30;

// [base, end); empty when end <= base.
struct Range {
    uint64_t base, end;
};

constexpr bool overlaps(Range a, Range b) { return a.base < a.end && b.base < b.end && a.base < b.end && b.base < a.end; }
constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
// Callers keep v well below 2^64 - a (addresses below 4 GiB).
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

inline lib::Error fail(const char** why, const char* text, lib::Error e)
{
    if (why) *why = text;
    return e;
}

// Every PT_LOAD segment inside RAM, clear of the boot structures in `used`
// (refused with `used_why`) and of the reserved legacy hole.
lib::Status check_segments(const lib::elf::Image& elf, uint64_t ram, const Range* used, size_t used_count,
                           const char* used_why, const char** why);
// The end of the highest segment.
uint64_t segments_end(const lib::elf::Image& elf);
// The segments' bytes, then their bss zeroed.
lib::Status copy_segments(const uint8_t* image, const lib::elf::Image& elf, GuestMemory& mem);

// At most max_modules, each with data when it has a size; their command
// lines fit the module command line area. Returns the bytes of that area
// used (the NULs included).
lib::Result<size_t> check_modules(const Module* mods, size_t count, const char** why);
// Places the modules one after the other, each on a page boundary, the
// block's end at the highest page boundary not above `high`, the first not
// below `low` (the kernel's end). Refused when they do not fit.
lib::Status place_modules(const Module* mods, size_t count, uint64_t low, uint64_t high, uint64_t* gpa,
                          const char** why);
// The modules' bytes at their places, and their command lines packed at
// layout::module_cmdline_gpa; cmdline_gpa[i] is 0 for an empty one when
// `empty_as_zero`, else the address of an empty string.
lib::Status write_modules(GuestMemory& mem, const Module* mods, size_t count, const uint64_t* gpa,
                          uint64_t* cmdline_gpa, bool empty_as_zero);
// `s` then a NUL.
lib::Status write_cstr(GuestMemory& mem, uint64_t gpa, lib::StrView s);

}  // namespace vmm::builder::detail
