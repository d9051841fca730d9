// virtio-blk (vmm/virtio/virtio_blk) over virtio-pci, on real image files
// made by vmm/block (raw and qcow2 v3 written through the code itself),
// driven as Linux's virtio_blk drives it: identity, features and config
// space; reads of a known pattern through chains split at odd places (the
// header in two descriptors, data segments of 100, 412 and 1024 bytes, the
// status byte sharing the last data descriptor); writes, flush, GET_ID,
// discard and write zeroes on writable images; several request queues; and
// the Dom0 path: an image inside a cpio archive opened by DomainDisks from
// an xl.cfg disk= entry and plugged into a PcPlatform at slot 16 + disk.
//
// Bad inputs tried, each answered with a status and the device still usable
// afterwards: IN/OUT at the last sector + 1, past the capacity, with
// sector + count wrapping 2^64 and with sector * 512 overflowing; data of
// 513, 100 and 1 bytes; OUT to a read-only disk (disk unchanged); unknown
// type 99, legacy SCSI (2), GET_LIFETIME (10) and SECURE_ERASE (14); discard
// and write zeroes not negotiated; discard data of 0, 15 and 17 bytes;
// 17 segments; unknown segment flags; unmap on discard; num_sectors above
// max_discard_sectors; segments past the capacity and wrapping; a bad second
// segment after a good first (nothing done); a GET_ID buffer of 5 bytes.
// Ring-level violations, which mark the device DEVICE_NEEDS_RESET (and work
// again after a reset): a 15-byte header, no device-writable status byte, a
// read-only status byte after writable data, a data buffer outside guest
// RAM (nothing outside RAM is touched). DomainDisks refuses: access=rw on an
// archive file, a missing file, a partition vdev, xvdi, two names of the
// same disk, a qcow2 target opened as vhd, CD-ROMs. Archive files refuse
// writable opens, writes and resizes, and reads past their end (also with
// offset + length wrapping); a qcow2 overlay finds its backing file by a
// relative name ("../base/base.qcow2") inside the archive.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/block/util.hpp"
#include "tests/unit/virtio_fake.hpp"
#include "tests/unit/virtio_pci_driver.hpp"
#include "vmm/block/archive/cpio_opener.hpp"
#include "vmm/control/domain_disks.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_blk.hpp"

using namespace vmm::virtio;
using namespace virtio_fake;
using blocktest::BlockTest;
using vmm::block::BlockDevice;

namespace {

constexpr uint64_t ram_base = 0x100000;
constexpr uint64_t ram_bytes = 4 << 20;
constexpr uint64_t hdr_gpa = ram_base + 0x10000;
constexpr uint64_t status_gpa = ram_base + 0x11000;
constexpr uint64_t data_gpa = ram_base + 0x100000;
constexpr uint64_t disk_bytes = 1 << 20;  // 2048 sectors
constexpr uint64_t capacity = disk_bytes / 512;

std::vector<uint8_t> pattern(size_t n, uint32_t seed)
{
    std::vector<uint8_t> v(n);
    uint32_t x = seed * 2654435761u + 1;
    for (auto& b : v) {
        x = x * 1103515245u + 12345u;
        b = uint8_t(x >> 16);
    }
    return v;
}

struct Answer {
    uint8_t status;
    uint32_t len;
};

class BlkTest : public BlockTest {
protected:
    FakeRam ram{ram_base, ram_bytes};
    FakeIrq irq;
    vmm::pci::HostBridge bus;
    BlockDevice* disk = nullptr;
    VirtioBlk* blk = nullptr;
    VirtioPci* vp = nullptr;
    PciDriver drv{bus, 0};
    std::vector<DriverRing> rings;
    std::vector<uint8_t> image;  // what the disk holds

    void TearDown() override
    {
        delete vp;
        delete blk;
        if (disk) {
            EXPECT_TRUE(disk->close().ok());
        }
        BlockTest::TearDown();
    }

