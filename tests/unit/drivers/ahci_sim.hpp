// A simulated AHCI 1.3 SATA host bus adapter and the devices on its ports,
// for drivers/ahci's host tests: PCI configuration space (class code
// 01.06.01, the vendor and device IDs of QEMU's ich9-ahci, a 32-bit memory
// BAR5 that sizes like hardware, an MSI capability), the HBA and port
// registers on BAR5 (ABAR), and the commands the driver uses (IDENTIFY
// DEVICE, READ/WRITE DMA EXT, FLUSH CACHE EXT, READ/WRITE FPDMA QUEUED, and
// for error recovery READ LOG EXT of the NCQ error log and software reset)
// run against in-memory disks. It reads command lists, command tables and
// PRDTs from SimMemory (a DMA bus address is the host pointer) and decodes
// every structure from the byte offsets AHCI, SATA and ACS give,
// independently of the driver's structs. Whatever the host does against
// those specs (a misaligned command list, an odd PRD byte count, a port
// started without FIS reception or while its device is busy, a queued
// command without its SACT bit or with a tag other than its slot, queued and
// non-queued commands outstanding together, a command table changed while
// its command runs, DMA outside memory it allocated...) is recorded in
// `violations`, which every test expects empty.
//
// Time is `clock_ns`, which only SimPlatform advances (when the driver
// delays or waits): HBA reset, BIOS handoff, engine stops and device
// spin-up take it, and a driver that waits an hour of it is taken to hang.
//
// Error behaviour follows the hardware: a failed command sets PxTFD.ERR and
// PxIS.TFES and stops the port's command processing (its PxCI bit stays)
// until the host clears PxCMD.ST, which clears PxCI and PxSACT. A failed
// queued command makes the device abort every queued command (their SACT
// bits stay) and, as SATA 3.x 13.6.3 has it, take no command but READ LOG
// EXT of log 10h until that log is read or the device is reset (COMRESET,
// software reset or HBA reset).
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "drivers/platform/device_platform.hpp"
#include "tests/unit/drivers/nvme_sim.hpp"

namespace ahci_sim {

// DMA memory and byte access as the NVMe simulator has them.
using nvme_sim::get;
using nvme_sim::put;
using nvme_sim::SimMemory;

inline constexpr uint64_t page = 4096;

enum class Attached : uint8_t { none, disk, atapi };

struct PortSetup {
    Attached device = Attached::disk;
    uint32_t sector_size = 512;  // logical: 512 or 4096
    uint64_t sectors = 16384;
    std::string model = "Simulated SATA Disk";
    std::string serial = "SIM-SATA-0001";
    bool ncq = true;
    unsigned queue_depth = 32;  // 1..32 (IDENTIFY word 75 + 1)
    bool write_cache = true;    // enabled (word 85 bit 5)
    bool lba48 = true;
    uint64_t busy_us = 0;       // BSY this long after spin-up
    bool busy_forever = false;  // never sends its signature
    // After a queued command fails, the device takes nothing but READ LOG
    // EXT of log 10h until that log is read or it is reset (SATA 3.x
    // 13.6.3); false: a lenient device that goes on at once.
    bool ncq_error_needs_log = true;
};

struct SimOptions {
    uint32_t class_code = 0x010601;
    std::vector<PortSetup> ports = {PortSetup{}};  // port i; CAP.NP = ports.size() - 1
    uint32_t pi = 0;            // ports implemented; 0: all of `ports`
    unsigned slots = 32;        // CAP.NCS + 1
    bool sncq = true;
    bool s64a = true;
    bool sss = false;           // staggered spin-up: ports wait for PxCMD.SUD
    bool msi = true;            // an MSI capability
    bool bar5 = true;
    bool bios_handoff = false;  // CAP2.BOH, BOHC.BOS set at start
    uint64_t bios_busy_us = 0;  // the BIOS sets BOHC.BB and clears BOS after this long
    bool bios_never_releases = false;
    uint64_t reset_us = 0;      // GHC.HR takes this long
    bool reset_never_done = false;
    uint64_t stop_us = 0;       // PxCMD.CR and FR clear this long after ST and FRE
    bool firmware_running = false;     // GHC.AE set, ports running on firmware's lists
    bool signature_needs_fre = false;  // as QEMU: no signature until PxCMD.FRE is set
};

inline constexpr uint32_t bar5_base = 0xfebf0000;
inline constexpr uint64_t bar5_size = 0x2000;
inline constexpr uint8_t msi_cap = 0x80, sata_cap = 0xa8;
inline constexpr uint32_t signature_ata = 0x00000101, signature_atapi = 0xeb140101;

// Register offsets and bits (AHCI 1.3.1 section 3), the simulator's own.
namespace hba_reg {
inline constexpr uint64_t cap = 0x00, ghc = 0x04, is = 0x08, pi = 0x0c, vs = 0x10, cap2 = 0x24, bohc = 0x28;
}
namespace port_reg {
inline constexpr uint64_t clb = 0x00, clbu = 0x04, fb = 0x08, fbu = 0x0c, is = 0x10, ie = 0x14, cmd = 0x18,
                          tfd = 0x20, sig = 0x24, ssts = 0x28, sctl = 0x2c, serr = 0x30, sact = 0x34, ci = 0x38;
}
inline constexpr uint32_t ghc_hr = 1u << 0, ghc_ie = 1u << 1, ghc_ae = 1u << 31;
inline constexpr uint32_t bohc_bos = 1u << 0, bohc_oos = 1u << 1, bohc_sooe = 1u << 2, bohc_ooc = 1u << 3,
                          bohc_bb = 1u << 4;
inline constexpr uint32_t cmd_st = 1u << 0, cmd_sud = 1u << 1, cmd_pod = 1u << 2, cmd_clo = 1u << 3,
                          cmd_fre = 1u << 4, cmd_fr = 1u << 14, cmd_cr = 1u << 15;
inline constexpr uint32_t cmd_writable = cmd_st | cmd_fre | 0x0f000000u;  // ATAPI, DLAE, ALPE, ASP
inline constexpr uint32_t is_dhrs = 1u << 0, is_pss = 1u << 1, is_sdbs = 1u << 3, is_dps = 1u << 5,
                          is_pcs = 1u << 6, is_prcs = 1u << 22, is_hbfs = 1u << 29, is_tfes = 1u << 30;
inline constexpr uint32_t ie_writable = 0xfdc000ffu;
inline constexpr uint32_t serr_n = 1u << 16, serr_x = 1u << 26;
inline constexpr uint32_t ssts_up = 0x123;  // DET 3, Gen 2, IPM active
inline constexpr uint8_t sts_bsy = 0x80, sts_drq = 0x08, sts_err = 0x01;
inline constexpr uint8_t err_abrt = 0x04, err_idnf = 0x10, err_unc = 0x40;
// Command header DW0 bits (4.2.2).
inline constexpr uint16_t hdr_atapi = 1u << 5, hdr_write = 1u << 6, hdr_reset = 1u << 8, hdr_bist = 1u << 9,
                          hdr_clear = 1u << 10;
// Received-FIS area offsets (4.2.1).
inline constexpr uint64_t rfis_pio = 0x20, rfis_d2h = 0x40, rfis_sdb = 0x58;

namespace ata {
inline constexpr uint8_t identify = 0xec, identify_packet = 0xa1, read_dma_ext = 0x25, write_dma_ext = 0x35,
                         flush = 0xe7, flush_ext = 0xea, read_fpdma = 0x60, write_fpdma = 0x61, read_log_ext = 0x2f,
                         read_log_dma_ext = 0x47;
inline constexpr uint8_t ncq_error_log = 0x10;
}  // namespace ata

// Two ASCII characters a word, the first in the high byte, space padded.
inline void ata_string(uint16_t* words, unsigned first, unsigned count, const std::string& s)
{
    for (unsigned i = 0; i < count; ++i) {
        uint8_t hi = 2 * i < s.size() ? uint8_t(s[2 * i]) : uint8_t(' ');
        uint8_t lo = 2 * i + 1 < s.size() ? uint8_t(s[2 * i + 1]) : uint8_t(' ');
        words[first + i] = uint16_t(hi << 8 | lo);
    }
}

// IDENTIFY DEVICE data as ACS-2 7.12.7 lays it out, with its integrity word.
inline void identify_data(const PortSetup& s, uint8_t out[512])
{
    uint16_t w[256] = {};
    w[0] = 0x0040;  // ATA device, fixed
    w[1] = 16383;
    w[3] = 16;
    w[6] = 63;
    ata_string(w, 10, 10, s.serial);
    ata_string(w, 23, 4, "SIM 1.0");
    ata_string(w, 27, 20, s.model);
    w[47] = 0x8010;
    w[49] = 0x0300;  // LBA, DMA
    w[53] = 0x0006;
    uint64_t lba28 = std::min<uint64_t>(s.sectors, 0x0fffffff);
    w[60] = uint16_t(lba28);
    w[61] = uint16_t(lba28 >> 16);
    w[75] = uint16_t((s.queue_depth - 1) & 0x1f);
    w[76] = uint16_t(0x0006 | (s.ncq ? 0x0100 : 0));  // Gen 1 and 2, NCQ
    w[80] = 0x01f0;
    w[82] = 0x4020;  // NOP, volatile write cache
    w[83] = uint16_t(0x4000 | 0x1000 | (s.lba48 ? 0x2400 : 0));  // FLUSH CACHE, FLUSH CACHE EXT, 48-bit
    w[84] = 0x4000;
    w[85] = uint16_t(0x4000 | (s.write_cache ? 0x0020 : 0));
    w[86] = uint16_t(0x1000 | (s.lba48 ? 0x2400 : 0));
    w[87] = 0x4000;
    w[88] = 0x207f;
    if (s.lba48)
        for (unsigned i = 0; i < 4; ++i) w[100 + i] = uint16_t(s.sectors >> 16 * i);
    w[106] = 0x4000;
    if (s.sector_size > 512) {
        w[106] |= 0x1000;
        uint32_t words = s.sector_size / 2;
        w[117] = uint16_t(words);
        w[118] = uint16_t(words >> 16);
    }
    w[217] = 1;  // not rotating
    std::memcpy(out, w, 512);
    out[510] = 0xa5;
    uint8_t sum = 0;
    for (unsigned i = 0; i < 511; ++i) sum = uint8_t(sum + out[i]);
    out[511] = uint8_t(-sum);
}

// A command the HBA fetched: its header and FIS, and an image of the header
// (less PRDBC) and table to see whether the host changed them under it.
struct Command {
    unsigned slot = 0;
    uint16_t flags = 0, prdtl = 0;
    uint64_t ctba = 0;
    uint8_t fis[20] = {};
    std::vector<uint8_t> image;
};

struct Port {
    PortSetup setup;
    std::vector<uint8_t> disk;
    // Reads and writes touching these LBAs fail with UNC.
    std::set<uint64_t> failing_lbas;
    // What the host made it do.
    unsigned reads = 0, writes = 0, flushes = 0, identifies = 0, queued_commands = 0, max_in_flight = 0;
    unsigned comresets = 0, errors = 0, log_reads = 0, soft_resets = 0, commands = 0;

