#include "vmm/builder/linux_loader.hpp"

#include <cstddef>
#include <cstring>

#include "lib/elf.hpp"
#include "vmm/builder/e820.hpp"
#include "vmm/builder/load_common.hpp"

namespace vmm::builder {
namespace {

using detail::fail;
using detail::Range;

constexpr uint64_t min_ram = 2ull << 20;

// ---- PVH: xen/include/public/arch-x86/hvm/start_info.h ----

// struct hvm_start_info, version 1 (memmap_paddr and memmap_entries are
// version 1's; a version 0 reader stops before them).
struct HvmStartInfo {
    uint32_t magic;  // XEN_HVM_START_MAGIC_VALUE
    uint32_t version;
    uint32_t flags;  // SIF_xxx: none for an unprivileged HVM domain
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);
static_assert(offsetof(HvmStartInfo, nr_modules) == 12 && offsetof(HvmStartInfo, modlist_paddr) == 16);
static_assert(offsetof(HvmStartInfo, cmdline_paddr) == 24 && offsetof(HvmStartInfo, rsdp_paddr) == 32);
static_assert(offsetof(HvmStartInfo, memmap_paddr) == 40 && offsetof(HvmStartInfo, memmap_entries) == 48);

struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32 && offsetof(HvmModlistEntry, cmdline_paddr) == 16);

// struct hvm_memmap_table_entry: type is XEN_HVM_MEMMAP_TYPE_*, which are
// the e820 types (RAM 1, RESERVED 2, ACPI 3, NVS 4, UNUSABLE 5).
struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24 && offsetof(HvmMemmapEntry, type) == 16);

// All three in the page at 0x6000.
constexpr uint64_t memmap_gpa = layout::start_info_gpa + 0x40;
constexpr uint64_t modlist_gpa = layout::start_info_gpa + 0x100;
static_assert(memmap_gpa + e820_max_entries * sizeof(HvmMemmapEntry) <= modlist_gpa);
static_assert(modlist_gpa + max_modules * sizeof(HvmModlistEntry) <= layout::start_info_gpa + 0x1000);

// The ELF's segments, the modules at the top of RAM and the start_info.
lib::Result<FlatBoot> load_with_start_info(const uint8_t* image, const lib::elf::Image& elf, uint64_t entry,
                                           GuestMemory& mem, const KernelArgs& args, const char** why)
{
    uint64_t ram = mem.size();
    if (ram < min_ram) return lib::err(fail(why, "less than 2 MiB of RAM", lib::Error::out_of_range));
    if (args.cmdline.size() >= layout::cmdline_max)
        return lib::err(fail(why, "command line of 64 KiB or longer", lib::Error::out_of_range));
    size_t strings = TRY(detail::check_modules(args.modules, args.module_count, why));
    if (entry >= ram || entry > 0xffffffffull)
        return lib::err(fail(why, "the entry point lies outside the domain's RAM", lib::Error::out_of_range));
    const Range used[] = {
        {layout::start_info_gpa, layout::start_info_gpa + 0x1000},
        {layout::cmdline_gpa, layout::cmdline_gpa + args.cmdline.size() + 1},
        {layout::module_cmdline_gpa, layout::module_cmdline_gpa + strings},
    };
    TRY(detail::check_segments(elf, ram, used, 3,
                               "a segment overlaps the start_info at 0x6000 or the command lines at 0x20000", why));
    uint64_t low = detail::segments_end(elf);
    if (low < e820_high_start) low = e820_high_start;
    uint64_t mod_gpa[max_modules] = {}, mod_cmdline[max_modules] = {};
    TRY(detail::place_modules(args.modules, args.module_count, low, ram, mod_gpa, why));

    // The checks are done: what fails now is the GuestMemory itself.
    auto write = [&]() -> lib::Status {
        TRY(detail::copy_segments(image, elf, mem));
        TRY(detail::write_modules(mem, args.modules, args.module_count, mod_gpa, mod_cmdline, true));
        TRY(detail::write_cstr(mem, layout::cmdline_gpa, args.cmdline));
        E820Map map = build_e820(ram, mem.size_above_4g());
        HvmMemmapEntry mm[e820_max_entries] = {};
        for (size_t i = 0; i < map.count; ++i)
            mm[i] = HvmMemmapEntry{map.entries[i].addr, map.entries[i].size, map.entries[i].type, 0};
        HvmModlistEntry ml[max_modules] = {};
        for (size_t i = 0; i < args.module_count; ++i)
            ml[i] = HvmModlistEntry{mod_gpa[i], args.modules[i].size, mod_cmdline[i], 0};
        HvmStartInfo si{};
        si.magic = hvm_start_magic;
        si.version = 1;
        si.nr_modules = uint32_t(args.module_count);
        // "A 0 value in any of the address fields should be treated as not
        // present" (start_info.h): no module list without modules.
        si.modlist_paddr = args.module_count ? modlist_gpa : 0;
        si.cmdline_paddr = layout::cmdline_gpa;
        si.rsdp_paddr = args.rsdp_gpa;
        si.memmap_paddr = memmap_gpa;
        si.memmap_entries = uint32_t(map.count);
        TRY(mem.zero(layout::start_info_gpa, 0x1000));
        TRY(mem.write(layout::start_info_gpa, &si, sizeof si));
        TRY(mem.write(memmap_gpa, mm, map.count * sizeof mm[0]));
        if (args.module_count) TRY(mem.write(modlist_gpa, ml, args.module_count * sizeof ml[0]));
        return {};
    };
    if (auto st = write(); !st) return lib::err(fail(why, "cannot write to the domain's RAM", st.error()));
    // start_info.h: EBX holds start_info's address; the other registers
    // are undefined (zero here).
    return FlatBoot{uint32_t(entry), 0, uint32_t(layout::start_info_gpa), 0};
}