    // A qcow2 v3 image (64 KiB clusters) or a raw one holding `image`.
    void make_image(bool qcow2)
    {
        image = pattern(disk_bytes, 7);
        if (qcow2) create_qcow2("d.img", disk_bytes);
        else create_raw("d.img", disk_bytes);
        BlockDevice* w = must_open("d.img", true);
        ASSERT_NE(w, nullptr);
        ASSERT_TRUE(w->write(0, image.data(), image.size()).ok());
        ASSERT_TRUE(w->close().ok());
    }
    void start(bool writable, unsigned queues = 1, uint64_t extra_features = 0)
    {
        disk = must_open("d.img", writable);
        ASSERT_NE(disk, nullptr);
        blk = new VirtioBlk(*disk, "hv-xvda", queues);
        vp = new VirtioPci(*blk, ram, irq);
        ASSERT_TRUE(vp->init().ok());
        drv.slot = bus.attach(*vp).value();
        drv.probe();
        drv.enable_msix(queues + 1);
        ASSERT_TRUE(drv.negotiate(feature::version_1 | feature::event_idx | feature::indirect_desc |
                                  blk_feature::seg_max | blk_feature::size_max | blk_feature::blk_size |
                                  blk_feature::flush | blk_feature::ro | blk_feature::mq | extra_features));
        drv.wr(drv.common + 16, 2, 0);
        rings.clear();
        rings.reserve(queues);
        for (unsigned q = 0; q < queues; ++q) {
            rings.emplace_back(ram, 64, ram_base + 0x20000 + 0x2000ull * q);
            ASSERT_TRUE(drv.setup_queue(uint16_t(q), rings[q], uint16_t(q + 1)));
        }
        drv.add_status(status::driver_ok);
        ASSERT_TRUE(vp->live());
    }
    uint32_t cfg32(uint32_t off) { return uint32_t(drv.rd(drv.device + off, 4)); }

    void put_header(uint32_t type, uint64_t sector)
    {
        ram.put32(hdr_gpa, type);
        ram.put32(hdr_gpa + 4, 0);
        ram.put64(hdr_gpa + 8, sector);
    }
    // Submits bufs on queue q and returns the status byte at status_gpa and
    // the used length (status 0xee: nothing came back).
    Answer submit(const std::vector<Buf>& bufs, unsigned q = 0)
    {
        ram.at(status_gpa)[0] = 0xee;
        DriverRing& r = rings[q];
        const uint16_t before = r.used_idx();
        r.set_used_event(before);
        r.add(bufs);
        drv.kick(uint16_t(q));
        if (r.used_idx() == before) return {0xee, 0};
        return {ram.at(status_gpa)[0], r.used_elem(before).len};
    }
    // A request with the header, one data buffer and the status byte.
    Answer simple(uint32_t type, uint64_t sector, uint32_t len, bool data_writable)
    {
        put_header(type, sector);
        std::vector<Buf> b{{hdr_gpa, 16, false}};
        if (len) b.push_back({data_gpa, len, data_writable});
        b.push_back({status_gpa, 1, true});
        return submit(b);
    }
    Answer discard_req(uint32_t type, const std::vector<VirtioBlkDiscardSegment>& segs)
    {
        put_header(type, 0);
        for (size_t i = 0; i < segs.size(); ++i) std::memcpy(ram.at(data_gpa + 16 * i), &segs[i], 16);
        std::vector<Buf> b{{hdr_gpa, 16, false}};
        if (!segs.empty()) b.push_back({data_gpa, uint32_t(16 * segs.size()), false});
        b.push_back({status_gpa, 1, true});
        return submit(b);
    }
    std::vector<uint8_t> disk_bytes_at(uint64_t off, size_t n)
    {
        std::vector<uint8_t> v(n);
        EXPECT_TRUE(disk->read(off, v.data(), n).ok());
        return v;
    }
    bool needs_reset() { return drv.status() & status::device_needs_reset; }
    void reset_and_restart(bool writable_features = false)
    {
        drv.set_status(0);
        ASSERT_TRUE(drv.negotiate(feature::version_1 | feature::event_idx | blk_feature::flush |
                                  (writable_features ? blk_feature::discard | blk_feature::write_zeroes : 0)));
        for (size_t q = 0; q < rings.size(); ++q) {
            rings[q].restart();
            std::memset(ram.at(rings[q].desc), 0, rings[q].end() - rings[q].desc);
            ASSERT_TRUE(drv.setup_queue(uint16_t(q), rings[q], uint16_t(q + 1)));
        }
        drv.add_status(status::driver_ok);
        ASSERT_TRUE(vp->live());
    }
};

}  // namespace

