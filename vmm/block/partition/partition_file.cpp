#include "vmm/block/partition/partition_file.hpp"

namespace vmm::block {

void PartitionFile::forwarded(FileRequest& inner, lib::Status s)
{
    auto* f = static_cast<Forward*>(inner.ctx);
    FileRequest* outer = f->outer;
    f->outer = nullptr;  // the slot is free again before the caller runs
    if (outer->done) outer->done(*outer, s);
}

void PartitionFile::submit(FileRequest& r)
{
    auto finish = [&](lib::Status s) {
        if (r.done) r.done(r, s);
    };
    switch (r.op) {
    case FileOp::resize: return finish(lib::Error::unsupported);
    case FileOp::write:
        if (!writable_) return finish(lib::Error::denied);
        [[fallthrough]];
    case FileOp::read:
        if (r.offset > size_ || r.len > size_ - r.offset) return finish(lib::Error::out_of_range);
        break;
    case FileOp::flush: break;
    }
    for (;;) {
        for (Forward& f : fwd_) {
            if (f.outer) continue;
            f.outer = &r;
            f.inner = r;
            f.inner.offset = r.op == FileOp::flush ? 0 : offset_ + r.offset;
            f.inner.done = forwarded;
            f.inner.ctx = &f;
            disk_.submit(f.inner);
            return;
        }
        disk_.wait();  // every slot in flight: let one finish
    }
}

}  // namespace vmm::block
