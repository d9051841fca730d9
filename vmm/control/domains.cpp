#include "vmm/control/domains.hpp"

#include <new>

#include "lib/format.hpp"
#include "lib/log.hpp"
#include "vmm/builder/acpi_builder.hpp"
#include "vmm/builder/kernel_image.hpp"
#include "vmm/builder/multiboot_loader.hpp"
#include "vmm/hostdev/host_devices.hpp"
#include "vmm/rt/events.hpp"
#include "vmm/rt/hypercall.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {
namespace {

using hv::abi::Status;

constinit Domains the_domains;

// Where a domain's RAM is mapped while it is built: one window, unmapped
// again before the domain runs.
constexpr uint64_t build_window = 0x0000'1000'0000'0000ull;
// Linux domains keep their RAM mapped here for their virtio devices: one
// 64 GiB slot each, laid out as guest-physical space (RAM from 4 GiB at
// slot + 4 GiB, the PCI hole unmapped).
constexpr uint64_t ram_windows = 0x0000'4000'0000'0000ull;
constexpr uint64_t ram_window_size = 1ull << 36;
constexpr uint64_t max_pc_ram = builder::ram_low_limit + (ram_window_size - builder::ram_high_base);
bool ram_window_used[Domains::max_domains];

// Ports the Multiboot platform's device models take.
constexpr uint16_t com1_base = 0x3f8;
constexpr uint16_t debug_exit_port = 0xf4;  // QEMU isa-debug-exit: 4 ports
constexpr uint16_t post_port = 0x80;
constexpr uint16_t reset_port = 0xcf9;  // PCI reset control: bit 2 set = reset (how Linux reboots without ACPI)
// The event loopback device: a write to the doorbell rings Dom0 (an
// ioevent), which answers with interrupt vector 0x41 on vCPU 0 (an
// interrupt route): the guest side of both fast paths, for tests and the
// benchmark.
constexpr uint16_t doorbell_ioport = 0x510;
// The shared page (a region granted to the guest) and where Dom0 maps its
// copy: one page per domain id.
constexpr uint64_t shared_page_gpa = 0xfd000000;
constexpr uint64_t shared_window = 0x0000'2000'0000'0000ull;
constexpr char shared_signature[] = "hv-shared-page";
constexpr uint8_t doorbell_vector = 0x41;
// Its MMIO doorbell: a forwarded page whose first register rings the same way.
constexpr uint64_t doorbell_mmio = 0xfe001000;

// The builder's view of a domain's RAM below 3 GiB (all it writes); the
// RAM above 4 GiB is only counted, for the memory map.
class WindowMemory final : public builder::GuestMemory {
public:
    WindowMemory(uint8_t* base, builder::RamSplit ram) : base_(base), size_(ram.low), high_(ram.high) {}
    uint64_t size() const override { return size_; }
    uint64_t size_above_4g() const override { return high_; }
    lib::Status write(uint64_t gpa, const void* src, size_t len) override
    {
        if (gpa > size_ || len > size_ - gpa) return lib::err(lib::Error::out_of_range);
        __builtin_memcpy(base_ + gpa, src, len);
        return {};
    }
    lib::Status zero(uint64_t gpa, size_t len) override
    {
        if (gpa > size_ || len > size_ - gpa) return lib::err(lib::Error::out_of_range);
        __builtin_memset(base_ + gpa, 0, len);
        return {};
    }
    lib::Status read(uint64_t gpa, void* dst, size_t len) const override
    {
        if (gpa > size_ || len > size_ - gpa) return lib::err(lib::Error::out_of_range);
        __builtin_memcpy(dst, base_ + gpa, len);
        return {};
    }

private:
    uint8_t* base_;
    uint64_t size_;
    uint64_t high_;
};

void console_sink(void* ctx, char c)
{
    static_cast<GuestDomain*>(ctx)->console.write(&c, 1);
}

// The virtio console shares the console ring with the serial line: `xl
// console` shows both, as one terminal would.
void virtio_console_sink(void* ctx, const char* data, size_t len)
{
    static_cast<GuestDomain*>(ctx)->console.write(data, len);
}

const char* flags_of(hv::abi::RunState s)
{
    switch (s) {
    case hv::abi::RunState::running: return "r-----";
    case hv::abi::RunState::paused: return "--p---";
    case hv::abi::RunState::shutdown: return "---s--";
    case hv::abi::RunState::crashed: return "----c-";
    case hv::abi::RunState::dying: return "-----d";
    case hv::abi::RunState::building: return "--p---";
    }
    return "------";
}

lib::Result<uint32_t> parse_id(lib::StrView s)
{
    auto v = lib::parse_u64(s);
    if (!v || *v > 0xffffffffull) return lib::err(lib::Error::invalid);
    return uint32_t(*v);
}

}  // namespace

constinit EventPage the_events;

Domains& domains() { return the_domains; }
EventPage& events() { return the_events; }

void Domains::init(const files::CpioArchive* files, uint32_t control)
{
    files_ = files;
    control_ = control;
}

void GuestDomain::irq_line(unsigned gsi, bool level)
{
    if (auto r = hc::domain_irq(handle, gsi, level ? 1 : 0); !r.ok())
        LOG_WARN("domain %u: interrupt line %u: %s", id, gsi, hv::abi::status_name(r.status));
}

void GuestDomain::msi(uint64_t address, uint32_t data)
{
    if (auto r = hc::domain_msi(handle, address, data); !r.ok())
        LOG_WARN("domain %u: MSI %#lx/%#x: %s", id, address, data, hv::abi::status_name(r.status));
}

bool GuestDomain::extint(uint8_t vector)
{
    auto r = hc::domain_extint(handle, vector);
    if (r.status == Status::busy) return false;
    if (!r.ok()) LOG_WARN("domain %u: PIC vector %#x: %s", id, vector, hv::abi::status_name(r.status));
    return true;
}