TEST_F(BlkTest, IdentityFeaturesAndConfig)
{
    make_image(true);
    start(false);
    EXPECT_EQ(drv.cfg(0, 2), 0x1af4u);
    EXPECT_EQ(drv.cfg(2, 2), 0x1042u);  // 0x1040 + device ID 2
    EXPECT_EQ(drv.cfg(8) >> 8, 0x018000u);
    const uint64_t f = vp->offered_features();
    for (uint64_t bit : {blk_feature::seg_max, blk_feature::size_max, blk_feature::blk_size, blk_feature::flush,
                         blk_feature::ro, feature::version_1, feature::event_idx})
        EXPECT_TRUE(f & bit) << std::hex << bit;
    EXPECT_FALSE(f & blk_feature::discard) << "not on a read-only disk";
    EXPECT_FALSE(f & blk_feature::write_zeroes);
    EXPECT_FALSE(f & blk_feature::mq) << "one queue";
    EXPECT_EQ(cfg32(0), uint32_t(capacity));
    EXPECT_EQ(cfg32(4), 0u);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, size_max)), VirtioBlk::size_max);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, seg_max)), VirtioBlk::seg_max);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, blk_size)), 512u);
    EXPECT_EQ(drv.rd(drv.device + offsetof(VirtioBlkConfig, num_queues), 2), 1u);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, max_discard_sectors)), 0u);
    // Writes to config space change nothing; reads past it give 0.
    drv.wr(drv.device, 4, 0);
    EXPECT_EQ(cfg32(0), uint32_t(capacity));
    EXPECT_EQ(drv.rd(drv.device + sizeof(VirtioBlkConfig), 4), 0u);
}

TEST_F(BlkTest, ReadsKnownPatternFromQcow2ThroughSplitChains)
{
    make_image(true);
    start(false);
    // Whole disk in 64 KiB reads, header and status in their own buffers.
    for (uint64_t s = 0; s < capacity; s += 128) {
        auto a = simple(blk_type::in, s, 65536, true);
        ASSERT_EQ(a.status, blk_status::ok) << s;
        EXPECT_EQ(a.len, 65536u + 1);
        ASSERT_EQ(0, std::memcmp(ram.at(data_gpa), image.data() + s * 512, 65536)) << "sector " << s;
    }
    // The header in two pieces, data as 100 + 412 + 1024 bytes, the status
    // byte at the end of the last data buffer.
    put_header(blk_type::in, 5);
    auto b = submit({{hdr_gpa, 8, false},
                     {hdr_gpa + 8, 8, false},
                     {data_gpa, 100, true},
                     {data_gpa + 0x1000, 412, true},
                     {data_gpa + 0x2000, 1025, true}});
    (void)b;
    const uint8_t st = ram.at(data_gpa + 0x2000)[1024];
    EXPECT_EQ(st, blk_status::ok);
    EXPECT_EQ(rings[0].used_elem(uint16_t(rings[0].used_idx() - 1)).len, 1537u);
    std::vector<uint8_t> got(1536);
    std::memcpy(got.data(), ram.at(data_gpa), 100);
    std::memcpy(got.data() + 100, ram.at(data_gpa + 0x1000), 412);
    std::memcpy(got.data() + 512, ram.at(data_gpa + 0x2000), 1024);
    EXPECT_EQ(0, std::memcmp(got.data(), image.data() + 5 * 512, 1536));
    // The last sector, and a zero-length read.
    EXPECT_EQ(simple(blk_type::in, capacity - 1, 512, true).status, blk_status::ok);
    EXPECT_EQ(0, std::memcmp(ram.at(data_gpa), image.data() + disk_bytes - 512, 512));
    EXPECT_EQ(simple(blk_type::in, capacity, 0, true).status, blk_status::ok);
    EXPECT_EQ(blk->stats().ioerr, 0u);
    EXPECT_FALSE(irq.msgs.empty());
    EXPECT_FALSE(needs_reset());
}

TEST_F(BlkTest, WritesFlushAndReadBackOnRaw)
{
    make_image(false);
    start(true);
    auto w = pattern(4096, 99);
    std::memcpy(ram.at(data_gpa), w.data(), w.size());
    // OUT with the header and the first data bytes in one descriptor.
    std::memcpy(ram.at(data_gpa - 16), ram.at(hdr_gpa), 0);
    put_header(blk_type::out, 10);
    std::memcpy(ram.at(data_gpa - 16), ram.at(hdr_gpa), 16);
    auto a = submit({{data_gpa - 16, 16 + 1000, false}, {data_gpa + 1000, 4096 - 1000, false}, {status_gpa, 1, true}});
    EXPECT_EQ(a.status, blk_status::ok);
    EXPECT_EQ(a.len, 1u);
    EXPECT_EQ(disk_bytes_at(10 * 512, 4096), w);
    EXPECT_EQ(simple(blk_type::flush, 0, 0, false).status, blk_status::ok);
    std::memset(ram.at(data_gpa), 0, 4096);
    EXPECT_EQ(simple(blk_type::in, 10, 4096, true).status, blk_status::ok);
    EXPECT_EQ(0, std::memcmp(ram.at(data_gpa), w.data(), 4096));
    // The file itself has it.
    auto file = read_file("d.img");
    EXPECT_EQ(0, std::memcmp(file.data() + 10 * 512, w.data(), 4096));
    EXPECT_EQ(blk->stats().written_bytes, 4096u);
}

