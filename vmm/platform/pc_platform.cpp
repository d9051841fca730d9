#include "vmm/platform/pc_platform.hpp"

namespace vmm::platform {
namespace {

// ACPI 6.5 4.8.3.11: SLEEP_CONTROL_REG bits 4:2 SLP_TYPx, bit 5 SLP_EN.
// The DSDT's \_S5 package gives SLP_TYP 5.
constexpr uint32_t slp_en = 1u << 5;
constexpr uint32_t slp_typ_s5 = 5;
constexpr uint8_t reset_cpu = 1u << 2;  // 0xCF9 bit 2: reset, as PC chipsets decode it

// PCI INTx of slot s (pin A) on GSIs 16-22 (16 + s mod 7), as the DSDT's
// routing will say; GSI 23 is the power button's.
constexpr unsigned intx_gsi(unsigned slot) { return 16 + slot % 7; }
static_assert(intx_gsi(6) != power_button_gsi && intx_gsi(13) != power_button_gsi);

}  // namespace

struct PcPlatform::Function {
    Function(virtio::VirtioDevice& dev, RamWindow& ram, PlatformHost& host, unsigned slot)
        : irq(host, intx_gsi(slot)), pci(dev, ram, irq), slot(slot)
    {
    }
    Irq irq;
    virtio::VirtioPci pci;
    unsigned slot;
};

PcPlatform::PcPlatform(PlatformHost& host, uint8_t* ram, builder::RamSplit ram_split,
                       virtio::VirtioConsole::Sink console_out, void* ctx)
    : host_(host),
      ram_(ram, ram_split),
      console_(console_out, ctx),
      console_irq_(host, intx_gsi(console_slot)),
      console_pci_(console_, ram_, console_irq_)
{
}

PcPlatform::~PcPlatform()
{
    for (Function*& f : functions_) {
        if (!f) continue;
        f->~Function();
        function_alloc_->deallocate(f, sizeof(Function));
        f = nullptr;
    }
}

lib::Status PcPlatform::init()
{
    TRY(console_pci_.init());
    unsigned slot = TRY(bridge_.attach(console_pci_, console_slot));
    return place(slot, pci_mmio_base);
}

lib::Status PcPlatform::place(unsigned slot, uint64_t bar)
{
    // Firmware's work: the BAR (naturally aligned), memory decoding and bus
    // mastering on, the interrupt line register set.
    static_assert(virtio_bar(pci::HostBridge::num_slots - 1) + virtio::VirtioPci::bar_size <=
                  pci_mmio_base + pci_mmio_size);
    static_assert(virtio::VirtioPci::bar_size <= virtio_bar(1) - pci_mmio_base);
    bridge_.config_write(0, slot, 0, 0x10 + 4 * virtio::VirtioPci::bar, 4, uint32_t(bar));
    bridge_.config_write(0, slot, 0, 0x14 + 4 * virtio::VirtioPci::bar, 4, uint32_t(bar >> 32));
    bridge_.config_write(0, slot, 0, 0x3c, 1, intx_gsi(slot));
    bridge_.config_write(0, slot, 0, 0x04, 2, 0x0006);
    return {};
}

lib::Status PcPlatform::attach_virtio(virtio::VirtioDevice& dev, unsigned slot, lib::Allocator& a)
{
    if (function_alloc_ && function_alloc_ != &a) return lib::err(lib::Error::invalid);
    size_t i = 0;
    while (i < max_virtio_functions && functions_[i]) ++i;
    if (i == max_virtio_functions) return lib::err(lib::Error::no_memory);
    if (slot == 0 || slot >= pci::HostBridge::num_slots || bridge_.device(slot)) return lib::err(lib::Error::exists);
    void* mem = a.allocate(sizeof(Function), alignof(Function));
    if (!mem) return lib::err(lib::Error::no_memory);
    function_alloc_ = &a;
    auto* f = new (mem) Function(dev, ram_, host_, slot);
    functions_[i] = f;  // freed with the platform from here on, whatever fails below
    TRY(f->pci.init());
    TRY(bridge_.attach(f->pci, slot));
    return place(slot, virtio_bar(slot));
}

virtio::VirtioPci* PcPlatform::virtio_function(unsigned slot)
{
    if (slot == console_slot) return &console_pci_;
    for (Function* f : functions_)
        if (f && f->slot == slot) return &f->pci;
    return nullptr;
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

void PcPlatform::press_power_button()
{
    host_.irq_line(power_button_gsi, true);
    host_.irq_line(power_button_gsi, false);
}

}  // namespace vmm::platform
