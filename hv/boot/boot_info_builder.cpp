#include "hv/boot/boot_info_builder.hpp"

#include "lib/log.hpp"

namespace hv::boot::detail {

void BootInfoBuilder::add_region(uint64_t base, uint64_t size, MemType type, bool merge_adjacent)
{
    if (size == 0) return;
    if (size > UINT64_MAX - base) {
        LOG_WARN("boot: memory region %#lx+%#lx runs past the address space, clipped", base, size);
        size = UINT64_MAX - base;
        if (size == 0) return;
    }
    if (merge_adjacent && out_.region_count > 0) {
        MemRegion& last = out_.regions[out_.region_count - 1];
        if (last.type == type && last.base + last.size == base) {
            last.size += size;  // cannot wrap: base + size was checked above
            return;
        }
    }
    if (out_.region_count == max_regions) {
        if (!regions_full_warned_)
            LOG_WARN("boot: more than %zu memory regions, ignoring %#lx+%#lx and the rest", max_regions, base,
                     size);
        regions_full_warned_ = true;
        return;
    }
    out_.regions[out_.region_count++] = {base, size, type};
}

void BootInfoBuilder::add_module(uint64_t start, uint64_t end, lib::StrView cmdline)
{
    if (end < start) {
        LOG_WARN("boot: module [%#lx, %#lx) ends before it starts, ignored", start, end);
        return;
    }
    if (out_.module_count == max_modules) {
        if (!modules_full_warned_)
            LOG_WARN("boot: more than %zu modules, ignoring [%#lx, %#lx) and the rest", max_modules, start, end);
        modules_full_warned_ = true;
        return;
    }
    Module& m = out_.modules[out_.module_count++];
    m.start = start;
    m.end = end;
    lib::copy_cstr(m.cmdline, sizeof m.cmdline, cmdline);
}

void BootInfoBuilder::add_basic_meminfo(uint32_t mem_lower_kib, uint32_t mem_upper_kib)
{
    // mem_lower: KiB from 0 (at most 640); mem_upper: KiB from 1 MiB up to the
    // first hole (MB1 §3.3, MB2 §3.6.3).
    add_region(0, uint64_t(mem_lower_kib) << 10, MemType::usable);
    add_region(1ull << 20, uint64_t(mem_upper_kib) << 10, MemType::usable);
}

lib::StrView copy_bounded_string(const char* src, size_t avail, char* dst, size_t cap, const char* what)
{
    size_t len = 0;
    while (len < avail && src[len] != '\0') ++len;
    if (len == avail) LOG_WARN("boot: %s is not NUL-terminated within its tag", what);
    if (len >= cap) LOG_WARN("boot: %s longer than %zu bytes, truncated", what, cap - 1);
    lib::StrView s(src, len);
    lib::copy_cstr(dst, cap, s);
    return s;
}

void copy_phys_string(const lib::PhysReader& mem, uint64_t phys, char* dst, size_t cap, const char* what)
{
    if (cap == 0) return;
    size_t n = 0;
    for (;;) {
        const void* p = mem.view(phys + n, 1);
        if (!p || phys + n < phys) {
            LOG_WARN("boot: %s at %#lx unreadable after %zu bytes", what, phys, n);
            break;
        }
        char c = *static_cast<const char*>(p);
        if (c == '\0') break;
        if (n == cap - 1) {
            LOG_WARN("boot: %s at %#lx longer than %zu bytes, truncated", what, phys, cap - 1);
            break;
        }
        dst[n++] = c;
    }
    dst[n] = '\0';
}

}  // namespace hv::boot::detail
