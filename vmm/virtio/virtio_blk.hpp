// virtio-blk (virtio 1.2 5.2), device ID 2, over a vmm::block::BlockDevice
// (raw, qcow2 or VHD). One or more request queues (VIRTIO_BLK_F_MQ); each
// request is a header, data and a status byte (5.2.6), processed when the
// driver kicks its queue and completed before the kick returns (the block
// backends complete inline). Data moves straight between the image and the
// guest's buffers: no bounce buffer, no allocation per request.
//
// Offered: SEG_MAX, SIZE_MAX, BLK_SIZE (512), FLUSH, MQ, RO for read-only
// backends, DISCARD and WRITE_ZEROES for writable ones; requests IN, OUT,
// FLUSH, GET_ID (the serial number; a request type without a feature bit),
// DISCARD, WRITE_ZEROES. Anything else is VIRTIO_BLK_S_UNSUPP.
//
// Hostile requests (5.2.6.1 lists what a driver must not do): a sector range
// past the capacity or wrapping, IN/OUT data not a multiple of 512, OUT to a
// read-only disk, a backend error, discard/write-zeroes segments past the
// capacity or above the advertised limits give VIRTIO_BLK_S_IOERR; unknown
// types, unknown segment flags, unmap on discard, discard/write zeroes not
// negotiated, more segments than advertised give VIRTIO_BLK_S_UNSUPP. A
// chain the status cannot be returned in (header shorter than 16 bytes, no
// device-writable byte for the status) marks the queue broken, as ring
// violations do (DEVICE_NEEDS_RESET). Portable, host-tested.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vmm/block/device.hpp"
#include "vmm/virtio/virtio_pci.hpp"

namespace vmm::virtio {

// struct virtio_blk_config (5.2.4), all little-endian.
struct VirtioBlkConfig {
    uint64_t capacity;  // in 512-byte sectors
    uint32_t size_max;
    uint32_t seg_max;
    uint16_t cylinders;  // geometry (VIRTIO_BLK_F_GEOMETRY, not offered)
    uint8_t heads;
    uint8_t sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp;  // topology (VIRTIO_BLK_F_TOPOLOGY, not offered)
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;  // VIRTIO_BLK_F_CONFIG_WCE, not offered
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
    uint32_t max_secure_erase_sectors;  // VIRTIO_BLK_F_SECURE_ERASE, not offered
    uint32_t max_secure_erase_seg;
    uint32_t secure_erase_sector_alignment;
};
static_assert(sizeof(VirtioBlkConfig) == 72);
static_assert(offsetof(VirtioBlkConfig, size_max) == 8 && offsetof(VirtioBlkConfig, seg_max) == 12);
static_assert(offsetof(VirtioBlkConfig, cylinders) == 16 && offsetof(VirtioBlkConfig, blk_size) == 20);
static_assert(offsetof(VirtioBlkConfig, physical_block_exp) == 24 && offsetof(VirtioBlkConfig, opt_io_size) == 28);
static_assert(offsetof(VirtioBlkConfig, writeback) == 32 && offsetof(VirtioBlkConfig, num_queues) == 34);
static_assert(offsetof(VirtioBlkConfig, max_discard_sectors) == 36 && offsetof(VirtioBlkConfig, max_discard_seg) == 40);
static_assert(offsetof(VirtioBlkConfig, discard_sector_alignment) == 44);
static_assert(offsetof(VirtioBlkConfig, max_write_zeroes_sectors) == 48 &&
              offsetof(VirtioBlkConfig, max_write_zeroes_seg) == 52);
static_assert(offsetof(VirtioBlkConfig, write_zeroes_may_unmap) == 56 &&
              offsetof(VirtioBlkConfig, max_secure_erase_sectors) == 60);

// struct virtio_blk_req's header (5.2.6): type, reserved, sector.
struct VirtioBlkReqHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(VirtioBlkReqHeader) == 16 && offsetof(VirtioBlkReqHeader, sector) == 8);

// struct virtio_blk_discard_write_zeroes (5.2.6): the data of DISCARD and
// WRITE_ZEROES requests, one or more of these.
struct VirtioBlkDiscardSegment {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;  // bit 0 unmap, the rest reserved
};
static_assert(sizeof(VirtioBlkDiscardSegment) == 16 && offsetof(VirtioBlkDiscardSegment, flags) == 12);

