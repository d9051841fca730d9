// A simulated Intel 82574L GbE controller for drivers/e1000e's host tests:
// PCI configuration space (Intel's vendor ID, device 10d3h, class 02.00.00,
// a 32-bit (or 64-bit) memory BAR0 of 128 KiB, an I/O BAR2 and the MSI-X
// BAR3, all sizing like hardware; power management, MSI, PCIe and MSI-X
// capabilities), the BAR0 registers the driver uses, the EEPROM behind EERD,
// and one legacy receive and one legacy transmit descriptor ring it reads
// and writes in SimMemory (a DMA bus address is the host pointer). Every
// register, descriptor and capability is decoded from the datasheet's byte
// and bit offsets, independently of the driver's structs.
//
// Whatever the host does against the datasheet (ring registers written
// while their unit is enabled, RDLEN/TDLEN not a multiple of 128, a ring
// base not 16-byte aligned, a head or tail outside the ring, a transmit
// descriptor without EOP or of 0 or over 16 KiB, an extended descriptor,
// DMA outside memory it allocated or with bus mastering off, register
// access with memory decoding off, a write while the reset runs, a second
// EERD read before the first is done, MSI-X enabled, an MSI that is not the
// bound vector...) is recorded in `violations`, which every test expects
// empty. Registers the simulator does not model count as violations too.
//
// Time is `clock_ns`, which only SimPlatform advances (when the driver
// delays or waits): CTRL.RST clears and an EERD word arrives after
// simulated delays; a driver that waits an hour of it, or reads registers
// ten million times without waiting at all, is taken to hang.
//
// The wire is the test: inject() receives a frame as the MAC would (RCTL's
// filters, the CRC kept unless SECRC, frames over 1522 bytes with their CRC
// discarded unless LPE, frames with errors discarded unless SBP, a frame
// longer than one buffer spread over several descriptors with EOP on the
// last, IPv4 header and TCP/UDP checksums checked as RXCSUM asks and
// reported in the descriptor), and every frame transmitted lands in `sent`. The card has no packet
// buffer: a frame that finds no free descriptor is an overrun (ICR.RXO).
// An interrupt reaches the platform as an MSI when a cause in IMS is set
// while ICR & IMS was clear (so the host must read ICR to get the next one).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "drivers/platform/device_platform.hpp"
#include "tests/unit/drivers/nvme_sim.hpp"

