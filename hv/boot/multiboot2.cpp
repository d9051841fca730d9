// Multiboot2 1.6 (§3.6) boot information: a size-prefixed block of 8-byte
// aligned tags. The whole block is mapped once (its total_size bounded) and
// every tag is checked against both its own size and the block's end.
#include "hv/boot/boot_info_builder.hpp"
#include "hv/boot/efi_memory.hpp"
#include "hv/boot/multiboot.hpp"
#include "hv/boot/multiboot2_abi.hpp"
#include "lib/bytes.hpp"
#include "lib/log.hpp"

namespace hv::boot::detail {
namespace {

// Where the memory-information tags were found; they are interpreted after
// the walk because their precedence (and tag 18) does not depend on order.
struct MemoryTags {
    const uint8_t* efi_mmap = nullptr;
    uint32_t efi_mmap_size = 0;
    const uint8_t* mmap = nullptr;
    uint32_t mmap_size = 0;
    bool have_meminfo = false;
};

// §3.6.8: entry_size is a multiple of 8 and at least 24; later versions may
// append fields, so only the first 24 bytes of each entry are read.
size_t parse_mmap_tag(BootInfoBuilder& b, const uint8_t* tag, uint32_t size)
{
    if (size < sizeof(mb2::MmapTag)) {
        LOG_WARN("multiboot2: memory map tag of %u bytes too short", size);
        return 0;
    }
    auto t = lib::load<mb2::MmapTag>(tag);
    if (t.entry_size < sizeof(mb2::MmapEntry)) {
        LOG_WARN("multiboot2: memory map entry_size %u < %zu, map ignored", t.entry_size, sizeof(mb2::MmapEntry));
        return 0;
    }
    size_t before = b.info().region_count;
    uint32_t payload = size - uint32_t(sizeof t);
    if (payload % t.entry_size)
        LOG_WARN("multiboot2: memory map has %u trailing bytes", payload % t.entry_size);
    for (uint32_t off = 0; payload - off >= t.entry_size; off += t.entry_size) {
        auto e = lib::load<mb2::MmapEntry>(tag + sizeof t + off);
        b.add_region(e.base_addr, e.length, multiboot_mem_type(e.type));
    }
    return b.info().region_count - before;
}

// §3.6.19: UEFI memory descriptors of descriptor_size bytes each.
size_t parse_efi_mmap_tag(BootInfoBuilder& b, const uint8_t* tag, uint32_t size)
{
    if (size < sizeof(mb2::EfiMmapTag)) {
        LOG_WARN("multiboot2: EFI memory map tag of %u bytes too short", size);
        return 0;
    }
    auto t = lib::load<mb2::EfiMmapTag>(tag);
    if (t.descriptor_size < sizeof(efi::MemoryDescriptor)) {
        LOG_WARN("multiboot2: EFI memory map descriptor_size %u < %zu, map ignored", t.descriptor_size,
                 sizeof(efi::MemoryDescriptor));
        return 0;
    }
    bool bs_running = b.info().efi_boot_services;
    size_t before = b.info().region_count;
    uint32_t payload = size - uint32_t(sizeof t);
    for (uint32_t off = 0; payload - off >= t.descriptor_size; off += t.descriptor_size) {
        auto d = lib::load<efi::MemoryDescriptor>(tag + sizeof t + off);
        if (d.number_of_pages > (UINT64_MAX >> 12)) {
            LOG_WARN("multiboot2: EFI descriptor at %#lx with %#lx pages ignored", d.physical_start,
                     d.number_of_pages);
            continue;
        }
        b.add_region(d.physical_start, d.number_of_pages * efi::page_size, efi::to_mem_type(d.type, bs_running),
                     true);
    }
    return b.info().region_count - before;
}

void parse_rsdp_tag(BootInfo& out, const uint8_t* payload, uint32_t len, uint32_t type)
{
    // §3.6.16 / §3.6.17: a verbatim copy of the RSDP, 20 bytes for ACPI 1.0,
    // 36 for 2.0+. The ACPI parser validates the contents.
    if (len < 20) {
        LOG_WARN("multiboot2: ACPI RSDP tag %u with %u bytes too short, ignored", type, len);
        return;
    }
    if (type == mb2::tag_acpi_old && out.has_rsdp && out.rsdp_len > 20) return;  // keep the 2.0 copy
    size_t n = len < sizeof out.rsdp ? len : sizeof out.rsdp;
    __builtin_memcpy(out.rsdp, payload, n);
    out.rsdp_len = n;
    out.has_rsdp = true;
}

void parse_tag(BootInfoBuilder& b, MemoryTags& mt, uint32_t type, const uint8_t* tag, uint32_t size)
{
    BootInfo& out = b.info();
    const uint8_t* payload = tag + sizeof(mb2::TagHeader);
    uint32_t len = size - uint32_t(sizeof(mb2::TagHeader));
    switch (type) {
    case mb2::tag_cmdline:  // §3.6.5
        copy_bounded_string(reinterpret_cast<const char*>(payload), len, out.cmdline, sizeof out.cmdline,
                            "command line");
        break;
    case mb2::tag_loader_name:  // §3.6.9
        copy_bounded_string(reinterpret_cast<const char*>(payload), len, out.loader_name, sizeof out.loader_name,
                            "boot loader name");
        break;
    case mb2::tag_module: {  // §3.6.6
        if (size < sizeof(mb2::ModuleTag)) {
            LOG_WARN("multiboot2: module tag of %u bytes too short, ignored", size);
            break;
        }
        auto m = lib::load<mb2::ModuleTag>(tag);
        char cmdline[sizeof(Module::cmdline)];
        auto s = copy_bounded_string(reinterpret_cast<const char*>(tag + sizeof m), size - sizeof m, cmdline,
                                     sizeof cmdline, "module command line");
        b.add_module(m.mod_start, m.mod_end, s);
        break;
    }
    case mb2::tag_basic_meminfo:  // §3.6.3
        if (size < sizeof(mb2::BasicMeminfoTag)) {
            LOG_WARN("multiboot2: basic meminfo tag of %u bytes too short, ignored", size);
            break;
        }
        out.mem_lower_kib = lib::load<mb2::BasicMeminfoTag>(tag).mem_lower;
        out.mem_upper_kib = lib::load<mb2::BasicMeminfoTag>(tag).mem_upper;
        mt.have_meminfo = true;
        break;
    case mb2::tag_mmap:
        if (!mt.mmap) {
            mt.mmap = tag;
            mt.mmap_size = size;
        }
        break;
    case mb2::tag_efi_mmap:
        out.efi = true;
        if (!mt.efi_mmap) {
            mt.efi_mmap = tag;
            mt.efi_mmap_size = size;
        }
        break;
    case mb2::tag_efi32_system_table:  // §3.6.13
        if (size < sizeof(mb2::Efi32Tag)) {
            LOG_WARN("multiboot2: EFI system table tag of %u bytes too short, ignored", size);
            break;
        }
        out.efi = true;
        out.efi_system_table = lib::load<mb2::Efi32Tag>(tag).pointer;
        break;
    case mb2::tag_efi64_system_table:  // §3.6.14
        if (size < sizeof(mb2::Efi64Tag)) {
            LOG_WARN("multiboot2: EFI system table tag of %u bytes too short, ignored", size);
            break;
        }
        out.efi = true;
        out.efi_system_table = lib::load<mb2::Efi64Tag>(tag).pointer;
        break;
    case mb2::tag_acpi_old:
    case mb2::tag_acpi_new:
        parse_rsdp_tag(out, payload, len, type);
        break;
    case mb2::tag_efi_boot_services:  // §3.6.20
        out.efi_boot_services = true;
        break;
    case mb2::tag_load_base_addr:  // §3.6.23
        if (size < sizeof(mb2::LoadBaseTag)) {
            LOG_WARN("multiboot2: load base tag of %u bytes too short, ignored", size);
            break;
        }
        out.has_load_base = true;
        out.load_base = lib::load<mb2::LoadBaseTag>(tag).load_base_addr;
        break;
    default:  // framebuffer, ELF sections, SMBIOS, network...: not needed by hv
        break;
    }
}

}  // namespace

lib::Status parse_multiboot2(const lib::PhysReader& mem, uint64_t info_phys, BootInfo& out)
{
    auto hdr = mem.read<mb2::InfoHeader>(info_phys);
    if (!hdr) {
        LOG_WARN("multiboot2: info block at %#lx unreadable", info_phys);
        return lib::err(lib::Error::out_of_range);
    }
    uint32_t total = hdr->total_size;
    if (info_phys % mb2::tag_align) {
        LOG_WARN("multiboot2: info block at %#lx not 8-byte aligned", info_phys);
        return lib::err(lib::Error::invalid);
    }
    if (total < sizeof(mb2::InfoHeader) + sizeof(mb2::TagHeader) || total > max_mb2_info_size) {
        LOG_WARN("multiboot2: total_size %u absurd (must be 16..%u)", total, max_mb2_info_size);
        return lib::err(lib::Error::invalid);
    }
    const auto* base = static_cast<const uint8_t*>(mem.view(info_phys, total));
    if (!base) {
        LOG_WARN("multiboot2: info block at %#lx with total_size %u not readable", info_phys, total);
        return lib::err(lib::Error::out_of_range);
    }
    out.protocol = BootInfo::Protocol::multiboot2;
    out.info_start = info_phys;
    out.info_end = info_phys + total;

    BootInfoBuilder b(mem, out);
    MemoryTags mt;
    bool ended = false;
    uint32_t off = sizeof(mb2::InfoHeader);
    while (total - off >= sizeof(mb2::TagHeader)) {
        auto th = lib::load<mb2::TagHeader>(base + off);
        if (th.size < sizeof th) {
            LOG_WARN("multiboot2: tag type %u at offset %u has size %u < 8, ignoring the rest", th.type, off,
                     th.size);
            break;
        }
        if (th.size > total - off) {
            LOG_WARN("multiboot2: tag type %u at offset %u (size %u) overruns total_size %u, ignoring the rest",
                     th.type, off, th.size, total);
            break;
        }
        if (th.type == mb2::tag_end) {
            ended = true;
            break;
        }
        parse_tag(b, mt, th.type, base + off, th.size);
        // Both at most max_mb2_info_size: no overflow.
        off = uint32_t(lib::align_up(uint64_t(off) + th.size, mb2::tag_align));
        if (off > total) break;
    }
    if (!ended) LOG_WARN("multiboot2: no end tag within total_size %u", total);

    size_t regions = 0;
    if (mt.efi_mmap) {
        if (out.efi_boot_services)
            LOG_WARN("multiboot2: EFI boot services still running, their memory stays reserved");
        regions = parse_efi_mmap_tag(b, mt.efi_mmap, mt.efi_mmap_size);
    }
    if (regions == 0 && mt.mmap) regions = parse_mmap_tag(b, mt.mmap, mt.mmap_size);
    if (regions == 0 && mt.have_meminfo) {
        b.add_basic_meminfo(out.mem_lower_kib, out.mem_upper_kib);
        regions = out.region_count;
    }
    if (regions == 0) {
        LOG_WARN("multiboot2: no memory information");
        return lib::err(lib::Error::not_found);
    }
    return {};
}

}  // namespace hv::boot::detail
