// Live snapshots on a volume (vmm/block/chain): an image file standing in for
// a host partition, with the image at its start and the overlays and table
// that snapshots add after it. What a user checks: the disk reads the same
// across a snapshot, a snapshot keeps the state it was taken at, revert
// brings it back, deleting the newest keeps the data, the volume survives
// being closed and reopened, and qemu-img reads the layers it leaves.
// Bad input tried: invalid and duplicate names, a raw image (no room), a
// volume without room for an overlay, a torn table copy, both copies
// damaged, and hostile tables (layer count 0 and 33, overlapping layers, a
// layer past the table, a top not reaching the table, an unterminated,
// invalid or duplicate snapshot name, an unknown format, a raw overlay).
#include <gtest/gtest.h>

#include <cstring>

#include "lib/crc32.hpp"
#include "util.hpp"
#include "vmm/block/chain/volume_chain.hpp"

namespace {

using namespace blocktest;
using vmm::block::ChainOpener;
using vmm::block::VolumeChain;

constexpr uint64_t disk_size = 16ull << 20;
constexpr uint64_t volume_size = 64ull << 20;

class VolumeChainTest : public BlockTest {
protected:
    std::string vol;

    void SetUp() override
    {
        vol = p("vol");
        create_qcow2("vol", disk_size);
        ASSERT_EQ(::truncate(vol.c_str(), off_t(volume_size)), 0);
    }