TEST_F(BlkTest, GetIdGivesTheSerial)
{
    make_image(true);
    start(false);
    std::memset(ram.at(data_gpa), 0x55, 20);
    auto a = simple(blk_type::get_id, 0, 20, true);
    EXPECT_EQ(a.status, blk_status::ok);
    EXPECT_EQ(a.len, 21u);
    EXPECT_STREQ(reinterpret_cast<char*>(ram.at(data_gpa)), "hv-xvda");
    EXPECT_EQ(ram.at(data_gpa)[19], 0);
    // A 5-byte buffer gets the first 5 bytes.
    std::memset(ram.at(data_gpa), 0x55, 20);
    a = simple(blk_type::get_id, 0, 5, true);
    EXPECT_EQ(a.status, blk_status::ok);
    EXPECT_EQ(a.len, 6u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(ram.at(data_gpa)), 5), "hv-xv");
    EXPECT_EQ(ram.at(data_gpa)[5], 0x55);
}

TEST_F(BlkTest, DiscardAndWriteZeroesOnQcow2)
{
    make_image(true);
    start(true, 1, blk_feature::discard | blk_feature::write_zeroes);
    ASSERT_TRUE(vp->negotiated() & blk_feature::discard);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, max_discard_sectors)), VirtioBlk::max_discard_sectors);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, max_discard_seg)), VirtioBlk::max_discard_seg);
    EXPECT_EQ(cfg32(offsetof(VirtioBlkConfig, discard_sector_alignment)), VirtioBlk::discard_alignment);
    EXPECT_EQ(discard_req(blk_type::write_zeroes, {{8, 8, 0}, {100, 3, 1}}).status, blk_status::ok);
    EXPECT_EQ(disk_bytes_at(8 * 512, 4096), std::vector<uint8_t>(4096, 0));
    EXPECT_EQ(disk_bytes_at(100 * 512, 1536), std::vector<uint8_t>(1536, 0));
    EXPECT_EQ(disk_bytes_at(16 * 512, 512), std::vector<uint8_t>(image.begin() + 16 * 512, image.begin() + 17 * 512));
    EXPECT_EQ(discard_req(blk_type::discard, {{256, 128, 0}}).status, blk_status::ok);
    EXPECT_EQ(disk_bytes_at(256 * 512, 65536), std::vector<uint8_t>(65536, 0));
    EXPECT_FALSE(needs_reset());
}

TEST_F(BlkTest, HostileRangesAndLengthsGetIoerr)
{
    make_image(true);
    start(false);
    const uint64_t bad_sectors[] = {capacity, capacity + 1, capacity - 1 /* 1024 bytes: one past */, ~0ull,
                                    ~0ull - 1, 1ull << 55, 1ull << 63};
    for (uint64_t s : bad_sectors) {
        EXPECT_EQ(simple(blk_type::in, s, 1024, true).status, blk_status::ioerr) << s;
    }
    for (uint32_t len : {513u, 100u, 1u}) EXPECT_EQ(simple(blk_type::in, 0, len, true).status, blk_status::ioerr) << len;
    // Writes to a read-only disk: refused, nothing written.
    std::memset(ram.at(data_gpa), 0xab, 512);
    EXPECT_EQ(simple(blk_type::out, 0, 512, false).status, blk_status::ioerr);
    EXPECT_EQ(disk_bytes_at(0, 512), std::vector<uint8_t>(image.begin(), image.begin() + 512));
    for (uint32_t type : {99u, 2u, 10u, 14u})
        EXPECT_EQ(simple(type, 0, 512, true).status, blk_status::unsupp) << type;
    // Discard and write zeroes were not offered on this read-only disk.
    EXPECT_EQ(discard_req(blk_type::discard, {{0, 8, 0}}).status, blk_status::unsupp);
    EXPECT_EQ(discard_req(blk_type::write_zeroes, {{0, 8, 0}}).status, blk_status::unsupp);
    EXPECT_FALSE(needs_reset());
    EXPECT_EQ(simple(blk_type::in, 0, 512, true).status, blk_status::ok) << "still works";
    EXPECT_EQ(blk->stats().ioerr, std::size(bad_sectors) + 3 + 1);
    EXPECT_EQ(blk->stats().unsupp, 6u);
}