lib::Result<lib::elf::Image> parse_elf(const uint8_t* image, size_t size, const char** why)
{
    auto elf = lib::elf::parse(image, size);
    if (!elf) return lib::err(fail(why, "not a loadable ELF executable (x86, ET_EXEC, PT_LOAD segments inside the file)",
                                   elf.error()));
    return elf;
}

// ---- bzImage: Documentation/arch/x86/boot.rst, zero-page.rst ----

constexpr uint32_t hdrs_magic = 0x53726448;  // "HdrS" at 0x202
constexpr uint16_t min_protocol = 0x206;     // cmdline_size appears in 2.06
constexpr uint8_t loaded_high = 1u << 0;     // loadflags: protected-mode code at 0x100000 (bzImage)
constexpr uint8_t can_use_heap = 1u << 7;    // loadflags: heap_end_ptr is valid
constexpr uint16_t xlf_kernel_64 = 1u << 0;  // xloadflags (2.12): a 64-bit kernel

// The setup header: boot.rst "The Real-Mode Kernel Header", at 0x1F1 of
// the image and of struct boot_params, up to kernel_info_offset (2.15).
struct __attribute__((packed)) SetupHeader {
    uint8_t setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size;
    uint16_t vid_mode;
    uint16_t root_dev;
    uint16_t boot_flag;
    uint16_t jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg;
    uint16_t kernel_version;
    uint8_t type_of_loader;
    uint8_t loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start;
    uint32_t ramdisk_image;
    uint32_t ramdisk_size;
    uint32_t bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t ext_loader_ver;
    uint8_t ext_loader_type;
    uint32_t cmd_line_ptr;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint8_t relocatable_kernel;
    uint8_t min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size;
    uint32_t hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset;
    uint32_t payload_length;
    uint64_t setup_data;
    uint64_t pref_address;
    uint32_t init_size;
    uint32_t handover_offset;
    uint32_t kernel_info_offset;
};
constexpr size_t hdr_at = 0x1f1;
#define HDR_AT(field, off) static_assert(hdr_at + offsetof(SetupHeader, field) == off)
HDR_AT(setup_sects, 0x1f1);
HDR_AT(syssize, 0x1f4);
HDR_AT(boot_flag, 0x1fe);
HDR_AT(jump, 0x200);
HDR_AT(header, 0x202);
HDR_AT(version, 0x206);
HDR_AT(type_of_loader, 0x210);
HDR_AT(loadflags, 0x211);
HDR_AT(code32_start, 0x214);
HDR_AT(ramdisk_image, 0x218);
HDR_AT(ramdisk_size, 0x21c);
HDR_AT(heap_end_ptr, 0x224);
HDR_AT(cmd_line_ptr, 0x228);
HDR_AT(initrd_addr_max, 0x22c);
HDR_AT(kernel_alignment, 0x230);
HDR_AT(relocatable_kernel, 0x234);
HDR_AT(min_alignment, 0x235);
HDR_AT(xloadflags, 0x236);
HDR_AT(cmdline_size, 0x238);
HDR_AT(hardware_subarch, 0x23c);
HDR_AT(setup_data, 0x250);
HDR_AT(pref_address, 0x258);
HDR_AT(init_size, 0x260);
HDR_AT(kernel_info_offset, 0x268);
#undef HDR_AT
static_assert(sizeof(SetupHeader) == 0x26c - 0x1f1);

