// VHD backend on real files: fixed, dynamic and differencing round trips,
// sizes rounded to CHS geometry, differencing chains, partial sectors merged
// with the parent, and hostile images.
#include <algorithm>
#include <random>

#include "tests/unit/block/util.hpp"

using namespace blocktest;
namespace v = vmm::block::vhd;

namespace {

class Vhd : public BlockTest {
protected:
    void create_vhd(const std::string& name, uint64_t size, uint32_t type, const std::string& parent = "",
                    uint32_t block_size = v::default_block_size)
    {
        v::CreateOptions o;
        o.size = size;
        o.type = type;
        o.block_size = block_size;
        o.timestamp = 12345;
        for (int i = 0; i < 16; ++i) o.unique_id[i] = uint8_t(name.size() * 31 + i + name[0]);
        BlockDevice* par = nullptr;
        if (!parent.empty()) {
            par = must_open(parent, false);
            ASSERT_NE(par, nullptr);
            o.parent = par;
            o.parent_name = lib::StrView(parent.c_str());
        }
        auto f = opener.create(p(name));
        ASSERT_TRUE(f.ok());
        auto s = v::create(alloc, **f, o);
        opener.close(*f);
        if (par) {
            ASSERT_TRUE(par->close().ok());
        }
        ASSERT_TRUE(s.ok()) << lib::error_name(s.error());
    }
};

}  // namespace

TEST_F(Vhd, SizesRoundUpToTheGeometryLikeQemu)
{
    // Values qemu-img 7.2 gives for `create -f vpc` of 64M, 1G and 200G.
    struct {
        uint64_t asked, got;
    } cases[] = {{64ull << 20, 67125248}, {1ull << 30, 1073995776}, {200ull << 30, 214748364800}};
    for (auto& c : cases) {
        create_vhd("g.vhd", c.asked, v::disk_dynamic);
        BlockDevice* d = must_open("g.vhd", false);
        EXPECT_EQ(d->size(), c.got) << c.asked;
        ASSERT_TRUE(d->close().ok());
    }
    EXPECT_EQ(v::geometry_for(~0ull).total(), v::max_chs_sectors);
}

TEST_F(Vhd, FixedAndDynamicRoundTrip)
{
    for (uint32_t type : {v::disk_fixed, v::disk_dynamic}) {
        std::string n = type == v::disk_fixed ? "f.vhd" : "d.vhd";
        create_vhd(n, 20 << 20, type, "", 1 << 20);
        BlockDevice* d = must_open(n, true);
        ASSERT_NE(d, nullptr);
        EXPECT_GE(d->size(), 20u << 20);  // rounded up to the CHS geometry
        EXPECT_EQ(d->size() % 512, 0u);
        expect_fill(d, 0, 4096, 0);
        auto a = pattern(3 << 20, 1), b = pattern(1000, 2);
        ASSERT_TRUE(d->write(100, a.data(), a.size()).ok());   // crosses blocks, unaligned
        ASSERT_TRUE(d->write(d->size() - 1000, b.data(), b.size()).ok());  // last bytes
        ASSERT_TRUE(d->close().ok());
        d = must_open(n, false);
        EXPECT_STREQ(d->format_name(), "vpc");
        expect_bytes(d, 100, a, n.c_str());
        expect_bytes(d, d->size() - 1000, b, n.c_str());
        expect_fill(d, 0, 100, 0);
        uint8_t x;
        EXPECT_EQ(d->read(d->size(), &x, 1).error(), lib::Error::out_of_range);
        ASSERT_TRUE(d->close().ok());
    }
}

