// qcow2 backend on real image files: round trips for v2/v3 and several
// cluster sizes, boundaries, backing chains, discard/zero clusters, dirty and
// corrupt bits, refcount widths and table growth, and hostile headers.
#include <map>
#include <random>

#include "tests/unit/block/util.hpp"

using namespace blocktest;
namespace q = vmm::block::qcow2;

namespace {

q::CheckResult check(BlockDevice* d)
{
    q::CheckResult r;
    auto s = static_cast<q::Device*>(d)->check(r, q::Device::Repair::none);
    EXPECT_TRUE(s.ok());
    return r;
}

class Qcow2 : public BlockTest {};

}  // namespace

TEST_F(Qcow2, CreateWriteReopenReadBothVersionsAndClusterSizes)
{
    for (uint32_t version : {2u, 3u}) {
        for (uint32_t bits : {9u, 12u, 16u, 21u}) {
            std::string n = "img" + std::to_string(version) + "_" + std::to_string(bits);
            create_qcow2(n, 8 << 20, version, bits);
            BlockDevice* d = must_open(n, true);
            ASSERT_NE(d, nullptr);
            EXPECT_EQ(d->size(), 8u << 20);
            expect_fill(d, 0, 8192, 0, "fresh image");
            auto a = pattern(100000, 1), b = pattern(777, 2);
            ASSERT_TRUE(d->write(12345, a.data(), a.size()).ok());
            ASSERT_TRUE(d->write(3 << 20, b.data(), b.size()).ok());
            expect_bytes(d, 12345, a, "before close");
            ASSERT_TRUE(d->close().ok());
            d = must_open(n, false);
            expect_bytes(d, 12345, a, "after reopen");
            expect_bytes(d, 3 << 20, b, "after reopen");
            expect_fill(d, 0, 12345, 0, "untouched head");
            auto r = check(d);
            EXPECT_EQ(r.corruptions, 0u) << n;
            EXPECT_EQ(r.leaks, 0u) << n;
            ASSERT_TRUE(d->close().ok());
        }
    }
}