GuestDomain* Domains::by_id(uint32_t id)
{
    for (GuestDomain* g : slots_)
        if (g && g->id == id) return g;
    return nullptr;
}

lib::Result<uint32_t> Domains::find(lib::StrView name_or_id)
{
    LockGuard l(lock_);
    for (GuestDomain* g : slots_)
        if (g && lib::StrView(g->cfg.name) == name_or_id) return g->id;
    auto id = parse_id(name_or_id);
    if (id && by_id(*id)) return *id;
    return lib::err(lib::Error::not_found);
}

lib::Status Domains::build(GuestDomain& g, xl::Output& out)
{
    const DomainConfig& c = g.cfg;
    auto file = [&](const char* what, const char* path) {
        auto f = files_ ? files_->find(path) : lib::Result<files::CpioEntry>(lib::err(lib::Error::not_found));
        if (!f)
            out.print("xl: %s '%s': %s in Dom0's files\n", what, path,
                      f.error() == lib::Error::not_found ? "no such file" : lib::error_name(f.error()));
        return f;
    };
    auto kernel = file("kernel", c.kernel);
    if (!kernel) return lib::err(kernel.error());
    builder::KernelKind kind = builder::detect_kernel(kernel->data, kernel->size);
    if (kind == builder::KernelKind::unknown) {
        out.print("xl: kernel '%s': not a kernel hv can boot (a PVH ELF vmlinux, a bzImage, Multiboot1 or 2, or an "
                  "ELF)\n",
                  c.kernel);
        return lib::err(lib::Error::unsupported);
    }
    // Linux kernels get the PC platform (ACPI, PCI, virtio); Multiboot test
    // kernels the small platform of test devices.
    bool pc = kind == builder::KernelKind::elf_pvh || kind == builder::KernelKind::bzimage ||
              kind == builder::KernelKind::elf_plain;
    if (c.type == DomainType::hvm && !pc) {
        out.print("xl: type=\"hvm\" needs a Linux kernel; '%s' is %s (use type=\"pvh\")\n", c.kernel,
                  builder::kernel_kind_name(kind));
        return lib::err(lib::Error::unsupported);
    }
    if (pc && (c.memory_mib << 20) > max_pc_ram) {
        out.print("xl: memory=%lu: Linux domains have at most %lu MiB\n", c.memory_mib, max_pc_ram >> 20);
        return lib::err(lib::Error::unsupported);
    }
    // Past 3 GiB the RAM continues at 4 GiB (builder/e820.hpp).
    const builder::RamSplit ram = builder::split_ram(c.memory_mib << 20);
    // Modules: modules= ("PATH [CMDLINE]" each), else ramdisk= alone.
    builder::Module modules[xl_max_modules];
    size_t module_count = 0;
    if (c.module_count) {
        for (size_t i = 0; i < c.module_count; ++i) {
            lib::StrView spec(c.modules[i]);
            size_t sp = 0;
            while (sp < spec.size() && spec[sp] != ' ') ++sp;
            char path[xl_path_size];
            lib::copy_cstr(path, sizeof path, spec.substr(0, sp));
            auto m = file("module", path);
            if (!m) return lib::err(m.error());
            lib::StrView line = sp < spec.size() ? spec.substr(sp + 1) : spec;
            modules[module_count++] = {m->data, m->size, line};
        }
    } else if (c.ramdisk[0]) {
        auto rd = file("ramdisk", c.ramdisk);
        if (!rd) return lib::err(rd.error());
        modules[module_count++] = {rd->data, rd->size, lib::StrView(c.ramdisk)};
    }
    hv::abi::DomainConfig dc{};
    lib::copy_cstr(dc.name, sizeof dc.name, c.name);
    dc.memory = ram.low;
    dc.vcpus = c.vcpus;
    dc.weight = c.cpu_weight;
    dc.cap = c.cap;
    dc.flags = (c.pause_exits ? hv::abi::domain_flag::pause_exits : 0) |
               (c.directed_yield ? 0 : hv::abi::domain_flag::no_directed_yield);
    auto r = hc::domain_create(control_, dc);
    if (!r.ok()) {
        out.print("xl: cannot create domain '%s': %s\n", c.name, hv::abi::status_name(r.status));
        return lib::err(lib::Error::io);
    }
    g.handle = uint32_t(r.value);
    hv::abi::DomainInfo info{};
    (void)hc::domain_info(g.handle, info);
    g.id = info.id;
    // what == nullptr: the reason was already printed.
    auto fail = [&](const char* what, Status s) -> lib::Status {
        if (what) out.print("xl: domain '%s': %s: %s\n", c.name, what, hv::abi::status_name(s));
        release_devices(g);  // Dom0's mapping of its RAM first: hv refuses to destroy a mapped domain
        (void)hc::domain_destroy(g.handle);
        return lib::err(lib::Error::io);
    };
    if (ram.high) {
        if (auto s = hc::domain_populate(g.handle, builder::ram_high_base, ram.high); !s.ok())
            return fail("giving it its RAM above 4 GiB", s.status);
    }
    // Load the kernel through a window onto its RAM: for Linux domains one
    // that stays (their virtio devices reach guest memory through it).
    uint64_t bytes = ram.low;
    uint64_t window_va = build_window;
    if (pc) {
        size_t slot = 0;
        while (slot < max_domains && ram_window_used[slot]) ++slot;
        if (slot == max_domains) return fail("finding a window for its RAM", Status::no_memory);
        ram_window_used[slot] = true;
        window_va = ram_windows + slot * ram_window_size;
    }
    if (auto m = hc::domain_map(g.handle, 0, bytes, window_va, true); !m.ok()) {
        if (pc) ram_window_used[(window_va - ram_windows) / ram_window_size] = false;
        return fail("mapping its RAM", m.status);
    }
    if (pc) {
        g.ram = reinterpret_cast<uint8_t*>(window_va);
        g.ram_size = bytes;
        if (ram.high) {
            auto m = hc::domain_map(g.handle, builder::ram_high_base, ram.high, window_va + builder::ram_high_base, true);
            if (!m.ok()) return fail("mapping its RAM above 4 GiB", m.status);
            g.ram_high = ram.high;
        }
    }
    WindowMemory window(reinterpret_cast<uint8_t*>(window_va), ram);
    const char* why = "";
    builder::KernelArgs args{.cmdline = lib::StrView(c.kernel_cmdline),
                             .modules = module_count ? modules : nullptr,
                             .module_count = module_count,
                             .rsdp_gpa = 0};
    if (pc) {
        builder::AcpiPlatform ap{};
        ap.vcpus = c.vcpus;
        ap.ecam_base = platform::ecam_base;
        ap.mmio32_base = platform::pci_mmio_base;
        ap.mmio32_size = platform::pci_mmio_size;
        ap.sleep_control_port = platform::sleep_control_port;
        ap.sleep_status_port = platform::sleep_status_port;
        ap.power_button_gsi = platform::power_button_gsi;
        ap.hotplug_slots = platform::hotplug_slots;
        ap.hotplug_port = platform::hotplug_port;
        ap.hotplug_gsi = platform::hotplug_gsi;
        ap.intx_gsi_base = platform::intx_gsi_base;
        ap.intx_gsi_count = platform::intx_gsi_count;
        auto acpi = builder::build_acpi(ap, window, platform::acpi_base, platform::acpi_limit, &why);
        if (!acpi) {
            out.print("xl: domain '%s': ACPI tables: %s\n", c.name, why);
            return fail("building its ACPI tables", Status::invalid);
        }
        args.rsdp_gpa = acpi->rsdp_gpa;
    }
    auto boot = builder::load_kernel(kernel->data, kernel->size, window, args, &why);
    if (!pc) (void)hc::unmap(build_window, bytes);
    if (!boot) {
        out.print("xl: kernel '%s': %s\n", c.kernel, why);
        return fail("loading its kernel", Status::invalid);
    }
    hv::abi::VcpuBoot vb{};
    vb.mode = hv::abi::BootMode::multiboot32;
    vb.rip = boot->entry;
    vb.rax = boot->eax;
    vb.rbx = boot->ebx;
    vb.rsi = boot->esi;
    // Multiboot kernels find vCPU 0's APIC as after PC firmware (PIC
    // interrupts through LINT0), as under QEMU -kernel.
    vb.flags = pc ? 0 : hv::abi::vcpu_boot_flag::virtual_wire;
    if (auto s = hc::vcpu_boot(g.handle, 0, vb); !s.ok()) return fail("setting vCPU 0", s.status);
    LOG_INFO("domain %u '%s': %s kernel '%s' entered at %#x", g.id, c.name, builder::kernel_kind_name(kind), c.kernel,
             boot->entry);
    // The platform: COM1 (the console), the debug-exit port, the POST port.
    g.uart = devices::Uart16550(console_sink, &g);
    for (auto [base, count] :
         {std::pair<uint16_t, uint32_t>{com1_base, 8}, {debug_exit_port, 4}, {post_port, 1}, {reset_port, 1}}) {
        if (pc && base == reset_port) continue;  // inside the PCI configuration ports, below
        if (auto s = hc::ioport_forward(g.handle, base, count); !s.ok()) return fail("forwarding its ports", s.status);
    }
    for (unsigned i = 0; i < 2; ++i) {
        auto ev = hc::ioport_buffer(g.handle, i == 0 ? com1_base : post_port, 1);
        if (!ev.ok()) return fail("buffering its serial output", ev.status);
        g.iobuf_events[i] = uint32_t(ev.value);
    }
    uart_updated(g);
    if (pc) {
        for (auto [base, count] : {std::pair<uint16_t, uint32_t>{pci::HostBridge::config_address_port, 8},
                                   {platform::sleep_control_port, 2},
                                   {platform::hotplug_port, platform::PciHotplug::ports},
                                   {platform::system_control_b_port, 1}})
            if (auto s = hc::ioport_forward(g.handle, base, count); !s.ok())
                return fail("forwarding its ports", s.status);
        // CONFIG_ADDRESS: Linux's type-1 configuration reads are a write
        // there and a read of CONFIG_DATA; only the read needs an answer
        // (and finds the write applied: the ring is drained first). Linux on
        // a family-0Fh AMD CPU (QEMU's qemu64) reads 8,192 of them at boot
        // looking for an AGP bridge on every bus.
        auto ev = hc::ioport_buffer(g.handle, pci::HostBridge::config_address_port, 1);
        if (!ev.ok()) return fail("buffering its PCI configuration address", ev.status);
        g.iobuf_events[2] = uint32_t(ev.value);
        for (auto [base, size] : {std::pair<uint64_t, uint64_t>{platform::ecam_base, pci::HostBridge::ecam_size},
                                  {platform::pci_mmio_base, platform::pci_mmio_size}})
            if (auto s = hc::mmio_forward(g.handle, base, size); !s.ok()) return fail("forwarding its MMIO", s.status);
        void* mem = heap().allocate(sizeof(platform::PcPlatform), alignof(platform::PcPlatform));
        if (!mem) return fail("allocating its devices", Status::no_memory);
        g.pc = new (mem) platform::PcPlatform(g, g.ram, ram, virtio_console_sink, &g);
        if (!g.pc->init().ok()) return fail("setting up its PCI devices", Status::invalid);
        if (c.disk_count) {
            void* dm = heap().allocate(sizeof(DomainDisks), alignof(DomainDisks));
            if (!dm) return fail("allocating its disks", Status::no_memory);
            g.disks = new (dm) DomainDisks(*files_, heap(), &hostdev::host_disks());
            if (!g.disks->attach(c, *g.pc, out).ok()) return fail(nullptr, Status::invalid);
            LockGuard l(lock_);
            follow_disk_bells(g);
        }
        if (!attach_vifs(g, out).ok()) return fail("attaching its vifs", Status::invalid);
    } else {
        if (c.disk_count)
            out.print("xl: warning: disk=: a Multiboot kernel gets no disks (only Linux kernels get the PC platform)\n");
        if (c.vif_count)
            out.print("xl: warning: vif: '%s' is a %s kernel: only Linux domains have a PCI bus for virtio-net; no vif\n",
                      c.kernel, builder::kernel_kind_name(kind));
    }
    // cpus=: each vCPU on one CPU (the lowest of its set; a vCPU does not
    // float among several CPUs here).
    for (uint32_t v = 0; v < c.vcpus && c.cpus.pinned; ++v) {
        CpuSet set = vcpu_hard_affinity(c, v);
        unsigned cpu = 0;
        while (cpu < xl_max_host_cpus && !set.test(cpu)) ++cpu;
        if (cpu == xl_max_host_cpus) continue;
        if (set.count() > 1) out.print("xl: cpus: vCPU %u runs on CPU %u only (the first of its set)\n", v, cpu);
        if (auto s = hc::vcpu_pin(g.handle, v, cpu); !s.ok()) return fail("placing its vCPUs (cpus=)", s.status);
    }
    if (pc) return {};
    // The test platform's devices: the PIC pair and its ELCR, the PIT, port 0x61, the RTC.
    for (auto [base, count] :
         {std::pair<uint16_t, uint32_t>{0x20, 2}, {0xa0, 2}, {0x40, 4}, {0x61, 1}, {0x4d0, 2}, {0x70, 2}})
        if (auto s = hc::ioport_forward(g.handle, base, count); !s.ok()) return fail("forwarding its PIC and PIT", s.status);
    hv::abi::SystemInfo si{};
    if (hc::system_info(si).ok() && si.wall_clock_ns)
        g.isa.rtc().set_clock(int64_t(si.wall_clock_ns) - int64_t(hc::clock_ns()));
    auto region = hc::region_create(4096);
    if (!region.ok()) return fail("creating its shared page", region.status);
    g.shared_region = uint32_t(region.value);
    uint64_t va = shared_window + uint64_t(g.id) * 4096;
    if (auto s = hc::region_map(g.shared_region, va, true); !s.ok()) return fail("mapping its shared page", s.status);
    g.shared = reinterpret_cast<uint8_t*>(va);
    __builtin_memcpy(g.shared, shared_signature, sizeof shared_signature);
    __builtin_memcpy(g.shared + 16, &g.id, sizeof g.id);
    if (auto s = hc::region_grant(g.shared_region, g.handle, shared_page_gpa, true); !s.ok())
        return fail("granting its shared page", s.status);
    if (auto s = hc::mmio_forward(g.handle, devices::MmioScratch::base, devices::MmioScratch::size); !s.ok())
        return fail("forwarding its MMIO test device", s.status);
    auto bell = hc::ioevent_bind(g.handle, doorbell_ioport);
    if (!bell.ok()) return fail("binding its doorbell", bell.status);
    if (auto s = hc::mmio_forward(g.handle, doorbell_mmio, 4096); !s.ok()) return fail("forwarding its doorbell page", s.status);
    auto mbell = hc::ioevent_bind_mmio(g.handle, doorbell_mmio);
    if (!mbell.ok()) return fail("binding its MMIO doorbell", mbell.status);
    g.doorbell_mmio_port = uint32_t(mbell.value);
    auto irq = hc::evtchn_bind_vector(g.handle, 0, doorbell_vector);
    if (!irq.ok()) return fail("routing its interrupt", irq.status);
    g.doorbell_port = uint32_t(bell.value);
    g.irq_port = uint32_t(irq.value);
    return {};
}

