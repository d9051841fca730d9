// The block-backend interface itself, on a raw image: asynchronous submit()
// with completion callbacks for every operation, range and rights checks
// (offset past the end, offset+length overflow, writes to a read-only device,
// unknown operation codes), format probing and the raw backend.
#include "tests/unit/block/util.hpp"

using namespace blocktest;
using vmm::block::BlockOp;
using vmm::block::BlockRequest;

namespace {

struct Done {
    int calls = 0;
    lib::Error last = lib::Error::none;
};

void on_done(BlockRequest& r, lib::Status s)
{
    auto* d = static_cast<Done*>(r.ctx);
    d->calls++;
    d->last = s.error();
}

lib::Error submit(BlockDevice* d, BlockOp op, uint64_t off, uint64_t len, void* buf, Done& done)
{
    BlockRequest r;
    r.op = op;
    r.offset = off;
    r.len = len;
    r.buf = buf;
    r.done = on_done;
    r.ctx = &done;
    int before = done.calls;
    d->submit(r);
    EXPECT_EQ(done.calls, before + 1) << "exactly one completion per request";
    return done.last;
}

class Device : public BlockTest {};

}  // namespace

TEST_F(Device, SubmitCompletesEveryOperationOnce)
{
    create_raw("r.img", 1 << 20);
    BlockDevice* d = must_open("r.img", true);
    ASSERT_STREQ(d->format_name(), "raw");
    Done done;
    auto w = pattern(8192, 1);
    std::vector<uint8_t> got(8192);
    EXPECT_EQ(submit(d, BlockOp::write, 4096, w.size(), w.data(), done), lib::Error::none);
    EXPECT_EQ(submit(d, BlockOp::flush, 0, 0, nullptr, done), lib::Error::none);
    EXPECT_EQ(submit(d, BlockOp::read, 4096, got.size(), got.data(), done), lib::Error::none);
    EXPECT_EQ(got, w);
    EXPECT_EQ(submit(d, BlockOp::discard, 4096, 4096, nullptr, done), lib::Error::none);
    EXPECT_EQ(submit(d, BlockOp::write_zeroes, 8192, 100, nullptr, done), lib::Error::none);
    EXPECT_EQ(submit(d, BlockOp::read, 4096, got.size(), got.data(), done), lib::Error::none);
    EXPECT_TRUE(std::all_of(got.begin(), got.begin() + 4196, [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(std::equal(got.begin() + 4196, got.end(), w.begin() + 4196));
    EXPECT_EQ(done.calls, 6);
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Device, BadRangesAndRightsAreErrorsWithACompletion)
{
    create_raw("r.img", 1 << 20);
    BlockDevice* d = must_open("r.img", false);
    Done done;
    uint8_t b[16];
    EXPECT_EQ(submit(d, BlockOp::read, 1 << 20, 1, b, done), lib::Error::out_of_range);
    EXPECT_EQ(submit(d, BlockOp::read, (1 << 20) - 8, 16, b, done), lib::Error::out_of_range);
    EXPECT_EQ(submit(d, BlockOp::read, ~0ull - 4, 16, b, done), lib::Error::out_of_range);
    EXPECT_EQ(submit(d, BlockOp::write, 0, 16, b, done), lib::Error::denied);
    EXPECT_EQ(submit(d, BlockOp::discard, 0, 16, nullptr, done), lib::Error::denied);
    EXPECT_EQ(submit(d, BlockOp::write_zeroes, 0, 16, nullptr, done), lib::Error::denied);
    EXPECT_EQ(submit(d, static_cast<BlockOp>(77), 0, 16, b, done), lib::Error::invalid);
    EXPECT_EQ(submit(d, BlockOp::read, 5, 0, b, done), lib::Error::none);  // empty request
    ASSERT_TRUE(d->close().ok());
}

TEST_F(Device, ProbingAndOpenErrors)
{
    create_raw("r.img", 4096);
    create_qcow2("q.img", 1 << 20);
    for (auto [name, fmt] : {std::pair{"r.img", "raw"}, std::pair{"q.img", "qcow2"}}) {
        BlockDevice* d = must_open(name, false);
        ASSERT_NE(d, nullptr);
        EXPECT_STREQ(d->format_name(), fmt);
        ASSERT_TRUE(d->close().ok());
    }
    EXPECT_EQ(open_error("missing.img"), lib::Error::not_found);
    // Forcing a format the file is not: errors, not misreads.
    EXPECT_EQ(open_error("r.img", false, Format::qcow2), lib::Error::invalid);
    EXPECT_EQ(open_error("r.img", false, Format::vpc), lib::Error::invalid);
    EXPECT_EQ(vmm::block::parse_format("vmdk").error(), lib::Error::unsupported);
}
