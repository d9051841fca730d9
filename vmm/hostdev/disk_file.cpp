#include "vmm/hostdev/disk_file.hpp"

namespace vmm::hostdev {
namespace {

struct Completion {
    bool done = false;
    lib::Status status;
};

void on_done(drivers::BlockRequest& r, lib::Status s)
{
    auto* c = static_cast<Completion*>(r.ctx);
    c->status = s;
    c->done = true;
}

}  // namespace

DiskFile::DiskFile(drivers::BlockDevice& dev, drivers::DevicePlatform& p, drivers::DmaBuffer bounce, DiskGate* gate,
                   uint64_t timeout_ns)
    : dev_(dev), platform_(p), bounce_(bounce), gate_(gate), timeout_ns_(timeout_ns)
{
    const drivers::BlockInfo& in = dev.info();
    sector_ = in.sector_size ? in.sector_size : 512;
    size_ = in.sectors * sector_;
    uint64_t fit = bounce.size / sector_;
    uint64_t chunk = in.max_sectors < fit ? in.max_sectors : fit;
    chunk_sectors_ = uint32_t(chunk);
}

lib::Status DiskFile::run(drivers::BlockOp op, uint64_t lba, uint32_t sectors)
{
    Completion c;
    drivers::BlockRequest r;
    r.op = op;
    r.lba = lba;
    r.sectors = op == drivers::BlockOp::flush ? 0 : sectors;
    r.va = bounce_.va;
    r.bus = bounce_.bus;
    r.done = on_done;
    r.ctx = &c;
    uint64_t deadline = platform_.now_ns() + timeout_ns_;
    for (;;) {
        auto s = dev_.submit(r);
        if (s.ok()) break;
        if (s.error() != lib::Error::busy) return s;
        // Another user's requests fill the queue: let them finish.
        (void)dev_.wait(1'000'000);
        if (platform_.now_ns() > deadline) return lib::Error::io;
    }
    ++device_requests_;
    while (!c.done) {
        (void)dev_.wait(10'000'000);
        if (!c.done && platform_.now_ns() > deadline) return lib::Error::io;
    }
    return c.status;
}

lib::Status DiskFile::transfer(block::FileRequest& r)
{
    using drivers::BlockOp;
    if (r.op == block::FileOp::flush) return run(BlockOp::flush, 0, 0);
    if (r.op == block::FileOp::resize) return lib::Error::unsupported;
    bool write = r.op == block::FileOp::write;
    if (write && !writable()) return lib::Error::denied;
    if (r.offset > size_ || r.len > size_ - r.offset) return lib::Error::out_of_range;
    if (!chunk_sectors_) return lib::Error::no_memory;
    auto* bytes = static_cast<uint8_t*>(r.buf);
    auto* bounce = static_cast<uint8_t*>(bounce_.va);
    uint64_t off = r.offset;
    size_t left = r.len;
    while (left) {
        uint64_t lba = off / sector_;
        uint64_t skip = off % sector_;
        uint64_t span = skip + left;  // bytes from the first sector's start
        uint64_t sectors = (span + sector_ - 1) / sector_;
        if (sectors > chunk_sectors_) sectors = chunk_sectors_;
        size_t take = size_t(sectors * sector_ - skip);
        if (take > left) take = left;
        if (!write) {
            TRY(run(BlockOp::read, lba, uint32_t(sectors)));
            __builtin_memcpy(bytes, bounce + skip, take);
        } else {
            // Partial sectors at either end keep the bytes around them.
            bool partial = skip || (skip + take) % sector_;
            if (partial) TRY(run(BlockOp::read, lba, uint32_t(sectors)));
            __builtin_memcpy(bounce + skip, bytes, take);
            TRY(run(BlockOp::write, lba, uint32_t(sectors)));
        }
        bytes += take;
        off += take;
        left -= take;
    }
    return {};
}

void DiskFile::submit(block::FileRequest& r)
{
    if (gate_) gate_->enter();
    lib::Status s = transfer(r);
    if (gate_) gate_->leave();
    if (r.done) r.done(r, s);
}

}  // namespace vmm::hostdev
