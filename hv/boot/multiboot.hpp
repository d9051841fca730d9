// Multiboot1 and Multiboot2 boot information parsing: copies everything the
// hypervisor needs out of the loader's info block into a BootInfo, reading
// only through a PhysReader and checking every length the loader supplies.
#pragma once

#include <cstdint>

#include "hv/boot/boot_info.hpp"
#include "lib/phys_reader.hpp"
#include "lib/result.hpp"

namespace hv::boot {

// Largest Multiboot2 info block accepted. GRUB's, with a long EFI memory map,
// is a few tens of KiB; anything near this size is a corrupt total_size.
inline constexpr uint32_t max_mb2_info_size = 1u << 20;

// Fills `out` (cleared first) from the info block at `info_phys`.
// magic 0x2BADB002 selects Multiboot1, 0x36d76289 Multiboot2; any other value
// is Error::invalid. Malformed parts of the block are skipped with a warning
// and parsing goes on with what was valid. Errors: the info header unreadable
// (Error::out_of_range), a Multiboot2 total_size that is too small, absurd or
// unaligned (Error::invalid), or no memory information at all
// (Error::not_found) - the hypervisor cannot run without it.
//
// Memory map precedence: Multiboot2 EFI memory map (tag 17), else the memory
// map (MB2 tag 6, MB1 mmap_*), else mem_lower/mem_upper.
lib::Status parse_multiboot(const lib::PhysReader& mem, uint32_t magic, uint64_t info_phys, BootInfo& out);

}  // namespace hv::boot
