// The virtual PC that Linux domains get, beyond what hv itself emulates (the
// local APICs and the I/O APIC): a PCI host bridge (0xCF8/0xCFC and ECAM)
// with virtio devices behind it, the ACPI hardware-reduced sleep registers
// (poweroff) and reset register, and the guest-physical layout the ACPI
// tables and the e820 map describe. The 16550 console stays with the domain
// (every platform has it); this owns its interrupt line.
//
// Portable: hypercalls come in through PlatformHost, so host tests drive it
// with fakes. One domain's platform is used from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/allocator.hpp"
#include "lib/result.hpp"
#include "vmm/builder/e820.hpp"
#include "vmm/devices/uart16550.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/platform/pci_hotplug.hpp"
#include "vmm/virtio/guest_ram.hpp"
#include "vmm/virtio/virtio_console.hpp"
#include "vmm/virtio/virtio_pci.hpp"

namespace vmm::platform {

// Guest-physical layout. RAM is [0, min(memory, 3 GiB)) and the rest from
// 4 GiB (builder/e820.hpp); the PCI hole between holds what follows.
inline constexpr uint64_t pci_mmio_base = 0xc0000000;  // 32-bit BAR window, 256 MiB
static_assert(pci_mmio_base >= builder::ram_low_limit);
inline constexpr uint64_t pci_mmio_size = 0x10000000;
inline constexpr uint64_t ecam_base = 0xe0000000;  // bus 0 only: 1 MiB
inline constexpr uint64_t acpi_base = 0xe0000;     // tables in the BIOS area, where Linux also scans
inline constexpr uint64_t acpi_limit = 0x20000;
inline constexpr uint16_t sleep_control_port = 0x600;  // FADT SLEEP_CONTROL_REG / SLEEP_STATUS_REG
inline constexpr uint16_t sleep_status_port = 0x601;
inline constexpr uint16_t reset_port = 0xcf9;
inline constexpr uint16_t system_control_b_port = 0x61;  // NMI status and speaker (8255 port B on the PC)
inline constexpr unsigned com1_gsi = 4;  // ISA IRQ 4, edge, active high (no override in the MADT)
// PCI INTx: pin A of slot s on GSI intx_gsi_base + s mod intx_gsi_count
// (the DSDT's _PRT says so, with the usual swizzle for pins B-D).
inline constexpr unsigned intx_gsi_base = 16;
inline constexpr unsigned intx_gsi_count = 6;
// The ACPI power button's Generic Event Device interrupt (edge, active high):
// the last I/O APIC pin, clear of ISA IRQs and of future PCI INTx routes.
inline constexpr unsigned power_button_gsi = 23;
// PCI hotplug (docs/linux.md): the GED's second interrupt (edge, active
// high), raised when a slot's PCIU or PCID bit is set; the register block
// (PciHotplug) at its ports; the slots the disks and vifs use (8-23).
inline constexpr unsigned hotplug_gsi = 22;
inline constexpr uint16_t hotplug_port = PciHotplug::base_port;
inline constexpr uint32_t hotplug_slots = 0x00ffff00;
inline constexpr unsigned console_slot = 1;  // virtio-console at 00:01.0
inline constexpr unsigned max_virtio_functions = 16;  // attach_virtio(): disks and other devices

// What the platform needs from Dom0: interrupts into the domain.
class PlatformHost {
public:
    virtual void irq_line(unsigned gsi, bool level) = 0;
    virtual void msi(uint64_t address, uint32_t data) = 0;

protected:
    ~PlatformHost() = default;
};

// Guest RAM as Dom0 maps it: one contiguous window.
class RamWindow final : public virtio::GuestRam {
public:
    // base: where guest-physical 0 is; the RAM from 4 GiB at base + 4 GiB.
    RamWindow(uint8_t* base, builder::RamSplit ram) : base_(base), ram_(ram) {}
    uint8_t* span(uint64_t gpa, uint64_t len) override { return len && ram_.holds(gpa, len) ? base_ + gpa : nullptr; }

private:
    uint8_t* base_;
    builder::RamSplit ram_;
};

enum class Stop : uint8_t { none, poweroff, reboot };

class PcPlatform {
public:
    // `console_out` receives what the guest writes to its virtio console.
    PcPlatform(PlatformHost& host, uint8_t* ram, builder::RamSplit ram_split, virtio::VirtioConsole::Sink console_out,
               void* ctx);
    PcPlatform(const PcPlatform&) = delete;
    PcPlatform& operator=(const PcPlatform&) = delete;
    ~PcPlatform();

