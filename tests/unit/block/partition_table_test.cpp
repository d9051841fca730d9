// Partition tables read through a File (vmm/block/partition), on disks that
// sfdisk (util-linux) partitioned: GPT with named partitions on 512-byte
// and 4096-byte sectors, an MBR disk, and a disk with no table. sfdisk's own
// JSON dump is the reference for starts and sizes. A PartitionFile gives a
// partition's bytes, and a qcow2 image lives in one.
//
// Bad inputs tried: the primary header's CRC broken (the backup is used and
// the fault named), both headers broken, the primary entry array's CRC
// broken (backup), an entry past LastUsable and two overlapping entries
// (with their CRCs made right, so the check behind them is what refuses),
// NumberOfPartitionEntries of 100000 and SizeOfPartitionEntry of 100, a
// header size of 600, a disk cut short so its backup and the array's end
// are missing, an MBR entry with status 0x7f and one past the disk's end;
// a disk grown after sfdisk wrote it (the backup is found where the primary's
// AlternateLBA says, not at the new last sector); PartitionFile reads and
// writes one byte past the end, a resize, a write on a read-only view, and
// requests through it to a disk that completes them later and out of order.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <string>
#include <vector>

#include "lib/crc32.hpp"
#include "tests/unit/block/util.hpp"
#include "vmm/block/partition/partition_file.hpp"
#include "vmm/block/partition/partition_table.hpp"

using namespace blocktest;
using vmm::block::PartitionTable;
using vmm::block::TableKind;

