// drivers/nvme on a simulated NVMe controller (nvme_sim.hpp): bring-up and
// what the disk reports (capacity, sector size, model, serial, transfer
// limit, write cache), data written and read back byte-identical over many
// random requests (single page, two pages, PRP lists, unaligned starts,
// several in flight), flush reaching the device, queue wrap-around over
// several rounds with the phase flipping, interrupts through MSI-X, 4 KiB
// sectors and a wider doorbell stride. The simulator records any breach of
// the spec by the driver, and every test expects none.
//
// Bad inputs tried: a function of another class (AHCI); namespace 1 of size
// 0; LBA formats of 256 and 8192 bytes and one with metadata; a controller
// left enabled by firmware; one that sets CSTS.CFS at enable; one that never
// sets CSTS.RDY; one that never answers an admin command (both give up in
// simulated time, no hang); requests at the last LBA + 1, one sector past
// the end, with lba + sectors wrapping 2^64, of 0 sectors, of max_sectors + 1,
// with a buffer not dword aligned, a flush with sectors; a full queue
// (busy); a command completing with a media error (only that request fails,
// the ones around it and later ones succeed).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "drivers/nvme/nvme.hpp"
#include "tests/unit/drivers/nvme_sim.hpp"

namespace {

using drivers::BlockOp;
using drivers::BlockRequest;
using drivers::DmaBuffer;
using nvme_sim::SimMemory;
using nvme_sim::SimNvme;
using nvme_sim::SimOptions;
using nvme_sim::SimPlatform;

struct Rig {
    SimMemory mem;
    SimNvme dev;
    SimPlatform platform{dev, mem};
    drivers::nvme::NvmeDisk disk;

    explicit Rig(SimOptions o = {}) : dev(mem, o) {}
    lib::Status init()
    {
        drivers::pci::Function fn(dev);
        return disk.init(fn, platform);
    }
    DmaBuffer dma(size_t bytes) { return platform.alloc_dma((bytes + 4095) & ~size_t(4095)).value(); }
};

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

// Submits r and waits for its completion; the error it completed with (or
// the one submit refused it with).
lib::Error run(Rig& rig, BlockRequest r)
{
    Completion c;
    r.done = record;
    r.ctx = &c;
    lib::Status s = rig.disk.submit(r);
    if (!s) return s.error();
    for (int i = 0; i < 100 && !c.calls; ++i) rig.disk.wait(1000 * 1000);
    EXPECT_EQ(c.calls, 1u);
    return c.error;
}

void fill(void* p, size_t n, uint32_t seed)
{
    std::mt19937 g(seed);
    auto* b = static_cast<uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(g());
}

TEST(NvmeDriver, ReportsTheNamespaceAndController)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    const drivers::BlockInfo& info = rig.disk.info();
    EXPECT_EQ(info.sector_size, 512u);
    EXPECT_EQ(info.sectors, 8192u);
    EXPECT_EQ(info.max_sectors, 128u * 1024 / 512);  // MDTS 5: 2^5 * 4 KiB
    EXPECT_TRUE(info.writable);
    EXPECT_TRUE(info.volatile_cache);
    EXPECT_STREQ(info.model, nvme_sim::model);  // trailing spaces trimmed
    EXPECT_STREQ(info.serial, nvme_sim::serial);
    EXPECT_EQ(rig.disk.outstanding(), 0u);
    // How it programmed the controller.
    EXPECT_EQ(rig.dev.cc_at_enable, 0x00460001u);  // IOCQES 4, IOSQES 6, EN
    EXPECT_TRUE(rig.dev.queue_count_set);
    EXPECT_EQ(rig.dev.io_sq_depth, 64u);
    EXPECT_EQ(rig.dev.io_cq_depth, 64u);
    const uint32_t* msix0 = rig.dev.msix_entry(0);
    EXPECT_EQ(msix0[0], 0xfee00000u);
    EXPECT_EQ(msix0[2], 0x4041u);
    EXPECT_EQ(msix0[3] & 1, 0u);  // unmasked
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, SmallMdtsAndNoWriteCache)
{
    SimOptions o;
    o.mdts = 2;  // 16 KiB
    o.vwc = false;
    o.mqes = 15;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.disk.info().max_sectors, 32u);
    EXPECT_FALSE(rig.disk.info().volatile_cache);
    EXPECT_EQ(rig.dev.io_sq_depth, 16u);  // MQES + 1 below the driver's 64
}

