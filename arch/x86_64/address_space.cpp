#include "arch/x86_64/address_space.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "hv/mem/frames.hpp"
#include "lib/log.hpp"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __data_end[];
extern "C" char bsp_boot_stack_guard[];

namespace arch {
namespace {

struct KernelEnv {
    uint64_t pool = 0, pool_size = 0, pool_used = 0;
    bool use_frames = false;

    lib::Result<uint64_t> alloc_table()
    {
        uint64_t phys;
        if (use_frames) {
            phys = TRY(hv::mem::alloc_frames({}));
        } else {
            if (pool_used + page_size > pool_size) return lib::err(lib::Error::no_memory);
            phys = pool + pool_used;
            pool_used += page_size;
        }
        auto* t = phys_to_virt<uint64_t>(phys);
        for (int i = 0; i < 512; ++i) t[i] = 0;
        return phys;
    }
    uint64_t* table(uint64_t phys) { return phys_to_virt<uint64_t>(phys); }
};

KernelEnv env;
PageTable<KernelEnv>* kernel_pt;
alignas(PageTable<KernelEnv>) unsigned char kernel_pt_storage[sizeof(PageTable<KernelEnv>)];
SpinLock pt_lock;
uint64_t mmio_next = mmio_area_base;
PagingFeatures features;

uint64_t sym(const char* p) { return reinterpret_cast<uint64_t>(p); }

lib::Status map_image_range(const char* start, const char* end, MapAttr attr)
{
    uint64_t va = sym(start);
    return kernel_pt->map(va, va - kernel_virt_offset, sym(end) - va, attr);
}

}  // namespace

PagingFeatures paging_features()
{
    auto ext = cpuid(0x80000001);
    auto basic = cpuid(1);
    auto leaf7 = cpuid(0).eax >= 7 ? cpuid(7) : CpuidResult{};
    return {.nx = bool(ext.edx & (1u << 20)),
            .gb_pages = bool(ext.edx & (1u << 26)),
            .global = bool(basic.edx & (1u << 13)),
            .smep = bool(leaf7.ebx & (1u << 7))};
}

lib::Status build_kernel_address_space(const hv::boot::MemRegion* regions, size_t count, uint64_t pool,
                                       size_t pool_size)
{
    features = paging_features();
    env.pool = pool;
    env.pool_size = pool_size;
    auto pt = TRY(PageTable<KernelEnv>::create(env, features.nx, features.gb_pages));
    kernel_pt = new (kernel_pt_storage) PageTable<KernelEnv>(pt);

    // Direct map: RAM and ACPI memory, plus conventional memory below the
    // VGA hole (trampoline, EBDA). Never device memory: that goes through
    // map_mmio with caching off.
    const MapAttr data{.write = true, .global = features.global};
    TRY(kernel_pt->map(direct_map_base, 0, 0xa0000, data));
    for (size_t i = 0; i < count; ++i) {
        const auto& r = regions[i];
        if (r.type == hv::boot::MemType::bad || r.type == hv::boot::MemType::reserved) continue;
        uint64_t base = r.base & ~(page_size - 1);
        uint64_t end = (r.base + r.size + page_size - 1) & ~(page_size - 1);
        if (base < 0xa0000) base = 0xa0000 > end ? end : 0x100000 < end ? 0x100000 : end;
        if (end <= base) continue;
        if (end > direct_map_size) end = direct_map_size;
        auto s = kernel_pt->map(direct_map_base + base, base, end - base, data);
        if (!s.ok() && s.error() != lib::Error::exists) return s;
    }

    // The image, W^X by section.
    TRY(map_image_range(__text_start, __text_end, {.exec = true, .global = features.global}));
    TRY(map_image_range(__rodata_start, __rodata_end, {.global = features.global}));
    TRY(map_image_range(__data_start, __data_end, data));
    // The page below the BSP's boot stack stays unmapped: a guard.
    TRY(kernel_pt->unmap(sym(bsp_boot_stack_guard), page_size));

    uint64_t cr4 = read_cr4();
    if (features.global) cr4 |= 1u << 7;  // PGE
    if (features.smep) cr4 |= 1u << 20;   // SMEP: never execute user pages in ring 0
    write_cr4(cr4);
    load_kernel_cr3();
    return {};
}

void page_tables_use_frame_allocator()
{
    SpinGuard g(pt_lock);
    env.use_frames = true;
}

size_t page_table_pool_used() { return env.pool_used; }

uint64_t kernel_cr3() { return kernel_pt->root(); }

void load_kernel_cr3()
{
    if (features.nx) wrmsr(msr::efer, rdmsr(msr::efer) | (1u << 11));
    write_cr3(kernel_pt->root());
}

lib::Result<void*> map_mmio(uint64_t phys, size_t size)
{
    SpinGuard g(pt_lock);
    uint64_t offset = phys & (page_size - 1);
    uint64_t base = phys - offset;
    uint64_t len = (size + offset + page_size - 1) & ~(page_size - 1);
    uint64_t va = mmio_next;
    TRY(kernel_pt->map(va, base, len, {.write = true, .uncached = true}));
    mmio_next += len + page_size;  // a hole between windows catches overruns
    return reinterpret_cast<void*>(va + offset);
}

lib::Status map_fresh(uint64_t va, size_t size)
{
    for (uint64_t off = 0; off < size; off += page_size) {
        uint64_t frame = TRY(hv::mem::alloc_frames({}));
        auto* p = phys_to_virt<uint64_t>(frame);
        for (int i = 0; i < 512; ++i) p[i] = 0;
        SpinGuard g(pt_lock);
        TRY(kernel_pt->map(va + off, frame, page_size, {.write = true}));
    }
    return {};
}

lib::Result<uint64_t> make_trampoline_cr3(uint64_t trampoline_phys)
{
    SpinGuard g(pt_lock);
    // Below 4 GiB: the trampoline loads CR3 in 32-bit mode.
    uint64_t root = TRY(hv::mem::alloc_frames({.below = 1ull << 32}));
    auto* r = phys_to_virt<uint64_t>(root);
    auto* k = phys_to_virt<uint64_t>(kernel_pt->root());
    for (int i = 0; i < 512; ++i) r[i] = i >= 256 ? k[i] : 0;
    // Tables for the identity page come from below 4 GiB too.
    struct LowEnv {
        lib::Result<uint64_t> alloc_table()
        {
            uint64_t p = TRY(hv::mem::alloc_frames({.below = 1ull << 32}));
            auto* t = phys_to_virt<uint64_t>(p);
            for (int i = 0; i < 512; ++i) t[i] = 0;
            return p;
        }
        uint64_t* table(uint64_t phys) { return phys_to_virt<uint64_t>(phys); }
    } low;
    PageTable<LowEnv> t(low, root, features.nx, false);
    TRY(t.map(trampoline_phys, trampoline_phys, page_size, {.write = true, .exec = true}));
    return root;
}

size_t check_wx()
{
    size_t bad = 0;
    kernel_pt->for_each_leaf([&](uint64_t va, uint64_t pa, uint64_t size, MapAttr a) {
        if (a.write && a.exec && features.nx) {
            LOG_ERROR("hv: W^X violation: %#lx -> %#lx (%lu bytes) writable and executable", va, pa, size);
            ++bad;
        }
    });
    LOG_INFO("hv: W^X: text %#lx-%#lx r-x, rodata r--, data rw-, direct map rw- nx%s", sym(__text_start),
             sym(__text_end), features.nx ? "" : " (no NX on this CPU)");
    return bad;
}

}  // namespace arch