namespace {

class PartitionTableTest : public BlockTest {
protected:
    // A disk of `mib` MiB partitioned by sfdisk with `script`.
    void make(const std::string& name, unsigned mib, const std::string& script)
    {
        std::string path = p(name);
        ASSERT_EQ(std::system(("truncate -s " + std::to_string(mib) + "M '" + path + "'").c_str()), 0);
        std::string cmd = "printf '" + script + "' | sfdisk -q '" + path + "' >/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    lib::Status read(const std::string& name, PartitionTable& t, uint32_t ss = 512)
    {
        auto f = opener.open(lib::StrView(p(name).c_str()), {}, false);
        EXPECT_TRUE(f.ok());
        if (!f.ok()) return f.error();
        auto s = vmm::block::read_partition_table(**f, ss, t);
        opener.close(*f);
        return s;
    }
    // Rewrites the CRCs of the header at `lba` (and its array) after surgery.
    void fix_crcs(const std::string& name, uint64_t lba, uint32_t ss = 512)
    {
        auto d = read_file(name);
        uint8_t* h = d.data() + lba * ss;
        uint64_t entries;
        uint32_t count, size, hsize;
        std::memcpy(&entries, h + 72, 8);
        std::memcpy(&count, h + 80, 4);
        std::memcpy(&size, h + 84, 4);
        std::memcpy(&hsize, h + 12, 4);
        uint32_t c = lib::crc32(d.data() + entries * ss, size_t(count) * size);
        std::memcpy(h + 88, &c, 4);
        std::memset(h + 16, 0, 4);
        c = lib::crc32(h, hsize);
        std::memcpy(h + 16, &c, 4);
        write_file(name, d);
    }
    // Inverts one byte (setting a fixed value could leave it unchanged).
    void flip(const std::string& name, uint64_t off)
    {
        auto d = read_file(name);
        d[off] ^= 0xff;
        write_file(name, d);
    }
    void poke(const std::string& name, uint64_t off, const void* v, size_t n)
    {
        auto d = read_file(name);
        std::memcpy(d.data() + off, v, n);
        write_file(name, d);
    }
    const std::string gpt3 =
        "label: gpt\\nstart=2048, size=4096, name=boot\\nstart=6144, size=16384, name=images\\n"
        "start=22528, size=8192, name=\"swap area\"\\n";
};

TEST_F(PartitionTableTest, ReadsWhatSfdiskWroteToAGpt)
{
    make("d.img", 16, gpt3);
    PartitionTable t;
    ASSERT_TRUE(read("d.img", t).ok()) << (t.problem ? t.problem : "");
    EXPECT_EQ(t.kind, TableKind::gpt);
    EXPECT_FALSE(t.used_backup);
    ASSERT_EQ(t.count, 3u);
    EXPECT_EQ(t.parts[0].number, 1u);
    EXPECT_EQ(t.parts[0].first_lba, 2048u);
    EXPECT_EQ(t.parts[0].sectors, 4096u);
    EXPECT_STREQ(t.parts[0].name, "boot");
    EXPECT_EQ(t.parts[1].first_lba, 6144u);
    EXPECT_EQ(t.parts[1].sectors, 16384u);
    EXPECT_STREQ(t.parts[1].name, "images");
    EXPECT_STREQ(t.parts[2].name, "swap area");
    EXPECT_EQ(t.parts[2].number, 3u);
    // The unique GUIDs as sfdisk prints them.
    std::string dump = p("dump.txt");
    ASSERT_EQ(std::system(("sfdisk --dump '" + p("d.img") + "' > '" + dump + "'").c_str()), 0);
    std::ifstream in(dump);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (unsigned i = 0; i < 3; ++i) {
        char g[37];
        vmm::block::guid_text(t.parts[i].unique_guid, g);
        std::string upper(g);
        for (auto& c : upper) c = char(toupper(c));
        EXPECT_NE(all.find("uuid=" + upper), std::string::npos) << upper << "\n" << all;
        vmm::block::guid_text(t.parts[i].type_guid, g);
        upper = g;
        for (auto& c : upper) c = char(toupper(c));
        EXPECT_NE(all.find("type=" + upper), std::string::npos) << upper;  // Linux filesystem data
    }
}

TEST_F(PartitionTableTest, FourKibSectors)
{
    // sfdisk takes the sector size from the device: a loop device with
    // 4096-byte sectors over the image (util-linux's losetup; needs root).
    std::string path = p("d4k.img");
    ASSERT_EQ(std::system(("truncate -s 64M '" + path + "'").c_str()), 0);
    std::string dev_file = p("loopdev");
    if (std::system(("losetup --sector-size 4096 -f --show '" + path + "' > '" + dev_file + "' 2>/dev/null").c_str()) != 0)
        GTEST_SKIP() << "no loop device with 4096-byte sectors here (losetup needs root)";
    std::ifstream dn(dev_file);
    std::string dev;
    std::getline(dn, dev);
    std::string cmd = "printf 'label: gpt\\nstart=256, size=2048, name=a\\nstart=2304, size=4096, name=b\\n' | "
                      "sfdisk -q '" + dev + "' >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    (void)std::system(("losetup -d '" + dev + "'").c_str());
    ASSERT_EQ(rc, 0) << cmd;
    PartitionTable t;
    ASSERT_TRUE(read("d4k.img", t, 4096).ok()) << (t.problem ? t.problem : "");
    ASSERT_EQ(t.count, 2u);
    EXPECT_EQ(t.sector_size, 4096u);
    EXPECT_EQ(t.parts[1].first_lba, 2304u);
    EXPECT_EQ(t.parts[1].sectors, 4096u);
    // Read as 512-byte sectors it is no table (the header is not at LBA 1).
    PartitionTable u;
    EXPECT_EQ(read("d4k.img", u, 512).error(), lib::Error::corrupt);
}

TEST_F(PartitionTableTest, MbrDiskAndADiskWithoutATable)
{
    make("m.img", 16, "label: dos\\nstart=2048, size=8192, type=83\\nstart=10240, size=4096, type=7\\n");
    PartitionTable t;
    ASSERT_TRUE(read("m.img", t).ok()) << (t.problem ? t.problem : "");
    EXPECT_EQ(t.kind, TableKind::mbr);
    ASSERT_EQ(t.count, 2u);
    EXPECT_EQ(t.parts[0].first_lba, 2048u);
    EXPECT_EQ(t.parts[0].mbr_type, 0x83);
    EXPECT_EQ(t.parts[1].number, 2u);
    EXPECT_EQ(t.parts[1].mbr_type, 0x07);
    create_raw("blank.img", 4 << 20);
    EXPECT_EQ(read("blank.img", t).error(), lib::Error::not_found);
    EXPECT_EQ(t.kind, TableKind::none);
    // Bad MBR entries.
    uint8_t bad_status = 0x7f;
    poke("m.img", 446, &bad_status, 1);
    EXPECT_EQ(read("m.img", t).error(), lib::Error::corrupt);
    make("m2.img", 16, "label: dos\\nstart=2048, size=8192, type=83\\n");
    uint32_t huge = 1u << 30;
    poke("m2.img", 446 + 12, &huge, 4);
    EXPECT_EQ(read("m2.img", t).error(), lib::Error::corrupt);
    EXPECT_NE(std::string(t.problem), "");
}

TEST_F(PartitionTableTest, ADamagedPrimaryFallsBackOnTheBackup)
{
    make("d.img", 16, gpt3);
    const uint64_t last = (16u << 20) / 512 - 1;
    flip("d.img", 512 + 16);  // primary header CRC
    PartitionTable t;
    ASSERT_TRUE(read("d.img", t).ok());
    EXPECT_TRUE(t.used_backup);
    EXPECT_STREQ(t.problem, "header CRC32 mismatch");
    EXPECT_EQ(t.count, 3u);
    EXPECT_STREQ(t.parts[1].name, "images");

    make("e.img", 16, gpt3);
    flip("e.img", 2 * 512 + 40);  // inside the primary array: its CRC no longer matches
    ASSERT_TRUE(read("e.img", t).ok());
    EXPECT_TRUE(t.used_backup);
    EXPECT_STREQ(t.problem, "partition entry array CRC32 mismatch");

    flip("d.img", last * 512 + 16);  // and the backup's
    EXPECT_EQ(read("d.img", t).error(), lib::Error::corrupt);
    EXPECT_EQ(t.count, 0u);
}

TEST_F(PartitionTableTest, AGrownDiskKeepsItsBackupAtTheOldEnd)
{
    // Like an image file enlarged after partitioning: the backup header is
    // not at the last sector any more, and the primary's AlternateLBA names it.
    make("g.img", 16, gpt3);
    auto d = read_file("g.img");
    d.resize(24u << 20);
    write_file("g.img", d);
    PartitionTable t;
    ASSERT_TRUE(read("g.img", t).ok()) << (t.problem ? t.problem : "");
    EXPECT_FALSE(t.used_backup);
    flip("g.img", 2 * 512 + 40);  // the primary array
    ASSERT_TRUE(read("g.img", t).ok()) << (t.problem ? t.problem : "");
    EXPECT_TRUE(t.used_backup);
    EXPECT_STREQ(t.problem, "partition entry array CRC32 mismatch");
    ASSERT_EQ(t.count, 3u);
    EXPECT_STREQ(t.parts[2].name, "swap area");
    // A broken primary header gives no AlternateLBA to trust: the last
    // sector is all that is left, and it holds no header.
    flip("g.img", 512 + 16);
    EXPECT_EQ(read("g.img", t).error(), lib::Error::corrupt);
}

TEST_F(PartitionTableTest, HostileFieldsAreRefused)
{
    struct Case {
        const char* what;
        uint64_t off;  // in the primary header (LBA 1) or its array (LBA 2)
        uint64_t value;
        unsigned bytes;
        const char* problem;
    } cases[] = {
        {"entry past LastUsable", 2 * 512 + 128 + 40, 70000, 8, "a partition outside the usable range"},
        {"overlapping entries", 2 * 512 + 128 + 32, 3000, 8, "two partitions overlap"},
        {"100000 entries", 512 + 80, 100000, 4, "NumberOfPartitionEntries out of range"},
        {"entries of 100 bytes", 512 + 84, 100, 4, "SizeOfPartitionEntry not a power of two from 128 to the sector size"},
        {"header of 600 bytes", 512 + 12, 600, 4, "header size out of range"},
        {"MyLBA wrong", 512 + 24, 7, 8, "MyLBA does not name its own sector"},
    };
    unsigned n = 0;
    for (const Case& c : cases) {
        const std::string img = "h" + std::to_string(n++) + ".img";  // a fresh disk each time
        make(img, 16, gpt3);
        poke(img, c.off, &c.value, c.bytes);
        fix_crcs(img, 1);  // so the check behind the CRCs is what refuses
        // The backup is sound: break it too so that the primary's fault is what is reported.
        flip(img, ((16u << 20) - 512) + 16);
        PartitionTable t;
        EXPECT_EQ(read(img, t).error(), lib::Error::corrupt) << c.what;
        ASSERT_NE(t.problem, nullptr) << c.what;
        EXPECT_STREQ(t.problem, c.problem) << c.what;
    }
    // Cut short: no backup, the array's end missing.
    make("s.img", 16, gpt3);
    auto d = read_file("s.img");
    d.resize(3 * 512);
    write_file("s.img", d);
    PartitionTable t;
    EXPECT_EQ(read("s.img", t).error(), lib::Error::corrupt);
}

TEST_F(PartitionTableTest, PartitionFileShowsOnlyItsBytes)
{
    make("d.img", 16, gpt3);
    auto f = opener.open(lib::StrView(p("d.img").c_str()), {}, true);
    ASSERT_TRUE(f.ok());
    PartitionTable t;
    ASSERT_TRUE(vmm::block::read_partition_table(**f, 512, t).ok());
    const auto& part = t.parts[1];
    vmm::block::PartitionFile pf(**f, part.first_lba * 512, part.sectors * 512);
    EXPECT_EQ(pf.size(), 16384u * 512);
    auto data = pattern(5000, 3);
    ASSERT_TRUE(vmm::block::file_write(pf, pf.size() - 5000, data.data(), data.size()).ok());  // the last bytes
    uint8_t b = 0;
    EXPECT_EQ(vmm::block::file_write(pf, pf.size(), &b, 1).error(), lib::Error::out_of_range);
    EXPECT_FALSE(vmm::block::file_read(pf, pf.size(), &b, 1).ok());
    EXPECT_EQ(vmm::block::file_resize(pf, 1 << 20).error(), lib::Error::unsupported);
    ASSERT_TRUE(vmm::block::file_flush(pf).ok());
    vmm::block::PartitionFile ro(**f, 0, 4096, false);
    EXPECT_EQ(vmm::block::file_write(ro, 0, &b, 1).error(), lib::Error::denied);
    opener.close(*f);
    auto disk = read_file("d.img");
    uint64_t at = (part.first_lba + part.sectors) * 512 - 5000;
    EXPECT_EQ(std::memcmp(disk.data() + at, data.data(), data.size()), 0);
    // The next partition starts right after, untouched (zeros).
    for (size_t i = 0; i < 512; ++i) ASSERT_EQ(disk[(part.first_lba + part.sectors) * 512 + i], 0);
    // And sfdisk still finds the table sound.
    EXPECT_EQ(std::system(("sfdisk --verify '" + p("d.img") + "' >/dev/null 2>&1").c_str()), 0);
}

// A disk in memory that completes requests only from wait(), newest first,
// as a Dom0 disk driver may complete them in any order.
class LaterDisk final : public vmm::block::File {
public:
    std::vector<uint8_t> data;
    std::vector<vmm::block::FileRequest*> queued;
    size_t most_queued = 0;
    unsigned flushes = 0;