TEST_F(Qcow2, LastClusterAndPartialLastCluster)
{
    // Virtual size not a multiple of the cluster size: the last cluster is
    // partial and writes up to the very last byte work; one past fails.
    create_qcow2("a", (1 << 20) + 512 * 3, 3, 16);
    BlockDevice* d = must_open("a", true);
    auto v = pattern(512 * 3 + 100, 3);
    uint64_t off = d->size() - v.size();
    ASSERT_TRUE(d->write(off, v.data(), v.size()).ok());
    uint8_t x = 0;
    EXPECT_EQ(d->write(d->size(), &x, 1).error(), lib::Error::out_of_range);
    EXPECT_EQ(d->read(d->size() - 1, &x, 2).error(), lib::Error::out_of_range);
    EXPECT_EQ(d->read(~0ull - 1, &x, 4).error(), lib::Error::out_of_range);  // offset + len overflows
    ASSERT_TRUE(d->close().ok());
    d = must_open("a", false);
    expect_bytes(d, off, v);
    EXPECT_EQ(d->write(0, &x, 1).error(), lib::Error::denied);  // read-only open
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Qcow2, VirtualSizeOverTwoTebibytes)
{
    uint64_t size = 5ull << 40;  // 5 TiB
    create_qcow2("big", size, 3, 16);
    BlockDevice* d = must_open("big", true);
    ASSERT_EQ(d->size(), size);
    auto v = pattern(8192, 4);
    ASSERT_TRUE(d->write(size - 8192, v.data(), v.size()).ok());
    ASSERT_TRUE(d->write((3ull << 40) + 4096, v.data(), v.size()).ok());
    ASSERT_TRUE(d->close().ok());
    d = must_open("big", false);
    expect_bytes(d, size - 8192, v, "last bytes");
    expect_bytes(d, (3ull << 40) + 4096, v, "past 2 TiB");
    expect_fill(d, 2ull << 40, 4096, 0);
    EXPECT_EQ(check(d).corruptions, 0u);
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Qcow2, BackingChainThreeDeepWithPartialClusterCopyOnWrite)
{
    // raw base <- qcow2 mid (v2) <- qcow2 top (v3), 4 KiB clusters on top so
    // partial-cluster writes must copy the rest of the cluster from below.
    create_raw("base.raw", 4 << 20);
    {
        BlockDevice* b = must_open("base.raw", true);
        auto v = pattern(4 << 20, 5);
        ASSERT_TRUE(b->write(0, v.data(), v.size()).ok());
        ASSERT_TRUE(b->close().ok());
    }
    create_qcow2("mid.qcow2", 4 << 20, 2, 16, "base.raw", "raw");
    create_qcow2("top.qcow2", 4 << 20, 3, 12, "mid.qcow2", "qcow2");
    auto base = pattern(4 << 20, 5);
    std::vector<uint8_t> model = base;
    {
        BlockDevice* m = must_open("mid.qcow2", true);
        auto v = pattern(3000, 6);
        ASSERT_TRUE(m->write(70000, v.data(), v.size()).ok());
        std::copy(v.begin(), v.end(), model.begin() + 70000);
        ASSERT_TRUE(m->close().ok());
    }
    BlockDevice* t = must_open("top.qcow2", true);
    ASSERT_NE(t->backing(), nullptr);
    ASSERT_NE(t->backing()->backing(), nullptr);
    auto w = pattern(100, 7);
    ASSERT_TRUE(t->write(70500, w.data(), w.size()).ok());  // inside mid's data, partial cluster
    std::copy(w.begin(), w.end(), model.begin() + 70500);
    ASSERT_TRUE(t->write(2 << 20 | 1, w.data(), w.size()).ok());  // only the base has data there
    std::copy(w.begin(), w.end(), model.begin() + (2 << 20 | 1));
    ASSERT_TRUE(t->close().ok());
    t = must_open("top.qcow2", false);
    expect_bytes(t, 0, model, "whole chain");
    EXPECT_EQ(check(t).corruptions, 0u);
    ASSERT_TRUE(t->close().ok());
    // The layers below were not modified.
    BlockDevice* m = must_open("mid.qcow2", false);
    expect_bytes(m, 2 << 20, std::vector<uint8_t>(base.begin() + (2 << 20), base.begin() + (2 << 20) + 4096));
    ASSERT_TRUE(m->close().ok());
}

TEST_F(Qcow2, DiscardThenReadZerosWithAndWithoutBacking)
{
    create_raw("base.raw", 1 << 20);
    {
        BlockDevice* b = must_open("base.raw", true);
        auto v = std::vector<uint8_t>(1 << 20, 0x77);
        ASSERT_TRUE(b->write(0, v.data(), v.size()).ok());
        ASSERT_TRUE(b->close().ok());
    }
    struct Case {
        const char* name;
        uint32_t version;
        bool backing;
    } cases[] = {{"v2", 2, false}, {"v3", 3, false}, {"v2b", 2, true}, {"v3b", 3, true}};
    for (auto& c : cases) {
        create_qcow2(c.name, 1 << 20, c.version, 16, c.backing ? "base.raw" : "", c.backing ? "raw" : "");
        BlockDevice* d = must_open(c.name, true);
        auto v = std::vector<uint8_t>(1 << 20, 0x55);
        ASSERT_TRUE(d->write(0, v.data(), v.size()).ok());
        ASSERT_TRUE(d->discard(65536, 3 * 65536).ok());       // whole clusters
        ASSERT_TRUE(d->discard(300000, 1000).ok());           // part of a cluster
        ASSERT_TRUE(d->write_zeroes(500000, 70000).ok());     // spans a cluster boundary
        ASSERT_TRUE(d->close().ok());
        d = must_open(c.name, false);
        expect_fill(d, 0, 65536, 0x55, c.name);
        expect_fill(d, 65536, 3 * 65536, 0, c.name);
        expect_fill(d, 300000, 1000, 0, c.name);
        expect_fill(d, 301000, 1000, 0x55, c.name);
        expect_fill(d, 500000, 70000, 0, c.name);
        auto r = check(d);
        EXPECT_EQ(r.corruptions, 0u) << c.name;
        EXPECT_EQ(r.leaks, 0u) << c.name << ": freed clusters must be given back";
        ASSERT_TRUE(d->close().ok());
    }
}

