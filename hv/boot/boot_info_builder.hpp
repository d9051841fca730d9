// Internal to the Multiboot parsers: appends regions and modules to a
// BootInfo with the capacity checks and warnings both protocols share, and
// copies strings out of loader memory without ever reading past what is
// readable.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/boot/boot_info.hpp"
#include "lib/phys_reader.hpp"
#include "lib/str.hpp"

namespace hv::boot::detail {

// Multiboot memory-map type numbers (MB1 §3.3, MB2 §3.6.8) to MemType.
constexpr MemType multiboot_mem_type(uint32_t t)
{
    switch (t) {
    case 1: return MemType::usable;
    case 3: return MemType::acpi_reclaimable;
    case 4: return MemType::acpi_nvs;
    case 5: return MemType::bad;
    default: return MemType::reserved;
    }
}

class BootInfoBuilder {
public:
    BootInfoBuilder(const lib::PhysReader& mem, BootInfo& out) : mem_(mem), out_(out) {}

    const lib::PhysReader& mem() const { return mem_; }
    BootInfo& info() { return out_; }

    // Appends a region; zero-length ones are skipped, a length running past
    // 2^64 is clipped. With merge_adjacent, a region that continues the last
    // one with the same type extends it (EFI maps list many such pieces).
    // Past max_regions the region is dropped with one warning.
    void add_region(uint64_t base, uint64_t size, MemType type, bool merge_adjacent = false);

    // Appends a module [start, end) with its command line (cut to fit; the
    // string copiers have already warned about length). end < start or too
    // many modules: dropped with a warning.
    void add_module(uint64_t start, uint64_t end, lib::StrView cmdline);

    // The regions built from mem_lower/mem_upper (KiB below 640K / above 1M).
    void add_basic_meminfo(uint32_t mem_lower_kib, uint32_t mem_upper_kib);

private:
    const lib::PhysReader& mem_;
    BootInfo& out_;
    bool regions_full_warned_ = false;
    bool modules_full_warned_ = false;
};

// Copies a string of at most `avail` bytes at `src` (a field inside a tag
// that was already bounds-checked) into dst[cap]. Missing NUL within `avail`
// or a string longer than cap-1: copied as far as possible, warning naming
// `what`. Returns the string (pointing into src).
lib::StrView copy_bounded_string(const char* src, size_t avail, char* dst, size_t cap, const char* what);

// Copies the C string at physical address `phys` into dst[cap], one readable
// byte at a time, so a string ending just before unreadable memory is fine.
// Unreadable bytes before the NUL or a string longer than cap-1: warning
// naming `what`, the readable/fitting prefix is kept.
void copy_phys_string(const lib::PhysReader& mem, uint64_t phys, char* dst, size_t cap, const char* what);

// Per-protocol parsers, called by parse_multiboot() with `out` cleared.
lib::Status parse_multiboot1(const lib::PhysReader& mem, uint64_t info_phys, BootInfo& out);
lib::Status parse_multiboot2(const lib::PhysReader& mem, uint64_t info_phys, BootInfo& out);

}  // namespace hv::boot::detail