    // Plugs the devices in and places their BARs in the PCI window, as
    // firmware would (memory decoding on), so the guest finds them ready.
    lib::Status init();

    // A port access the domain forwarded: true if it is the platform's. A
    // write that ends the domain sets *stop.
    bool port(uint16_t port, unsigned size, bool in, uint32_t& value, Stop& stop);
    // An MMIO access (ECAM or a BAR): true if it is the platform's.
    bool mmio(uint64_t gpa, unsigned size, bool in, uint64_t& value);

    // Re-reads the UART's interrupt output and moves GSI 4 if it changed:
    // call after every UART access and after console input or a break.
    void uart_changed(const devices::Uart16550& uart);

    // Presses the ACPI power button (xl shutdown -F, xl trigger power): an
    // edge on power_button_gsi, which the guest's GED turns into a Notify.
    void press_power_button();

    // Host console input for the virtio console (false: its FIFO is full).
    bool console_input(char c) { return console_.receive(&c, 1) == 1; }

    pci::HostBridge& bridge() { return bridge_; }
    virtio::VirtioPci& console_pci() { return console_pci_; }

    // Plugs a further virtio device in (after init()) as a virtio-pci
    // function at `slot` with MSI-X, its BAR at virtio_bar(slot). The transport comes from `a` and is the
    // platform's; the device stays the caller's and must outlive it.
    lib::Status attach_virtio(virtio::VirtioDevice& dev, unsigned slot, lib::Allocator& a);
    virtio::VirtioPci* virtio_function(unsigned slot);

    // Hotplug (ACPI, docs/linux.md). hotplug_virtio: attach_virtio into a
    // running guest: the function is left unconfigured (no BAR, decoding
    // off), as a freshly inserted card is, for the guest to set up, and the
    // guest is told to look at the slot. request_eject: asks the guest to
    // let the slot's device go (invalid: no hotplug slot or nothing there);
    // the guest's driver releases it and _EJ0 reports it, after which
    // port() has removed the function (the device stays the caller's) and
    // take_ejected() names the slot. remove_virtio: takes a function out
    // at once (the guest is not asked). pull_virtio: the same in a running
    // guest (a surprise removal), which then gets a device check for the
    // slot and finds it empty, so that its hotplug driver lets the device go.
    lib::Status hotplug_virtio(virtio::VirtioDevice& dev, unsigned slot, lib::Allocator& a);
    lib::Status request_eject(unsigned slot);
    bool eject_pending(unsigned slot) const { return hotplug_.eject_pending(slot); }
    uint32_t take_ejected()
    {
        uint32_t e = ejected_;
        ejected_ = 0;
        return e;
    }
    void remove_virtio(unsigned slot);
    lib::Status pull_virtio(unsigned slot);
    // Where the virtio function in `slot` decodes its notify registers now
    // (BAR4 as the guest or the platform programmed it, plus the notify
    // offset), or 0 while memory decoding is off or BAR4 is unassigned.
    uint64_t notify_address(unsigned slot);
    // Where a slot's BAR4 goes: 1 MiB of the PCI window per slot (the
    // console's, at the window's start, is below slot 1's).
    static constexpr uint64_t virtio_bar(unsigned slot) { return pci_mmio_base + uint64_t(slot) * 0x100000; }

private:
    class Irq final : public pci::IrqSink {
    public:
        Irq(PlatformHost& host, unsigned gsi) : host_(host), gsi_(gsi) {}
        void msi(uint64_t address, uint32_t data) override { host_.msi(address, data); }
        void intx(bool level) override { host_.irq_line(gsi_, level); }

    private:
        PlatformHost& host_;
        unsigned gsi_;
    };

    PlatformHost& host_;
    RamWindow ram_;
    pci::HostBridge bridge_;
    virtio::VirtioConsole console_;
    Irq console_irq_;
    virtio::VirtioPci console_pci_;
    bool uart_line_ = false;
    // attach_virtio()'s functions and where the next BAR goes.
    struct Function;
    Function* functions_[max_virtio_functions] = {};
    lib::Allocator* function_alloc_ = nullptr;
    PciHotplug hotplug_{hotplug_slots};
    uint32_t ejected_ = 0;  // slots ejected by the guest, not yet taken
    lib::Status place(unsigned slot, uint64_t bar);
    lib::Result<Function*> add_function(virtio::VirtioDevice& dev, unsigned slot, lib::Allocator& a);
    void pulse_hotplug();
};

}  // namespace vmm::platform
