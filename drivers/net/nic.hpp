// What a network-card driver offers Dom0: its MAC, the link, transmit of
// one plain Ethernet frame (copied into the driver's DMA buffers, so the
// caller's memory is free at return) and receive by polling, each frame
// handed to a callback while its buffer is still the driver's, with what
// the card checked of it. vmm/hostdev makes a NIC the bridge's uplink port.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/result.hpp"

namespace drivers {

struct NicStats {
    uint64_t rx_packets = 0, rx_bytes = 0, rx_errors = 0;
    uint64_t tx_packets = 0, tx_bytes = 0, tx_busy = 0;
};

// A received frame's flags: the card verified its TCP or UDP checksum (and,
// for IPv4, the header checksum), so that the guests it goes to need not
// (virtio-net's DATA_VALID).
inline constexpr uint32_t rx_checksum_verified = 1u << 0;

class Nic {
public:
    using Receive = void (*)(void* ctx, const uint8_t* frame, size_t len, uint32_t flags);

    virtual const uint8_t* mac() const = 0;
    virtual bool link_up() = 0;
    // The largest frame transmit() takes (no FCS).
    virtual size_t max_frame() const = 0;
    // `busy` when every transmit buffer is in flight (poll, then retry);
    // `invalid` for a frame shorter than an Ethernet header or over max_frame.
    virtual lib::Status transmit(const void* frame, size_t len) = 0;
    // Hands received frames to rx, gives their buffers back to the device
    // and reclaims finished transmits; the number of frames received.
    virtual unsigned poll(Receive rx, void* ctx) = 0;
    // The platform event the card's interrupt raises (its MSI), or ~0u when
    // it must be polled.
    virtual uint32_t event() const = 0;
    virtual const NicStats& stats() const = 0;

protected:
    ~Nic() = default;
};

}  // namespace drivers