TEST_F(Qcow2, DirtyBitWhileOpenForWritingClearedOnClose)
{
    create_qcow2("a", 1 << 20, 3);
    BlockDevice* d = must_open("a", true);
    EXPECT_EQ(peek_be("a", 72, 8) & q::incompat_dirty, q::incompat_dirty);
    ASSERT_TRUE(d->close().ok());
    EXPECT_EQ(peek_be("a", 72, 8) & q::incompat_dirty, 0u);
    // A dirty image (crash) opens; read-write opening repairs leaks first.
    poke_be("a", 72, q::incompat_dirty, 8);
    d = must_open("a", false);
    EXPECT_TRUE(static_cast<q::Device*>(d)->was_dirty());
    ASSERT_TRUE(d->close().ok());
    d = must_open("a", true);
    ASSERT_TRUE(d->close().ok());
    EXPECT_EQ(peek_be("a", 72, 8) & q::incompat_dirty, 0u);
}

TEST_F(Qcow2, CorruptBitRefusesReadWriteOpenUnknownFeaturesRefused)
{
    // Tried: corrupt bit (rw refused, ro allowed), unknown incompatible bit 9,
    // external data file bit, extended L2 bit, compression-type bit (zstd),
    // encryption method, version 4.
    create_qcow2("a", 1 << 20, 3);
    poke_be("a", 72, q::incompat_corrupt, 8);
    EXPECT_EQ(open_error("a", true), lib::Error::denied);
    EXPECT_EQ(open_error("a", false), lib::Error::none);
    for (uint64_t bit : {uint64_t(1) << 9, q::incompat_data_file, q::incompat_extended_l2}) {
        poke_be("a", 72, bit, 8);
        EXPECT_EQ(open_error("a"), lib::Error::unsupported) << bit;
    }
    poke_be("a", 72, q::incompat_compression, 8);
    poke_be("a", 104, 1, 1);  // zstd
    EXPECT_EQ(open_error("a"), lib::Error::unsupported);
    poke_be("a", 72, 0, 8);
    EXPECT_EQ(open_error("a"), lib::Error::invalid);  // compression type without its bit
    poke_be("a", 104, 0, 1);
    poke_be("a", 32, 1, 4);  // AES
    EXPECT_EQ(open_error("a"), lib::Error::unsupported);
    poke_be("a", 32, 0, 4);
    poke_be("a", 4, 4, 4);
    EXPECT_EQ(open_error("a"), lib::Error::unsupported);
    poke_be("a", 4, 3, 4);
    EXPECT_EQ(open_error("a"), lib::Error::none);
}

