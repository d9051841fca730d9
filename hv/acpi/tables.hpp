// Firmware layouts of the ACPI structures we read, exactly as they sit in
// memory (little-endian, unaligned fields, hence packed). Section numbers:
// ACPI 6.5 unless noted; the layouts are unchanged since the revision that
// introduced each field. Copy bytes into these with lib::load<T>() after a
// length check; never point them at firmware memory directly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv::acpi::raw {

// §5.2.5.3 Root System Description Pointer.
struct [[gnu::packed]] Rsdp {
    char signature[8];  // "RSD PTR "
    uint8_t checksum;   // first 20 bytes sum to 0
    char oem_id[6];
    uint8_t revision;  // 0: ACPI 1.0 (20 bytes), 2: ACPI 2.0+ (36 bytes)
    uint32_t rsdt_address;
    uint32_t length;  // whole structure, revision >= 2
    uint64_t xsdt_address;
    uint8_t extended_checksum;  // all `length` bytes sum to 0
    uint8_t reserved[3];
};
static_assert(offsetof(Rsdp, checksum) == 8);
static_assert(offsetof(Rsdp, revision) == 15);
static_assert(offsetof(Rsdp, rsdt_address) == 16);
static_assert(offsetof(Rsdp, length) == 20);
static_assert(offsetof(Rsdp, xsdt_address) == 24);
static_assert(offsetof(Rsdp, extended_checksum) == 32);
static_assert(sizeof(Rsdp) == 36);
inline constexpr size_t rsdp_v1_size = 20;

// §5.2.6 System Description Table Header.
struct [[gnu::packed]] SdtHeader {
    char signature[4];
    uint32_t length;  // whole table including this header
    uint8_t revision;
    uint8_t checksum;  // whole table sums to 0
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
};
static_assert(offsetof(SdtHeader, length) == 4);
static_assert(offsetof(SdtHeader, checksum) == 9);
static_assert(offsetof(SdtHeader, oem_table_id) == 16);
static_assert(sizeof(SdtHeader) == 36);
// §5.2.7 RSDT: header + 32-bit table addresses; §5.2.8 XSDT: + 64-bit ones.

// §5.2.3.2 Generic Address Structure.
struct [[gnu::packed]] Gas {
    uint8_t space_id;  // 0 system memory, 1 system I/O
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
};
static_assert(offsetof(Gas, address) == 4);
static_assert(sizeof(Gas) == 12);
inline constexpr uint8_t gas_system_memory = 0;
inline constexpr uint8_t gas_system_io = 1;

// §5.2.12 Multiple APIC Description Table: header, then interrupt
// controller structures, each starting with type and length bytes.
struct [[gnu::packed]] Madt {
    SdtHeader h;
    uint32_t local_apic_address;
    uint32_t flags;  // bit 0 PCAT_COMPAT
};
static_assert(sizeof(Madt) == 44);
inline constexpr uint32_t madt_pcat_compat = 1u << 0;

struct [[gnu::packed]] SubHeader {  // MADT, SRAT and IVRS-style 8-bit type/length
    uint8_t type;
    uint8_t length;
};
static_assert(sizeof(SubHeader) == 2);

enum MadtType : uint8_t {
    madt_local_apic = 0,
    madt_io_apic = 1,
    madt_interrupt_override = 2,
    madt_nmi_source = 3,
    madt_local_apic_nmi = 4,
    madt_local_apic_override = 5,
    madt_io_sapic = 6,
    madt_local_sapic = 7,
    madt_platform_interrupt_sources = 8,
    madt_local_x2apic = 9,
    madt_local_x2apic_nmi = 0xa,
    madt_last_defined = 0x17,  // GIC, RISC-V, LoongArch and wakeup entries: not for x86 hosts
};

// §5.2.12.2 Processor Local APIC.
struct [[gnu::packed]] MadtLocalApic {
    SubHeader h;
    uint8_t processor_uid;
    uint8_t apic_id;
    uint32_t flags;  // bit 0 enabled, bit 1 online capable
};
static_assert(sizeof(MadtLocalApic) == 8);
inline constexpr uint32_t lapic_enabled = 1u << 0;
inline constexpr uint32_t lapic_online_capable = 1u << 1;