    void submit(vmm::block::FileRequest& r) override
    {
        queued.push_back(&r);
        most_queued = std::max(most_queued, queued.size());
    }
    void wait() override
    {
        if (queued.empty()) return;
        vmm::block::FileRequest& r = *queued.back();
        queued.pop_back();
        lib::Status s;
        if (r.op == vmm::block::FileOp::flush) ++flushes;
        else if (r.offset > data.size() || r.len > data.size() - r.offset) s = lib::Error::out_of_range;
        else if (r.op == vmm::block::FileOp::read) std::memcpy(r.buf, data.data() + r.offset, r.len);
        else if (r.op == vmm::block::FileOp::write) std::memcpy(data.data() + r.offset, r.buf, r.len);
        else s = lib::Error::unsupported;
        r.done(r, s);
    }
    uint64_t size() const override { return data.size(); }
    bool writable() const override { return true; }
};

TEST_F(PartitionTableTest, PartitionFileOverADiskThatCompletesLater)
{
    LaterDisk disk;
    disk.data.assign(1 << 20, 0);
    const uint64_t off = 64 * 1024, size = 256 * 1024;
    vmm::block::PartitionFile pf(disk, off, size);
    // More requests in flight than the view has slots (16): submit waits for
    // one to finish, and every caller's callback runs once with its status.
    struct Op {
        vmm::block::FileRequest r;
        std::vector<uint8_t> buf;
        int calls = 0;
        lib::Status status;
    };
    constexpr unsigned n = 40;
    std::vector<Op> ops(n);
    for (unsigned i = 0; i < n; ++i) {
        Op& o = ops[i];
        o.buf.assign(4096, uint8_t(i + 1));
        o.r.op = vmm::block::FileOp::write;
        o.r.offset = i * 4096;
        o.r.buf = o.buf.data();
        o.r.len = o.buf.size();
        o.r.ctx = &o;
        o.r.done = [](vmm::block::FileRequest& r, lib::Status s) {
            auto* op = static_cast<Op*>(r.ctx);
            ++op->calls;
            op->status = s;
        };
        pf.submit(o.r);
    }
    EXPECT_EQ(disk.most_queued, 16u);
    while (!disk.queued.empty()) pf.wait();
    for (unsigned i = 0; i < n; ++i) {
        EXPECT_EQ(ops[i].calls, 1) << i;
        EXPECT_TRUE(ops[i].status.ok()) << i;
        // Each landed at the partition's offset, not at the disk's start.
        EXPECT_EQ(disk.data[off + i * 4096], uint8_t(i + 1)) << i;
        EXPECT_EQ(disk.data[off + i * 4096 + 4095], uint8_t(i + 1)) << i;
    }
    EXPECT_EQ(disk.data[off - 1], 0);
    EXPECT_EQ(disk.data[off + n * 4096], 0);
    // Reads back through the synchronous helpers (which wait on the view).
    uint8_t b[2];
    ASSERT_TRUE(vmm::block::file_read(pf, 4096 * 7 - 1, b, 2).ok());
    EXPECT_EQ(b[0], 7);
    EXPECT_EQ(b[1], 8);
    ASSERT_TRUE(vmm::block::file_read(pf, size - 1, b, 1).ok());  // the last byte
    ASSERT_TRUE(vmm::block::file_flush(pf).ok());
    EXPECT_EQ(disk.flushes, 1u);
    // Refused at submit, before the disk sees them: completed inline.
    vmm::block::FileRequest r;
    int calls = 0;
    lib::Status status;
    struct Seen {
        int* calls;
        lib::Status* status;
    } seen{&calls, &status};
    r.op = vmm::block::FileOp::read;
    r.offset = size;
    r.len = 1;
    r.buf = b;
    r.ctx = &seen;
    r.done = [](vmm::block::FileRequest& q, lib::Status s) {
        auto* w = static_cast<Seen*>(q.ctx);
        ++*w->calls;
        *w->status = s;
    };
    pf.submit(r);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(status.error(), lib::Error::out_of_range);
    EXPECT_TRUE(disk.queued.empty());
}

TEST_F(PartitionTableTest, AQcow2ImageInsideAPartition)
{
    make("d.img", 16, gpt3);
    create_qcow2("q.qcow2", 4 << 20);
    auto q = read_file("q.qcow2");
    auto disk = read_file("d.img");
    std::memcpy(disk.data() + 6144 * 512, q.data(), q.size());
    write_file("d.img", disk);
    auto f = opener.open(lib::StrView(p("d.img").c_str()), {}, true);
    ASSERT_TRUE(f.ok());
    {
        vmm::block::PartitionFile pf(**f, 6144 * 512, 16384 * 512);
        struct One final : vmm::block::FileOpener {
            vmm::block::File* f;
            lib::Result<vmm::block::File*> open(lib::StrView, lib::StrView, bool) override { return f; }
            void close(vmm::block::File*) override {}
            lib::StrView resolved_name(vmm::block::File*) override { return "p2"; }
        } one;
        one.f = &pf;
        vmm::block::OpenOptions o;
        o.writable = true;
        o.format = vmm::block::Format::qcow2;
        auto img = vmm::block::open_image(alloc, one, "p2", {}, o);
        ASSERT_TRUE(img.ok()) << lib::error_name(img.error());
        auto data = pattern(3 << 20, 8);
        ASSERT_TRUE((*img)->write(12345, data.data(), data.size()).ok());
        ASSERT_TRUE((*img)->close().ok());
    }
    opener.close(*f);
    disk = read_file("d.img");
    std::vector<uint8_t> part(disk.begin() + 6144 * 512, disk.begin() + (6144 + 16384) * 512);
    write_file("p2.qcow2", part);
    EXPECT_EQ(std::system(("qemu-img check -q -f qcow2 '" + p("p2.qcow2") + "'").c_str()), 0);
    auto want = std::vector<uint8_t>(12345);
    auto data = pattern(3 << 20, 8);
    want.insert(want.end(), data.begin(), data.end());
    write_file("want.raw", want);
    EXPECT_EQ(std::system(("qemu-img compare -q -f qcow2 -F raw '" + p("p2.qcow2") + "' '" + p("want.raw") + "'").c_str()), 0);
    // Nothing outside the partition changed: the other two are zeros still.
    for (uint64_t s : {2048ull, 22528ull})
        for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(disk[s * 512 + i], 0) << s;
}

}  // namespace
