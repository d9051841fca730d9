// A virtio-net card (virtio 1.x section 5.1) as Dom0's uplink NIC: the
// nested QEMU host's `-device virtio-net-pci`. One receive and one transmit
// queue, each buffer a fixed 2 KiB slot of one DMA area with the 12-byte
// virtio_net_hdr in front of the frame; no offloads are negotiated (the
// bridge's uplink completes checksums and segments in software before
// transmit), so every frame is a plain one of at most 1514 bytes.
#pragma once

#include <cstdint>

#include "drivers/net/nic.hpp"
#include "drivers/pci/pci_function.hpp"
#include "drivers/virtio/split_queue.hpp"
#include "drivers/virtio/virtio_pci_device.hpp"

namespace drivers::virtio {

class VirtioNetNic final : public Nic {
public:
    lib::Status init(pci::Function& fn, DevicePlatform& p);

    const uint8_t* mac() const override { return mac_; }
    bool link_up() override;
    size_t max_frame() const override { return 1518; }  // with one VLAN tag
    lib::Status transmit(const void* frame, size_t len) override;
    unsigned poll(Receive rx, void* ctx) override;
    uint32_t event() const override { return have_event_ ? event_ : ~0u; }
    const NicStats& stats() const override { return stats_; }
    bool broken() const { return rxq_.broken() || txq_.broken(); }

private:
    static constexpr unsigned buffers = 64;  // per queue
    static constexpr uint32_t slot_bytes = 2048;
    static constexpr uint32_t hdr_bytes = 12;  // virtio_net_hdr with num_buffers (VERSION_1)
    void post_rx(unsigned slot);
    uint8_t* rx_slot(unsigned i) { return static_cast<uint8_t*>(rx_dma_.va) + i * slot_bytes; }
    uint8_t* tx_slot(unsigned i) { return static_cast<uint8_t*>(tx_dma_.va) + i * slot_bytes; }

    VirtioPciDevice dev_;
    SplitQueue rxq_, txq_;
    DmaBuffer rx_dma_{}, tx_dma_{};
    uint16_t rx_slot_of_head_[SplitQueue::max_size] = {};
    uint16_t tx_slot_of_head_[SplitQueue::max_size] = {};
    uint64_t tx_free_ = 0;  // bitmap of free transmit slots
    uint8_t mac_[6] = {};
    bool have_status_ = false;
    bool have_event_ = false;
    uint32_t event_ = 0;
    NicStats stats_;
};

}  // namespace drivers::virtio
