// Which boot protocol a kernel image speaks, and one entry point that loads
// it with the matching loader. The order of the checks is the order of
// preference for an image that speaks several (Xen's xen.gz, for one, has a
// PVH note and both Multiboot headers):
//   elf_pvh     an ELF (32 or 64) with a "Xen" note of type
//               XEN_ELFNOTE_PHYS32_ENTRY (Debian's uncompressed vmlinux)
//   bzimage     "HdrS" at 0x202 (Linux boot.rst); the loader then wants
//               protocol 2.06+ and a 64-bit kernel
//   multiboot1  the Multiboot header magic, 4-aligned, in the first 8 KiB
//   multiboot2  the Multiboot2 header magic, 8-aligned, in the first 32 KiB
//   elf_plain   any other ELF
//   unknown     none of those
// A header's magic is enough to pick its loader, so that a bad checksum or
// an unmet requirement is reported by that loader rather than the kernel
// being booted another way.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/builder/boot.hpp"

namespace vmm::builder {

enum class KernelKind : uint8_t { unknown, elf_pvh, bzimage, multiboot1, multiboot2, elf_plain };

KernelKind detect_kernel(const uint8_t* image, size_t size);
const char* kernel_kind_name(KernelKind kind);  // "PVH ELF", "bzImage", ...

// detect_kernel, then that loader (linux_loader.hpp, multiboot_loader.hpp,
// multiboot2_loader.hpp). A Multiboot1 kernel gets no RSDP (the protocol
// has no field for it; it finds the RSDP by scanning 0xE0000-0xFFFFF).
// Errors: unknown (unsupported, "not a kernel this builder can load ..."),
// else the loader's error and sentence.
lib::Result<FlatBoot> load_kernel(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                  const char** why);

}  // namespace vmm::builder