    // Registers, and the HBA's and the device's state.
    uint64_t clb = 0, fb = 0;
    uint32_t is = 0, ie = 0, cmd = 0, tfd = 0x7f, sig = ~0u, ssts = 0, sctl = 0, serr = 0, sact = 0, ci = 0;
    bool cr = false, fr = false;
    uint64_t cr_off_at = 0, fr_off_at = 0;
    uint32_t unfetched = 0;      // PxCI bits the HBA has not fetched yet
    uint32_t non_queued_ci = 0;  // PxCI bits of non-queued commands
    unsigned ccs = 0;
    bool halted = false;            // an error stopped command processing until ST is cleared
    std::optional<Command> held;    // the non-queued command hold_io keeps running
    std::vector<Command> queue;     // queued commands the device accepted, in issue order
    bool link = false, spun_up = false, signature_sent = false, srst = false;
    uint64_t spun_up_at = 0, comreset_at = 0;
    bool ncq_error = false;  // the device takes only READ LOG EXT of log 10h or a reset
    uint8_t error_log[512] = {};
};

class SimAhci final : public drivers::PciConfig {
public:
    SimOptions opt;
    std::vector<Port> ports;
    std::vector<std::string> violations;
    uint64_t clock_ns = 0;  // SimPlatform advances it
    unsigned interrupts = 0, mmio_accesses = 0, hba_resets = 0;
    bool irq_pending = false;
    // The message the MSI capability must carry for an interrupt to reach the host.
    uint64_t msi_address = 0;
    uint32_t msi_data = 0;
    // Reads, writes and flushes wait for service() instead of running when
    // issued; held queued commands then complete newest first if
    // reverse_completion, at most completions_per_service of them a call.
    bool hold_io = false;
    bool reverse_completion = false;
    unsigned completions_per_service = ~0u;

