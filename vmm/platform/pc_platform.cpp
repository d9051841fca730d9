#include "vmm/platform/pc_platform.hpp"

namespace vmm::platform {
namespace {

// ACPI 6.5 4.8.3.11: SLEEP_CONTROL_REG bits 4:2 SLP_TYPx, bit 5 SLP_EN.
// The DSDT's \_S5 package gives SLP_TYP 5.
constexpr uint32_t slp_en = 1u << 5;
constexpr uint32_t slp_typ_s5 = 5;
constexpr uint8_t reset_cpu = 1u << 2;  // 0xCF9 bit 2: reset, as PC chipsets decode it

// PCI INTx of slot s (pin A) on GSI 16 + s, as the DSDT's routing will say.
constexpr unsigned intx_gsi(unsigned slot) { return 16 + (slot & 7); }

}  // namespace

PcPlatform::PcPlatform(PlatformHost& host, uint8_t* ram, uint64_t ram_size, virtio::VirtioConsole::Sink console_out,
                       void* ctx)
    : host_(host),
      ram_(ram, ram_size),
      console_(console_out, ctx),
      console_irq_(host, intx_gsi(console_slot)),
      console_pci_(console_, ram_, console_irq_)
{
}

lib::Status PcPlatform::init()
{
    TRY(console_pci_.init());
    unsigned slot = TRY(bridge_.attach(console_pci_, console_slot));
    // Firmware's work: the BAR at the start of the window, memory decoding
    // and bus mastering on, the interrupt line register set.
    uint64_t bar = pci_mmio_base;
    bridge_.config_write(0, slot, 0, 0x10 + 4 * virtio::VirtioPci::bar, 4, uint32_t(bar));
    bridge_.config_write(0, slot, 0, 0x14 + 4 * virtio::VirtioPci::bar, 4, uint32_t(bar >> 32));
    bridge_.config_write(0, slot, 0, 0x3c, 1, intx_gsi(slot));
    bridge_.config_write(0, slot, 0, 0x04, 2, 0x0006);
    return {};
}

lib::Status PcPlatform::plug(virtio::VirtioPci& fn, unsigned slot)
{
    static_assert(plugged_bar(pci::HostBridge::num_slots - 1) + virtio::VirtioPci::bar_size <= pci_mmio_base + pci_mmio_size);
    TRY(fn.init());
    slot = TRY(bridge_.attach(fn, slot));
    const uint64_t bar = plugged_bar(slot);
    bridge_.config_write(0, slot, 0, 0x10 + 4 * virtio::VirtioPci::bar, 4, uint32_t(bar));
    bridge_.config_write(0, slot, 0, 0x14 + 4 * virtio::VirtioPci::bar, 4, uint32_t(bar >> 32));
    bridge_.config_write(0, slot, 0, 0x3c, 1, intx_gsi(slot));
    bridge_.config_write(0, slot, 0, 0x04, 2, 0x0006);
    return {};
}

bool PcPlatform::port(uint16_t port, unsigned size, bool in, uint32_t& value, Stop& stop)
{
    if (port == reset_port && size == 1) {
        // PCI reset control shares the 0xCF8 dword: a byte access at 0xCF9
        // is the reset register (the host bridge decodes dwords only there).
        if (in) value = 0;
        else if (value & reset_cpu) stop = Stop::reboot;
        return true;
    }
    if (port >= pci::HostBridge::config_address_port && port < pci::HostBridge::config_data_port + 4) {
        if (in) value = bridge_.io_read(port, size);
        else bridge_.io_write(port, size, value);
        return true;
    }
    if (port == system_control_b_port && size == 1) {
        // Port B: Linux reads the reason of an NMI here. Bits 7 (SERR) and 6
        // (IOCHK) clear: an injected NMI (xl trigger nmi) has no hardware
        // cause, so Linux reports an unknown NMI instead of chasing a parity
        // or I/O check error.
        if (in) value = 0;
        return true;
    }
    if (port == sleep_control_port) {
        if (in) value = 0;
        else if ((value & slp_en) && ((value >> 2) & 7) == slp_typ_s5) stop = Stop::poweroff;
        return true;
    }
    if (port == sleep_status_port) {
        if (in) value = 0;  // WAK_STS never set: this machine does not wake
        return true;
    }
    return false;
}

bool PcPlatform::mmio(uint64_t gpa, unsigned size, bool in, uint64_t& value)
{
    if (gpa >= ecam_base && gpa - ecam_base < pci::HostBridge::ecam_size) {
        if (in) value = bridge_.ecam_read(gpa - ecam_base, size);
        else bridge_.ecam_write(gpa - ecam_base, size, value);
        return true;
    }
    if (gpa >= pci_mmio_base && gpa - pci_mmio_base < pci_mmio_size) {
        bool hit = in ? bridge_.bar_read(pci::Space::memory, gpa, size, value)
                      : bridge_.bar_write(pci::Space::memory, gpa, size, value);
        if (!hit && in) value = ~0ull;  // nothing decodes it: the bus floats
        return true;
    }
    return false;
}

void PcPlatform::uart_changed(const devices::Uart16550& uart)
{
    bool line = uart.irq_line();
    if (line == uart_line_) return;
    uart_line_ = line;
    host_.irq_line(com1_gsi, line);
}

}  // namespace vmm::platform
