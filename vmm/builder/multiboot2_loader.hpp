// Domain builder for Multiboot2 kernels (Multiboot2 specification 1.6):
// finds and checks the header (in the first 32 KiB, 8-byte aligned), loads
// the image by its address tag or else as an ELF, and writes the boot
// information at 0x9000: basic memory (tag 4), memory map (6), command
// line (1), loader name (2), modules (3) and, when an RSDP is given, its
// copies (ACPI old, 14, and for ACPI 2.0+ new, 15).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/builder/boot.hpp"

namespace vmm::builder {

inline constexpr uint32_t multiboot2_header_magic = 0xe85250d6;
inline constexpr uint32_t multiboot2_boot_magic = 0x36d76289;  // EAX
inline constexpr uint64_t multiboot2_info_gpa = 0x9000;        // EBX
inline constexpr uint64_t multiboot2_info_end = 0x20000;       // the information stays below the command line area

// Errors (*why a sentence): no header, bad checksum, not i386, a tag
// running past the header or no end tag (invalid), a required tag or
// information request this loader cannot honour (unsupported), an address
// tag pointing outside the file (invalid), a segment outside RAM or over
// the information or the BIOS area, information larger than 0x9000-0x1FFFF,
// more than 32 modules or modules that do not fit (out_of_range), an RSDP
// that cannot be read back or has no "RSD PTR " signature (invalid).
// Boot: EIP = the entry address tag or e_entry, EAX = 0x36d76289,
// EBX = 0x9000.
lib::Result<FlatBoot> load_multiboot2(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                      const char** why);

}  // namespace vmm::builder
