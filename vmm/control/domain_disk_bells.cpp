// The doorbell fast path for disks, as for vifs (domain_vifs.cpp): a
// virtio-blk request queue's notify write is an ioevent, which hv decodes
// and turns into a Dom0 event port without making the vCPU wait for Dom0;
// ring_disks() then runs that queue from handle_events(). The guest's vCPU
// goes on at once instead of waiting for the device model to serve the
// request. The bindings follow BAR4: made where it decodes, moved when the
// guest moves it, dropped while decoding is off (follow_bells); a
// hot-plugged disk gets them once the guest has assigned its BAR. Queues
// whose binding fails and a disk with ioevent=0 in its spec stay on the
// forwarded-MMIO path. Dom0 only.
#include "lib/log.hpp"
#include "vmm/control/domains.hpp"
#include "vmm/rt/events.hpp"
#include "vmm/rt/hypercall.hpp"

namespace vmm {

void Domains::follow_disk_bells(GuestDomain& g)
{
    for (size_t i = 0; g.disks && g.pc && i < g.disks->count(); ++i) {
        DomainDisks::Disk& d = g.disks->disk(i);
        if (!d.ioevent) continue;
        const uint64_t notify = g.pc->notify_address(d.slot);
        if (notify == d.bells_at) continue;
        close_disk_bells(g, i);
        d.bells_at = notify;
        if (!notify) continue;
        for (unsigned q = 0; q < d.blk->num_queues() && q < DomainDisks::max_queues; ++q) {
            auto p = hc::ioevent_bind_mmio(g.handle, notify + q * virtio::VirtioPci::notify_multiplier);
            if (p.ok()) d.bell[q] = uint32_t(p.value);
            else LOG_WARN("disk %s at 00:%02x.0: queue %u notify stays forwarded (ioevent_bind_mmio: %s)", d.vdev,
                          d.slot, q, hv::abi::status_name(p.status));
        }
    }
}

void Domains::ring_disks(GuestDomain& g)
{
    for (size_t i = 0; g.disks && g.pc && i < g.disks->count(); ++i) {
        DomainDisks::Disk& d = g.disks->disk(i);
        virtio::VirtioPci* pci = nullptr;
        for (unsigned q = 0; q < DomainDisks::max_queues; ++q) {
            if (!d.bell[q] || !events().take(d.bell[q])) continue;
            if (!pci) pci = g.pc->virtio_function(d.slot);
            if (pci) pci->notify(q);
        }
    }
}

// Closing a port also unbinds its address in hv.
void Domains::close_disk_bells(GuestDomain& g, size_t i)
{
    if (!g.disks || i >= g.disks->count()) return;
    for (uint32_t& port : g.disks->disk(i).bell)
        if (port) {
            (void)hc::evtchn_close(port);
            port = 0;
        }
}

}  // namespace vmm
