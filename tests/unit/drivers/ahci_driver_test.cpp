// drivers/ahci on a simulated AHCI HBA (ahci_sim.hpp), through the
// BlockDevice interface: bring-up and what each disk reports (capacity,
// sector size, model and serial without padding, transfer limit, write
// cache, NCQ and how many commands go in flight), data written and read back
// byte-identical over many random requests (NCQ disks with many commands in
// flight completing out of order, a disk without NCQ one command at a time,
// 4 KiB sectors, an HBA without 64-bit addressing), a full queue answering
// busy, flush reaching the device and waiting for queued commands,
// completions signalled by MSI, polling without MSI, the BIOS handoff,
// staggered spin-up, QEMU's signature only once FIS reception is on, a
// device slow to spin up, and an HBA firmware left running. The simulator
// records any breach of AHCI, SATA or ACS by the driver, and every test
// expects none.
//
// Bad inputs tried: a function of another class (NVMe); no BAR5; no port with
// a device; an ATAPI device (refused, the other ports still work); a disk
// without 48-bit addressing; a device busy forever (skipped without a hang,
// the others work); a BIOS that never lets go and an HBA reset that never
// ends (busy, no hang); requests at the last LBA + 1, one sector past the
// end, with lba + sectors wrapping 2^64, of 0 sectors, of max_sectors + 1,
// with an odd bus address, above 4 GiB on a 32-bit HBA, and a flush with
// sectors; a media error on a disk without NCQ (only that request fails) and
// on an NCQ disk with several commands in flight (only the request covering
// the failing LBA fails, the others complete, later requests succeed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "drivers/ahci/ahci.hpp"
#include "tests/unit/drivers/ahci_sim.hpp"

namespace {

using ahci_sim::Attached;
using ahci_sim::PortSetup;
using ahci_sim::SimAhci;
using ahci_sim::SimMemory;
using ahci_sim::SimOptions;
using ahci_sim::SimPlatform;
using drivers::BlockOp;
using drivers::BlockRequest;
using drivers::DmaBuffer;
using drivers::ahci::AhciDisk;
using drivers::ahci::AhciHba;

constexpr uint64_t ms = 1000 * 1000;
constexpr uint64_t second = 1000 * ms;
const std::vector<std::string> no_violations;

struct Rig {
    SimMemory mem;
    SimAhci dev;
    SimPlatform platform{dev, mem};
    drivers::pci::Function fn{dev};
    AhciHba hba;

