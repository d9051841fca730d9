#include "vmm/virtio/virtio_blk.hpp"

namespace vmm::virtio {
namespace {

uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }
void put_le(uint8_t* p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; ++i) p[i] = uint8_t(v >> (8 * i));
}

// [sector, sector + count) lies inside a disk of `capacity` sectors.
bool sectors_ok(uint64_t sector, uint64_t count, uint64_t capacity)
{
    return sector <= capacity && count <= capacity - sector;
}

}  // namespace

VirtioBlk::VirtioBlk(block::BlockDevice& disk, const char* serial, unsigned queues)
    : disk_(&disk), queues_(queues == 0 ? 1 : queues > max_queues ? max_queues : queues)
{
    for (uint32_t i = 0; serial && i < blk_id_bytes && serial[i]; ++i) serial_[i] = serial[i];
}

uint64_t VirtioBlk::device_features() const
{
    uint64_t f = blk_feature::seg_max | blk_feature::size_max | blk_feature::blk_size | blk_feature::flush;
    if (queues_ > 1) f |= blk_feature::mq;
    // 5.2.5: RO makes the driver treat the disk as read-only; discard and
    // write zeroes would only ever fail on it, so they are not offered.
    if (disk_->read_only()) f |= blk_feature::ro;
    else f |= blk_feature::discard | blk_feature::write_zeroes;
    return f;
}

uint32_t VirtioBlk::config_read(uint32_t offset, unsigned size)
{
    // Built afresh on every read, little-endian field by field: the
    // capacity is the backend's current size.
    uint8_t b[sizeof(VirtioBlkConfig)] = {};
    put_le(b + offsetof(VirtioBlkConfig, capacity), disk_->size() / blk_sector_size, 8);
    put_le(b + offsetof(VirtioBlkConfig, size_max), size_max, 4);
    put_le(b + offsetof(VirtioBlkConfig, seg_max), seg_max, 4);
    put_le(b + offsetof(VirtioBlkConfig, blk_size), blk_sector_size, 4);
    put_le(b + offsetof(VirtioBlkConfig, num_queues), queues_, 2);
    if (!disk_->read_only()) {
        put_le(b + offsetof(VirtioBlkConfig, max_discard_sectors), max_discard_sectors, 4);
        put_le(b + offsetof(VirtioBlkConfig, max_discard_seg), max_discard_seg, 4);
        put_le(b + offsetof(VirtioBlkConfig, discard_sector_alignment), discard_alignment, 4);
        put_le(b + offsetof(VirtioBlkConfig, max_write_zeroes_sectors), max_discard_sectors, 4);
        put_le(b + offsetof(VirtioBlkConfig, max_write_zeroes_seg), max_discard_seg, 4);
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4 && offset + i < sizeof b; ++i) v |= uint32_t(b[offset + i]) << (8 * i);
    return v;
}

lib::Status VirtioBlk::queue_notify(unsigned q)
{
    if (!transport_ || !transport_->live()) return {};
    Virtqueue* vq = transport_->queue(q);
    if (!vq) return {};
    bool used = false;
    lib::Status result;
    // Suppress kicks while draining, then re-enable and look once more for
    // requests that raced with re-enabling (2.7.10).
    for (bool more = true; more && result.ok();) {
        vq->disable_notify();
        for (;;) {
            auto r = vq->pop(chain_);
            if (!r) {
                result = lib::err(r.error());
                break;
            }
            if (!*r) break;
            // 5.2.6: a request needs its 16-byte header (device-readable)
            // and a status byte (the last device-writable byte). Without
            // them no answer is possible: the driver broke the protocol.
            if (chain_.readable < sizeof(VirtioBlkReqHeader) || chain_.writable < 1) {
                vq->set_broken(Fault::device);
                result = lib::err(lib::Error::invalid);
                break;
            }
            uint32_t written = 1;
            const uint8_t st = count(handle(chain_, written));
            chain_.write(chain_.writable - 1, &st, 1);
            if (auto p = vq->push(chain_.head, written); !p.ok()) {
                result = p;
                break;
            }
            used = true;
        }
        if (result.ok()) more = vq->enable_notify();
    }
    if (used) transport_->queue_used(q);
    return result;
}

uint8_t VirtioBlk::count(uint8_t status)
{
    ++stats_.requests;
    if (status == blk_status::ioerr) ++stats_.ioerr;
    if (status == blk_status::unsupp) ++stats_.unsupp;
    return status;
}

