// Dom0's virtio-blk driver (drivers/virtio) against this project's own
// virtio-blk device model (vmm/virtio) behind its PCI host bridge: the two
// halves were written apart, from the specification, and meet here. The
// driver's platform is simulated: configuration space is the bridge's ECAM,
// BAR windows are its MMIO dispatch, DMA memory is a fake RAM whose bus
// addresses are guest-physical addresses, and an MSI is an entry in the
// interrupt sink. On top: DiskFile (byte-addressed I/O with read-modify-
// write of partial sectors), HostDisks (names, exclusive writers, lsblk)
// and a qcow2 image on the "physical" disk, written through the whole stack
// and checked afterwards by qemu-img.
//
// Bad inputs tried: requests past the end, of 0 sectors, over max_sectors,
// wrapping lba + sectors, a flush with sectors set; a write to a read-only
// disk (disk unchanged); a full queue (busy, then fine after polling); a
// device that publishes a used entry for a descriptor not in flight and one
// that advances the used index past the ring (queue broken, requests fail
// with an I/O error, nothing hangs); a function that is not virtio-blk; a
// BAR never assigned; DiskFile reads and writes past the end and resizes;
// a second writer, a writer next to a reader, and a whole-disk writer next
// to a partition reader in HostDisks.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "drivers/pci/pci_function.hpp"
#include "drivers/virtio/virtio_blk_disk.hpp"
#include "tests/unit/block/util.hpp"
#include "tests/unit/drivers/sim_platform.hpp"
#include "tests/unit/virtio_fake.hpp"
#include "vmm/hostdev/disk_file.hpp"
#include "vmm/hostdev/host_disks.hpp"
#include "vmm/pci/host_bridge.hpp"
#include "vmm/virtio/virtio_blk.hpp"
#include "vmm/virtio/virtio_pci.hpp"

using namespace virtio_fake;
using blocktest::BlockTest;
using vmm::block::BlockDevice;
using simplat::SimPlatform;
using simplat::ram_base;
using simplat::ram_bytes;

namespace {

constexpr uint64_t bar_base = 0xfe000000ull;
constexpr uint64_t disk_bytes = 4 << 20;  // 8192 sectors

std::vector<uint8_t> pattern(size_t n, uint32_t seed)
{
    std::vector<uint8_t> v(n);
    std::mt19937 g(seed);
    for (auto& b : v) b = uint8_t(g());
    return v;
}

class VirtioBlkDriverTest : public BlockTest {
protected:
    FakeRam ram{ram_base, ram_bytes};
    FakeIrq irq;
    vmm::pci::HostBridge bridge;
    SimPlatform plat{bridge, ram, irq};
    BlockDevice* image = nullptr;  // the "physical" disk's contents
    vmm::virtio::VirtioBlk* model = nullptr;
    vmm::virtio::VirtioPci* fn_model = nullptr;
    unsigned slot = 0;
    std::unique_ptr<drivers::pci::FunctionConfig> cfg;
    std::unique_ptr<drivers::pci::Function> fn;
    drivers::virtio::VirtioBlkDisk disk;

    void TearDown() override
    {
        delete fn_model;
        delete model;
        if (image) {
            EXPECT_TRUE(image->close().ok());
        }
        BlockTest::TearDown();
    }

    // A raw host file as the device model's disk; BAR4 assigned as firmware
    // would. `assign` false leaves the BAR at 0.
    void plug(const std::string& file, bool writable, bool assign = true)
    {
        image = must_open(file, writable, vmm::block::Format::raw);
        ASSERT_NE(image, nullptr);
        model = new vmm::virtio::VirtioBlk(*image, "hv-serial-1", 1);
        fn_model = new vmm::virtio::VirtioPci(*model, ram, irq);
        ASSERT_TRUE(fn_model->init().ok());
        slot = bridge.attach(*fn_model).value();
        cfg = std::make_unique<drivers::pci::FunctionConfig>(plat, drivers::pci::make_bdf(0, slot, 0));
        fn = std::make_unique<drivers::pci::Function>(*cfg);
        if (assign) {
            cfg->write(0x20, 4, uint32_t(bar_base));
            cfg->write(0x24, 4, uint32_t(bar_base >> 32));
        }
    }
    void make_disk(const std::string& name, const std::vector<uint8_t>& contents)
    {
        create_raw(name, disk_bytes);
        BlockDevice* w = must_open(name, true, vmm::block::Format::raw);
        ASSERT_NE(w, nullptr);
        ASSERT_TRUE(w->write(0, contents.data(), contents.size()).ok());
        ASSERT_TRUE(w->close().ok());
    }

