#include "hv/dom0/dom0.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/user_space.hpp"
#include "hv/abi/hypercall.hpp"
#include "hv/console.hpp"
#include "hv/dom0/hypercall.hpp"
#include "hv/dom0/pd.hpp"
#include "hv/dom0/thread.hpp"
#include "hv/mem/frames.hpp"
#include "lib/elf.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"

namespace hv::dom0 {
namespace {

constexpr uint32_t pf_x = 1, pf_w = 2;
constexpr uint64_t page = arch::page_size;

uint64_t page_down(uint64_t a) { return a & ~(page - 1); }
uint64_t page_up(uint64_t a) { return (a + page - 1) & ~(page - 1); }

// Copies bytes into freshly mapped pages of `s`, whatever their protection.
lib::Status fill(const arch::UserSpace& s, uint64_t va, const uint8_t* src, uint64_t len)
{
    while (len) {
        uint64_t pa = TRY(s.translate(va, false));
        uint64_t n = page - (va & (page - 1));
        if (n > len) n = len;
        __builtin_memcpy(arch::phys_to_virt<uint8_t>(pa), src, n);
        va += n;
        src += n;
        len -= n;
    }
    return {};
}

lib::Result<uint64_t> load_elf(arch::UserSpace& s, const boot::Module& m)
{
    const auto* data = arch::phys_to_virt<const uint8_t>(m.start);
    uint64_t size = m.end - m.start;
    auto img = lib::elf::parse(data, size);
    if (!img) {
        LOG_ERROR("dom0: module 0 is not an ELF executable (%s)", lib::error_name(img.error()));
        return lib::err(img.error());
    }
    if (!img->is64) {
        LOG_ERROR("dom0: module 0 is a 32-bit ELF; Dom0 must be x86-64");
        return lib::err(lib::Error::unsupported);
    }
    for (size_t i = 0; i < img->segment_count; ++i) {
        const auto& seg = img->segments[i];
        if ((seg.flags & pf_x) && (seg.flags & pf_w)) {
            LOG_ERROR("dom0: segment %lu at %#lx is writable and executable", i, seg.vaddr);
            return lib::err(lib::Error::invalid);
        }
        uint64_t lo = page_down(seg.vaddr), hi = page_up(seg.vaddr + seg.mem_size);
        if (seg.vaddr < 0x10000 || hi > heap_base || hi < lo) {
            LOG_ERROR("dom0: segment %lu at %#lx-%#lx is outside 64 KiB..4 GiB", i, seg.vaddr,
                      seg.vaddr + seg.mem_size);
            return lib::err(lib::Error::out_of_range);
        }
        arch::MapAttr attr{.write = bool(seg.flags & pf_w), .exec = bool(seg.flags & pf_x)};
        TRY(s.map_fresh(lo, hi - lo, attr));
        TRY(fill(s, seg.vaddr, data + seg.file_offset, seg.file_size));
    }
    if (img->entry < 0x10000 || img->entry >= heap_base) return lib::err(lib::Error::invalid);
    return img->entry;
}

}  // namespace

lib::Status start(const boot::BootInfo& info, const boot::CmdLine& cmdline)
{
    if (info.module_count == 0) {
        LOG_WARN("dom0: no Multiboot module: no Dom0 (load its ELF as the first module)");
        return lib::err(lib::Error::not_found);
    }
    Pd* pd = TRY(create_pd(0, "Domain-0", 256));
    arch::UserSpace& s = *pd->space;
    uint64_t entry = TRY(load_elf(s, info.modules[0]));

    uint64_t heap = cmdline.dom0_mem ? page_up(cmdline.dom0_mem) : default_heap;
    if (cmdline.dom0_mem_max && heap > cmdline.dom0_mem_max) heap = page_down(cmdline.dom0_mem_max);
    if (heap < cmdline.dom0_mem_min) heap = page_up(cmdline.dom0_mem_min);
    TRY(s.map_fresh(heap_base, heap, {.write = true}));
    TRY(s.map_fresh(stack_top - stack_size, stack_size, {.write = true}));  // a guard page stays below

    abi::StartInfo si{};
    si.magic = abi::StartInfo::magic_value;
    si.abi_version = abi::abi_version;
    si.cpu_count = arch::smp::online_count();
    si.heap_base = heap_base;
    si.heap_size = heap;
    si.tsc_hz = arch::lapic::timer_info().tsc_hz;
    si.control = TRY(grant_control(*pd));
    // The event page: hv's EvtchnTable and Dom0 share it.
    pd->evtchn_page_pa = TRY(mem::alloc_frames({}));
    __builtin_memset(arch::phys_to_virt<void>(pd->evtchn_page_pa), 0, page);
    TRY(pd->evtchn.init(0, arch::phys_to_virt<obj::EvtchnShared>(pd->evtchn_page_pa), obj::evtchn_max_ports, 64));
    pd->evtchn.set_owner(pd);
    TRY(s.map(evtchn_page_va, pd->evtchn_page_pa, page, {.write = true}, true));
    si.evtchn_page = evtchn_page_va;
    if (info.module_count > 1) {
        const auto& f = info.modules[1];
        uint64_t lo = page_down(f.start), hi = page_up(f.end);
        TRY(s.map(files_base, lo, hi - lo, {}, false));  // read-only, NX; the frames stay reserved
        si.files_base = files_base + (f.start - lo);
        si.files_size = f.end - f.start;
    }
    // The start-info page: the struct, then the module's command line. QEMU
    // -kernel and iPXE put the module's file name first, GRUB does not: a
    // first word with a '/' or ending in ".elf" is that name, not an argument.
    TRY(s.map_fresh(start_info_va, page, {}));
    lib::StrView args = lib::StrView(info.modules[0].cmdline).trim();
    lib::StrView first = args.substr(0, args.find(' '));
    if (first.find('/') != lib::StrView::npos || first.ends_with(".elf")) (void)args.split_first(' ');
    char line[sizeof info.modules[0].cmdline] = {};
    lib::copy_cstr(line, sizeof line, args.trim());
    si.cmdline = start_info_va + sizeof si;
    TRY(fill(s, start_info_va, reinterpret_cast<const uint8_t*>(&si), sizeof si));
    TRY(fill(s, si.cmdline, reinterpret_cast<const uint8_t*>(line), sizeof line));

    pd->started_tsc = arch::rdtsc();
    // At entry RSP + 8 is 16-byte aligned, as after a CALL.
    TRY(create_thread(*pd, entry, stack_top - 8, start_info_va, 0));
    LOG_INFO("dom0: started: entry %#lx, %lu MiB heap, %lu KiB of files, command line '%s'", entry, heap >> 20,
             si.files_size >> 10, line);
    LOG_INFO("hv: the serial line is Dom0's console now; hypervisor messages below warnings go to xl dmesg");
    console::hand_line_to_dom0();
    return {};
}

}  // namespace hv::dom0
