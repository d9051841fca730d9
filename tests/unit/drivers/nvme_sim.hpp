// A simulated NVMe 1.4 controller for drivers/nvme's host tests: PCI
// configuration space (class code, a 64-bit BAR0 that sizes like hardware,
// an MSI-X capability whose table lives in BAR0), the controller registers
// and doorbells on BAR0, and the admin and NVM commands the driver uses run
// against an in-memory disk. It reads the host's queues and PRPs from
// SimMemory (a DMA bus address is the host pointer) and decodes every
// structure from the spec's byte offsets, independently of the driver's
// structs. Whatever the host does against the spec (a misplaced doorbell, a
// bad PRP, a reused command identifier, DMA outside memory it allocated...)
// is recorded in `violations`, which every test expects empty.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "drivers/platform/device_platform.hpp"

namespace nvme_sim {

inline constexpr uint64_t page = 4096;

// The host's DMA memory: every buffer alloc_dma handed out; below 4 GiB on
// request (for an HBA without 64-bit addressing).
class SimMemory {
public:
    explicit SimMemory(bool below_4g = false) : below_4g_(below_4g) {}
    SimMemory(const SimMemory&) = delete;
    SimMemory& operator=(const SimMemory&) = delete;
    ~SimMemory()
    {
        for (auto& [p, size] : buffers_) {
            if (below_4g_) munmap(p, size);
            else std::free(p);
        }
    }
    static bool below_4g_available()
    {
#ifdef MAP_32BIT
        return true;
#else
        return false;
#endif
    }
    // size: a multiple of the page size.
    uint8_t* alloc(size_t size)
    {
        uint8_t* p = nullptr;
        if (below_4g_) {
#ifdef MAP_32BIT
            void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
            if (m == MAP_FAILED) return nullptr;
            p = static_cast<uint8_t*>(m);
#endif
        } else {
            p = static_cast<uint8_t*>(std::aligned_alloc(page, size));
        }
        if (!p) return nullptr;
        std::memset(p, 0, size);
        buffers_.push_back({p, size});
        return p;
    }
    // The host bytes at [bus, bus + len) if one buffer holds them all.
    uint8_t* at(uint64_t bus, uint64_t len)
    {
        for (auto& [p, size] : buffers_) {
            uint64_t base = reinterpret_cast<uintptr_t>(p);
            if (bus >= base && len <= size && bus - base <= size - len) return p + (bus - base);
        }
        return nullptr;
    }

private:
    bool below_4g_;
    std::vector<std::pair<uint8_t*, size_t>> buffers_;
};

struct SimOptions {
    uint32_t class_code = 0x010802;
    uint32_t sector_size = 512;  // a power of two: LBADS
    uint16_t metadata_bytes = 0;
    uint64_t sectors = 8192;
    uint16_t mqes = 255;  // 0-based
    uint8_t dstrd = 0;
    uint8_t mdts = 5;     // 128 KiB
    bool vwc = true;
    bool start_enabled = false;     // firmware left it running
    bool fatal_on_enable = false;   // CSTS.CFS instead of RDY
    bool never_ready = false;       // CSTS.RDY stays 0
    bool admin_never_answers = false;
};

inline constexpr uint64_t bar0_base = 0x8'0000'0000ull;  // above 4 GiB: both BAR halves matter
inline constexpr uint64_t bar0_size = 0x4000;
inline constexpr uint64_t msix_table = 0x2000, msix_pba = 0x3000;
inline constexpr unsigned msix_entries = 4;
inline constexpr uint8_t msix_cap = 0x40;
inline constexpr uint32_t timeout_500ms = 20;  // CAP.TO: 10 s

inline constexpr const char* model = "Simulated NVMe Controller";
inline constexpr const char* serial = "SIM-SERIAL-0001";

template <typename T> T get(const uint8_t* p, size_t off)
{
    T v;
    std::memcpy(&v, p + off, sizeof v);
    return v;
}
template <typename T> void put(uint8_t* p, size_t off, T v) { std::memcpy(p + off, &v, sizeof v); }

class SimNvme final : public drivers::PciConfig {
public:
    SimOptions opt;
    std::vector<uint8_t> disk;
    std::vector<std::string> violations;
    // What the host made it do.
    unsigned reads = 0, writes = 0, flushes = 0, io_commands = 0, mmio_accesses = 0;
    unsigned two_page_transfers = 0, prp_list_transfers = 0, io_cq_wraps = 0, interrupts = 0, io_interrupts = 0;
    unsigned io_sq_depth = 0, io_cq_depth = 0;
    bool queue_count_set = false;
    uint32_t cc_at_enable = 0;
    // Reads and writes touching these LBAs fail with Unrecovered Read Error.
    std::set<uint64_t> failing_lbas;
    // I/O submissions wait for service() instead of running at the doorbell.
    bool hold_io = false;
    bool irq_pending = false;
    // The message MSI-X entry 0 must carry for an interrupt to reach the host.
    uint64_t msi_address = 0;
    uint32_t msi_data = 0;

