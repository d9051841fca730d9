// Multiboot 0.6.96 boot information layout (§3.3 "Boot information format").
// Fixed by the specification; every offset is checked below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::boot::mb1 {

inline constexpr uint32_t boot_magic = 0x2BADB002;  // in EAX at entry (§3.2)

// `flags` bits: which of the following fields are valid (§3.3).
enum Flag : uint32_t {
    flag_mem = 1u << 0,          // mem_lower, mem_upper
    flag_boot_device = 1u << 1,
    flag_cmdline = 1u << 2,
    flag_mods = 1u << 3,
    flag_aout_syms = 1u << 4,
    flag_elf_shdr = 1u << 5,
    flag_mmap = 1u << 6,         // mmap_length, mmap_addr
    flag_drives = 1u << 7,
    flag_config_table = 1u << 8,
    flag_loader_name = 1u << 9,
    flag_apm = 1u << 10,
    flag_vbe = 1u << 11,
    flag_framebuffer = 1u << 12,
};

struct [[gnu::packed]] Info {  // packed: 116 bytes, framebuffer_addr makes it 8-aligned otherwise
    uint32_t flags;
    uint32_t mem_lower;  // KiB from 0
    uint32_t mem_upper;  // KiB from 1 MiB
    uint32_t boot_device;
    uint32_t cmdline;  // physical address of a C string
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
    uint32_t vbe_control_info;
    uint32_t vbe_mode_info;
    uint16_t vbe_mode;
    uint16_t vbe_interface_seg;
    uint16_t vbe_interface_off;
    uint16_t vbe_interface_len;
    uint64_t framebuffer_addr;
    uint32_t framebuffer_pitch;
    uint32_t framebuffer_width;
    uint32_t framebuffer_height;
    uint8_t framebuffer_bpp;
    uint8_t framebuffer_type;
    uint8_t color_info[6];
};
static_assert(offsetof(Info, mem_lower) == 4);
static_assert(offsetof(Info, cmdline) == 16);
static_assert(offsetof(Info, mods_count) == 20);
static_assert(offsetof(Info, mods_addr) == 24);
static_assert(offsetof(Info, mmap_length) == 44);
static_assert(offsetof(Info, mmap_addr) == 48);
static_assert(offsetof(Info, boot_loader_name) == 64);
static_assert(offsetof(Info, vbe_mode) == 80);
static_assert(offsetof(Info, framebuffer_addr) == 88);
static_assert(offsetof(Info, framebuffer_bpp) == 108);
static_assert(sizeof(Info) == 116);

// The part of Info every loader provides when it sets any of flags 0..9: the
// parser reads only this much so a loader that stops early is not punished.
inline constexpr size_t info_min_size = offsetof(Info, apm_table);

// Module structure (§3.3, "mods_addr").
struct Mod {
    uint32_t mod_start;
    uint32_t mod_end;  // first byte after the module
    uint32_t string;   // physical address of a C string
    uint32_t reserved;
};
static_assert(sizeof(Mod) == 16);

// Memory map entry (§3.3, "mmap_addr"). `size` precedes the entry and does
// not count itself; the next entry starts at &size + size + 4.
struct [[gnu::packed]] MmapEntry {
    uint32_t size;
    uint64_t base_addr;
    uint64_t length;
    uint32_t type;  // 1 available, 3 ACPI, 4 NVS, 5 bad, other reserved
};
static_assert(offsetof(MmapEntry, base_addr) == 4);
static_assert(offsetof(MmapEntry, length) == 12);
static_assert(offsetof(MmapEntry, type) == 20);
static_assert(sizeof(MmapEntry) == 24);
inline constexpr uint32_t mmap_entry_min_size = sizeof(MmapEntry) - 4;  // the `size` field's value

}  // namespace hv::boot::mb1
