// ACPI tables the hypervisor needs at boot, parsed into plain values: CPUs
// and interrupt controllers (MADT), PCIe ECAM windows (MCFG), NUMA affinity
// (SRAT), IOMMUs (DMAR for VT-d, IVRS for AMD-Vi), fixed hardware (FADT) and
// the HPET. Every table is read through a PhysReader and validated
// (signature, length, checksum) before its contents are used.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/phys_reader.hpp"
#include "lib/result.hpp"

namespace hv::acpi {

struct Cpu {
    uint32_t apic_id;
    uint32_t uid;  // ACPI processor UID
    bool enabled;
    bool online_capable;  // disabled now but may be brought up later
};

struct IoApic {
    uint32_t id;
    uint64_t address;
    uint32_t gsi_base;
};

struct IrqOverride {
    uint8_t bus;
    uint8_t source;
    uint32_t gsi;
    uint16_t flags;  // MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2
};

struct LapicNmi {
    uint32_t uid;  // 0xffffffff = all CPUs
    uint8_t lint;
    uint16_t flags;
};
inline constexpr uint32_t all_cpus_uid = 0xffffffffu;

struct Mcfg {
    uint64_t base;
    uint16_t segment;
    uint8_t bus_start;
    uint8_t bus_end;
};

struct SratCpu {
    uint32_t apic_id;
    uint32_t node;
};

struct SratMem {
    uint64_t base;
    uint64_t size;
    uint32_t node;
    bool hotplug;
    bool nonvolatile;
};

struct Drhd {
    uint64_t base;
    uint16_t segment;
    bool include_all;  // INCLUDE_PCI_ALL: covers every device not under another DRHD
    uint16_t scope_count;
};

struct Ivhd {
    uint8_t type;  // 0x10, 0x11 or 0x40
    uint16_t device_id;
    uint64_t base;
    uint16_t segment;
};

// ACPI Generic Address Structure (ACPI 6.5 §5.2.3.2), unpacked.
struct Gas {
    uint8_t space;  // 0 system memory, 1 system I/O, ...
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
};

struct Fadt {
    bool present;
    uint32_t pm_timer_port;  // 0 if none
    bool pm_timer_32bit;     // TMR_VAL_EXT
    uint16_t sci_irq;
    uint16_t iapc_boot_arch;
    uint32_t flags;
    bool hw_reduced;
    Gas reset_reg;
    uint8_t reset_value;
    uint8_t century;  // CMOS index of the century byte, 0 if none
    uint64_t dsdt;
};

struct TableRef {
    char signature[5];
    uint64_t phys;
    uint32_t length;
    bool accepted;  // valid and used (false: rejected or an ignored duplicate)
};

inline constexpr size_t max_cpus = 256;
inline constexpr size_t max_ioapics = 16;
inline constexpr size_t max_overrides = 32;
inline constexpr size_t max_nmis = 32;
inline constexpr size_t max_mcfg = 8;
inline constexpr size_t max_srat_cpus = 256;
inline constexpr size_t max_srat_mem = 64;
inline constexpr size_t max_drhd = 16;
inline constexpr size_t max_ivhd = 16;
inline constexpr size_t max_tables = 64;

struct Info {
    uint8_t revision;  // RSDP revision: 0 = ACPI 1.0, 2 = 2.0+
    char oem_id[7];
    uint64_t rsdt_phys;  // the root table used (XSDT or RSDT)
    bool xsdt;

    uint64_t lapic_address;
    bool pcat_compat;  // dual 8259s present
    bool have_madt;
    Cpu cpus[max_cpus];
    size_t cpu_count;
    IoApic ioapics[max_ioapics];
    size_t ioapic_count;
    IrqOverride overrides[max_overrides];
    size_t override_count;
    LapicNmi nmis[max_nmis];
    size_t nmi_count;

    Mcfg mcfg[max_mcfg];
    size_t mcfg_count;

    SratCpu srat_cpus[max_srat_cpus];
    size_t srat_cpu_count;
    SratMem srat_mem[max_srat_mem];
    size_t srat_mem_count;

    bool have_dmar;
    uint8_t dmar_haw;  // host address width in bits (the table's field + 1)
    uint8_t dmar_flags;
    Drhd drhd[max_drhd];
    size_t drhd_count;

    bool have_ivrs;
    Ivhd ivhd[max_ivhd];
    size_t ivhd_count;

    Fadt fadt;

    uint64_t hpet_base;  // 0 if no HPET table

    TableRef tables[max_tables];  // every table seen, accepted or rejected
    size_t table_count;
    size_t tables_unrecorded;  // addition: tables seen beyond max_tables (still parsed)
};

// Scans the EBDA (segment at 0x40E) first KiB and 0xE0000-0xFFFFF on 16-byte
// boundaries for "RSD PTR " with a valid checksum (and extended checksum for
// revision >= 2). Error::not_found if there is none.
lib::Result<uint64_t> find_rsdp_bios(const lib::PhysReader& mem);

// rsdp: the RSDP bytes (a copy from Multiboot2, or mapped from rsdp_phys).
// Validates the RSDP, then the XSDT (falls back to the RSDT if the XSDT or
// the RSDP's extended checksum is bad), then every table: signature, length
// within bounds and readable, checksum. A bad table is rejected with
// LOG_WARN("acpi: <SIG> at <addr> rejected: <why>") and its contents are not
// used; a bad entry inside a table (zero/overrunning length) stops parsing
// of that table with a warning. Duplicate APIC IDs in the MADT are dropped
// with a warning. `out` is cleared first. Returns an error only if no usable
// root table exists.
lib::Status parse_acpi(const lib::PhysReader& mem, const void* rsdp, size_t rsdp_len, Info& out);

// Convenience: parse_acpi() with the RSDP read from physical memory (e.g.
// the address find_rsdp_bios() returned).
lib::Status parse_acpi_at(const lib::PhysReader& mem, uint64_t rsdp_phys, Info& out);

}  // namespace hv::acpi
