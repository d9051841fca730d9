#include "vmm/builder/multiboot_loader.hpp"

#include <cstddef>

#include "lib/elf.hpp"

namespace vmm::builder {
namespace {

constexpr uint32_t header_magic = 0x1badb002;
constexpr uint32_t boot_magic = 0x2badb002;
constexpr size_t header_search = 8192;  // the header lies in the first 8 KiB, 4-byte aligned

namespace info_flag {
constexpr uint32_t mem = 1u << 0;
constexpr uint32_t cmdline = 1u << 2;
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
                    lib::StrView cmdline);

}  // namespace

lib::Result<MultibootBoot> load_multiboot(const uint8_t* image, size_t size, GuestMemory& mem, lib::StrView cmdline,
                                          const char** why)
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
        // there are none) and bit 1 (memory information) are given; video
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
    for (size_t i = 0; i < elf->segment_count; ++i) {
        const auto& s = elf->segments[i];
        uint64_t end = s.paddr + s.mem_size;
        if (end < s.paddr || end > ram)
            return lib::err(failed(why, "a segment lies outside the domain's RAM", lib::Error::out_of_range));
        if (s.paddr < multiboot_info_gpa + 0x1000 && multiboot_info_gpa < end)
            return lib::err(failed(why, "a segment overlaps the Multiboot information at 0x9000", lib::Error::out_of_range));
    }
    if (elf->entry > 0xffffffffull) return lib::err(failed(why, "the entry point is above 4 GiB", lib::Error::out_of_range));
    if (auto st = copy_in(image, *elf, mem, ram, cmdline); !st)
        return lib::err(failed(why, "cannot write to the domain's RAM", st.error()));
    return MultibootBoot{uint32_t(elf->entry), boot_magic, uint32_t(multiboot_info_gpa)};
}

namespace {

// The segments, then the information page. The checks are done: what fails
// here is the GuestMemory itself.
lib::Status copy_in(const uint8_t* image, const lib::elf::Image& elf, GuestMemory& mem, uint64_t ram,
                    lib::StrView cmdline)
{
    for (size_t i = 0; i < elf.segment_count; ++i) {
        const auto& s = elf.segments[i];
        TRY(mem.write(s.paddr, image + s.file_offset, s.file_size));
        TRY(mem.zero(s.paddr + s.file_size, s.mem_size - s.file_size));
    }

    // A PC's map: conventional memory, the EBDA/VGA/BIOS hole, the rest.
    uint64_t upper = ram > (4ull << 30) ? (4ull << 30) : ram;
    const MmapEntry map[] = {
        {20, 0, 0x9fc00, 1},
        {20, 0x9fc00, 0x100000 - 0x9fc00, 2},
        {20, 0x100000, ram - 0x100000, 1},
    };
    Info info{};
    info.flags = info_flag::mem | info_flag::cmdline | info_flag::mmap | info_flag::loader_name;
    info.mem_lower = 639;
    info.mem_upper = uint32_t((upper - 0x100000) >> 10);
    info.cmdline = uint32_t(cmdline_gpa);
    info.mmap_length = sizeof map;
    info.mmap_addr = uint32_t(mmap_gpa);
    info.boot_loader_name = uint32_t(loader_name_gpa);
    TRY(mem.zero(multiboot_info_gpa, 0x1000));
    TRY(mem.write(multiboot_info_gpa, &info, sizeof info));
    TRY(mem.write(mmap_gpa, map, sizeof map));
    TRY(mem.write(loader_name_gpa, loader_name, sizeof loader_name));
    TRY(mem.write(cmdline_gpa, cmdline.data(), cmdline.size()));  // the page was zeroed: NUL-terminated
    return {};
}

}  // namespace

}  // namespace vmm::builder
