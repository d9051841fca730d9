#include "vmm/builder/multiboot2_loader.hpp"

#include <cstddef>
#include <cstring>

#include "lib/elf.hpp"
#include "vmm/builder/e820.hpp"
#include "vmm/builder/load_common.hpp"

namespace vmm::builder {
namespace {

using detail::fail;
using detail::Range;

constexpr size_t header_search = 32768;  // spec 3.1.1: the whole header in the first 32 KiB, 8-byte aligned
constexpr uint32_t arch_i386 = 0;        // 32-bit protected mode
constexpr uint64_t min_ram = 2ull << 20;

// Header tags (spec 3.1.3-3.1.13). Bit 0 of a tag's flags: optional.
namespace htag {
constexpr uint16_t end = 0, info_request = 1, address = 2, entry = 3, console = 4, framebuffer = 5,
                   module_align = 6, efi_bs = 7, entry_efi32 = 8, entry_efi64 = 9, relocatable = 10;
}
constexpr uint16_t tag_optional = 1;

// Boot information tags (spec 3.6).
namespace itag {
constexpr uint32_t end = 0, cmdline = 1, loader_name = 2, module = 3, basic_meminfo = 4, mmap = 6, acpi_old = 14,
                   acpi_new = 15;
}

struct HeaderFixed {
    uint32_t magic, architecture, header_length, checksum;
};
static_assert(sizeof(HeaderFixed) == 16);

struct HeaderTag {
    uint16_t type, flags;
    uint32_t size;
};
static_assert(sizeof(HeaderTag) == 8 && offsetof(HeaderTag, size) == 4);

// Spec 3.1.5: the address tag.
struct AddressTag {
    HeaderTag tag;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr;
};
static_assert(sizeof(AddressTag) == 24 && offsetof(AddressTag, bss_end_addr) == 20);

struct InfoTag {
    uint32_t type, size;
};
static_assert(sizeof(InfoTag) == 8);

struct ModuleTag {
    uint32_t type, size, mod_start, mod_end;  // then the command line, NUL-terminated
};
static_assert(sizeof(ModuleTag) == 16);

struct BasicMeminfoTag {
    uint32_t type, size, mem_lower, mem_upper;
};
static_assert(sizeof(BasicMeminfoTag) == 16);

struct MmapTag {
    uint32_t type, size, entry_size, entry_version;
};
static_assert(sizeof(MmapTag) == 16);

struct MmapEntry {
    uint64_t base_addr, length;
    uint32_t type, reserved;
};
static_assert(sizeof(MmapEntry) == 24 && offsetof(MmapEntry, type) == 16);

constexpr char loader_name[] = "hv Dom0 domain builder";
// ACPI 6.5 5.2.5.3: the RSDP is 20 bytes (revision 0) or 36 (2 and up).
constexpr size_t rsdp_v1_size = 20, rsdp_v2_size = 36;

constexpr size_t align8(size_t v) { return (v + 7) & ~size_t(7); }
uint32_t read32(const uint8_t* p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

struct Header {
    size_t offset;  // of the magic in the file
    bool have_address, have_entry;
    AddressTag address;
    uint32_t entry;
};

// What this loader gives (for the information request tag).
bool provided(uint32_t type, size_t rsdp_size)
{
    switch (type) {
    case itag::end:
    case itag::cmdline:
    case itag::loader_name:
    case itag::module:
    case itag::basic_meminfo:
    case itag::mmap: return true;
    case itag::acpi_old: return rsdp_size != 0;
    case itag::acpi_new: return rsdp_size == rsdp_v2_size;
    default: return false;
    }
}

lib::Result<Header> parse_header(const uint8_t* image, size_t size, size_t rsdp_size, const char** why)
{
    size_t limit = size < header_search ? size : header_search;
    size_t off = 0;
    bool found = false;
    for (; image && off + sizeof(HeaderFixed) <= limit; off += 8)
        if (read32(image + off) == multiboot2_header_magic) {
            found = true;
            break;
        }
    if (!found) return lib::err(fail(why, "no Multiboot2 header in the first 32 KiB", lib::Error::invalid));
    HeaderFixed hf;
    memcpy(&hf, image + off, sizeof hf);
    if (uint32_t(hf.magic + hf.architecture + hf.header_length + hf.checksum) != 0)
        return lib::err(fail(why, "the Multiboot2 header's checksum is wrong", lib::Error::invalid));
    if (hf.architecture != arch_i386)
        return lib::err(fail(why, "the Multiboot2 header is not for i386 (32-bit protected mode)", lib::Error::unsupported));
    if (hf.header_length < sizeof hf + sizeof(HeaderTag) || hf.header_length > limit - off)
        return lib::err(fail(why, "the Multiboot2 header's length runs past the first 32 KiB or the file",
                             lib::Error::invalid));
    Header h{};
    h.offset = off;
    const uint8_t* base = image + off;
    size_t len = hf.header_length;
    bool ended = false;
    for (size_t pos = sizeof hf; pos + sizeof(HeaderTag) <= len;) {
        HeaderTag t;
        memcpy(&t, base + pos, sizeof t);
        if (t.size < sizeof t || t.size > len - pos)
            return lib::err(fail(why, "a Multiboot2 header tag runs past the header", lib::Error::invalid));
        bool optional = t.flags & tag_optional;
        switch (t.type) {
        case htag::end: ended = true; break;
        case htag::info_request:
            // Spec 3.1.4: a loader that cannot give a requested tag of a
            // required request must fail.
            for (size_t i = sizeof t; i + 4 <= t.size; i += 4)
                if (!optional && !provided(read32(base + pos + i), rsdp_size))
                    return lib::err(fail(why, "the kernel requires Multiboot2 information this loader does not give",
                                         lib::Error::unsupported));
            break;
        case htag::address:
            if (t.size < sizeof(AddressTag))
                return lib::err(fail(why, "a Multiboot2 address tag is too short", lib::Error::invalid));
            memcpy(&h.address, base + pos, sizeof h.address);
            h.have_address = true;
            break;
        case htag::entry:
            if (t.size < sizeof t + 4) return lib::err(fail(why, "a Multiboot2 entry tag is too short", lib::Error::invalid));
            h.entry = read32(base + pos + sizeof t);
            h.have_entry = true;
            break;
        // No console information is given (the console is a serial line),
        // nor a framebuffer; modules are always page-aligned; the EFI tags
        // apply to EFI boots only; a relocatable image may stay at its
        // link address.
        case htag::console:
        case htag::framebuffer:
        case htag::module_align:
        case htag::efi_bs:
        case htag::entry_efi32:
        case htag::entry_efi64:
        case htag::relocatable: break;
        default:
            if (!optional)
                return lib::err(fail(why, "the kernel's Multiboot2 header has a required tag this loader does not know",
                                     lib::Error::unsupported));
        }
        if (ended) break;
        pos += align8(t.size);
    }
    if (!ended) return lib::err(fail(why, "the Multiboot2 header has no end tag", lib::Error::invalid));
    return h;
}

// The image as one segment from the address tag (spec 3.1.5).
lib::Result<lib::elf::Image> address_image(const Header& h, size_t size, const char** why)
{
    const AddressTag& a = h.address;
    auto bad = [&] {
        return lib::err(fail(why, "the Multiboot2 address tag does not match the file", lib::Error::invalid));
    };
    // "The offset in the OS image file at which to start loading is defined
    // by the offset at which the header was found, minus (header_addr -
    // load_addr)."
    if (a.load_addr > a.header_addr || a.header_addr - a.load_addr > h.offset) return bad();
    uint64_t file_off = h.offset - (a.header_addr - a.load_addr);
    uint64_t file_size = size - file_off;  // load_end_addr 0: the rest of the file
    if (a.load_end_addr) {
        if (a.load_end_addr < a.load_addr || a.load_end_addr - a.load_addr > file_size) return bad();
        file_size = a.load_end_addr - a.load_addr;
    }
    uint64_t mem_size = file_size;  // bss_end_addr 0: no bss
    if (a.bss_end_addr) {
        if (a.bss_end_addr < a.load_addr + file_size) return bad();
        mem_size = a.bss_end_addr - a.load_addr;
    }
    lib::elf::Image img{};
    img.entry = h.entry;
    img.segment_count = 1;
    img.segments[0] = lib::elf::Segment{a.load_addr, a.load_addr, file_off, file_size, mem_size, 7};
    return img;
}

}  // namespace

lib::Result<FlatBoot> load_multiboot2(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                      const char** why)
{
    // The RSDP first: whether tags 14 and 15 can be given decides the
    // information request's fate.
    uint8_t rsdp[rsdp_v2_size] = {};
    size_t rsdp_size = 0;
    if (args.rsdp_gpa) {
        if (!mem.read(args.rsdp_gpa, rsdp, rsdp_v1_size) || memcmp(rsdp, "RSD PTR ", 8) != 0)
            return lib::err(fail(why, "no RSDP can be read at the given address for the Multiboot2 ACPI tags",
                                 lib::Error::invalid));
        rsdp_size = rsdp_v1_size;
        // Revision (byte 15) 2 and up: the 36-byte ACPI 2.0 structure.
        if (rsdp[15] >= 2) {
            if (!mem.read(args.rsdp_gpa, rsdp, rsdp_v2_size))
                return lib::err(fail(why, "no RSDP can be read at the given address for the Multiboot2 ACPI tags",
                                     lib::Error::invalid));
            rsdp_size = rsdp_v2_size;
        }
    }
    Header h = TRY(parse_header(image, size, rsdp_size, why));
    lib::elf::Image elf{};
    if (h.have_address) {
        if (!h.have_entry)
            return lib::err(fail(why, "the Multiboot2 header has an address tag but no entry address tag",
                                 lib::Error::invalid));
        elf = TRY(address_image(h, size, why));
    } else {
        auto e = lib::elf::parse(image, size);
        if (!e) return lib::err(fail(why, "not an ELF executable and no Multiboot2 address tag", e.error()));
        elf = *e;
        if (h.have_entry) elf.entry = h.entry;
    }

    uint64_t ram = mem.size();
    if (ram < min_ram) return lib::err(fail(why, "less than 2 MiB of RAM", lib::Error::out_of_range));
    if (args.cmdline.size() >= layout::cmdline_max)
        return lib::err(fail(why, "command line of 64 KiB or longer", lib::Error::out_of_range));
    TRY(detail::check_modules(args.modules, args.module_count, why));
    if (elf.entry >= ram || elf.entry > 0xffffffffull)
        return lib::err(fail(why, "the entry point lies outside the domain's RAM", lib::Error::out_of_range));

    E820Map map = build_e820(ram, mem.size_above_4g());
    size_t info_size = 8 + align8(sizeof(InfoTag) + args.cmdline.size() + 1) + align8(sizeof(InfoTag) + sizeof loader_name) +
                       sizeof(BasicMeminfoTag) + sizeof(MmapTag) + map.count * sizeof(MmapEntry) + sizeof(InfoTag);
    for (size_t i = 0; i < args.module_count; ++i) info_size += align8(sizeof(ModuleTag) + args.modules[i].cmdline.size() + 1);
    if (rsdp_size) info_size += align8(sizeof(InfoTag) + rsdp_v1_size);
    if (rsdp_size == rsdp_v2_size) info_size += align8(sizeof(InfoTag) + rsdp_v2_size);
    if (info_size > multiboot2_info_end - multiboot2_info_gpa)
        return lib::err(fail(why, "the Multiboot2 information (with the command lines) is larger than 0x9000-0x1FFFF",
                             lib::Error::out_of_range));
    const Range used[] = {{multiboot2_info_gpa, multiboot2_info_gpa + info_size}};
    TRY(detail::check_segments(elf, ram, used, 1, "a segment overlaps the Multiboot2 information at 0x9000", why));
    uint64_t low = detail::segments_end(elf);
    if (low < e820_high_start) low = e820_high_start;
    uint64_t mod_gpa[max_modules] = {};
    TRY(detail::place_modules(args.modules, args.module_count, low, ram, mod_gpa, why));

    auto write = [&]() -> lib::Status {
        TRY(detail::copy_segments(image, elf, mem));
        for (size_t i = 0; i < args.module_count; ++i)
            if (args.modules[i].size) TRY(mem.write(mod_gpa[i], args.modules[i].data, args.modules[i].size));
        TRY(mem.zero(multiboot2_info_gpa, info_size));
        uint64_t at = multiboot2_info_gpa;
        const uint32_t fixed[2] = {uint32_t(info_size), 0};  // total_size, reserved
        TRY(mem.write(at, fixed, sizeof fixed));
        at += sizeof fixed;
        // A tag holding a string: the page is zeroed, so the NUL and the
        // padding are there already.
        auto string_tag = [&](uint32_t type, lib::StrView s) -> lib::Status {
            InfoTag t{type, uint32_t(sizeof t + s.size() + 1)};
            TRY(mem.write(at, &t, sizeof t));
            if (!s.empty()) TRY(mem.write(at + sizeof t, s.data(), s.size()));
            at += align8(t.size);
            return {};
        };
        TRY(string_tag(itag::cmdline, args.cmdline));
        TRY(string_tag(itag::loader_name, lib::StrView(loader_name, sizeof loader_name - 1)));
        BasicMeminfoTag bm{itag::basic_meminfo, sizeof bm, e820_mem_lower_kib(map), e820_mem_upper_kib(map)};
        TRY(mem.write(at, &bm, sizeof bm));
        at += sizeof bm;
        MmapTag mt{itag::mmap, uint32_t(sizeof mt + map.count * sizeof(MmapEntry)), sizeof(MmapEntry), 0};
        TRY(mem.write(at, &mt, sizeof mt));
        at += sizeof mt;
        for (size_t i = 0; i < map.count; ++i) {
            MmapEntry e{map.entries[i].addr, map.entries[i].size, map.entries[i].type, 0};
            TRY(mem.write(at, &e, sizeof e));
            at += sizeof e;
        }
        for (size_t i = 0; i < args.module_count; ++i) {
            const Module& m = args.modules[i];
            // mod_end: the address just past the module.
            ModuleTag t{itag::module, uint32_t(sizeof t + m.cmdline.size() + 1), uint32_t(mod_gpa[i]),
                        uint32_t(mod_gpa[i] + m.size)};
            TRY(mem.write(at, &t, sizeof t));
            if (!m.cmdline.empty()) TRY(mem.write(at + sizeof t, m.cmdline.data(), m.cmdline.size()));
            at += align8(t.size);
        }
        auto rsdp_tag = [&](uint32_t type, size_t n) -> lib::Status {
            InfoTag t{type, uint32_t(sizeof t + n)};
            TRY(mem.write(at, &t, sizeof t));
            TRY(mem.write(at + sizeof t, rsdp, n));
            at += align8(t.size);
            return {};
        };
        if (rsdp_size) TRY(rsdp_tag(itag::acpi_old, rsdp_v1_size));
        if (rsdp_size == rsdp_v2_size) TRY(rsdp_tag(itag::acpi_new, rsdp_v2_size));
        InfoTag end{itag::end, sizeof(InfoTag)};
        return mem.write(at, &end, sizeof end);
    };
    if (auto st = write(); !st) return lib::err(fail(why, "cannot write to the domain's RAM", st.error()));
    return FlatBoot{uint32_t(elf.entry), multiboot2_boot_magic, uint32_t(multiboot2_info_gpa), 0};
}

}  // namespace vmm::builder