    explicit Rig(SimOptions o = {}) : mem(!o.s64a), dev(mem, std::move(o))
    {
        // Disks start with known contents so that reads mean something.
        for (size_t p = 0; p < dev.ports.size(); ++p) {
            std::mt19937 g(uint32_t(1000 + p));
            for (auto& b : dev.ports[p].disk) b = uint8_t(g());
        }
    }
    lib::Status init() { return hba.init(fn, platform); }
    DmaBuffer dma(size_t bytes) { return platform.alloc_dma((bytes + 4095) & ~size_t(4095)).value(); }
    uint32_t port_cmd(unsigned p) { return dev.mmio_read32(0x100 + 0x80 * p + 0x18); }
};

PortSetup disk(const char* serial, bool ncq = true, unsigned depth = 32)
{
    PortSetup s;
    s.serial = serial;
    s.ncq = ncq;
    s.queue_depth = depth;
    return s;
}
PortSetup empty_port()
{
    PortSetup s;
    s.device = Attached::none;
    return s;
}
PortSetup atapi()
{
    PortSetup s;
    s.device = Attached::atapi;
    return s;
}
SimOptions one_port(PortSetup s)
{
    SimOptions o;
    o.ports = {s};
    return o;
}

struct Completion {
    unsigned calls = 0;
    lib::Error error = lib::Error::none;
};

void record(BlockRequest& r, lib::Status s)
{
    auto* c = static_cast<Completion*>(r.ctx);
    ++c->calls;
    c->error = s.error();
}

BlockRequest request(BlockOp op, uint64_t lba, uint32_t sectors, const DmaBuffer& b, size_t offset, Completion* c)
{
    BlockRequest r;
    r.op = op;
    r.lba = lba;
    r.sectors = sectors;
    r.va = static_cast<uint8_t*>(b.va) + offset;
    r.bus = b.bus + offset;
    r.done = record;
    r.ctx = c;
    return r;
}

BlockRequest flush()
{
    BlockRequest f;
    f.op = BlockOp::flush;
    return f;
}

// Submits r and waits for its completion; the error it completed with (or
// the one submit refused it with).
lib::Error run(AhciDisk& d, BlockRequest r)
{
    Completion c;
    r.done = record;
    r.ctx = &c;
    lib::Status s = d.submit(r);
    if (!s) return s.error();
    for (int i = 0; i < 100 && !c.calls; ++i) d.wait(10 * ms);
    EXPECT_EQ(c.calls, 1u);
    return c.error;
}

// Waits until `count` completions ran; how many did.
unsigned drain(AhciDisk& d, unsigned count)
{
    unsigned done = 0;
    for (int tries = 0; tries < 1000 && done < count; ++tries) done += d.wait(10 * ms);
    return done;
}

void fill(void* p, size_t n, uint32_t seed)
{
    std::mt19937 g(seed);
    auto* b = static_cast<uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(g());
}

// Rounds of up to slots() requests on disjoint ranges, reads and writes
// mixed, random LBAs and lengths (1 sector to max_sectors) at word-aligned
// buffer offsets, submitted together and then waited for. Each read returns
// what the disk held, each write lands as written; at the end the simulated
// disk is what the writes made of it.
void random_rounds(Rig& rig, AhciDisk& d, unsigned rounds, uint32_t seed)
{
    const auto& info = d.info();
    const size_t max_bytes = size_t(info.max_sectors) * info.sector_size;
    const unsigned depth = d.slots();
    ASSERT_GE(depth, 1u);
    std::vector<DmaBuffer> bufs;
    for (unsigned i = 0; i < depth; ++i) bufs.push_back(rig.dma(max_bytes + 4096));
    std::vector<uint8_t>& disk = rig.dev.ports[d.port()].disk;
    std::vector<uint8_t> model = disk;
    std::mt19937_64 g(seed);
    for (unsigned round = 0; round < rounds; ++round) {
        struct Req {
            BlockRequest r;
            Completion c;
            size_t offset = 0;
        };
        std::vector<Req> reqs(1 + g() % depth);
        unsigned n = 0;
        for (auto& q : reqs) {
            uint32_t sectors = 0;
            uint64_t lba = 0;
            bool found = false;
            for (int attempt = 0; attempt < 50 && !found; ++attempt) {
                sectors = 1 + uint32_t(g() % (g() % 3 ? info.max_sectors : 8));
                lba = g() % (info.sectors - sectors + 1);
                found = true;
                for (unsigned k = 0; k < n; ++k)
                    if (lba < reqs[k].r.lba + reqs[k].r.sectors && reqs[k].r.lba < lba + sectors) found = false;
            }
            if (!found) break;
            q.offset = (g() % 2) ? 0 : 2 * size_t(g() % 2048);
            BlockOp op = (g() % 2) ? BlockOp::write : BlockOp::read;
            q.r = request(op, lba, sectors, bufs[n], q.offset, &q.c);
            if (op == BlockOp::write) fill(q.r.va, size_t(sectors) * info.sector_size, uint32_t(seed + round * 64 + n));
            else std::memset(q.r.va, 0xee, size_t(sectors) * info.sector_size);
            ++n;
        }
        for (unsigned k = 0; k < n; ++k) ASSERT_TRUE(d.submit(reqs[k].r).ok()) << "round " << round << " request " << k;
        EXPECT_EQ(d.outstanding(), rig.dev.hold_io ? n : d.outstanding());
        ASSERT_EQ(drain(d, n), n) << "round " << round;
        EXPECT_EQ(d.outstanding(), 0u);
        for (unsigned k = 0; k < n; ++k) {
            const BlockRequest& r = reqs[k].r;
            size_t at = r.lba * info.sector_size, bytes = size_t(r.sectors) * info.sector_size;
            ASSERT_EQ(reqs[k].c.calls, 1u) << "round " << round << " request " << k;
            ASSERT_EQ(reqs[k].c.error, lib::Error::none) << "round " << round << " request " << k;
            if (r.op == BlockOp::read) ASSERT_EQ(std::memcmp(r.va, model.data() + at, bytes), 0) << "round " << round;
            else std::memcpy(model.data() + at, r.va, bytes);
        }
    }
    EXPECT_TRUE(disk == model);
}

TEST(AhciDriver, BringsUpEveryPortWithADisk)
{
    SimOptions o;
    PortSetup a = disk("SIM-0000-A");
    a.model = "Simulated SATA SSD";
    a.sectors = 20000;
    PortSetup c = disk("  SIM-0002", false);
    c.model = "Another Disk";
    c.sectors = 12345;
    c.write_cache = false;
    o.ports = {a, empty_port(), c, atapi()};
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    ASSERT_EQ(rig.hba.disk_count(), 2u);

    AhciDisk& d0 = rig.hba.disk(0);
    EXPECT_EQ(d0.port(), 0u);
    EXPECT_EQ(d0.info().sector_size, 512u);
    EXPECT_EQ(d0.info().sectors, 20000u);
    EXPECT_EQ(d0.info().max_sectors, 128u * 1024 / 512);
    EXPECT_TRUE(d0.info().writable);
    EXPECT_TRUE(d0.info().volatile_cache);
    EXPECT_STREQ(d0.info().model, "Simulated SATA SSD");  // trailing spaces trimmed
    EXPECT_STREQ(d0.info().serial, "SIM-0000-A");
    EXPECT_TRUE(d0.queued());
    EXPECT_EQ(d0.slots(), 32u);
    EXPECT_EQ(d0.outstanding(), 0u);
    EXPECT_EQ(d0.recoveries(), 0u);

    AhciDisk& d1 = rig.hba.disk(1);
    EXPECT_EQ(d1.port(), 2u);
    EXPECT_EQ(d1.info().sectors, 12345u);
    EXPECT_FALSE(d1.info().volatile_cache);
    EXPECT_STREQ(d1.info().model, "Another Disk");
    EXPECT_STREQ(d1.info().serial, "SIM-0002");  // padded on both sides, as some disks do
    EXPECT_FALSE(d1.queued());
    EXPECT_EQ(d1.slots(), 1u);

    EXPECT_EQ(rig.hba.port_problem(0), lib::Error::none);
    EXPECT_EQ(rig.hba.port_problem(1), lib::Error::none);  // empty
    EXPECT_EQ(rig.hba.port_problem(2), lib::Error::none);
    EXPECT_EQ(rig.hba.port_problem(3), lib::Error::unsupported);  // ATAPI
    EXPECT_EQ(rig.dev.ports[3].identifies, 0u);

    // How it left the HBA: reset once, AHCI mode, interrupts through the MSI
    // it bound, both disks' ports running.
    EXPECT_EQ(rig.dev.hba_resets, 1u);
    EXPECT_EQ(rig.dev.ghc(), ahci_sim::ghc_ae | ahci_sim::ghc_ie);
    EXPECT_EQ(rig.platform.msi_binds, 1u);
    EXPECT_TRUE(rig.dev.msi_enabled());
    EXPECT_EQ(rig.dev.msi_programmed_address(), rig.dev.msi_address);
    EXPECT_EQ(rig.dev.msi_programmed_data(), rig.dev.msi_data);
    EXPECT_TRUE(rig.port_cmd(0) & ahci_sim::cmd_st);
    EXPECT_TRUE(rig.port_cmd(2) & ahci_sim::cmd_st);
    EXPECT_EQ(rig.dev.ports[0].identifies, 1u);
    EXPECT_EQ(rig.dev.ports[2].identifies, 1u);

    DmaBuffer b = rig.dma(4096);
    EXPECT_EQ(run(d0, request(BlockOp::read, 19999, 1, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(b.va, rig.dev.ports[0].disk.data() + 19999 * 512, 512), 0);
    EXPECT_EQ(run(d1, request(BlockOp::read, 12344, 1, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(b.va, rig.dev.ports[2].disk.data() + 12344 * 512, 512), 0);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, SlotsAreTheSmallerOfHbaAndDeviceQueues)
{
    SimOptions o;
    o.slots = 16;  // CAP.NCS 15
    o.ports = {disk("A", true, 32), disk("B", true, 8), disk("C", false)};
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    ASSERT_EQ(rig.hba.disk_count(), 3u);
    EXPECT_TRUE(rig.hba.disk(0).queued());
    EXPECT_EQ(rig.hba.disk(0).slots(), 16u);
    EXPECT_TRUE(rig.hba.disk(1).queued());
    EXPECT_EQ(rig.hba.disk(1).slots(), 8u);
    EXPECT_FALSE(rig.hba.disk(2).queued());
    EXPECT_EQ(rig.hba.disk(2).slots(), 1u);
    rig.dev.hold_io = true;
    for (unsigned i = 0; i < 3; ++i) random_rounds(rig, rig.hba.disk(i), 10, 10 + i);
    EXPECT_LE(rig.dev.ports[0].max_in_flight, 16u);
    EXPECT_LE(rig.dev.ports[1].max_in_flight, 8u);
    EXPECT_EQ(rig.dev.ports[2].queued_commands, 0u);
    EXPECT_EQ(rig.dev.violations, no_violations);

    SimOptions no_ncq = one_port(disk("D"));
    no_ncq.sncq = false;  // the disk queues, the HBA cannot
    Rig rig2(no_ncq);
    ASSERT_TRUE(rig2.init().ok());
    EXPECT_FALSE(rig2.hba.disk(0).queued());
    EXPECT_EQ(rig2.hba.disk(0).slots(), 1u);
    random_rounds(rig2, rig2.hba.disk(0), 10, 13);
    EXPECT_EQ(rig2.dev.ports[0].queued_commands, 0u);
    EXPECT_EQ(rig2.dev.violations, no_violations);
}

TEST(AhciDriver, NcqRoundTripsWithManyInFlightOutOfOrder)
{
    Rig rig(one_port(disk("N")));
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    ASSERT_TRUE(d.queued());
    rig.dev.hold_io = true;
    rig.dev.reverse_completion = true;
    rig.dev.completions_per_service = 3;  // a few per wakeup, newest first
    random_rounds(rig, d, 80, 1);
    const auto& port = rig.dev.ports[0];
    EXPECT_GT(port.max_in_flight, 16u);
    EXPECT_EQ(port.queued_commands, port.reads + port.writes);
    EXPECT_GT(port.reads, 100u);
    EXPECT_GT(port.writes, 100u);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, NcqRoundTripsCompletingAtOnce)
{
    Rig rig(one_port(disk("N")));
    ASSERT_TRUE(rig.init().ok());
    random_rounds(rig, rig.hba.disk(0), 60, 2);
    EXPECT_GT(rig.dev.ports[0].queued_commands, 100u);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, DiskWithoutNcqTakesOneCommandAtATime)
{
    Rig rig(one_port(disk("P", false)));
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    ASSERT_FALSE(d.queued());
    rig.dev.hold_io = true;
    DmaBuffer b = rig.dma(2 * 8192);
    Completion ca, cb;
    BlockRequest a = request(BlockOp::write, 10, 16, b, 0, &ca);
    BlockRequest second_one = request(BlockOp::read, 50, 16, b, 8192, &cb);
    fill(a.va, 8192, 5);
    ASSERT_TRUE(d.submit(a).ok());
    EXPECT_EQ(d.submit(second_one).error(), lib::Error::busy);
    BlockRequest f = flush();
    EXPECT_EQ(d.submit(f).error(), lib::Error::busy);
    EXPECT_EQ(d.outstanding(), 1u);
    EXPECT_EQ(d.poll(), 0u);  // the device holds it until the host waits
    EXPECT_EQ(d.wait(1 * second), 1u);
    EXPECT_EQ(ca.calls, 1u);
    EXPECT_EQ(ca.error, lib::Error::none);
    EXPECT_EQ(std::memcmp(rig.dev.ports[0].disk.data() + 10 * 512, a.va, 8192), 0);
    ASSERT_TRUE(d.submit(second_one).ok());
    EXPECT_EQ(drain(d, 1), 1u);
    EXPECT_EQ(cb.error, lib::Error::none);
    EXPECT_EQ(std::memcmp(rig.dev.ports[0].disk.data() + 50 * 512, second_one.va, 8192), 0);

    random_rounds(rig, d, 150, 3);
    rig.dev.hold_io = false;
    random_rounds(rig, d, 50, 4);
    EXPECT_EQ(rig.dev.ports[0].queued_commands, 0u);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, FourKibSectors)
{
    PortSetup s = disk("4K");
    s.sector_size = 4096;
    s.sectors = 4096;
    Rig rig(one_port(s));
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    EXPECT_EQ(d.info().sector_size, 4096u);
    EXPECT_EQ(d.info().sectors, 4096u);
    EXPECT_EQ(d.info().max_sectors, 32u);
    rig.dev.hold_io = true;
    rig.dev.reverse_completion = true;
    random_rounds(rig, d, 40, 5);
    DmaBuffer b = rig.dma(4096);
    EXPECT_EQ(run(d, request(BlockOp::read, 4096, 1, b, 0, nullptr)), lib::Error::invalid);
    EXPECT_EQ(run(d, request(BlockOp::read, 4095, 1, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(b.va, rig.dev.ports[0].disk.data() + 4095ull * 4096, 4096), 0);

    PortSetup p = s;
    p.ncq = false;
    Rig rig2(one_port(p));
    ASSERT_TRUE(rig2.init().ok());
    random_rounds(rig2, rig2.hba.disk(0), 40, 6);
    EXPECT_EQ(rig.dev.violations, no_violations);
    EXPECT_EQ(rig2.dev.violations, no_violations);
}

TEST(AhciDriver, FullQueueAnswersBusy)
{
    Rig rig(one_port(disk("F")));
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    ASSERT_EQ(d.slots(), 32u);
    rig.dev.hold_io = true;
    DmaBuffer b = rig.dma(32 * 4096);
    Completion c[32];
    BlockRequest r[32];
    for (unsigned i = 0; i < 32; ++i) {
        r[i] = request(BlockOp::write, 8 * i, 8, b, 4096 * i, &c[i]);
        fill(r[i].va, 4096, 100 + i);
        ASSERT_TRUE(d.submit(r[i]).ok()) << i;
    }
    BlockRequest extra = request(BlockOp::read, 1000, 1, b, 0, nullptr);
    EXPECT_EQ(d.submit(extra).error(), lib::Error::busy);
    EXPECT_EQ(d.outstanding(), 32u);
    EXPECT_EQ(rig.dev.ports[0].max_in_flight, 32u);
    EXPECT_EQ(drain(d, 32), 32u);
    for (unsigned i = 0; i < 32; ++i) {
        EXPECT_EQ(c[i].error, lib::Error::none) << i;
        EXPECT_EQ(std::memcmp(rig.dev.ports[0].disk.data() + 8 * i * 512, r[i].va, 4096), 0) << i;
    }
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, FlushReachesTheDeviceAndWaitsForQueuedCommands)
{
    Rig rig(one_port(disk("W")));
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    EXPECT_EQ(run(d, flush()), lib::Error::none);
    EXPECT_EQ(rig.dev.ports[0].flushes, 1u);
    BlockRequest f = flush();
    f.sectors = 1;  // a flush carries no data
    EXPECT_EQ(run(d, f), lib::Error::invalid);
    EXPECT_EQ(rig.dev.ports[0].flushes, 1u);

    rig.dev.hold_io = true;
    DmaBuffer b = rig.dma(3 * 4096);
    Completion c[3];
    BlockRequest r[3];
    for (unsigned i = 0; i < 3; ++i) {
        r[i] = request(BlockOp::read, 100 * i, 8, b, 4096 * i, &c[i]);
        ASSERT_TRUE(d.submit(r[i]).ok());
    }
    Completion cf;
    BlockRequest fl = flush();
    fl.done = record;
    fl.ctx = &cf;
    EXPECT_EQ(d.submit(fl).error(), lib::Error::busy);  // not while queued commands run
    EXPECT_EQ(drain(d, 3), 3u);
    ASSERT_TRUE(d.submit(fl).ok());
    BlockRequest more = request(BlockOp::read, 7, 1, b, 0, nullptr);
    EXPECT_EQ(d.submit(more).error(), lib::Error::busy);  // nor queued ones while it runs
    EXPECT_EQ(drain(d, 1), 1u);
    EXPECT_EQ(cf.calls, 1u);
    EXPECT_EQ(cf.error, lib::Error::none);
    EXPECT_EQ(rig.dev.ports[0].flushes, 2u);
    for (auto& x : c) EXPECT_EQ(x.error, lib::Error::none);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, CompletionsArriveByMsi)
{
    SimOptions o;
    o.ports = {disk("Q"), disk("S", false)};
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    ASSERT_EQ(rig.hba.disk_count(), 2u);
    ASSERT_TRUE(rig.dev.msi_enabled());
    rig.dev.hold_io = true;  // nothing completes until the driver sleeps on its event
    DmaBuffer b = rig.dma(8192);
    for (unsigned disk_index = 0; disk_index < 2; ++disk_index) {
        AhciDisk& d = rig.hba.disk(disk_index);
        unsigned interrupts = rig.dev.interrupts, fired = rig.platform.events_fired;
        unsigned timeouts = rig.platform.wait_timeouts;
        for (unsigned i = 0; i < 20; ++i) {
            Completion c;
            BlockRequest r = request(i % 2 ? BlockOp::read : BlockOp::write, 16 * i, 16, b, 0, &c);
            ASSERT_TRUE(d.submit(r).ok());
            EXPECT_EQ(d.wait(1 * second), 1u) << disk_index << " " << i;  // woken by the interrupt
            EXPECT_EQ(c.calls, 1u);
            EXPECT_EQ(c.error, lib::Error::none);
        }
        EXPECT_EQ(rig.dev.interrupts - interrupts, 20u) << disk_index;
        EXPECT_EQ(rig.platform.events_fired - fired, 20u) << disk_index;
        EXPECT_EQ(rig.platform.wait_timeouts, timeouts) << disk_index;  // never slept out a timeout
    }
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, PolledWithoutMsi)
{
    SimOptions o = one_port(disk("M"));
    o.msi = false;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    random_rounds(rig, rig.hba.disk(0), 30, 7);
    EXPECT_EQ(rig.dev.interrupts, 0u);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, TakesTheHbaFromTheBios)
{
    for (uint64_t busy_us : {0ull, 300ull * 1000}) {
        SimOptions o = one_port(disk("B"));
        o.bios_handoff = true;
        o.bios_busy_us = busy_us;
        Rig rig(o);
        ASSERT_TRUE(rig.init().ok()) << busy_us;
        EXPECT_EQ(rig.dev.bohc() & (ahci_sim::bohc_oos | ahci_sim::bohc_bos | ahci_sim::bohc_bb), ahci_sim::bohc_oos);
        EXPECT_GE(rig.dev.clock_ns, busy_us * 1000);
        EXPECT_EQ(rig.dev.hba_resets, 1u);
        EXPECT_EQ(run(rig.hba.disk(0), flush()), lib::Error::none);
        EXPECT_EQ(rig.dev.violations, no_violations) << busy_us;  // nothing touched while the BIOS owned it
    }
}

TEST(AhciDriver, BiosThatNeverLetsGoIsBusy)
{
    SimOptions o = one_port(disk("B"));
    o.bios_handoff = true;
    o.bios_never_releases = true;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::busy);
    EXPECT_GE(rig.dev.clock_ns, 2 * second);  // BB set: at least 2 s (AHCI 10.6.3)
    EXPECT_LT(rig.dev.clock_ns, 60 * second);
    EXPECT_EQ(rig.dev.hba_resets, 0u);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, HbaResetTakesTimeOrNeverEnds)
{
    SimOptions slow = one_port(disk("R"));
    slow.reset_us = 200 * 1000;
    Rig rig(slow);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(run(rig.hba.disk(0), flush()), lib::Error::none);
    EXPECT_EQ(rig.dev.violations, no_violations);

    SimOptions stuck = one_port(disk("R"));
    stuck.reset_never_done = true;
    Rig rig2(stuck);
    EXPECT_EQ(rig2.init().error(), lib::Error::busy);
    EXPECT_LT(rig2.dev.clock_ns, 60 * second);
    EXPECT_EQ(rig2.dev.violations, no_violations);  // no port touched during the reset
}

TEST(AhciDriver, FirmwareLeftTheHbaRunning)
{
    SimOptions o;
    o.ports = {disk("X"), disk("Y", false)};
    o.firmware_running = true;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    ASSERT_EQ(rig.hba.disk_count(), 2u);
    random_rounds(rig, rig.hba.disk(0), 10, 8);
    random_rounds(rig, rig.hba.disk(1), 10, 9);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, DeviceSlowToSpinUpThenWorks)
{
    PortSetup s = disk("Z");
    s.busy_us = 3 * 1000 * 1000;
    Rig rig(one_port(s));
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.hba.disk_count(), 1u);
    EXPECT_GE(rig.dev.clock_ns, 3 * second);
    random_rounds(rig, rig.hba.disk(0), 10, 10);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, PortBusyForeverIsSkipped)
{
    SimOptions o;
    PortSetup stuck = disk("STUCK");
    stuck.busy_forever = true;
    o.ports = {disk("A"), stuck, disk("C", false)};
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    ASSERT_EQ(rig.hba.disk_count(), 2u);
    EXPECT_EQ(rig.hba.disk(0).port(), 0u);
    EXPECT_EQ(rig.hba.disk(1).port(), 2u);
    EXPECT_EQ(rig.hba.port_problem(1), lib::Error::busy);
    EXPECT_LT(rig.dev.clock_ns, 120 * second);
    rig.dev.hold_io = true;
    random_rounds(rig, rig.hba.disk(0), 10, 11);
    random_rounds(rig, rig.hba.disk(1), 10, 12);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, StaggeredSpinUp)
{
    SimOptions o;
    o.ports = {disk("S1"), empty_port()};
    o.sss = true;  // ports stay down until PxCMD.SUD
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    ASSERT_EQ(rig.hba.disk_count(), 1u);
    EXPECT_TRUE(rig.port_cmd(0) & ahci_sim::cmd_sud);
    random_rounds(rig, rig.hba.disk(0), 10, 13);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, SignatureOnlyOnceFisReceptionIsOn)
{
    SimOptions o = one_port(disk("QEMU"));
    o.signature_needs_fre = true;  // as QEMU's AHCI: TFD 7Fh until PxCMD.FRE
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    random_rounds(rig, rig.hba.disk(0), 10, 14);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, HbaWithout64BitAddressing)
{
    if (!SimMemory::below_4g_available()) GTEST_SKIP() << "no memory below 4 GiB on this host";
    SimOptions o = one_port(disk("32"));
    o.s64a = false;
    Rig rig(o);  // its DMA memory is all below 4 GiB
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    rig.dev.hold_io = true;
    random_rounds(rig, d, 20, 15);
    DmaBuffer b = rig.dma(4096);
    BlockRequest high = request(BlockOp::read, 0, 1, b, 0, nullptr);
    high.bus = 1ull << 32;  // the HBA cannot reach it
    EXPECT_EQ(run(d, high), lib::Error::invalid);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, DiskWithoutLba48IsUnsupported)
{
    PortSetup old = disk("OLD");
    old.lba48 = false;
    Rig rig(one_port(old));
    EXPECT_EQ(rig.init().error(), lib::Error::not_found);
    EXPECT_EQ(rig.hba.port_problem(0), lib::Error::unsupported);
    EXPECT_EQ(rig.dev.ports[0].reads + rig.dev.ports[0].writes, 0u);
    EXPECT_EQ(rig.dev.violations, no_violations);

    SimOptions o;
    o.ports = {old, disk("NEW")};
    Rig rig2(o);
    ASSERT_TRUE(rig2.init().ok());
    ASSERT_EQ(rig2.hba.disk_count(), 1u);
    EXPECT_EQ(rig2.hba.disk(0).port(), 1u);
    EXPECT_EQ(rig2.hba.port_problem(0), lib::Error::unsupported);
    random_rounds(rig2, rig2.hba.disk(0), 10, 16);
    EXPECT_EQ(rig2.dev.violations, no_violations);
}

TEST(AhciDriver, NoDisksAtAll)
{
    SimOptions o;
    o.ports = {empty_port(), empty_port()};
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::not_found);
    EXPECT_EQ(rig.hba.disk_count(), 0u);
    EXPECT_EQ(rig.hba.port_problem(0), lib::Error::none);
    EXPECT_EQ(rig.hba.port_problem(1), lib::Error::none);
    EXPECT_LT(rig.dev.clock_ns, 10 * second);
    EXPECT_EQ(rig.dev.violations, no_violations);

    Rig rig2(one_port(atapi()));
    EXPECT_EQ(rig2.init().error(), lib::Error::not_found);
    EXPECT_EQ(rig2.hba.port_problem(0), lib::Error::unsupported);
    EXPECT_EQ(rig2.dev.violations, no_violations);
}

TEST(AhciDriver, RefusesAnotherClassOfDevice)
{
    SimOptions o;
    o.class_code = 0x010802;  // NVMe
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::unsupported);
    EXPECT_EQ(rig.dev.mmio_accesses, 0u);
    EXPECT_EQ(rig.hba.disk_count(), 0u);

    SimOptions no_bar = one_port(disk("NB"));
    no_bar.bar5 = false;
    Rig rig2(no_bar);
    EXPECT_EQ(rig2.init().error(), lib::Error::unsupported);
    EXPECT_EQ(rig2.dev.mmio_accesses, 0u);
}

TEST(AhciDriver, RequestsOutsideTheDiskOrLimitsAreRefused)
{
    for (bool ncq : {true, false}) {
        Rig rig(one_port(disk("L", ncq)));
        ASSERT_TRUE(rig.init().ok());
        AhciDisk& d = rig.hba.disk(0);
        const auto& info = d.info();
        DmaBuffer b = rig.dma((info.max_sectors + 1) * 512 + 4096);
        unsigned commands = rig.dev.ports[0].commands;
        auto refused = [&](uint64_t lba, uint32_t sectors, size_t offset) {
            return run(d, request(BlockOp::read, lba, sectors, b, offset, nullptr)) == lib::Error::invalid;
        };
        EXPECT_TRUE(refused(info.sectors, 1, 0)) << ncq;      // the last LBA + 1
        EXPECT_TRUE(refused(info.sectors - 1, 2, 0)) << ncq;  // one sector past the end
        EXPECT_TRUE(refused(~0ull - 1, 4, 0)) << ncq;         // lba + sectors wraps
        EXPECT_TRUE(refused(0, 0, 0)) << ncq;
        EXPECT_TRUE(refused(0, info.max_sectors + 1, 0)) << ncq;
        EXPECT_TRUE(refused(0, 1, 1)) << ncq;  // a PRD's data base must be word aligned
        EXPECT_EQ(run(d, request(BlockOp::write, info.sectors, 1, b, 0, nullptr)), lib::Error::invalid);
        BlockRequest f = flush();
        f.sectors = 8;
        EXPECT_EQ(run(d, f), lib::Error::invalid);
        EXPECT_EQ(rig.dev.ports[0].commands, commands);  // none reached the device
        EXPECT_EQ(d.outstanding(), 0u);
        EXPECT_EQ(run(d, request(BlockOp::read, info.sectors - info.max_sectors, info.max_sectors, b, 2, nullptr)),
                  lib::Error::none);
        EXPECT_EQ(std::memcmp(static_cast<uint8_t*>(b.va) + 2,
                              rig.dev.ports[0].disk.data() + (info.sectors - info.max_sectors) * 512,
                              size_t(info.max_sectors) * 512),
                  0);
        EXPECT_EQ(rig.dev.violations, no_violations) << ncq;
    }
}

TEST(AhciDriver, MediaErrorWithoutNcqFailsOnlyThatRequest)
{
    SimOptions o = one_port(disk("E", false));
    o.stop_us = 300;  // CR takes a while to clear
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    rig.dev.ports[0].failing_lbas = {100};
    DmaBuffer b = rig.dma(8192);
    EXPECT_EQ(run(d, request(BlockOp::read, 80, 16, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(run(d, request(BlockOp::read, 96, 16, b, 0, nullptr)), lib::Error::io);
    EXPECT_EQ(d.recoveries(), 1u);
    EXPECT_EQ(d.outstanding(), 0u);
    fill(b.va, 8192, 17);
    EXPECT_EQ(run(d, request(BlockOp::write, 112, 16, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(rig.dev.ports[0].disk.data() + 112 * 512, b.va, 8192), 0);
    rig.dev.ports[0].failing_lbas.clear();
    EXPECT_EQ(run(d, request(BlockOp::write, 100, 1, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(rig.dev.ports[0].disk.data() + 100 * 512, b.va, 512), 0);
    EXPECT_EQ(d.recoveries(), 1u);
    random_rounds(rig, d, 20, 18);
    EXPECT_EQ(rig.dev.violations, no_violations);
}

// Four queued commands in flight; the device completes the newest first and
// fails the one covering LBA 100, which aborts the one still queued. The
// driver reads the NCQ error log: only the request of the tag it names
// fails; the aborted one succeeds when retried, and the port goes on
// working with NCQ.
void media_error_with_ncq(bool device_needs_log)
{
    PortSetup s = disk("E");
    s.ncq_error_needs_log = device_needs_log;
    Rig rig(one_port(s));
    ASSERT_TRUE(rig.init().ok());
    AhciDisk& d = rig.hba.disk(0);
    ASSERT_TRUE(d.queued());
    auto& port = rig.dev.ports[0];
    port.failing_lbas = {100};
    rig.dev.hold_io = true;
    rig.dev.reverse_completion = true;
    DmaBuffer b = rig.dma(4 * 8192);
    Completion c[4];
    BlockRequest r[4] = {request(BlockOp::read, 80, 16, b, 0, &c[0]), request(BlockOp::read, 96, 16, b, 8192, &c[1]),
                         request(BlockOp::write, 112, 16, b, 16384, &c[2]),
                         request(BlockOp::read, 200, 8, b, 24576, &c[3])};
    fill(r[2].va, 8192, 19);
    for (auto& x : r) ASSERT_TRUE(d.submit(x).ok());
    EXPECT_EQ(port.max_in_flight, 4u);
    EXPECT_EQ(drain(d, 4), 4u);
    EXPECT_EQ(d.outstanding(), 0u);
    for (auto& x : c) EXPECT_EQ(x.calls, 1u);
    EXPECT_EQ(c[0].error, lib::Error::none);  // aborted by the device, then retried
    EXPECT_EQ(c[1].error, lib::Error::io);    // covers the failing LBA
    EXPECT_EQ(c[2].error, lib::Error::none);
    EXPECT_EQ(c[3].error, lib::Error::none);
    EXPECT_EQ(std::memcmp(r[0].va, port.disk.data() + 80 * 512, 8192), 0);
    EXPECT_EQ(std::memcmp(port.disk.data() + 112 * 512, r[2].va, 8192), 0);
    EXPECT_EQ(std::memcmp(r[3].va, port.disk.data() + 200 * 512, 4096), 0);
    // One restart: the NCQ error log names the failed tag, so only the
    // others are retried (and they succeed).
    EXPECT_EQ(d.recoveries(), 1u);
    EXPECT_EQ(port.log_reads, 1u) << "after the queued error the device is asked for log 10h";
    EXPECT_EQ(port.comresets, 0u);

    rig.dev.hold_io = false;
    EXPECT_EQ(run(d, request(BlockOp::read, 100, 1, b, 0, nullptr)), lib::Error::io);  // still bad
    port.failing_lbas.clear();
    unsigned queued = port.queued_commands;
    random_rounds(rig, d, 20, 20);
    EXPECT_GT(port.queued_commands, queued);  // still queuing
    EXPECT_EQ(rig.dev.violations, no_violations);
}

TEST(AhciDriver, MediaErrorWithQueuedCommandsInFlight) { media_error_with_ncq(true); }

// The same with a device that, against SATA, goes on taking commands after a
// queued error without the NCQ error log being read: the driver's retries
// alone.
TEST(AhciDriver, MediaErrorWithQueuedCommandsOnALenientDevice) { media_error_with_ncq(false); }

}  // namespace
