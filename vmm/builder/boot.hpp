// What every kernel loader of the domain builder shares: the window onto
// the domain's RAM, the kernel's inputs (command line, modules, the ACPI
// RSDP's address) and the registers vCPU 0 starts with. Every loader boots
// the same way: 32-bit flat protected mode, paging off, interrupts off; only
// the entry point and EAX/EBX/ESI differ.
//
// The guest-physical layout all loaders follow (RAM is contiguous from 0):
//   0x6000  PVH start_info, its memory map and module list (one page)
//   0x7000  Linux zero page (struct boot_params, one page)
//   0x9000  Multiboot1 or Multiboot2 information (Multiboot1: one page, its
//           module list at 0xA000; Multiboot2: up to 0x20000)
//   0x20000 the kernel's command line (up to 64 KiB; Multiboot1 keeps its
//           own at 0x9400, Multiboot2 inside its information)
//   0x30000 the modules' command lines (up to 64 KiB, PVH and Multiboot1)
//   0x9F000-0xFFFFF reserved (e820): ACPI tables at 0xE0000, written by the
//           platform builder; no kernel segment may go there
//   top of RAM below 4 GiB: the modules (initrd), page-aligned, in order
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "lib/str.hpp"

namespace vmm::builder {

class GuestMemory {
public:
    virtual uint64_t size() const = 0;  // bytes of RAM from guest-physical 0
    // Bytes of RAM from 4 GiB (e820.hpp): only the memory map tells of it,
    // everything a loader places goes below.
    virtual uint64_t size_above_4g() const { return 0; }
    virtual lib::Status write(uint64_t gpa, const void* src, size_t len) = 0;
    virtual lib::Status zero(uint64_t gpa, size_t len) = 0;
    // Reads back what another part of the builder wrote (the Multiboot2
    // loader copies the RSDP). Windows that cannot read say unsupported.
    virtual lib::Status read(uint64_t, void*, size_t) const { return lib::err(lib::Error::unsupported); }

protected:
    ~GuestMemory() = default;
};

// A module (QEMU's -initrd "file args,file args"): its bytes and command
// line. For a Linux kernel (bzImage or PVH) the first module is the initrd.
struct Module {
    const uint8_t* data;
    size_t size;
    lib::StrView cmdline;
};

struct KernelArgs {
    lib::StrView cmdline;
    const Module* modules = nullptr;
    size_t module_count = 0;
    uint64_t rsdp_gpa = 0;  // guest-physical address of the ACPI RSDP; 0: none
};

// vCPU 0's start: EIP and the three registers the boot protocols use. The
// other general registers are zero (Linux's 32-bit protocol wants EBP, EDI
// and EBX zero).
struct FlatBoot {
    uint32_t entry;
    uint32_t eax;
    uint32_t ebx;
    uint32_t esi;
};

inline constexpr size_t max_modules = 32;

namespace layout {
inline constexpr uint64_t start_info_gpa = 0x6000;
inline constexpr uint64_t zero_page_gpa = 0x7000;
inline constexpr uint64_t cmdline_gpa = 0x20000;
inline constexpr size_t cmdline_max = 0x10000;  // bytes with the NUL
inline constexpr uint64_t module_cmdline_gpa = 0x30000;
inline constexpr size_t module_cmdline_max = 0x10000;  // all of them, with their NULs
}  // namespace layout

}  // namespace vmm::builder
