// What the boot loader told us, copied out of its info block into one
// loader-independent structure (Multiboot1 or Multiboot2). Filled by
// parse_multiboot() before anything else looks at memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::boot {

// Same numbering as the Multiboot/E820 memory types (Multiboot 0.6.96 §3.3,
// Multiboot2 1.6 §3.6.8), so raw values map directly.
enum class MemType : uint8_t { usable = 1, reserved = 2, acpi_reclaimable = 3, acpi_nvs = 4, bad = 5 };

constexpr const char* mem_type_name(MemType t)
{
    switch (t) {
    case MemType::usable: return "usable";
    case MemType::reserved: return "reserved";
    case MemType::acpi_reclaimable: return "ACPI data";
    case MemType::acpi_nvs: return "ACPI NVS";
    case MemType::bad: return "bad";
    }
    return "?";
}

struct MemRegion {
    uint64_t base;
    uint64_t size;
    MemType type;
};

struct Module {
    uint64_t start;  // [start, end)
    uint64_t end;
    char cmdline[128];
};

inline constexpr size_t max_regions = 256;
inline constexpr size_t max_modules = 16;

struct BootInfo {
    enum class Protocol : uint8_t { multiboot1, multiboot2 } protocol;
    char cmdline[512];  // NUL-terminated copy (truncated with a warning)
    char loader_name[64];
    MemRegion regions[max_regions];  // raw, as the loader gave them
    size_t region_count;
    Module modules[max_modules];
    size_t module_count;
    bool has_rsdp;
    uint8_t rsdp[36];  // copy of the RSDP from MB2 tag 14/15
    size_t rsdp_len;
    bool efi;  // MB2 tags 11/12 or EFI memory map tag 17 seen
    uint64_t efi_system_table;
    uint64_t info_start, info_end;  // physical range of the loader's info block (to reserve)

    // Additions beyond the original interface.
    bool has_load_base;  // MB2 tag 21: physical address the image was loaded at
    uint64_t load_base;
    bool efi_boot_services;  // MB2 tag 18: boot services not exited (their memory stays reserved)
    uint32_t mem_lower_kib;  // MB1 mem_lower / MB2 tag 4, 0 if not given
    uint32_t mem_upper_kib;
};

}  // namespace hv::boot
