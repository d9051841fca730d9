#include "vmm/builder/multiboot_loader.hpp"

#include <cstddef>

#include "lib/elf.hpp"
#include "vmm/builder/e820.hpp"
#include "vmm/builder/load_common.hpp"

namespace vmm::builder {
namespace {

constexpr uint32_t header_magic = 0x1badb002;
constexpr uint32_t boot_magic = 0x2badb002;
constexpr size_t header_search = 8192;  // the header lies in the first 8 KiB, 4-byte aligned

namespace info_flag {
constexpr uint32_t mem = 1u << 0;
constexpr uint32_t cmdline = 1u << 2;
constexpr uint32_t mods = 1u << 3;
constexpr uint32_t mmap = 1u << 6;
constexpr uint32_t loader_name = 1u << 9;
}  // namespace info_flag

// Multiboot 0.6.96 3.3, the fields up to the loader name.
struct Info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
};
static_assert(sizeof(Info) == 68);
static_assert(offsetof(Info, mmap_length) == 44 && offsetof(Info, boot_loader_name) == 64);

struct __attribute__((packed)) MmapEntry {
    uint32_t size;  // of the rest of the entry: 20
    uint64_t base, length;
    uint32_t type;  // 1 = RAM, 2 = reserved
};
static_assert(sizeof(MmapEntry) == 24);

// Multiboot 0.6.96 3.3, the module structure: mod_end is the address just
// past the module; string its command line.
struct ModEntry {
    uint32_t mod_start, mod_end, string, reserved;
};
static_assert(sizeof(ModEntry) == 16 && offsetof(ModEntry, string) == 8);

constexpr uint64_t mmap_gpa = multiboot_info_gpa + 0x100;
constexpr uint64_t loader_name_gpa = multiboot_info_gpa + 0x200;
constexpr uint64_t cmdline_gpa = multiboot_info_gpa + 0x400;
constexpr size_t cmdline_max = 3 * 1024;
constexpr char loader_name[] = "hv Dom0 domain builder";

uint32_t read32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

lib::Error failed(const char** why, const char* text, lib::Error e)
{
    if (why) *why = text;
    return e;
}

lib::Status copy_in(const uint8_t* image, const lib::elf::Image& elf, GuestMemory& mem, uint64_t ram,
                    lib::StrView cmdline, const Module* mods, size_t count, const uint64_t* mod_gpa);

}  // namespace

lib::Result<MultibootBoot> load_multiboot(const uint8_t* image, size_t size, GuestMemory& mem, lib::StrView cmdline,
                                          const char** why)
{
    return load_multiboot(image, size, mem, cmdline, nullptr, 0, why);
}

