// UEFI memory descriptors as handed over in the Multiboot2 EFI memory map tag
// (UEFI 2.10 §7.2.3, EFI_BOOT_SERVICES.GetMemoryMap(): EFI_MEMORY_DESCRIPTOR
// and EFI_MEMORY_TYPE), and their translation to MemType.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/boot/boot_info.hpp"

namespace hv::boot::efi {

enum MemoryType : uint32_t {
    reserved_memory = 0,
    loader_code = 1,
    loader_data = 2,
    boot_services_code = 3,
    boot_services_data = 4,
    runtime_services_code = 5,
    runtime_services_data = 6,
    conventional_memory = 7,
    unusable_memory = 8,
    acpi_reclaim_memory = 9,
    acpi_memory_nvs = 10,
    memory_mapped_io = 11,
    memory_mapped_io_port_space = 12,
    pal_code = 13,
    persistent_memory = 14,
    unaccepted_memory = 15,
};

inline constexpr uint64_t page_size = 4096;  // EFI_PAGE_SIZE, whatever the CPU page size

struct MemoryDescriptor {
    uint32_t type;
    uint32_t pad;
    uint64_t physical_start;
    uint64_t virtual_start;
    uint64_t number_of_pages;
    uint64_t attribute;
};
static_assert(offsetof(MemoryDescriptor, physical_start) == 8);
static_assert(offsetof(MemoryDescriptor, number_of_pages) == 24);
static_assert(sizeof(MemoryDescriptor) == 40);  // descriptor_size may be larger (48 is common)

// Loader and boot-services memory is free once boot services have exited;
// while they are still running (Multiboot2 tag 18) it stays reserved.
constexpr MemType to_mem_type(uint32_t t, bool boot_services_running)
{
    switch (t) {
    case loader_code:
    case loader_data:
    case boot_services_code:
    case boot_services_data:
        return boot_services_running ? MemType::reserved : MemType::usable;
    case conventional_memory: return MemType::usable;
    case acpi_reclaim_memory: return MemType::acpi_reclaimable;
    case acpi_memory_nvs: return MemType::acpi_nvs;
    case unusable_memory: return MemType::bad;
    case persistent_memory: return MemType::reserved;
    default: return MemType::reserved;  // runtime services, MMIO, PAL, unaccepted, unknown
    }
}

}  // namespace hv::boot::efi