// struct boot_params, "the zero page" (zero-page.rst): only the fields
// this loader sets are named.
struct __attribute__((packed)) BootParams {
    uint8_t screen_info[0x40];  // zero: no video; the console is the serial line
    uint8_t apm_bios_info[0x14];
    uint8_t pad0[0x70 - 0x54];
    uint64_t acpi_rsdp_addr;  // 2.14
    uint8_t pad1[0xc0 - 0x78];
    uint32_t ext_ramdisk_image;  // high halves: zero, all is below 4 GiB
    uint32_t ext_ramdisk_size;
    uint32_t ext_cmd_line_ptr;
    uint8_t pad2[0x1e8 - 0xcc];
    uint8_t e820_entries;
    uint8_t pad3[0x1ef - 0x1e9];
    uint8_t sentinel;  // stays 0: the kernel takes a non-zero one for a loader that did not clear the page
    uint8_t pad4;
    SetupHeader hdr;
    uint8_t pad5[0x2d0 - 0x26c];
    E820Entry e820_table[128];
    uint8_t pad6[0x1000 - 0xcd0];
};
static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x70);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0xc0 && offsetof(BootParams, ext_cmd_line_ptr) == 0xc8);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8 && offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == hdr_at && offsetof(BootParams, e820_table) == 0x2d0);
static_assert(e820_max_entries <= 128);

// Where boot_params' setup header ends: the edd_mbr_sig_buffer at 0x290.
constexpr size_t hdr_space_end = 0x290;

}  // namespace

lib::Result<FlatBoot> load_pvh(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                               const char** why)
{
    auto note = lib::elf::find_note(image, size, "Xen", xen_elfnote_phys32_entry);
    if (!note) return lib::err(fail(why, "no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) in the ELF", lib::Error::invalid));
    // Linux emits the note as _ASM_PTR (8 bytes on x86-64) or .long, Xen's
    // elfnote.h documents .long: either, the address being 32-bit.
    uint64_t entry = 0;
    if (note->desc_size != 4 && note->desc_size != 8)
        return lib::err(fail(why, "the PVH entry note is neither 4 nor 8 bytes long", lib::Error::invalid));
    memcpy(&entry, note->desc, note->desc_size);
    if (entry > 0xffffffffull)
        return lib::err(fail(why, "the PVH entry point is above 4 GiB", lib::Error::invalid));
    auto elf = TRY(parse_elf(image, size, why));
    return load_with_start_info(image, elf, entry, mem, args, why);
}

lib::Result<FlatBoot> load_elf_plain(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                     const char** why)
{
    auto elf = TRY(parse_elf(image, size, why));
    // Paging is off: e_entry is taken as a physical address.
    return load_with_start_info(image, elf, elf.entry, mem, args, why);
}

