// `xl selftest`: Dom0 attacks its own hypervisor the way a buggy or
// compromised control domain would, and checks that every call is refused
// with the right status while the host goes on. The bad inputs tried: an
// unknown call number; pointers into the kernel half, into unmapped pages
// and into read-only pages; absurd lengths; forged, zero, stale and
// wrong-type handles; a handle whose rights were reduced; domain configs
// with zero vCPUs, a bad name, nonzero reserved fields, unknown flags and
// more memory than exists; mappings over the kernel half and past a
// domain's RAM; completing an I/O request that does not exist; an unknown
// boot mode and unknown boot flags; a PIC vector above 0xff and a second
// one while the first waits; unmapping what was never mapped; a thread starting in the
// kernel; regions of bad sizes, grants over RAM, unaligned, twice, swapped
// handles and without the transfer right; populating over RAM, unaligned or
// absurd sizes, releasing over holes. Dom0 only.
#include "hv/abi/hypercall.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/rt/events.hpp"
#include "vmm/rt/hypercall.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {

using hv::abi::Call;
using hv::abi::Status;

namespace {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

// A driver's first steps on real devices from ring 3: COM2's scratch
// register through granted ports, its transmitter-empty interrupt (ISA IRQ 3)
// as an event, and the HPET's capabilities through an MMIO window. Returns
// the number of failed checks (and adds to total).
int run_device_checks(xl::Output& out, int& total)
{
    const uint32_t control = start_info().control;
    int failed = 0;
    auto report = [&](const char* what, bool ok, const char* detail) {
        ++total;
        if (!ok) ++failed;
        out.print("selftest: %-58s %s%s\n", what, ok ? "ok" : "FAILED: ", ok ? "" : detail);
    };
    constexpr uint16_t com2 = 0x2f8;
    auto p = hc::device_ports(control, com2, 8);
    report("device_ports for COM2 (0x2f8-0x2ff)", p.ok(), hv::abi::status_name(p.status));
    if (p.ok()) {
        outb(com2 + 7, 0x5a);
        uint8_t back = inb(com2 + 7);
        outb(com2 + 7, 0xa5);
        report("COM2's scratch register answers from ring 3", back == 0x5a && inb(com2 + 7) == 0xa5,
               "no COM2 behind the ports");
        auto irq = hc::device_irq_bind(control, 3);
        report("device_irq_bind of COM2's interrupt (GSI 3)", irq.ok(), hv::abi::status_name(irq.status));
        if (irq.ok()) {
            uint32_t port = uint32_t(irq.value);
            report("device_irq_bind of GSI 3 twice", hc::device_irq_bind(control, 3).status == Status::exists,
                   "not refused");
            outb(com2 + 4, 0x0b);  // DTR, RTS, OUT2 (the PC's interrupt gate)
            outb(com2 + 1, 0x02);  // IER: transmitter empty: the UART interrupts at once
            auto ev = hc::evtchn_wait(2'000'000'000ull);
            uint8_t iir = inb(com2 + 2);  // reading IIR ends the THRE interrupt
            outb(com2 + 1, 0x00);
            outb(com2 + 4, 0x03);
            // evtchn_wait names the lowest pending port of Dom0's event page.
            report("COM2's interrupt arrives as an event", ev.ok() && ev.value == port, "no event within 2 s");
            report("COM2's IIR names the transmitter-empty interrupt", (iir & 0x0f) == 0x02, "IIR wrong");
            (void)events().take(port);
            report("device_irq_ack", hc::device_irq_ack(port).ok(), "refused");
        }
    }
    constexpr uint64_t hpet = 0xfed00000, window = 0x0000'3000'0000'0000ull;
    auto m = hc::device_mmio_map(control, hpet, 4096, window);
    report("device_mmio_map of the HPET's registers", m.ok(), hv::abi::status_name(m.status));
    if (m.ok()) {
        uint64_t cap = *reinterpret_cast<volatile uint64_t*>(window);
        uint32_t period_fs = uint32_t(cap >> 32);
        out.print("selftest: HPET capabilities %#lx: counter period %u fs\n", cap, period_fs);
        report("the HPET's counter period reads back (0 < period <= 100 ns)", period_fs > 0 && period_fs <= 100'000'000,
               "implausible period");
        report("unmap of the MMIO window", hc::unmap(window, 4096).ok(), "refused");
    }
    return failed;
}

}  // namespace

int run_abi_selftest(xl::Output& out)
{
    int failed = 0, total = 0;
    auto expect = [&](const char* what, hc::Ret r, Status want) {
        ++total;
        if (r.status == want) {
            out.print("selftest: %-58s %s: ok\n", what, hv::abi::status_name(want));
        } else {
            ++failed;
            out.print("selftest: %-58s FAILED: got %s, expected %s\n", what, hv::abi::status_name(r.status),
                      hv::abi::status_name(want));
        }
    };
    const uint32_t control = start_info().control;
    constexpr uint64_t kernel_va = 0xffff'8000'0000'0000ull;
    constexpr uint64_t unmapped_va = 0x1000;
    static const char text[] = "x";
    const uint64_t ro_va = reinterpret_cast<uint64_t>(&text[0]);  // .rodata: read-only for Dom0

    expect("unknown call number 9999", hc::call(Call(9999)), Status::bad_call);
    expect("console_write from a kernel address", hc::call(Call::console_write, kernel_va, 16), Status::bad_address);
    expect("console_write from an unmapped page", hc::call(Call::console_write, unmapped_va, 16), Status::bad_address);
    expect("console_write of 1 TiB", hc::call(Call::console_write, ro_va, 1ull << 40), Status::out_of_range);
    expect("console_write wrapping the address space", hc::call(Call::console_write, ~0ull - 4, 64),
           Status::bad_address);
    expect("system_info into read-only memory", hc::call(Call::system_info, ro_va), Status::bad_address);
    expect("log_read into a kernel address", hc::call(Call::log_read, 0, kernel_va, 256), Status::bad_address);
    hv::abi::DomainInfo info{};
    expect("domain_info with a forged handle", hc::domain_info(0x12345678, info), Status::not_found);
    expect("domain_info with handle 0", hc::domain_info(0, info), Status::not_found);
    expect("domain_info with a 64-bit handle", hc::call(Call::domain_info, 1ull << 40, reinterpret_cast<uint64_t>(&info)),
           Status::not_found);
    expect("domain_info on the control handle", hc::domain_info(control, info), Status::wrong_type);
    expect("domain_destroy with a forged handle", hc::domain_destroy(0x00010042), Status::not_found);

    hv::abi::DomainConfig cfg{};
    __builtin_memcpy(cfg.name, "selftest", 9);
    cfg.memory = 4 << 20;
    cfg.vcpus = 0;
    expect("domain_create with 0 vCPUs", hc::domain_create(control, cfg), Status::out_of_range);
    cfg.vcpus = 65;
    expect("domain_create with 65 vCPUs", hc::domain_create(control, cfg), Status::out_of_range);
    cfg.vcpus = 1;
    __builtin_memcpy(cfg.name, "../etc", 7);
    expect("domain_create with the name '../etc'", hc::domain_create(control, cfg), Status::invalid);
    __builtin_memcpy(cfg.name, "selftest", 9);
    cfg.reserved[2] = 1;
    expect("domain_create with a reserved field set", hc::domain_create(control, cfg), Status::invalid);
    cfg.reserved[2] = 0;
    cfg.flags = 0x80;
    expect("domain_create with an unknown flag", hc::domain_create(control, cfg), Status::invalid);
    cfg.flags = 0;
    cfg.memory = 1ull << 50;
    expect("domain_create with 1 PiB of memory", hc::domain_create(control, cfg), Status::no_memory);
    cfg.memory = 4 << 20;
    expect("domain_create with a config in the kernel half",
           hc::call(Call::domain_create, control, kernel_va), Status::bad_address);

    // A control handle with only the read right may list but not create.
    auto ro = hc::handle_dup(control, hv::abi::rights::read);
    expect("handle_dup of the control handle, read only", ro, Status::ok);
    if (ro.ok()) {
        expect("domain_create through the read-only handle", hc::domain_create(uint32_t(ro.value), cfg), Status::denied);
        expect("handle_dup adding rights to the read-only handle",
               hc::handle_dup(uint32_t(ro.value), hv::abi::rights::read | hv::abi::rights::manage), Status::denied);
        expect("handle_close of the read-only handle", hc::handle_close(uint32_t(ro.value)), Status::ok);
        expect("domain_list through the closed (stale) handle",
               hc::domain_list(uint32_t(ro.value), 0, &info, 1), Status::not_found);
    }

    // A real domain to aim at.
    auto d = hc::domain_create(control, cfg);
    expect("domain_create of a 4 MiB domain", d, Status::ok);
    if (d.ok()) {
        uint32_t h = uint32_t(d.value);
        expect("domain_create of a second domain with the same name", hc::domain_create(control, cfg), Status::exists);
        expect("domain_map over the kernel half", hc::domain_map(h, 0, 4096, kernel_va, false), Status::out_of_range);
        expect("domain_map past the domain's RAM", hc::domain_map(h, 4 << 20, 4096, 0x100000000000ull, false),
               Status::out_of_range);
        expect("domain_map of an unaligned range", hc::domain_map(h, 123, 4096, 0x100000000000ull, false),
               Status::invalid);
        expect("ioreq_complete with no request pending", hc::ioreq_complete(h, 0, 0), Status::busy);
        expect("ioreq_complete for vCPU 7 of a 1-vCPU domain", hc::ioreq_complete(h, 7, 0), Status::out_of_range);
        hv::abi::VcpuBoot b{};
        b.mode = hv::abi::BootMode(99);
        expect("vcpu_boot with an unknown mode", hc::vcpu_boot(h, 0, b), Status::unsupported);
        b.mode = hv::abi::BootMode::multiboot32;
        b.flags = 0x80000000u;
        expect("vcpu_boot with unknown flags", hc::vcpu_boot(h, 0, b), Status::invalid);
        // A virtual PIC's vector for vCPU 0: one at a time.
        expect("domain_extint of vector 0x100", hc::call(Call::domain_extint, h, 0x100), Status::invalid);
        expect("domain_extint of vector 0x20", hc::domain_extint(h, 0x20), Status::ok);
        expect("domain_extint while vCPU 0 still holds one", hc::domain_extint(h, 0x21), Status::busy);
        expect("ioport_forward of ports 0xfff0..0x1000f", hc::ioport_forward(h, 0xfff0, 0x20), Status::out_of_range);
        expect("ioevent_bind_mmio outside every forwarded range", hc::ioevent_bind_mmio(h, 0xfe001000),
               Status::out_of_range);
        expect("ioevent_bind of port 0x10000", hc::call(Call::ioevent_bind, h, 0x10000), Status::out_of_range);
        // Buffered writes and latched reads: only on ports the caller forwards.
        expect("ioport_buffer of ports nobody forwards", hc::ioport_buffer(h, 0x2f8, 1), Status::out_of_range);
        expect("ioport_forward of COM2's ports", hc::ioport_forward(h, 0x2f8, 8), Status::ok);
        expect("ioport_buffer of COM2's THR", hc::ioport_buffer(h, 0x2f8, 1), Status::ok);
        expect("ioport_buffer over the buffered THR again", hc::ioport_buffer(h, 0x2f8, 2), Status::exists);
        expect("ioport_buffer of a range half forwarded", hc::ioport_buffer(h, 0x2f0, 0x10), Status::out_of_range);
        hv::abi::BufferedWrite writes[4]{};
        expect("ioport_drain of an empty ring", hc::ioport_drain(h, writes, 4), Status::ok);
        expect("ioport_drain with room for none", hc::ioport_drain(h, writes, 0), Status::out_of_range);
        expect("ioport_drain of more than the ring holds", hc::ioport_drain(h, writes, 257), Status::out_of_range);
        expect("ioport_drain into the kernel half",
               hc::call(Call::ioport_drain, h, kernel_va, 4), Status::bad_address);
        expect("ioport_latch of a value wider than a byte", hc::ioport_latch(h, 0x2fd, 0x100), Status::invalid);
        expect("ioport_latch of a port nobody forwards", hc::ioport_latch(h, 0x3fd, 0x60), Status::out_of_range);
        expect("ioport_latch of port 0x10000", hc::call(Call::ioport_latch, h, 0x10000, 0x60), Status::out_of_range);
        expect("ioport_latch of COM2's LSR", hc::ioport_latch(h, 0x2fd, 0x60), Status::ok);
        expect("ioport_latch withdrawn", hc::ioport_latch(h, 0x2fd, ~0ull), Status::ok);
        // A doorbell goes with its port: once closed, its address is free.
        auto bell = hc::ioevent_bind(h, 0x510);
        expect("ioevent_bind of port 0x510", bell, Status::ok);
        expect("ioevent_bind of port 0x510 again", hc::ioevent_bind(h, 0x510), Status::exists);
        if (bell.ok()) expect("evtchn_close of that doorbell's port", hc::evtchn_close(uint32_t(bell.value)), Status::ok);
        auto rebound = hc::ioevent_bind(h, 0x510);
        expect("ioevent_bind of port 0x510 after its port was closed", rebound, Status::ok);
        if (rebound.ok()) (void)hc::evtchn_close(uint32_t(rebound.value));
        expect("domain_sched with weight 70000", hc::domain_sched(h, 70000, ~0ull), Status::out_of_range);
        expect("domain_pause of a domain that never ran", hc::domain_pause(h), Status::busy);
        // Memory after creation: populate and release (ballooning), frame-exact.
        constexpr uint64_t hot = 0x40000000, two_mib = 2ull << 20, window = 0x0000'1000'0000'0000ull;
        expect("domain_populate over its RAM", hc::domain_populate(h, 0x1000, 4096), Status::exists);
        expect("domain_populate of an unaligned range", hc::domain_populate(h, hot + 1, 4096), Status::invalid);
        expect("domain_populate of 1 PiB", hc::domain_populate(h, hot, 1ull << 50), Status::no_memory);
        hv::abi::SystemInfo s0{}, s1{}, s2{};
        (void)hc::system_info(s0);
        expect("domain_populate of 2 MiB at 1 GiB", hc::domain_populate(h, hot, two_mib), Status::ok);
        (void)hc::system_info(s1);
        auto frame_check = [&](const char* what, bool ok) {
            ++total;
            if (!ok) ++failed;
            out.print("selftest: %-58s %s\n", what, ok ? "ok" : "FAILED");
        };
        frame_check("it took 512 frames (and at most 3 for its p2m tables)",
                    s0.free_frames - s1.free_frames >= 512 && s0.free_frames - s1.free_frames <= 515);
        expect("domain_info after the populate", hc::domain_info(h, info), Status::ok);
        frame_check("the domain has 6 MiB now", info.memory == (6ull << 20));
        if (hc::domain_map(h, hot, 4096, window, true).ok()) {
            *reinterpret_cast<volatile uint32_t*>(window) = 0x600dcafe;
            (void)hc::unmap(window, 4096);
        }
        (void)hc::system_info(s1);  // Dom0's page tables for the window stay: count from here
        expect("domain_release of one page in it", hc::domain_release(h, hot + 4096, 4096), Status::ok);
        expect("domain_map of the released page", hc::domain_map(h, hot + 4096, 4096, window, false),
               Status::out_of_range);
        expect("domain_release over the hole", hc::domain_release(h, hot, two_mib), Status::out_of_range);
        expect("domain_release of the first page", hc::domain_release(h, hot, 4096), Status::ok);
        expect("domain_release of the rest", hc::domain_release(h, hot + 8192, two_mib - 8192), Status::ok);
        (void)hc::system_info(s2);
        // Releasing one 4 KiB page out of a 2 MiB mapping splits it: the
        // new table stays with the p2m until the domain goes.
        out.print("selftest: released 2 MiB: %lu frames back\n", s2.free_frames - s1.free_frames);
        frame_check("the 512 frames came back (less the one table the split made)",
                    s2.free_frames - s1.free_frames == 511 || s2.free_frames - s1.free_frames == 512);
        expect("domain_info after the release", hc::domain_info(h, info), Status::ok);
        frame_check("the domain has 4 MiB again", info.memory == (4ull << 20));

        expect("region_create of 0 bytes", hc::region_create(0), Status::invalid);
        expect("region_create of 100 bytes", hc::region_create(100), Status::invalid);
        expect("region_create of 4 MiB (above the 2 MiB limit)", hc::region_create(4 << 20), Status::invalid);
        auto r = hc::region_create(4096);
        expect("region_create of one page", r, Status::ok);
        if (r.ok()) {
            uint32_t rh = uint32_t(r.value);
            expect("region_grant over the domain's RAM", hc::region_grant(rh, h, 0x1000, true), Status::exists);
            expect("region_grant at an unaligned address", hc::region_grant(rh, h, 0xfd000010, true), Status::invalid);
            expect("region_grant with the domain and region swapped", hc::region_grant(h, rh, 0xfd000000, true),
                   Status::wrong_type);
            expect("region_map of a domain handle", hc::region_map(h, 0x300000000000ull, true), Status::wrong_type);
            expect("region_map over the kernel half", hc::region_map(rh, kernel_va, true), Status::out_of_range);
            expect("region_grant into free guest space", hc::region_grant(rh, h, 0xfd000000, true), Status::ok);
            expect("region_grant twice at the same address", hc::region_grant(rh, h, 0xfd000000, true), Status::exists);
            auto ro_region = hc::handle_dup(rh, hv::abi::rights::read | hv::abi::rights::map);
            if (ro_region.ok()) {
                expect("region_grant through a handle without the transfer right",
                       hc::region_grant(uint32_t(ro_region.value), h, 0xfd001000, true), Status::denied);
                (void)hc::handle_close(uint32_t(ro_region.value));
            }
            expect("handle_close of the region (the grant keeps its frames)", hc::handle_close(rh), Status::ok);
        }
        expect("domain_destroy", hc::domain_destroy(h), Status::ok);
        expect("domain_info after destroy (stale handle)", hc::domain_info(h, info), Status::not_found);
        expect("domain_destroy twice", hc::domain_destroy(h), Status::not_found);
    }
    expect("unmap of a range never mapped", hc::unmap(0x100000000000ull, 4096), Status::not_found);
    expect("thread_create at a kernel address",
           hc::call(Call::thread_create, kernel_va, 0x7fff0000, 0, ~0ull), Status::invalid);
    expect("thread_create on another CPU", hc::call(Call::thread_create, ro_va, 0x7fff0000, 0, 1), Status::unsupported);
    expect("handle_close of handle 0", hc::handle_close(0), Status::not_found);

    // Physical devices for Dom0's drivers: what hv drives itself is refused;
    // COM2's ports, its interrupt and the HPET's registers are given.
    constexpr uint64_t window = 0x0000'3000'0000'0000ull;
    expect("device_ports for hv's console UART (0x3f8)", hc::device_ports(control, 0x3f8, 8), Status::denied);
    expect("device_ports for the PCI configuration ports", hc::device_ports(control, 0xcf8, 8), Status::denied);
    expect("device_ports for the 8259 PIC", hc::device_ports(control, 0x20, 2), Status::denied);
    expect("device_ports for the CMOS RTC", hc::device_ports(control, 0x70, 2), Status::denied);
    expect("device_ports past port 0xffff", hc::device_ports(control, 0xfff8, 16), Status::out_of_range);
    expect("device_mmio_map over RAM", hc::device_mmio_map(control, 0x100000, 4096, window), Status::denied);
    expect("device_mmio_map over the local APIC", hc::device_mmio_map(control, 0xfee00000, 4096, window),
           Status::denied);
    expect("device_mmio_map over the I/O APIC", hc::device_mmio_map(control, 0xfec00000, 4096, window),
           Status::denied);
    expect("device_irq_bind of a GSI no I/O APIC has", hc::device_irq_bind(control, 999), Status::not_found);
    expect("device_irq_ack of a port with no interrupt", hc::device_irq_ack(1), Status::not_found);
    // PCI configuration space: the host bridge at 00:00.0 answers; bad
    // addresses, widths and values are refused.
    {
        auto id = hc::pci_config_read(control, 0, 4);
        expect("pci_config_read of 00:00.0's vendor and device", id, Status::ok);
        ++total;
        if (!id.ok() || (id.value & 0xffff) == 0xffff) {
            ++failed;
            out.print("selftest: %-58s FAILED: %#lx\n", "a host bridge at 00:00.0", id.value);
        }
    }
    expect("pci_config_read past bus 255", hc::pci_config_read(control, 1u << 24, 4), Status::out_of_range);
    expect("pci_config_read of width 3", hc::pci_config_read(control, 0, 3), Status::invalid);
    expect("pci_config_read of a misaligned dword", hc::pci_config_read(control, 2, 4), Status::invalid);
    expect("pci_config_write of a value wider than its width", hc::pci_config_write(control, 0x3c, 1, 0x100),
           Status::invalid);
    expect("device_msi_bind into a read-only page",
           hc::call(Call::device_msi_bind, control, ro_va), Status::bad_address);
    expect("device_msi_bind into the kernel half", hc::call(Call::device_msi_bind, control, kernel_va),
           Status::bad_address);
    if (auto r = hc::region_create(4096); r.ok()) {
        auto pa = hc::region_phys(uint32_t(r.value));
        expect("region_phys (a DMA buffer's bus address)", pa, Status::ok);
        ++total;
        if (!pa.ok() || !pa.value || (pa.value & 0xfff)) {
            ++failed;
            out.print("selftest: %-58s FAILED: %#lx\n", "region_phys is a page-aligned address", pa.value);
        }
        (void)hc::handle_close(uint32_t(r.value));
    }
    failed += run_device_checks(out, total);

    hv::abi::SystemInfo si{};
    expect("system_info still answers", hc::system_info(si), Status::ok);
    if (failed) out.print("selftest: %d of %d checks FAILED\n", failed, total);
    else out.print("selftest: all %d checks passed\n", total);
    return failed;
}

}  // namespace vmm
