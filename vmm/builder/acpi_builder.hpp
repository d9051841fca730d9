// ACPI tables for a guest (ACPI 6.5): what a Linux guest reads to find its
// CPUs, interrupt controllers, PCI host bridge, COM1, and how to power off
// and reset. The platform is hardware-reduced (§4.1): no PM timer, no SCI
// event blocks, no 8259; power-off goes through the FADT's sleep control
// register (§4.8.3.7) and reset through the reset register (§4.8.3.6).
//
// Written from one base address, in this order, each table 16-byte aligned:
// RSDP (revision 2, §5.2.5.3), XSDT (§5.2.8), FADT (§5.2.9, revision 6),
// MADT (§5.2.12), MCFG (PCI Firmware 3.2 §4.1.2, only with an ECAM window),
// DSDT (§5.2.11.1, revision 2: 64-bit integers). There is no FACS (allowed
// for hardware-reduced platforms, §5.2.10) and no RSDT (the RSDP's 32-bit
// RSDT address is 0; ACPI 2.0+ guests use the XSDT).
//
// The DSDT holds \_S5 (when the sleep registers exist), one ACPI0007
// processor device per vCPU (\_SB.Cxxx, _UID = the MADT's processor UID),
// the PCI host bridge \_SB.PCI0 and the motherboard resource \_SB.MRES that
// reserves its ECAM window (when ECAM is configured), and \_SB.COM1 (when
// present), the Generic Event Device \_SB.GED0 with the power button
// \_SB.PWRB and the PCI hotplug slots and methods when configured.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"
#include "vmm/builder/multiboot_loader.hpp"  // GuestMemory

namespace vmm::builder {

// APIC IDs 0..n-1; IDs 255 and up are listed as x2APICs (§5.2.12.12). Guests
// bring up IDs above 255 only in x2APIC mode, which Linux enables only with
// interrupt remapping or a hypervisor's extended destination IDs.
inline constexpr uint32_t acpi_max_vcpus = 1024;
// The builder composes the tables in a static buffer of this size (they are
// about 50 KiB for acpi_max_vcpus).
inline constexpr size_t acpi_max_bytes = 64 * 1024;

struct AcpiPlatform {
    uint32_t vcpus = 1;

    uint64_t lapic_base = 0xfee00000;
    uint8_t ioapic_id = 0;
    uint64_t ioapic_base = 0xfec00000;
    uint32_t ioapic_gsi_base = 0;
    // MADT Interrupt Source Override ISA IRQ 0 -> GSI 2 (the PC wiring of
    // the PIT to I/O APIC pin 2), edge/high as the ISA bus conforms to.
    bool irq0_to_gsi2 = true;

    // Hardware-reduced sleep registers (§4.8.3.7), 8-bit system-I/O ports.
    // For S5 Linux writes (SLP_TYP << 2) | SLP_EN (bit 5), i.e. 0x34, to the
    // control port after writing WAK_STS (0x80) to the status port. Both 0:
    // no sleep registers and no \_S5 (the guest cannot power off).
    uint16_t sleep_control_port = 0x600;
    uint16_t sleep_status_port = 0x601;
    // Reset register (§4.8.3.6), an 8-bit system-I/O port; 0: none.
    uint16_t reset_port = 0xcf9;
    uint8_t reset_value = 0x06;

    // PCIe ECAM window (MCFG) and host bridge; ecam_base 0: no PCI at all.
    // ecam_base is bus 0's address as in the MCFG (1 MiB per bus), aligned
    // to 1 MiB; the window decoded is buses bus_start..bus_end.
    uint64_t ecam_base = 0;
    uint16_t pci_segment = 0;
    uint8_t bus_start = 0;
    uint8_t bus_end = 0;
    // The host bridge's memory windows for BARs, [base, base + size); size 0:
    // none. The 32-bit window must end at or below 4 GiB.
    uint64_t mmio32_base = 0;
    uint64_t mmio32_size = 0;
    uint64_t mmio64_base = 0;
    uint64_t mmio64_size = 0;

    bool com1 = true;  // \_SB.COM1: 0x3F8-0x3FF, ISA IRQ 4
    // A power button (PNP0C0C) behind a Generic Event Device (ACPI0013,
    // §5.6.9): an edge on this GSI runs GED's _EVT, which notifies the button
    // (0x80: pressed), as hardware-reduced ACPI has no fixed power button.
    // 0: none.
    uint32_t power_button_gsi = 0;
    // ACPI PCI hotplug, as Linux's acpiphp drives it: for each slot in
    // hotplug_slots (bit n: slot n of bus 0; slot 0 is the host bridge) a
    // device \_SB.PCI0.Snn (nn the slot in hex) with _ADR, _SUN (the slot
    // number) and _EJ0; three 32-bit registers at the system-I/O port
    // hotplug_port: +0 PCIU (slots to check for a new device), +4 PCID
    // (slots whose device should be ejected), +8 PCEJ (written by _EJ0: the
    // slot that was ejected); and an interrupt hotplug_gsi of the Generic
    // Event Device whose _EVT runs \_SB.PCI0.PCNT, which reads PCIU and PCID
    // and notifies each slot named there with 1 (device check) or 3 (eject
    // request). hotplug_slots 0: none (needs PCI).
    uint32_t hotplug_slots = 0;
    uint16_t hotplug_port = 0;
    uint32_t hotplug_gsi = 0;
    // PCI INTx routing (§6.2.13 _PRT of \_SB.PCI0): pin p (0 = INTA) of
    // slot s of bus 0 is GSI intx_gsi_base + (s + p) % intx_gsi_count, level,
    // active low. intx_gsi_count 0: no _PRT.
    uint32_t intx_gsi_base = 0;
    uint32_t intx_gsi_count = 0;

    // Header OEM fields (§5.2.6), space-padded when shorter.
    const char* oem_id = "HV";             // 6 characters
    const char* oem_table_id = "HVGUEST";  // 8 characters
};

struct AcpiLayout {
    uint64_t rsdp_gpa;  // = base_gpa
    uint64_t xsdt_gpa;
    uint64_t fadt_gpa;
    uint64_t madt_gpa;
    uint64_t mcfg_gpa;  // 0 without ECAM
    uint64_t dsdt_gpa;
    uint64_t bytes;  // from base_gpa to the end of the last table
};

// Writes the tables into guest memory at [base_gpa, base_gpa + bytes).
// Everything is checked and composed before the first write: on any error
// guest memory is untouched. Errors (with *why set to a sentence):
// base_gpa not 16-byte aligned, 0 vCPUs or a bad platform field (invalid);
// more than acpi_max_vcpus, an area outside the domain's RAM or above 4 GiB,
// tables larger than limit_bytes (out_of_range); a failing GuestMemory (its
// error). Not reentrant: the composing buffer is static (Dom0's domain
// builder runs on one thread).
lib::Result<AcpiLayout> build_acpi(const AcpiPlatform& p, GuestMemory& mem, uint64_t base_gpa, uint64_t limit_bytes,
                                   const char** why);

}  // namespace vmm::builder
