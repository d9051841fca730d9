// Linux-style kernels for the domain builder:
//  - PVH (an ELF, Debian's uncompressed vmlinux among them, with the Xen
//    note XEN_ELFNOTE_PHYS32_ENTRY): segments at their physical addresses,
//    struct hvm_start_info version 1 for EBX (xen/include/public/arch-x86/
//    hvm/start_info.h);
//  - a plain ELF without any boot note: loaded the same way and entered at
//    e_entry with the same PVH start_info in EBX (a convention of this
//    builder: such a kernel finds its command line, modules and memory map
//    there, or ignores EBX);
//  - bzImage through Linux's 32-bit boot protocol (Documentation/arch/x86/
//    boot.rst): the protected-mode kernel, a zero page (struct boot_params)
//    at 0x7000 for ESI.
// All three start in 32-bit flat protected mode with paging off. For PVH
// the code segment only needs to be flat; for bzImage boot.rst asks for
// __BOOT_CS = 0x10 and __BOOT_DS = 0x18 in the GDT (the decompressor loads
// its own GDT at once, but the selectors are the protocol's).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/builder/boot.hpp"

namespace vmm::builder {

// XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h): the 32-bit
// physical entry point of a PVH kernel, in a note named "Xen".
inline constexpr uint32_t xen_elfnote_phys32_entry = 18;
inline constexpr uint32_t hvm_start_magic = 0x336ec578;  // XEN_HVM_START_MAGIC_VALUE

// Loads a PVH ELF. Errors (*why a sentence): no PVH note (invalid), a note
// whose descriptor is not 4 or 8 bytes or points above 4 GiB (invalid), not
// a loadable ELF (lib::elf's error), a segment outside RAM or over the boot
// structures or the BIOS area (out_of_range), RAM below 2 MiB, a command
// line of 64 KiB or more, more than 32 modules, modules that do not fit
// (out_of_range). Boot: EIP = the note's address, EBX = 0x6000.
lib::Result<FlatBoot> load_pvh(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                               const char** why);

// Loads any ELF executable the same way and enters it at e_entry (which
// must be below 4 GiB and inside RAM) with EBX = the PVH start_info.
lib::Result<FlatBoot> load_elf_plain(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                     const char** why);

// Loads a bzImage. Requires boot protocol 2.06 or later, a bzImage
// (LOADED_HIGH) and a 64-bit capable kernel (XLF_KERNEL_64). A relocatable
// kernel is loaded at its pref_address when that is aligned and the kernel
// (init_size) fits there, else at the first kernel_alignment boundary at or
// above 1 MiB; a non-relocatable one at 1 MiB (it moves itself to
// pref_address). The first module (at most one) is the initrd, below
// initrd_addr_max. Errors: no "HdrS" header or a file shorter than its
// setup (invalid / truncated), too old or not 64-bit (unsupported), a
// kernel that does not fit in RAM or a non-relocatable one that would run
// below 1 MiB (out_of_range), a command line longer than cmdline_size,
// more than one module or an initrd that does not fit (out_of_range).
// Boot: EIP = the load address (code32_start), ESI = 0x7000.
lib::Result<FlatBoot> load_bzimage(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                   const char** why);

}  // namespace vmm::builder