TEST_F(BlkTest, HostileDiscardSegments)
{
    make_image(true);
    start(true, 1, blk_feature::discard | blk_feature::write_zeroes);
    auto untouched = [&] { EXPECT_EQ(disk_bytes_at(0, 65536), std::vector<uint8_t>(image.begin(), image.begin() + 65536)); };
    // Data of 0, 15 and 17 bytes.
    EXPECT_EQ(discard_req(blk_type::discard, {}).status, blk_status::ioerr);
    for (uint32_t len : {15u, 17u}) {
        put_header(blk_type::discard, 0);
        std::memset(ram.at(data_gpa), 0, 32);
        EXPECT_EQ(submit({{hdr_gpa, 16, false}, {data_gpa, len, false}, {status_gpa, 1, true}}).status,
                  blk_status::ioerr)
            << len;
    }
    std::vector<VirtioBlkDiscardSegment> many(VirtioBlk::max_discard_seg + 1, {0, 8, 0});
    EXPECT_EQ(discard_req(blk_type::discard, many).status, blk_status::unsupp);
    EXPECT_EQ(discard_req(blk_type::discard, {{0, 8, 2}}).status, blk_status::unsupp) << "unknown flag";
    EXPECT_EQ(discard_req(blk_type::write_zeroes, {{0, 8, 0x80000000u}}).status, blk_status::unsupp);
    EXPECT_EQ(discard_req(blk_type::discard, {{0, 8, blk_discard_flag_unmap}}).status, blk_status::unsupp)
        << "unmap on discard";
    EXPECT_EQ(discard_req(blk_type::discard, {{0, VirtioBlk::max_discard_sectors + 1, 0}}).status, blk_status::ioerr);
    EXPECT_EQ(discard_req(blk_type::write_zeroes, {{capacity - 1, 2, 0}}).status, blk_status::ioerr);
    EXPECT_EQ(discard_req(blk_type::write_zeroes, {{~0ull - 3, 8, 0}}).status, blk_status::ioerr) << "wraps";
    EXPECT_EQ(discard_req(blk_type::write_zeroes, {{0, 8, 0}, {capacity, 1, 0}}).status, blk_status::ioerr)
        << "second segment bad";
    untouched();
    EXPECT_FALSE(needs_reset());
}

TEST_F(BlkTest, RingViolationsNeedReset)
{
    make_image(true);
    start(false);
    // A 15-byte header.
    put_header(blk_type::in, 0);
    submit({{hdr_gpa, 15, false}, {data_gpa, 512, true}, {status_gpa, 1, true}});
    EXPECT_TRUE(needs_reset());
    reset_and_restart();
    EXPECT_EQ(simple(blk_type::in, 0, 512, true).status, blk_status::ok);
    // No device-writable byte at all (an OUT without its status).
    put_header(blk_type::flush, 0);
    submit({{hdr_gpa, 16, false}});
    EXPECT_TRUE(needs_reset());
    reset_and_restart();
    // The status byte read-only after writable data: a readable buffer
    // after a writable one breaks the ring (2.7.4.2).
    put_header(blk_type::in, 0);
    submit({{hdr_gpa, 16, false}, {data_gpa, 512, true}, {status_gpa, 1, false}});
    EXPECT_TRUE(needs_reset());
    reset_and_restart();
    // A data buffer outside guest RAM: nothing is read or written there.
    put_header(blk_type::in, 0);
    submit({{hdr_gpa, 16, false}, {ram_base + ram_bytes - 256, 512, true}, {status_gpa, 1, true}});
    EXPECT_TRUE(needs_reset());
    reset_and_restart();
    EXPECT_EQ(simple(blk_type::in, 1, 512, true).status, blk_status::ok);
    EXPECT_EQ(0, std::memcmp(ram.at(data_gpa), image.data() + 512, 512));
}

