// Boot sequence of the hypervisor on the bootstrap processor:
// loader info and command line -> console -> ACPI -> memory map -> own page
// tables (W^X) -> frame allocator and heap -> per-CPU state on a guarded
// stack -> interrupts -> LAPIC and timer calibration -> application
// processors -> idle. The last boot line, `hv: N CPUs online, M MiB free`,
// is what users and tests read.
#include <cstdint>

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/fpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/ioapic.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/ref_clock.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/acpi/acpi.hpp"
#include "hv/wall_clock.hpp"
#include "hv/boot/boot_info.hpp"
#include "hv/boot/cmdline.hpp"
#include "hv/boot/multiboot.hpp"
#include "hv/console.hpp"
#include "hv/dom0/device.hpp"
#include "hv/dom0/dom0.hpp"
#include "hv/dom0/hypercall.hpp"
#include "hv/mem/frame_allocator.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "hv/mem/memmap.hpp"
#include "hv/panic.hpp"
#include "hv/selftest.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "lib/log.hpp"
#include "lib/phys_reader.hpp"
#ifdef HV_TEST_BUILD
#include "tests/kernel/testguest.hpp"
#endif

extern "C" char __image_start_phys[], __image_end_phys[];

namespace hv {
namespace {

constexpr const char* version = "0.1.0";
constexpr uint64_t page_table_pool_size = 2ull << 20;

// Boot-time state, in .bss (too large for the stack).
boot::BootInfo boot_info;
acpi::Info acpi_info;
boot::MemRegion memmap[boot::max_regions];  // free memory as we hand it out
size_t memmap_count;
boot::MemRegion firmware_map[boot::max_regions];  // RAM as the firmware describes it: the direct map
size_t firmware_map_count;
mem::NumaRange numa[acpi::max_srat_mem];
size_t numa_count;
boot::CmdLine cmdline;
uint64_t trampoline_page;

// Until our own page tables are live, physical memory below 4 GiB is
// reachable through the boot tables' direct-map slot.
const void* boot_map(void*, uint64_t phys, size_t len)
{
    if (phys + len > (4ull << 30)) return nullptr;
    return arch::phys_to_virt<const void>(phys);
}
const lib::PhysReader boot_reader{boot_map, nullptr};

void* direct_map(uint64_t phys) { return arch::phys_to_virt<void>(phys); }

void reserve_or_panic(uint64_t base, uint64_t size, const char* what)
{
    auto r = mem::reserve_range(memmap, memmap_count, boot::max_regions, base, size);
    if (!r.ok()) rt_panic("cannot reserve %s at %#lx: %s", what, base, lib::error_name(r.error()));
    memmap_count = r.value();
}

void setup_acpi()
{
    lib::Status s = lib::err(lib::Error::not_found);
    if (boot_info.has_rsdp) {
        s = acpi::parse_acpi(boot_reader, boot_info.rsdp, boot_info.rsdp_len, acpi_info);
    } else {
        auto rsdp = acpi::find_rsdp_bios(boot_reader);
        if (rsdp.ok()) {
            const void* p = boot_reader.view(rsdp.value(), 36);
            if (p) s = acpi::parse_acpi(boot_reader, p, 36, acpi_info);
        }
    }
    if (!s.ok()) {
        LOG_WARN("acpi: no usable ACPI tables (%s): running on the boot CPU only", lib::error_name(s.error()));
        return;
    }
    char sigs[5 * acpi::max_tables + 1];
    size_t n = 0;
    for (size_t i = 0; i < acpi_info.table_count && n + 6 < sizeof sigs; ++i) {
        const auto& t = acpi_info.tables[i];
        for (int k = 0; k < 4; ++k) sigs[n++] = t.signature[k];
        if (!t.accepted) sigs[n++] = '!';
        sigs[n++] = ' ';
    }
    sigs[n] = '\0';
    LOG_INFO("acpi: revision %u, OEM '%s', %s: %s", acpi_info.revision, acpi_info.oem_id,
             acpi_info.xsdt ? "XSDT" : "RSDT", sigs);
    LOG_INFO("acpi: MADT %lu CPUs, %lu IOAPICs, %lu overrides; MCFG %lu; SRAT %lu memory ranges; DMAR %s; IVRS %s",
             acpi_info.cpu_count, acpi_info.ioapic_count, acpi_info.override_count, acpi_info.mcfg_count,
             acpi_info.srat_mem_count, acpi_info.have_dmar ? "yes" : "no", acpi_info.have_ivrs ? "yes" : "no");
    if (acpi_info.fadt.present && acpi_info.fadt.pm_timer_port)
        arch::ref_clock::set_pm_timer(uint16_t(acpi_info.fadt.pm_timer_port), acpi_info.fadt.pm_timer_32bit);
}

void setup_memory_map()
{
    for (size_t i = 0; i < boot_info.region_count; ++i) memmap[i] = boot_info.regions[i];
    memmap_count = mem::normalize_memmap(memmap, boot_info.region_count, boot::max_regions);
    for (size_t i = 0; i < memmap_count; ++i)
        LOG_INFO("mem: %016lx-%016lx %s", memmap[i].base, memmap[i].base + memmap[i].size - 1,
                 boot::mem_type_name(memmap[i].type));
    for (size_t i = 0; i < memmap_count; ++i) firmware_map[i] = memmap[i];
    firmware_map_count = memmap_count;

    auto image_start = reinterpret_cast<uint64_t>(__image_start_phys);
    auto image_end = reinterpret_cast<uint64_t>(__image_end_phys);
    reserve_or_panic(image_start, image_end - image_start, "the hypervisor image");
    if (boot_info.info_end > boot_info.info_start)
        reserve_or_panic(boot_info.info_start & ~0xfffull,
                         ((boot_info.info_end + 0xfff) & ~0xfffull) - (boot_info.info_start & ~0xfffull),
                         "the boot information");
    for (size_t i = 0; i < boot_info.module_count; ++i) {
        const auto& m = boot_info.modules[i];
        if (m.end > m.start) reserve_or_panic(m.start & ~0xfffull, ((m.end + 0xfff) & ~0xfffull) - (m.start & ~0xfffull), "a module");
        LOG_INFO("boot: module %lu at %#lx-%#lx '%s'", i, m.start, m.end, m.cmdline);
    }

    // The SMP trampoline: the highest free page below the EBDA/VGA area.
    for (size_t i = memmap_count; i-- > 0 && !trampoline_page;) {
        const auto& r = memmap[i];
        if (r.type != boot::MemType::usable || r.base >= 0x9f000) continue;
        uint64_t end = r.base + r.size < 0x9f000 ? r.base + r.size : 0x9f000;
        uint64_t page = (end - 0x1000) & ~0xfffull;
        if (page >= r.base && page >= 0x1000) trampoline_page = page;
    }
    if (trampoline_page) reserve_or_panic(trampoline_page, 0x1000, "the SMP trampoline");

    // Page-table pool below 4 GiB (reachable through the boot tables).
    uint64_t pool = 0;
    for (size_t i = 0; i < memmap_count && !pool; ++i) {
        const auto& r = memmap[i];
        uint64_t base = r.base < 0x100000 ? 0x100000 : r.base;
        if (r.type == boot::MemType::usable && base + page_table_pool_size <= r.base + r.size &&
            base + page_table_pool_size <= (4ull << 30))
            pool = base;
    }
    if (!pool) rt_panic("no 2 MiB of free memory below 4 GiB for page tables");
    reserve_or_panic(pool, page_table_pool_size, "the page-table pool");

    auto s = arch::build_kernel_address_space(firmware_map, firmware_map_count, pool, page_table_pool_size);
    if (!s.ok()) rt_panic("cannot build the hypervisor's page tables: %s", lib::error_name(s.error()));

    for (size_t i = 0; i < acpi_info.srat_mem_count && numa_count < acpi::max_srat_mem; ++i) {
        const auto& m = acpi_info.srat_mem[i];
        numa[numa_count++] = {m.base, m.size, m.node};
    }
    s = mem::init_frame_allocator(mem::frame_allocator(), memmap, memmap_count, numa, numa_count, direct_map);
    if (!s.ok()) rt_panic("cannot set up the frame allocator: %s", lib::error_name(s.error()));
    arch::page_tables_use_frame_allocator();
    mem::init_kernel_heap();
    auto& fa = mem::frame_allocator();
    LOG_INFO("mem: %lu MiB usable in %lu zones on %u NUMA node(s); page tables used %lu KiB",
             fa.total_frames() / 256, fa.zone_count(), fa.node_count(), arch::page_table_pool_used() / 1024);
    if (arch::check_wx() != 0) rt_panic("hypervisor mappings violate W^X");
}

void start_cpus()
{
    arch::smp::CpuToStart list[acpi::max_cpus];
    size_t n = 0;
    uint32_t bsp = arch::lapic::id();
    uint32_t limit = cmdline.maxcpus ? cmdline.maxcpus : arch::max_cpus;
    for (size_t i = 0; i < acpi_info.cpu_count; ++i) {
        const auto& c = acpi_info.cpus[i];
        if (!c.enabled || c.apic_id == bsp) continue;
        if (n + 1 >= limit) {
            LOG_INFO("smp: maxcpus=%u: not starting APIC ID %u", cmdline.maxcpus, c.apic_id);
            continue;
        }
        if (c.apic_id > 0xff && arch::lapic::mode() != arch::lapic::Mode::x2apic) {
            LOG_WARN("smp: APIC ID %u needs x2APIC mode: not started", c.apic_id);
            continue;
        }
        list[n++] = {c.apic_id};
    }
    if (n == 0) return;
    if (!trampoline_page) {
        LOG_WARN("smp: no free page below 1 MiB for the trampoline: APs not started");
        return;
    }
    arch::smp::start_aps(list, n, trampoline_page);
}

void timer_selftest_handler(arch::InterruptFrame&)
{
    ++arch::this_cpu().timer_ticks;
    arch::lapic::eoi();
}

void setup_interrupts_and_timer()
{
    // Remap the 8259s away from the exception vectors, then mask them: the
    // hypervisor uses only the local APIC and IOAPIC.
    const uint8_t icw[] = {0x11, 0x20, 0x04, 0x01, 0x11, 0x28, 0x02, 0x01};
    arch::outb(0x20, icw[0]); arch::outb(0x21, icw[1]); arch::outb(0x21, icw[2]); arch::outb(0x21, icw[3]);
    arch::outb(0xa0, icw[4]); arch::outb(0xa1, icw[5]); arch::outb(0xa1, icw[6]); arch::outb(0xa1, icw[7]);
    arch::outb(0x21, 0xff);
    arch::outb(0xa1, 0xff);

    auto s = arch::lapic::init_bsp(acpi_info.lapic_address);
    if (!s.ok()) rt_panic("local APIC: %s", lib::error_name(s.error()));
    s = arch::lapic::calibrate_timer();
    if (!s.ok()) rt_panic("timer calibration failed: no working reference clock");
    init_wall_clock(acpi_info.fadt.present ? acpi_info.fadt.century : 0);

    // Prove the timer interrupts: one 1 ms shot, waited for with HLT.
    arch::set_interrupt_handler(arch::vector::lapic_timer, timer_selftest_handler);
    arch::lapic::arm_oneshot(1'000'000, arch::vector::lapic_timer);
    uint64_t deadline = arch::rdtsc() + arch::lapic::timer_info().tsc_hz;  // 1 s
    while (arch::this_cpu().timer_ticks == 0 && arch::rdtsc() < deadline) {
        arch::sti();
        arch::halt();
        arch::cli();
    }
    if (arch::this_cpu().timer_ticks == 0) rt_panic("LAPIC timer interrupt never arrived");
    LOG_INFO("lapic: timer interrupt received");

    // I/O APICs: every pin masked until a Dom0 driver asks for one.
    arch::ioapic::Chip chips[acpi::max_ioapics];
    for (size_t i = 0; i < acpi_info.ioapic_count; ++i)
        chips[i] = {acpi_info.ioapics[i].address, acpi_info.ioapics[i].gsi_base};
    for (size_t i = 0; i < acpi_info.override_count; ++i) {
        const auto& o = acpi_info.overrides[i];
        if (o.bus == 0) arch::ioapic::set_override(o.source, o.gsi, o.flags);
    }
    if (auto io = arch::ioapic::init(chips, unsigned(acpi_info.ioapic_count)); !io.ok())
        LOG_WARN("ioapic: cannot map: %s (no device interrupts for Dom0)", lib::error_name(io.error()));
}

[[noreturn]] void bsp_continue()
{
    arch::init_idt();
    arch::activate_percpu(*arch::cpus[0]);
    arch::fpu_enable_this_cpu();
    setup_interrupts_and_timer();
    if (auto v = arch::virt::init_bsp(); !v.ok())
        LOG_ERROR("hv: hardware virtualization unavailable (%s): no guest can run", lib::error_name(v.error()));
    cpu_loop_init();
    arch::smp::set_ap_main(cpu_loop_ap);
    start_cpus();
    LOG_INFO("hv: %u CPUs online, %lu MiB free", arch::smp::online_count(), mem::free_memory_bytes() >> 20);
    selftest::run(cmdline.selftest);
#ifdef HV_TEST_BUILD
    testguest::run_all(boot_info);
    for (;;) {
        arch::sti();
        arch::halt();
    }
#else
    init_hypercalls();
    record_host_devices(firmware_map, firmware_map_count, acpi_info.lapic_address,
                        cmdline.console.enabled ? cmdline.console.port : 0,
                        acpi_info.fadt.present ? uint16_t(acpi_info.fadt.pm_timer_port) : 0);
    (void)dom0::start(boot_info, cmdline);
    cpu_loop_run();
#endif
}

}  // namespace
}  // namespace hv

