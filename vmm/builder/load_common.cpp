#include "vmm/builder/load_common.hpp"

#include "vmm/builder/e820.hpp"

namespace vmm::builder::detail {

lib::Status check_segments(const lib::elf::Image& elf, uint64_t ram, const Range* used, size_t used_count,
                           const char* used_why, const char** why)
{
    const Range hole{e820_low_end, e820_high_start};
    for (size_t i = 0; i < elf.segment_count; ++i) {
        const auto& s = elf.segments[i];
        uint64_t end = s.paddr + s.mem_size;  // lib::elf refused a wrap
        if (end > ram) return lib::err(fail(why, "a segment lies outside the domain's RAM", lib::Error::out_of_range));
        Range r{s.paddr, end};
        for (size_t u = 0; u < used_count; ++u)
            if (overlaps(r, used[u])) return lib::err(fail(why, used_why, lib::Error::out_of_range));
        if (overlaps(r, hole))
            return lib::err(fail(why, "a segment overlaps the reserved BIOS area at 0x9F000-0xFFFFF",
                                 lib::Error::out_of_range));
    }
    return {};
}

uint64_t segments_end(const lib::elf::Image& elf)
{
    uint64_t end = 0;
    for (size_t i = 0; i < elf.segment_count; ++i) {
        uint64_t e = elf.segments[i].paddr + elf.segments[i].mem_size;
        if (elf.segments[i].mem_size && e > end) end = e;
    }
    return end;
}

lib::Status copy_segments(const uint8_t* image, const lib::elf::Image& elf, GuestMemory& mem)
{
    for (size_t i = 0; i < elf.segment_count; ++i) {
        const auto& s = elf.segments[i];
        if (s.file_size) TRY(mem.write(s.paddr, image + s.file_offset, s.file_size));
        if (s.mem_size > s.file_size) TRY(mem.zero(s.paddr + s.file_size, s.mem_size - s.file_size));
    }
    return {};
}

lib::Result<size_t> check_modules(const Module* mods, size_t count, const char** why)
{
    if (count > max_modules) return lib::err(fail(why, "more than 32 modules", lib::Error::out_of_range));
    if (count && !mods) return lib::err(fail(why, "a module has no data", lib::Error::invalid));
    size_t strings = 0;
    for (size_t i = 0; i < count; ++i) {
        if (mods[i].size && !mods[i].data) return lib::err(fail(why, "a module has no data", lib::Error::invalid));
        if (mods[i].cmdline.size() >= layout::module_cmdline_max - strings)
            return lib::err(fail(why, "the modules' command lines are longer than 64 KiB in all", lib::Error::out_of_range));
        strings += mods[i].cmdline.size() + 1;
    }
    return strings;
}

lib::Status place_modules(const Module* mods, size_t count, uint64_t low, uint64_t high, uint64_t* gpa,
                          const char** why)
{
    if (count == 0) return {};
    if (high > four_gib) high = four_gib;
    uint64_t top = align_down(high, page_size);
    low = align_up(low, page_size);
    uint64_t room = top > low ? top - low : 0, total = 0;
    for (size_t i = 0; i < count; ++i) {
        // Sizes are compared before they are rounded up: a module of nearly
        // 2^64 bytes cannot wrap the sum.
        if (mods[i].size > room || align_up(mods[i].size, page_size) > room - total)
            return lib::err(fail(why, "the modules do not fit in the domain's RAM above the kernel", lib::Error::out_of_range));
        total += align_up(mods[i].size, page_size);
    }
    uint64_t at = top - total;
    for (size_t i = 0; i < count; ++i) {
        gpa[i] = at;
        at += align_up(mods[i].size, page_size);
    }
    return {};
}

lib::Status write_cstr(GuestMemory& mem, uint64_t gpa, lib::StrView s)
{
    const char nul = 0;
    if (!s.empty()) TRY(mem.write(gpa, s.data(), s.size()));
    return mem.write(gpa + s.size(), &nul, 1);
}

lib::Status write_modules(GuestMemory& mem, const Module* mods, size_t count, const uint64_t* gpa,
                          uint64_t* cmdline_gpa, bool empty_as_zero)
{
    uint64_t strings = layout::module_cmdline_gpa;
    for (size_t i = 0; i < count; ++i) {
        if (mods[i].size) TRY(mem.write(gpa[i], mods[i].data, mods[i].size));
        if (mods[i].cmdline.empty() && empty_as_zero) {
            cmdline_gpa[i] = 0;
            continue;
        }
        TRY(write_cstr(mem, strings, mods[i].cmdline));
        cmdline_gpa[i] = strings;
        strings += mods[i].cmdline.size() + 1;
    }
    return {};
}

}  // namespace vmm::builder::detail
