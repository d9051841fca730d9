#include "vmm/platform/pci_hotplug.hpp"

namespace vmm::platform {

bool PciHotplug::insert(unsigned slot)
{
    if (slot >= 32 || !(slots_ >> slot & 1)) return false;
    const uint32_t bit = 1u << slot;
    up_ |= bit;
    down_ &= ~bit;
    pending_ &= ~bit;
    return true;
}

bool PciHotplug::request_eject(unsigned slot)
{
    if (slot >= 32 || !(slots_ >> slot & 1)) return false;
    const uint32_t bit = 1u << slot;
    down_ |= bit;
    up_ &= ~bit;
    pending_ |= bit;
    return true;
}

bool PciHotplug::port(uint16_t port, unsigned size, bool in, uint32_t& value)
{
    if (port < base_port || port >= base_port + ports) return false;
    const unsigned off = port - base_port;
    const unsigned reg = off & ~3u, shift = 8 * (off & 3);
    if ((size != 1 && size != 2 && size != 4) || (off & 3) + size > 4) {
        if (in) value = ~0u;  // straddles two registers: nothing answers
        return true;
    }
    const uint32_t mask = (size == 4 ? ~0u : (1u << 8 * size) - 1) << shift;
    if (in) {
        uint32_t* r = reg == up_offset ? &up_ : reg == down_offset ? &down_ : nullptr;
        value = r ? (*r & mask) >> shift : 0;
        if (r) *r &= ~mask;
        return true;
    }
    if (reg == eject_offset) {
        const uint32_t gone = ((value << shift) & mask) & slots_;
        ejected_ |= gone;
        pending_ &= ~gone;
        down_ &= ~gone;
    }
    return true;
}

}  // namespace vmm::platform