extern "C" void switch_stack_and_jump(uint64_t stack_top, void (*fn)());

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint32_t info_phys)
{
    using namespace hv;
    console::init_early();
    auto s = boot::parse_multiboot(boot_reader, magic, info_phys, boot_info);
    if (!s.ok()) rt_panic("bad Multiboot information (magic %#x): %s", magic, lib::error_name(s.error()));
    cmdline = boot::parse_cmdline(boot_info.cmdline);
    console::configure(cmdline.console.enabled ? cmdline.console.port : 0, cmdline.console.baud);
    console::set_level(cmdline.loglevel);
    LOG_INFO("hv: x86_64 microhypervisor %s, loaded by %s via Multiboot%d%s", version,
             boot_info.loader_name[0] ? boot_info.loader_name : "an unnamed loader",
             boot_info.protocol == boot::BootInfo::Protocol::multiboot2 ? 2 : 1, boot_info.efi ? " (UEFI)" : "");
    LOG_INFO("hv: command line: '%s'", boot_info.cmdline);

    setup_acpi();
    setup_memory_map();

    // Per-CPU block and guarded stack for the BSP; continue on that stack.
    auto bsp = arch::create_percpu(0, 0);
    if (!bsp.ok()) rt_panic("no memory for the boot CPU's stacks");
    switch_stack_and_jump(bsp.value()->stack_top, bsp_continue);
    __builtin_unreachable();
}
