#include "vmm/block/archive/memory_file.hpp"

#include <cstring>

namespace vmm::block {

void MemoryFile::submit(FileRequest& r)
{
    lib::Status s;
    switch (r.op) {
    case FileOp::read: {
        uint64_t end;
        if (__builtin_add_overflow(r.offset, uint64_t(r.len), &end) || end > size_) s = lib::Error::truncated;
        else if (r.len) std::memcpy(r.buf, data_ + r.offset, r.len);
        break;
    }
    case FileOp::flush: break;  // nothing was ever written: nothing to make durable
    case FileOp::write:
    case FileOp::resize:
    default: s = lib::Error::denied; break;
    }
    if (r.done) r.done(r, s);
}

}  // namespace vmm::block