    struct Done {
        bool done = false;
        lib::Status st;
    };
    static void on_done(drivers::BlockRequest& r, lib::Status s)
    {
        auto* d = static_cast<Done*>(r.ctx);
        d->done = true;
        d->st = s;
    }
    // One request, waited for.
    lib::Status io(drivers::BlockOp op, uint64_t lba, uint32_t sectors, drivers::DmaBuffer& buf)
    {
        Done d;
        drivers::BlockRequest r;
        r.op = op;
        r.lba = lba;
        r.sectors = sectors;
        r.va = buf.va;
        r.bus = buf.bus;
        r.done = on_done;
        r.ctx = &d;
        auto s = disk.submit(r);
        if (!s.ok()) return s;
        for (int i = 0; i < 100 && !d.done; ++i) (void)disk.wait(1'000'000);
        EXPECT_TRUE(d.done);
        return d.st;
    }
};

TEST_F(VirtioBlkDriverTest, FindsTheFunctionOnTheBusAndReportsTheDisk)
{
    make_disk("d.raw", pattern(disk_bytes, 1));
    plug("d.raw", true);
    drivers::pci::FunctionId ids[8];
    size_t n = drivers::pci::scan(plat, ids, 8);
    ASSERT_GE(n, 1u);
    bool seen = false;
    for (size_t i = 0; i < n; ++i)
        if (ids[i].bdf == drivers::pci::make_bdf(0, slot, 0)) {
            seen = true;
            EXPECT_EQ(ids[i].vendor, 0x1af4);
            EXPECT_EQ(ids[i].device, 0x1042);
            EXPECT_EQ(ids[i].class_code >> 8, 0x0180u);
        }
    EXPECT_TRUE(seen);
    drivers::pci::Bar b = fn->bar(4);
    EXPECT_EQ(b.base, bar_base);
    EXPECT_TRUE(b.is64);
    EXPECT_GE(b.size, 0x4000u);

    ASSERT_TRUE(disk.init(*fn, plat).ok());
    const drivers::BlockInfo& in = disk.info();
    EXPECT_EQ(in.sector_size, 512u);
    EXPECT_EQ(in.sectors, disk_bytes / 512);
    EXPECT_TRUE(in.writable);
    EXPECT_TRUE(in.volatile_cache);
    EXPECT_STREQ(in.serial, "hv-serial-1");
    EXPECT_STREQ(in.model, "virtio-blk");
    EXPECT_GT(in.max_sectors, 0u);
    EXPECT_TRUE(fn_model->live());
}

TEST_F(VirtioBlkDriverTest, ReadsAndWritesAtRandomPlacesMatchTheDisk)
{
    std::vector<uint8_t> shadow = pattern(disk_bytes, 2);
    make_disk("d.raw", shadow);
    plug("d.raw", true);
    ASSERT_TRUE(disk.init(*fn, plat).ok());
    auto buf = plat.alloc_dma(128 * 1024).value();
    std::mt19937 g(5);
    for (int i = 0; i < 300; ++i) {
        uint32_t sectors = 1 + g() % disk.info().max_sectors;
        uint64_t lba = g() % (disk_bytes / 512 - sectors + 1);
        if (g() % 2) {
            auto data = pattern(sectors * 512, uint32_t(i));
            std::memcpy(buf.va, data.data(), data.size());
            ASSERT_TRUE(io(drivers::BlockOp::write, lba, sectors, buf).ok());
            std::memcpy(shadow.data() + lba * 512, data.data(), data.size());
        } else {
            ASSERT_TRUE(io(drivers::BlockOp::read, lba, sectors, buf).ok());
            ASSERT_EQ(std::memcmp(buf.va, shadow.data() + lba * 512, sectors * 512), 0) << "lba " << lba;
        }
    }
    ASSERT_TRUE(io(drivers::BlockOp::flush, 0, 0, buf).ok());
    // What the device model's disk holds now is what the driver wrote.
    std::vector<uint8_t> back(disk_bytes);
    ASSERT_TRUE(image->read(0, back.data(), back.size()).ok());
    EXPECT_TRUE(back == shadow);
    EXPECT_EQ(disk.outstanding(), 0u);
    EXPECT_FALSE(irq.msgs.empty());  // completions came as MSI-X messages
    EXPECT_EQ(irq.msgs.back().addr, 0xfee00000u);
    EXPECT_EQ(irq.msgs.back().data, 0x51u);
}

TEST_F(VirtioBlkDriverTest, RefusesBadRequestsAndAFullQueueAndKeepsWorking)
{
    std::vector<uint8_t> shadow = pattern(disk_bytes, 3);
    make_disk("d.raw", shadow);
    plug("d.raw", true);
    ASSERT_TRUE(disk.init(*fn, plat).ok());
    auto buf = plat.alloc_dma(128 * 1024).value();
    const uint64_t last = disk_bytes / 512 - 1;
    using drivers::BlockOp;
    EXPECT_EQ(io(BlockOp::read, last + 1, 1, buf).error(), lib::Error::invalid);
    EXPECT_EQ(io(BlockOp::read, last, 2, buf).error(), lib::Error::invalid);
    EXPECT_EQ(io(BlockOp::read, 0, 0, buf).error(), lib::Error::invalid);
    EXPECT_EQ(io(BlockOp::read, 0, disk.info().max_sectors + 1, buf).error(), lib::Error::invalid);
    EXPECT_EQ(io(BlockOp::read, ~0ull - 1, 4, buf).error(), lib::Error::invalid);
    EXPECT_EQ(io(BlockOp::flush, 0, 1, buf).error(), lib::Error::invalid);
    EXPECT_TRUE(io(BlockOp::read, last, 1, buf).ok());
    EXPECT_EQ(std::memcmp(buf.va, shadow.data() + last * 512, 512), 0);

    // Submit without polling until the slots run out.
    std::vector<Done> done(64);
    std::vector<drivers::BlockRequest> reqs(64);
    unsigned queued = 0;
    for (; queued < reqs.size(); ++queued) {
        auto& r = reqs[queued];
        r.op = BlockOp::read;
        r.lba = queued;
        r.sectors = 1;
        r.va = buf.va;
        r.bus = buf.bus;
        r.done = on_done;
        r.ctx = &done[queued];
        auto s = disk.submit(r);
        if (!s.ok()) {
            EXPECT_EQ(s.error(), lib::Error::busy);
            break;
        }
    }
    EXPECT_GE(queued, 16u);
    EXPECT_LT(queued, reqs.size());
    EXPECT_EQ(disk.outstanding(), queued);
    EXPECT_EQ(disk.poll(), queued);
    for (unsigned i = 0; i < queued; ++i) EXPECT_TRUE(done[i].done && done[i].st.ok()) << i;
    EXPECT_TRUE(io(BlockOp::read, 5, 8, buf).ok());
    EXPECT_EQ(std::memcmp(buf.va, shadow.data() + 5 * 512, 8 * 512), 0);
}

TEST_F(VirtioBlkDriverTest, AReadOnlyDiskRefusesWrites)
{
    std::vector<uint8_t> shadow = pattern(disk_bytes, 4);
    make_disk("d.raw", shadow);
    plug("d.raw", false);
    ASSERT_TRUE(disk.init(*fn, plat).ok());
    EXPECT_FALSE(disk.info().writable);
    auto buf = plat.alloc_dma(4096).value();
    std::memset(buf.va, 0xee, 4096);
    EXPECT_EQ(io(drivers::BlockOp::write, 0, 8, buf).error(), lib::Error::denied);
    std::vector<uint8_t> back(4096);
    ASSERT_TRUE(image->read(0, back.data(), back.size()).ok());
    EXPECT_EQ(std::memcmp(back.data(), shadow.data(), 4096), 0);
}

TEST_F(VirtioBlkDriverTest, ADeviceThatBreaksTheRingFailsRequestsWithoutHanging)
{
    make_disk("d.raw", pattern(disk_bytes, 5));
    plug("d.raw", true);
    ASSERT_TRUE(disk.init(*fn, plat).ok());
    auto buf = plat.alloc_dma(4096).value();
    ASSERT_TRUE(io(drivers::BlockOp::read, 0, 1, buf).ok());
    // The used ring follows the descriptors and the available ring in the
    // first DMA buffer the queue took: find it through the device model's
    // view (queue 0's used address) and forge an entry for a descriptor
    // that is not in flight.
    uint64_t used = 0;
    {
        bridge.ecam_write(uint64_t(slot) << 15 | 0x04, 2, 0x6);
        uint64_t lo = 0, hi = 0;
        ASSERT_TRUE(bridge.bar_write(vmm::pci::Space::memory, bar_base + 0x16, 2, 0));
        ASSERT_TRUE(bridge.bar_read(vmm::pci::Space::memory, bar_base + 0x30, 4, lo));
        ASSERT_TRUE(bridge.bar_read(vmm::pci::Space::memory, bar_base + 0x34, 4, hi));
        used = lo | hi << 32;
    }
    ASSERT_NE(used, 0u);
    uint16_t idx = ram.get16(used + 2);
    uint16_t size = 0;
    {
        uint64_t v = 0;
        ASSERT_TRUE(bridge.bar_read(vmm::pci::Space::memory, bar_base + 0x18, 2, v));
        size = uint16_t(v);
    }
    ram.put32(used + 4 + 8ull * (idx % size), 3);  // descriptor 3: the middle of no chain in flight
    ram.put32(used + 8 + 8ull * (idx % size), 0);
    ram.put16(used + 2, uint16_t(idx + 1));
    EXPECT_EQ(disk.poll(), 0u);
    EXPECT_TRUE(disk.broken());
    EXPECT_EQ(io(drivers::BlockOp::read, 0, 1, buf).error(), lib::Error::io);
}

TEST_F(VirtioBlkDriverTest, RefusesWhatIsNotAnAssignedVirtioBlkFunction)
{
    make_disk("d.raw", pattern(disk_bytes, 6));
    plug("d.raw", true, false);
    EXPECT_EQ(disk.init(*fn, plat).error(), lib::Error::corrupt);  // BAR4 never assigned

    // The bridge's own function 0:0.0 (a host bridge) is not a virtio disk.
    drivers::pci::FunctionConfig host_cfg(plat, drivers::pci::make_bdf(0, 0, 0));
    drivers::pci::Function host(host_cfg);
    drivers::virtio::VirtioBlkDisk other;
    if (host.vendor() != 0xffff) {
        EXPECT_EQ(other.init(host, plat).error(), lib::Error::unsupported);
    }
}

// A request straight to the File (no helper's own bounds check) past the end.
void block_request_past_end(vmm::block::File& f)
{
    uint8_t b = 0;
    lib::Status got;
    vmm::block::FileRequest r;
    r.op = vmm::block::FileOp::read;
    r.offset = f.size();
    r.buf = &b;
    r.len = 1;
    r.ctx = &got;
    r.done = [](vmm::block::FileRequest& q, lib::Status s) { *static_cast<lib::Status*>(q.ctx) = s; };
    f.submit(r);
    EXPECT_EQ(got.error(), lib::Error::out_of_range);
}

// DiskFile: bytes at any offset and length through whole-sector requests.
TEST_F(VirtioBlkDriverTest, DiskFileReadsAndWritesAnyByteRange)
{
    std::vector<uint8_t> shadow = pattern(disk_bytes, 7);
    make_disk("d.raw", shadow);
    plug("d.raw", true);
    ASSERT_TRUE(disk.init(*fn, plat).ok());
    auto bounce = plat.alloc_dma(64 * 1024).value();
    vmm::hostdev::DiskFile file(disk, plat, bounce, nullptr);
    EXPECT_EQ(file.size(), disk_bytes);
    EXPECT_TRUE(file.writable());
    std::mt19937 g(9);
    for (int i = 0; i < 200; ++i) {
        size_t len = 1 + g() % 200000;
        uint64_t off = g() % (disk_bytes - len + 1);
        if (g() % 2) {
            auto data = pattern(len, uint32_t(100 + i));
            ASSERT_TRUE(vmm::block::file_write(file, off, data.data(), len).ok());
            std::memcpy(shadow.data() + off, data.data(), len);
        } else {
            std::vector<uint8_t> got(len);
            ASSERT_TRUE(vmm::block::file_read(file, off, got.data(), len).ok());
            ASSERT_EQ(std::memcmp(got.data(), shadow.data() + off, len), 0) << off << "+" << len;
        }
    }
    ASSERT_TRUE(vmm::block::file_flush(file).ok());
    std::vector<uint8_t> back(disk_bytes);
    ASSERT_TRUE(image->read(0, back.data(), back.size()).ok());
    EXPECT_TRUE(back == shadow);
    uint8_t b = 0;
    EXPECT_EQ(vmm::block::file_read(file, disk_bytes, &b, 1).error(), lib::Error::truncated);
    {
        block_request_past_end(file);
    }
    EXPECT_EQ(vmm::block::file_write(file, disk_bytes - 1, "ab", 2).error(), lib::Error::out_of_range);
    EXPECT_TRUE(vmm::block::file_read(file, disk_bytes - 1, &b, 1).ok());
    EXPECT_EQ(b, shadow.back());
    EXPECT_EQ(vmm::block::file_resize(file, disk_bytes * 2).error(), lib::Error::unsupported);
}

struct StringOut final : vmm::xl::Output {
    std::string s;
    void write(const char* p, size_t n) override { s.append(p, n); }
};

// A qcow2 image written by the image code onto the physical disk through
// HostDisks, DiskFile and the driver, then checked by qemu-img as a file.
TEST_F(VirtioBlkDriverTest, AQcow2ImageOnTheDiskStaysValidForQemuImg)
{
    // The disk holds a fresh qcow2 image (made by this code's creator) of 2 MiB.
    create_qcow2("q.qcow2", 2 << 20);
    std::vector<uint8_t> q = read_file("q.qcow2");
    q.resize(disk_bytes);
    make_disk("d.raw", q);
    plug("d.raw", true);
    ASSERT_TRUE(disk.init(*fn, plat).ok());
    auto bounce = plat.alloc_dma(128 * 1024).value();
    vmm::hostdev::DiskFile file(disk, plat, bounce, nullptr);
    vmm::hostdev::HostDisks disks(alloc);
    const char* name = nullptr;
    ASSERT_TRUE(disks.add_disk("vd", disk, file, &name).ok());
    EXPECT_STREQ(name, "vda");

    vmm::block::OpenOptions o;
    o.writable = true;
    o.format = vmm::block::Format::qcow2;
    auto img = vmm::block::open_image(alloc, disks, "/dev/vda", {}, o);
    ASSERT_TRUE(img.ok()) << lib::error_name(img.error());
    // Exclusive: nobody else while it is open writable.
    EXPECT_EQ(disks.open("/dev/vda", {}, false).error(), lib::Error::busy);
    EXPECT_EQ(disks.open("/dev/vda", {}, true).error(), lib::Error::busy);
    EXPECT_EQ(disks.open("/dev/vdb", {}, false).error(), lib::Error::not_found);
    EXPECT_EQ(disks.open("vda", {}, false).error(), lib::Error::not_found);
    StringOut ls;
    disks.list(ls);
    EXPECT_NE(ls.s.find("vda"), std::string::npos) << ls.s;
    EXPECT_NE(ls.s.find("4M"), std::string::npos) << ls.s;
    EXPECT_NE(ls.s.find("rw"), std::string::npos) << ls.s;

    std::vector<uint8_t> data = pattern(2 << 20, 11);
    // Odd-sized writes with holes between them (zeros there).
    for (uint64_t off = 0; off < data.size(); off += 192 * 1024) {
        size_t len = std::min<size_t>(100000, data.size() - off);
        ASSERT_TRUE((*img)->write(off, data.data() + off, len).ok());
        size_t hole = std::min<size_t>(192 * 1024 - len, data.size() - off - len);
        std::memset(data.data() + off + len, 0, hole);
    }
    ASSERT_TRUE((*img)->close().ok());
    // Readers may share it now.
    auto r1 = disks.open("/dev/vda", {}, false);
    auto r2 = disks.open("/dev/vda", {}, false);
    ASSERT_TRUE(r1.ok() && r2.ok());
    EXPECT_EQ(disks.open("/dev/vda", {}, true).error(), lib::Error::busy);
    disks.close(*r1);
    disks.close(*r2);

    // The raw disk file, cut to the qcow2 image's extent, checked by qemu-img.
    ASSERT_TRUE(image->close().ok());
    image = nullptr;
    std::string disk_path = p("d.raw");
    std::string check = "qemu-img check -f qcow2 '" + disk_path + "' >/dev/null 2>&1";
    EXPECT_EQ(std::system(check.c_str()), 0) << "qemu-img check failed on " << disk_path;
    std::string expected = p("expected.raw");
    write_file("expected.raw", data);
    std::string cmp = "qemu-img compare -f qcow2 -F raw '" + disk_path + "' '" + expected + "' >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmp.c_str()), 0);
}

}  // namespace