namespace blk_feature {  // 5.2.3
inline constexpr uint64_t size_max = 1ull << 1, seg_max = 1ull << 2, geometry = 1ull << 4, ro = 1ull << 5;
inline constexpr uint64_t blk_size = 1ull << 6, flush = 1ull << 9, topology = 1ull << 10, config_wce = 1ull << 11;
inline constexpr uint64_t mq = 1ull << 12, discard = 1ull << 13, write_zeroes = 1ull << 14;
}  // namespace blk_feature

namespace blk_type {  // 5.2.6
inline constexpr uint32_t in = 0, out = 1, flush = 4, get_id = 8, get_lifetime = 10, discard = 11, write_zeroes = 13,
                          secure_erase = 14;
}

namespace blk_status {  // 5.2.6
inline constexpr uint8_t ok = 0, ioerr = 1, unsupp = 2;
}

inline constexpr uint32_t blk_sector_size = 512;
inline constexpr uint32_t blk_id_bytes = 20;  // VIRTIO_BLK_ID_BYTES
inline constexpr uint32_t blk_discard_flag_unmap = 1;

class VirtioBlk final : public VirtioDevice {
public:
    static constexpr uint16_t device_id = 2;
    static constexpr uint16_t queue_size = 256;
    static constexpr unsigned max_queues = 16;
    // Data segments per request: a chain also holds the header and the
    // status (Linux adds 2 to seg_max).
    static constexpr uint32_t seg_max = Chain::max_segments - 2;
    static constexpr uint32_t size_max = 1u << 20;
    // Discard and write zeroes: segments per request and sectors per
    // segment (32 MiB: one request keeps the device-model thread briefly).
    static constexpr uint32_t max_discard_seg = 16;
    static constexpr uint32_t max_discard_sectors = 1u << 16;
    static constexpr uint32_t discard_alignment = 8;  // sectors: 4 KiB

    // Counters, for xl and tests.
    struct Stats {
        uint64_t requests = 0;
        uint64_t read_bytes = 0;
        uint64_t written_bytes = 0;
        uint64_t ioerr = 0;
        uint64_t unsupp = 0;
    };

    // `serial`: up to 20 bytes for GET_ID (longer is cut). queues: 1..
    // max_queues (more than 1 offers VIRTIO_BLK_F_MQ). The device does not
    // own `disk`.
    VirtioBlk(block::BlockDevice& disk, const char* serial, unsigned queues = 1);

    const Stats& stats() const { return stats_; }
    block::BlockDevice& disk() { return *disk_; }
    // Serves the guest from `d` from now on (a live snapshot's new top layer,
    // between two requests): it must have the same size and rights (invalid).
    lib::Status replace_disk(block::BlockDevice& d)
    {
        if (d.size() != disk_->size() || d.read_only() != disk_->read_only()) return lib::Error::invalid;
        disk_ = &d;
        return {};
    }

    // VirtioDevice
    uint16_t device_type() const override { return device_id; }
    uint32_t pci_class() const override { return 0x018000; }  // mass storage, other
    uint64_t device_features() const override;
    unsigned num_queues() const override { return queues_; }
    uint16_t queue_max_size(unsigned) const override { return queue_size; }
    uint32_t config_size() const override { return sizeof(VirtioBlkConfig); }
    uint32_t config_read(uint32_t offset, unsigned size) override;
    void config_write(uint32_t, unsigned, uint32_t) override {}  // writeback is not offered: all read-only
    void reset() override {}
    lib::Status queue_notify(unsigned q) override;

private:
    // One request: its status (the used length is set through *written).
    uint8_t handle(const Chain& c, uint32_t& written);
    uint8_t read_write(const Chain& c, bool in, uint64_t sector, uint32_t& written);
    uint8_t discard_or_zero(const Chain& c, bool discard);
    uint8_t get_id(const Chain& c, uint32_t& written);
    uint8_t count(uint8_t status);

    block::BlockDevice* disk_;
    unsigned queues_;
    char serial_[blk_id_bytes] = {};
    Stats stats_;
    Chain chain_;
};

}  // namespace vmm::virtio