    SimAhci(SimMemory& mem, SimOptions o) : opt(std::move(o)), mem_(mem)
    {
        if (opt.ports.empty()) opt.ports.resize(1);
        ports.resize(opt.ports.size());
        pi_ = opt.pi ? opt.pi : uint32_t((1ull << ports.size()) - 1);
        for (size_t i = 0; i < ports.size(); ++i) {
            ports[i].setup = opt.ports[i];
            const PortSetup& s = opt.ports[i];
            if (s.device == Attached::disk) ports[i].disk.assign(s.sectors * s.sector_size, 0);
        }
        put<uint16_t>(cfg_, 0x00, 0x8086);  // ICH9 AHCI, as QEMU's ich9-ahci
        put<uint16_t>(cfg_, 0x02, 0x2922);
        put<uint16_t>(cfg_, 0x06, 0x0010);  // status: capability list
        put<uint32_t>(cfg_, 0x08, opt.class_code << 8 | 0x02);
        put<uint16_t>(cfg_, 0x2c, 0x1af4);
        put<uint16_t>(cfg_, 0x2e, 0x1100);
        cfg_[0x3d] = 1;  // INTA
        cfg_writable_[0x04] = 0x47;  // I/O, memory, bus master, parity
        cfg_writable_[0x05] = 0x05;  // SERR, INTx disable
        cfg_writable_[0x3c] = 0xff;
        if (opt.bar5) {
            put<uint32_t>(cfg_, 0x24, bar5_base);  // 32-bit memory BAR
            uint32_t mask = ~uint32_t(bar5_size - 1) & ~0xfu;
            for (unsigned i = 0; i < 4; ++i) cfg_writable_[0x24 + i] = uint8_t(mask >> 8 * i);
        }
        cfg_[0x34] = opt.msi ? msi_cap : sata_cap;
        if (opt.msi) {
            cfg_[msi_cap] = 0x05;
            cfg_[msi_cap + 1] = sata_cap;
            put<uint16_t>(cfg_, msi_cap + 2, 0x0080);  // 64-bit address, one message
            cfg_writable_[msi_cap + 2] = 0x71;        // enable, multiple message enable
            cfg_writable_[msi_cap + 4] = 0xfc;
            for (unsigned i = 5; i < 14; ++i) cfg_writable_[msi_cap + i] = 0xff;
        }
        cfg_[sata_cap] = 0x12;  // SATA capability, as ICH9 has it
        put<uint16_t>(cfg_, sata_cap + 2, 0x0010);
        put<uint32_t>(cfg_, sata_cap + 4, 0x0048);

        if (opt.bios_handoff) bohc_ = bohc_bos;
        for (unsigned i = 0; i < ports.size(); ++i) {
            if (!implemented(i)) continue;
            reset_port(i);
            if (!opt.sss) link_up(i);
        }
        if (opt.firmware_running) {
            ghc_ = ghc_ae;
            for (unsigned i = 0; i < ports.size(); ++i) {
                if (!implemented(i)) continue;
                Port& p = ports[i];
                p.clb = 0x7f000000ull + 0x1000ull * i;  // firmware's memory, not the host's
                p.fb = 0x7f800000ull + 0x100ull * i;
                p.cmd |= cmd_sud | cmd_st | cmd_fre;
                p.cr = p.fr = true;
                p.is = 0;
                p.serr = 0;
            }
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
            uint8_t keep = uint8_t(cfg_[reg + i] & ~cfg_writable_[reg + i]);
            cfg_[reg + i] = uint8_t(keep | (uint8_t(value >> 8 * i) & cfg_writable_[reg + i]));
        }
        if (opt.msi && (cfg_[msi_cap + 2] & 0x70)) violation("MSI: more messages enabled than the capability offers");
    }
    uint32_t bar5() { return read(0x24, 4) & ~0xfu; }
    uint16_t command() { return uint16_t(read(0x04, 2)); }
    bool msi_enabled() const { return opt.msi && (cfg_[msi_cap + 2] & 1); }
    uint64_t msi_programmed_address() const
    {
        return get<uint32_t>(cfg_, msi_cap + 4) | uint64_t(get<uint32_t>(cfg_, msi_cap + 8)) << 32;
    }
    uint16_t msi_programmed_data() const { return get<uint16_t>(cfg_, msi_cap + 12); }
    uint32_t ghc() const { return ghc_ | (hr_pending_ ? ghc_hr : 0); }
    uint32_t bohc() const { return bohc_; }
    bool implemented(unsigned port) const { return port < 32 && (pi_ >> port & 1); }

    // --- BAR5, at offsets from its start ---
    uint32_t mmio_read32(uint64_t off)
    {
        if (!touch(off)) return ~0u;
        tick();
        if (off < hba_reg_end) {
            switch (off) {
            case hba_reg::cap: return capabilities();
            case hba_reg::ghc: return ghc();
            case hba_reg::is: return is_;
            case hba_reg::pi: return pi_;
            case hba_reg::vs: return 0x00010301;
            case hba_reg::cap2: return opt.bios_handoff ? 1u : 0u;
            case hba_reg::bohc: return bohc_;
            default: return 0;
            }
        }
        unsigned i = 0;
        uint64_t r = 0;
        if (!port_access(off, &i, &r)) return 0;
        Port& p = ports[i];
        switch (r) {
        case port_reg::clb: return uint32_t(p.clb);
        case port_reg::clbu: return uint32_t(p.clb >> 32);
        case port_reg::fb: return uint32_t(p.fb);
        case port_reg::fbu: return uint32_t(p.fb >> 32);
        case port_reg::is: return p.is;
        case port_reg::ie: return p.ie;
        case port_reg::cmd: return p.cmd | p.ccs << 8 | (p.fr ? cmd_fr : 0) | (p.cr ? cmd_cr : 0);
        case port_reg::tfd: return p.tfd;
        case port_reg::sig: return p.sig;
        case port_reg::ssts: return p.ssts;
        case port_reg::sctl: return p.sctl;
        case port_reg::serr: return p.serr;
        case port_reg::sact: return p.sact;
        case port_reg::ci: return p.ci;
        default: return 0;
        }
    }

    void mmio_write32(uint64_t off, uint32_t v)
    {
        if (!touch(off)) return;
        tick();
        if (off < hba_reg_end) {
            switch (off) {
            case hba_reg::ghc: return write_ghc(v);
            case hba_reg::is:
                is_ &= ~v;
                for (unsigned i = 0; i < ports.size(); ++i)
                    if (ports[i].is & ports[i].ie) is_ |= 1u << i;  // still pending: set again
                return update_level();
            case hba_reg::bohc: return write_bohc(v);
            case hba_reg::cap:
            case hba_reg::pi:
            case hba_reg::vs:
            case hba_reg::cap2: return;  // read-only
            default: return violation("write to a reserved HBA register (" + hex(off) + ")");
            }
        }
        unsigned i = 0;
        uint64_t r = 0;
        if (!port_access(off, &i, &r)) return;
        Port& p = ports[i];
        switch (r) {
        case port_reg::clb:
        case port_reg::clbu:
            if ((p.cmd & cmd_st) || p.cr) violation("PxCLB written while the command list runs");
            if (r == port_reg::clb) {
                if (v & 0x3ff) violation("PxCLB not 1 KiB aligned");
                p.clb = (p.clb & ~0xffffffffull) | (v & ~0x3ffu);
            } else if (opt.s64a) {
                p.clb = (p.clb & 0xffffffffull) | uint64_t(v) << 32;
            } else if (v) {
                violation("PxCLBU set on an HBA without 64-bit addressing");
            }
            return;
        case port_reg::fb:
        case port_reg::fbu:
            if ((p.cmd & cmd_fre) || p.fr) violation("PxFB written while FIS reception runs");
            if (r == port_reg::fb) {
                if (v & 0xff) violation("PxFB not 256-byte aligned");
                p.fb = (p.fb & ~0xffffffffull) | (v & ~0xffu);
            } else if (opt.s64a) {
                p.fb = (p.fb & 0xffffffffull) | uint64_t(v) << 32;
            } else if (v) {
                violation("PxFBU set on an HBA without 64-bit addressing");
            }
            return;
        case port_reg::is:
            p.is &= ~(v & ~(is_pcs | is_prcs));  // those two follow PxSERR
            return update_level();
        case port_reg::ie:
            p.ie = v & ie_writable;
            if (p.is & p.ie) is_ |= 1u << i;
            return update_level();
        case port_reg::cmd: return write_cmd(i, v);
        case port_reg::tfd:
        case port_reg::sig:
        case port_reg::ssts: return;  // read-only
        case port_reg::sctl: return write_sctl(i, v);
        case port_reg::serr:
            p.serr &= ~v;
            if (!(p.serr & serr_x)) p.is &= ~is_pcs;
            if (!(p.serr & serr_n)) p.is &= ~is_prcs;
            return;
        case port_reg::sact:
            if (!(p.cmd & cmd_st)) return violation("PxSACT written while PxCMD.ST is clear");
            if (v & ~slot_mask()) violation("PxSACT bit beyond CAP.NCS");
            p.sact |= v & slot_mask();
            return;
        case port_reg::ci: return write_ci(i, v);
        default: return violation("write to a reserved port register (" + hex(r) + ")");
        }
    }

