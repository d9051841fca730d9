// The bridge's uplink: a port of Dom0's bridge whose far side is a physical
// NIC (drivers/net/nic.hpp), so guests reach the world outside the host.
// Frames from the guests may carry virtio offloads (a checksum left to
// complete, a TCP frame of up to 64 KiB to segment): the wire takes only
// plain frames, so the uplink completes checksums and segments in software
// (vmm/net/tso, vmm/net/checksum), one copy into the NIC's buffers per
// frame. Received frames go into the bridge as they arrive, with no offload
// state (the guest verifies their checksums). Portable, host-tested; the
// device-model thread drives it under the bridge's lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "drivers/net/nic.hpp"
#include "lib/result.hpp"
#include "vmm/net/bridge.hpp"

namespace vmm::hostdev {

class Uplink final : public net::BridgePort {
public:
    constexpr Uplink() = default;  // a constinit global in Dom0 (no static constructors run there)
    // Attaches the NIC to the bridge as port `name` (the NIC's Linux-like
    // name, eth0).
    lib::Status attach(drivers::Nic& nic, net::Bridge& bridge, const char* name);
    bool attached() const { return nic_ != nullptr; }
    unsigned port() const { return port_; }
    drivers::Nic* nic() const { return nic_; }

    Delivery deliver(const net::Frame& f) override;
    // Frames from the wire into the bridge; how many.
    unsigned poll(uint64_t now_ns);

    // Frames the uplink could not send: the NIC's buffers were full, or a
    // GSO frame whose headers did not parse.
    uint64_t tx_dropped() const { return tx_dropped_; }
    uint64_t segmented() const { return segmented_; }

private:
    static void received(void* ctx, const uint8_t* frame, size_t len, uint32_t flags);
    bool send(uint8_t* buf, size_t len, const net::Offload& off);

    drivers::Nic* nic_ = nullptr;
    net::Bridge* bridge_ = nullptr;
    unsigned port_ = 0;
    uint64_t now_ = 0;
    uint64_t tx_dropped_ = 0, segmented_ = 0;
    uint8_t buf_[net::max_plain_frame + 4] = {};
};

}  // namespace vmm::hostdev
