#include "vmm/block/file.hpp"

#include <cstring>

namespace vmm::block {
namespace {

struct Waiter {
    bool done = false;
    lib::Status status;
};

void on_done(FileRequest& r, lib::Status s)
{
    auto* w = static_cast<Waiter*>(r.ctx);
    w->status = s;
    w->done = true;
}

lib::Status run(File& f, FileOp op, uint64_t off, void* buf, size_t len)
{
    Waiter w;
    FileRequest r;
    r.op = op;
    r.offset = off;
    r.buf = buf;
    r.len = len;
    r.done = on_done;
    r.ctx = &w;
    f.submit(r);
    while (!w.done) f.wait();
    return w.status;
}

}  // namespace

lib::Status file_read(File& f, uint64_t off, void* buf, size_t len)
{
    uint64_t end;
    if (__builtin_add_overflow(off, uint64_t(len), &end) || end > f.size()) return lib::Error::truncated;
    return run(f, FileOp::read, off, buf, len);
}

lib::Status file_read_padded(File& f, uint64_t off, void* buf, size_t len)
{
    uint64_t size = f.size();
    size_t in_file = off >= size ? 0 : (size - off < len ? size_t(size - off) : len);
    if (in_file < len) std::memset(static_cast<uint8_t*>(buf) + in_file, 0, len - in_file);
    if (in_file == 0) return {};
    return run(f, FileOp::read, off, buf, in_file);
}

lib::Status file_write(File& f, uint64_t off, const void* buf, size_t len)
{
    if (!f.writable()) return lib::Error::denied;
    return run(f, FileOp::write, off, const_cast<void*>(buf), len);
}

lib::Status file_flush(File& f) { return run(f, FileOp::flush, 0, nullptr, 0); }

lib::Status file_resize(File& f, uint64_t size)
{
    if (!f.writable()) return lib::Error::denied;
    return run(f, FileOp::resize, size, nullptr, 0);
}

}  // namespace vmm::block