    SimNvme(SimMemory& mem, SimOptions o) : opt(o), disk(o.sectors * o.sector_size), mem_(mem)
    {
        put<uint16_t>(cfg_, 0x00, 0x1b36);  // QEMU's vendor and NVMe device IDs
        put<uint16_t>(cfg_, 0x02, 0x0010);
        put<uint16_t>(cfg_, 0x06, 0x0010);  // status: capability list
        put<uint32_t>(cfg_, 0x08, opt.class_code << 8 | 0x02);
        put<uint32_t>(cfg_, 0x10, uint32_t(bar0_base) | 0x4);  // memory, 64-bit
        put<uint32_t>(cfg_, 0x14, uint32_t(bar0_base >> 32));
        cfg_[0x34] = msix_cap;
        cfg_[msix_cap] = 0x11;
        cfg_[msix_cap + 1] = 0;
        put<uint16_t>(cfg_, msix_cap + 2, msix_entries - 1);
        put<uint32_t>(cfg_, msix_cap + 4, uint32_t(msix_table));  // BIR 0
        put<uint32_t>(cfg_, msix_cap + 8, uint32_t(msix_pba));
        cfg_writable_[0x04] = cfg_writable_[0x05] = 0xff;
        uint32_t bar_mask = ~uint32_t(bar0_size - 1) & ~0xfu;
        for (unsigned i = 0; i < 4; ++i) {
            cfg_writable_[0x10 + i] = uint8_t(bar_mask >> 8 * i);
            cfg_writable_[0x14 + i] = 0xff;
        }
        cfg_writable_[msix_cap + 3] = 0xc0;  // MSI-X enable, function mask
        for (auto& e : msix_) e[3] = 1;     // entries start masked
        if (opt.start_enabled) {
            cc_ = 1;
            csts_ = 1;
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
        for (unsigned i = 0; i < width && reg + i < 256; ++i)
            cfg_[reg + i] = uint8_t((cfg_[reg + i] & ~cfg_writable_[reg + i]) | (uint8_t(value >> 8 * i) & cfg_writable_[reg + i]));
    }
    uint64_t bar0() { return (read(0x10, 4) & ~0xfull) | uint64_t(read(0x14, 4)) << 32; }
    uint16_t command() { return uint16_t(read(0x04, 2)); }

    // --- BAR0, at offsets from its start ---
    uint32_t mmio_read32(uint64_t off)
    {
        if (!touch(off)) return ~0u;
        if (off == 0x00) return uint32_t(capabilities());
        if (off == 0x04) return uint32_t(capabilities() >> 32);
        if (off == 0x08) return 0x00010400;  // 1.4
        if (off == 0x14) return cc_;
        if (off == 0x1c) return csts_;
        if (off == 0x24) return aqa_;
        if (off == 0x28 || off == 0x2c) return uint32_t(asq_ >> (off == 0x2c ? 32 : 0));
        if (off == 0x30 || off == 0x34) return uint32_t(acq_ >> (off == 0x34 ? 32 : 0));
        if (off >= msix_table && off < msix_table + 16 * msix_entries) return msix_[(off - msix_table) / 16][(off % 16) / 4];
        return 0;
    }
    void mmio_write32(uint64_t off, uint32_t v)
    {
        if (!touch(off)) return;
        if (off == 0x14) return write_cc(v);
        if (off >= 0x24 && off < 0x38) {
            if (cc_ & 1) violation("admin queue registers written while enabled");
            if (off == 0x24) aqa_ = v;
            if (off == 0x28) asq_ = (asq_ & ~0xffffffffull) | v;
            if (off == 0x2c) asq_ = (asq_ & 0xffffffffull) | uint64_t(v) << 32;
            if (off == 0x30) acq_ = (acq_ & ~0xffffffffull) | v;
            if (off == 0x34) acq_ = (acq_ & 0xffffffffull) | uint64_t(v) << 32;
            return;
        }
        if (off >= 0x1000 && off < msix_table) return doorbell(off - 0x1000, v);
        if (off >= msix_table && off < msix_table + 16 * msix_entries) {
            msix_[(off - msix_table) / 16][(off % 16) / 4] = v;
            return;
        }
        violation("write to register " + std::to_string(off));
    }

    // Runs the I/O submissions hold_io kept back.
    void service()
    {
        if (io_sq_.size) run(io_sq_);
    }
    const uint32_t* msix_entry(unsigned i) const { return msix_[i]; }

private:
    struct Queue {
        uint64_t base = 0;
        uint32_t size = 0;  // 0: does not exist
        uint32_t head = 0, tail = 0;
        bool phase = true;
        bool interrupts = true;
        uint16_t id = 0;
    };

    void violation(std::string what) { violations.push_back(std::move(what)); }

    bool touch(uint64_t off)
    {
        ++mmio_accesses;
        if (!(command() & 2)) {
            violation("BAR0 access with memory decoding off");
            return false;
        }
        if (off >= bar0_size || off % 4) {
            violation("BAR0 access at " + std::to_string(off));
            return false;
        }
        return true;
    }

    uint64_t capabilities() const
    {
        return uint64_t(opt.mqes) | 1ull << 16 /* CQR */ | uint64_t(timeout_500ms) << 24 |
               uint64_t(opt.dstrd) << 32 | 1ull << 37 /* NVM */ | 0ull << 48 /* MPSMIN */ | 4ull << 52;
    }

    void write_cc(uint32_t v)
    {
        uint32_t old = cc_;
        cc_ = v;
        if (!(old & 1) && (v & 1)) enable(v);
        if ((old & 1) && !(v & 1)) reset();
    }

    void enable(uint32_t v)
    {
        cc_at_enable = v;
        if (((v >> 4) & 7) != 0 || ((v >> 7) & 0xf) != 0 || ((v >> 11) & 7) != 0) violation("CC: CSS, MPS or AMS not 0");
        if (((v >> 16) & 0xf) != 6 || ((v >> 20) & 0xf) != 4) violation("CC: IOSQES/IOCQES not 6/4");
        if ((aqa_ & 0xfff) == 0 || ((aqa_ >> 16) & 0xfff) == 0) violation("AQA: admin queues of one entry");
        if (asq_ % page || acq_ % page || !asq_ || !acq_) violation("ASQ/ACQ not page aligned");
        if (opt.fatal_on_enable) {
            csts_ = 2;
            return;
        }
        if (opt.never_ready) return;
        admin_sq_ = {asq_, (aqa_ & 0xfff) + 1, 0, 0, true, true, 0};
        admin_cq_ = {acq_, ((aqa_ >> 16) & 0xfff) + 1, 0, 0, true, true, 0};
        csts_ = 1;
    }

    void reset()
    {
        csts_ = 0;
        admin_sq_ = admin_cq_ = io_sq_ = io_cq_ = {};
        live_cids_.clear();
    }

    void doorbell(uint64_t rel, uint32_t v)
    {
        uint64_t stride = 4ull << opt.dstrd;
        if (rel % stride) return violation("doorbell off the stride at " + std::to_string(rel));
        uint64_t index = rel / stride;
        Queue* q = index == 0 ? &admin_sq_ : index == 1 ? &admin_cq_ : index == 2 ? &io_sq_ : index == 3 ? &io_cq_ : nullptr;
        if (!(csts_ & 1) || !q || !q->size) return violation("doorbell of a queue that does not exist");
        if (v >= q->size) return violation("doorbell value past the queue");
        if (index % 2) {  // completion queue head: the entries before it are consumed
            for (uint32_t i = q->head; i != v; i = (i + 1) % q->size)
                if (q == &io_cq_) live_cids_.erase(posted_cid_[i]);
            q->head = v;
            return;
        }
        q->tail = v;
        if (!(command() & 4)) return violation("submission with bus mastering off");
        if (q == &admin_sq_ && !opt.admin_never_answers) run(*q);
        if (q == &io_sq_ && !hold_io) run(*q);
    }

    void run(Queue& sq)
    {
        while (sq.head != sq.tail) {
            const uint8_t* e = mem_.at(sq.base + 64ull * sq.head, 64);
            sq.head = (sq.head + 1) % sq.size;
            if (!e) return violation("submission queue outside host memory");
            uint8_t cmd[64];
            std::memcpy(cmd, e, 64);
            uint16_t cid = get<uint16_t>(cmd, 2);
            if (cmd[1] != 0) violation("FUSE or PSDT set");
            uint32_t dw0 = 0;
            uint16_t status = &sq == &admin_sq_ ? admin(cmd, &dw0) : io(cmd, cid);
            post(&sq == &admin_sq_ ? admin_cq_ : io_cq_, sq, cid, status, dw0);
        }
    }

    void post(Queue& cq, const Queue& sq, uint16_t cid, uint16_t status, uint32_t dw0)
    {
        if ((cq.tail + 1) % cq.size == cq.head) return violation("completion queue full");
        uint8_t* e = mem_.at(cq.base + 16ull * cq.tail, 16);
        if (!e) return violation("completion queue outside host memory");
        if (&cq == &io_cq_) posted_cid_[cq.tail] = cid;
        put<uint32_t>(e, 0, dw0);
        put<uint32_t>(e, 4, 0);
        put<uint16_t>(e, 8, uint16_t(sq.head));
        put<uint16_t>(e, 10, sq.id);
        put<uint16_t>(e, 12, cid);
        put<uint16_t>(e, 14, uint16_t(status << 1 | (cq.phase ? 1 : 0)));  // the phase tag last
        if (++cq.tail == cq.size) {
            cq.tail = 0;
            cq.phase = !cq.phase;
            if (&cq == &io_cq_) ++io_cq_wraps;
        }
        if (cq.interrupts && interrupt() && &cq == &io_cq_) ++io_interrupts;
    }

    // MSI-X entry 0: the only vector either queue uses.
    bool interrupt()
    {
        uint16_t control = uint16_t(read(msix_cap + 2, 2));
        if (!(control & 0x8000) || (control & 0x4000) || (msix_[0][3] & 1)) return false;
        if ((msix_[0][0] | uint64_t(msix_[0][1]) << 32) != msi_address || msix_[0][2] != msi_data) {
            violation("MSI-X entry 0 not the bound vector");
            return false;
        }
        ++interrupts;
        irq_pending = true;
        return true;
    }

    // Copies len bytes between host memory (by PRP1/PRP2, lists included)
    // and `data`; false (and a violation) if the PRPs are wrong.
    bool transfer(const uint8_t* cmd, uint8_t* data, uint64_t len, bool to_host)
    {
        uint64_t prp1 = get<uint64_t>(cmd, 24), prp2 = get<uint64_t>(cmd, 32);
        auto copy = [&](uint64_t bus, uint64_t n) {
            uint8_t* host = mem_.at(bus, n);
            if (!host) {
                violation("PRP outside host memory");
                return false;
            }
            if (to_host) std::memcpy(host, data, n);
            else std::memcpy(data, host, n);
            data += n;
            len -= n;
            return true;
        };
        if (prp1 % 4) {
            violation("PRP1 not dword aligned");
            return false;
        }
        uint64_t first = std::min(len, page - prp1 % page);
        if (!copy(prp1, first)) return false;
        if (!len) return true;
        if (len <= page) {
            if (prp2 % page) {
                violation("PRP2 not a page");
                return false;
            }
            ++two_page_transfers;
            return copy(prp2, len);
        }
        if (prp2 % 8) {
            violation("PRP list not qword aligned");
            return false;
        }
        ++prp_list_transfers;
        for (uint64_t entry = prp2; len; entry += 8) {
            const uint8_t* p = mem_.at(entry, 8);
            if (!p) {
                violation("PRP list outside host memory");
                return false;
            }
            uint64_t next = get<uint64_t>(p, 0);
            if (entry % page == page - 8 && len > page) {  // the last entry of a list page chains
                entry = next - 8;
                continue;
            }
            if (next % page) {
                violation("PRP list entry not a page");
                return false;
            }
            if (!copy(next, std::min(len, page))) return false;
        }
        return true;
    }

    uint16_t admin(const uint8_t* cmd, uint32_t* dw0)
    {
        uint32_t nsid = get<uint32_t>(cmd, 4), cdw10 = get<uint32_t>(cmd, 40), cdw11 = get<uint32_t>(cmd, 44);
        uint64_t prp1 = get<uint64_t>(cmd, 24);
        switch (cmd[0]) {
        case 0x06: {  // Identify
            uint8_t data[4096] = {};
            if ((cdw10 & 0xff) == 1) {
                put<uint16_t>(data, 0, 0x1b36);
                std::memset(data + 4, ' ', 20 + 40);
                std::memcpy(data + 4, serial, std::strlen(serial));
                std::memcpy(data + 24, model, std::strlen(model));
                data[77] = opt.mdts;
                data[512] = 0x66;
                data[513] = 0x44;
                put<uint32_t>(data, 516, 1);
                data[525] = opt.vwc ? 1 : 0;
            } else if ((cdw10 & 0xff) == 0) {
                if (nsid != 1) return 0x0b;  // Invalid Namespace
                put<uint64_t>(data, 0, opt.sectors);
                put<uint64_t>(data, 8, opt.sectors);
                put<uint64_t>(data, 16, opt.sectors);
                data[25] = 1;  // two formats, the second in use
                data[26] = 1;
                data[128 + 2] = 9;
                put<uint16_t>(data, 132, opt.metadata_bytes);
                data[132 + 2] = uint8_t(__builtin_ctz(opt.sector_size));
            } else {
                return 0x02;  // Invalid Field
            }
            if (prp1 % page) violation("identify buffer not a page");
            return transfer(cmd, data, sizeof data, true) ? 0 : 0x06;
        }
        case 0x09:  // Set Features
            if ((cdw10 & 0xff) != 0x07) return 0x02;
            if (io_cq_.size || io_sq_.size) violation("number of queues set after creating queues");
            queue_count_set = true;
            *dw0 = 0;  // one of each
            return 0;
        case 0x05: {  // Create I/O Completion Queue
            uint32_t qid = cdw10 & 0xffff, size = (cdw10 >> 16) + 1;
            if (qid != 1 || io_cq_.size) return 0x101;  // Invalid Queue Identifier
            if (size < 2 || size > opt.mqes + 1u) return 0x102;  // Invalid Queue Size
            if (!(cdw11 & 1) || prp1 % page) violation("I/O CQ not contiguous pages");
            if (cdw11 >> 16 != 0) return 0x108;  // Invalid Interrupt Vector
            io_cq_ = {prp1, size, 0, 0, true, bool(cdw11 & 2), 1};
            io_cq_depth = size;
            posted_cid_.assign(size, 0);
            return 0;
        }
        case 0x01: {  // Create I/O Submission Queue
            uint32_t qid = cdw10 & 0xffff, size = (cdw10 >> 16) + 1;
            if (qid != 1 || io_sq_.size) return 0x101;
            if (size < 2 || size > opt.mqes + 1u) return 0x102;
            if (cdw11 >> 16 != 1 || !io_cq_.size) return 0x100;  // Completion Queue Invalid
            if (!(cdw11 & 1) || prp1 % page) violation("I/O SQ not contiguous pages");
            io_sq_ = {prp1, size, 0, 0, true, true, 1};
            io_sq_depth = size;
            return 0;
        }
        default: return 0x01;  // Invalid Command Opcode
        }
    }

    uint16_t io(const uint8_t* cmd, uint16_t cid)
    {
        ++io_commands;
        if (!live_cids_.insert(cid).second) violation("command identifier " + std::to_string(cid) + " reused while in flight");
        if (get<uint32_t>(cmd, 4) != 1) return 0x0b;
        uint64_t slba = get<uint32_t>(cmd, 40) | uint64_t(get<uint32_t>(cmd, 44)) << 32;
        uint64_t nlb = (get<uint32_t>(cmd, 48) & 0xffff) + 1ull;
        switch (cmd[0]) {
        case 0x00: ++flushes; return 0;
        case 0x01:
        case 0x02: {
            if (slba >= opt.sectors || nlb > opt.sectors - slba) return 0x80;  // LBA Out of Range
            for (uint64_t l = slba; l < slba + nlb; ++l)
                if (failing_lbas.count(l)) return 2 << 8 | 0x81;  // media error: Unrecovered Read Error
            uint8_t* at = disk.data() + slba * opt.sector_size;
            bool to_host = cmd[0] == 0x02;
            (to_host ? reads : writes) += 1;
            return transfer(cmd, at, nlb * opt.sector_size, to_host) ? 0 : 0x06;  // Internal Error
        }
        default: return 0x01;
        }
    }

    SimMemory& mem_;
    uint8_t cfg_[256] = {};
    uint8_t cfg_writable_[256] = {};
    uint32_t cc_ = 0, csts_ = 0, aqa_ = 0;
    uint64_t asq_ = 0, acq_ = 0;
    uint32_t msix_[msix_entries][4] = {};
    Queue admin_sq_, admin_cq_, io_sq_, io_cq_;
    std::set<uint16_t> live_cids_;
    std::vector<uint16_t> posted_cid_;
};

// The window of part of BAR0.
class SimWindow final : public drivers::MmioWindow {
public:
    SimWindow(SimNvme& dev, uint64_t offset) : dev_(&dev), offset_(offset) {}
    uint32_t read32(uint64_t off) override { return dev_->mmio_read32(offset_ + off); }
    void write32(uint64_t off, uint32_t v) override { dev_->mmio_write32(offset_ + off, v); }
    uint16_t read16(uint64_t off) override { return uint16_t(read32(off & ~3ull) >> 8 * (off & 2)); }
    uint8_t read8(uint64_t off) override { return uint8_t(read32(off & ~3ull) >> 8 * (off & 3)); }
    void write16(uint64_t, uint16_t) override { dev_->violations.push_back("16-bit register write"); }
    void write8(uint64_t, uint8_t) override { dev_->violations.push_back("8-bit register write"); }

private:
    SimNvme* dev_;
    uint64_t offset_;
};

// DevicePlatform over the simulated controller, with a simulated clock:
// delays and waits advance it instead of taking time, so a timeout costs
// the test nothing and a driver that never gives up is caught.
class SimPlatform final : public drivers::DevicePlatform {
public:
    static constexpr uint32_t event = 7;
    static constexpr uint64_t hang_ns = 3600ull * 1000 * 1000 * 1000;
    uint64_t clock_ns = 0;
    unsigned events_fired = 0;