lib::Result<uint32_t> Domains::create(lib::StrView cfg_path, const lib::StrView* overrides, size_t override_count,
                                      bool paused, xl::Output& out)
{
    auto file = files_ ? files_->find(cfg_path) : lib::Result<files::CpioEntry>(lib::err(lib::Error::not_found));
    if (!file) {
        out.print("xl: cannot read config file '%.*s': %s\n", int(cfg_path.size()), cfg_path.data(),
                  file.error() == lib::Error::not_found ? "no such file in Dom0's files" : lib::error_name(file.error()));
        return lib::err(file.error());
    }
    void* mem = heap().allocate(sizeof(GuestDomain), alignof(GuestDomain));
    if (!mem) {
        out.print("xl: out of memory in Dom0\n");
        return lib::err(lib::Error::no_memory);
    }
    auto* g = new (mem) GuestDomain;
    lib::copy_cstr(g->cfg_path, sizeof g->cfg_path, cfg_path);
    static CfgDiagnostics diag;  // large; the shell thread is the only caller
    lib::StrView text(reinterpret_cast<const char*>(file->data), file->size);
    auto s = parse_xl_cfg(text, overrides, override_count, g->cfg, diag);
    if (s.ok()) s = validate_domain_config(g->cfg, diag);
    char line[256];
    for (size_t i = 0; i < diag.warning_count; ++i) {
        format_cfg_message(diag.warnings[i], line, sizeof line);
        out.print("xl: warning: %s\n", line);
    }
    if (!s.ok()) {
        format_cfg_message(diag.error, line, sizeof line);
        out.print("xl: %s\n", line);
        forget(g);
        return lib::err(s.error());
    }
    return launch(g, paused, out);
}

