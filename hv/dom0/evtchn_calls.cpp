// Event-channel hypercalls and the two fast paths between a guest and its
// device models:
//   - doorbells (ioeventfd-like): a guest OUT to a bound port sends on the
//     domain's event port; hv delivers to the device model's end and wakes
//     its waiting thread, and the vCPU goes on at once;
//   - interrupt routes (irqfd-like): a device model's send on a port whose
//     other end is routed becomes a fixed interrupt in the guest's vLAPIC.
// A Pd's event page is mapped into it; hv only sets pending bits there
// (atomically) and reads them to decide whether a waiter can go on.
#include "arch/x86_64/cpu.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "hv/vcpu/vcpu.hpp"

namespace hv {
namespace {

using abi::Status;

// Wakes the Pd's waiter if an event became pending for it.
void notify(Pd& pd, const obj::RaiseResult& r)
{
    if (!r.must_notify()) return;
    Thread* w;
    {
        arch::SpinGuard g(pd.lock);
        w = pd.event_waiter;
    }
    if (w) wake_thread(*w);
}

const IrqRoute* route_of(const Domain& d, uint32_t port)
{
    for (size_t i = 0; i < d.irq_route_count; ++i)
        if (d.irq_routes[i].port == port) return &d.irq_routes[i];
    return nullptr;
}

}  // namespace

bool pd_events_pending(Pd& pd) { return pd.evtchn.first_pending(1).ok(); }

void close_event_pairs(Pd& pd, Domain& d)
{
    arch::SpinGuard g(pd.lock);
    arch::SpinGuard dg(d.evtchn_lock);
    for (uint32_t p = d.evtchn.next_bound(1); p < d.evtchn.port_count(); p = d.evtchn.next_bound(p + 1)) {
        auto peer = d.evtchn.peer(p);
        if (peer && peer->table == &pd.evtchn) (void)pd.evtchn.close(peer->port);
        (void)d.evtchn.close(p);
    }
    d.ioevent_count = 0;
    d.irq_route_count = 0;
}

void send_to_dm(Domain& d, uint32_t domain_port)
{
    obj::SendTarget t{};
    {
        arch::SpinGuard g(d.evtchn_lock);
        auto s = d.evtchn.send(domain_port);
        if (!s) return;  // the device model closed its end: the event goes nowhere
        t = *s;
    }
    Pd& pd = *d.dm;
    obj::RaiseResult r{obj::RaiseOutcome::dropped};
    {
        arch::SpinGuard g(pd.lock);
        r = t.table->deliver(t);
    }
    notify(pd, r);
}

bool ioevent_fire(Vcpu& v, uint64_t addr, bool mmio)
{
    Domain& d = *v.domain;
    if (!d.ioevent_count || !d.dm) return false;
    uint32_t port = 0;
    bool matched = false;
    {
        arch::SpinGuard g(d.evtchn_lock);
        for (size_t i = 0; i < d.ioevent_count && !matched; ++i)
            if (d.ioevents[i].addr == addr && d.ioevents[i].mmio == mmio) {
                matched = true;
                port = d.ioevents[i].port;
            }
    }
    if (matched) send_to_dm(d, port);
    return matched;
}

namespace hc {

Reply evtchn_wait(Thread& t, uint64_t timeout_ns)
{
    Pd& pd = *t.pd;
    uint64_t deadline = timeout_ns == ~0ull ? 0 : arch::rdtsc() + ns_to_ticks(timeout_ns);
    for (;;) {
        t.woken = false;
        {
            arch::SpinGuard g(pd.lock);
            auto p = pd.evtchn.first_pending(1);
            if (p) {
                if (pd.event_waiter == &t) pd.event_waiter = nullptr;
                return {Status::ok, *p};
            }
            pd.event_waiter = &t;
        }
        if (deadline && arch::rdtsc() >= deadline) {
            arch::SpinGuard g(pd.lock);
            if (pd.event_waiter == &t) pd.event_waiter = nullptr;
            return {Status::ok, 0};
        }
        block_current(t, WaitFor::ioreq, deadline);
    }
}

Reply evtchn_send(Thread& t, uint64_t port)
{
    Pd& pd = *t.pd;
    if (port > 0xffffffffull) return fail(Status::out_of_range);
    obj::SendTarget target{};
    {
        arch::SpinGuard g(pd.lock);
        auto s = pd.evtchn.send(uint32_t(port));
        if (!s) return fail(s.error());
        target = *s;
    }
    // The other end is a guest domain's port (the only interdomain peers
    // there are); the Domain outlives its ports: destroy closes them first.
    auto* d = static_cast<Domain*>(target.table->owner());
    const IrqRoute* route = nullptr;
    Vcpu* v = nullptr;
    {
        arch::SpinGuard g(d->evtchn_lock);
        if (d->dead) return fail(Status::not_found);
        route = route_of(*d, target.port);
        if (route) v = d->vcpus[route->vcpu];
    }
    if (!route) return fail(Status::unsupported);  // guests have no event page yet: nothing would see it
    {
        arch::SpinGuard g(v->lock);
        v->lapic.accept_fixed(route->vector, false);
    }
    kick(*v);
    return {};
}

Reply evtchn_close(Thread& t, uint64_t port)
{
    Pd& pd = *t.pd;
    if (port > 0xffffffffull) return fail(Status::out_of_range);
    arch::SpinGuard g(pd.lock);
    auto peer = pd.evtchn.peer(uint32_t(port));
    if (peer) {
        auto* d = static_cast<Domain*>(peer->table->owner());
        arch::SpinGuard dg(d->evtchn_lock);  // both tables: the Pd's (id 0) first
        if (auto s = pd.evtchn.close(uint32_t(port)); !s.ok()) return fail(s.error());
        // A doorbell goes with its port: the address exits to the device
        // model again (a device hot-plugged there later is not silenced),
        // and neither the slot nor the guest's end is left behind.
        for (size_t i = 0; i < d->ioevent_count; ++i) {
            if (d->ioevents[i].port != peer->port) continue;
            d->ioevents[i] = d->ioevents[--d->ioevent_count];
            (void)d->evtchn.close(peer->port);
            break;
        }
        return {};
    }
    if (auto s = pd.evtchn.close(uint32_t(port)); !s.ok()) return fail(s.error());
    return {};
}

lib::Result<uint64_t> bind_event_pair(Pd& pd, Domain& d, uint32_t& domain_port)
{
    arch::SpinGuard g(pd.lock);
    arch::SpinGuard dg(d.evtchn_lock);
    uint32_t dp = TRY(d.evtchn.alloc_unbound(pd.id));
    auto mine = pd.evtchn.bind_interdomain(d.evtchn, dp);
    if (!mine) {
        (void)d.evtchn.close(dp);
        return lib::err(mine.error());
    }
    domain_port = dp;
    return uint64_t(*mine);
}

Reply ioevent_bind(Thread& t, uint64_t h, uint64_t addr, bool mmio)
{
    auto dr = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_manage);
    if (!dr) return fail(dr.error());
    Domain& d = **dr;
    if (d.dead) return fail(Status::not_found);
    if (d.dm != t.pd) return fail(Status::denied);
    if (mmio) {
        // Inside a range the caller emulates (a device's registers).
        if (!mmio_forwarded(d, addr)) return fail(Status::out_of_range);
    } else {
        if (addr > 0xffff) return fail(Status::out_of_range);
        if (port_forwarded(d, uint16_t(addr))) return fail(Status::exists);
    }
    {
        arch::SpinGuard g(d.evtchn_lock);
        for (size_t i = 0; i < d.ioevent_count; ++i)
            if (d.ioevents[i].addr == addr && d.ioevents[i].mmio == mmio) return fail(Status::exists);
        if (d.ioevent_count == Domain::max_ioevents) return fail(Status::no_memory);
    }
    uint32_t dp = 0;
    auto mine = bind_event_pair(*t.pd, d, dp);
    if (!mine) return fail(mine.error());
    arch::SpinGuard g(d.evtchn_lock);
    d.ioevents[d.ioevent_count++] = {addr, dp, mmio};
    return {Status::ok, *mine};
}

Reply evtchn_bind_vector(Thread& t, uint64_t h, uint64_t vcpu, uint64_t vector)
{
    auto dr = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_write);
    if (!dr) return fail(dr.error());
    Domain& d = **dr;
    if (d.dead) return fail(Status::not_found);
    if (vcpu >= d.vcpu_count) return fail(Status::out_of_range);
    if (vector < 32 || vector > 255) return fail(Status::invalid);
    {
        arch::SpinGuard g(d.evtchn_lock);
        if (d.irq_route_count == Domain::max_irq_routes) return fail(Status::no_memory);
    }
    uint32_t dp = 0;
    auto mine = bind_event_pair(*t.pd, d, dp);
    if (!mine) return fail(mine.error());
    arch::SpinGuard g(d.evtchn_lock);
    d.irq_routes[d.irq_route_count++] = {dp, uint32_t(vcpu), uint8_t(vector)};
    return {Status::ok, *mine};
}

}  // namespace hc
}  // namespace hv
