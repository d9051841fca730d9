// vif=: each entry of a Linux domain's vif list becomes a virtio-net
// function on its PCI bus (00:08.0 for the first) and a port of xenbr0,
// Dom0's one bridge, which joins the vifs of all domains. Frames between
// guests are switched here, on the device-model thread, under the
// registry's lock: a guest's transmit kick (a forwarded MMIO write) runs
// its transmit queue, the bridge copies each frame into the receive
// buffers of the guest(s) it is for and raises their MSI-X interrupts.
// With the doorbell fast path (the default; ioevent=0 in the vif spec
// turns it off) a data queue's notify write is an ioevent instead: hv
// decodes it and raises a Dom0 port without making the vCPU wait, and
// ring_vifs() runs that queue when the port comes up in handle_events().
// Dom0 only.
#include <new>

#include "lib/format.hpp"
#include "lib/log.hpp"
#include "vmm/control/domains.hpp"
#include "vmm/hostdev/uplink.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/rt/events.hpp"
#include "vmm/rt/hypercall.hpp"
#include "vmm/rt/runtime.hpp"

namespace vmm {
namespace {

constinit net::Bridge xenbr0{xl_default_bridge};

uint64_t bridge_clock(void*) { return hc::clock_ns(); }
constinit hostdev::Uplink uplink;

bool mac_in_use(GuestDomain* const* slots, size_t n, const GuestDomain& g, const uint8_t* mac)
{
    for (size_t d = 0; d < n; ++d) {
        const GuestDomain* o = slots[d];
        if (!o) continue;
        for (size_t i = 0; i < o->vif_count; ++i)
            if (o->vifs[i] && net::mac_equal(o->vifs[i]->net().mac(), mac)) return true;
    }
    for (size_t i = 0; i < g.vif_count; ++i)
        if (g.vifs[i] && net::mac_equal(g.vifs[i]->net().mac(), mac)) return true;
    return false;
}

// Binds each data queue's notify register (queue q at notify + 4q, where
// BAR4 decodes now) to an event port. A queue whose binding fails, and the
// control queue, stay on the forwarded-MMIO path.
void bind_doorbells(uint32_t domain, platform::NetFunction& fn, uint64_t notify, unsigned pairs)
{
    for (unsigned q = 0; q < 2 * pairs && q < platform::NetFunction::max_bells; ++q) {
        auto p = hc::ioevent_bind_mmio(domain, notify + q * virtio::VirtioPci::notify_multiplier);
        if (p.ok()) fn.bell[q] = uint32_t(p.value);
        else LOG_WARN("vif at 00:%02x.0: queue %u notify stays forwarded (ioevent_bind_mmio: %s)", fn.slot(), q,
                      hv::abi::status_name(p.status));
    }
}

// Closing a doorbell's port also unbinds its address in hv.
void close_doorbells(platform::NetFunction& fn)
{
    for (uint32_t& port : fn.bell)
        if (port) {
            (void)hc::evtchn_close(port);
            port = 0;
        }
}

}  // namespace

void Domains::follow_vif_bells(GuestDomain& g)
{
    for (size_t i = 0; g.pc && i < g.vif_count; ++i) {
        platform::NetFunction* fn = g.vifs[i];
        if (!fn || !fn->bells_wanted) continue;
        const uint64_t notify = g.pc->notify_address(fn->slot());
        if (notify == fn->bells_at) continue;
        close_doorbells(*fn);
        fn->bells_at = notify;
        if (notify) bind_doorbells(g.handle, *fn, notify, fn->bell_queues);
    }
}

void Domains::follow_bells(GuestDomain& g)
{
    follow_vif_bells(g);
    follow_disk_bells(g);
}

void Domains::ring_vifs(GuestDomain& g)
{
    for (size_t i = 0; i < g.vif_count; ++i) {
        platform::NetFunction* fn = g.vifs[i];
        if (!fn) continue;
        virtio::VirtioPci* pci = nullptr;
        for (unsigned q = 0; q < platform::NetFunction::max_bells; ++q) {
            if (!fn->bell[q] || !events().take(fn->bell[q])) continue;
            if (!pci) pci = g.pc ? g.pc->virtio_function(fn->slot()) : nullptr;
            if (pci) pci->notify(q);
        }
    }
}

lib::Status Domains::attach_vifs(GuestDomain& g, xl::Output& out)
{
    const DomainConfig& c = g.cfg;
    for (size_t i = 0; i < c.vif_count; ++i) {
        char label[16];
        lib::format(label, sizeof label, "vif %zu", i);
        LockGuard l(lock_);
        TRY(add_vif(g, c.vifs[i], unsigned(i), false, label, out));
    }
    return {};
}

lib::Status Domains::add_vif(GuestDomain& g, const VifConfig& v, unsigned devid, bool hot, const char* label,
                             xl::Output& out)
{
    const DomainConfig& c = g.cfg;
    // What this Dom0 can give: one bridge, backends in Dom0 itself,
    // virtio-net whatever model= says.
    if (v.bridge[0] && lib::StrView(v.bridge) != xl_default_bridge) {
        out.print("xl: %s: bridge '%s' does not exist (Dom0 has one bridge, %s)\n", label, v.bridge,
                  xl_default_bridge);
        return lib::err(lib::Error::not_found);
    }
    if (v.backend[0] && lib::StrView(v.backend) != "0" && lib::StrView(v.backend) != "Domain-0") {
        out.print("xl: %s: backend '%s': only Domain-0 runs network backends\n", label, v.backend);
        return lib::err(lib::Error::unsupported);
    }
    const lib::StrView model(v.model);
    if (!model.empty() && model != "virtio" && model != "virtio-net")
        out.print("xl: warning: %s: model=%s is not emulated; the domain gets a virtio-net device\n", label, v.model);
    if (v.script[0]) out.print("xl: warning: %s: script=%s is not run (Dom0 has no hotplug scripts)\n", label, v.script);
    uint8_t mac[6];
    if (v.has_mac) {
        __builtin_memcpy(mac, v.mac, 6);
        if (mac_in_use(slots_, max_domains, g, mac)) {
            out.print("xl: %s: MAC address %02x:%02x:%02x:%02x:%02x:%02x is already in use on %s\n", label, mac[0],
                      mac[1], mac[2], mac[3], mac[4], mac[5], xl_default_bridge);
            return lib::err(lib::Error::exists);
        }
    } else {
        unsigned attempt = 0;
        do default_vif_mac(lib::StrView(c.name), devid, mac, attempt++);
        while (mac_in_use(slots_, max_domains, g, mac) && attempt < 16);
    }
    const unsigned slot = platform::first_vif_slot + devid;
    const unsigned pairs = c.vcpus < 4 ? c.vcpus : 4;  // one queue pair per vCPU, up to 4
    void* mem = heap().allocate(sizeof(platform::NetFunction), alignof(platform::NetFunction));
    if (!mem) {
        out.print("xl: %s: out of memory in Dom0\n", label);
        return lib::err(lib::Error::no_memory);
    }
    auto* fn = new (mem) platform::NetFunction(mac, slot, pairs);
    fn->net().set_event_idx_offered(v.event_idx);
    g.vifs[devid] = fn;
    g.vif_ports[devid] = net::Bridge::max_ports;  // no port yet
    if (devid >= g.vif_count) g.vif_count = devid + 1;
    // The port first: a hot-plugged function is live for the guest at once.
    char name[32];
    if (v.vifname[0]) lib::copy_cstr(name, sizeof name, v.vifname);
    else lib::format(name, sizeof name, "vif%u.%u", g.id, devid);
    auto port = xenbr0.attach(fn->net(), name);
    if (!port) {
        out.print("xl: %s: %s has no free port\n", label, xenbr0.name());
        if (hot) drop_vif(g, devid);
        return lib::err(port.error());
    }
    g.vif_ports[devid] = *port;
    fn->net().connect(&xenbr0, *port, bridge_clock, nullptr);
    auto s = hot ? g.pc->hotplug_virtio(fn->net(), slot, heap()) : g.pc->attach_virtio(fn->net(), slot, heap());
    if (!s.ok()) {
        out.print("xl: %s: cannot plug it into PCI slot %u: %s\n", label, slot, lib::error_name(s.error()));
        if (hot) drop_vif(g, devid);
        return s;
    }
    // The doorbells go where BAR4 decodes: at once for a function the
    // platform placed, once the guest has assigned it for a hot-plugged one.
    fn->bells_wanted = v.ioevent;
    fn->bell_queues = pairs;
    follow_vif_bells(g);
    LOG_INFO("domain %u: vif %u %02x:%02x:%02x:%02x:%02x:%02x at 00:%02x.0 on %s port %u (%s)%s", g.id, devid, mac[0],
             mac[1], mac[2], mac[3], mac[4], mac[5], slot, xenbr0.name(), *port, name, hot ? ", hot-plugged" : "");
    return {};
}

void Domains::drop_vif(GuestDomain& g, unsigned devid)
{
    platform::NetFunction* fn = devid < xl_max_vifs ? g.vifs[devid] : nullptr;
    if (!fn) return;
    fn->net().connect(nullptr, 0, nullptr, nullptr);
    close_doorbells(*fn);
    const unsigned p = g.vif_ports[devid];
    if (p < net::Bridge::max_ports && xenbr0.attached(p)) xenbr0.detach(p);
    fn->~NetFunction();
    heap().deallocate(fn, sizeof(platform::NetFunction));
    g.vifs[devid] = nullptr;
    g.vif_ports[devid] = net::Bridge::max_ports;
    while (g.vif_count && !g.vifs[g.vif_count - 1]) --g.vif_count;
}

void Domains::detach_vifs(GuestDomain& g)
{
    // The bridge is used under lock_ by the device-model thread. Callers
    // that hold lock_ (forget() at the end of destroy()) come after the vifs
    // are gone: nothing to detach, no lock taken.
    if (g.vif_count == 0) return;
    LockGuard l(lock_);
    for (size_t i = 0; i < g.vif_count; ++i) {
        if (!g.vifs[i]) continue;
        g.vifs[i]->net().connect(nullptr, 0, nullptr, nullptr);
        close_doorbells(*g.vifs[i]);
        const unsigned p = g.vif_ports[i];
        if (p < net::Bridge::max_ports && xenbr0.attached(p)) xenbr0.detach(p);
    }
}

size_t Domains::network(uint32_t id, xl::VifRow* rows, size_t cap)
{
    LockGuard l(lock_);
    GuestDomain* g = by_id(id);
    if (!g) return 0;
    size_t n = 0;
    for (size_t i = 0; i < g->vif_count && n < cap; ++i) {
        if (!g->vifs[i]) continue;
        platform::NetFunction& fn = *g->vifs[i];
        xl::VifRow& r = rows[n++];
        r = xl::VifRow{};
        r.idx = uint32_t(i);
        r.backend = 0;
        __builtin_memcpy(r.mac, fn.net().mac(), 6);
        const virtio::VirtioPci* pci = g->pc ? g->pc->virtio_function(fn.slot()) : nullptr;
        const uint8_t st = pci ? pci->device_status() : 0;
        r.state = g->pc && g->pc->eject_pending(fn.slot())                                  ? 5
                  : (st & (virtio::status::device_needs_reset | virtio::status::failed)) ? 6
                  : (st & virtio::status::driver_ok)                                      ? 4
                                                                                          : 1;
        r.pci_slot = uint8_t(fn.slot());
        lib::copy_cstr(r.bridge, sizeof r.bridge, xenbr0.name());
        const unsigned p = g->vif_ports[i];
        lib::copy_cstr(r.vifname, sizeof r.vifname, xenbr0.port_name(p));
        // The bridge counts from its side: what it delivered to the port is
        // what the guest received.
        const net::PortStats& s = xenbr0.stats(p);
        r.rx_packets = s.tx_packets;
        r.rx_bytes = s.tx_bytes;
        r.rx_dropped = s.tx_dropped;
        r.tx_packets = s.rx_packets;
        r.tx_bytes = s.rx_bytes;
        r.tx_dropped = s.rx_dropped + fn.net().stats().tx_malformed;
    }
    return n;
}

bool Domains::attach_uplink(drivers::Nic& nic, xl::Output& out)
{
    LockGuard l(lock_);
    if (auto s = uplink.attach(nic, xenbr0, "eth0"); !s.ok()) {
        out.print("dom0: cannot join eth0 to %s: %s\n", xenbr0.name(), lib::error_name(s.error()));
        return false;
    }
    // Its interrupt ends the device-model thread's wait (handle_events).
    if (nic.event() != ~0u) events().set_masked(nic.event(), false);
    out.print("dom0: eth0 is the uplink of %s (port %u)\n", xenbr0.name(), uplink.port());
    return true;
}

void Domains::poll_uplink(bool always)
{
    if (!uplink.attached()) return;
    uint32_t ev = uplink.nic()->event();
    bool fired = ev != ~0u && events().take(ev);
    if (fired || always || ev == ~0u) (void)uplink.poll(hc::clock_ns());
}

}  // namespace vmm