TEST_F(Qcow2, HostileHeadersAreErrorsNotCrashes)
{
    // Tried: bad magic, cluster_bits 8 and 22 and 200, L1 table beyond EOF,
    // L1 too small for the size, refcount table overlapping the header,
    // refcount table beyond EOF, unaligned L1, absurd size, header_length
    // too small, backing name offset beyond the cluster, empty file, file
    // shorter than a header, a backing file that names itself.
    create_qcow2("good", 1 << 20, 3);
    auto good = read_file("good");
    auto with = [&](uint64_t off, uint64_t v, int bytes) {
        write_file("bad", good);
        poke_be("bad", off, v, bytes);
        return open_error("bad");
    };
    EXPECT_EQ(with(0, 0x12345678, 4), lib::Error::none);  // no magic: opens as raw when probed
    EXPECT_EQ(open_error("bad", false, Format::qcow2), lib::Error::invalid);
    EXPECT_EQ(with(20, 8, 4), lib::Error::invalid);
    EXPECT_EQ(with(20, 22, 4), lib::Error::invalid);
    EXPECT_EQ(with(20, 200, 4), lib::Error::invalid);
    EXPECT_EQ(with(40, 1ull << 40, 8), lib::Error::truncated);  // L1 beyond EOF
    EXPECT_EQ(with(36, 0, 4), lib::Error::invalid);             // L1 cannot map the size
    EXPECT_EQ(with(40, 0x30001, 8), lib::Error::invalid);       // unaligned L1
    EXPECT_EQ(with(48, 0, 8), lib::Error::invalid);             // refcount table over the header
    EXPECT_EQ(with(48, 0x30000, 8), lib::Error::invalid);       // refcount table over L1
    EXPECT_EQ(with(48, 1ull << 40, 8), lib::Error::truncated);  // refcount table beyond EOF
    EXPECT_EQ(with(56, 0, 4), lib::Error::invalid);             // no refcount table
    EXPECT_EQ(with(24, ~0ull, 8), lib::Error::invalid);         // size
    EXPECT_EQ(with(100, 64, 4), lib::Error::invalid);           // header_length
    EXPECT_EQ(with(8, 70000, 8), lib::Error::invalid);          // backing name beyond cluster 0
    write_file("bad", {});
    EXPECT_EQ(open_error("bad", false, Format::qcow2), lib::Error::invalid);
    write_file("bad", std::vector<uint8_t>(good.begin(), good.begin() + 50));
    EXPECT_EQ(open_error("bad", false, Format::qcow2), lib::Error::invalid);
    create_qcow2("loop", 1 << 20, 3, 16, "loop", "qcow2");
    EXPECT_EQ(open_error("loop"), lib::Error::out_of_range);
}

TEST_F(Qcow2, L2EntryPastEofAndCorruptCompressedClustersAreReadErrors)
{
    // Tried: L2 entry pointing past EOF, unaligned L2 entry, L1 entry pointing
    // past EOF, compressed entry whose data is not a deflate stream, a
    // compressed stream truncated to a few bytes.
    create_qcow2("a", 1 << 20, 3, 16);
    BlockDevice* d = must_open("a", true);
    auto v = pattern(65536, 9);
    ASSERT_TRUE(d->write(0, v.data(), v.size()).ok());
    ASSERT_TRUE(d->close().ok());
    uint64_t l1 = peek_be("a", 40, 8);
    uint64_t l2 = peek_be("a", l1, 8) & q::offset_mask;
    auto good = read_file("a");
    uint8_t buf[512];
    auto read_err = [&](uint64_t entry_off, uint64_t entry) {
        write_file("a", good);
        poke_be("a", entry_off, entry, 8);
        auto r = open("a", false);
        if (!r.ok()) return r.error();
        auto s = (*r)->read(0, buf, sizeof buf);
        (void)(*r)->close();
        return s.error();
    };
    EXPECT_EQ(read_err(l2, q::entry_copied | (1ull << 40)), lib::Error::corrupt);
    EXPECT_EQ(read_err(l2, q::entry_copied | 0x50200), lib::Error::corrupt);
    EXPECT_EQ(read_err(l1, q::entry_copied | (1ull << 40)), lib::Error::corrupt);
    // Compressed entry at the header cluster's tail: garbage, not deflate.
    uint64_t host = 0x200, sectors = 1;
    uint32_t x = 62 - (16 - 8);
    EXPECT_EQ(read_err(l2, q::entry_compressed | (sectors << x) | host), lib::Error::corrupt);
    // A compressed cluster whose stream is cut short: a stored block header
    // promising 65535 bytes, then the end of the file.
    write_file("a", good);
    uint64_t end = good.size();
    std::vector<uint8_t> trunc = good;
    trunc.insert(trunc.end(), {0x00, 0xff, 0xff, 0x00, 0x00, 1, 2, 3});
    write_file("a", trunc);
    poke_be("a", l2, q::entry_compressed | end, 8);
    auto r = open("a", false);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->read(0, buf, sizeof buf).error(), lib::Error::corrupt);
    ASSERT_TRUE((*r)->close().ok());
}

