// Domain builder for Multiboot1 kernels (the QEMU -kernel kind): checks the
// Multiboot header, copies the ELF's segments to their physical addresses
// in guest RAM and writes the Multiboot information (memory sizes and map,
// command line, loader name, modules) the kernel finds in EBX. Portable:
// guest RAM is reached through GuestMemory, so host tests load into a
// buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "lib/str.hpp"
#include "vmm/builder/boot.hpp"

namespace vmm::builder {

// What vCPU 0 starts with (Multiboot 0.6.96 section 3.2).
struct MultibootBoot {
    uint32_t entry;
    uint32_t magic;  // EAX: 0x2BADB002
    uint32_t info;   // EBX: guest-physical address of the information
};

// Where the information goes: one page below the EBDA, clear of kernels
// loaded at 1 MiB.
inline constexpr uint64_t multiboot_info_gpa = 0x9000;
// The module structures (16 bytes each) follow the information page; their
// command lines are at layout::module_cmdline_gpa.
inline constexpr uint64_t multiboot_mods_gpa = 0xa000;

// Loads `image`. Errors (with *why set to a sentence for the user): not a
// Multiboot kernel or bad header checksum (invalid), not an ELF (invalid),
// a segment outside RAM or over the information page (out_of_range), a
// command line longer than 3 KiB (out_of_range).
lib::Result<MultibootBoot> load_multiboot(const uint8_t* image, size_t size, GuestMemory& mem, lib::StrView cmdline,
                                          const char** why);

// The same with modules (QEMU's -initrd "a args,b args"): each placed at
// the top of RAM below 4 GiB, page-aligned (which the header's bit 0 may
// require), in order, and listed in mods_addr / mods_count (information
// flag bit 3). More errors: more than 32 modules, their command lines over
// 64 KiB in all, modules that do not fit above the kernel, a segment over
// the module list or their command lines (out_of_range); a segment over
// the reserved BIOS area at 0x9F000-0xFFFFF (out_of_range) is refused with
// or without modules.
lib::Result<MultibootBoot> load_multiboot(const uint8_t* image, size_t size, GuestMemory& mem, lib::StrView cmdline,
                                          const Module* modules, size_t module_count, const char** why);

}  // namespace vmm::builder