uint8_t VirtioBlk::handle(const Chain& c, uint32_t& written)
{
    // The header is copied out once; the guest may change it meanwhile.
    uint8_t h[sizeof(VirtioBlkReqHeader)];
    c.read(0, h, sizeof h);
    const uint32_t type = le32(h + offsetof(VirtioBlkReqHeader, type));
    const uint64_t sector = le64(h + offsetof(VirtioBlkReqHeader, sector));
    written = 1;
    switch (type) {
    case blk_type::in: return read_write(c, true, sector, written);
    case blk_type::out: return read_write(c, false, sector, written);
    case blk_type::flush:
        // The header's sector must be 0 (5.2.6.1); like QEMU the device
        // does not hold the driver to it.
        return disk_->flush().ok() ? blk_status::ok : blk_status::ioerr;
    case blk_type::get_id: return get_id(c, written);
    case blk_type::discard: return discard_or_zero(c, true);
    case blk_type::write_zeroes: return discard_or_zero(c, false);
    default: return blk_status::unsupp;  // GET_LIFETIME, SECURE_ERASE, legacy SCSI and unknown types
    }
}

uint8_t VirtioBlk::read_write(const Chain& c, bool in, uint64_t sector, uint32_t& written)
{
    // IN: the data is the device-writable part before the status byte;
    // OUT: the device-readable part after the header.
    const uint64_t data = in ? c.writable - 1 : c.readable - sizeof(VirtioBlkReqHeader);
    if (data % blk_sector_size) return blk_status::ioerr;  // 5.2.6.1: a multiple of 512
    if (!in && disk_->read_only()) return blk_status::ioerr;  // 5.2.6.2, and nothing is written
    if (!sectors_ok(sector, data / blk_sector_size, disk_->size() / blk_sector_size)) return blk_status::ioerr;
    uint64_t off = sector * blk_sector_size;
    uint64_t left = data;
    uint64_t pos = 0;  // position in the readable part (OUT skips the header)
    for (unsigned i = 0; i < c.count && left; ++i) {
        const Segment& s = c.seg[i];
        if (s.writable != in) {
            pos += s.len;
            continue;
        }
        uint64_t skip = 0;
        if (!in && pos < sizeof(VirtioBlkReqHeader)) skip = sizeof(VirtioBlkReqHeader) - pos < s.len ? sizeof(VirtioBlkReqHeader) - pos : s.len;
        pos += s.len;
        uint64_t n = s.len - skip;
        if (n > left) n = left;
        if (n == 0) continue;
        const lib::Status st = in ? disk_->read(off, s.host + skip, size_t(n)) : disk_->write(off, s.host + skip, size_t(n));
        if (!st.ok()) return blk_status::ioerr;
        off += n;
        left -= n;
    }
    if (in) {
        stats_.read_bytes += data;
        written = uint32_t(data + 1);
    } else {
        stats_.written_bytes += data;
    }
    return blk_status::ok;
}

uint8_t VirtioBlk::get_id(const Chain& c, uint32_t& written)
{
    // 5.2.6: 20 bytes of ASCII, NUL-padded (no NUL when all 20 are used).
    // A shorter buffer gets what fits.
    uint64_t n = c.writable - 1;
    if (n > blk_id_bytes) n = blk_id_bytes;
    c.write(0, serial_, size_t(n));
    written = uint32_t(n + 1);
    return blk_status::ok;
}

uint8_t VirtioBlk::discard_or_zero(const Chain& c, bool discard)
{
    const uint64_t want = discard ? blk_feature::discard : blk_feature::write_zeroes;
    if (!(transport_->negotiated() & want)) return blk_status::unsupp;
    if (disk_->read_only()) return blk_status::ioerr;
    const uint64_t data = c.readable - sizeof(VirtioBlkReqHeader);
    constexpr uint64_t seg_bytes = sizeof(VirtioBlkDiscardSegment);
    if (data == 0 || data % seg_bytes) return blk_status::ioerr;
    if (data > max_discard_seg * seg_bytes) return blk_status::unsupp;
    // Copied out and checked as a whole first, so a bad segment leaves the
    // disk untouched.
    uint8_t raw[max_discard_seg * seg_bytes];
    const size_t n = size_t(data / seg_bytes);
    c.read(sizeof(VirtioBlkReqHeader), raw, size_t(data));
    const uint64_t capacity = disk_->size() / blk_sector_size;
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* p = raw + i * seg_bytes;
        const uint32_t count = le32(p + offsetof(VirtioBlkDiscardSegment, num_sectors));
        const uint32_t flags = le32(p + offsetof(VirtioBlkDiscardSegment, flags));
        // 5.2.6.2: unknown flags, and unmap on a discard, are unsupported.
        if (flags & ~blk_discard_flag_unmap) return blk_status::unsupp;
        if (discard && (flags & blk_discard_flag_unmap)) return blk_status::unsupp;
        if (count > max_discard_sectors) return blk_status::ioerr;
        if (!sectors_ok(le64(p), count, capacity)) return blk_status::ioerr;
    }
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* p = raw + i * seg_bytes;
        const uint64_t off = le64(p) * blk_sector_size;
        const uint64_t len = uint64_t(le32(p + offsetof(VirtioBlkDiscardSegment, num_sectors))) * blk_sector_size;
        const lib::Status st = discard ? disk_->discard(off, len) : disk_->write_zeroes(off, len);
        if (!st.ok()) return blk_status::ioerr;
    }
    return blk_status::ok;
}

}  // namespace vmm::virtio