    // The device works: time-driven state, then what hold_io kept back.
    void service()
    {
        tick();
        for (unsigned i = 0; i < ports.size(); ++i) {
            if (!implemented(i)) continue;
            Port& p = ports[i];
            if (p.held) {
                Command c = std::move(*p.held);
                p.held.reset();
                complete_non_queued(i, c);
                run(i);
            }
            for (unsigned n = 0; n < completions_per_service && !p.queue.empty() && !p.halted; ++n)
                complete_queued(i, reverse_completion ? p.queue.size() - 1 : 0);
        }
    }

    // Each kind once: what comes before " (" names it, the rest is the
    // first example.
    void violation(std::string what)
    {
        std::string kind = what.substr(0, what.find(" ("));
        for (const std::string& v : violations)
            if (v.substr(0, v.find(" (")) == kind) return;
        violations.push_back(std::move(what));
    }

private:
    static constexpr uint64_t hba_reg_end = 0x100;

    static std::string hex(uint64_t v)
    {
        char b[24];
        std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
        return b;
    }
    uint32_t slot_mask() const { return opt.slots >= 32 ? ~0u : (1u << opt.slots) - 1; }
    bool bios_owns() const { return opt.bios_handoff && (bohc_ & (bohc_bos | bohc_bb)); }

    uint32_t capabilities() const
    {
        uint32_t c = uint32_t(ports.size() - 1) | uint32_t(opt.slots - 1) << 8 | 3u << 13 /* PSC, SSC */ |
                     3u << 20 /* Gen 3 */ | 1u << 24 /* SCLO */;
        if (opt.sss) c |= 1u << 27;
        if (opt.sncq) c |= 1u << 30;
        if (opt.s64a) c |= 1u << 31;
        return c;
    }

    bool touch(uint64_t off)
    {
        ++mmio_accesses;
        if (!(command() & 2)) {
            violation("BAR5 access with memory decoding off");
            return false;
        }
        if (off >= bar5_size || off % 4) {
            violation("BAR5 access off a register (" + hex(off) + ")");
            return false;
        }
        return true;
    }

    bool port_access(uint64_t off, unsigned* port, uint64_t* reg)
    {
        unsigned i = unsigned((off - hba_reg_end) / 0x80);
        if (i >= 32) return false;  // vendor space: reads 0, writes ignored
        if (!implemented(i)) {
            violation("access to a port not in PI (" + std::to_string(i) + ")");
            return false;
        }
        if (!(ghc_ & ghc_ae)) violation("port register accessed with GHC.AE clear");
        if (bios_owns()) violation("port register accessed while the BIOS owns the HBA");
        if (hr_pending_) violation("port register accessed during an HBA reset");
        *port = i;
        *reg = (off - hba_reg_end) % 0x80;
        return true;
    }

    // --- time ---
    void tick()
    {
        if (hr_pending_ && !opt.reset_never_done && clock_ns >= hr_done_at_) finish_reset();
        if (bios_release_pending_ && clock_ns >= bios_release_at_) {
            bohc_ &= ~(bohc_bos | bohc_bb);
            bios_release_pending_ = false;
        }
        for (unsigned i = 0; i < ports.size(); ++i)
            if (implemented(i)) update_port(i);
    }

    void update_port(unsigned i)
    {
        Port& p = ports[i];
        if (p.cr && !(p.cmd & cmd_st) && clock_ns >= p.cr_off_at) p.cr = false;
        if (p.fr && !(p.cmd & cmd_fre) && clock_ns >= p.fr_off_at) p.fr = false;
        if (p.link && !p.signature_sent && device_ready(p) && (!opt.signature_needs_fre || (p.cmd & cmd_fre)))
            send_signature(i);
    }

    bool device_ready(const Port& p) const
    {
        return p.setup.device != Attached::none && !p.setup.busy_forever && !p.srst && p.spun_up &&
               clock_ns >= p.spun_up_at + p.setup.busy_us * 1000;
    }

    // --- the HBA ---
    void write_ghc(uint32_t v)
    {
        if (v & ghc_hr) {
            if (bios_owns()) violation("HBA reset while the BIOS owns it");
            if (!hr_pending_) {
                hr_pending_ = true;
                hr_done_at_ = clock_ns + opt.reset_us * 1000;
            }
        }
        ghc_ = v & (ghc_ie | ghc_ae);
        if (hr_pending_ && !opt.reset_never_done && clock_ns >= hr_done_at_) finish_reset();
        update_level();
    }

    void finish_reset()
    {
        hr_pending_ = false;
        ++hba_resets;
        ghc_ = 0;
        is_ = 0;
        level_ = false;
        for (unsigned i = 0; i < ports.size(); ++i) {
            if (!implemented(i)) continue;
            reset_port(i);
            if (!opt.sss) link_up(i);
        }
    }

    void write_bohc(uint32_t v)
    {
        if (!opt.bios_handoff) return violation("BOHC written on an HBA without BIOS handoff");
        if (v & bohc_ooc) bohc_ &= ~bohc_ooc;
        bohc_ = (bohc_ & ~bohc_sooe) | (v & bohc_sooe);
        if ((v & bohc_oos) && !(bohc_ & bohc_oos)) {
            bohc_ |= bohc_oos | bohc_ooc;
            if (opt.bios_never_releases) {
                bohc_ |= bohc_bb;
            } else if (opt.bios_busy_us) {
                bohc_ |= bohc_bb;
                bios_release_pending_ = true;
                bios_release_at_ = clock_ns + opt.bios_busy_us * 1000;
            } else {
                bohc_ &= ~bohc_bos;
            }
        } else if (!(v & bohc_oos)) {
            bohc_ &= ~bohc_oos;
        }
    }