// §5.2.12.3 I/O APIC.
struct [[gnu::packed]] MadtIoApic {
    SubHeader h;
    uint8_t io_apic_id;
    uint8_t reserved;
    uint32_t address;
    uint32_t gsi_base;
};
static_assert(offsetof(MadtIoApic, address) == 4);
static_assert(sizeof(MadtIoApic) == 12);

// §5.2.12.5 Interrupt Source Override.
struct [[gnu::packed]] MadtOverride {
    SubHeader h;
    uint8_t bus;  // 0 = ISA
    uint8_t source;
    uint32_t gsi;
    uint16_t flags;
};
static_assert(offsetof(MadtOverride, gsi) == 4);
static_assert(sizeof(MadtOverride) == 10);

// §5.2.12.7 Local APIC NMI.
struct [[gnu::packed]] MadtLocalApicNmi {
    SubHeader h;
    uint8_t processor_uid;  // 0xff = all processors
    uint16_t flags;
    uint8_t lint;
};
static_assert(offsetof(MadtLocalApicNmi, lint) == 5);
static_assert(sizeof(MadtLocalApicNmi) == 6);

// §5.2.12.8 Local APIC Address Override.
struct [[gnu::packed]] MadtLocalApicOverride {
    SubHeader h;
    uint16_t reserved;
    uint64_t address;
};
static_assert(offsetof(MadtLocalApicOverride, address) == 4);
static_assert(sizeof(MadtLocalApicOverride) == 12);

// §5.2.12.12 Processor Local x2APIC.
struct [[gnu::packed]] MadtLocalX2Apic {
    SubHeader h;
    uint16_t reserved;
    uint32_t x2apic_id;
    uint32_t flags;  // as for the local APIC
    uint32_t processor_uid;
};
static_assert(offsetof(MadtLocalX2Apic, x2apic_id) == 4);
static_assert(offsetof(MadtLocalX2Apic, processor_uid) == 12);
static_assert(sizeof(MadtLocalX2Apic) == 16);

// §5.2.12.13 Local x2APIC NMI.
struct [[gnu::packed]] MadtLocalX2ApicNmi {
    SubHeader h;
    uint16_t flags;
    uint32_t processor_uid;  // 0xffffffff = all processors
    uint8_t lint;
    uint8_t reserved[3];
};
static_assert(offsetof(MadtLocalX2ApicNmi, processor_uid) == 4);
static_assert(offsetof(MadtLocalX2ApicNmi, lint) == 8);
static_assert(sizeof(MadtLocalX2ApicNmi) == 12);

// PCI Firmware Specification 3.2 §4.1.2, MCFG: header, 8 reserved bytes,
// then one allocation per ECAM window.
struct [[gnu::packed]] Mcfg {
    SdtHeader h;
    uint64_t reserved;
};
static_assert(sizeof(Mcfg) == 44);

struct [[gnu::packed]] McfgAllocation {
    uint64_t base_address;
    uint16_t segment;
    uint8_t start_bus;
    uint8_t end_bus;
    uint32_t reserved;
};
static_assert(offsetof(McfgAllocation, segment) == 8);
static_assert(sizeof(McfgAllocation) == 16);

// §5.2.16 System Resource Affinity Table.
struct [[gnu::packed]] Srat {
    SdtHeader h;
    uint32_t reserved1;  // 1 for backward compatibility
    uint64_t reserved2;
};
static_assert(sizeof(Srat) == 48);

enum SratType : uint8_t { srat_cpu = 0, srat_memory = 1, srat_x2apic = 2 };
inline constexpr uint32_t srat_enabled = 1u << 0;

// §5.2.16.1 Processor Local APIC/SAPIC Affinity: the proximity domain is
// split into bits 7:0 at offset 2 and bits 31:8 at offset 9.
struct [[gnu::packed]] SratCpu {
    SubHeader h;
    uint8_t proximity_lo;
    uint8_t apic_id;
    uint32_t flags;
    uint8_t sapic_eid;
    uint8_t proximity_hi[3];
    uint32_t clock_domain;
};
static_assert(offsetof(SratCpu, flags) == 4);
static_assert(offsetof(SratCpu, proximity_hi) == 9);
static_assert(sizeof(SratCpu) == 16);