TEST(NvmeDriver, ControllerLeftEnabledByFirmwareIsReset)
{
    SimOptions o;
    o.start_enabled = true;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

// Random LBAs and lengths (1 sector to max_sectors, so one page, two pages
// and PRP lists), at buffer offsets that are page aligned or not; each
// write lands on the disk as written and reads back byte-identical.
void random_round_trips(Rig& rig, unsigned count, uint32_t seed)
{
    const auto& info = rig.disk.info();
    const size_t max_bytes = size_t(info.max_sectors) * info.sector_size;
    DmaBuffer out = rig.dma(max_bytes + 4096), in = rig.dma(max_bytes + 4096);
    std::mt19937_64 g(seed);
    for (unsigned i = 0; i < count; ++i) {
        uint32_t sectors = 1 + uint32_t(g() % info.max_sectors);
        uint64_t lba = g() % (info.sectors - sectors + 1);
        size_t offset = (g() % 2) ? 0 : size_t(g() % 1024) * 4;
        size_t bytes = size_t(sectors) * info.sector_size;
        fill(static_cast<uint8_t*>(out.va) + offset, bytes, uint32_t(i + seed));
        ASSERT_EQ(run(rig, request(BlockOp::write, lba, sectors, out, offset, nullptr)), lib::Error::none) << i;
        ASSERT_EQ(std::memcmp(rig.dev.disk.data() + lba * info.sector_size, static_cast<uint8_t*>(out.va) + offset, bytes), 0) << i;
        std::memset(in.va, 0xee, in.size);
        size_t in_offset = (g() % 2) ? 0 : size_t(g() % 1024) * 4;
        ASSERT_EQ(run(rig, request(BlockOp::read, lba, sectors, in, in_offset, nullptr)), lib::Error::none) << i;
        ASSERT_EQ(std::memcmp(static_cast<uint8_t*>(in.va) + in_offset, static_cast<uint8_t*>(out.va) + offset, bytes), 0) << i;
    }
}

TEST(NvmeDriver, WritesReadBackAcrossRandomRequests)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    random_round_trips(rig, 400, 1);
    EXPECT_GT(rig.dev.two_page_transfers, 10u);
    EXPECT_GT(rig.dev.prp_list_transfers, 100u);
    EXPECT_EQ(rig.dev.writes, 400u);
    EXPECT_EQ(rig.dev.reads, 400u);
    EXPECT_EQ(rig.dev.io_interrupts, 800u);  // one per completion, through MSI-X entry 0
    EXPECT_GT(rig.platform.events_fired, 0u);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, WholeLastSectorsAndLargestTransfer)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    const auto& info = rig.disk.info();
    DmaBuffer b = rig.dma(size_t(info.max_sectors) * 512);
    fill(b.va, b.size, 9);
    ASSERT_EQ(run(rig, request(BlockOp::write, info.sectors - info.max_sectors, info.max_sectors, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(rig.dev.disk.data() + rig.dev.disk.size() - b.size, b.va, b.size), 0);
    ASSERT_EQ(run(rig, request(BlockOp::read, info.sectors - 1, 1, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(std::memcmp(b.va, rig.dev.disk.data() + rig.dev.disk.size() - 512, 512), 0);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, FourKibSectors)
{
    SimOptions o;
    o.sector_size = 4096;
    o.sectors = 1024;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    EXPECT_EQ(rig.disk.info().sector_size, 4096u);
    EXPECT_EQ(rig.disk.info().sectors, 1024u);
    EXPECT_EQ(rig.disk.info().max_sectors, 32u);
    random_round_trips(rig, 150, 2);
    DmaBuffer b = rig.dma(4096);
    EXPECT_EQ(run(rig, request(BlockOp::read, 1024, 1, b, 0, nullptr)), lib::Error::invalid);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, WiderDoorbellStride)
{
    SimOptions o;
    o.dstrd = 2;  // doorbells 16 bytes apart
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    random_round_trips(rig, 50, 3);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, FlushReachesTheDevice)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    BlockRequest f;
    f.op = BlockOp::flush;
    EXPECT_EQ(run(rig, f), lib::Error::none);
    EXPECT_EQ(rig.dev.flushes, 1u);
    f.sectors = 1;  // a flush carries no data
    EXPECT_EQ(run(rig, f), lib::Error::invalid);
    EXPECT_EQ(rig.dev.flushes, 1u);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

// A queue of 8 entries holds 7 requests: fill it, see busy, let the device
// run them, and do that for many rounds so that both queues wrap and the
// completion phase flips several times.
TEST(NvmeDriver, QueueWrapsOverManyRounds)
{
    SimOptions o;
    o.mqes = 7;
    Rig rig(o);
    ASSERT_TRUE(rig.init().ok());
    rig.dev.hold_io = true;
    constexpr unsigned slots = 7, rounds = 12;
    DmaBuffer data = rig.dma(slots * 2 * 4096);
    for (unsigned round = 0; round < rounds; ++round) {
        Completion c[slots];
        BlockRequest r[slots];
        for (unsigned i = 0; i < slots; ++i) {
            fill(static_cast<uint8_t*>(data.va) + i * 8192, 8192, round * 100 + i);
            r[i] = request(BlockOp::write, (round * slots + i) * 16, 16, data, i * 8192, &c[i]);
            ASSERT_TRUE(rig.disk.submit(r[i]).ok()) << round << " " << i;
        }
        EXPECT_EQ(rig.disk.outstanding(), slots);
        BlockRequest extra = request(BlockOp::write, 0, 1, data, 0, nullptr);
        EXPECT_EQ(rig.disk.submit(extra).error(), lib::Error::busy);
        EXPECT_EQ(rig.disk.poll(), 0u);  // nothing ran yet
        unsigned done = 0;
        for (int tries = 0; tries < 10 && done < slots; ++tries) done += rig.disk.wait(1000 * 1000);
        EXPECT_EQ(done, slots);
        EXPECT_EQ(rig.disk.outstanding(), 0u);
        for (unsigned i = 0; i < slots; ++i) {
            EXPECT_EQ(c[i].calls, 1u);
            EXPECT_EQ(c[i].error, lib::Error::none);
            EXPECT_EQ(std::memcmp(rig.dev.disk.data() + r[i].lba * 512, r[i].va, 8192), 0);
        }
    }
    EXPECT_GE(rig.dev.io_cq_wraps, rounds * slots / 8 - 1);
    // And back with the device answering at once, one request at a time.
    rig.dev.hold_io = false;
    DmaBuffer in = rig.dma(8192);
    for (unsigned k = 0; k < rounds * slots; ++k) {
        ASSERT_EQ(run(rig, request(BlockOp::read, k * 16, 16, in, 0, nullptr)), lib::Error::none);
        ASSERT_EQ(std::memcmp(in.va, rig.dev.disk.data() + k * 16 * 512, 8192), 0) << k;
    }
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, RequestsOutsideTheDiskOrLimitsAreRefused)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    const auto& info = rig.disk.info();
    DmaBuffer b = rig.dma((info.max_sectors + 1) * 512);
    auto refused = [&](uint64_t lba, uint32_t sectors, size_t offset) {
        return run(rig, request(BlockOp::read, lba, sectors, b, offset, nullptr)) == lib::Error::invalid;
    };
    EXPECT_TRUE(refused(info.sectors, 1, 0));      // the last LBA + 1
    EXPECT_TRUE(refused(info.sectors - 1, 2, 0));  // one sector past the end
    EXPECT_TRUE(refused(~0ull - 1, 4, 0));         // lba + sectors wraps
    EXPECT_TRUE(refused(0, 0, 0));
    EXPECT_TRUE(refused(0, info.max_sectors + 1, 0));
    EXPECT_TRUE(refused(0, 1, 2));  // PRPs must be dword aligned
    EXPECT_EQ(run(rig, request(BlockOp::write, info.sectors, 1, b, 0, nullptr)), lib::Error::invalid);
    EXPECT_EQ(rig.dev.io_commands, 0u);  // none reached the device
    EXPECT_EQ(rig.disk.outstanding(), 0u);
    EXPECT_EQ(run(rig, request(BlockOp::read, info.sectors - 1, 1, b, 0, nullptr)), lib::Error::none);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, ErrorStatusFailsOnlyThatRequest)
{
    Rig rig;
    ASSERT_TRUE(rig.init().ok());
    rig.dev.failing_lbas = {100};
    DmaBuffer b = rig.dma(3 * 8192);
    Completion c[3];
    BlockRequest r[3] = {request(BlockOp::read, 80, 16, b, 0, &c[0]), request(BlockOp::read, 96, 16, b, 8192, &c[1]),
                         request(BlockOp::write, 112, 16, b, 16384, &c[2])};
    rig.dev.hold_io = true;
    for (auto& x : r) ASSERT_TRUE(rig.disk.submit(x).ok());
    unsigned done = 0;
    for (int tries = 0; tries < 10 && done < 3; ++tries) done += rig.disk.wait(1000 * 1000);
    EXPECT_EQ(done, 3u);
    EXPECT_EQ(c[0].error, lib::Error::none);
    EXPECT_EQ(c[1].error, lib::Error::io);
    EXPECT_EQ(c[2].error, lib::Error::none);
    rig.dev.hold_io = false;
    EXPECT_EQ(run(rig, request(BlockOp::write, 100, 1, b, 0, nullptr)), lib::Error::io);
    rig.dev.failing_lbas.clear();
    EXPECT_EQ(run(rig, request(BlockOp::write, 100, 1, b, 0, nullptr)), lib::Error::none);
    random_round_trips(rig, 20, 4);
    EXPECT_EQ(rig.dev.violations, std::vector<std::string>{});
}

TEST(NvmeDriver, RefusesAnotherClassOfDevice)
{
    SimOptions o;
    o.class_code = 0x010601;  // AHCI
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::unsupported);
    EXPECT_EQ(rig.dev.mmio_accesses, 0u);
    BlockRequest f;
    f.op = BlockOp::flush;
    EXPECT_FALSE(rig.disk.submit(f).ok());  // an uninitialized disk takes nothing
}

TEST(NvmeDriver, EmptyNamespaceIsAnError)
{
    SimOptions o;
    o.sectors = 0;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::not_found);
}

TEST(NvmeDriver, RefusesSectorSizesItCannotUse)
{
    for (uint32_t size : {256u, 8192u}) {
        SimOptions o;
        o.sector_size = size;
        o.sectors = 64;
        Rig rig(o);
        EXPECT_EQ(rig.init().error(), lib::Error::unsupported) << size;
    }
    SimOptions o;
    o.metadata_bytes = 8;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::unsupported);
}

TEST(NvmeDriver, FatalStatusAtEnableFailsInit)
{
    SimOptions o;
    o.fatal_on_enable = true;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::io);
    EXPECT_LT(rig.platform.clock_ns, 1000ull * 1000 * 1000);  // no need to wait out CAP.TO
}

TEST(NvmeDriver, ControllerThatNeverBecomesReadyTimesOut)
{
    SimOptions o;
    o.never_ready = true;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::busy);
    uint64_t to_ns = nvme_sim::timeout_500ms * 500ull * 1000 * 1000;
    EXPECT_GE(rig.platform.clock_ns, to_ns);  // it waited CAP.TO...
    EXPECT_LT(rig.platform.clock_ns, to_ns + 1000ull * 1000 * 1000);  // ...and not much longer
}

TEST(NvmeDriver, AdminCommandNeverAnsweredTimesOut)
{
    SimOptions o;
    o.admin_never_answers = true;
    Rig rig(o);
    EXPECT_EQ(rig.init().error(), lib::Error::busy);
    EXPECT_LT(rig.platform.clock_ns, 60ull * 1000 * 1000 * 1000);
}

}  // namespace
