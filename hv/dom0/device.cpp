// Physical device access for Dom0's own drivers: port ranges (the TSS I/O
// bitmap of the threads' CPU), MMIO windows mapped uncached, the bus
// address of a region (a DMA buffer: no IOMMU yet, so the physical address),
// and device interrupts: an I/O APIC pin routed to a vector on CPU 0 whose
// handler raises an event port of the Pd (level-triggered pins stay masked
// until the driver acknowledges, MSIs are edges), and PCI configuration
// space through hv, which owns the two-port address/data pair so that no
// two CPUs interleave a transaction. What hv itself drives is refused: its
// console UART, the PICs, the PIT, the PCI configuration ports, the ACPI PM
// timer, RAM, the local APIC and the I/O APICs.
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/ioapic.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/user_mode.hpp"
#include "hv/dom0/device.hpp"
#include "hv/dom0/hypercall_args.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/dom0/region.hpp"
#include "hv/mem/frames.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

// Firmware RAM ranges (usable, ACPI, NVS): never a device window.
constexpr unsigned max_ram = 64;
struct Range {
    uint64_t base, end;
};
Range ram[max_ram];
unsigned ram_count;
struct HostPorts {
    uint16_t base, count;
};
constexpr unsigned max_host_ports = 12;
HostPorts host_ports[max_host_ports] = {
    {0x20, 2}, {0xa0, 2},   // 8259 PICs (remapped and masked by hv)
    {0x40, 4}, {0x61, 1},   // PIT and its gate (timer calibration)
    {0x70, 2},              // CMOS RTC (the wall clock at boot)
    {0xcf8, 8},             // PCI configuration mechanism 1
};
unsigned host_port_count = 6;  // then the console UART and the PM timer, at init
uint64_t lapic_phys = 0xfee00000;

arch::SpinLock pci_lock;

// Device interrupts by vector; gsi is no_pin for an MSI.
constexpr uint32_t no_pin = ~0u;
constexpr uint8_t first_vector = 0x50, last_vector = 0xdf;
struct IrqBinding {
    Pd* pd;
    uint32_t port;
    uint32_t gsi;
    bool level;
};
IrqBinding bindings[256];

bool overlaps_ram(uint64_t base, uint64_t size)
{
    for (unsigned i = 0; i < ram_count; ++i)
        if (base < ram[i].end && ram[i].base < base + size) return true;
    return false;
}

void device_irq(arch::InterruptFrame& f)
{
    IrqBinding& b = bindings[f.vector & 0xff];
    arch::lapic::eoi();
    if (!b.pd) return;
    if (b.level) arch::ioapic::mask(b.gsi, true);  // until the driver acknowledges
    obj::RaiseResult r{obj::RaiseOutcome::dropped};
    Thread* waiter = nullptr;
    {
        arch::SpinGuard g(b.pd->lock);
        r = b.pd->evtchn.raise(b.port);
        waiter = b.pd->event_waiter;
    }
    if (r.must_notify() && waiter) wake_thread(*waiter);
}

}  // namespace

void record_host_devices(const boot::MemRegion* map, size_t count, uint64_t lapic_address, uint16_t console_port,
                         uint16_t pm_timer_port)
{
    for (size_t i = 0; i < count && ram_count < max_ram; ++i) {
        auto t = map[i].type;
        if (t == boot::MemType::usable || t == boot::MemType::acpi_reclaimable || t == boot::MemType::acpi_nvs)
            ram[ram_count++] = {map[i].base, map[i].base + map[i].size};
    }
    if (lapic_address) lapic_phys = lapic_address;
    if (console_port && host_port_count < max_host_ports) host_ports[host_port_count++] = {console_port, 8};
    if (pm_timer_port && host_port_count < max_host_ports) host_ports[host_port_count++] = {pm_timer_port, 4};
}

namespace hc {

using abi::Status;

Reply device_ports(Thread& t, uint64_t control, uint64_t base, uint64_t count)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    if (auto st = check_port_range(base, count); st != Status::ok) return fail(st);
    for (unsigned i = 0; i < host_port_count; ++i)
        if (base < uint64_t(host_ports[i].base) + host_ports[i].count && host_ports[i].base < base + count)
            return fail(Status::denied);
    Pd& pd = *t.pd;
    if (!pd.io_bitmap) {
        auto f = mem::alloc_frames({.count = 2});
        if (!f) return fail(Status::no_memory);
        pd.io_bitmap = arch::phys_to_virt<uint8_t>(*f);
        __builtin_memset(pd.io_bitmap, 0xff, 8192);
    }
    for (uint64_t p = base; p < base + count; ++p) pd.io_bitmap[p / 8] &= uint8_t(~(1u << (p % 8)));
    ++pd.io_bitmap_gen;
    arch::load_io_bitmap(pd.io_bitmap, pd.io_bitmap_gen);  // the caller returns to ring 3 on this CPU
    return {};
}

Reply device_mmio_map(Thread& t, uint64_t control, uint64_t phys, uint64_t size, uint64_t va)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    if (auto st = check_map_args(phys, size, va, 1, 1ull << 46); st != Status::ok) return fail(st);
    if (overlaps_ram(phys, size) || arch::ioapic::overlaps(phys, size) ||
        (phys < lapic_phys + 0x1000 && lapic_phys < phys + size))
        return fail(Status::denied);
    Pd& pd = *t.pd;
    GuestMapping* slot = reserve_mapping(pd, {va, 0, nullptr, nullptr, true});
    if (!slot) return fail(Status::no_memory);
    if (auto s = pd.space->map(va, phys, size, {.write = true, .uncached = true}, false); !s.ok()) {
        cancel_mapping(pd, *slot);
        return fail(s.error());
    }
    commit_mapping(pd, *slot, size);
    return {};
}