    // Interrupts: a PxIS bit newly set and enabled in PxIE sets IS.IPS and,
    // with GHC.IE, sends the MSI; so does IS becoming non-zero when the
    // host enables bits that are pending.
    void raise(unsigned i, uint32_t bits)
    {
        Port& p = ports[i];
        uint32_t fresh = bits & ~p.is;
        p.is |= bits;
        if (!(fresh & p.ie)) return;
        is_ |= 1u << i;
        if (ghc_ & ghc_ie) {
            send_msi();
            level_ = true;
        }
    }
    void update_level()
    {
        bool level = (ghc_ & ghc_ie) && is_;
        if (level && !level_) send_msi();
        level_ = level;
    }
    void send_msi()
    {
        if (!msi_enabled() || !(command() & 4)) return;
        if (msi_programmed_address() != msi_address || msi_programmed_data() != msi_data)
            return violation("MSI capability not programmed with the bound vector");
        ++interrupts;
        irq_pending = true;
    }

    // --- a port's link and device ---
    void reset_port(unsigned i)
    {
        Port& p = ports[i];
        p.is = p.ie = 0;
        p.cmd = cmd_pod | (opt.sss ? 0 : cmd_sud);
        p.tfd = 0x7f;
        p.sig = ~0u;
        p.ssts = p.sctl = p.serr = p.sact = p.ci = 0;
        p.cr = p.fr = false;
        p.unfetched = p.non_queued_ci = 0;
        p.ccs = 0;
        p.halted = false;
        p.link = false;
        p.signature_sent = false;
        device_reset(p);
    }
    void device_reset(Port& p)
    {
        p.ncq_error = false;
        p.srst = false;
        p.queue.clear();
        p.held.reset();
    }

    // COMINIT from the device: the link is up and the device busy until it
    // sends its signature.
    void link_up(unsigned i)
    {
        Port& p = ports[i];
        if (p.setup.device == Attached::none) {
            p.ssts = 0;
            return;
        }
        p.link = true;
        p.ssts = ssts_up;
        p.tfd = opt.signature_needs_fre ? 0x7f : sts_bsy;
        p.sig = ~0u;
        p.signature_sent = false;
        if (!p.spun_up) {
            p.spun_up = true;
            p.spun_up_at = clock_ns;
        }
        device_reset(p);
        p.serr |= serr_n | serr_x;
        raise(i, is_pcs | is_prcs);
        update_port(i);
    }
    void link_down(Port& p)
    {
        p.link = false;
        p.ssts = 0;
        p.tfd = 0x7f;
        p.sig = ~0u;
        p.signature_sent = false;
        device_reset(p);
    }

    // The device's first D2H register FIS after a reset. The HBA takes it
    // even with FRE clear (AHCI 3.3.7), but posts it only with FRE set.
    void send_signature(unsigned i)
    {
        Port& p = ports[i];
        bool atapi = p.setup.device == Attached::atapi;
        uint8_t status = atapi ? 0x00 : 0x50;
        p.sig = atapi ? signature_atapi : signature_ata;
        p.tfd = 0x100 | status;
        uint8_t f[20] = {};
        f[0] = 0x34;
        f[1] = 0x40;
        f[2] = status;
        f[3] = 0x01;
        f[4] = 0x01;
        f[5] = atapi ? 0x14 : 0x00;
        f[6] = atapi ? 0xeb : 0x00;
        f[12] = 0x01;
        post_fis(i, rfis_d2h, f, sizeof f);
        p.signature_sent = true;
        raise(i, is_dhrs);
    }

    void post_fis(unsigned i, uint64_t off, const uint8_t* f, size_t n)
    {
        Port& p = ports[i];
        if (!(p.cmd & cmd_fre)) return;
        if (!(command() & 4)) return violation("FIS received with bus mastering off");
        uint8_t* at = mem_.at(p.fb + off, n);
        if (!at) return violation("received-FIS area outside host memory");
        std::memcpy(at, f, n);
    }

    void write_cmd(unsigned i, uint32_t v)
    {
        Port& p = ports[i];
        bool st_was = p.cmd & cmd_st, fre_was = p.cmd & cmd_fre;
        bool st = v & cmd_st, fre = v & cmd_fre;
        if (opt.sss && (v & cmd_sud) && !(p.cmd & cmd_sud)) {
            p.cmd |= cmd_sud;
            link_up(i);
        }
        if (fre && !fre_was) {
            p.cmd |= cmd_fre;
            p.fr = true;
            for (unsigned j = 0; j < ports.size(); ++j) {
                const Port& q = ports[j];
                if (j != i && ((q.cmd & cmd_fre) || q.fr) && p.fb < q.fb + 256 && q.fb < p.fb + 256)
                    violation("ports " + std::to_string(j) + " and " + std::to_string(i) +
                              " receive FISes into the same memory (FRE set on both)");
            }
        }
        if (!fre && fre_was) {
            if (st_was || p.cr) violation("PxCMD.FRE cleared while the command list runs");
            p.cmd &= ~cmd_fre;
            p.fr_off_at = clock_ns + opt.stop_us * 1000;
            if (!opt.stop_us) p.fr = false;
        }
        if (v & cmd_clo) {
            if (st_was) violation("PxCMD.CLO set while ST is set");
            p.tfd &= ~uint32_t(sts_bsy | sts_drq);
        }
        p.cmd = (p.cmd & ~(cmd_writable & ~(cmd_st | cmd_fre))) | (v & cmd_writable & ~(cmd_st | cmd_fre));
        if (st && !st_was) {
            if (p.cr) violation("PxCMD.ST set before CR cleared");
            if (!(p.cmd & cmd_fre)) violation("PxCMD.ST set with FRE clear");
            if (p.tfd & (sts_bsy | sts_drq)) violation("PxCMD.ST set while the device is busy (TFD BSY or DRQ)");
            p.cmd |= cmd_st;
            p.cr = true;
            p.halted = false;
        }
        if (!st && st_was) {
            p.cmd &= ~cmd_st;
            p.ci = p.sact = 0;
            p.unfetched = p.non_queued_ci = 0;
            p.queue.clear();
            p.held.reset();
            p.halted = false;
            p.ccs = 0;
            p.cr_off_at = clock_ns + opt.stop_us * 1000;
            if (!opt.stop_us) p.cr = false;
        }
        update_port(i);
    }

    void write_sctl(unsigned i, uint32_t v)
    {
        Port& p = ports[i];
        uint32_t det = v & 0xf, old = p.sctl & 0xf;
        p.sctl = v & 0xfff;
        if (det == 1 && old != 1) {
            if (p.cmd & cmd_st) violation("COMRESET (PxSCTL.DET 1) while PxCMD.ST is set");
            ++p.comresets;
            p.comreset_at = clock_ns;
            link_down(p);
        } else if (det == 0 && old == 1) {
            if (clock_ns - p.comreset_at < 1000 * 1000) violation("COMRESET held less than 1 ms");
            link_up(i);
        } else if (det == 4 && old != 4) {
            link_down(p);
        } else if (det == 0 && old == 4) {
            link_up(i);
        } else if (det != old && det != 0) {
            violation("PxSCTL.DET reserved value (" + std::to_string(det) + ")");
        }
    }

