#include "vmm/pci/host_bridge.hpp"

namespace vmm::pci {
namespace {

constexpr uint32_t ones(unsigned size) { return size == 1 ? 0xffu : size == 2 ? 0xffffu : 0xffffffffu; }
constexpr bool size_ok(unsigned size) { return size == 1 || size == 2 || size == 4; }

// CONFIG_ADDRESS (3.2.2.3.2): bit 31 enable, 23:16 bus, 15:11 device, 10:8
// function, 7:2 register; 30:24 are reserved and 1:0 read as 0.
constexpr uint32_t cfg_enable = 1u << 31;
constexpr uint32_t cfg_addr_mask = cfg_enable | 0x00fffffcu;

}  // namespace

HostBridge::HostBridge(uint16_t vendor, uint16_t device)
{
    self_.config().init(vendor, device, 0x060000, 0, 0, 0);
    slots_[0] = &self_;
}

lib::Result<unsigned> HostBridge::attach(PciDevice& dev, unsigned slot)
{
    if (slot >= num_slots) return lib::err(lib::Error::invalid);
    if (slot == 0) {
        for (unsigned s = 1; s < num_slots; ++s)
            if (!slots_[s]) {
                slot = s;
                break;
            }
        if (slot == 0) return lib::err(lib::Error::no_memory);
    }
    if (slots_[slot]) return lib::err(lib::Error::exists);
    slots_[slot] = &dev;
    return slot;
}

void HostBridge::detach(unsigned slot, const PciDevice& dev)
{
    if (slot > 0 && slot < num_slots && slots_[slot] == &dev) slots_[slot] = nullptr;
}

uint32_t HostBridge::config_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size)
{
    if (!size_ok(size) || (reg & 3) + size > 4) return ones(size);
    if (bus != 0 || dev >= num_slots || fn != 0 || !slots_[dev] || reg >= ConfigSpace::ecam_size) return ones(size);
    return slots_[dev]->config_read(reg, size);
}

void HostBridge::config_write(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size, uint32_t value)
{
    if (!size_ok(size) || (reg & 3) + size > 4) return;
    if (bus != 0 || dev >= num_slots || fn != 0 || !slots_[dev] || reg >= ConfigSpace::ecam_size) return;
    slots_[dev]->config_write(reg, size, value);
}

uint32_t HostBridge::io_read(uint16_t port, unsigned size)
{
    if (!size_ok(size)) return ones(4);
    if (port == config_address_port && size == 4) return config_address_;
    if (port >= config_data_port && port <= config_data_port + 3 && (port & 3) + size <= 4) {
        const uint32_t a = config_address_;
        if (!(a & cfg_enable)) return ones(size);
        return config_read((a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, (a & 0xfc) + (port & 3), size);
    }
    return ones(size);
}

void HostBridge::io_write(uint16_t port, unsigned size, uint32_t value)
{
    if (!size_ok(size)) return;
    if (port == config_address_port && size == 4) {
        config_address_ = value & cfg_addr_mask;
        return;
    }
    if (port >= config_data_port && port <= config_data_port + 3 && (port & 3) + size <= 4) {
        const uint32_t a = config_address_;
        if (!(a & cfg_enable)) return;
        config_write((a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, (a & 0xfc) + (port & 3), size, value);
    }
}

uint64_t HostBridge::ecam_read(uint64_t offset, unsigned size)
{
    if (size == 8 && !(offset & 7))
        return ecam_read(offset, 4) | uint64_t(ecam_read(offset + 4, 4)) << 32;
    if (!size_ok(size) || offset >= ecam_size) return size == 8 ? ~0ull : ones(size);
    return config_read(unsigned(offset >> 20), unsigned(offset >> 15) & 0x1f, unsigned(offset >> 12) & 7,
                       unsigned(offset & 0xfff), size);
}

void HostBridge::ecam_write(uint64_t offset, unsigned size, uint64_t value)
{
    if (size == 8 && !(offset & 7)) {
        ecam_write(offset, 4, uint32_t(value));
        ecam_write(offset + 4, 4, uint32_t(value >> 32));
        return;
    }
    if (!size_ok(size) || offset >= ecam_size) return;
    config_write(unsigned(offset >> 20), unsigned(offset >> 15) & 0x1f, unsigned(offset >> 12) & 7,
                 unsigned(offset & 0xfff), size, uint32_t(value));
}

bool HostBridge::decode(Space space, uint64_t addr, unsigned size, BarHit& hit) const
{
    if (size == 0 || size > 8 || addr + size < addr) return false;
    for (unsigned s = 0; s < num_slots; ++s) {
        PciDevice* d = slots_[s];
        if (!d) continue;
        const ConfigSpace& c = d->config();
        if (space == Space::io ? !c.io_enabled() : !c.memory_enabled()) continue;
        for (unsigned b = 0; b < ConfigSpace::num_bars; ++b) {
            const BarKind k = c.bar_kind(b);
            if (k == BarKind::none || (k == BarKind::io) != (space == Space::io)) continue;
            const uint64_t base = c.bar_address(b), len = c.bar_size(b);
            // A BAR left at 0 is unassigned. One mid-sizing holds its size
            // mask; Linux turns decoding off while it sizes (pci_read_bases).
            if (base == 0 || addr < base || addr + size > base + len || base + len < base) continue;
            hit = {d, s, b, addr - base};
            return true;
        }
    }
    return false;
}

bool HostBridge::bar_read(Space space, uint64_t addr, unsigned size, uint64_t& value)
{
    BarHit h;
    if (!decode(space, addr, size, h)) return false;
    value = h.dev->bar_read(h.bar, h.offset, size);
    return true;
}

bool HostBridge::bar_write(Space space, uint64_t addr, unsigned size, uint64_t value)
{
    BarHit h;
    if (!decode(space, addr, size, h)) return false;
    h.dev->bar_write(h.bar, h.offset, size, value);
    return true;
}

}  // namespace vmm::pci