lib::Result<uint32_t> Domains::launch(GuestDomain* g, bool paused, xl::Output& out)
{
    {
        LockGuard l(lock_);
        for (GuestDomain* o : slots_)
            if (o && lib::StrView(o->cfg.name) == lib::StrView(g->cfg.name)) {
                out.print("xl: domain '%s' already exists (id %u)\n", g->cfg.name, o->id);
                forget(g);
                return lib::err(lib::Error::exists);
            }
    }
    if (auto b = build(*g, out); !b.ok()) {
        forget(g);
        return lib::err(b.error());
    }
    bool full = false;
    {
        LockGuard l(lock_);
        size_t i = 0;
        while (i < max_domains && slots_[i]) ++i;
        if (i == max_domains) full = true;
        else slots_[i] = g;
    }
    if (full) {
        // Its devices (and Dom0's mapping of its RAM) go first, outside the
        // lock: detaching vifs takes it.
        out.print("xl: too many domains (%zu)\n", max_domains);
        release_devices(*g);
        (void)hc::domain_destroy(g->handle);
        forget(g);
        return lib::err(lib::Error::no_memory);
    }
    if (!paused) {
        if (auto u = hc::domain_unpause(g->handle); !u.ok()) {
            out.print("xl: cannot start domain %u: %s\n", g->id, hv::abi::status_name(u.status));
            (void)destroy(g->id);
            return lib::err(lib::Error::io);
        }
    }
    LOG_INFO("created domain %u '%s' from %s", g->id, g->cfg.name, g->cfg_path);
    return g->id;
}