// §5.2.16.2 Memory Affinity.
struct [[gnu::packed]] SratMemory {
    SubHeader h;
    uint32_t proximity_domain;
    uint16_t reserved1;
    uint64_t base;    // base address low/high dwords
    uint64_t length;  // length low/high dwords
    uint32_t reserved2;
    uint32_t flags;  // bit 0 enabled, bit 1 hot pluggable, bit 2 non-volatile
    uint64_t reserved3;
};
static_assert(offsetof(SratMemory, base) == 8);
static_assert(offsetof(SratMemory, length) == 16);
static_assert(offsetof(SratMemory, flags) == 28);
static_assert(sizeof(SratMemory) == 40);
inline constexpr uint32_t srat_mem_hotplug = 1u << 1;
inline constexpr uint32_t srat_mem_nonvolatile = 1u << 2;

// §5.2.16.3 Processor Local x2APIC Affinity.
struct [[gnu::packed]] SratX2Apic {
    SubHeader h;
    uint16_t reserved1;
    uint32_t proximity_domain;
    uint32_t x2apic_id;
    uint32_t flags;
    uint32_t clock_domain;
    uint32_t reserved2;
};
static_assert(offsetof(SratX2Apic, proximity_domain) == 4);
static_assert(offsetof(SratX2Apic, x2apic_id) == 8);
static_assert(sizeof(SratX2Apic) == 24);

// §5.2.9 Fixed ACPI Description Table. Older revisions are shorter: every
// field past the length the table declares reads as absent.
struct [[gnu::packed]] Fadt {
    SdtHeader h;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved1;  // INT_MODEL in ACPI 1.0
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_req;
    uint8_t pstate_cnt;
    uint32_t pm1a_evt_blk;
    uint32_t pm1b_evt_blk;
    uint32_t pm1a_cnt_blk;
    uint32_t pm1b_cnt_blk;
    uint32_t pm2_cnt_blk;
    uint32_t pm_tmr_blk;
    uint32_t gpe0_blk;
    uint32_t gpe1_blk;
    uint8_t pm1_evt_len;
    uint8_t pm1_cnt_len;
    uint8_t pm2_cnt_len;
    uint8_t pm_tmr_len;
    uint8_t gpe0_blk_len;
    uint8_t gpe1_blk_len;
    uint8_t gpe1_base;
    uint8_t cst_cnt;
    uint16_t p_lvl2_lat;
    uint16_t p_lvl3_lat;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alrm;
    uint8_t mon_alrm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved2;
    uint32_t flags;
    Gas reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    Gas x_pm1a_evt_blk;
    Gas x_pm1b_evt_blk;
    Gas x_pm1a_cnt_blk;
    Gas x_pm1b_cnt_blk;
    Gas x_pm2_cnt_blk;
    Gas x_pm_tmr_blk;
    Gas x_gpe0_blk;
    Gas x_gpe1_blk;
    Gas sleep_control_reg;
    Gas sleep_status_reg;
    uint64_t hypervisor_vendor_id;
};
static_assert(offsetof(Fadt, dsdt) == 40);
static_assert(offsetof(Fadt, sci_int) == 46);
static_assert(offsetof(Fadt, pm_tmr_blk) == 76);
static_assert(offsetof(Fadt, pm_tmr_len) == 91);
static_assert(offsetof(Fadt, century) == 108);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, flags) == 112);  // end of the ACPI 1.0 FADT: 116 bytes
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, reset_value) == 128);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, x_pm_tmr_blk) == 208);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);  // end of the ACPI 2.0-4.0 FADT
static_assert(offsetof(Fadt, hypervisor_vendor_id) == 268);
static_assert(sizeof(Fadt) == 276);
inline constexpr uint32_t fadt_tmr_val_ext = 1u << 8;       // §5.2.9.1 FADT flags: 32-bit PM timer
inline constexpr uint32_t fadt_hw_reduced_acpi = 1u << 20;  // no fixed hardware (PM timer, SCI...)