    // Opens the volume's top (or "vol@snap") through `c`.
    BlockDevice* open_top(ChainOpener& c, bool writable = true, const std::string& suffix = "")
    {
        vmm::block::OpenOptions o;
        o.writable = writable;
        auto r = vmm::block::open_image(alloc, c, lib::StrView((vol + suffix).c_str()), {}, o);
        EXPECT_TRUE(r.ok()) << vol + suffix << ": " << lib::error_name(r.error());
        return r.ok() ? *r : nullptr;
    }
    void write(BlockDevice* d, uint64_t off, const std::vector<uint8_t>& v)
    {
        ASSERT_TRUE(d->write(off, v.data(), v.size()).ok());
    }
    // Takes snapshot `name` of the open top `d` and returns the new top (the
    // old one closed), as the domain's disk does.
    BlockDevice* snapshot(ChainOpener& c, BlockDevice* d, const char* name, lib::Error want = lib::Error::none)
    {
        ChainOpener::Volume* v = c.volume(lib::StrView(vol.c_str()));
        EXPECT_NE(v, nullptr);
        auto s = vmm::block::chain_snapshot(alloc, c, *v, *d, name, 1700000000);
        EXPECT_EQ(s.ok() ? lib::Error::none : s.error(), want) << name;
        if (!s.ok()) return d;
        BlockDevice* n = open_top(c);
        (void)d->close();
        return n;
    }
    VolumeChain load()
    {
        VolumeChain t;
        auto f = opener.open(lib::StrView(vol.c_str()), {}, false);
        EXPECT_TRUE(f.ok());
        auto s = t.load(**f);
        EXPECT_TRUE(s.ok()) << lib::error_name(s.error());
        opener.close(*f);
        return t;
    }
    lib::Error load_error(const char** detail = nullptr)
    {
        VolumeChain t;
        auto f = opener.open(lib::StrView(vol.c_str()), {}, false);
        EXPECT_TRUE(f.ok());
        auto s = t.load(**f, detail);
        opener.close(*f);
        return s.ok() ? lib::Error::none : s.error();
    }
    int sh(const std::string& cmd) { return std::system(cmd.c_str()); }
    // Copies bytes [off, off+len) of the volume into its own file.
    void extract(uint64_t off, uint64_t len, const std::string& name)
    {
        auto d = read_file("vol");
        ASSERT_LE(off + len, d.size());
        write_file(name, std::vector<uint8_t>(d.begin() + long(off), d.begin() + long(off + len)));
    }
};

TEST_F(VolumeChainTest, SnapshotKeepsItsStateAndTheDiskGoesOn)
{
    const auto a = pattern(128 * 1024, 1), b = pattern(64 * 1024, 2), c = pattern(4096, 3);
    {
        ChainOpener chain(opener, alloc);
        BlockDevice* d = open_top(chain);
        ASSERT_NE(d, nullptr);
        write(d, 0, a);
        write(d, 8 << 20, c);
        d = snapshot(chain, d, "before-upgrade");
        ASSERT_NE(d, nullptr);
        EXPECT_EQ(d->size(), disk_size);
        expect_bytes(d, 0, a, "the disk after the snapshot");
        write(d, 0, b);
        expect_bytes(d, 0, b, "new writes");
        expect_bytes(d, 64 * 1024, std::vector<uint8_t>(a.begin() + 64 * 1024, a.end()), "old data beside them");
        expect_bytes(d, 8 << 20, c);
        BlockDevice* frozen = open_top(chain, false, "@before-upgrade");
        ASSERT_NE(frozen, nullptr);
        expect_bytes(frozen, 0, a, "the snapshot");
        EXPECT_TRUE(frozen->read_only());
        (void)frozen->close();
        (void)d->close();
    }
    VolumeChain t = load();
    ASSERT_EQ(t.count(), 2u);
    EXPECT_STREQ(t.layer(0).snapshot, "before-upgrade");
    EXPECT_EQ(t.layer(0).created, 1700000000u);
    EXPECT_EQ(t.layer(0).offset, 0u);
    EXPECT_EQ(t.layer(1).offset % VolumeChain::layer_align, 0u);
    EXPECT_EQ(t.top().offset + t.top().length, VolumeChain::table_offset(volume_size));
    // Reopened from scratch: the same disk.
    ChainOpener chain(opener, alloc);
    BlockDevice* d = open_top(chain, false);
    ASSERT_NE(d, nullptr);
    expect_bytes(d, 0, b);
    expect_bytes(d, 8 << 20, c);
    (void)d->close();
}

TEST_F(VolumeChainTest, RevertBringsTheSnapshotBackAndDropsNewerOnes)
{
    const auto a = pattern(65536, 4), b = pattern(65536, 5), c = pattern(65536, 6);
    {
        ChainOpener chain(opener, alloc);
        BlockDevice* d = open_top(chain);
        write(d, 0, a);
        d = snapshot(chain, d, "s1");
        write(d, 0, b);
        d = snapshot(chain, d, "s2");
        write(d, 0, c);
        (void)d->close();
    }
    {
        ChainOpener chain(opener, alloc);
        auto v = chain.hold(lib::StrView(vol.c_str()), true);
        ASSERT_TRUE(v.ok());
        EXPECT_EQ(vmm::block::revert_volume(alloc, chain, **v, "nope").error(), lib::Error::not_found);
        ASSERT_TRUE(vmm::block::revert_volume(alloc, chain, **v, "s2").ok());
        chain.release(*v);
        BlockDevice* d = open_top(chain);
        expect_bytes(d, 0, b, "reverted to s2");
        write(d, 0, c);
        (void)d->close();
        auto v1 = chain.hold(lib::StrView(vol.c_str()), true);
        ASSERT_TRUE(v1.ok());
        ASSERT_TRUE(vmm::block::revert_volume(alloc, chain, **v1, "s1").ok());
        chain.release(*v1);
        d = open_top(chain);
        expect_bytes(d, 0, a, "reverted to s1");
        (void)d->close();
    }
    VolumeChain t = load();
    ASSERT_EQ(t.count(), 2u);
    EXPECT_STREQ(t.layer(0).snapshot, "s1");
    EXPECT_EQ(t.find("s2"), -1) << "s2 was taken after s1: reverting to s1 gives it up";
}

TEST_F(VolumeChainTest, DeleteNewestKeepsTheDataAndRefusesOlder)
{
    const auto a = pattern(65536, 7), b = pattern(65536, 8), z = std::vector<uint8_t>(65536, 0);
    ChainOpener chain(opener, alloc);
    BlockDevice* d = open_top(chain);
    write(d, 0, a);
    d = snapshot(chain, d, "s1");
    write(d, 1 << 20, b);
    d = snapshot(chain, d, "s2");
    ASSERT_TRUE(d->write_zeroes(0, 65536).ok());
    ChainOpener::Volume* v = chain.volume(lib::StrView(vol.c_str()));
    EXPECT_EQ(vmm::block::delete_newest_snapshot(alloc, *v, *d, "s1").error(), lib::Error::busy);
    EXPECT_EQ(vmm::block::delete_newest_snapshot(alloc, *v, *d, "gone").error(), lib::Error::not_found);
    ASSERT_TRUE(vmm::block::delete_newest_snapshot(alloc, *v, *d, "s2").ok());
    expect_bytes(d, 0, z);
    expect_bytes(d, 1 << 20, b, "the deleted snapshot's data, now in the top");
    (void)d->close();
    d = open_top(chain, true);
    ASSERT_NE(d, nullptr);
    expect_bytes(d, 0, z);
    expect_bytes(d, 1 << 20, b);
    ASSERT_NE(d->backing(), nullptr);
    EXPECT_EQ(d->backing()->backing(), nullptr) << "the top is backed by s1's layer alone";
    // s1 is the newest now, and layer 0: deleting it streams the image into the top.
    v = chain.volume(lib::StrView(vol.c_str()));
    ASSERT_TRUE(vmm::block::delete_newest_snapshot(alloc, *v, *d, "s1").ok());
    (void)d->close();
    d = open_top(chain, false);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->backing(), nullptr);
    expect_bytes(d, 65536, std::vector<uint8_t>(65536, 0));
    expect_bytes(d, 1 << 20, b);
    (void)d->close();
    VolumeChain t = load();
    EXPECT_EQ(t.count(), 1u);
}

