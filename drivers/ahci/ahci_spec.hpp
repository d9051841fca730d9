// The parts of the Serial ATA AHCI 1.3.1 specification and of ATA/ATAPI-8
// (ACS) the driver uses: HBA and port registers (AHCI section 3), the command
// list, command table and received-FIS layouts (section 4), the
// host-to-device register FIS (SATA 3.x, 10.5.5), and the IDENTIFY DEVICE
// words that say what a disk is. Layouts the hardware fixes are structs
// checked by static_assert.
#pragma once

#include <cstddef>
#include <cstdint>

namespace drivers::ahci {

inline constexpr uint32_t class_code = 0x010601;  // mass storage, SATA, AHCI 1.0
inline constexpr unsigned abar_index = 5;         // the HBA's registers are BAR5 (ABAR)
inline constexpr unsigned max_ports = 32;
inline constexpr unsigned max_command_slots = 32;

// Generic host control (3.1), offsets in ABAR.
namespace reg {
inline constexpr uint64_t cap = 0x00, ghc = 0x04, is = 0x08, pi = 0x0c, vs = 0x10, cap2 = 0x24, bohc = 0x28;
inline constexpr uint64_t ports = 0x100, port_stride = 0x80;
constexpr uint64_t port(unsigned p) { return ports + p * port_stride; }
}  // namespace reg

namespace cap {
constexpr unsigned ports(uint32_t c) { return (c & 0x1f) + 1; }         // NP, 0-based
constexpr unsigned slots(uint32_t c) { return ((c >> 8) & 0x1f) + 1; }  // NCS, 0-based
inline constexpr uint32_t staggered_spin_up = 1u << 27;                  // SSS: PxCMD.SUD spins a port up
inline constexpr uint32_t ncq = 1u << 30;                                // SNCQ
inline constexpr uint32_t addr64 = 1u << 31;                             // S64A: 64-bit DMA
}  // namespace cap

namespace ghc {
inline constexpr uint32_t reset = 1u << 0;  // HR: self-clearing when the reset is done
inline constexpr uint32_t interrupts = 1u << 1;
inline constexpr uint32_t ahci_enable = 1u << 31;
}  // namespace ghc

inline constexpr uint32_t cap2_bios_handoff = 1u << 0;  // BOH
namespace bohc {
inline constexpr uint32_t bios_owned = 1u << 0, os_owned = 1u << 1;
}

// Port registers (3.3), offsets from reg::port(p).
namespace preg {
inline constexpr uint64_t clb = 0x00, clbu = 0x04, fb = 0x08, fbu = 0x0c, is = 0x10, ie = 0x14, cmd = 0x18,
                          tfd = 0x20, sig = 0x24, ssts = 0x28, sctl = 0x2c, serr = 0x30, sact = 0x34, ci = 0x38;
}

// PxIS and PxIE bits (3.3.5, 3.3.6).
namespace pis {
inline constexpr uint32_t d2h_register = 1u << 0;  // DHRS
inline constexpr uint32_t pio_setup = 1u << 1;     // PSS
inline constexpr uint32_t dma_setup = 1u << 2;     // DSS
inline constexpr uint32_t set_device_bits = 1u << 3;
inline constexpr uint32_t unknown_fis = 1u << 4;
inline constexpr uint32_t descriptor_done = 1u << 5;
inline constexpr uint32_t port_change = 1u << 6;
inline constexpr uint32_t phy_ready_change = 1u << 22;
inline constexpr uint32_t overflow = 1u << 24;
inline constexpr uint32_t interface_non_fatal = 1u << 26;
inline constexpr uint32_t interface_fatal = 1u << 27;
inline constexpr uint32_t host_bus_data = 1u << 28;
inline constexpr uint32_t host_bus_fatal = 1u << 29;
inline constexpr uint32_t task_file_error = 1u << 30;
inline constexpr uint32_t cold_presence = 1u << 31;
// What stops the port's command processing: the host must restart it.
inline constexpr uint32_t fatal = task_file_error | host_bus_fatal | host_bus_data | interface_fatal | overflow;
}  // namespace pis

namespace pcmd {
inline constexpr uint32_t start = 1u << 0;        // ST
inline constexpr uint32_t spin_up = 1u << 1;      // SUD
inline constexpr uint32_t power_on = 1u << 2;     // POD
inline constexpr uint32_t fis_receive = 1u << 4;  // FRE
inline constexpr uint32_t fis_running = 1u << 14; // FR
inline constexpr uint32_t list_running = 1u << 15; // CR
}  // namespace pcmd

namespace tfd {
inline constexpr uint32_t err = 1u << 0, drq = 1u << 3, bsy = 1u << 7;
}

inline constexpr uint32_t signature_ata = 0x00000101;
inline constexpr uint32_t signature_atapi = 0xeb140101;

// PxSSTS: DET 3:0 (3: device present, phy up), IPM 11:8 (1: active).
namespace ssts {
constexpr uint32_t det(uint32_t s) { return s & 0xf; }
constexpr uint32_t ipm(uint32_t s) { return (s >> 8) & 0xf; }
inline constexpr uint32_t det_present = 3, ipm_active = 1;
}  // namespace ssts

// A command header, one per slot in the command list (4.2.2, figure 25).
struct CommandHeader {
    uint16_t flags;   // CFL 4:0 (FIS dwords), A 5, W 6 (host to device), P 7, R 8, B 9, C 10, PMP 15:12
    uint16_t prdtl;   // PRDT entries
    uint32_t prdbc;   // bytes transferred, written by the HBA
    uint32_t ctba;    // command table, 128-byte aligned
    uint32_t ctbau;
    uint32_t reserved[4];
};
static_assert(sizeof(CommandHeader) == 32);
static_assert(offsetof(CommandHeader, prdbc) == 4 && offsetof(CommandHeader, ctba) == 8);
inline constexpr uint16_t header_write = 1u << 6;
inline constexpr size_t command_list_bytes = max_command_slots * sizeof(CommandHeader);  // 1 KiB aligned

// A physical region descriptor (4.2.3.3): DBC is the byte count less one
// (an even count: bit 0 of DBC set), at most 4 MiB.
struct Prd {
    uint32_t dba;  // word aligned
    uint32_t dbau;
    uint32_t reserved;
    uint32_t dbc_i;  // DBC 21:0, I (interrupt on completion) 31
};
static_assert(sizeof(Prd) == 16);
inline constexpr uint32_t prd_max_bytes = 4u << 20;

// A command table (4.2.3): the command FIS, the ATAPI command, the PRDT.
inline constexpr size_t table_cfis = 0x00, table_prdt = 0x80;
inline constexpr size_t table_align = 128;

// The received-FIS area (4.2.1): 256 bytes, 256-byte aligned.
inline constexpr size_t received_fis_bytes = 256;
inline constexpr size_t rfis_d2h = 0x40;

// The host-to-device register FIS (type 27h), 5 dwords.
struct RegisterH2D {
    uint8_t type;      // 0x27
    uint8_t flags;     // PM port 3:0, C (a command) 7
    uint8_t command;
    uint8_t feature_low;
    uint8_t lba0, lba1, lba2;
    uint8_t device;    // bit 6: LBA; for FPDMA commands bit 7 is FUA
    uint8_t lba3, lba4, lba5;
    uint8_t feature_high;
    uint8_t count_low, count_high;  // FPDMA commands: the tag in count 7:3
    uint8_t icc;
    uint8_t control;
    uint8_t reserved[4];
};
static_assert(sizeof(RegisterH2D) == 20);
static_assert(offsetof(RegisterH2D, lba3) == 8 && offsetof(RegisterH2D, count_low) == 12);
inline constexpr uint8_t fis_register_h2d = 0x27;
inline constexpr uint8_t fis_command = 0x80;
inline constexpr uint8_t device_lba = 0x40;

namespace ata {
inline constexpr uint8_t identify = 0xec;
inline constexpr uint8_t read_dma_ext = 0x25, write_dma_ext = 0x35, flush_cache = 0xe7, flush_cache_ext = 0xea;
inline constexpr uint8_t read_fpdma_queued = 0x60, write_fpdma_queued = 0x61;
inline constexpr uint8_t read_log_ext = 0x2f;
// The NCQ Command Error log (SATA 3.x 13.7.4): byte 0 bit 7 NQ (the error
// was not a queued command's), bits 4:0 the failed tag.
inline constexpr uint8_t log_ncq_error = 0x10;
inline constexpr uint8_t log_ncq_not_queued = 0x80, log_ncq_tag_mask = 0x1f;
inline constexpr uint32_t max_dma_ext_sectors = 65536;  // a count of 0 means 65536
}  // namespace ata

// IDENTIFY DEVICE data (ACS-2 7.12.7), by word.
namespace id {
inline constexpr unsigned general = 0;       // bit 15: 1 for a non-ATA (ATAPI) device
inline constexpr unsigned serial = 10;       // 20 ASCII bytes, two per word, high byte first
inline constexpr unsigned serial_words = 10;
inline constexpr unsigned model = 27;        // 40 bytes, as serial
inline constexpr unsigned model_words = 20;
inline constexpr unsigned capabilities = 49;  // bit 9: LBA, bit 8: DMA
inline constexpr unsigned queue_depth = 75;   // 4:0: depth less one
inline constexpr unsigned sata_caps = 76;     // bit 8: NCQ
inline constexpr unsigned command_set_2 = 83; // bit 10: 48-bit addresses, bit 13: FLUSH CACHE EXT
inline constexpr unsigned enabled_1 = 85;     // bit 5: volatile write cache enabled
inline constexpr unsigned enabled_2 = 86;     // bit 10: 48-bit addresses enabled
inline constexpr unsigned lba48_sectors = 100;  // words 100..103
inline constexpr unsigned sector_size_info = 106;  // 15:14 = 01: valid; bit 12: logical sector > 256 words
inline constexpr unsigned logical_sector_words = 117;  // words 117..118
}  // namespace id

}  // namespace drivers::ahci