void Domains::release_devices(GuestDomain& g)
{
    detach_vifs(g);  // off the bridge before the platform that holds them goes
    if (g.disks) {
        LockGuard l(lock_);
        for (size_t i = 0; i < g.disks->count(); ++i) close_disk_bells(g, i);
    }
    if (g.pc) {
        g.pc->~PcPlatform();
        heap().deallocate(g.pc, sizeof(platform::PcPlatform));
        g.pc = nullptr;
    }
    if (g.disks) {  // after the platform, whose virtio functions use them
        g.disks->~DomainDisks();
        heap().deallocate(g.disks, sizeof(DomainDisks));
        g.disks = nullptr;
    }
    for (size_t i = 0; i < g.vif_count; ++i) {
        if (!g.vifs[i]) continue;
        g.vifs[i]->~NetFunction();
        heap().deallocate(g.vifs[i], sizeof(platform::NetFunction));
        g.vifs[i] = nullptr;
    }
    g.vif_count = 0;
    if (g.ram) {
        (void)hc::unmap(reinterpret_cast<uint64_t>(g.ram), g.ram_size);
        if (g.ram_high) (void)hc::unmap(reinterpret_cast<uint64_t>(g.ram) + builder::ram_high_base, g.ram_high);
        g.ram_high = 0;
        ram_window_used[(reinterpret_cast<uint64_t>(g.ram) - ram_windows) / ram_window_size] = false;
        g.ram = nullptr;
    }
}

void Domains::forget(GuestDomain* g)
{
    if (g->shared) (void)hc::unmap(reinterpret_cast<uint64_t>(g->shared), 4096);
    if (g->shared_region) (void)hc::handle_close(g->shared_region);
    release_devices(*g);
    g->~GuestDomain();
    heap().deallocate(g, sizeof(GuestDomain));
}

Status Domains::destroy(uint32_t id)
{
    GuestDomain* g = nullptr;
    {
        LockGuard l(lock_);
        for (GuestDomain*& s : slots_)
            if (s && s->id == id) {
                g = s;
                s = nullptr;
            }
        // An attached console goes on reading while the domain is taken
        // down: its last words (drained just before) may not be read yet.
        if (g && g->console_readers)
            for (GuestDomain*& d : destroyed_)
                if (!d) {
                    d = g;
                    break;
                }
    }
    if (!g) return Status::not_found;
    // No device-model call reaches it now (it is out of the table): its
    // devices go, and with them Dom0's mapping of its RAM, which hv wants
    // gone before it frees that RAM.
    release_devices(*g);
    auto r = hc::domain_destroy(g->handle);
    if (!r.ok() && r.status != Status::not_found) {
        LockGuard l(lock_);
        for (GuestDomain*& d : destroyed_)
            if (d == g) d = nullptr;
        for (GuestDomain*& s : slots_)
            if (!s) {
                s = g;  // still there: keep it listed
                break;
            }
        return r.status;
    }
    LockGuard l(lock_);
    bool listed = false;
    for (GuestDomain*& d : destroyed_) {
        if (d != g) continue;
        if (g->console_readers) listed = true;
        else d = nullptr;  // its console detached meanwhile
    }
    if (!listed && g->console_readers)
        for (GuestDomain*& d : destroyed_)
            if (!d) {
                d = g;
                listed = true;
                break;
            }
    if (listed) {
        g->destroyed = true;  // its console reads what is left, then ends
        return Status::ok;
    }
    forget(g);
    return Status::ok;
}

Status Domains::pause(uint32_t id, bool pause)
{
    uint32_t h;
    {
        LockGuard l(lock_);
        GuestDomain* g = by_id(id);
        if (!g) return Status::not_found;
        h = g->handle;
    }
    return (pause ? hc::domain_pause(h) : hc::domain_unpause(h)).status;
}

Status Domains::sched(uint32_t id, uint64_t weight, uint64_t cap)
{
    uint32_t h;
    {
        LockGuard l(lock_);
        GuestDomain* g = by_id(id);
        if (!g) return Status::not_found;
        h = g->handle;
    }
    return hc::domain_sched(h, weight, cap).status;
}