// IA-PC HPET Specification 1.0a §3.2.4, "HPET Description Table".
struct [[gnu::packed]] Hpet {
    SdtHeader h;
    uint32_t event_timer_block_id;
    Gas base_address;
    uint8_t hpet_number;
    uint16_t min_clock_tick;
    uint8_t page_protection;
};
static_assert(offsetof(Hpet, base_address) == 40);
static_assert(sizeof(Hpet) == 56);

// Intel VT-d 4.1 §8.1 DMA Remapping Reporting table: header, host address
// width, flags, then remapping structures with 16-bit type and length.
struct [[gnu::packed]] Dmar {
    SdtHeader h;
    uint8_t host_address_width;  // HAW - 1
    uint8_t flags;               // bit 0 INTR_REMAP, 1 X2APIC_OPT_OUT, 2 DMA_CTRL_PLATFORM_OPT_IN
    uint8_t reserved[10];
};
static_assert(offsetof(Dmar, host_address_width) == 36);
static_assert(sizeof(Dmar) == 48);

struct [[gnu::packed]] DmarHeader {
    uint16_t type;  // 0 DRHD, 1 RMRR, 2 ATSR, 3 RHSA, 4 ANDD, 5 SATC, 6 SIDP
    uint16_t length;
};
static_assert(sizeof(DmarHeader) == 4);
inline constexpr uint16_t dmar_drhd = 0;

// VT-d §8.3 DMA Remapping Hardware Unit Definition; device scopes follow.
struct [[gnu::packed]] Drhd {
    DmarHeader h;
    uint8_t flags;  // bit 0 INCLUDE_PCI_ALL
    uint8_t size;   // register set size (2^size pages), 0 in older tables
    uint16_t segment;
    uint64_t register_base;
};
static_assert(offsetof(Drhd, segment) == 6);
static_assert(offsetof(Drhd, register_base) == 8);
static_assert(sizeof(Drhd) == 16);
inline constexpr uint8_t drhd_include_pci_all = 1u << 0;

// VT-d §8.3.1 Device Scope: 6 bytes, then 2-byte (device, function) path
// entries; `length` covers both.
struct [[gnu::packed]] DeviceScope {
    uint8_t type;
    uint8_t length;
    uint8_t flags;
    uint8_t reserved;
    uint8_t enumeration_id;
    uint8_t start_bus;
};
static_assert(sizeof(DeviceScope) == 6);

// AMD I/O Virtualization Technology (IOMMU) Specification 48882 rev 3.x
// §5.2 I/O Virtualization Reporting Structure (IVRS): header, IVinfo, reserved,
// then IVHD/IVMD blocks with 8-bit type and 16-bit length.
struct [[gnu::packed]] Ivrs {
    SdtHeader h;
    uint32_t iv_info;
    uint64_t reserved;
};
static_assert(sizeof(Ivrs) == 48);

struct [[gnu::packed]] IvrsBlockHeader {
    uint8_t type;
    uint8_t flags;
    uint16_t length;
};
static_assert(sizeof(IvrsBlockHeader) == 4);

// §5.2.2 I/O Virtualization Hardware Definition (IVHD) blocks: type 10h has
// this 24-byte header; types 11h and 40h append the EFR register image and 8
// more bytes (40 bytes). Device entries follow.
struct [[gnu::packed]] Ivhd {
    IvrsBlockHeader h;
    uint16_t device_id;  // the IOMMU's own PCI BDF
    uint16_t capability_offset;
    uint64_t base_address;
    uint16_t segment;
    uint16_t iommu_info;
    uint32_t feature_info;
};
static_assert(offsetof(Ivhd, base_address) == 8);
static_assert(offsetof(Ivhd, segment) == 16);
static_assert(sizeof(Ivhd) == 24);
inline constexpr size_t ivhd_11_40_size = 40;
inline constexpr uint8_t ivhd_type_10 = 0x10, ivhd_type_11 = 0x11, ivhd_type_40 = 0x40;

}  // namespace hv::acpi::raw
