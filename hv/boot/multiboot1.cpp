// Multiboot 0.6.96 (§3.3) boot information: a fixed structure whose `flags`
// say which fields are valid, with physical pointers to the command line,
// the module list, the memory map and the loader name.
#include "hv/boot/boot_info_builder.hpp"
#include "hv/boot/multiboot1_abi.hpp"
#include "lib/log.hpp"

namespace hv::boot::detail {
namespace {

// More than this many modules is a corrupt mods_count, not a boot setup.
constexpr uint32_t max_mods_scanned = 1024;

void parse_modules(BootInfoBuilder& b, uint32_t mods_addr, uint32_t mods_count)
{
    if (mods_count > max_mods_scanned) {
        LOG_WARN("multiboot1: mods_count %u absurd, reading the first %u", mods_count, max_mods_scanned);
        mods_count = max_mods_scanned;
    }
    for (uint32_t i = 0; i < mods_count; ++i) {
        auto m = b.mem().read<mb1::Mod>(uint64_t(mods_addr) + i * sizeof(mb1::Mod));
        if (!m) {
            LOG_WARN("multiboot1: module %u entry at %#x unreadable, ignoring it and the rest", i,
                     unsigned(mods_addr + i * sizeof(mb1::Mod)));
            return;
        }
        char cmdline[sizeof(Module::cmdline)] = {};
        if (m->string) copy_phys_string(b.mem(), m->string, cmdline, sizeof cmdline, "module command line");
        b.add_module(m->mod_start, m->mod_end, cmdline);
    }
}

// §3.3: entries of `size` + 4 bytes, where `size` (at least 20) precedes the
// base/length/type fields. Returns the number of regions added.
size_t parse_mmap(BootInfoBuilder& b, uint32_t mmap_addr, uint32_t mmap_length)
{
    size_t before = b.info().region_count;
    uint32_t off = 0;
    while (off < mmap_length) {
        if (mmap_length - off < sizeof(mb1::MmapEntry)) {
            LOG_WARN("multiboot1: %u trailing bytes in the memory map ignored", mmap_length - off);
            break;
        }
        auto e = b.mem().read<mb1::MmapEntry>(uint64_t(mmap_addr) + off);
        if (!e) {
            LOG_WARN("multiboot1: memory map entry at %#lx unreadable", uint64_t(mmap_addr) + off);
            break;
        }
        if (e->size < mb1::mmap_entry_min_size) {
            LOG_WARN("multiboot1: memory map entry size %u < %u, ignoring the rest of the map", e->size,
                     mb1::mmap_entry_min_size);
            break;
        }
        if (e->size > mmap_length - off - 4) {
            LOG_WARN("multiboot1: memory map entry size %u overruns mmap_length %u", e->size, mmap_length);
            break;
        }
        b.add_region(e->base_addr, e->length, multiboot_mem_type(e->type));
        off += e->size + 4;
    }
    return b.info().region_count - before;
}

}  // namespace

lib::Status parse_multiboot1(const lib::PhysReader& mem, uint64_t info_phys, BootInfo& out)
{
    mb1::Info info = {};
    size_t info_size = sizeof info;
    const void* p = mem.view(info_phys, info_size);
    if (!p) {
        // Loaders that set none of the VBE/framebuffer flags may stop early.
        info_size = mb1::info_min_size;
        p = mem.view(info_phys, info_size);
    }
    if (!p) {
        LOG_WARN("multiboot1: info structure at %#lx unreadable", info_phys);
        return lib::err(lib::Error::out_of_range);
    }
    __builtin_memcpy(&info, p, info_size);
    out.protocol = BootInfo::Protocol::multiboot1;
    out.info_start = info_phys;
    out.info_end = info_phys + info_size;

    BootInfoBuilder b(mem, out);
    if (info.flags & mb1::flag_cmdline)
        copy_phys_string(mem, info.cmdline, out.cmdline, sizeof out.cmdline, "command line");
    if (info.flags & mb1::flag_loader_name)
        copy_phys_string(mem, info.boot_loader_name, out.loader_name, sizeof out.loader_name, "boot loader name");
    if (info.flags & mb1::flag_mods) parse_modules(b, info.mods_addr, info.mods_count);
    if (info.flags & mb1::flag_mem) {
        out.mem_lower_kib = info.mem_lower;
        out.mem_upper_kib = info.mem_upper;
    }

    size_t regions = 0;
    if (info.flags & mb1::flag_mmap) {
        regions = parse_mmap(b, info.mmap_addr, info.mmap_length);
        if (regions == 0) LOG_WARN("multiboot1: memory map flag set but the map yielded no regions");
    }
    if (regions == 0 && (info.flags & mb1::flag_mem)) {
        b.add_basic_meminfo(info.mem_lower, info.mem_upper);
        regions = out.region_count;
    }
    if (regions == 0) {
        LOG_WARN("multiboot1: no memory information (flags %#x)", info.flags);
        return lib::err(lib::Error::not_found);
    }
    return {};
}

}  // namespace hv::boot::detail