size_t Domains::list(xl::DomainRow* rows, size_t cap)
{
    LockGuard l(lock_);
    size_t n = 0;
    // Ids grow: list in id order.
    uint32_t last = 0;
    for (;;) {
        GuestDomain* next = nullptr;
        for (GuestDomain* g : slots_)
            if (g && g->id > last && (!next || g->id < next->id)) next = g;
        if (!next || n == cap) break;
        last = next->id;
        hv::abi::DomainInfo info{};
        if (!hc::domain_info(next->handle, info).ok()) continue;
        xl::DomainRow& r = rows[n++];
        r = xl::DomainRow{};
        lib::copy_cstr(r.name, sizeof r.name, info.name);
        r.id = info.id;
        r.mem_mib = info.memory >> 20;
        r.vcpus = info.vcpus;
        lib::copy_cstr(r.state, sizeof r.state, flags_of(info.state));
        r.cpu_time_ns = info.cpu_time_ns;
        r.weight = info.weight;
        r.cap = info.cap;
        r.exit_status_valid = info.exit_status_valid;
        r.exit_value = info.exit_value;
        lib::copy_cstr(r.reason, sizeof r.reason, info.reason);
    }
    return n;
}

size_t Domains::vcpus(uint32_t id, xl::VcpuRow* rows, size_t cap)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return 0;
    hv::abi::DomainInfo info{};
    if (!hc::domain_info(g->handle, info).ok()) return 0;
    size_t n = 0;
    for (uint32_t v = 0; v < info.vcpus && n < cap; ++v) {
        hv::abi::VcpuInfo vi{};
        if (!hc::vcpu_info(g->handle, v, vi).ok()) continue;
        xl::VcpuRow& r = rows[n++];
        r = xl::VcpuRow{};
        lib::copy_cstr(r.name, sizeof r.name, info.name);
        r.domid = info.id;
        r.vcpu = v;
        r.cpu = vi.cpu;
        // hv::sched::VcpuState: 0 offline 1 blocked 2 runnable 3 running 4 paused
        static const char* const states[] = {"---", "-b-", "-b-", "r--", "--p"};
        lib::copy_cstr(r.state, sizeof r.state, vi.state < 5 ? states[vi.state] : "???");
        if (vi.state == 2) lib::copy_cstr(r.state, sizeof r.state, "r--");  // runnable: waiting for its CPU
        r.time_ns = vi.time_ns;
        r.affinity = vi.affinity;
    }
    return n;
}

size_t Domains::disks(uint32_t id, xl::DiskRow* rows, size_t cap)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g || !g->disks || !g->pc) return 0;
    size_t n = 0;
    for (size_t i = 0; i < g->disks->count() && n < cap; ++i) {
        const DomainDisks::Disk& d = g->disks->disk(i);
        xl::DiskRow& r = rows[n++];
        r = xl::DiskRow{};
        r.devid = d.devid;
        r.backend = 0;
        r.frontend = g->id;
        virtio::VirtioPci* f = g->pc->virtio_function(d.slot);
        // XenbusState: Connected once the driver is up, Closing while an
        // eject is asked and not done.
        r.state = g->pc->eject_pending(d.slot) ? 5 : f && f->live() ? 4 : 1;
        lib::format(r.path, sizeof r.path, "virtio-blk 00:%02x.0 %s %s %s", d.slot, d.dev->format_name(),
                    d.dev->read_only() ? "ro" : "rw", d.target);
    }
    return n;
}

GuestDomain* Domains::console_of(uint32_t id)
{
    if (GuestDomain* g = by_id(id)) return g;
    for (GuestDomain* g : destroyed_)
        if (g && g->id == id) return g;
    return nullptr;
}

bool Domains::attach_console(uint32_t id)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return false;
    ++g->console_readers;
    return true;
}

uint64_t Domains::read_console(uint32_t id, uint64_t cursor, char* out, size_t cap, size_t* len, bool* gone)
{
    LockGuard l(lock_);
    GuestDomain* g = console_of(id);
    *len = 0;
    *gone = !g;
    if (!g) return cursor;
    auto r = g->console.read_text(cursor, out, cap);
    *len = r.len;
    *gone = g->destroyed && r.next >= g->console.total_written();
    return r.next;
}

void Domains::detach_console(uint32_t id)
{
    LockGuard l(lock_);
    GuestDomain* g = console_of(id);
    if (!g || !g->console_readers) return;
    if (--g->console_readers || !g->destroyed) return;
    for (GuestDomain*& d : destroyed_)
        if (d == g) d = nullptr;
    forget(g);
}

Status Domains::pin(uint32_t id, uint32_t vcpu, uint32_t cpu)
{
    uint32_t h;
    {
        LockGuard l(lock_);
        GuestDomain* g = by_id(id);
        if (!g) return Status::not_found;
        h = g->handle;
    }
    return hc::vcpu_pin(h, vcpu, cpu).status;  // may wait for the move: not under the lock
}

Status Domains::nmi(uint32_t id, uint32_t vcpu)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return Status::not_found;
    return hc::vcpu_nmi(g->handle, vcpu).status;
}

Status Domains::reset(uint32_t id)
{
    uint32_t h;
    {
        LockGuard l(lock_);
        GuestDomain* g = by_id(id);
        if (!g) return Status::not_found;
        g->reboot_requested = true;  // on_reboot applies, as for the reset port
        h = g->handle;
    }
    auto r = hc::domain_shutdown(h, hv::abi::ShutdownKind::reboot, 0);
    if (r.ok()) check_lifecycle();
    return r.status;
}

Status Domains::power_button(uint32_t id)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return Status::not_found;
    if (!g->pc) return Status::unsupported;
    g->pc->press_power_button();
    return Status::ok;
}

