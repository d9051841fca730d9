// PCI hotplug into a running Linux domain: xl block-attach / block-detach
// and network-attach / network-detach. Attaching builds the backend and
// hot-plugs its virtio function (PcPlatform::hotplug_virtio: the guest's
// acpiphp gets a device check for the slot and probes it). Detaching only
// asks (an eject request); the guest's driver lets go of the device, its
// _EJ0 writes the eject register, and then, on the device-model thread,
// the function and its backend are freed (finish_ejects). A guest that
// never ejects keeps the device; it stays listed, in state 5 (closing).
// Everything here runs under the registry's lock, as the device models do.
// Dom0 only.
#include <new>

#include "lib/format.hpp"
#include "lib/log.hpp"
#include "vmm/control/domains.hpp"
#include "vmm/hostdev/host_devices.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {

using hv::abi::Status;

Status Domains::attach_disk(uint32_t id, const DiskConfig& d, xl::Output& out)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return Status::not_found;
    if (!g->pc) return Status::unsupported;
    if (!g->disks) {
        void* dm = heap().allocate(sizeof(DomainDisks), alignof(DomainDisks));
        if (!dm) {
            out.print("xl: out of memory in Dom0\n");
            return Status::no_memory;
        }
        g->disks = new (dm) DomainDisks(*files_, heap(), &hostdev::host_disks());
    }
    if (auto s = g->disks->hot_attach(d, g->cfg.vcpus, *g->pc, out); !s.ok())
        return s.error() == lib::Error::exists ? Status::exists : Status::invalid;
    LOG_INFO("domain %u: disk %s (%s) hot-plugged at 00:%02x.0", g->id, d.vdev, d.target,
             DomainDisks::first_slot + g->disks->disk(g->disks->count() - 1).index);
    return Status::ok;
}

Status Domains::find_disk(uint32_t id, uint32_t devid, GuestDomain*& g, size_t& i)
{
    g = by_id(id);
    if (!g) return Status::not_found;
    if (!g->pc) return Status::unsupported;
    const int found = g->disks ? g->disks->find(devid) : -1;
    if (found < 0) return Status::not_found;
    i = size_t(found);
    return Status::ok;
}

Status Domains::detach_disk(uint32_t id, uint32_t devid)
{
    LockGuard l(lock_);
    GuestDomain* g;
    size_t i;
    if (Status s = find_disk(id, devid, g, i); s != Status::ok) return s;
    if (!g->pc->request_eject(g->disks->disk(i).slot).ok()) return Status::invalid;
    LOG_INFO("domain %u: asked to eject disk %s", g->id, g->disks->disk(i).vdev);
    return Status::ok;
}

Status Domains::pull_disk(uint32_t id, uint32_t devid)
{
    LockGuard l(lock_);
    GuestDomain* g;
    size_t i;
    if (Status s = find_disk(id, devid, g, i); s != Status::ok) return s;
    // The function goes first, so that no doorbell or register access
    // reaches the backend once it is closed.
    if (!g->pc->pull_virtio(g->disks->disk(i).slot).ok()) return Status::invalid;
    LOG_WARN("domain %u: disk %s pulled out without the guest's eject (xl block-detach -f)", g->id,
             g->disks->disk(i).vdev);
    close_disk_bells(*g, i);
    g->disks->remove(i);
    return Status::ok;
}

bool Domains::disk_present(uint32_t id, uint32_t devid)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    return g && g->disks && g->disks->find(devid) >= 0;
}

Status Domains::attach_vif(uint32_t id, const VifConfig& v, xl::Output& out, uint32_t* devid)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return Status::not_found;
    if (!g->pc) return Status::unsupported;
    unsigned d = 0;
    while (d < xl_max_vifs && g->vifs[d]) ++d;
    if (d == xl_max_vifs) {
        out.print("xl: network-attach: domain %u has no free PCI slot for a vif (it has %zu, the most it can have)\n",
                  id, xl_max_vifs);
        return Status::no_memory;
    }
    char label[32];
    lib::format(label, sizeof label, "network-attach: vif %u", d);
    if (auto s = add_vif(*g, v, d, true, label, out); !s.ok())
        return s.error() == lib::Error::exists ? Status::exists : Status::invalid;
    if (devid) *devid = d;
    return Status::ok;
}

Status Domains::detach_vif(uint32_t id, uint32_t devid, const uint8_t* mac, uint32_t* found)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return Status::not_found;
    if (!g->pc) return Status::unsupported;
    unsigned d = xl_max_vifs;
    for (unsigned i = 0; i < g->vif_count; ++i) {
        if (!g->vifs[i]) continue;
        if (mac ? __builtin_memcmp(g->vifs[i]->net().mac(), mac, 6) == 0 : i == devid) d = i;
    }
    if (d == xl_max_vifs) return Status::not_found;
    if (!g->pc->request_eject(g->vifs[d]->slot()).ok()) return Status::invalid;
    if (found) *found = d;
    LOG_INFO("domain %u: asked to eject vif %u", g->id, d);
    return Status::ok;
}

bool Domains::vif_present(uint32_t id, uint32_t devid)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    return g && devid < xl_max_vifs && g->vifs[devid];
}

void Domains::finish_ejects(GuestDomain& g, uint32_t slots)
{
    for (unsigned slot = 0; slot < 32; ++slot) {
        if (!(slots >> slot & 1)) continue;
        bool known = false;
        for (unsigned d = 0; d < g.vif_count; ++d)
            if (g.vifs[d] && g.vifs[d]->slot() == slot) {
                LOG_INFO("domain %u: vif %u ejected by the guest; its backend is gone", g.id, d);
                drop_vif(g, d);
                known = true;
            }
        for (size_t i = 0; g.disks && i < g.disks->count(); ++i)
            if (g.disks->disk(i).slot == slot) {
                LOG_INFO("domain %u: disk %s ejected by the guest; its backend is gone", g.id, g.disks->disk(i).vdev);
                close_disk_bells(g, i);
                g.disks->remove(i);
                known = true;
                break;
            }
        if (!known) LOG_WARN("domain %u: the guest ejected PCI slot %u, which held no disk or vif", g.id, slot);
    }
}

}  // namespace vmm