TEST_F(Qcow2, RefcountWidthsAndTableGrowth)
{
    // 512-byte clusters: one refcount table cluster holds 64 blocks, so
    // writing a few MiB grows the table (moved, old one freed). Every
    // refcount width from 1 to 64 bits.
    for (uint32_t order = 0; order <= 6; ++order) {
        std::string n = "r" + std::to_string(order);
        q::CreateOptions o;
        o.size = 64 << 20;
        o.cluster_bits = 9;
        o.refcount_order = order;
        create_qcow2(n, o);
        BlockDevice* d = must_open(n, true);
        std::vector<uint8_t> v = pattern(order >= 4 ? 10 << 20 : 1 << 20, uint8_t(order));
        ASSERT_TRUE(d->write(1 << 20, v.data(), v.size()).ok()) << order;
        ASSERT_TRUE(d->close().ok());
        if (order >= 4) {
            EXPECT_NE(peek_be(n, 48, 8), 512u) << "refcount table should have moved (grown)";
            EXPECT_GT(peek_be(n, 56, 4), 1u);
        }
        d = must_open(n, false);
        expect_bytes(d, 1 << 20, v, n.c_str());
        auto r = check(d);
        EXPECT_EQ(r.corruptions, 0u) << order;
        EXPECT_EQ(r.leaks, 0u) << order;
        ASSERT_TRUE(d->close().ok());
    }
}

TEST_F(Qcow2, RandomOperationsMatchAModelAcrossReopens)
{
    // Writes, discards, write-zeroes and flushes of random sizes and offsets
    // against an in-memory model, with a small L2 cache (evictions) and 4 KiB
    // clusters over a raw backing file.
    create_raw("base", 8 << 20);
    std::vector<uint8_t> model = pattern(8 << 20, 42);
    {
        BlockDevice* b = must_open("base", true);
        ASSERT_TRUE(b->write(0, model.data(), model.size()).ok());
        ASSERT_TRUE(b->close().ok());
    }
    create_qcow2("a", 8 << 20, 3, 12, "base", "raw");
    std::mt19937_64 rng(7);
    for (int round = 0; round < 4; ++round) {
        vmm::block::OpenOptions oo;
        oo.writable = true;
        oo.l2_cache_tables = 2;
        auto r = vmm::block::open_image(alloc, opener, lib::StrView(p("a").c_str()), lib::StrView(), oo);
        ASSERT_TRUE(r.ok());
        BlockDevice* d = *r;
        for (int i = 0; i < 300; ++i) {
            uint64_t off = rng() % (8 << 20);
            uint64_t len = 1 + rng() % 40000;
            if (off + len > model.size()) len = model.size() - off;
            int op = int(rng() % 10);
            if (op < 6) {
                auto v = pattern(len, uint8_t(rng()));
                ASSERT_TRUE(d->write(off, v.data(), len).ok());
                std::copy(v.begin(), v.end(), model.begin() + off);
            } else if (op < 8) {
                ASSERT_TRUE(d->discard(off, len).ok());
                std::fill(model.begin() + off, model.begin() + off + len, 0);
            } else if (op < 9) {
                ASSERT_TRUE(d->write_zeroes(off, len).ok());
                std::fill(model.begin() + off, model.begin() + off + len, 0);
            } else {
                ASSERT_TRUE(d->flush().ok());
            }
        }
        expect_bytes(d, 0, model, "before close");
        ASSERT_TRUE(d->close().ok());
        d = must_open("a", false);
        expect_bytes(d, 0, model, "after reopen");
        auto c = check(d);
        EXPECT_EQ(c.corruptions, 0u);
        EXPECT_EQ(c.leaks, 0u);
        ASSERT_TRUE(d->close().ok());
    }
}