TEST_F(BlkTest, SeveralQueues)
{
    make_image(true);
    start(false, 4);
    EXPECT_TRUE(vp->offered_features() & blk_feature::mq);
    EXPECT_TRUE(vp->negotiated() & blk_feature::mq);
    EXPECT_EQ(drv.rd(drv.device + offsetof(VirtioBlkConfig, num_queues), 2), 4u);
    EXPECT_EQ(drv.rd(drv.common + 18, 2), 4u);
    for (unsigned q = 0; q < 4; ++q) {
        put_header(blk_type::in, 64 * q);
        irq.msgs.clear();
        auto a = submit({{hdr_gpa, 16, false}, {data_gpa, 4096, true}, {status_gpa, 1, true}}, q);
        EXPECT_EQ(a.status, blk_status::ok) << q;
        EXPECT_EQ(0, std::memcmp(ram.at(data_gpa), image.data() + 64 * q * 512, 4096));
        ASSERT_EQ(irq.msgs.size(), 1u) << "queue " << q << " interrupts on its own vector";
        EXPECT_EQ(irq.msgs[0].data, 0x40u + q + 1);
    }
}

TEST_F(BlkTest, EventIdxSuppressesInterrupts)
{
    make_image(true);
    start(false);
    DriverRing& r = rings[0];
    // The driver asks for an interrupt only after the third used buffer.
    r.set_used_event(uint16_t(r.used_idx() + 2));
    irq.msgs.clear();
    for (int i = 0; i < 3; ++i) {
        put_header(blk_type::in, uint64_t(i));
        r.add({{hdr_gpa, 16, false}, {data_gpa, 512, true}, {status_gpa, 1, true}});
        drv.kick(0);
    }
    EXPECT_EQ(r.used_idx(), 3);
    EXPECT_EQ(irq.msgs.size(), 1u);
}

// ----------------------------------------------------- the Dom0 path

namespace {

// A newc archive of (name, data) files, as GNU cpio writes it.
std::vector<uint8_t> cpio_of(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files)
{
    std::vector<uint8_t> a;
    auto pad = [&] { while (a.size() % 4) a.push_back(0); };
    auto entry = [&](const std::string& name, const std::vector<uint8_t>& data, uint32_t mode) {
        char h[111];
        snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u, mode, 0u, 0u, 1u, 0u,
                 uint32_t(data.size()), 0u, 0u, 0u, 0u, uint32_t(name.size() + 1), 0u);
        a.insert(a.end(), h, h + 110);
        a.insert(a.end(), name.begin(), name.end());
        a.push_back(0);
        pad();
        a.insert(a.end(), data.begin(), data.end());
        pad();
    };
    for (auto& [n, d] : files) entry(n, d, 0100644);
    entry("TRAILER!!!", {}, 0);
    return a;
}

struct NullHost final : vmm::platform::PlatformHost {
    std::vector<Msg> msgs;
    void irq_line(unsigned, bool) override {}
    void msi(uint64_t a, uint32_t d) override { msgs.push_back({a, d}); }
};

struct Text final : vmm::xl::Output {
    std::string s;
    void write(const char* p, size_t n) override { s.append(p, n); }
};

}  // namespace

class Dom0DiskTest : public BlockTest {
protected:
    std::vector<uint8_t> archive_bytes;
    std::vector<uint8_t> image;
    FakeRam ram{0, 8 << 20};  // the guest's RAM from 0, as Dom0 maps it
    NullHost host;

    void SetUp() override
    {
        image = pattern(disk_bytes, 3);
        create_qcow2("d.qcow2", disk_bytes);
        BlockDevice* w = must_open("d.qcow2", true);
        ASSERT_NE(w, nullptr);
        ASSERT_TRUE(w->write(0, image.data(), image.size()).ok());
        ASSERT_TRUE(w->close().ok());
        archive_bytes = cpio_of({{"guests/disk.qcow2", read_file("d.qcow2")}, {"guests/raw.img", image}});
    }
    vmm::DomainConfig cfg_with(const std::string& disks)
    {
        vmm::DomainConfig c;
        vmm::CfgDiagnostics diag;
        std::string text = "name=\"t\"\nkernel=\"k\"\nvcpus=2\ndisk=" + disks + "\n";
        auto s = vmm::parse_xl_cfg(lib::StrView(text.c_str()), c, diag);
        EXPECT_TRUE(s.ok()) << diag.error.text;
        return c;
    }
};