TEST_F(Vhd, DifferencingChainReadsParentsAndMergesPartialSectors)
{
    // base (dynamic) <- diff1 <- diff2; writes of partial sectors in a child
    // keep the rest of the sector from the parent.
    create_vhd("base.vhd", 8 << 20, v::disk_dynamic, "", 1 << 20);
    std::vector<uint8_t> model(0);
    {
        BlockDevice* b = must_open("base.vhd", true);
        model = pattern(b->size(), 3);
        ASSERT_TRUE(b->write(0, model.data(), model.size()).ok());
        ASSERT_TRUE(b->close().ok());
    }
    create_vhd("diff1.vhd", 0, v::disk_differencing, "base.vhd", 1 << 20);
    create_vhd("diff2.vhd", 0, v::disk_differencing, "diff1.vhd", 1 << 20);
    {
        BlockDevice* d1 = must_open("diff1.vhd", true);
        ASSERT_NE(d1->backing(), nullptr);
        auto w = pattern(5000, 4);
        ASSERT_TRUE(d1->write(1000, w.data(), w.size()).ok());
        std::copy(w.begin(), w.end(), model.begin() + 1000);
        ASSERT_TRUE(d1->close().ok());
    }
    BlockDevice* d2 = must_open("diff2.vhd", true);
    ASSERT_NE(d2->backing(), nullptr);
    ASSERT_NE(d2->backing()->backing(), nullptr);
    EXPECT_EQ(d2->size(), model.size());
    auto w = pattern(10, 5);
    ASSERT_TRUE(d2->write(1003, w.data(), w.size()).ok());
    std::copy(w.begin(), w.end(), model.begin() + 1003);
    ASSERT_TRUE(d2->write((3 << 20) + 7, w.data(), w.size()).ok());  // block not in diff1
    std::copy(w.begin(), w.end(), model.begin() + (3 << 20) + 7);
    ASSERT_TRUE(d2->close().ok());
    d2 = must_open("diff2.vhd", false);
    expect_bytes(d2, 0, model, "through two differencing layers");
    ASSERT_TRUE(d2->close().ok());
}

TEST_F(Vhd, RandomWritesMatchAModel)
{
    create_vhd("d.vhd", 16 << 20, v::disk_dynamic, "", 512 << 10);
    BlockDevice* d = must_open("d.vhd", true);
    std::vector<uint8_t> model(d->size(), 0);
    std::mt19937_64 rng(3);
    for (int i = 0; i < 400; ++i) {
        uint64_t off = rng() % model.size(), len = 1 + rng() % 20000;
        if (off + len > model.size()) len = model.size() - off;
        if (rng() % 5 == 0) {
            ASSERT_TRUE(d->write_zeroes(off, len).ok());
            std::fill(model.begin() + off, model.begin() + off + len, 0);
        } else {
            auto w = pattern(len, uint8_t(i));
            ASSERT_TRUE(d->write(off, w.data(), len).ok());
            std::copy(w.begin(), w.end(), model.begin() + off);
        }
    }
    ASSERT_TRUE(d->close().ok());
    d = must_open("d.vhd", false);
    expect_bytes(d, 0, model);
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Vhd, HostileImagesAreErrors)
{
    // Tried: footer checksum off by one, dynamic header checksum wrong,
    // dynamic header cookie wrong, BAT entry pointing past the end of the
    // file, BAT entry inside the header, block size not a power of two,
    // max_table_entries too small for the size, BAT offset beyond EOF,
    // unknown disk type, footer data offset beyond EOF, differencing parent
    // with another unique id, missing parent.
    create_vhd("good.vhd", 8 << 20, v::disk_dynamic, "", 1 << 20);
    {
        BlockDevice* d = must_open("good.vhd", true);
        auto w = pattern(4096, 1);
        ASSERT_TRUE(d->write(0, w.data(), w.size()).ok());
        ASSERT_TRUE(d->close().ok());
    }
    auto good = read_file("good.vhd");
    uint64_t foot = good.size() - 512;
    auto bad = [&](uint64_t off, uint64_t val, int bytes, bool fix_dyn_sum = false) {
        write_file("bad.vhd", good);
        poke_be("bad.vhd", off, val, bytes);
        if (fix_dyn_sum) {
            auto d = read_file("bad.vhd");
            uint32_t sum = v::checksum(d.data() + 512, 1024, 36);
            poke_be("bad.vhd", 512 + 36, sum, 4);
        }
        return open_error("bad.vhd", false, Format::vpc);
    };
    EXPECT_EQ(bad(foot + 64, peek_be("good.vhd", foot + 64, 4) + 1, 4), lib::Error::bad_checksum);
    EXPECT_EQ(bad(512 + 36, peek_be("good.vhd", 512 + 36, 4) ^ 1, 4), lib::Error::bad_checksum);
    EXPECT_EQ(bad(512, 0x4142434445464748ull, 8, true), lib::Error::invalid);
    EXPECT_EQ(bad(1536, 0x7fffff00, 4), lib::Error::corrupt);  // BAT entry past EOF
    EXPECT_EQ(bad(1536, 1, 4), lib::Error::corrupt);           // BAT entry inside the headers
    EXPECT_EQ(bad(512 + 32, 3000, 4, true), lib::Error::invalid);
    EXPECT_EQ(bad(512 + 28, 1, 4, true), lib::Error::invalid);
    EXPECT_EQ(bad(512 + 16, 1ull << 40, 8, true), lib::Error::truncated);
    write_file("bad.vhd", good);
    write_file("short.vhd", std::vector<uint8_t>(100, 0));
    EXPECT_EQ(open_error("short.vhd", false, Format::vpc), lib::Error::truncated);

    // Unknown disk type / data offset beyond EOF: patch the trailing footer
    // and keep its checksum right.
    auto with_footer = [&](uint64_t off, uint64_t val, int bytes) {
        write_file("bad.vhd", good);
        poke_be("bad.vhd", foot + off, val, bytes);
        auto d = read_file("bad.vhd");
        poke_be("bad.vhd", foot + 64, v::checksum(d.data() + foot, 512, 64), 4);
        return open_error("bad.vhd", false, Format::vpc);
    };
    EXPECT_EQ(with_footer(60, 7, 4), lib::Error::unsupported);
    EXPECT_EQ(with_footer(16, 1ull << 40, 8), lib::Error::truncated);

    // Differencing disk whose parent changed identity, or vanished.
    create_vhd("parent.vhd", 4 << 20, v::disk_dynamic);
    create_vhd("child.vhd", 0, v::disk_differencing, "parent.vhd");
    EXPECT_EQ(open_error("child.vhd"), lib::Error::none);
    {
        // Give the parent another unique id (checksum kept valid).
        auto pf = read_file("parent.vhd");
        uint64_t pfoot = pf.size() - 512;
        poke_be("parent.vhd", pfoot + 68, 0xdeadbeef, 4);
        auto d = read_file("parent.vhd");
        poke_be("parent.vhd", pfoot + 64, v::checksum(d.data() + pfoot, 512, 64), 4);
    }
    EXPECT_EQ(open_error("child.vhd"), lib::Error::corrupt);
    std::remove(p("parent.vhd").c_str());
    EXPECT_EQ(open_error("child.vhd"), lib::Error::not_found);
}