TEST_F(Qcow2, CheckFindsAndRepairsLeaksAndReportsCorruption)
{
    create_qcow2("a", 1 << 20, 3);
    BlockDevice* d = must_open("a", true);
    auto v = pattern(65536, 1);
    ASSERT_TRUE(d->write(0, v.data(), v.size()).ok());
    ASSERT_TRUE(d->close().ok());
    // Leak: raise the refcount of the header cluster... rather of a free
    // cluster after the data (cluster 10) in the first refcount block.
    uint64_t rb = peek_be("a", peek_be("a", 48, 8), 8);
    poke_be("a", rb + 2 * 10, 1, 2);
    d = must_open("a", false);
    EXPECT_EQ(check(d).leaks, 1u);
    ASSERT_TRUE(d->close().ok());
    d = must_open("a", true);
    q::CheckResult r;
    ASSERT_TRUE(static_cast<q::Device*>(d)->check(r, q::Device::Repair::leaks).ok());
    EXPECT_EQ(r.leaks_fixed, 1u);
    ASSERT_TRUE(d->close().ok());
    d = must_open("a", false);
    EXPECT_EQ(check(d).leaks, 0u);
    ASSERT_TRUE(d->close().ok());
    // Corruption: the data cluster's refcount dropped to 0.
    uint64_t l2 = peek_be("a", peek_be("a", 40, 8), 8) & q::offset_mask;
    uint64_t data = peek_be("a", l2, 8) & q::offset_mask;
    poke_be("a", rb + 2 * (data >> 16), 0, 2);
    d = must_open("a", false);
    EXPECT_GE(check(d).corruptions, 1u);
    ASSERT_TRUE(d->close().ok());
    // Repair::all raises it again and fixes the COPIED flag that no longer
    // matched; Repair::leaks would not have.
    d = must_open("a", true);
    q::CheckResult all;
    ASSERT_TRUE(static_cast<q::Device*>(d)->check(all, q::Device::Repair::all).ok());
    EXPECT_GE(all.corruptions_fixed, 1u);
    ASSERT_TRUE(d->close().ok());
    d = must_open("a", false);
    auto after = check(d);
    EXPECT_EQ(after.corruptions + after.leaks, 0u);
    expect_bytes(d, 0, v);
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Qcow2, InternalSnapshotsCreateWriteDeleteStayConsistent)
{
    // Snapshot, overwrite (copy-on-write of shared L2 tables and clusters),
    // snapshot again, delete both in creation order; refcounts and COPIED
    // flags checked after every step; unknown names are not_found, duplicate
    // names exists, read-only images denied.
    create_qcow2("s", 4 << 20, 3, 12);
    BlockDevice* d = must_open("s", true);
    auto* qd = static_cast<q::Device*>(d);
    auto one = pattern(1 << 20, 1), two = pattern(1 << 20, 2);
    ASSERT_TRUE(d->write(0, one.data(), one.size()).ok());
    ASSERT_TRUE(qd->snapshot_create("first", 1, 2).ok());
    EXPECT_EQ(qd->snapshot_create("first", 1, 2).error(), lib::Error::exists);
    auto c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(d->write(512 << 10, two.data(), two.size()).ok());
    expect_bytes(d, 0, std::vector<uint8_t>(one.begin(), one.begin() + (512 << 10)));
    expect_bytes(d, 512 << 10, two);
    ASSERT_TRUE(qd->snapshot_create("second", 3, 4).ok());
    ASSERT_EQ(qd->snapshot_count(), 2u);
    EXPECT_STREQ(qd->snapshot(1).id, "2");
    EXPECT_STREQ(qd->snapshot(1).name, "second");
    c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(d->write(0, two.data(), 4096).ok());
    EXPECT_EQ(qd->snapshot_delete("nope").error(), lib::Error::not_found);
    ASSERT_TRUE(qd->snapshot_delete("1").ok());  // by id
    c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(qd->snapshot_delete("second").ok());
    c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(d->close().ok());
    d = must_open("s", false);
    EXPECT_EQ(static_cast<q::Device*>(d)->snapshot_count(), 0u);
    expect_bytes(d, 0, std::vector<uint8_t>(two.begin(), two.begin() + 4096));
    expect_bytes(d, 4096, std::vector<uint8_t>(one.begin() + 4096, one.begin() + (512 << 10)));
    expect_bytes(d, 512 << 10, two);
    EXPECT_EQ(static_cast<q::Device*>(d)->snapshot_create("x", 0, 0).error(), lib::Error::denied);
    c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Qcow2, ApplyingASnapshotRevertsTheActiveImage)
{
    // Revert after overwrites and new allocations; then write again (the
    // reverted tables are shared with the snapshot, so writes copy); refcounts
    // and COPIED flags clean at each step; unknown snapshot is not_found.
    create_qcow2("s", 4 << 20, 3, 12);
    BlockDevice* d = must_open("s", true);
    auto* qd = static_cast<q::Device*>(d);
    auto a = pattern(1 << 20, 1), b = pattern(1 << 20, 2);
    ASSERT_TRUE(d->write(0, a.data(), a.size()).ok());
    ASSERT_TRUE(qd->snapshot_create("a", 0, 0).ok());
    ASSERT_TRUE(d->write(256 << 10, b.data(), b.size()).ok());
    ASSERT_TRUE(d->write(3 << 20, b.data(), 4096).ok());
    EXPECT_EQ(qd->snapshot_apply("zz").error(), lib::Error::not_found);
    ASSERT_TRUE(qd->snapshot_apply("a").ok());
    expect_bytes(d, 0, a, "reverted");
    expect_fill(d, 1 << 20, 3 << 20, 0, "reverted tail");
    auto c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(d->write(4096, b.data(), 4096).ok());
    ASSERT_TRUE(qd->snapshot_apply("a").ok());
    expect_bytes(d, 0, a, "reverted twice");
    ASSERT_TRUE(qd->snapshot_delete("a").ok());
    c = check(d);
    EXPECT_EQ(c.corruptions + c.leaks, 0u);
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Qcow2, SnapshotsRefusedWhenNarrowRefcountsWouldOverflow)
{
    // 1-bit refcounts cannot count a second reference: snapshot creation is
    // refused up front (out_of_range) and the image stays clean; 2-bit
    // refcounts allow two snapshots, not three.
    for (uint32_t order : {0u, 1u}) {
        std::string n = "n" + std::to_string(order);
        q::CreateOptions o;
        o.size = 1 << 20;
        o.cluster_bits = 12;
        o.refcount_order = order;
        create_qcow2(n, o);
        BlockDevice* d = must_open(n, true);
        auto* qd = static_cast<q::Device*>(d);
        auto v = pattern(65536, 3);
        ASSERT_TRUE(d->write(0, v.data(), v.size()).ok());
        if (order == 1) {
            ASSERT_TRUE(qd->snapshot_create("a", 0, 0).ok());
            ASSERT_TRUE(qd->snapshot_create("b", 0, 0).ok());
        }
        EXPECT_EQ(qd->snapshot_create("c", 0, 0).error(), lib::Error::out_of_range);
        auto c = check(d);
        EXPECT_EQ(c.corruptions + c.leaks, 0u) << order;
        ASSERT_TRUE(d->close().ok());
    }
}

TEST_F(Qcow2, BackingFileSmallerThanTheOverlay)
{
    // Beyond the backing file's end the overlay reads zeros; a partial
    // cluster write straddling that end copies what exists and zero-fills.
    create_raw("small.raw", 100000);  // not even a cluster multiple
    {
        BlockDevice* b = must_open("small.raw", true);
        auto v = std::vector<uint8_t>(100000, 0x31);
        ASSERT_TRUE(b->write(0, v.data(), v.size()).ok());
        ASSERT_TRUE(b->close().ok());
    }
    create_qcow2("big", 1 << 20, 3, 16, "small.raw", "raw");
    BlockDevice* d = must_open("big", true);
    expect_fill(d, 99000, 1000, 0x31);
    expect_fill(d, 100000, 200000, 0);
    auto w = std::vector<uint8_t>(10, 0x32);
    ASSERT_TRUE(d->write(99995, w.data(), w.size()).ok());
    ASSERT_TRUE(d->close().ok());
    d = must_open("big", false);
    expect_fill(d, 65536, 99995 - 65536, 0x31);
    expect_fill(d, 99995, 10, 0x32);
    expect_fill(d, 100005, 131072 - 100005, 0);
    ASSERT_TRUE(d->close().ok());
}
