#include "vmm/block/raw/raw.hpp"

#include "vmm/block/buffer.hpp"

namespace vmm::block {

lib::Result<RawDevice*> RawDevice::open(lib::Allocator& a, FileOpener& opener, File& file, bool writable)
{
    if (writable && !file.writable()) return lib::err(lib::Error::denied);
    auto* d = make_in<RawDevice>(a, a, opener, file);
    if (!d) return lib::err(lib::Error::no_memory);
    d->size_ = file.size();
    d->read_only_ = !writable;
    return d;
}

lib::Status RawDevice::extent_at(uint64_t off, uint64_t len, Extent& out)
{
    (void)len;
    out.length = size_ - off < len ? size_ - off : len;
    out.state = ExtentState::data;
    out.has_host_offset = true;
    out.host_offset = off;
    return {};
}

lib::Status RawDevice::close()
{
    lib::Status s = read_only_ ? lib::Status{} : file_flush(file_);
    opener_.close(&file_);
    lib::Allocator& a = alloc_;
    destroy_in(a, this);
    return s;
}

lib::Status RawDevice::do_read(uint64_t off, void* buf, size_t len) { return file_read(file_, off, buf, len); }
lib::Status RawDevice::do_write(uint64_t off, const void* buf, size_t len) { return file_write(file_, off, buf, len); }
lib::Status RawDevice::do_flush() { return file_flush(file_); }
lib::Status RawDevice::do_discard(uint64_t off, uint64_t len) { return do_write_zeroes(off, len); }

lib::Status RawDevice::do_write_zeroes(uint64_t off, uint64_t len)
{
    constexpr size_t chunk = 64 * 1024;
    auto z = TRY(Buffer::make(alloc_, chunk));
    while (len) {
        size_t n = len < chunk ? size_t(len) : chunk;
        TRY(file_write(file_, off, z.data(), n));
        off += n;
        len -= n;
    }
    return {};
}

lib::Status raw_create(File& file, uint64_t size) { return file_resize(file, size); }

}  // namespace vmm::block