TEST_F(Dom0DiskTest, ArchiveImageReadThroughThePlatform)
{
    vmm::files::CpioArchive files(archive_bytes.data(), archive_bytes.size());
    ASSERT_TRUE(files.validate().ok());
    vmm::platform::PcPlatform pc(host, ram.mem.data(), vmm::builder::split_ram(ram.mem.size()), nullptr, nullptr);
    ASSERT_TRUE(pc.init().ok());
    Text out;
    {
        vmm::DomainDisks disks(files, alloc);
        auto c = cfg_with("[ 'format=qcow2, vdev=xvdb, access=ro, target=guests/disk.qcow2', "
                          "'guests/raw.img,raw,xvda,r' ]");
        ASSERT_TRUE(disks.attach(c, pc, out).ok()) << out.s;
        ASSERT_EQ(disks.count(), 2u);
        EXPECT_EQ(disks.disk(0).slot, 17u) << "xvdb is disk 1";
        EXPECT_EQ(disks.disk(1).slot, 16u);
        EXPECT_EQ(disks.disk(0).devid, 51728u);
        EXPECT_EQ(disks.disk(1).devid, 51712u);
        EXPECT_STREQ(disks.disk(0).dev->format_name(), "qcow2");
        EXPECT_TRUE(disks.disk(0).dev->read_only());
        EXPECT_EQ(disks.open_files(), 2u);
        // The guest's view: a driver on the platform's bus reads xvdb.
        VirtioPci* f = pc.virtio_function(17);
        ASSERT_NE(f, nullptr);
        PciDriver drv{pc.bridge(), 17};
        drv.bar_base = uint64_t(drv.cfg(0x20) & ~0xfu) | uint64_t(drv.cfg(0x24)) << 32;
        // 1 MiB of the window per slot.
        EXPECT_EQ(drv.bar_base, vmm::platform::pci_mmio_base + 17 * 0x100000ull);
        drv.probe();
        EXPECT_EQ(drv.rd(drv.device, 4), uint32_t(capacity));
        EXPECT_TRUE(f->offered_features() & blk_feature::ro);
        EXPECT_TRUE(f->offered_features() & blk_feature::mq) << "vcpus=2: two queues";
        drv.enable_msix(3);
        ASSERT_TRUE(drv.negotiate(feature::version_1 | feature::event_idx | blk_feature::ro | blk_feature::mq));
        DriverRing r(ram, 16, 0x10000);
        ASSERT_TRUE(drv.setup_queue(0, r, 1));
        drv.add_status(status::driver_ok);
        ram.put32(0x20000, blk_type::in);
        ram.put32(0x20004, 0);
        ram.put64(0x20008, 100);
        r.add({{0x20000, 16, false}, {0x40000, 65536, true}, {0x21000, 1, true}});
        drv.kick(0);
        EXPECT_EQ(ram.at(0x21000)[0], blk_status::ok);
        EXPECT_EQ(0, std::memcmp(ram.at(0x40000), image.data() + 100 * 512, 65536));
        EXPECT_FALSE(host.msgs.empty());
    }
    EXPECT_EQ(out.s, "");
}

TEST_F(Dom0DiskTest, RefusedDisks)
{
    vmm::files::CpioArchive files(archive_bytes.data(), archive_bytes.size());
    ASSERT_TRUE(files.validate().ok());
    struct Case {
        const char* disks;
        const char* message;
    } cases[] = {
        {"[ 'guests/disk.qcow2,qcow2,xvda' ]", "which are read-only: use access=ro"},
        {"[ 'guests/disk.qcow2,qcow2,xvda,rw' ]", "which are read-only: use access=ro"},
        {"[ 'guests/none.qcow2,qcow2,xvda,r' ]", "cannot open 'guests/none.qcow2' as qcow2: no such file"},
        {"[ 'guests/disk.qcow2,vhd,xvda,r' ]", "cannot open 'guests/disk.qcow2' as vhd: not a valid image"},
        {"[ 'guests/disk.qcow2,qcow2,xvda1,r' ]", "whole disks only"},
        {"[ 'guests/disk.qcow2,qcow2,xvdi,r' ]", "whole disks only"},
        {"[ 'guests/disk.qcow2,qcow2,xvda,r', 'guests/raw.img,raw,hda,r' ]", "disk 2 (hda): the same disk as xvda"},
        {"[ 'guests/disk.qcow2,qcow2,hdc,r,devtype=cdrom' ]", "CD-ROM"},
        {"[ 'guests/disk.qcow2,qcow2,xvda,r,backend=driverdom' ]", "backend="},
    };
    for (const Case& k : cases) {
        vmm::platform::PcPlatform pc(host, ram.mem.data(), vmm::builder::split_ram(ram.mem.size()), nullptr, nullptr);
        ASSERT_TRUE(pc.init().ok());
        vmm::DomainDisks disks(files, alloc);
        Text out;
        EXPECT_FALSE(disks.attach(cfg_with(k.disks), pc, out).ok()) << k.disks;
        EXPECT_NE(out.s.find(k.message), std::string::npos) << k.disks << " said: " << out.s;
    }
}

