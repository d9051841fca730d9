// Virtual and physical memory layout of the hypervisor. The linker script and
// the boot assembly use the same numbers (checked by static_assert in
// boot_layout_check.cpp).
#pragma once

#include <cstdint>

namespace arch {

// The image is loaded at 2 MiB physical and linked at -2 GiB + 2 MiB, so that
// -mcmodel=kernel addressing works and the boot tables can map it with one PD.
inline constexpr uint64_t kernel_phys_base = 0x200000;
inline constexpr uint64_t kernel_virt_offset = 0xffffffff80000000ull;
// All physical memory, RW and NX, at PML4 slot 256.
inline constexpr uint64_t direct_map_base = 0xffff800000000000ull;
inline constexpr uint64_t direct_map_size = 1ull << 46;  // 64 TiB
// Stacks (with unmapped guard pages between them) at PML4 slot 508.
inline constexpr uint64_t stack_area_base = 0xfffffe0000000000ull;
// Device MMIO (LAPIC, HPET, IOAPIC) mapped uncached at PML4 slot 507.
inline constexpr uint64_t mmio_area_base = 0xfffffd8000000000ull;

inline constexpr uint64_t page_size = 4096;
inline constexpr uint64_t large_page_size = 2ull << 20;

template <typename T = void> inline T* phys_to_virt(uint64_t phys)
{
    return reinterpret_cast<T*>(direct_map_base + phys);
}
inline uint64_t virt_to_phys(const void* p)
{
    auto v = reinterpret_cast<uint64_t>(p);
    if (v >= kernel_virt_offset) return v - kernel_virt_offset;
    return v - direct_map_base;
}

}  // namespace arch
