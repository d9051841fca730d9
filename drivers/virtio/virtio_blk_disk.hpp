// A virtio-blk disk (virtio 1.x section 5.2) as a BlockDevice: the nested
// QEMU host's `-device virtio-blk-pci`, or any virtio 1.x block device.
// One request queue; each request is a chain of header (device-readable),
// data and status byte (device-writable), with header and status in a
// per-slot DMA area so that nothing is allocated per request.
#pragma once

#include <cstdint>

#include "drivers/block/block_device.hpp"
#include "drivers/pci/pci_function.hpp"
#include "drivers/virtio/split_queue.hpp"
#include "drivers/virtio/virtio_pci_device.hpp"

namespace drivers::virtio {

class VirtioBlkDisk final : public BlockDevice {
public:
    lib::Status init(pci::Function& fn, DevicePlatform& p);

    const BlockInfo& info() const override { return info_; }
    lib::Status submit(BlockRequest& r) override;
    unsigned poll() override;
    unsigned wait(uint64_t timeout_ns) override;
    unsigned outstanding() const override { return outstanding_; }
    bool broken() const { return queue_.broken(); }

private:
    static constexpr unsigned max_slots = 32;
    struct SlotDma {  // what the device reads and writes besides the data
        uint32_t type;
        uint32_t reserved;
        uint64_t sector;
        uint8_t status;
        uint8_t pad[15];
    };
    static_assert(sizeof(SlotDma) == 32);
    static_assert(__builtin_offsetof(SlotDma, status) == 16);

    lib::Status read_serial();

    DevicePlatform* platform_ = nullptr;
    VirtioPciDevice dev_;
    SplitQueue queue_;
    BlockInfo info_;
    DmaBuffer slots_dma_{};
    BlockRequest* in_flight_[SplitQueue::max_size] = {};  // by chain head
    uint16_t slot_of_head_[SplitQueue::max_size] = {};
    uint32_t free_slots_ = 0;  // bitmap
    unsigned outstanding_ = 0;
    uint32_t event_ = 0;
    uint64_t last_progress_ns_ = 0;
    bool stall_reported_ = false;
    bool have_event_ = false;
};

}  // namespace drivers::virtio