TEST_F(Dom0DiskTest, ArchiveFilesAreReadOnlyAndFindTheirBackingFiles)
{
    // An overlay whose backing file is named relative to it, both inside
    // the archive: the chain opens through the CpioOpener alone.
    create_qcow2("base.qcow2", disk_bytes);
    BlockDevice* w = must_open("base.qcow2", true);
    ASSERT_NE(w, nullptr);
    ASSERT_TRUE(w->write(0, image.data(), image.size()).ok());
    ASSERT_TRUE(w->close().ok());
    create_qcow2("top.qcow2", disk_bytes, 3, 16, "../base/base.qcow2", "qcow2");  // empty: all from the base
    auto top = read_file("top.qcow2");
    archive_bytes = cpio_of({{"guests/base/base.qcow2", read_file("base.qcow2")}, {"guests/over/top.qcow2", top}});
    vmm::files::CpioArchive files(archive_bytes.data(), archive_bytes.size());
    ASSERT_TRUE(files.validate().ok());
    vmm::block::CpioOpener opener(files, alloc);
    vmm::block::OpenOptions o;
    o.format = vmm::block::Format::qcow2;
    auto dev = vmm::block::open_image(alloc, opener, "guests/over/top.qcow2", {}, o);
    ASSERT_TRUE(dev.ok()) << lib::error_name(dev.error());
    ASSERT_NE((*dev)->backing(), nullptr);
    EXPECT_EQ(opener.open_files(), 2u);
    std::vector<uint8_t> got(4096);
    ASSERT_TRUE((*dev)->read(8192, got.data(), got.size()).ok());
    EXPECT_EQ(0, std::memcmp(got.data(), image.data() + 8192, 4096)) << "read through to the backing file";
    EXPECT_EQ((*dev)->write(0, got.data(), 512).error(), lib::Error::denied);
    EXPECT_TRUE((*dev)->close().ok());
    EXPECT_EQ(opener.open_files(), 0u);
    // The files themselves: writable opens, writes and resizes are denied,
    // reads past the end are truncated, flush has nothing to do.
    EXPECT_EQ(opener.open("guests/over/top.qcow2", {}, true).error(), lib::Error::denied);
    EXPECT_EQ(opener.open("guests/over/none", {}, false).error(), lib::Error::not_found);
    EXPECT_EQ(opener.open("../x", {}, false).error(), lib::Error::invalid);
    auto f = opener.open("guests/over/top.qcow2", {}, false);
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE((*f)->writable());
    EXPECT_EQ((*f)->size(), top.size());
    EXPECT_EQ(opener.resolved_name(*f), lib::StrView("guests/over/top.qcow2"));
    uint8_t b[16];
    EXPECT_EQ(vmm::block::file_write(**f, 0, b, 16).error(), lib::Error::denied);
    EXPECT_EQ(vmm::block::file_resize(**f, 0).error(), lib::Error::denied);
    EXPECT_EQ(vmm::block::file_read(**f, top.size() - 8, b, 16).error(), lib::Error::truncated);
    EXPECT_EQ(vmm::block::file_read(**f, ~0ull - 4, b, 16).error(), lib::Error::truncated);
    EXPECT_TRUE(vmm::block::file_read(**f, 0, b, 16).ok());
    EXPECT_EQ(0, std::memcmp(b, top.data(), 16));
    EXPECT_TRUE(vmm::block::file_flush(**f).ok());
    opener.close(*f);
}

TEST(CpioOpenerNames, ResolvedLikeQemuBackingFiles)
{
    char out[64];
    auto r = [&](const char* name, const char* rel) -> std::string {
        auto s = vmm::block::CpioOpener::resolve(name, rel, out, sizeof out);
        return s.ok() ? std::string(out) : std::string("error: ") + lib::error_name(s.error());
    };
    EXPECT_EQ(r("guests/a.qcow2", ""), "guests/a.qcow2");
    EXPECT_EQ(r("base.qcow2", "guests/a.qcow2"), "guests/base.qcow2");
    EXPECT_EQ(r("../base.qcow2", "guests/disks/a.qcow2"), "guests/base.qcow2");
    EXPECT_EQ(r("/base.qcow2", "guests/a.qcow2"), "base.qcow2");
    EXPECT_EQ(r("./x//y/./z", ""), "x/y/z");
    EXPECT_EQ(r("../../x", "guests/a"), "error: invalid");
    EXPECT_EQ(r(std::string(80, 'a').c_str(), ""), "error: out of range");
}