    // --- commands ---
    // The command byte in slot's FIS, if the memory is there (no checks).
    bool peek_queued(unsigned i, unsigned slot)
    {
        Port& p = ports[i];
        const uint8_t* h = mem_.at(p.clb + 32ull * slot, 32);
        if (!h) return false;
        uint64_t ctba = get<uint32_t>(h, 8) | (opt.s64a ? uint64_t(get<uint32_t>(h, 12)) << 32 : 0);
        const uint8_t* t = mem_.at(ctba, 20);
        return t && (t[1] & 0x80) && (t[2] == ata::read_fpdma || t[2] == ata::write_fpdma);
    }

    void write_ci(unsigned i, uint32_t v)
    {
        Port& p = ports[i];
        if (!(p.cmd & cmd_st)) return violation("PxCI written while PxCMD.ST is clear");
        if (v & ~slot_mask()) violation("PxCI bit beyond CAP.NCS");
        v &= slot_mask();
        if (v & p.ci) violation("PxCI: 1 written for a slot still issued (read-modify-write?)");
        uint32_t fresh = v & ~p.ci;
        if (!fresh) return;
        uint32_t fresh_queued = 0, fresh_other = 0;
        for (unsigned s = 0; s < 32; ++s) {
            if (!(fresh >> s & 1)) continue;
            (peek_queued(i, s) ? fresh_queued : fresh_other) |= 1u << s;
            for (const Command& c : p.queue)
                if (c.slot == s) violation("slot reused while its queued command is outstanding");
        }
        if (fresh_other && ((p.sact & ~fresh) || !p.queue.empty() || fresh_queued))
            violation("a non-queued command issued while queued commands are outstanding");
        if (fresh_queued && p.non_queued_ci) violation("a queued command issued while a non-queued one is outstanding");
        p.ci |= fresh;
        p.non_queued_ci |= fresh_other;
        p.unfetched |= fresh;
        run(i);
    }

    void run(unsigned i)
    {
        Port& p = ports[i];
        while (!p.halted && (p.cmd & cmd_st) && p.unfetched && !p.held) {
            unsigned slot = unsigned(__builtin_ctz(p.unfetched));
            p.unfetched &= ~(1u << slot);
            p.ccs = slot;
            Command c;
            if (!fetch(i, slot, c)) {  // a host bus fatal error
                p.halted = true;
                ++p.errors;
                raise(i, is_hbfs);
                return;
            }
            dispatch(i, c);
        }
    }

    bool fetch(unsigned i, unsigned slot, Command& c)
    {
        Port& p = ports[i];
        if (!(command() & 4)) violation("command fetched with bus mastering off");
        const uint8_t* h = mem_.at(p.clb + 32ull * slot, 32);
        if (!h) {
            violation("command list outside host memory");
            return false;
        }
        c.slot = slot;
        c.flags = get<uint16_t>(h, 0);
        c.prdtl = get<uint16_t>(h, 2);
        uint32_t ctbau = get<uint32_t>(h, 12);
        if (!opt.s64a && ctbau) violation("CTBAU set on an HBA without 64-bit addressing");
        c.ctba = get<uint32_t>(h, 8) | (opt.s64a ? uint64_t(ctbau) << 32 : 0);
        if (c.ctba % 128) violation("command table not 128-byte aligned");
        if ((c.flags & 0x1f) != 5) violation("command header CFL not 5 (" + std::to_string(c.flags & 0x1f) + ")");
        if (c.flags & hdr_atapi) violation("command header A (ATAPI) set");
        if (c.flags & hdr_bist) violation("command header B (BIST) set");
        if (c.flags >> 12) violation("command header PMP not 0");
        const uint8_t* t = mem_.at(c.ctba, 0x80 + 16ull * c.prdtl);
        if (!t) {
            violation("command table outside host memory");
            return false;
        }
        std::memcpy(c.fis, t, sizeof c.fis);
        c.image = image(h, t, c.prdtl);
        return true;
    }

    static std::vector<uint8_t> image(const uint8_t* h, const uint8_t* t, uint16_t prdtl)
    {
        std::vector<uint8_t> v(h, h + 4);
        v.insert(v.end(), h + 8, h + 32);
        v.insert(v.end(), t, t + 0x80 + 16 * size_t(prdtl));
        return v;
    }

    void check_unchanged(unsigned i, const Command& c)
    {
        Port& p = ports[i];
        const uint8_t* h = mem_.at(p.clb + 32ull * c.slot, 32);
        const uint8_t* t = mem_.at(c.ctba, 0x80 + 16ull * c.prdtl);
        if (!h || !t || image(h, t, c.prdtl) != c.image)
            violation("command header or table changed while its command was outstanding");
    }

    void dispatch(unsigned i, Command& c)
    {
        Port& p = ports[i];
        ++p.commands;
        if (c.fis[0] != 0x27) {
            violation("command FIS not a register H2D FIS (type " + hex(c.fis[0]) + ")");
            return fail_non_queued(i, c, err_abrt);
        }
        if (c.fis[1] & 0x0f) violation("FIS PM port not 0");
        if (!(c.fis[1] & 0x80)) return control(i, c);
        if (c.flags & hdr_reset) violation("command header R set for a command FIS");
        uint8_t op = c.fis[2];
        if (op == ata::read_fpdma || op == ata::write_fpdma) return accept_queued(i, c);
        if (p.sact >> c.slot & 1) violation("non-queued command in a slot whose PxSACT bit is set");
        bool data_or_flush =
            op == ata::read_dma_ext || op == ata::write_dma_ext || op == ata::flush || op == ata::flush_ext;
        if (hold_io && data_or_flush) {
            p.tfd = (p.tfd & 0xff00) | 0xd0;
            p.held = std::move(c);
            return;
        }
        complete_non_queued(i, c);
    }

    // A FIS without the C bit: the device control register (SRST).
    void control(unsigned i, Command& c)
    {
        Port& p = ports[i];
        uint32_t bit = 1u << c.slot;
        p.ci &= ~bit;
        p.non_queued_ci &= ~bit;
        if (c.fis[15] & 0x04) {
            if (!(c.flags & hdr_clear)) violation("SRST asserted without the command header's C bit");
            ++p.soft_resets;
            device_reset(p);
            p.srst = true;
            p.signature_sent = false;
            p.tfd = sts_bsy;
        } else if (p.srst) {
            p.srst = false;
            update_port(i);
        }
    }