TEST_F(VolumeChainTest, QemuImgReadsTheLayers)
{
    const auto a = pattern(200000, 9), b = pattern(70000, 10);
    ChainOpener chain(opener, alloc);
    BlockDevice* d = open_top(chain);
    write(d, 0, a);
    d = snapshot(chain, d, "s1");
    write(d, 100000, b);
    std::vector<uint8_t> want(disk_size);
    ASSERT_TRUE(d->read(0, want.data(), want.size()).ok());
    (void)d->close();
    write_file("want.raw", want);
    VolumeChain t = load();
    ASSERT_EQ(t.count(), 2u);
    extract(t.layer(0).offset, t.layer(0).length, "base.qcow2");
    extract(t.layer(1).offset, t.layer(1).length, "top.qcow2");
    EXPECT_EQ(sh("qemu-img check -q -f qcow2 '" + p("base.qcow2") + "'"), 0);
    // The overlay names "<volume>@s1"; outside the volume it is rebased
    // onto the extracted layer.
    EXPECT_EQ(sh("qemu-img info -f qcow2 --output=json '" + p("top.qcow2") + "' | grep -q 'vol@s1'"), 0);
    ASSERT_EQ(sh("qemu-img rebase -q -u -f qcow2 -F qcow2 -b base.qcow2 '" + p("top.qcow2") + "'"), 0);
    EXPECT_EQ(sh("qemu-img check -q -f qcow2 '" + p("top.qcow2") + "'"), 0);
    EXPECT_EQ(sh("qemu-img compare -q -f qcow2 -F raw '" + p("top.qcow2") + "' '" + p("want.raw") + "'"), 0);
}

TEST_F(VolumeChainTest, BadNamesAndNoRoomChangeNothing)
{
    ChainOpener chain(opener, alloc);
    BlockDevice* d = open_top(chain);
    for (const char* bad : {"", ".hidden", "a/b", "a b", "x@y", "0123456789012345678901234567890123456789012345678"})
        d = snapshot(chain, d, bad, lib::Error::invalid);
    d = snapshot(chain, d, "ok");
    d = snapshot(chain, d, "ok", lib::Error::exists);
    (void)d->close();
    EXPECT_EQ(load().count(), 2u);

    // A raw image fills its volume; a qcow2 that nearly does leaves no room.
    create_raw("vol", volume_size);
    {
        ChainOpener c2(opener, alloc);
        d = open_top(c2);
        d = snapshot(c2, d, "s", lib::Error::unsupported);
        (void)d->close();
    }
    EXPECT_EQ(load_error(), lib::Error::not_found);
    create_qcow2("vol", disk_size);
    ASSERT_EQ(::truncate(vol.c_str(), off_t(disk_size)), 0);
    {
        ChainOpener c3(opener, alloc);
        d = open_top(c3);
        const auto full = pattern(disk_size - (3 << 20), 11);
        write(d, 0, full);
        d = snapshot(c3, d, "s", lib::Error::out_of_range);
        expect_bytes(d, 0, full);
        (void)d->close();
    }
    EXPECT_EQ(load_error(), lib::Error::not_found);
    EXPECT_EQ(sh("qemu-img check -q -f qcow2 '" + vol + "'"), 0);
}

// Table surgery: the copy in force, rewritten with a good CRC.
class VolumeTableTest : public VolumeChainTest {
protected:
    uint64_t table_at = VolumeChain::table_offset(volume_size);