lib::Result<MultibootBoot> load_multiboot(const uint8_t* image, size_t size, GuestMemory& mem, lib::StrView cmdline,
                                          const Module* modules, size_t module_count, const char** why)
{
    bool header = false;
    // The whole header (12 bytes) lies within the search area, as GRUB checks.
    for (size_t off = 0; off + 12 <= size && off + 12 <= header_search; off += 4) {
        if (read32(image + off) != header_magic) continue;
        uint32_t flags = read32(image + off + 4), sum = read32(image + off + 8);
        if (uint32_t(header_magic + flags + sum) != 0)
            return lib::err(failed(why, "the Multiboot header's checksum is wrong", lib::Error::invalid));
        // Bits 0-15 are requirements (Multiboot 0.6.96 3.1.2): a loader
        // must refuse what it cannot give. Bit 0 (page-aligned modules:
        // they always are) and bit 1 (memory information) are given; video
        // modes (bit 2) and the rest are not.
        if (flags & 0xfffc)
            return lib::err(failed(why, "the kernel requires Multiboot features this loader lacks (a video mode)",
                                   lib::Error::unsupported));
        header = true;
        break;
    }
    if (!header) return lib::err(failed(why, "no Multiboot header in the first 8 KiB", lib::Error::invalid));
    auto elf = lib::elf::parse(image, size);
    if (!elf) return lib::err(failed(why, "not an ELF executable (a.out kludge kernels are not supported)", elf.error()));
    if (cmdline.size() >= cmdline_max) return lib::err(failed(why, "command line longer than 3 KiB", lib::Error::out_of_range));
    uint64_t ram = mem.size();
    if (ram < 2ull << 20) return lib::err(failed(why, "less than 2 MiB of RAM", lib::Error::out_of_range));
    size_t strings = TRY(detail::check_modules(modules, module_count, why));
    const detail::Range info{multiboot_info_gpa, multiboot_info_gpa + 0x1000};
    for (size_t i = 0; i < elf->segment_count; ++i) {
        const auto& s = elf->segments[i];
        uint64_t end = s.paddr + s.mem_size;
        if (end < s.paddr || end > ram)
            return lib::err(failed(why, "a segment lies outside the domain's RAM", lib::Error::out_of_range));
        if (detail::overlaps({s.paddr, end}, info))
            return lib::err(failed(why, "a segment overlaps the Multiboot information at 0x9000", lib::Error::out_of_range));
    }
    // The module list and its strings exist only with modules (a kernel may
    // well put its bss at 0xA000 otherwise).
    const detail::Range used[] = {
        {multiboot_mods_gpa, multiboot_mods_gpa + module_count * sizeof(ModEntry)},
        {layout::module_cmdline_gpa, layout::module_cmdline_gpa + (module_count ? strings : 0)},
    };
    TRY(detail::check_segments(*elf, ram, used, 2, "a segment overlaps the Multiboot module list or its command lines",
                               why));
    if (elf->entry > 0xffffffffull) return lib::err(failed(why, "the entry point is above 4 GiB", lib::Error::out_of_range));
    uint64_t low = detail::segments_end(*elf);
    if (low < e820_high_start) low = e820_high_start;
    uint64_t mod_gpa[max_modules] = {};
    TRY(detail::place_modules(modules, module_count, low, ram, mod_gpa, why));
    if (auto st = copy_in(image, *elf, mem, ram, cmdline, modules, module_count, mod_gpa); !st)
        return lib::err(failed(why, "cannot write to the domain's RAM", st.error()));
    return MultibootBoot{uint32_t(elf->entry), boot_magic, uint32_t(multiboot_info_gpa)};
}

namespace {

// The segments, then the information page. The checks are done: what fails
// here is the GuestMemory itself.
lib::Status copy_in(const uint8_t* image, const lib::elf::Image& elf, GuestMemory& mem, uint64_t ram,
                    lib::StrView cmdline, const Module* mods, size_t count, const uint64_t* mod_gpa)
{
    TRY(detail::copy_segments(image, elf, mem));
    uint64_t mod_cmdline[max_modules] = {};
    TRY(detail::write_modules(mem, mods, count, mod_gpa, mod_cmdline, false));

    // The domain's map (e820.hpp), in Multiboot's form: each entry with its
    // size field (20) before it.
    E820Map e820 = build_e820(ram, mem.size_above_4g());
    MmapEntry map[e820_max_entries] = {};
    for (size_t i = 0; i < e820.count; ++i)
        map[i] = MmapEntry{20, e820.entries[i].addr, e820.entries[i].size, e820.entries[i].type};
    static_assert(mmap_gpa + e820_max_entries * sizeof(MmapEntry) <= loader_name_gpa);
    Info info{};
    info.flags = info_flag::mem | info_flag::cmdline | info_flag::mmap | info_flag::loader_name;
    info.mem_lower = e820_mem_lower_kib(e820);
    info.mem_upper = e820_mem_upper_kib(e820);
    info.cmdline = uint32_t(cmdline_gpa);
    info.mmap_length = uint32_t(e820.count * sizeof(MmapEntry));
    info.mmap_addr = uint32_t(mmap_gpa);
    info.boot_loader_name = uint32_t(loader_name_gpa);
    if (count) {
        info.flags |= info_flag::mods;
        info.mods_count = uint32_t(count);
        info.mods_addr = uint32_t(multiboot_mods_gpa);
        for (size_t i = 0; i < count; ++i) {
            ModEntry m{uint32_t(mod_gpa[i]), uint32_t(mod_gpa[i] + mods[i].size), uint32_t(mod_cmdline[i]), 0};
            TRY(mem.write(multiboot_mods_gpa + i * sizeof m, &m, sizeof m));
        }
    }
    TRY(mem.zero(multiboot_info_gpa, 0x1000));
    TRY(mem.write(multiboot_info_gpa, &info, sizeof info));
    TRY(mem.write(mmap_gpa, map, info.mmap_length));
    TRY(mem.write(loader_name_gpa, loader_name, sizeof loader_name));
    TRY(mem.write(cmdline_gpa, cmdline.data(), cmdline.size()));  // the page was zeroed: NUL-terminated
    return {};
}

}  // namespace

}  // namespace vmm::builder
