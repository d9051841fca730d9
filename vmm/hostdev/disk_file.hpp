// A physical disk as a File (vmm/block/file.hpp), so that the image formats
// and partitions sit on it: byte-addressed requests become sector requests
// of the driver (drivers/block/block_device.hpp) through one DMA bounce
// buffer, with read-modify-write for the partial sectors at either end.
//
// Requests complete before submit() returns: the caller (a virtio-blk queue
// of Dom0's device-model thread, or xl opening an image) waits for the
// device meanwhile, at queue depth 1. A DiskGate serialises the threads that
// share the disk. A device that does not answer within the timeout fails the
// request with an I/O error; nothing hangs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "drivers/block/block_device.hpp"
#include "drivers/platform/device_platform.hpp"
#include "vmm/block/file.hpp"

namespace vmm::hostdev {

class DiskGate {
public:
    virtual void enter() = 0;
    virtual void leave() = 0;

protected:
    ~DiskGate() = default;
};

class DiskFile final : public block::File {
public:
    static constexpr uint64_t default_timeout_ns = 30'000'000'000ull;

    // bounce: DMA memory of at least one sector (a multiple of the sector
    // size is used). gate may be null (one thread).
    DiskFile(drivers::BlockDevice& dev, drivers::DevicePlatform& p, drivers::DmaBuffer bounce, DiskGate* gate,
             uint64_t timeout_ns = default_timeout_ns);

    void submit(block::FileRequest& r) override;
    void wait() override {}
    uint64_t size() const override { return size_; }
    bool writable() const override { return dev_.info().writable; }

    // Requests sent to the device, for tests and statistics.
    uint64_t device_requests() const { return device_requests_; }

private:
    lib::Status transfer(block::FileRequest& r);
    // One device request on [lba, lba + sectors) through the bounce buffer.
    lib::Status run(drivers::BlockOp op, uint64_t lba, uint32_t sectors);

    drivers::BlockDevice& dev_;
    drivers::DevicePlatform& platform_;
    drivers::DmaBuffer bounce_;
    DiskGate* gate_;
    uint64_t timeout_ns_;
    uint64_t size_;
    uint32_t sector_;
    uint32_t chunk_sectors_;  // per device request
    uint64_t device_requests_ = 0;
};

}  // namespace vmm::hostdev