    SimPlatform(SimNvme& dev, SimMemory& mem) : dev_(dev), mem_(mem) {}

    lib::Result<drivers::MmioWindow*> map_mmio(uint64_t phys, uint64_t size) override
    {
        uint64_t base = dev_.bar0();
        if (phys % page || size % page || phys < base || size > bar0_size || phys - base > bar0_size - size)
            return lib::Error::not_found;
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
        dev_.msi_address = 0xfee00000;
        dev_.msi_data = 0x4041;
        return drivers::MsiVector{dev_.msi_address, dev_.msi_data, event};
    }
    bool wait_event(uint32_t ev, uint64_t timeout_ns) override
    {
        if (ev != event) dev_.violations.push_back("wait for an event never bound");
        dev_.service();  // the device works while the host sleeps
        if (dev_.irq_pending) {
            dev_.irq_pending = false;
            ++events_fired;
            return true;
        }
        advance(timeout_ns);
        return false;
    }
    uint64_t now_ns() override
    {
        advance(1000);
        return clock_ns;
    }
    void delay_us(uint64_t us) override { advance(us * 1000); }

private:
    void advance(uint64_t ns)
    {
        clock_ns += ns;
        if (clock_ns > hang_ns) {
            std::fprintf(stderr, "the driver waited an hour of simulated time: a hang\n");
            std::abort();
        }
    }

    SimNvme& dev_;
    SimMemory& mem_;
    std::vector<std::unique_ptr<SimWindow>> windows_;
};

}  // namespace nvme_sim