Status Domains::sysrq(uint32_t id, char key)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return Status::not_found;
    drain_buffered(*g);
    g->uart.send_break();
    bool ok = g->uart.receive(key);
    uart_updated(*g);
    return ok ? Status::ok : Status::busy;  // busy: its receive FIFO is full
}

bool Domains::exits(uint32_t id, hv::abi::ExitCounts& out)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    return g && hc::domain_exits(g->handle, out).ok();
}

bool Domains::info(uint32_t id, hv::abi::DomainInfo& out)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    return g && hc::domain_info(g->handle, out).ok();
}

bool Domains::powered_off_by_acpi(uint32_t id)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    return g && g->acpi_poweroff;
}

bool Domains::send_console_input(uint32_t id, char c)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return false;
    drain_buffered(*g);
    bool ok = g->uart.receive(c);
    uart_updated(*g);
    return ok;
}

void Domains::drain_buffered(GuestDomain& g, bool force)
{
    // COM1's THR, the POST port (whose writes go nowhere), CONFIG_ADDRESS.
    bool queued = force;
    for (uint32_t port : g.iobuf_events) queued |= port && events().take(port);
    if (!queued) return;  // nothing since the last drain
    hv::abi::BufferedWrite w[64];
    for (;;) {
        auto n = hc::ioport_drain(g.handle, w, 64);
        if (!n.ok()) return;
        for (uint64_t i = 0; i < n.value; ++i) {
            if (w[i].port >= com1_base && w[i].port < com1_base + 8u) {
                g.uart.write(unsigned(w[i].port - com1_base), uint8_t(w[i].value));
            } else if (g.pc && w[i].port == pci::HostBridge::config_address_port) {
                uint32_t v = w[i].value;
                platform::Stop stop = platform::Stop::none;  // CONFIG_ADDRESS stops nothing
                (void)g.pc->port(w[i].port, w[i].size, false, v, stop);
            }
        }
        if (n.value < 64) break;
    }
    uart_updated(g);
}

void Domains::uart_updated(GuestDomain& g)
{
    if (g.pc) g.pc->uart_changed(g.uart);
    uint8_t lsr = 0;
    int now = g.uart.lsr_snapshot(lsr) ? int(lsr) : -1;
    if (now == g.lsr_latched) return;
    if (hc::ioport_latch(g.handle, com1_base + 5, now < 0 ? ~0ull : uint64_t(now)).ok()) g.lsr_latched = now;
}

void Domains::handle_ioreq(const hv::abi::IoRequest& r)
{
    uint64_t value = 0;
    uint32_t handle = 0;
    bool powered_off = false, reset = false;
    {
        LockGuard l(lock_);
        GuestDomain* g = by_id(r.domain);
        if (!g) return;  // destroyed meanwhile: hv dropped its requests
        handle = g->handle;
        drain_buffered(*g);  // the guest's earlier writes first
        platform::Stop stop = platform::Stop::none;
        uint32_t v32 = uint32_t(r.value);
        if (g->pc && r.kind == hv::abi::IoKind::mmio) {
            if (!r.in) value = r.value;
            if (!g->pc->mmio(r.addr, r.size, r.in, value) && r.in) value = ~0ull;
            if (!r.in && r.addr >= platform::ecam_base && r.addr - platform::ecam_base < pci::HostBridge::ecam_size)
                follow_bells(*g);  // a configuration write may have moved a BAR or turned decoding on or off
        } else if (r.kind == hv::abi::IoKind::port && r.addr >= com1_base && r.addr < com1_base + 8u) {
            unsigned reg = unsigned(r.addr - com1_base);
            if (r.in) value = g->uart.read(reg);
            else g->uart.write(reg, uint8_t(r.value));
            uart_updated(*g);
        } else if (!g->pc && r.kind == hv::abi::IoKind::port &&
                   g->isa.port(uint16_t(r.addr), r.size, r.in, v32, hc::clock_ns())) {
            value = v32;  // the serve loop's update_isa() delivers what the access unblocked
        } else if (g->pc && g->pc->port(uint16_t(r.addr), r.size, r.in, v32, stop)) {
            value = v32;
            if (!r.in && r.addr >= pci::HostBridge::config_data_port && r.addr < pci::HostBridge::config_data_port + 4u)
                follow_bells(*g);  // as for ECAM above
            if (uint32_t ejected = g->pc->take_ejected()) finish_ejects(*g, ejected);  // PCI hotplug: _EJ0
            if (stop == platform::Stop::reboot) {
                reset = true;
                g->reboot_requested = true;
            } else if (stop == platform::Stop::poweroff) {
                powered_off = true;
                g->acpi_poweroff = true;
                value = 0;
            }
        } else if (r.kind == hv::abi::IoKind::mmio && r.addr >= doorbell_mmio) {
            value = 0;  // the doorbell page: the bell itself never comes here (an ioevent), the rest reads 0
        } else if (r.kind == hv::abi::IoKind::mmio) {
            uint64_t off = r.addr - devices::MmioScratch::base;
            if (r.in) value = g->scratch.read(off, r.size);
            else g->scratch.write(off, r.size, r.value);
        } else if (r.addr >= debug_exit_port && r.addr < debug_exit_port + 4u) {
            if (r.in) value = 0xffffffffu;
            else {
                powered_off = true;
                value = r.value;
            }
        } else if (r.addr == reset_port) {
            if (!r.in && (r.value & 0x04)) {
                reset = true;
                g->reboot_requested = true;
            }
        } else if (r.in) {
            value = 0xffffffffu;  // the POST port reads as nothing
        }
    }
    if (reset) {
        (void)hc::domain_shutdown(handle, hv::abi::ShutdownKind::reboot, 0);
        (void)hc::ioreq_complete(handle, r.vcpu, 0);
        check_lifecycle();
        return;
    }
    if (r.in && r.size < 8) value &= (1ull << (8 * r.size)) - 1;
    if (powered_off) {
        // The guest asked to end (QEMU's isa-debug-exit): stop it with its
        // exit value; the life-cycle check applies on_poweroff.
        (void)hc::domain_shutdown(handle, hv::abi::ShutdownKind::poweroff, uint32_t(value));
        (void)hc::ioreq_complete(handle, r.vcpu, 0);
        check_lifecycle();
        return;
    }
    (void)hc::ioreq_complete(handle, r.vcpu, r.in ? value : 0);
}