    void SetUp() override
    {
        VolumeChainTest::SetUp();
        ChainOpener chain(opener, alloc);
        BlockDevice* d = open_top(chain);
        d = snapshot(chain, d, "s1");
        d = snapshot(chain, d, "s2");  // generation 2: in copy 1
        (void)d->close();
    }
    // Recomputes the CRC of copy c of a table read by read_table().
    void reseal(std::vector<uint8_t>& f, unsigned c)
    {
        uint8_t* p = f.data() + c * VolumeChain::copy_bytes;
        std::memset(p + 24, 0, 4);
        const uint32_t crc = lib::crc32(p, VolumeChain::copy_bytes);
        for (int i = 0; i < 4; ++i) p[24 + i] = uint8_t(crc >> (24 - 8 * i));
    }
    // Changes the copy in force with `edit` and checks it is refused.
    // The table's 8 KiB, read and written in place (the volume is 64 MiB).
    std::vector<uint8_t> read_table()
    {
        std::vector<uint8_t> t(VolumeChain::table_bytes);
        std::ifstream in(vol, std::ios::binary);
        in.seekg(std::streamoff(table_at));
        in.read(reinterpret_cast<char*>(t.data()), std::streamsize(t.size()));
        return t;
    }
    void write_table(const std::vector<uint8_t>& t)
    {
        std::fstream out(vol, std::ios::binary | std::ios::in | std::ios::out);
        out.seekp(std::streamoff(table_at));
        out.write(reinterpret_cast<const char*>(t.data()), std::streamsize(t.size()));
    }
    template <typename F> void expect_refused(F edit, const char* what)
    {
        auto f = read_table();
        edit(f.data() + VolumeChain::copy_bytes);
        reseal(f, 1);
        write_table(f);
        const char* detail = nullptr;
        EXPECT_EQ(load_error(&detail), lib::Error::corrupt) << what;
        EXPECT_NE(detail, nullptr) << what;
        ChainOpener chain(opener, alloc);
        vmm::block::OpenOptions o;
        auto r = vmm::block::open_image(alloc, chain, lib::StrView(vol.c_str()), {}, o);
        EXPECT_FALSE(r.ok()) << what << ": a volume with a bad table is not opened";
        if (r.ok()) (void)(*r)->close();
    }
    static void put_be(uint8_t* p, uint64_t v, int n)
    {
        for (int i = 0; i < n; ++i) p[i] = uint8_t(v >> (8 * (n - 1 - i)));
    }
    static uint8_t* rec(uint8_t* copy, int i) { return copy + 32 + 80 * i; }
};

TEST_F(VolumeTableTest, TornCopyFallsBackToThePreviousTable)
{
    EXPECT_EQ(load().count(), 3u);
    auto f = read_table();
    f[VolumeChain::copy_bytes + 100] ^= 0xff;  // the newer copy, cut short
    write_table(f);
    VolumeChain t = load();
    EXPECT_EQ(t.count(), 2u) << "the table before s2";
    EXPECT_EQ(t.find("s2"), -1);
    f[100] ^= 0xff;
    write_table(f);
    const char* detail = nullptr;
    EXPECT_EQ(load_error(&detail), lib::Error::corrupt);
    EXPECT_NE(detail, nullptr);
}

TEST_F(VolumeTableTest, HostileTablesAreRefused)
{
    const auto good = read_table();
    auto again = [&] { write_table(good); };
    expect_refused([](uint8_t* c) { put_be(c + 12, 0, 4); }, "no layers");
    again();
    expect_refused([](uint8_t* c) { put_be(c + 12, 33, 4); }, "33 layers");
    again();
    expect_refused([](uint8_t* c) { put_be(c + 8, 2, 4); }, "unknown version");
    again();
    expect_refused([](uint8_t* c) { put_be(rec(c, 1), 4096, 8); }, "layer 1 overlaps layer 0");
    again();
    expect_refused([&](uint8_t* c) { put_be(rec(c, 1) + 8, table_at, 8); }, "layer 1 runs into the table");
    again();
    expect_refused([](uint8_t* c) { put_be(rec(c, 2) + 8, 1 << 20, 8); }, "top does not reach the table");
    again();
    expect_refused([](uint8_t* c) { std::memset(rec(c, 0) + 32, 'a', 48); }, "unterminated name");
    again();
    expect_refused([](uint8_t* c) { std::memcpy(rec(c, 0) + 32, "../x", 5); }, "invalid name");
    again();
    expect_refused([](uint8_t* c) { std::memcpy(rec(c, 1) + 32, "s1", 3); }, "duplicate name");
    again();
    expect_refused([](uint8_t* c) { rec(c, 0)[24] = 9; }, "unknown format");
    again();
    expect_refused([](uint8_t* c) { rec(c, 1)[24] = 1; }, "a raw overlay");
    again();
    expect_refused([](uint8_t* c) { std::memcpy(rec(c, 2) + 32, "top", 4); }, "a named top");
    again();
    EXPECT_EQ(load().count(), 3u) << "the untouched volume still loads";
}

}  // namespace
