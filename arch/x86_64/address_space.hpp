// The hypervisor's own address space: the direct map of RAM (RW, NX), the
// image mapped W^X by section, stacks with unmapped guard pages, and uncached
// MMIO windows. Built once on the BSP and shared by every CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/x86_64/page_table.hpp"
#include "hv/boot/boot_info.hpp"
#include "lib/result.hpp"

namespace arch {

struct PagingFeatures {
    bool nx;
    bool gb_pages;
    bool global;
    bool smep;
};
PagingFeatures paging_features();

// Builds the kernel page tables with table frames taken from [pool, pool+pool_size)
// (reserved by the caller, below 4 GiB so the boot direct map reaches it),
// then loads them. Until frames_ready(), later table allocations also come
// from the pool.
lib::Status build_kernel_address_space(const hv::boot::MemRegion* regions, size_t count, uint64_t pool,
                                       size_t pool_size);
// From now on page-table frames come from the frame allocator.
void page_tables_use_frame_allocator();
// Pool bytes actually used (the rest can be given back).
size_t page_table_pool_used();

uint64_t kernel_cr3();
void load_kernel_cr3();

// Maps [phys, phys+size) uncached in the MMIO area; returns its virtual address.
lib::Result<void*> map_mmio(uint64_t phys, size_t size);
// Backs [va, va+size) with fresh zeroed frames, RW and NX.
lib::Status map_fresh(uint64_t va, size_t size);
// Identity-maps one page executable in a separate, short-lived PML4 that
// shares the kernel's upper half: the SMP trampoline's bridge into long mode.
lib::Result<uint64_t> make_trampoline_cr3(uint64_t trampoline_phys);

// Counts leaf mappings that are both writable and executable (must be 0),
// and logs the layout.
size_t check_wx();

}  // namespace arch