void Domains::handle_events()
{
    // Only the doorbells are this thread's: other ports (a driver's device
    // interrupt) belong to whoever waits for them.
    uint32_t answers[max_domains];
    size_t n = 0;
    {
        LockGuard l(lock_);
        for (GuestDomain* g : slots_) {
            if (g) drain_buffered(*g);
            if (g) ring_vifs(*g);
            if (g) ring_disks(*g);
            if (!g || !g->doorbell_port) continue;
            bool rung = events().take(g->doorbell_port);
            rung |= g->doorbell_mmio_port && events().take(g->doorbell_mmio_port);
            if (rung) {
                ++g->rings;
                answers[n++] = g->irq_port;
            }
        }
        poll_uplink(false);
    }
    for (size_t i = 0; i < n; ++i) (void)hc::evtchn_send(answers[i]);
}

void Domains::apply_policy(GuestDomain& g, const hv::abi::DomainInfo& info)
{
    bool crashed = info.state == hv::abi::RunState::crashed;
    bool reboot = !crashed && g.reboot_requested;
    ShutdownAction a = crashed ? g.cfg.on_crash : reboot ? g.cfg.on_reboot : g.cfg.on_poweroff;
    if (info.exit_status_valid && !reboot && !g.acpi_poweroff)
        LOG_INFO("domain %u '%s' exited with status %#x (debug-exit port)", info.id, info.name, info.exit_value);
    if (g.acpi_poweroff) LOG_INFO("domain %u '%s' powered itself off (ACPI S5)", info.id, info.name);
    LOG_INFO("domain %u '%s' %s (%s): on_%s=%s", info.id, info.name,
             crashed ? "crashed" : reboot ? "rebooted" : "shut down", info.reason,
             crashed ? "crash" : reboot ? "reboot" : "poweroff", shutdown_action_name(a));
    if (g.shared && g.shared[64]) {
        char said[65];
        __builtin_memcpy(said, g.shared + 64, 64);
        said[64] = '\0';
        LOG_INFO("domain %u '%s': its shared page says '%s'", info.id, info.name, said);
    }
    g.stop_handled = true;
    switch (a) {
    case ShutdownAction::preserve:
    case ShutdownAction::coredump_destroy:  // no core dumps yet: kept for inspection instead
        return;
    case ShutdownAction::destroy:
    case ShutdownAction::restart:
    case ShutdownAction::rename_restart:
    case ShutdownAction::coredump_restart:
    case ShutdownAction::soft_reset: break;
    }
    bool restart = a == ShutdownAction::restart || a == ShutdownAction::rename_restart ||
                   a == ShutdownAction::coredump_restart || a == ShutdownAction::soft_reset;
    char path[xl_path_size];
    lib::copy_cstr(path, sizeof path, g.cfg_path);
    uint32_t restarts = g.restarts;
    lock_.unlock();
    (void)destroy(info.id);
    if (restart && restarts < 8) {
        struct : xl::Output {
            void write(const char* s, size_t n) override { out_raw(s, n); }
        } log_out;
        auto id = create(path, nullptr, 0, false, log_out);
        if (id) {
            LockGuard l(lock_);
            if (GuestDomain* n = by_id(*id)) n->restarts = restarts + 1;
        }
    } else if (restart) {
        LOG_INFO("domain '%s' restarted %u times: not again", path, restarts);
    }
    lock_.lock();
}

void Domains::check_lifecycle()
{
    LockGuard l(lock_);
    for (size_t i = 0; i < max_domains; ++i) {
        GuestDomain* g = slots_[i];
        if (!g || g->stop_handled) continue;
        hv::abi::DomainInfo info{};
        if (!hc::domain_info(g->handle, info).ok()) continue;
        if (info.state != hv::abi::RunState::shutdown && info.state != hv::abi::RunState::crashed) continue;
        drain_buffered(*g, true);  // its last words: a stop from hv (a crash) follows no request of Dom0's
        apply_policy(*g, info);
    }
}

uint64_t Domains::update_isa(uint64_t now)
{
    uint64_t next = now + 50'000'000;  // 50 ms: also the life-cycle poll
    LockGuard l(lock_);
    for (GuestDomain* g : slots_) {
        if (!g || g->pc) continue;
        uint64_t at = g->isa.update(now, *g);
        if (at < next) next = at;
    }
    return next > now ? next - now : 0;
}

void Domains::serve()
{
    uint64_t last_check = 0, timeout = 50'000'000;
    for (;;) {
        hv::abi::IoRequest r{};
        auto w = hc::ioreq_wait(r, timeout);  // until the next PIT edge, at most 50 ms
        if (w.ok() && w.value == 1) handle_ioreq(r);
        if (w.ok() && w.value == 2) handle_events();
        uint64_t now = hc::clock_ns();
        timeout = update_isa(now);
        if (now - last_check >= 50'000'000) {
            last_check = now;
            check_lifecycle();
            LockGuard l(lock_);
            poll_uplink(true);  // a lost interrupt costs 50 ms, never the card
        }
    }
}

}  // namespace vmm
