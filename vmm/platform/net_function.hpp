// One vif as a Linux domain sees it: a virtio-net device (vmm/virtio/
// virtio_net) behind its own virtio-pci function on the domain's PCI bus,
// with MSI-X (and INTx on GSI 16 + slot % 8 as the platform routes it).
// Dom0 builds one per vif= entry and plugs it into the PcPlatform; the
// device is a port of a bridge (xenbr0). Portable.
#pragma once

#include <cstdint>

#include "vmm/platform/pc_platform.hpp"
#include "vmm/virtio/virtio_net.hpp"
#include "vmm/virtio/virtio_pci.hpp"

namespace vmm::platform {

// vif i is at 00:(first_vif_slot + i).0, clear of the console (00:01.0)
// and of the slots other devices take from 2 on.
inline constexpr unsigned first_vif_slot = 8;

class NetFunction {
public:
    NetFunction(PcPlatform& pc, const uint8_t mac[6], unsigned slot, unsigned queue_pairs)
        : net_(mac, queue_pairs), irq_(pc.host(), 16 + (slot & 7)), pci_(net_, pc.ram(), irq_), slot_(slot)
    {
    }
    NetFunction(const NetFunction&) = delete;
    NetFunction& operator=(const NetFunction&) = delete;

    virtio::VirtioNet& net() { return net_; }
    virtio::VirtioPci& pci() { return pci_; }
    unsigned slot() const { return slot_; }

private:
    class Irq final : public pci::IrqSink {
    public:
        Irq(PlatformHost& host, unsigned gsi) : host_(host), gsi_(gsi) {}
        void msi(uint64_t address, uint32_t data) override { host_.msi(address, data); }
        void intx(bool level) override { host_.irq_line(gsi_, level); }

    private:
        PlatformHost& host_;
        unsigned gsi_;
    };

    virtio::VirtioNet net_;
    Irq irq_;
    virtio::VirtioPci pci_;
    unsigned slot_;
};

}  // namespace vmm::platform