// A dynamic VHD made by qemu-img at the start of a bigger "partition" (the
// file grown with zeros after it): no footer at the file's end, so the copy
// in the first sector is used and new blocks go after the last block, not at
// the end of the partition. qemu-img reads the result back.
TEST_F(Vhd, DynamicImageOnALargerPartitionGrowsAfterItsLastBlock)
{
    std::string img = p("on-part.vhd");
    ASSERT_EQ(std::system(("qemu-img create -q -f vpc '" + img + "' 4M").c_str()), 0);
    auto bytes = read_file("on-part.vhd");
    const size_t made = bytes.size();
    bytes.resize(16 << 20);  // the partition
    write_file("on-part.vhd", bytes);
    BlockDevice* d = must_open("on-part.vhd", true, Format::vpc);
    ASSERT_NE(d, nullptr);
    auto a = pattern(3 << 20, 9);
    ASSERT_TRUE(d->write(4096, a.data(), a.size()).ok());  // allocates two blocks
    ASSERT_TRUE(d->close().ok());
    auto after = read_file("on-part.vhd");
    ASSERT_EQ(after.size(), 16u << 20);
    // Two 2 MiB blocks and their bitmaps, then the footer: the rest of the
    // partition is untouched.
    size_t used = made + 2 * ((2 << 20) + 512);
    ASSERT_LT(used, after.size());
    EXPECT_TRUE(std::all_of(after.begin() + long(used), after.end(), [](uint8_t b) { return b == 0; }));
    EXPECT_EQ(std::memcmp(after.data() + used - 512, after.data(), 512), 0);  // the footer, as in sector 0
    d = must_open("on-part.vhd", false, Format::vpc);
    ASSERT_NE(d, nullptr);
    expect_bytes(d, 4096, a, "reopened");
    ASSERT_TRUE(d->close().ok());
    // qemu-img, which no one here wrote, reads the same bytes.
    std::string raw = p("want.raw");
    std::vector<uint8_t> expect_raw(4096 + a.size());
    std::memcpy(expect_raw.data() + 4096, a.data(), a.size());
    write_file("want.raw", expect_raw);
    EXPECT_EQ(std::system(("qemu-img compare -q -f vpc -F raw '" + img + "' '" + raw + "'").c_str()), 0);
}
