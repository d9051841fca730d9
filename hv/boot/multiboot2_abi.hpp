// Multiboot2 1.6 boot information layout (§3.6.1 "Boot information format", §3.6.2 "Basic tags structure").
// The info block is a fixed 8-byte header followed by tags, each starting on
// an 8-byte boundary; a tag's `size` covers its header and payload but not
// the padding. Tag type 0 (size 8) ends the list.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::boot::mb2 {

inline constexpr uint32_t boot_magic = 0x36d76289;  // in EAX at entry (§3.3)
inline constexpr uint32_t tag_align = 8;

struct InfoHeader {
    uint32_t total_size;  // including this header and the end tag
    uint32_t reserved;
};
static_assert(sizeof(InfoHeader) == 8);

struct TagHeader {
    uint32_t type;
    uint32_t size;
};
static_assert(sizeof(TagHeader) == 8);

// Tag types (§3.6.3 - §3.6.23).
enum TagType : uint32_t {
    tag_end = 0,
    tag_cmdline = 1,
    tag_loader_name = 2,
    tag_module = 3,
    tag_basic_meminfo = 4,
    tag_bootdev = 5,
    tag_mmap = 6,
    tag_vbe = 7,
    tag_framebuffer = 8,
    tag_elf_sections = 9,
    tag_apm = 10,
    tag_efi32_system_table = 11,
    tag_efi64_system_table = 12,
    tag_smbios = 13,
    tag_acpi_old = 14,  // copy of the ACPI 1.0 RSDP
    tag_acpi_new = 15,  // copy of the ACPI 2.0+ RSDP
    tag_network = 16,
    tag_efi_mmap = 17,
    tag_efi_boot_services = 18,  // boot services not terminated
    tag_efi32_image_handle = 19,
    tag_efi64_image_handle = 20,
    tag_load_base_addr = 21,
};

// §3.6.6 Modules: header, then a NUL-terminated string up to `size`.
struct ModuleTag {
    TagHeader h;
    uint32_t mod_start;
    uint32_t mod_end;
};
static_assert(sizeof(ModuleTag) == 16);

// §3.6.3 Basic memory information.
struct BasicMeminfoTag {
    TagHeader h;
    uint32_t mem_lower;  // KiB from 0
    uint32_t mem_upper;  // KiB from 1 MiB
};
static_assert(sizeof(BasicMeminfoTag) == 16);

// §3.6.8 Memory map: entries of entry_size bytes (a multiple of 8, at least
// 24) follow the 16-byte tag header.
struct MmapTag {
    TagHeader h;
    uint32_t entry_size;
    uint32_t entry_version;
};
static_assert(sizeof(MmapTag) == 16);

struct MmapEntry {
    uint64_t base_addr;
    uint64_t length;
    uint32_t type;  // 1 available, 3 ACPI, 4 NVS, 5 bad, other reserved
    uint32_t reserved;
};
static_assert(offsetof(MmapEntry, type) == 16);
static_assert(sizeof(MmapEntry) == 24);

// §3.6.13 / §3.6.14 EFI 32/64-bit system table pointers.
struct Efi32Tag {
    TagHeader h;
    uint32_t pointer;
};
static_assert(sizeof(Efi32Tag) == 12);

struct [[gnu::packed]] Efi64Tag {
    TagHeader h;
    uint64_t pointer;
};
static_assert(sizeof(Efi64Tag) == 16);

// §3.6.19 EFI memory map: descriptors of descriptor_size bytes (at least the
// 40 bytes of EFI_MEMORY_DESCRIPTOR, usually 48) follow this header.
struct EfiMmapTag {
    TagHeader h;
    uint32_t descriptor_size;
    uint32_t descriptor_version;
};
static_assert(sizeof(EfiMmapTag) == 16);

// §3.6.23 Image load base physical address.
struct LoadBaseTag {
    TagHeader h;
    uint32_t load_base_addr;
};
static_assert(sizeof(LoadBaseTag) == 12);

}  // namespace hv::boot::mb2
