#include "drivers/virtio/virtio_net_nic.hpp"

namespace drivers::virtio {
namespace {

constexpr uint64_t f_mac = 1ull << 5, f_status = 1ull << 16;
constexpr uint32_t cfg_mac = 0, cfg_status = 6;
constexpr uint16_t link_up_bit = 1;

}  // namespace

lib::Status VirtioNetNic::init(pci::Function& fn, DevicePlatform& p)
{
    if (VirtioPciDevice::device_type(fn) != 1) return lib::Error::unsupported;
    TRY(dev_.init(fn, p));
    uint64_t features = TRY(dev_.negotiate(f_mac | f_status));
    have_status_ = features & f_status;
    // One MSI-X vector for both queues: the uplink is polled as a whole.
    uint16_t vector = no_vector;
    if (auto msi = p.bind_msi(); msi && fn.enable_msix(p, &*msi, 1).ok()) {
        vector = 0;
        have_event_ = true;
        event_ = msi->event;
    }
    dev_.set_config_vector(no_vector);
    lib::Status s = dev_.setup_queue(0, rxq_, buffers, vector);
    if (s.ok()) s = dev_.setup_queue(1, txq_, buffers, vector);
    if (s.ok()) {
        auto rx = p.alloc_dma(buffers * slot_bytes);
        auto tx = p.alloc_dma(buffers * slot_bytes);
        if (!rx || !tx) s = lib::Error::no_memory;
        else {
            rx_dma_ = *rx;
            tx_dma_ = *tx;
        }
    }
    if (!s.ok()) {
        dev_.set_failed();
        return s;
    }
    if (features & f_mac)
        for (unsigned i = 0; i < 6; ++i) mac_[i] = dev_.config8(cfg_mac + i);
    unsigned tx_slots = txq_.size() / 2 < buffers ? txq_.size() / 2 : buffers;
    tx_free_ = tx_slots >= 64 ? ~0ull : (1ull << tx_slots) - 1;
    dev_.set_driver_ok();
    for (unsigned i = 0; i < rxq_.size() && i < buffers; ++i) post_rx(i);
    if (rxq_.needs_notify()) dev_.notify(0);
    return {};
}

void VirtioNetNic::post_rx(unsigned slot)
{
    SplitQueue::Segment seg{rx_dma_.bus + uint64_t(slot) * slot_bytes, slot_bytes, true};
    if (auto head = rxq_.add(&seg, 1)) rx_slot_of_head_[*head] = uint16_t(slot);
}

bool VirtioNetNic::link_up()
{
    if (!have_status_) return true;  // without the status feature the link is always up (5.1.4)
    return dev_.config16(cfg_status) & link_up_bit;
}

lib::Status VirtioNetNic::transmit(const void* frame, size_t len)
{
    if (len < 14 || len > max_frame()) return lib::Error::invalid;
    if (broken()) return lib::Error::io;
    if (!tx_free_) {
        ++stats_.tx_busy;
        return lib::Error::busy;
    }
    unsigned slot = unsigned(__builtin_ctzll(tx_free_));
    uint8_t* buf = tx_slot(slot);
    __builtin_memset(buf, 0, hdr_bytes);  // no checksum to complete, no GSO
    __builtin_memcpy(buf + hdr_bytes, frame, len);
    SplitQueue::Segment seg{tx_dma_.bus + uint64_t(slot) * slot_bytes, uint32_t(hdr_bytes + len), false};
    auto head = txq_.add(&seg, 1);
    if (!head) return head.error();
    tx_free_ &= ~(1ull << slot);
    tx_slot_of_head_[*head] = uint16_t(slot);
    ++stats_.tx_packets;
    stats_.tx_bytes += len;
    if (txq_.needs_notify()) dev_.notify(1);
    return {};
}

unsigned VirtioNetNic::poll(Receive rx, void* ctx)
{
    SplitQueue::Used u{};
    while (txq_.take_used(u)) tx_free_ |= 1ull << tx_slot_of_head_[u.head];
    unsigned n = 0, reposted = 0;
    while (rxq_.take_used(u)) {
        unsigned slot = rx_slot_of_head_[u.head];
        // A length the buffer cannot hold is the device's error: drop it.
        if (u.len < hdr_bytes + 14 || u.len > slot_bytes) {
            ++stats_.rx_errors;
        } else {
            ++n;
            ++stats_.rx_packets;
            stats_.rx_bytes += u.len - hdr_bytes;
            if (rx) rx(ctx, rx_slot(slot) + hdr_bytes, u.len - hdr_bytes, 0);  // no GUEST_CSUM negotiated
        }
        post_rx(slot);
        ++reposted;
    }
    if (reposted && rxq_.needs_notify()) dev_.notify(0);
    return n;
}

}  // namespace drivers::virtio