lib::Result<FlatBoot> load_bzimage(const uint8_t* image, size_t size, GuestMemory& mem, const KernelArgs& args,
                                   const char** why)
{
    uint32_t magic = 0;
    if (!image || size < 0x206)
        return lib::err(fail(why, "too short for a Linux boot header", lib::Error::truncated));
    memcpy(&magic, image + 0x202, 4);
    if (magic != hdrs_magic) return lib::err(fail(why, "no Linux boot header (\"HdrS\" at 0x202)", lib::Error::invalid));
    // boot.rst: "If setup_sects is 0, the real value is 4"; the
    // protected-mode kernel follows the boot sector and the setup sectors.
    uint64_t setup_bytes = (uint64_t(image[0x1f1] ? image[0x1f1] : 4) + 1) * 512;
    if (size <= setup_bytes)
        return lib::err(fail(why, "the bzImage ends inside its real-mode setup code", lib::Error::truncated));
    SetupHeader h;  // setup_bytes >= 1 KiB: the whole header lies in the file
    memcpy(&h, image + hdr_at, sizeof h);
    if (h.version < min_protocol)
        return lib::err(fail(why, "the kernel's boot protocol is older than 2.06", lib::Error::unsupported));
    if (!(h.loadflags & loaded_high))
        return lib::err(fail(why, "a zImage (loaded below 1 MiB) is not supported, only bzImage", lib::Error::unsupported));
    if (h.version < 0x20c || !(h.xloadflags & xlf_kernel_64))
        return lib::err(fail(why, "not a 64-bit kernel (no XLF_KERNEL_64 in xloadflags)", lib::Error::unsupported));
    // From here the protocol is 2.12 or later: pref_address and init_size
    // (2.10) are there.
    uint64_t ram = mem.size();
    if (ram < min_ram) return lib::err(fail(why, "less than 2 MiB of RAM", lib::Error::out_of_range));
    uint64_t pm_size = size - setup_bytes;
    bool relocatable = h.relocatable_kernel != 0;
    uint64_t align = h.kernel_alignment;
    if (relocatable && (align < 4096 || align > (1u << 30) || (align & (align - 1))))
        return lib::err(fail(why, "the kernel's kernel_alignment is not a power of two from 4 KiB to 1 GiB",
                             lib::Error::invalid));
    uint64_t pref = h.pref_address;
    // boot.rst, pref_address: a non-relocatable kernel moves itself there
    // unconditionally, a relocatable one when it was loaded below it. So
    // the kernel runs at max(load address, pref_address) and needs
    // init_size bytes from there; a relocatable one is best loaded right
    // at pref_address (no move) when that is a valid load address.
    uint64_t load = 0x100000;
    if (relocatable) load = (pref >= 0x100000 && (pref & (align - 1)) == 0) ? pref : detail::align_up(0x100000, align);
    if (!relocatable && pref < 0x100000)
        return lib::err(fail(why, "the kernel is not relocatable and wants to run below 1 MiB", lib::Error::out_of_range));
    uint64_t run = load > pref ? load : pref;
    uint64_t end = run + h.init_size;
    if (load + pm_size > end) end = load + pm_size;
    if (end > ram || end > detail::four_gib)
        return lib::err(fail(why, "the kernel does not fit in the domain's RAM (its init_size from its load address)",
                             lib::Error::out_of_range));
    // cmdline_size: "the maximum size of the command line without the
    // terminating zero".
    if (args.cmdline.size() > h.cmdline_size)
        return lib::err(fail(why, "command line longer than the kernel's cmdline_size", lib::Error::out_of_range));
    if (args.cmdline.size() >= layout::cmdline_max)
        return lib::err(fail(why, "command line of 64 KiB or longer", lib::Error::out_of_range));
    if (args.module_count > 1)
        return lib::err(fail(why, "a bzImage takes one module, its initrd", lib::Error::out_of_range));
    TRY(detail::check_modules(args.modules, args.module_count, why));
    // initrd_addr_max: "the highest address that may be occupied by the
    // initial ramdisk", so its last byte may be there.
    uint64_t initrd_gpa = 0;
    TRY(detail::place_modules(args.modules, args.module_count, end, uint64_t(h.initrd_addr_max) + 1 < ram
                                                                          ? uint64_t(h.initrd_addr_max) + 1
                                                                          : ram,
                              &initrd_gpa, why));

    BootParams bp;
    memset(&bp, 0, sizeof bp);
    // boot.rst, 32-bit protocol: the setup header, whose end is "0x0202 +
    // byte value at offset 0x0201", is copied from the image into the
    // cleared zero page, then modified as for the 16-bit protocol.
    size_t hdr_end = 0x202 + size_t(image[0x201]);
    if (hdr_end > hdr_space_end) hdr_end = hdr_space_end;
    memcpy(reinterpret_cast<uint8_t*>(&bp) + hdr_at, image + hdr_at, hdr_end - hdr_at);
    bp.hdr.type_of_loader = 0xff;  // undefined loader: no ID assigned
    bp.hdr.loadflags = uint8_t((h.loadflags & loaded_high) | can_use_heap);
    // The heap is the real-mode setup's, which does not run in the 32-bit
    // protocol; the value is the usual end of a 64 KiB setup segment
    // (boot.rst: heap end offset minus 0x200).
    bp.hdr.heap_end_ptr = 0xfe00;
    bp.hdr.code32_start = uint32_t(load);  // "the load address of the kernel if loaded at a non-standard address"
    bp.hdr.cmd_line_ptr = uint32_t(layout::cmdline_gpa);
    bp.hdr.ramdisk_image = uint32_t(initrd_gpa);
    bp.hdr.ramdisk_size = args.module_count ? uint32_t(args.modules[0].size) : 0;
    bp.hdr.setup_data = 0;  // no setup_data list from this loader
    if (h.version >= 0x20e) bp.acpi_rsdp_addr = args.rsdp_gpa;
    E820Map map = build_e820(ram, mem.size_above_4g());
    bp.e820_entries = uint8_t(map.count);
    for (size_t i = 0; i < map.count; ++i) bp.e820_table[i] = map.entries[i];

    auto write = [&]() -> lib::Status {
        TRY(mem.write(load, image + setup_bytes, pm_size));
        if (args.module_count && args.modules[0].size)
            TRY(mem.write(initrd_gpa, args.modules[0].data, args.modules[0].size));
        TRY(detail::write_cstr(mem, layout::cmdline_gpa, args.cmdline));
        return mem.write(layout::zero_page_gpa, &bp, sizeof bp);
    };
    if (auto st = write(); !st) return lib::err(fail(why, "cannot write to the domain's RAM", st.error()));
    // boot.rst: ESI = boot_params; EBP, EDI and EBX zero.
    return FlatBoot{uint32_t(load), 0, 0, uint32_t(layout::zero_page_gpa)};
}

}  // namespace vmm::builder
