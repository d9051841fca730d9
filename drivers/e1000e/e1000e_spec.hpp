// The parts of Intel's 82574 GbE controller datasheet (the e1000e family;
// QEMU's `-device e1000e` is an 82574L) the driver uses: registers
// (section 10), legacy receive and transmit descriptors (7.1.4, 7.2.10),
// interrupt causes, the EEPROM read register. Layouts the hardware fixes
// are structs checked by static_assert.
#pragma once

#include <cstddef>
#include <cstdint>

namespace drivers::e1000e {

inline constexpr uint16_t intel_vendor = 0x8086;
// Parts that share the 82574's register interface for what the driver does
// (legacy descriptors, RAL/RAH from the EEPROM, EERD).
inline constexpr uint16_t device_82574l = 0x10d3, device_82574la = 0x10f6, device_82583v = 0x150c;

namespace reg {
inline constexpr uint64_t ctrl = 0x0000, status = 0x0008, eerd = 0x0014, ctrl_ext = 0x0018, icr = 0x00c0,
                          itr = 0x00c4, ims = 0x00d0, imc = 0x00d8, rctl = 0x0100, tctl = 0x0400, tipg = 0x0410,
                          rdbal = 0x2800, rdbah = 0x2804, rdlen = 0x2808, rdh = 0x2810, rdt = 0x2818,
                          rdtr = 0x2820, tdbal = 0x3800, tdbah = 0x3804, tdlen = 0x3808, tdh = 0x3810,
                          tdt = 0x3818, rxcsum = 0x5000, mta = 0x5200, ral0 = 0x5400, rah0 = 0x5404;
inline constexpr unsigned mta_entries = 128;
}  // namespace reg

namespace ctrl {
inline constexpr uint32_t set_link_up = 1u << 6;  // SLU
inline constexpr uint32_t reset = 1u << 26;       // RST: self-clearing
inline constexpr uint32_t phy_reset = 1u << 31;
}  // namespace ctrl

inline constexpr uint32_t status_link_up = 1u << 1;  // STATUS.LU

// EERD: START 0, DONE 1, ADDR 15:2, DATA 31:16.
namespace eerd {
inline constexpr uint32_t start = 1u << 0, done = 1u << 1;
constexpr uint32_t read_word(unsigned word) { return uint32_t(word) << 2 | start; }
constexpr uint16_t data(uint32_t v) { return uint16_t(v >> 16); }
}  // namespace eerd

// ICR / IMS / IMC causes.
namespace irq {
inline constexpr uint32_t tx_written_back = 1u << 0;  // TXDW
inline constexpr uint32_t link_change = 1u << 2;      // LSC
inline constexpr uint32_t rx_min_threshold = 1u << 4;  // RXDMT0
inline constexpr uint32_t rx_overrun = 1u << 6;       // RXO
inline constexpr uint32_t rx_timer = 1u << 7;         // RXT0: a frame was received
}  // namespace irq

namespace rctl {
inline constexpr uint32_t enable = 1u << 1;
inline constexpr uint32_t unicast_promiscuous = 1u << 3, multicast_promiscuous = 1u << 4;
inline constexpr uint32_t broadcast = 1u << 15;   // BAM
inline constexpr uint32_t buffer_2048 = 0u << 16;  // BSIZE 00 with BSEX 0
inline constexpr uint32_t strip_crc = 1u << 26;   // SECRC
}  // namespace rctl

namespace tctl {
inline constexpr uint32_t enable = 1u << 1;
inline constexpr uint32_t pad_short = 1u << 3;  // PSP
inline constexpr uint32_t collision_threshold = 0x0fu << 4, collision_distance = 0x3fu << 12;
inline constexpr uint32_t collision_fields = 0xffu << 4 | 0x3ffu << 12;  // CT 11:4, COLD 21:12
}  // namespace tctl
// RXCSUM: the card checks IPv4 header and TCP/UDP checksums of what it
// receives and reports them in the descriptor (IPOFL, TUOFL).
namespace rxcsum {
inline constexpr uint32_t ip = 1u << 8, tcp_udp = 1u << 9;
}

// IPGT 8, IPGR1 8, IPGR2 6: the datasheet's values for copper.
inline constexpr uint32_t tipg_default = 8u | 8u << 10 | 6u << 20;

// A legacy receive descriptor (7.1.4.1).
struct RxDescriptor {
    uint64_t buffer;
    uint16_t length;
    uint16_t checksum;
    uint8_t status;  // DD 0, EOP 1
    uint8_t errors;  // CE 0, SE 1, SEQ 2, CXE 4, TCPE 5, IPE 6, RXE 7
    uint16_t special;
};
static_assert(sizeof(RxDescriptor) == 16 && offsetof(RxDescriptor, status) == 12);
inline constexpr uint8_t rx_done = 1u << 0, rx_end_of_packet = 1u << 1;
// Checksum results in status: IXSM (ignore them), UDPCS, TCPCS (a TCP or
// UDP checksum was checked), IPCS (the IPv4 header's); in errors: TCPE and
// IPE (the one checked was wrong).
inline constexpr uint8_t rx_ignore_checksum = 1u << 2, rx_udp_checked = 1u << 4, rx_tcp_checked = 1u << 5,
                         rx_ip_checked = 1u << 6;
inline constexpr uint8_t rx_tcp_udp_error = 1u << 5, rx_ip_error = 1u << 6;
// Frame errors that make the data unusable (not the checksum offload bits).
inline constexpr uint8_t rx_frame_errors = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 4 | 1u << 7;

// A legacy transmit descriptor (7.2.10.1).
struct TxDescriptor {
    uint64_t buffer;
    uint16_t length;
    uint8_t cso;
    uint8_t command;  // EOP 0, IFCS 1, RS 3
    uint8_t status;   // DD 0
    uint8_t css;
    uint16_t special;
};
static_assert(sizeof(TxDescriptor) == 16 && offsetof(TxDescriptor, command) == 11 && offsetof(TxDescriptor, status) == 12);
inline constexpr uint8_t tx_end_of_packet = 1u << 0, tx_insert_fcs = 1u << 1, tx_report_status = 1u << 3;
inline constexpr uint8_t tx_done = 1u << 0;

}  // namespace drivers::e1000e
