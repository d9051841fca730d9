// The PCI hotplug register block a Linux domain's ACPI methods read and
// write (the DSDT's \_SB.PCI0.PCNT and each slot's _EJ0, vmm/builder/
// acpi_builder): three 32-bit registers in system I/O space, one bit per
// slot of bus 0.
//
//   +0 PCIU  read: slots where a device was inserted since the last read
//            (the guest then sends them a device check); reading clears it
//   +4 PCID  read: slots whose device Dom0 wants ejected since the last
//            read (the guest then sends them an eject request); reading
//            clears it
//   +8 PCEJ  write: the slots the guest has let go (_EJ0, after its driver
//            released the device); reads 0
//
// Dom0 raises the block's interrupt (the GED's second GSI) after setting a
// PCIU or PCID bit. Which ejects are pending is kept apart from the PCID
// events: an eject request stays pending until the guest ejects the slot
// or the device is inserted again. The guest may also eject a slot
// nobody asked for (Linux: `echo 0 > /sys/bus/pci/slots/N/power`), as on
// real hardware; the caller decides what an eject of an occupied slot
// means. Portable, host-tested; one domain's block is used under its
// registry lock.
#pragma once

#include <cstdint>

namespace vmm::platform {

class PciHotplug {
public:
    static constexpr uint16_t base_port = 0xae00;
    static constexpr uint16_t ports = 12;
    static constexpr uint16_t up_offset = 0, down_offset = 4, eject_offset = 8;

    explicit PciHotplug(uint32_t slots) : slots_(slots & ~1u) {}

    // The slots that can be hotplugged (bit n: slot n; never slot 0).
    uint32_t slots() const { return slots_; }

    // A device is in `slot` now: the guest should look (PCIU). Cancels a
    // pending eject of that slot. False for a slot that is not hotpluggable.
    bool insert(unsigned slot);
    // Dom0 wants the device in `slot` out: an eject request (PCID).
    bool request_eject(unsigned slot);
    bool eject_pending(unsigned slot) const { return slot < 32 && (pending_ >> slot & 1); }

    // A port access: true if it is one of the block's. Sizes 1, 2 and 4 at
    // any offset inside a register read or write its bytes; PCIU and PCID
    // clear the bytes read.
    bool port(uint16_t port, unsigned size, bool in, uint32_t& value);

    // The slots the guest ejected since the last call (PCEJ writes of
    // hotpluggable slots).
    uint32_t take_ejected()
    {
        uint32_t e = ejected_;
        ejected_ = 0;
        return e;
    }

private:
    uint32_t slots_;
    uint32_t up_ = 0;       // PCIU events not yet read
    uint32_t down_ = 0;     // PCID events not yet read
    uint32_t pending_ = 0;  // ejects requested and not yet done
    uint32_t ejected_ = 0;  // ejects done, not yet taken by Dom0
};

}  // namespace vmm::platform