    void accept_queued(unsigned i, Command& c)
    {
        Port& p = ports[i];
        uint32_t bit = 1u << c.slot;
        unsigned tag = c.fis[12] >> 3;
        if (!opt.sncq) violation("queued command on an HBA without CAP.SNCQ");
        if (!(p.sact & bit)) violation("queued command issued without its PxSACT bit");
        if (tag != c.slot)
            violation("queued command's tag not its slot (tag " + std::to_string(tag) + " in slot " +
                      std::to_string(c.slot) + ")");
        if (p.setup.device != Attached::disk || !p.setup.ncq) {
            violation("queued command to a device without NCQ");
            return fail_non_queued(i, c, err_abrt);
        }
        if (tag >= p.setup.queue_depth) violation("queued command's tag beyond the device's queue depth");
        if (p.ncq_error) return fail_non_queued(i, c, err_abrt);  // the device refuses it
        // The device takes it, clearing BSY with a register FIS (I clear).
        p.ci &= ~bit;
        p.tfd = 0x50;
        uint8_t f[20] = {0x34, 0x00, 0x50, 0x00};
        post_fis(i, rfis_d2h, f, sizeof f);
        p.queue.push_back(std::move(c));
        ++p.queued_commands;
        p.max_in_flight = std::max(p.max_in_flight, unsigned(p.queue.size()));
        if (p.queue.size() > p.setup.queue_depth) violation("more queued commands than the device's queue depth");
        if (!hold_io) complete_queued(i, p.queue.size() - 1);
    }

    struct Outcome {
        bool ok = true;
        uint8_t error = 0;
        bool pio = false;
        bool prd_interrupt = false;
        uint32_t bytes = 0;
    };

    void write_prdbc(unsigned i, const Command& c, uint32_t bytes)
    {
        uint8_t* h = mem_.at(ports[i].clb + 32ull * c.slot, 32);
        if (h) put<uint32_t>(h, 4, bytes);
    }

    void complete_non_queued(unsigned i, Command& c)
    {
        Port& p = ports[i];
        check_unchanged(i, c);
        Outcome o = execute(i, c, false);
        write_prdbc(i, c, o.bytes);
        if (!o.ok) return fail_non_queued(i, c, o.error);
        uint32_t bit = 1u << c.slot;
        p.ci &= ~bit;
        p.non_queued_ci &= ~bit;
        p.tfd = 0x50;
        if (o.pio) {  // PIO data-in ends with the PIO Setup FIS's E_Status
            uint8_t f[20] = {0x5f, 0x60, 0x58, 0x00};
            f[15] = 0x50;
            put<uint16_t>(f, 16, uint16_t(o.bytes));
            post_fis(i, rfis_pio, f, sizeof f);
        } else {
            uint8_t f[20] = {0x34, 0x40, 0x50, 0x00};
            post_fis(i, rfis_d2h, f, sizeof f);
        }
        raise(i, (o.pio ? is_pss : is_dhrs) | (o.prd_interrupt ? is_dps : 0));
    }

    void fail_non_queued(unsigned i, const Command& c, uint8_t error)
    {
        Port& p = ports[i];
        p.tfd = uint32_t(error) << 8 | 0x51;
        uint8_t f[20] = {0x34, 0x40, 0x51, error};
        post_fis(i, rfis_d2h, f, sizeof f);
        p.halted = true;
        p.ccs = c.slot;
        ++p.errors;
        raise(i, is_dhrs | is_tfes);
    }

    void complete_queued(unsigned i, size_t index)
    {
        Port& p = ports[i];
        Command c = p.queue[index];
        check_unchanged(i, c);
        Outcome o = execute(i, c, true);
        write_prdbc(i, c, o.bytes);
        uint8_t f[8] = {0xa1, 0x40, 0x50, 0x00};
        if (o.ok) {
            p.queue.erase(p.queue.begin() + long(index));
            p.sact &= ~(1u << c.slot);
            put<uint32_t>(f, 4, 1u << c.slot);
            p.tfd = (p.tfd & uint32_t(sts_bsy | sts_drq)) | 0x50;
            post_fis(i, rfis_sdb, f, sizeof f);
            raise(i, is_sdbs | (o.prd_interrupt ? is_dps : 0));
            return;
        }
        // The device aborts every queued command: an SDB FIS with ERR and no
        // SActive bits; the host finds out which failed from log 10h.
        p.ncq_error = p.setup.ncq_error_needs_log;
        std::memset(p.error_log, 0, sizeof p.error_log);
        p.error_log[0] = uint8_t(c.slot);
        p.error_log[2] = 0x51;
        p.error_log[3] = o.error;
        std::memcpy(p.error_log + 4, c.fis + 4, 7);
        std::memcpy(p.error_log + 8, c.fis + 8, 3);
        p.error_log[12] = c.fis[3];
        p.error_log[13] = c.fis[11];
        uint8_t sum = 0;
        for (unsigned b = 0; b < 511; ++b) sum = uint8_t(sum + p.error_log[b]);
        p.error_log[511] = uint8_t(-sum);
        p.queue.clear();
        f[2] = 0x51;
        f[3] = o.error;
        p.tfd = (p.tfd & uint32_t(sts_bsy | sts_drq)) | 0x51 | uint32_t(o.error) << 8;
        post_fis(i, rfis_sdb, f, sizeof f);
        p.halted = true;
        ++p.errors;
        raise(i, is_sdbs | is_tfes);
    }

    static Outcome aborted() { return {false, err_abrt}; }

    Outcome execute(unsigned i, const Command& c, bool queued)
    {
        Port& p = ports[i];
        const uint8_t* f = c.fis;
        uint8_t op = f[2];
        bool w = c.flags & hdr_write;
        uint64_t lba = uint64_t(f[4]) | uint64_t(f[5]) << 8 | uint64_t(f[6]) << 16 | uint64_t(f[8]) << 24 |
                       uint64_t(f[9]) << 32 | uint64_t(f[10]) << 40;
        bool read_log = op == ata::read_log_ext || op == ata::read_log_dma_ext;
        if (p.setup.device == Attached::atapi) {
            if (op != ata::identify_packet) return aborted();  // with the signature in the registers
            uint8_t id[512] = {};
            put<uint16_t>(id, 0, 0x85c0);
            return data_in(c, id, sizeof id, true);
        }
        if (p.ncq_error && !(read_log && f[4] == ata::ncq_error_log)) return aborted();
        if (w && (op == ata::identify || read_log || op == ata::read_dma_ext || op == ata::read_fpdma))
            violation("command header W set for a read");
        switch (op) {
        case ata::identify: {
            ++p.identifies;
            uint8_t id[512];
            identify_data(p.setup, id);
            return data_in(c, id, sizeof id, true);
        }
        case ata::read_dma_ext:
        case ata::write_dma_ext:
        case ata::read_fpdma:
        case ata::write_fpdma: {
            bool write = op == ata::write_dma_ext || op == ata::write_fpdma;
            if (write && !w) violation("command header W clear for a write");
            if (!(f[7] & 0x40)) violation("device register's LBA bit clear");
            if (!queued && !p.setup.lba48) return aborted();
            uint32_t count = queued ? uint32_t(f[3] | f[11] << 8) : uint32_t(f[12] | f[13] << 8);
            if (!count) count = 65536;
            const uint64_t size = p.setup.sector_size;
            if (lba >= p.setup.sectors || count > p.setup.sectors - lba) {
                violation("read or write past the end of the disk");
                return {false, err_idnf};
            }
            for (uint64_t l = lba; l < lba + count; ++l)
                if (p.failing_lbas.count(l)) return {false, err_unc};
            (write ? p.writes : p.reads) += 1;
            Outcome o;
            o.bytes = transfer(c, p.disk.data() + lba * size, count * size, !write, &o.prd_interrupt);
            return o;
        }
        case ata::flush_ext:
            if (!p.setup.lba48) return aborted();
            [[fallthrough]];
        case ata::flush:
            if (w) violation("command header W set for a flush");
            ++p.flushes;
            return {};
        case ata::read_log_ext:
        case ata::read_log_dma_ext: {
            if (f[4] != ata::ncq_error_log || f[5] != 0 || (f[12] | f[13] << 8) != 1) return aborted();
            ++p.log_reads;
            uint8_t log[512];
            std::memcpy(log, p.error_log, sizeof log);
            p.ncq_error = false;
            std::memset(p.error_log, 0, sizeof p.error_log);
            return data_in(c, log, sizeof log, op == ata::read_log_ext);
        }
        default: return aborted();
        }
    }

