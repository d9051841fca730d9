#include "vmm/block/device.hpp"

#include <cstring>

namespace vmm::block {

lib::Status BlockDevice::check_range(uint64_t off, uint64_t len, bool write) const
{
    if (write && read_only_) return lib::Error::denied;
    uint64_t end;
    if (__builtin_add_overflow(off, len, &end) || end > size_) return lib::Error::out_of_range;
    return {};
}

void BlockDevice::submit(BlockRequest& r)
{
    lib::Status s;
    switch (r.op) {
    case BlockOp::read: s = read(r.offset, r.buf, r.len); break;
    case BlockOp::write: s = write(r.offset, r.buf, r.len); break;
    case BlockOp::flush: s = flush(); break;
    case BlockOp::discard: s = discard(r.offset, r.len); break;
    case BlockOp::write_zeroes: s = write_zeroes(r.offset, r.len); break;
    default: s = lib::Error::invalid; break;
    }
    if (r.done) r.done(r, s);
}

lib::Status BlockDevice::read(uint64_t off, void* buf, size_t len)
{
    TRY(check_range(off, len, false));
    if (len == 0) return {};
    return do_read(off, buf, len);
}

lib::Status BlockDevice::write(uint64_t off, const void* buf, size_t len)
{
    TRY(check_range(off, len, true));
    if (len == 0) return {};
    return do_write(off, buf, len);
}

lib::Status BlockDevice::flush()
{
    if (read_only_) return {};
    return do_flush();
}

lib::Status BlockDevice::discard(uint64_t off, uint64_t len)
{
    TRY(check_range(off, len, true));
    if (len == 0) return {};
    return do_discard(off, len);
}

lib::Status BlockDevice::write_zeroes(uint64_t off, uint64_t len)
{
    TRY(check_range(off, len, true));
    if (len == 0) return {};
    return do_write_zeroes(off, len);
}

lib::Status read_backing(BlockDevice* backing, uint64_t off, void* buf, size_t len)
{
    uint64_t have = 0;
    if (backing && off < backing->size()) have = backing->size() - off < len ? backing->size() - off : len;
    if (have < len) std::memset(static_cast<uint8_t*>(buf) + have, 0, len - have);
    if (have == 0) return {};
    return backing->read(off, buf, size_t(have));
}

}  // namespace vmm::block
