// One vif as a Linux domain sees it: a virtio-net device (vmm/virtio/
// virtio_net) that Dom0 builds per vif= entry and attaches to the domain's
// PcPlatform (attach_virtio: its own virtio-pci function with MSI-X); the
// device is a port of a bridge (xenbr0). Portable.
#pragma once

#include <cstdint>

#include "vmm/virtio/virtio_net.hpp"

namespace vmm::platform {

// vif i is at 00:(first_vif_slot + i).0, clear of the console (00:01.0)
// and of the disks (00:10.0 on).
inline constexpr unsigned first_vif_slot = 8;

class NetFunction {
public:
    NetFunction(const uint8_t mac[6], unsigned slot, unsigned queue_pairs) : net_(mac, queue_pairs), slot_(slot) {}
    NetFunction(const NetFunction&) = delete;
    NetFunction& operator=(const NetFunction&) = delete;

    virtio::VirtioNet& net() { return net_; }
    unsigned slot() const { return slot_; }

    // The doorbell fast path: bell[q] is the event port Dom0 bound to data
    // queue q's notify register (ioevent_bind_mmio), 0 where the write is
    // forwarded to Dom0 as MMIO instead (docs/network.md).
    static constexpr unsigned max_bells = 2 * 4;
    uint32_t bell[max_bells] = {};
    // Whether the vif wants them (ioevent in its spec), and the notify
    // address they are bound at (0: none bound); they follow BAR4 when
    // the guest moves it (Domains::follow_vif_bells).
    bool bells_wanted = false;
    unsigned bell_queues = 0;
    uint64_t bells_at = 0;

private:
    virtio::VirtioNet net_;
    unsigned slot_;
};

}  // namespace vmm::platform