    Outcome data_in(const Command& c, uint8_t* data, uint32_t len, bool pio)
    {
        Outcome o;
        o.pio = pio;
        o.bytes = transfer(c, data, len, true, &o.prd_interrupt);
        return o;
    }

    // Moves len bytes between `data` and host memory by the command's PRDT;
    // the bytes moved.
    uint32_t transfer(const Command& c, uint8_t* data, uint64_t len, bool to_host, bool* interrupt)
    {
        if (!(command() & 4)) violation("DMA with bus mastering off");
        uint64_t moved = 0;
        for (unsigned e = 0; e < c.prdtl && moved < len; ++e) {
            const uint8_t* prd = mem_.at(c.ctba + 0x80 + 16ull * e, 16);
            if (!prd) {
                violation("PRDT outside host memory");
                break;
            }
            uint32_t dbau = get<uint32_t>(prd, 4), dw3 = get<uint32_t>(prd, 12);
            if (!opt.s64a && dbau) violation("PRD DBAU set on an HBA without 64-bit addressing");
            uint64_t dba = get<uint32_t>(prd, 0) | (opt.s64a ? uint64_t(dbau) << 32 : 0);
            if (dba & 1) violation("PRD data base address not word aligned");
            if (!(dw3 & 1)) violation("PRD byte count odd (DBC bit 0 clear)");
            if (dw3 & 0x7fc00000) violation("PRD reserved bits set");
            uint64_t n = std::min<uint64_t>((dw3 & 0x3fffff) + 1, len - moved);
            uint8_t* host = mem_.at(dba, n);
            if (!host) {
                violation("PRD data buffer outside host memory");
                break;
            }
            if (to_host) std::memcpy(host, data + moved, n);
            else std::memcpy(data + moved, host, n);
            moved += n;
            if (dw3 >> 31) *interrupt = true;
        }
        if (moved < len)
            violation("PRDT describes fewer bytes than the command transfers (" + std::to_string(moved) + " of " +
                      std::to_string(len) + ")");
        return uint32_t(moved);
    }

    SimMemory& mem_;
    uint8_t cfg_[256] = {};
    uint8_t cfg_writable_[256] = {};
    uint32_t pi_ = 0, ghc_ = 0, is_ = 0, bohc_ = 0;
    bool level_ = false;
    bool hr_pending_ = false;
    uint64_t hr_done_at_ = 0;
    bool bios_release_pending_ = false;
    uint64_t bios_release_at_ = 0;
};

// The window of part of BAR5.
class SimWindow final : public drivers::MmioWindow {
public:
    SimWindow(SimAhci& dev, uint64_t offset) : dev_(&dev), offset_(offset) {}
    uint32_t read32(uint64_t off) override { return dev_->mmio_read32(offset_ + off); }
    void write32(uint64_t off, uint32_t v) override { dev_->mmio_write32(offset_ + off, v); }
    uint16_t read16(uint64_t off) override { return uint16_t(read32(off & ~3ull) >> 8 * (off & 2)); }
    uint8_t read8(uint64_t off) override { return uint8_t(read32(off & ~3ull) >> 8 * (off & 3)); }
    void write16(uint64_t, uint16_t) override { dev_->violation("16-bit register write"); }
    void write8(uint64_t, uint8_t) override { dev_->violation("8-bit register write"); }

private:
    SimAhci* dev_;
    uint64_t offset_;
};

// DevicePlatform over the simulated HBA, with a simulated clock: delays and
// waits advance it instead of taking time, so a timeout costs the test
// nothing and a driver that never gives up is caught.
class SimPlatform final : public drivers::DevicePlatform {
public:
    static constexpr uint32_t event = 9;
    static constexpr uint64_t hang_ns = 3600ull * 1000 * 1000 * 1000;
    unsigned events_fired = 0, waits = 0, wait_timeouts = 0, msi_binds = 0;

    SimPlatform(SimAhci& dev, SimMemory& mem) : dev_(dev), mem_(mem) {}

    lib::Result<drivers::MmioWindow*> map_mmio(uint64_t phys, uint64_t size) override
    {
        uint64_t base = dev_.bar5();
        if (!dev_.opt.bar5 || phys % page || size % page || phys < base || size > bar5_size ||
            phys - base > bar5_size - size)
            return lib::Error::not_found;
        windows_.push_back(std::make_unique<SimWindow>(dev_, phys - base));
        return windows_.back().get();
    }
    lib::Result<drivers::DmaBuffer> alloc_dma(size_t size) override
    {
        if (size == 0 || size % page || size > (2u << 20)) {
            dev_.violation("alloc_dma of a bad size (" + std::to_string(size) + " bytes)");
            return lib::Error::invalid;
        }
        uint8_t* p = mem_.alloc(size);
        if (!p) return lib::Error::no_memory;
        return drivers::DmaBuffer{p, reinterpret_cast<uintptr_t>(p), size};
    }
    lib::Result<drivers::MsiVector> bind_msi() override
    {
        ++msi_binds;
        dev_.msi_address = 0xfee01000;
        dev_.msi_data = 0x4052;
        return drivers::MsiVector{dev_.msi_address, dev_.msi_data, event};
    }
    bool wait_event(uint32_t ev, uint64_t timeout_ns) override
    {
        ++waits;
        if (ev != event || !msi_binds) dev_.violation("wait for an event never bound");
        dev_.service();  // the device works while the host sleeps
        if (dev_.irq_pending) {
            dev_.irq_pending = false;
            ++events_fired;
            return true;
        }
        ++wait_timeouts;
        advance(timeout_ns);
        return false;
    }
    uint64_t now_ns() override
    {
        advance(1000);
        return dev_.clock_ns;
    }
    void delay_us(uint64_t us) override { advance(us * 1000); }

private:
    void advance(uint64_t ns)
    {
        dev_.clock_ns += ns;
        if (dev_.clock_ns > hang_ns) {
            std::fprintf(stderr, "the driver waited an hour of simulated time: a hang\n");
            std::abort();
        }
    }

    SimAhci& dev_;
    SimMemory& mem_;
    std::vector<std::unique_ptr<SimWindow>> windows_;
};

}  // namespace ahci_sim
