#include "vmm/platform/pc_platform.hpp"

namespace vmm::platform {
namespace {

// ACPI 6.5 4.8.3.11: SLEEP_CONTROL_REG bits 4:2 SLP_TYPx, bit 5 SLP_EN.
// The DSDT's \_S5 package gives SLP_TYP 5.
constexpr uint32_t slp_en = 1u << 5;
constexpr uint32_t slp_typ_s5 = 5;
constexpr uint8_t reset_cpu = 1u << 2;  // 0xCF9 bit 2: reset, as PC chipsets decode it

// PCI INTx of slot s (pin A) on GSIs 16-21, as the DSDT's _PRT says; GSI
// 22 is PCI hotplug's, 23 the power button's.
constexpr unsigned intx_gsi(unsigned slot) { return intx_gsi_base + slot % intx_gsi_count; }
static_assert(intx_gsi_base + intx_gsi_count <= hotplug_gsi && hotplug_gsi != power_button_gsi);
static_assert(!(hotplug_slots & (1u << console_slot | 1u)));

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

lib::Result<PcPlatform::Function*> PcPlatform::add_function(virtio::VirtioDevice& dev, unsigned slot,
                                                              lib::Allocator& a)
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
    lib::Status s = f->pci.init();
    if (s.ok()) {
        if (auto at = bridge_.attach(f->pci, slot); !at) s = lib::err(at.error());
    }
    if (!s.ok()) {
        f->~Function();
        a.deallocate(f, sizeof(Function));
        return lib::err(s.error());
    }
    functions_[i] = f;  // freed with the platform, or by remove_virtio
    return f;
}

lib::Status PcPlatform::attach_virtio(virtio::VirtioDevice& dev, unsigned slot, lib::Allocator& a)
{
    TRY(add_function(dev, slot, a));
    return place(slot, virtio_bar(slot));
}

lib::Status PcPlatform::hotplug_virtio(virtio::VirtioDevice& dev, unsigned slot, lib::Allocator& a)
{
    if (slot >= 32 || !(hotplug_.slots() >> slot & 1)) return lib::err(lib::Error::invalid);
    TRY(add_function(dev, slot, a));
    // Only the interrupt line, which firmware would also have written: the
    // guest assigns the BAR from the host bridge's window itself.
    bridge_.config_write(0, slot, 0, 0x3c, 1, intx_gsi(slot));
    ejected_ &= ~(1u << slot);
    hotplug_.insert(slot);
    pulse_hotplug();
    return {};
}

lib::Status PcPlatform::request_eject(unsigned slot)
{
    if (!virtio_function(slot) || slot == console_slot) return lib::err(lib::Error::invalid);
    if (!hotplug_.request_eject(slot)) return lib::err(lib::Error::invalid);
    pulse_hotplug();
    return {};
}

void PcPlatform::remove_virtio(unsigned slot)
{
    for (Function*& f : functions_) {
        if (!f || f->slot != slot) continue;
        bridge_.detach(slot, f->pci);
        f->~Function();
        function_alloc_->deallocate(f, sizeof(Function));
        f = nullptr;
    }
}

uint64_t PcPlatform::notify_address(unsigned slot)
{
    if (!virtio_function(slot) || slot >= pci::HostBridge::num_slots) return 0;
    if (!(bridge_.config_read(0, slot, 0, 0x04, 2) & 0x2)) return 0;  // memory decoding off
    uint32_t low = bridge_.config_read(0, slot, 0, 0x20, 4);
    uint64_t base = low & ~0xfull;
    if ((low & 0x6) == 0x4) base |= uint64_t(bridge_.config_read(0, slot, 0, 0x24, 4)) << 32;  // 64-bit BAR
    if (!base || base == (~0ull & ~0xfull)) return 0;
    return base + virtio::VirtioPci::notify_offset;
}

lib::Status PcPlatform::pull_virtio(unsigned slot)
{
    if (!virtio_function(slot) || slot == console_slot) return lib::err(lib::Error::invalid);
    if (slot >= 32 || !(hotplug_.slots() >> slot & 1)) return lib::err(lib::Error::invalid);
    remove_virtio(slot);
    ejected_ &= ~(1u << slot);
    hotplug_.insert(slot);  // cancels the eject request: nothing is left to eject
    pulse_hotplug();
    return {};
}

void PcPlatform::pulse_hotplug()
{
    host_.irq_line(hotplug_gsi, true);
    host_.irq_line(hotplug_gsi, false);
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
    if (port >= hotplug_port && port < hotplug_port + PciHotplug::ports) {
        (void)hotplug_.port(port, size, in, value);
        // An eject the guest reported: its function goes now, so the slot
        // reads empty from the guest's next configuration access on.
        for (uint32_t gone = hotplug_.take_ejected(); gone; gone &= gone - 1) {
            const unsigned slot = unsigned(__builtin_ctz(gone));
            if (!virtio_function(slot)) continue;  // nothing there (a second _EJ0): nothing to do
            remove_virtio(slot);
            ejected_ |= 1u << slot;
        }
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
