// The domain's memory map, one for every consumer (the kernel loaders'
// e820 / Multiboot / PVH maps, the ACPI builder): RAM is contiguous from 0
// up to 3 GiB, with the PC's legacy hole reserved, and what is past 3 GiB
// continues at 4 GiB, as on a PC (the gap is the PCI hole: MMIO windows,
// ECAM, the APICs):
//   [0, 0x9F000)        usable  (conventional memory below the EBDA)
//   [0x9F000, 0x100000) reserved (EBDA, VGA, option ROMs, BIOS; the ACPI
//                        tables live at 0xE0000-0xFFFFF)
//   [0x100000, low)     usable  (low: the RAM below 3 GiB)
//   [4 GiB, 4 GiB+high) usable  (high: the rest)
// Types are the ACPI/e820 address range types (ACPI 6.5 table 15.1), which
// Multiboot (mmap type), Multiboot2 (tag 6) and PVH (hvm_memmap_table_entry)
// reuse unchanged.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm::builder {

namespace e820_type {
inline constexpr uint32_t ram = 1;
inline constexpr uint32_t reserved = 2;
inline constexpr uint32_t acpi = 3;
inline constexpr uint32_t nvs = 4;
inline constexpr uint32_t unusable = 5;
}  // namespace e820_type

// struct boot_e820_entry of Linux's boot_params (Documentation/arch/x86/
// zero-page.rst, e820_table at 0x2D0): packed, 20 bytes.
struct __attribute__((packed)) E820Entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);
static_assert(offsetof(E820Entry, size) == 8 && offsetof(E820Entry, type) == 16);

inline constexpr uint64_t e820_low_end = 0x9f000;
inline constexpr uint64_t e820_high_start = 0x100000;
inline constexpr size_t e820_max_entries = 8;
inline constexpr uint64_t ram_low_limit = 0xc0000000;  // where the PCI hole starts
inline constexpr uint64_t ram_high_base = 1ull << 32;

// How a domain's RAM of `total` bytes is split around the hole.
struct RamSplit {
    uint64_t low;   // at [0, low)
    uint64_t high;  // at [ram_high_base, ram_high_base + high)
    // Whether [gpa, gpa+len) is wholly RAM (len > 0; an overflowing range is not).
    bool holds(uint64_t gpa, uint64_t len) const
    {
        if (gpa + len < gpa) return false;
        if (gpa + len <= low) return true;
        return gpa >= ram_high_base && gpa + len - ram_high_base <= high;
    }
};
inline RamSplit split_ram(uint64_t total)
{
    return total <= ram_low_limit ? RamSplit{total, 0} : RamSplit{ram_low_limit, total - ram_low_limit};
}

struct E820Map {
    size_t count;
    E820Entry entries[e820_max_entries];
};

// The map for `low` bytes of RAM from 0 and `high` bytes from 4 GiB, in
// address order, without empty entries: RAM smaller than 0x9F000 gives one
// entry, smaller than 1 MiB two.
E820Map build_e820(uint64_t low, uint64_t high);

// Multiboot's mem_lower / mem_upper (KiB) from the same map: the usable
// RAM from 0, and from 1 MiB up to the first hole (clamped at 4 GiB, the
// fields being 32 bits).
uint32_t e820_mem_lower_kib(const E820Map& map);
uint32_t e820_mem_upper_kib(const E820Map& map);

}  // namespace vmm::builder