namespace e1000e_sim {

using nvme_sim::get;
using nvme_sim::put;
using nvme_sim::SimMemory;
using Bytes = std::vector<uint8_t>;

inline constexpr uint64_t page = 4096;
inline constexpr uint64_t bar0_size = 128 * 1024;
inline constexpr uint64_t bar0_base = 0xfebc0000, bar0_base64 = 0x9'0000'0000ull;
inline constexpr uint32_t bar2_io = 0xc000, bar3_base = 0xfebe0000, bar3_size = 16 * 1024;

// Configuration space (the 82574L's capability layout).
inline constexpr uint8_t pm_cap = 0xc8, msi_cap = 0xd0, pcie_cap = 0xe0, msix_cap = 0xa0;
inline constexpr uint16_t cmd_memory = 1u << 1, cmd_bus_master = 1u << 2;

// BAR0 register offsets (datasheet section 10.2).
namespace r {
inline constexpr uint64_t ctrl = 0x0000, status = 0x0008, eerd = 0x0014, ctrl_ext = 0x0018, icr = 0x00c0, itr = 0x00c4,
                          ics = 0x00c8, ims = 0x00d0, imc = 0x00d8, rctl = 0x0100, tctl = 0x0400, tipg = 0x0410,
                          rdbal = 0x2800, rdbah = 0x2804, rdlen = 0x2808, rdh = 0x2810, rdt = 0x2818, rdtr = 0x2820,
                          tdbal = 0x3800, tdbah = 0x3804, tdlen = 0x3808, tdh = 0x3810, tdt = 0x3818, rxcsum = 0x5000,
                          mta = 0x5200, ral0 = 0x5400, rah0 = 0x5404;
inline constexpr unsigned mta_entries = 128;
}  // namespace r

// CTRL: FD 0, SLU 6, SPEED 9:8, RST 26, PHY_RST 31.
inline constexpr uint32_t ctrl_fd = 1u << 0, ctrl_slu = 1u << 6, ctrl_speed_1000 = 2u << 8, ctrl_rst = 1u << 26,
                          ctrl_phy_rst = 1u << 31;
inline constexpr uint32_t ctrl_default = ctrl_fd | ctrl_speed_1000;
// STATUS: FD 0, LU 1, SPEED 7:6.
inline constexpr uint32_t status_fd = 1u << 0, status_lu = 1u << 1, status_speed_1000 = 2u << 6;
// EERD: START 0, DONE 1, ADDR 15:2, DATA 31:16.
inline constexpr uint32_t eerd_start = 1u << 0, eerd_done = 1u << 1;
// Interrupt causes (ICR, ICS, IMS, IMC).
inline constexpr uint32_t icr_txdw = 1u << 0, icr_txqe = 1u << 1, icr_lsc = 1u << 2, icr_rxdmt0 = 1u << 4,
                          icr_rxo = 1u << 6, icr_rxt0 = 1u << 7, icr_int_asserted = 1u << 31;
// RCTL.
inline constexpr uint32_t rctl_en = 1u << 1, rctl_sbp = 1u << 2, rctl_upe = 1u << 3, rctl_mpe = 1u << 4,
                          rctl_lpe = 1u << 5, rctl_bam = 1u << 15, rctl_bsex = 1u << 25, rctl_secrc = 1u << 26;
inline constexpr unsigned rctl_lbm_shift = 6, rctl_rdmts_shift = 8, rctl_dtyp_shift = 10, rctl_mo_shift = 12,
                          rctl_bsize_shift = 16;
// TCTL: EN 1, PSP 3, CT 11:4, COLD 21:12.
inline constexpr uint32_t tctl_en = 1u << 1, tctl_psp = 1u << 3;
inline constexpr unsigned tctl_ct_shift = 4, tctl_cold_shift = 12;
// What a reset leaves in TCTL and TIPG (as QEMU's 82574L model has them).
inline constexpr uint32_t tctl_default = tctl_psp | 0xfu << 4 | 0x40u << 12 | 1u << 26 | 0xau << 28;
inline constexpr uint32_t tipg_default = 8u | 8u << 10 | 6u << 20;
inline constexpr uint32_t rah_av = 1u << 31;
// RXCSUM: PCSS 7:0, IPOFL 8, TUOFL 9.
inline constexpr uint32_t rxcsum_ipofl = 1u << 8, rxcsum_tuofl = 1u << 9;

// Legacy transmit descriptor (7.2.10.1): buffer 0-7, length 8-9, CSO 10,
// CMD 11 (EOP 0, IFCS 1, IC 2, RS 3, DEXT 5, VLE 6, IDE 7), STA 12 (DD 0),
// CSS 13, special 14-15.
inline constexpr uint8_t txcmd_eop = 1u << 0, txcmd_ifcs = 1u << 1, txcmd_rs = 1u << 3, txcmd_dext = 1u << 5,
                         txcmd_vle = 1u << 6;
// Legacy receive descriptor (7.1.4.1): buffer 0-7, length 8-9, checksum
// 10-11, status 12 (DD 0, EOP 1, IXSM 2, VP 3, UDPCS 4, TCPCS 5, IPCS 6),
// errors 13 (CE 0, SE 1, SEQ 2, CXE 4, TCPE 5, IPE 6, RXE 7), special 14-15.
inline constexpr uint8_t rxsta_dd = 1u << 0, rxsta_eop = 1u << 1, rxsta_ixsm = 1u << 2, rxsta_udpcs = 1u << 4,
                         rxsta_tcpcs = 1u << 5, rxsta_ipcs = 1u << 6;
inline constexpr uint8_t rxerr_ce = 1u << 0, rxerr_tcpe = 1u << 5, rxerr_ipe = 1u << 6;
inline constexpr uint8_t desc_dd = 1u << 0;
inline constexpr uint32_t max_tx_descriptor = 16 * 1024;

inline std::string hex(uint64_t v)
{
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

// The Ethernet FCS (CRC-32, reflected), as the MAC appends it.
inline uint32_t crc32(const uint8_t* p, size_t n)
{
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = c >> 1 ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

// The one's complement sum of big-endian 16-bit words, folded.
inline uint16_t ones_sum(const uint8_t* p, size_t n, uint32_t start = 0)
{
    uint64_t s = start;
    for (size_t i = 0; i < n; i += 2) s += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(s);
}
inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

struct SimOptions {
    uint16_t vendor = 0x8086, device = 0x10d3;
    enum class Bar0 { memory32, memory64, io, absent } bar0 = Bar0::memory32;
    bool has_msi = true;
    bool msi_64bit = true;
    uint8_t mac[6] = {0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e};  // EEPROM words 0..2, low byte first
    bool mac_loaded = true;  // the EEPROM load at reset fills RAL0/RAH0 (with AV)
    uint64_t reset_ns = 3000;  // CTRL.RST clears this long after it was set
    bool reset_never_ends = false;
    uint64_t eeprom_ns = 20'000;  // an EERD read takes this long
    bool eeprom_never_answers = false;
    bool cable = true;
    bool firmware_left_running = false;  // both units enabled on rings the host never gave it
};

// How inject() ended.
enum class Rx { stored, filtered, overrun, discarded, receiver_off, no_link };

struct InjectOptions {
    uint8_t errors = 0;  // the receive descriptor's error bits (CE...)
    // Store the frame though RCTL says the MAC discards it (an error bit
    // without SBP, over 1522 bytes without LPE): what a driver must survive.
    bool despite_rctl = false;
};

class SimE1000e final : public drivers::PciConfig {
public:
    struct Sent {
        Bytes bytes;  // as on the wire, padded if PSP, without the FCS
        bool fcs = false;
    };

    SimOptions opt;
    std::vector<std::string> violations;
    std::vector<Sent> sent;
    uint16_t eeprom[64] = {};
    // What the host made it do.
    unsigned mmio_accesses = 0, resets = 0, eeprom_reads = 0, tx_descriptors = 0;
    unsigned rx_stored = 0, rx_filtered = 0, rx_overruns = 0, rx_discarded = 0, rx_descriptors = 0;
    unsigned msis = 0, interrupts_undelivered = 0;
    // Transmit descriptors wait for complete_tx() instead of going at TDT.
    bool hold_tx = false;
    bool irq_pending = false;
    // The message MSI must carry for an interrupt to reach the host (bind_msi).
    bool msi_bound = false;
    uint64_t msi_address = 0;
    uint32_t msi_data = 0;
    uint64_t clock_ns = 0;

    SimE1000e(SimMemory& mem, SimOptions o) : opt(o), mem_(mem)
    {
        build_config();
        for (unsigned w = 0; w < 3; ++w) eeprom[w] = uint16_t(opt.mac[2 * w] | opt.mac[2 * w + 1] << 8);
        for (unsigned w = 3; w < 0x3f; ++w) eeprom[w] = uint16_t(0x1000 + w);
        uint16_t sum = 0;
        for (unsigned w = 0; w < 0x3f; ++w) sum = uint16_t(sum + eeprom[w]);
        eeprom[0x3f] = uint16_t(0xbaba - sum);
        // Power-up: a reset that has finished; MTA is undefined at power-up.
        start_reset();
        finish_reset();
        resets = 0;
        for (unsigned i = 0; i < r::mta_entries; ++i) mta_[i] = 0x9e3779b9u * (i + 1);
        if (opt.firmware_left_running) {
            rx_ = {0x7f000, 0, 256, 0, 15};
            tx_ = {0x7e000, 0, 256, 0, 0};
            rctl_ = rctl_en | rctl_bam;
            tctl_ |= tctl_en;
            ims_ = icr_rxt0 | icr_txdw;
        }
    }

    // --- PciConfig ---
    uint32_t read(uint16_t reg, unsigned width) override
    {
        uint32_t v = 0;
        for (unsigned i = 0; i < width && reg + i < 256; ++i) v |= uint32_t(cfg_[reg + i]) << 8 * i;
        return v;
    }
    void write(uint16_t reg, unsigned width, uint32_t value) override
    {
        for (unsigned i = 0; i < width && reg + i < 256; ++i) {
            uint8_t m = cfg_writable_[reg + i];
            cfg_[reg + i] = uint8_t((cfg_[reg + i] & ~m) | (uint8_t(value >> 8 * i) & m));
        }
        if (read(msix_cap + 2, 2) & 0x8000) violation("MSI-X enabled (the driver runs on MSI)");
    }
    uint16_t command() { return uint16_t(read(0x04, 2)); }
    // BAR0's memory base, 0 if BAR0 is not a memory BAR.
    uint64_t bar0()
    {
        if (opt.bar0 == SimOptions::Bar0::memory32) return read(0x10, 4) & ~0xfull;
        if (opt.bar0 == SimOptions::Bar0::memory64) return (read(0x10, 4) & ~0xfull) | uint64_t(read(0x14, 4)) << 32;
        return 0;
    }
    bool msi_enabled() { return opt.has_msi && (read(msi_cap + 2, 2) & 1); }
    bool msix_enabled() { return read(msix_cap + 2, 2) & 0x8000; }
    uint64_t msi_address_programmed()
    {
        uint64_t a = read(msi_cap + 4, 4);
        if (opt.msi_64bit) a |= uint64_t(read(msi_cap + 8, 4)) << 32;
        return a;
    }
    uint32_t msi_data_programmed() { return read(opt.msi_64bit ? msi_cap + 12 : msi_cap + 8, 2); }

    // --- BAR0, at offsets from its start ---
    uint32_t mmio_read32(uint64_t off)
    {
        if (!touch(off)) return ~0u;
        uint32_t v = 0;
        if (off == r::icr) {
            // Read to clear (MSI-X is off).
            v = icr_ | ((icr_ & ims_) ? icr_int_asserted : 0);
            icr_ = 0;
            return v;
        }
        if (!value(off, &v)) violation("read of " + hex(off) + ", which the simulator does not model or is write-only");
        return v;
    }
    void mmio_write32(uint64_t off, uint32_t v)
    {
        if (!touch(off)) return;
        if (in_reset_) return violation("write to " + hex(off) + " while CTRL.RST runs");
        if (off >= r::mta && off < r::mta + 4 * r::mta_entries) {
            mta_[(off - r::mta) / 4] = v;
            return;
        }
        switch (off) {
        case r::ctrl: return write_ctrl(v);
        case r::eerd: return write_eerd(v);
        case r::ctrl_ext: ctrl_ext_ = v; return;
        case r::icr: icr_ &= ~v; return;  // write 1 to clear
        case r::itr: itr_ = v & 0xffff; return;
        case r::ics: return raise(v & ~icr_int_asserted);
        case r::ims: {
            uint32_t before = icr_ & ims_;
            ims_ |= v & ~icr_int_asserted;
            return signal(before);
        }
        case r::imc: ims_ &= ~v; return;
        case r::rctl: return write_rctl(v);
        case r::tctl: return write_tctl(v);
        case r::tipg: tipg_ = v; return;
        case r::rdbal: return write_base(rx_, v, "RDBAL", rctl_ & rctl_en);
        case r::rdbah: return write_ring(rx_.bah, v, "RDBAH", rctl_ & rctl_en);
        case r::rdlen: return write_len(rx_, v, "RDLEN", rctl_ & rctl_en);
        case r::rdh: return write_head(rx_, v, "RDH", rctl_ & rctl_en);
        case r::rdt: return write_tail(rx_, v, "RDT");
        case r::rdtr: rdtr_ = v; return;
        case r::tdbal: return write_base(tx_, v, "TDBAL", tctl_ & tctl_en);
        case r::tdbah: return write_ring(tx_.bah, v, "TDBAH", tctl_ & tctl_en);
        case r::tdlen: return write_len(tx_, v, "TDLEN", tctl_ & tctl_en);
        case r::tdh: return write_head(tx_, v, "TDH", tctl_ & tctl_en);
        case r::tdt:
            write_tail(tx_, v, "TDT");
            return run_tx();
        case r::rxcsum:
            // Written only while the receiver is off (RCTL.EN 0).
            if (rctl_ & rctl_en) violation("RXCSUM written while the receiver is enabled");
            rxcsum_ = v & (0xffu | rxcsum_ipofl | rxcsum_tuofl | 1u << 12 | 1u << 13);
            return;
        case r::ral0: ral0_ = v; return;
        case r::rah0: rah0_ = v & (0xffffu | 3u << 16 | rah_av); return;
        default: violation("write to " + hex(off) + ", which the simulator does not model or is read-only");
        }
    }

    // A register's value as the host would read it, without a read's side
    // effects (ICR is not cleared): for the tests to look at.
    uint32_t peek(uint64_t off)
    {
        settle();
        if (off == r::icr) return icr_;
        uint32_t v = 0;
        return value(off, &v) ? v : 0xdeadbeef;
    }

    bool link() const { return opt.cable && (ctrl_ & ctrl_slu) && !(ctrl_ & ctrl_phy_rst) && !in_reset_; }
    void set_cable(bool plugged)
    {
        bool before = link();
        opt.cable = plugged;
        if (link() != before) raise(icr_lsc);
    }

    // Simulated time passes (only SimPlatform calls this).
    void advance(uint64_t ns)
    {
        static constexpr uint64_t hang_ns = 3600ull * 1000 * 1000 * 1000;
        clock_ns += ns;
        spins_ = 0;
        if (clock_ns > hang_ns) {
            std::fprintf(stderr, "the driver waited an hour of simulated time: a hang\n");
            std::abort();
        }
        settle();
    }

    // Transmits what hold_tx kept back (hold_tx stays as it is).
    void complete_tx()
    {
        bool held = hold_tx;
        hold_tx = false;
        run_tx();
        hold_tx = held;
    }

    // A frame (without FCS) arrives from the wire.
    Rx inject(const Bytes& frame, InjectOptions o = {})
    {
        settle();
        if (!link()) return Rx::no_link;
        if (!(rctl_ & rctl_en)) return Rx::receiver_off;
        if (frame.size() < 60) {  // a runt: the MAC drops it
            ++rx_discarded;
            return Rx::discarded;
        }
        if (!accepted(frame.data())) {
            ++rx_filtered;
            return Rx::filtered;
        }
        Bytes data = frame;
        uint32_t fcs = crc32(frame.data(), frame.size());
        for (int i = 0; i < 4; ++i) data.push_back(uint8_t(fcs >> 8 * i));
        bool too_long = data.size() > 1522 && !(rctl_ & rctl_lpe);
        bool bad = o.errors && !(rctl_ & rctl_sbp);
        if ((too_long || bad) && !o.despite_rctl) {
            ++rx_discarded;
            return Rx::discarded;
        }
        if (rctl_ & rctl_secrc) data.resize(frame.size());
        uint32_t bsize = buffer_size(), n = rx_.len / 16;
        uint32_t need = uint32_t((data.size() + bsize - 1) / bsize);
        uint32_t free_before = n ? (rx_.tail + n - rx_.head) % n : 0;
        if (free_before < need) {  // RDH == RDT: no descriptor the card owns
            ++rx_overruns;
            raise(icr_rxo);
            return Rx::overrun;
        }
        if (!dma_allowed("receive")) return Rx::overrun;
        size_t done = 0;
        for (uint32_t k = 0; k < need; ++k) {
            uint8_t* d = mem_.at(rx_.base() + 16ull * rx_.head, 16);
            if (!d) {
                violation("receive descriptor outside DMA memory");
                return Rx::overrun;
            }
            uint8_t* buf = mem_.at(get<uint64_t>(d, 0), bsize);
            if (!buf) {
                violation("receive buffer " + hex(get<uint64_t>(d, 0)) + " outside DMA memory");
                return Rx::overrun;
            }
            size_t piece = std::min<size_t>(bsize, data.size() - done);
            std::memcpy(buf, data.data() + done, piece);
            done += piece;
            bool last = k + 1 == need;
            put<uint16_t>(d, 8, uint16_t(piece));
            put<uint16_t>(d, 10, 0);
            put<uint16_t>(d, 14, 0);
            uint8_t status = rxsta_dd, errors = 0;
            if (last) {
                status |= rxsta_eop;
                errors = o.errors;
                checksums(frame, &status, &errors);
            }
            d[13] = errors;
            d[12] = status;  // the status last
            rx_.head = (rx_.head + 1) % n;
            ++rx_descriptors;
        }
        ++rx_stored;
        uint32_t threshold = n >> (1 + ((rctl_ >> rctl_rdmts_shift) & 3));
        uint32_t cause = icr_rxt0;
        if (free_before > threshold && free_before - need <= threshold) cause |= icr_rxdmt0;
        raise(cause);
        return Rx::stored;
    }

private:
    struct Ring {
        uint32_t bal = 0, bah = 0, len = 0, head = 0, tail = 0;
        uint64_t base() const { return uint64_t(bah) << 32 | bal; }
    };

    void violation(std::string what) { violations.push_back(std::move(what)); }

    void build_config()
    {
        put<uint16_t>(cfg_, 0x00, opt.vendor);
        put<uint16_t>(cfg_, 0x02, opt.device);
        put<uint16_t>(cfg_, 0x06, 0x0010);                 // status: capability list
        put<uint32_t>(cfg_, 0x08, 0x020000u << 8 | 0x00);  // Ethernet controller, revision 0
        put<uint16_t>(cfg_, 0x2c, 0x8086);
        put<uint16_t>(cfg_, 0x2e, 0x0000);
        cfg_[0x3d] = 1;  // INTA#
        cfg_writable_[0x04] = 0x47;  // I/O, memory, bus master, parity, SERR
        cfg_writable_[0x05] = 0x05;  // ... and INTx disable
        cfg_writable_[0x0c] = cfg_writable_[0x0d] = 0xff;
        cfg_writable_[0x3c] = 0xff;
        auto bar = [&](uint16_t at, uint32_t value, uint32_t mask) {
            put<uint32_t>(cfg_, at, value);
            for (unsigned i = 0; i < 4; ++i) cfg_writable_[at + i] = uint8_t(mask >> 8 * i);
        };
        uint32_t mask0 = ~uint32_t(bar0_size - 1) & ~0xfu;
        switch (opt.bar0) {
        case SimOptions::Bar0::memory32: bar(0x10, uint32_t(bar0_base), mask0); break;
        case SimOptions::Bar0::memory64:
            bar(0x10, uint32_t(bar0_base64) | 0x4, mask0);
            bar(0x14, uint32_t(bar0_base64 >> 32), ~0u);
            break;
        case SimOptions::Bar0::io: bar(0x10, 0xd000 | 1, ~31u); break;
        case SimOptions::Bar0::absent: break;
        }
        bar(0x18, bar2_io | 1, ~31u);
        bar(0x1c, bar3_base, ~(bar3_size - 1) & ~0xfu);
        // Capabilities: PM -> MSI -> PCIe -> MSI-X.
        cfg_[0x34] = pm_cap;
        cfg_[pm_cap] = 0x01;
        cfg_[pm_cap + 1] = opt.has_msi ? msi_cap : pcie_cap;
        put<uint16_t>(cfg_, pm_cap + 2, 0xc822);
        if (opt.has_msi) {
            cfg_[msi_cap] = 0x05;
            cfg_[msi_cap + 1] = pcie_cap;
            cfg_[msi_cap + 2] = opt.msi_64bit ? 0x80 : 0x00;  // 64-bit address, one message (MMC 0)
            cfg_writable_[msi_cap + 2] = 0x71;                 // enable, MME
            for (unsigned i = 0; i < 4; ++i) cfg_writable_[msi_cap + 4 + i] = i ? 0xff : 0xfc;
            unsigned data_at = opt.msi_64bit ? msi_cap + 12 : msi_cap + 8;
            if (opt.msi_64bit)
                for (unsigned i = 0; i < 4; ++i) cfg_writable_[msi_cap + 8 + i] = 0xff;
            cfg_writable_[data_at] = cfg_writable_[data_at + 1] = 0xff;
        }
        cfg_[pcie_cap] = 0x10;
        cfg_[pcie_cap + 1] = msix_cap;
        put<uint16_t>(cfg_, pcie_cap + 2, 0x0001);  // version 1, endpoint
        cfg_[msix_cap] = 0x11;
        cfg_[msix_cap + 1] = 0x00;
        put<uint16_t>(cfg_, msix_cap + 2, 4);           // five vectors
        put<uint32_t>(cfg_, msix_cap + 4, 0x00000003);  // table: BAR3 + 0
        put<uint32_t>(cfg_, msix_cap + 8, 0x00002003);  // PBA: BAR3 + 0x2000
        cfg_writable_[msix_cap + 3] = 0xc0;             // enable, function mask
    }

    bool touch(uint64_t off)
    {
        ++mmio_accesses;
        if (++spins_ > 10'000'000) {
            std::fprintf(stderr, "the driver read registers ten million times without waiting: a hang\n");
            std::abort();
        }
        settle();
        if (!(command() & cmd_memory)) {
            violation("BAR0 access with memory decoding off");
            return false;
        }
        if (off >= bar0_size || off % 4) {
            violation("BAR0 access at " + hex(off));
            return false;
        }
        return true;
    }

    // Whatever finished while time passed.
    void settle()
    {
        if (in_reset_ && !opt.reset_never_ends && clock_ns >= reset_until_) finish_reset();
        if (eerd_busy_ && !opt.eeprom_never_answers && clock_ns >= eerd_done_at_) {
            unsigned word = (eerd_ >> 2) & 0x3fff;
            uint16_t data = word < 64 ? eeprom[word] : 0xffff;
            eerd_ = uint32_t(data) << 16 | (eerd_ & 0xfffc) | eerd_done;
            eerd_busy_ = false;
        }
    }

    bool value(uint64_t off, uint32_t* v)
    {
        if (off >= r::mta && off < r::mta + 4 * r::mta_entries) {
            *v = mta_[(off - r::mta) / 4];
            return true;
        }
        switch (off) {
        case r::ctrl: *v = ctrl_ | (in_reset_ ? ctrl_rst : 0); return true;
        case r::status: *v = status_fd | (link() ? status_lu | status_speed_1000 : 0); return true;
        case r::eerd: *v = eerd_; return true;
        case r::ctrl_ext: *v = ctrl_ext_; return true;
        case r::itr: *v = itr_; return true;
        case r::ims: *v = ims_; return true;
        case r::rctl: *v = rctl_; return true;
        case r::tctl: *v = tctl_; return true;
        case r::tipg: *v = tipg_; return true;
        case r::rdbal: *v = rx_.bal; return true;
        case r::rdbah: *v = rx_.bah; return true;
        case r::rdlen: *v = rx_.len; return true;
        case r::rdh: *v = rx_.head; return true;
        case r::rdt: *v = rx_.tail; return true;
        case r::rdtr: *v = rdtr_; return true;
        case r::tdbal: *v = tx_.bal; return true;
        case r::tdbah: *v = tx_.bah; return true;
        case r::tdlen: *v = tx_.len; return true;
        case r::tdh: *v = tx_.head; return true;
        case r::tdt: *v = tx_.tail; return true;
        case r::rxcsum: *v = rxcsum_; return true;
        case r::ral0: *v = ral0_; return true;
        case r::rah0: *v = rah0_; return true;
        default: return false;
        }
    }

    // CTRL.RST: every register to its default at once, RST reading 1 until
    // reset_ns has passed, then the EEPROM load (RAL0/RAH0).
    void start_reset()
    {
        ++resets;
        in_reset_ = true;
        reset_until_ = clock_ns + opt.reset_ns;
        ctrl_ = ctrl_default;
        ctrl_ext_ = itr_ = icr_ = ims_ = rctl_ = rdtr_ = rxcsum_ = 0;
        tctl_ = tctl_default;
        tipg_ = tipg_default;
        rx_ = tx_ = {};
        eerd_ = 0;
        eerd_busy_ = false;
        ral0_ = rah0_ = 0;
    }
    void finish_reset()
    {
        in_reset_ = false;
        if (!opt.mac_loaded) return;
        ral0_ = uint32_t(eeprom[0]) | uint32_t(eeprom[1]) << 16;
        rah0_ = uint32_t(eeprom[2]) | rah_av;
    }

    void write_ctrl(uint32_t v)
    {
        bool before = link();
        ctrl_ = v & ~ctrl_rst;
        if (v & ctrl_rst) {
            start_reset();
            if (opt.reset_ns == 0 && !opt.reset_never_ends) finish_reset();
            return;
        }
        if (link() != before) raise(icr_lsc);
    }

    void write_eerd(uint32_t v)
    {
        if (!(v & eerd_start)) return;
        if (eerd_busy_) violation("EERD started while a read runs");
        ++eeprom_reads;
        eerd_ = v & 0xfffc;  // the address; DONE clear
        eerd_busy_ = true;
        eerd_done_at_ = clock_ns + opt.eeprom_ns;
    }

    void write_ring(uint32_t& reg, uint32_t v, const char* name, bool enabled)
    {
        if (enabled) violation(std::string(name) + " written while its unit is enabled");
        reg = v;
    }
    void write_base(Ring& ring, uint32_t v, const char* name, bool enabled)
    {
        if (v & 0xf) violation(std::string(name) + " not 16-byte aligned");
        write_ring(ring.bal, v & ~0xfu, name, enabled);
    }
    void write_len(Ring& ring, uint32_t v, const char* name, bool enabled)
    {
        if (v == 0 || v % 128 || v > 0xfff80) violation(std::string(name) + " of " + std::to_string(v));
        write_ring(ring.len, v & 0xfff80, name, enabled);
    }
    void write_head(Ring& ring, uint32_t v, const char* name, bool enabled)
    {
        if (v >= ring.len / 16) violation(std::string(name) + " of " + std::to_string(v) + " outside the ring");
        write_ring(ring.head, ring.len ? v % (ring.len / 16) : 0, name, enabled);
    }
    void write_tail(Ring& ring, uint32_t v, const char* name)
    {
        if (v >= ring.len / 16) {
            violation(std::string(name) + " of " + std::to_string(v) + " outside the ring");
            return;
        }
        ring.tail = v;
    }

    // A unit enabled on a ring must have a ring in memory the host gave it.
    void check_ring(const Ring& ring, const char* unit)
    {
        if (!ring.len) return violation(std::string(unit) + " enabled without a ring");
        if (!mem_.at(ring.base(), ring.len)) violation(std::string(unit) + " ring outside DMA memory");
    }

    void write_rctl(uint32_t v)
    {
        bool enabling = !(rctl_ & rctl_en) && (v & rctl_en);
        rctl_ = v;
        if (!enabling) return;
        check_ring(rx_, "receive");
        if ((v >> rctl_dtyp_shift) & 3) violation("RCTL.DTYP: not legacy descriptors");
        if ((v >> rctl_lbm_shift) & 3) violation("RCTL.LBM: loopback");
        if ((v & rctl_bsex) && ((v >> rctl_bsize_shift) & 3) == 0) violation("RCTL: BSEX with BSIZE 00 is reserved");
    }
    void write_tctl(uint32_t v)
    {
        bool enabling = !(tctl_ & tctl_en) && (v & tctl_en);
        tctl_ = v;
        if (!enabling) return;
        check_ring(tx_, "transmit");
        run_tx();
    }

    uint32_t buffer_size() const
    {
        unsigned bsize = (rctl_ >> rctl_bsize_shift) & 3;
        if (rctl_ & rctl_bsex) return bsize ? 65536u >> bsize : 2048;
        return 2048u >> bsize;
    }

    // RCTL's L2 filter: broadcast with BAM; multicast with MPE or its MTA bit
    // (hash by RCTL.MO); unicast with UPE or a match of RAR0 (with AV).
    bool accepted(const uint8_t* dst) const
    {
        static const uint8_t all_ones[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        if (std::memcmp(dst, all_ones, 6) == 0) return rctl_ & rctl_bam;
        if (dst[0] & 1) {
            if (rctl_ & rctl_mpe) return true;
            // MO 00..11: destination address bits 47:36, 46:35, 45:34, 43:32.
            static constexpr unsigned shift[4] = {4, 3, 2, 0};
            uint16_t word = uint16_t(dst[4] | dst[5] << 8);
            unsigned hash = (word >> shift[(rctl_ >> rctl_mo_shift) & 3]) & 0xfff;
            return mta_[hash >> 5] >> (hash & 31) & 1;
        }
        if (rctl_ & rctl_upe) return true;
        uint8_t rar[6];
        for (int i = 0; i < 4; ++i) rar[i] = uint8_t(ral0_ >> 8 * i);
        rar[4] = uint8_t(rah0_);
        rar[5] = uint8_t(rah0_ >> 8);
        return (rah0_ & rah_av) && std::memcmp(dst, rar, 6) == 0;
    }

    // Receive checksum offload (RXCSUM.IPOFL, TUOFL) on what the card
    // parses: Ethernet II with at most one 802.1Q tag, then IPv4 (TCP and UDP
    // only when it is not a fragment) or IPv6 without extension headers, then
    // TCP or UDP (a UDP checksum of 0 over IPv4 is none). With both offloads
    // off the descriptor says IXSM: ignore the checksum bits.
    void checksums(const Bytes& f, uint8_t* status, uint8_t* errors) const
    {
        bool ipofl = rxcsum_ & rxcsum_ipofl, tuofl = rxcsum_ & rxcsum_tuofl;
        if (!ipofl && !tuofl) {
            *status |= rxsta_ixsm;
            return;
        }
        size_t at = 12;
        uint16_t type = be16(&f[at]);
        if (type == 0x8100 && f.size() >= 18) type = be16(&f[at += 4]);
        at += 2;
        const uint8_t* ip = f.data() + at;
        size_t avail = f.size() - at;
        const uint8_t* l4 = nullptr;
        size_t l4_len = 0;
        uint8_t proto = 0;
        uint16_t pseudo = 0;
        if (type == 0x0800) {
            if (avail < 20 || ip[0] >> 4 != 4) return;
            size_t ihl = (ip[0] & 0xfu) * 4, total = be16(ip + 2);
            if (ihl < 20 || total < ihl || total > avail) return;
            if (ipofl) {
                *status |= rxsta_ipcs;
                if (ones_sum(ip, ihl) != 0xffff) *errors |= rxerr_ipe;
            }
            if (be16(ip + 6) & 0x3fff) return;  // MF or a fragment offset
            proto = ip[9];
            l4 = ip + ihl;
            l4_len = total - ihl;
            pseudo = ones_sum(ip + 12, 8, proto + uint32_t(l4_len));
        } else if (type == 0x86dd) {
            if (avail < 40 || ip[0] >> 4 != 6 || 40u + be16(ip + 4) > avail) return;
            proto = ip[6];
            l4 = ip + 40;
            l4_len = be16(ip + 4);
            pseudo = ones_sum(ip + 8, 32, proto + uint32_t(l4_len));
        } else {
            return;
        }
        if (!tuofl) return;
        if (proto == 6 && l4_len >= 20) {
            *status |= rxsta_tcpcs;
            if (ones_sum(l4, l4_len, pseudo) != 0xffff) *errors |= rxerr_tcpe;
        } else if (proto == 17 && l4_len >= 8) {
            *status |= rxsta_udpcs;
            bool none = type == 0x0800 && be16(l4 + 6) == 0;
            if (!none && ones_sum(l4, l4_len, pseudo) != 0xffff) *errors |= rxerr_tcpe;
        }
    }

    bool dma_allowed(const char* what)
    {
        if (command() & cmd_bus_master) return true;
        violation(std::string(what) + " DMA with bus mastering off");
        return false;
    }

    // The transmit unit: every descriptor from TDH to TDT, one frame each.
    void run_tx()
    {
        uint32_t n = tx_.len / 16;
        if (!(tctl_ & tctl_en) || hold_tx || !n) return;
        bool any = false;
        while (tx_.head != tx_.tail) {
            if (!dma_allowed("transmit")) return;
            uint8_t* d = mem_.at(tx_.base() + 16ull * tx_.head, 16);
            if (!d) return violation("transmit descriptor outside DMA memory");
            ++tx_descriptors;
            any = true;
            uint64_t buffer = get<uint64_t>(d, 0);
            uint16_t len = get<uint16_t>(d, 8);
            uint8_t cmd = d[11];
            std::string at = "transmit descriptor " + std::to_string(tx_.head);
            std::string wrong;
            if (cmd & txcmd_vle) violation(at + ": VLE without CTRL.VME");
            if (cmd & txcmd_dext) wrong = ": DEXT (not a legacy descriptor)";
            else if (!(cmd & txcmd_eop)) wrong = " without EOP";
            else if (len == 0 || len > max_tx_descriptor) wrong = " of " + std::to_string(len) + " bytes";
            const uint8_t* data = wrong.empty() ? mem_.at(buffer, len) : nullptr;
            if (wrong.empty() && !data) wrong = ": buffer " + hex(buffer) + " outside DMA memory";
            if (!wrong.empty()) {
                violation(at + wrong);
            } else {
                Sent s{Bytes(data, data + len), bool(cmd & txcmd_ifcs)};
                if ((tctl_ & tctl_psp) && s.bytes.size() < 60) s.bytes.resize(60, 0);
                sent.push_back(std::move(s));
            }
            if (cmd & txcmd_rs) {
                d[12] = uint8_t((d[12] & 0xf0) | desc_dd);
                raise(icr_txdw);
            }
            tx_.head = (tx_.head + 1) % n;
        }
        if (any) raise(icr_txqe);
    }

    void raise(uint32_t cause)
    {
        uint32_t before = icr_ & ims_;
        icr_ |= cause;
        signal(before);
    }
    // An MSI when ICR & IMS turns non-zero.
    void signal(uint32_t before)
    {
        if (before || !(icr_ & ims_)) return;
        if (!msi_enabled()) {
            ++interrupts_undelivered;  // INTx is not modelled
            return;
        }
        if (!dma_allowed("MSI")) return;
        if ((read(msi_cap + 2, 2) >> 4) & 7) violation("MSI: more messages enabled than the function has");
        if (!msi_bound || msi_address_programmed() != msi_address || msi_data_programmed() != msi_data)
            return violation("MSI not the vector bind_msi returned");
        ++msis;
        irq_pending = true;
    }

    SimMemory& mem_;
    uint8_t cfg_[256] = {};
    uint8_t cfg_writable_[256] = {};
    uint32_t ctrl_ = 0, ctrl_ext_ = 0, itr_ = 0, icr_ = 0, ims_ = 0, rctl_ = 0, tctl_ = 0, tipg_ = 0, rdtr_ = 0;
    uint32_t eerd_ = 0, ral0_ = 0, rah0_ = 0, rxcsum_ = 0;
    uint32_t mta_[r::mta_entries] = {};
    Ring rx_, tx_;
    bool in_reset_ = false, eerd_busy_ = false;
    uint64_t reset_until_ = 0, eerd_done_at_ = 0;
    uint64_t spins_ = 0;
};

// The window of part of BAR0.
class SimWindow final : public drivers::MmioWindow {
public:
    SimWindow(SimE1000e& dev, uint64_t offset) : dev_(&dev), offset_(offset) {}
    uint32_t read32(uint64_t off) override { return dev_->mmio_read32(offset_ + off); }
    void write32(uint64_t off, uint32_t v) override { dev_->mmio_write32(offset_ + off, v); }
    uint16_t read16(uint64_t) override { return bad("16-bit register read"); }
    uint8_t read8(uint64_t) override { return uint8_t(bad("8-bit register read")); }
    void write16(uint64_t, uint16_t) override { bad("16-bit register write"); }
    void write8(uint64_t, uint8_t) override { bad("8-bit register write"); }

private:
    uint16_t bad(const char* what)
    {
        dev_->violations.push_back(what);
        return 0xffff;
    }
    SimE1000e* dev_;
    uint64_t offset_;
};

// DevicePlatform over the simulated card, with its simulated clock: delays
// and waits advance it instead of taking time, so a timeout costs the test
// nothing and a driver that never gives up is caught.
class SimPlatform final : public drivers::DevicePlatform {
public:
    static constexpr uint32_t event = 5;
    static constexpr uint64_t msi_address = 0xfee01000;
    static constexpr uint32_t msi_data = 0x4062;
    bool msi_available = true;
    unsigned events_fired = 0;

    SimPlatform(SimE1000e& dev, SimMemory& mem) : dev_(dev), mem_(mem) {}

    lib::Result<drivers::MmioWindow*> map_mmio(uint64_t phys, uint64_t size) override
    {
        uint64_t base = dev_.bar0();
        if (!base || phys % page || size % page || !size || phys < base || size > bar0_size ||
            phys - base > bar0_size - size) {
            dev_.violations.push_back("map_mmio of " + hex(phys) + "+" + hex(size) + " outside BAR0");
            return lib::Error::not_found;
        }
        windows_.push_back(std::make_unique<SimWindow>(dev_, phys - base));
        return windows_.back().get();
    }
    lib::Result<drivers::DmaBuffer> alloc_dma(size_t size) override
    {
        if (size == 0 || size % page || size > (2u << 20)) {
            dev_.violations.push_back("alloc_dma of " + std::to_string(size) + " bytes");
            return lib::Error::invalid;
        }
        uint8_t* p = mem_.alloc(size);
        return drivers::DmaBuffer{p, reinterpret_cast<uintptr_t>(p), size};
    }
    lib::Result<drivers::MsiVector> bind_msi() override
    {
        if (!msi_available) return lib::Error::unsupported;
        dev_.msi_bound = true;
        dev_.msi_address = msi_address;
        dev_.msi_data = msi_data;
        return drivers::MsiVector{msi_address, msi_data, event};
    }
    bool wait_event(uint32_t ev, uint64_t timeout_ns) override
    {
        if (ev != event || !dev_.msi_bound) dev_.violations.push_back("wait for an event never bound");
        if (dev_.irq_pending) {
            dev_.irq_pending = false;
            ++events_fired;
            return true;
        }
        dev_.advance(timeout_ns);
        return false;
    }
    uint64_t now_ns() override { return dev_.clock_ns; }
    void delay_us(uint64_t us) override { dev_.advance(us * 1000); }

private:
    SimE1000e& dev_;
    SimMemory& mem_;
    std::vector<std::unique_ptr<SimWindow>> windows_;
};

}  // namespace e1000e_sim