Reply region_phys(Thread& t, uint64_t h)
{
    auto r = lookup<Region>(*t.pd, h, obj::ObjType::region, obj::right_read);
    if (!r) return fail(r.error());
    return {Status::ok, (*r)->pa};
}

namespace {

// A free vector and a new event port of the Pd, bound together.
lib::Result<uint8_t> bind_vector(Pd& pd, uint32_t gsi, bool level)
{
    uint8_t vector = 0;
    for (unsigned v = first_vector; v <= last_vector; ++v) {
        if (gsi != no_pin && bindings[v].pd && bindings[v].gsi == gsi) return lib::Error::exists;
        if (!bindings[v].pd && !vector) vector = uint8_t(v);
    }
    if (!vector) return lib::Error::no_memory;
    uint32_t port;
    {
        arch::SpinGuard g(pd.lock);
        auto p = pd.evtchn.bind_kernel();
        if (!p) return p.error();
        port = *p;
    }
    bindings[vector] = {&pd, port, gsi, level};
    arch::set_interrupt_handler(vector, device_irq);
    return vector;
}

// CONFIG_ADDRESS for a checked address and width.
Status check_pci_address(uint64_t address, uint64_t width)
{
    if (address >> 24) return Status::out_of_range;
    if ((width != 1 && width != 2 && width != 4) || (address & (width - 1))) return Status::invalid;
    return Status::ok;
}

}  // namespace

Reply device_irq_bind(Thread& t, uint64_t control, uint64_t gsi)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    if (gsi > 0xffff || !arch::ioapic::gsi_exists(uint32_t(gsi))) return fail(Status::not_found);
    // hv's own devices do not interrupt through the I/O APIC (the LAPIC
    // timer, polled UART): any GSI is the driver's, once.
    Pd& pd = *t.pd;
    bool level = arch::ioapic::polarity_of(uint32_t(gsi)).level;
    auto bound = bind_vector(pd, uint32_t(gsi), level);
    if (!bound) return fail(bound.error());
    uint8_t vector = *bound;
    uint32_t port = bindings[vector].port;
    // To CPU 0, where the Pd's threads run.
    if (auto s = arch::ioapic::route(uint32_t(gsi), vector, arch::cpus[t.cpu]->apic_id, false); !s.ok()) {
        bindings[vector] = {};
        arch::SpinGuard g(pd.lock);
        (void)pd.evtchn.close(port);
        return fail(s.error());
    }
    LOG_INFO("%s: GSI %lu (%s) -> vector %#x, event port %u", pd.name, gsi, level ? "level" : "edge", vector, port);
    return {Status::ok, port};
}

Reply device_irq_ack(Thread& t, uint64_t port)
{
    for (unsigned v = first_vector; v <= last_vector; ++v)
        if (bindings[v].pd == t.pd && bindings[v].port == port) {
            if (bindings[v].level) arch::ioapic::mask(bindings[v].gsi, false);
            return {};
        }
    return fail(Status::not_found);
}

Reply device_msi_bind(Thread& t, uint64_t control, uint64_t out)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    uint32_t apic_id = arch::cpus[t.cpu]->apic_id;
    // Without interrupt remapping an MSI names an 8-bit APIC ID.
    if (apic_id > 0xff) return fail(Status::unsupported);
    Pd& pd = *t.pd;
    auto bound = bind_vector(pd, no_pin, false);
    if (!bound) return fail(bound.error());
    uint8_t vector = *bound;
    abi::MsiMessage m{0xfee00000u | uint64_t(apic_id) << 12, vector, bindings[vector].port};
    if (auto s = pd.space->copy_out(out, &m, sizeof m); !s.ok()) {
        bindings[vector] = {};
        arch::SpinGuard g(pd.lock);
        (void)pd.evtchn.close(m.port);
        return fail_copy(s.error());
    }
    LOG_INFO("%s: MSI -> vector %#x, event port %u", pd.name, vector, m.port);
    return {Status::ok, m.port};
}

Reply pci_config_read(Thread& t, uint64_t control, uint64_t address, uint64_t width)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    if (auto st = check_pci_address(address, width); st != Status::ok) return fail(st);
    uint16_t data = uint16_t(0xcfc + (address & 3));
    arch::SpinGuard g(pci_lock);
    arch::outl(0xcf8, uint32_t(0x80000000u | (address & ~3ull)));
    uint64_t v = width == 4 ? arch::inl(data) : width == 2 ? arch::inw(data) : arch::inb(data);
    return {Status::ok, v};
}

Reply pci_config_write(Thread& t, uint64_t control, uint64_t address, uint64_t width, uint64_t value)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    if (auto st = check_pci_address(address, width); st != Status::ok) return fail(st);
    if (value >> (width * 8)) return fail(Status::invalid);
    uint16_t data = uint16_t(0xcfc + (address & 3));
    arch::SpinGuard g(pci_lock);
    arch::outl(0xcf8, uint32_t(0x80000000u | (address & ~3ull)));
    if (width == 4) arch::outl(data, uint32_t(value));
    else if (width == 2) arch::outw(data, uint16_t(value));
    else arch::outb(data, uint8_t(value));
    return {};
}

}  // namespace hc
}  // namespace hv
