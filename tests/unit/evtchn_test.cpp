// hv/obj EvtchnTable: event channels between domains, guest vectors, virqs,
// and the event page a hostile domain can write at will.
//
// Bad inputs tried (each must fail with the named error and change nothing:
// every port's state and every bit of both pages are compared):
//   port numbers 0, port_count, port_count + 1, 63, 64, 1023, 1024, 1025,
//   0xffff, 0x10000, 0x7fffffff, 0xffffffff for close, send, peer, raise,
//   deliver, mask, unmask, status, first_pending/take_pending (as `from`)
//   and as bind_interdomain's remote port -> out_of_range (>= port_count),
//   not_found (port 0 / a free port);
//   binding: to the same table (a port to itself), to a free or closed port,
//   to an interdomain port (binding twice), to a virq or guest_vector port,
//   to an unbound port that allows another domain, with no local port left;
//   alloc_unbound for the table's own domain id; guest vector with vCPU ==
//   vcpu_count, 0xffffffff, vector 0 and 31; virq 8 and 0xffffffff, a virq
//   bound twice; send on unbound, virq and guest_vector ports; deliver of a
//   target for another table, with an out-of-range port, after either end
//   closed, after the port was rebound elsewhere; unmask/mask of a
//   guest_vector port; init with a null or misaligned page, port counts 0,
//   1, 1025, init while ports are allocated; every call on a table never
//   initialised.
//   Hostile pages: all ones (pending, mask, selector, reserved), all zeros
//   after kernel writes, random garbage rewritten by the "domain" before
//   every kernel call; the kernel must give exactly the outcome the bits
//   imply, touch no bit but the ones of the port it works on (and
//   pending_sel), report only ports that exist and can carry events.
// Also: a model-based random test over three tables that includes the
// domain's own (legitimate) page writes.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "hv/obj/evtchn.hpp"

using namespace hv::obj;
using lib::Error;

namespace {

struct Dom {
    EvtchnShared page{};
    EvtchnTable t;
    Dom(uint32_t domid, uint32_t ports, uint32_t vcpus = 4)
    {
        EXPECT_TRUE(t.init(domid, &page, ports, vcpus).ok());
    }
    bool pending(uint32_t p) const { return page.pending[p / 64] >> (p % 64) & 1; }
    bool masked(uint32_t p) const { return page.mask[p / 64] >> (p % 64) & 1; }
    // The domain's own writes.
    void set_mask(uint32_t p) { page.mask[p / 64] |= uint64_t(1) << (p % 64); }
    void clear_mask(uint32_t p) { page.mask[p / 64] &= ~(uint64_t(1) << (p % 64)); }
    void set_pending(uint32_t p) { page.pending[p / 64] |= uint64_t(1) << (p % 64); }
    void clear_pending(uint32_t p) { page.pending[p / 64] &= ~(uint64_t(1) << (p % 64)); }
};

std::unique_ptr<Dom> make_dom(uint32_t domid, uint32_t ports, uint32_t vcpus = 4)
{
    return std::make_unique<Dom>(domid, ports, vcpus);
}

bool same_status(const PortStatus& a, const PortStatus& b)
{
    return a.state == b.state && a.vector == b.vector && a.remote_domid == b.remote_domid &&
           a.remote_port == b.remote_port && a.vcpu == b.vcpu && a.virq == b.virq && a.pending == b.pending &&
           a.masked == b.masked;
}

// Everything observable about a set of domains, to show a refused call
// changed nothing.
struct Snapshot {
    std::vector<std::vector<PortStatus>> ports;
    std::vector<uint32_t> allocated;
    std::vector<std::vector<uint8_t>> pages;
    bool operator==(const Snapshot& o) const
    {
        if (allocated != o.allocated || pages != o.pages || ports.size() != o.ports.size()) return false;
        for (size_t i = 0; i < ports.size(); ++i) {
            if (ports[i].size() != o.ports[i].size()) return false;
            for (size_t j = 0; j < ports[i].size(); ++j)
                if (!same_status(ports[i][j], o.ports[i][j])) return false;
        }
        return true;
    }
};

Snapshot snap(std::initializer_list<const Dom*> doms)
{
    Snapshot s;
    for (const Dom* d : doms) {
        std::vector<PortStatus> ps;
        for (uint32_t p = 0; p < d->t.port_count(); ++p) ps.push_back(d->t.status(p).value());
        s.ports.push_back(ps);
        s.allocated.push_back(d->t.allocated());
        const uint8_t* b = reinterpret_cast<const uint8_t*>(&d->page);
        s.pages.emplace_back(b, b + sizeof(d->page));
    }
    return s;
}

void expect_raise(const RaiseResult& r, RaiseOutcome o, Error e = Error::none)
{
    EXPECT_EQ(r.outcome, o);
    EXPECT_EQ(r.error, e);
}

constexpr uint32_t bad_ports[] = {63, 64, 1023, 1024, 1025, 0xffff, 0x10000, 0x7fffffff, 0xffffffff};

}  // namespace

constinit EvtchnTable g_table;
constinit EvtchnShared g_page;

TEST(Evtchn, ConstinitTableWorksAfterInit)
{
    EXPECT_EQ(g_table.port_count(), 0u);
    ASSERT_TRUE(g_table.init(0, &g_page, 8, 1).ok());
    auto p = g_table.bind_virq(virq_dom_exc);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, 1u);
    EXPECT_TRUE(g_table.raise_virq(virq_dom_exc).must_notify());
    ASSERT_TRUE(g_table.close(*p).ok());
}

TEST(Evtchn, AbiLayout)
{
    static_assert(sizeof(EvtchnShared) == 4096);
    static_assert(evtchn_max_ports == 1024 && evtchn_words == 16);
    static_assert(uint8_t(PortState::free) == 0 && uint8_t(PortState::unbound) == 1 &&
                  uint8_t(PortState::interdomain) == 2 && uint8_t(PortState::guest_vector) == 3 &&
                  uint8_t(PortState::virq) == 4);
    EXPECT_STREQ(port_state_name(PortState::guest_vector), "guest_vector");
}

TEST(Evtchn, InitErrors)
{
    auto page = std::make_unique<EvtchnShared>();
    auto t = std::make_unique<EvtchnTable>();
    EXPECT_EQ(t->init(1, nullptr, 8, 1).error(), Error::invalid);
    alignas(8) static unsigned char raw[sizeof(EvtchnShared) + 8];
    EXPECT_EQ(t->init(1, reinterpret_cast<EvtchnShared*>(raw + 4), 8, 1).error(), Error::invalid);
    for (uint32_t n : {0u, 1u, 1025u, 0xffffffffu}) EXPECT_EQ(t->init(1, page.get(), n, 1).error(), Error::out_of_range);
    EXPECT_EQ(t->port_count(), 0u);
    // init clears whatever the page held.
    std::memset(page.get(), 0xff, sizeof(*page));
    ASSERT_TRUE(t->init(1, page.get(), 1024, 1).ok());
    for (uint32_t w = 0; w < evtchn_words; ++w) {
        EXPECT_EQ(page->pending[w], 0u);
        EXPECT_EQ(page->mask[w], 0u);
    }
    EXPECT_EQ(page->pending_sel, 0u);
    ASSERT_TRUE(t->init(1, page.get(), 2, 1).ok());  // nothing allocated: re-init allowed
    EXPECT_EQ(t->bind_virq(0).value(), 1u);
    EXPECT_EQ(t->bind_virq(1).error(), Error::no_memory);  // 2 ports = port 1 only
    EXPECT_EQ(t->init(1, page.get(), 8, 1).error(), Error::busy);
    EXPECT_EQ(t->port_count(), 2u);
    ASSERT_TRUE(t->close(1).ok());
    ASSERT_TRUE(t->init(1, page.get(), 8, 1).ok());
    EXPECT_EQ(t->port_count(), 8u);
}

TEST(Evtchn, UninitialisedTableRefusesEverything)
{
    auto t = std::make_unique<EvtchnTable>();
    auto other = make_dom(2, 8);
    EXPECT_EQ(t->alloc_unbound(2).error(), Error::no_memory);
    EXPECT_EQ(t->bind_virq(0).error(), Error::no_memory);
    EXPECT_EQ(t->bind_guest_vector(0, 40).error(), Error::out_of_range);  // vcpu_count 0
    ASSERT_EQ(other->t.alloc_unbound(0).value(), 1u);
    EXPECT_EQ(t->bind_interdomain(other->t, 1).error(), Error::no_memory);
    EXPECT_EQ(other->t.bind_interdomain(*t, 1).error(), Error::out_of_range);
    for (uint32_t p : {0u, 1u, 0xffffffffu}) {
        EXPECT_EQ(t->close(p).error(), Error::out_of_range);
        EXPECT_EQ(t->send(p).error(), Error::out_of_range);
        expect_raise(t->raise(p), RaiseOutcome::dropped, Error::out_of_range);
        EXPECT_EQ(t->unmask(p).error(), Error::out_of_range);
        EXPECT_EQ(t->status(p).error(), Error::out_of_range);
        EXPECT_EQ(t->first_pending(p).error(), Error::not_found);
        EXPECT_EQ(t->take_pending(p).error(), Error::not_found);
    }
    expect_raise(t->raise_virq(0), RaiseOutcome::dropped, Error::not_found);
    EXPECT_EQ(t->next_bound(0), 0u);
}

TEST(Evtchn, InterdomainLifecycle)
{
    auto a = make_dom(1, 64), b = make_dom(2, 64);
    // A offers a port to domain 2.
    uint32_t pa = a->t.alloc_unbound(2).value();
    EXPECT_EQ(pa, 1u);
    PortStatus s = a->t.status(pa).value();
    EXPECT_EQ(s.state, PortState::unbound);
    EXPECT_EQ(s.remote_domid, 2u);
    EXPECT_EQ(a->t.allocated(), 1u);
    EXPECT_EQ(a->t.send(pa).error(), Error::invalid);  // nobody to send to yet
    expect_raise(a->t.raise(pa), RaiseOutcome::dropped, Error::invalid);

    // B binds to it.
    uint32_t pb = b->t.bind_interdomain(a->t, pa).value();
    EXPECT_EQ(pb, 1u);
    s = a->t.status(pa).value();
    EXPECT_EQ(s.state, PortState::interdomain);
    EXPECT_EQ(s.remote_domid, 2u);
    EXPECT_EQ(s.remote_port, pb);
    s = b->t.status(pb).value();
    EXPECT_EQ(s.state, PortState::interdomain);
    EXPECT_EQ(s.remote_domid, 1u);
    EXPECT_EQ(s.remote_port, pa);
    EXPECT_EQ(a->t.peer(pa).value().table, &b->t);
    EXPECT_EQ(a->t.peer(pa).value().port, pb);
    EXPECT_EQ(b->t.peer(pb).value().table, &a->t);

    // B sends: A is notified once, then the event coalesces.
    SendTarget t = b->t.send(pb).value();
    EXPECT_EQ(t.table, &a->t);
    EXPECT_EQ(t.port, pa);
    EXPECT_EQ(t.from, &b->t);
    EXPECT_EQ(t.from_port, pb);
    expect_raise(t.table->deliver(t), RaiseOutcome::notify);
    EXPECT_TRUE(a->pending(pa));
    EXPECT_EQ(a->page.pending_sel, 1u);
    EXPECT_FALSE(b->pending(pb));
    expect_raise(t.table->deliver(t), RaiseOutcome::coalesced);
    EXPECT_EQ(a->t.first_pending().value(), pa);
    EXPECT_EQ(a->t.take_pending().value(), pa);
    EXPECT_FALSE(a->pending(pa));
    EXPECT_EQ(a->t.first_pending().error(), Error::not_found);
    expect_raise(t.table->deliver(t), RaiseOutcome::notify);

    // And the other way.
    SendTarget back = a->t.send(pa).value();
    EXPECT_EQ(back.table, &b->t);
    expect_raise(back.table->deliver(back), RaiseOutcome::notify);
    EXPECT_TRUE(b->pending(pb));

    // B closes: A's end waits for domain 2 again and keeps its event.
    ASSERT_TRUE(b->t.close(pb).ok());
    EXPECT_EQ(b->t.status(pb).value().state, PortState::free);
    EXPECT_FALSE(b->pending(pb));  // closing clears the closed port's event
    s = a->t.status(pa).value();
    EXPECT_EQ(s.state, PortState::unbound);
    EXPECT_EQ(s.remote_domid, 2u);
    EXPECT_TRUE(s.pending);
    EXPECT_EQ(a->t.first_pending().value(), pa);  // unbound ports still report old events
    EXPECT_EQ(a->t.send(pa).error(), Error::invalid);
    expect_raise(a->t.deliver(t), RaiseOutcome::dropped, Error::not_found);  // stale target
    EXPECT_EQ(b->t.allocated(), 0u);
    EXPECT_EQ(a->t.allocated(), 1u);

    // B rebinds (Xen: the same remote may bind again).
    uint32_t pb2 = b->t.bind_interdomain(a->t, pa).value();
    EXPECT_EQ(pb2, 1u);
    EXPECT_EQ(a->t.status(pa).value().state, PortState::interdomain);
    // The old target names the same ports again: an event between the same
    // two ends is delivered (the binding is what it was).
    expect_raise(a->t.deliver(t), RaiseOutcome::coalesced);

    // A closes its end: B's goes back to unbound, allowing domain 1.
    ASSERT_TRUE(a->t.close(pa).ok());
    s = b->t.status(pb2).value();
    EXPECT_EQ(s.state, PortState::unbound);
    EXPECT_EQ(s.remote_domid, 1u);
    EXPECT_EQ(a->t.close(pa).error(), Error::not_found);  // twice
    // And A can bind to B's now-unbound port.
    uint32_t pa2 = a->t.bind_interdomain(b->t, pb2).value();
    EXPECT_EQ(pa2, 1u);
    EXPECT_EQ(b->t.peer(pb2).value().port, pa2);
}

TEST(Evtchn, StaleTargetAfterRebindElsewhereIsDropped)
{
    auto a = make_dom(1, 8), b = make_dom(2, 8), c = make_dom(3, 8);
    uint32_t pa = a->t.alloc_unbound(2).value();
    uint32_t pb = b->t.bind_interdomain(a->t, pa).value();
    SendTarget t = b->t.send(pb).value();
    ASSERT_TRUE(a->t.close(pa).ok());
    // A reuses the number for a channel with C.
    ASSERT_EQ(a->t.alloc_unbound(3).value(), pa);
    ASSERT_EQ(c->t.bind_interdomain(a->t, pa).value(), 1u);
    Snapshot before = snap({a.get(), b.get(), c.get()});
    expect_raise(a->t.deliver(t), RaiseOutcome::dropped, Error::not_found);
    // A target handed to the wrong table, or with a bad port.
    expect_raise(c->t.deliver(t), RaiseOutcome::dropped, Error::invalid);
    SendTarget bad = t;
    for (uint32_t p : {8u, 0xffffffffu}) {
        bad.port = p;
        expect_raise(a->t.deliver(bad), RaiseOutcome::dropped, Error::out_of_range);
    }
    bad.port = 0;
    expect_raise(a->t.deliver(bad), RaiseOutcome::dropped, Error::not_found);
    EXPECT_TRUE(snap({a.get(), b.get(), c.get()}) == before);
}

TEST(Evtchn, CoalescingNotifiesOncePerPendingEdge)
{
    auto a = make_dom(1, 8), b = make_dom(2, 8);
    uint32_t pa = a->t.alloc_unbound(2).value();
    uint32_t pb = b->t.bind_interdomain(a->t, pa).value();
    int notifies = 0;
    for (int i = 0; i < 100; ++i) {
        RaiseResult r = a->t.raise(pa);
        notifies += r.must_notify();
        if (i) expect_raise(r, RaiseOutcome::coalesced);
    }
    EXPECT_EQ(notifies, 1);
    EXPECT_EQ(a->t.take_pending().value(), pa);
    EXPECT_EQ(a->t.take_pending().error(), Error::not_found);
    expect_raise(a->t.raise(pa), RaiseOutcome::notify);
    // The domain clearing the bit itself re-arms it too.
    a->clear_pending(pa);
    expect_raise(a->t.raise(pa), RaiseOutcome::notify);
    (void)pb;
}

TEST(Evtchn, MaskAndUnmask)
{
    auto a = make_dom(1, 8), b = make_dom(2, 8);
    uint32_t pa = a->t.alloc_unbound(2).value();
    ASSERT_TRUE(b->t.bind_interdomain(a->t, pa).ok());
    ASSERT_TRUE(a->t.mask(pa).ok());
    EXPECT_TRUE(a->masked(pa));
    expect_raise(a->t.raise(pa), RaiseOutcome::masked);
    EXPECT_TRUE(a->pending(pa));
    EXPECT_EQ(a->page.pending_sel, 0u);  // no notification, no selector bit
    expect_raise(a->t.raise(pa), RaiseOutcome::coalesced);
    EXPECT_EQ(a->t.first_pending().error(), Error::not_found);  // masked ports are not offered
    EXPECT_EQ(a->t.unmask(pa).value(), true);
    EXPECT_FALSE(a->masked(pa));
    EXPECT_EQ(a->page.pending_sel, 1u);
    EXPECT_EQ(a->t.first_pending().value(), pa);
    EXPECT_EQ(a->t.take_pending().value(), pa);
    EXPECT_EQ(a->t.unmask(pa).value(), false);  // not pending: nothing to notify
    // The domain masks through its page; the kernel honours it.
    a->set_mask(pa);
    expect_raise(a->t.raise(pa), RaiseOutcome::masked);
    a->clear_mask(pa);
    EXPECT_EQ(a->t.first_pending().value(), pa);
    // mask twice / unmask twice are fine
    ASSERT_TRUE(a->t.mask(pa).ok());
    ASSERT_TRUE(a->t.mask(pa).ok());
    EXPECT_EQ(a->t.unmask(pa).value(), true);
    EXPECT_EQ(a->t.unmask(pa).value(), true);
    // A guest_vector port has no bits to mask.
    uint32_t gv = a->t.bind_guest_vector(0, 0x40).value();
    Snapshot before = snap({a.get()});
    EXPECT_EQ(a->t.mask(gv).error(), Error::invalid);
    EXPECT_EQ(a->t.unmask(gv).error(), Error::invalid);
    EXPECT_TRUE(snap({a.get()}) == before);
}

TEST(Evtchn, FreshPortsStartClean)
{
    auto a = make_dom(1, 8), b = make_dom(2, 8);
    // The domain leaves bits behind on a port it is about to get.
    a->set_pending(1);
    a->set_mask(1);
    a->set_pending(2);
    uint32_t p = a->t.alloc_unbound(2).value();
    EXPECT_EQ(p, 1u);
    EXPECT_FALSE(a->pending(1));
    EXPECT_FALSE(a->masked(1));
    EXPECT_TRUE(a->pending(2));  // not its business
    uint32_t q = a->t.bind_virq(virq_console).value();
    EXPECT_EQ(q, 2u);
    EXPECT_FALSE(a->pending(2));
    // The remote end of a new binding keeps its bits (it already existed).
    uint32_t pb = b->t.alloc_unbound(1).value();
    b->set_pending(pb);
    ASSERT_TRUE(a->t.bind_interdomain(b->t, pb).ok());
    EXPECT_TRUE(b->pending(pb));
}

TEST(Evtchn, GuestVectorPortsInjectInsteadOfPending)
{
    auto a = make_dom(1, 8, 2);
    Snapshot before = snap({a.get()});
    EXPECT_EQ(a->t.bind_guest_vector(2, 0x40).error(), Error::out_of_range);
    EXPECT_EQ(a->t.bind_guest_vector(0xffffffffu, 0x40).error(), Error::out_of_range);
    EXPECT_EQ(a->t.bind_guest_vector(0, 0).error(), Error::invalid);
    EXPECT_EQ(a->t.bind_guest_vector(0, 31).error(), Error::invalid);
    EXPECT_EQ(a->t.bind_guest_vector(2, 0).error(), Error::out_of_range);  // vCPU first
    EXPECT_TRUE(snap({a.get()}) == before);
    uint32_t p = a->t.bind_guest_vector(1, 32).value();
    uint32_t q = a->t.bind_guest_vector(0, 255).value();
    PortStatus s = a->t.status(p).value();
    EXPECT_EQ(s.state, PortState::guest_vector);
    EXPECT_EQ(s.vcpu, 1u);
    EXPECT_EQ(s.vector, 32);
    for (int i = 0; i < 3; ++i) {  // no coalescing here: the vLAPIC's IRR does that
        RaiseResult r = a->t.raise(p);
        EXPECT_EQ(r.outcome, RaiseOutcome::inject);
        EXPECT_EQ(r.vcpu, 1u);
        EXPECT_EQ(r.vector, 32);
        EXPECT_EQ(r.error, Error::none);
    }
    RaiseResult r = a->t.raise(q);
    EXPECT_EQ(r.outcome, RaiseOutcome::inject);
    EXPECT_EQ(r.vcpu, 0u);
    EXPECT_EQ(r.vector, 255);
    EXPECT_FALSE(a->pending(p));
    EXPECT_EQ(a->page.pending_sel, 0u);
    // A pending bit the domain sets on it means nothing.
    a->set_pending(p);
    EXPECT_EQ(a->t.first_pending().error(), Error::not_found);
    EXPECT_EQ(a->t.take_pending().error(), Error::not_found);
    EXPECT_TRUE(a->pending(p));
    EXPECT_EQ(a->t.send(p).error(), Error::invalid);
    EXPECT_EQ(a->t.peer(p).error(), Error::invalid);
    ASSERT_TRUE(a->t.close(p).ok());
    expect_raise(a->t.raise(p), RaiseOutcome::dropped, Error::not_found);
}

TEST(Evtchn, Virqs)
{
    auto a = make_dom(1, 8);
    Snapshot before = snap({a.get()});
    EXPECT_EQ(a->t.bind_virq(evtchn_nr_virqs).error(), Error::out_of_range);
    EXPECT_EQ(a->t.bind_virq(0xffffffffu).error(), Error::out_of_range);
    expect_raise(a->t.raise_virq(virq_dom_exc), RaiseOutcome::dropped, Error::not_found);
    expect_raise(a->t.raise_virq(evtchn_nr_virqs), RaiseOutcome::dropped, Error::out_of_range);
    expect_raise(a->t.raise_virq(0xffffffffu), RaiseOutcome::dropped, Error::out_of_range);
    EXPECT_EQ(a->t.virq_port(virq_dom_exc).error(), Error::not_found);
    EXPECT_EQ(a->t.virq_port(evtchn_nr_virqs).error(), Error::out_of_range);
    EXPECT_TRUE(snap({a.get()}) == before);

    uint32_t p = a->t.bind_virq(virq_dom_exc).value();
    uint32_t q = a->t.bind_virq(virq_timer).value();
    EXPECT_EQ(a->t.bind_virq(virq_dom_exc).error(), Error::exists);
    EXPECT_EQ(a->t.virq_port(virq_dom_exc).value(), p);
    EXPECT_EQ(a->t.virq_port(virq_timer).value(), q);
    EXPECT_EQ(a->t.status(q).value().virq, virq_timer);
    expect_raise(a->t.raise_virq(virq_dom_exc), RaiseOutcome::notify);
    expect_raise(a->t.raise_virq(virq_dom_exc), RaiseOutcome::coalesced);
    expect_raise(a->t.raise(q), RaiseOutcome::notify);
    EXPECT_EQ(a->t.send(p).error(), Error::invalid);  // only the kernel raises virqs
    EXPECT_EQ(a->t.take_pending().value(), p);
    EXPECT_EQ(a->t.take_pending().value(), q);
    ASSERT_TRUE(a->t.close(p).ok());
    EXPECT_EQ(a->t.virq_port(virq_dom_exc).error(), Error::not_found);
    expect_raise(a->t.raise_virq(virq_dom_exc), RaiseOutcome::dropped, Error::not_found);
    EXPECT_EQ(a->t.bind_virq(virq_dom_exc).value(), p);  // rebinding reuses the lowest port
}

TEST(Evtchn, BindErrorsChangeNothing)
{
    auto a = make_dom(1, 8), b = make_dom(2, 4), c = make_dom(3, 8);
    uint32_t for_b = a->t.alloc_unbound(2).value();     // 1
    uint32_t for_c = a->t.alloc_unbound(3).value();     // 2
    uint32_t vq = a->t.bind_virq(virq_console).value();  // 3
    uint32_t gv = a->t.bind_guest_vector(0, 0x50).value();  // 4
    uint32_t bound = a->t.alloc_unbound(3).value();       // 5
    ASSERT_EQ(c->t.bind_interdomain(a->t, bound).value(), 1u);
    Snapshot before = snap({a.get(), b.get(), c.get()});
    auto same = [&] { EXPECT_TRUE(snap({a.get(), b.get(), c.get()}) == before); };

    EXPECT_EQ(a->t.bind_interdomain(a->t, for_b).error(), Error::invalid);  // itself
    same();
    EXPECT_EQ(a->t.alloc_unbound(1).error(), Error::invalid);  // own domain id
    same();
    EXPECT_EQ(b->t.bind_interdomain(a->t, 0).error(), Error::not_found);
    EXPECT_EQ(b->t.bind_interdomain(a->t, 6).error(), Error::not_found);  // free
    EXPECT_EQ(b->t.bind_interdomain(a->t, 8).error(), Error::out_of_range);
    for (uint32_t p : bad_ports) EXPECT_EQ(b->t.bind_interdomain(a->t, p).error(), Error::out_of_range);
    same();
    EXPECT_EQ(b->t.bind_interdomain(a->t, for_c).error(), Error::denied);  // allows domain 3
    EXPECT_EQ(b->t.bind_interdomain(a->t, vq).error(), Error::invalid);
    EXPECT_EQ(b->t.bind_interdomain(a->t, gv).error(), Error::invalid);
    EXPECT_EQ(b->t.bind_interdomain(a->t, bound).error(), Error::invalid);  // already bound (to C)
    EXPECT_EQ(c->t.bind_interdomain(a->t, bound).error(), Error::invalid);  // bound twice
    same();
    // A bound port cannot be bound from its own peer's side either.
    EXPECT_EQ(a->t.bind_interdomain(c->t, 1).error(), Error::invalid);
    same();
    // No local port left: B has ports 1..3.
    ASSERT_TRUE(b->t.alloc_unbound(9).ok());
    ASSERT_TRUE(b->t.alloc_unbound(9).ok());
    ASSERT_TRUE(b->t.alloc_unbound(9).ok());
    before = snap({a.get(), b.get(), c.get()});
    EXPECT_EQ(b->t.bind_interdomain(a->t, for_b).error(), Error::no_memory);
    EXPECT_EQ(b->t.alloc_unbound(1).error(), Error::no_memory);
    EXPECT_EQ(b->t.bind_virq(0).error(), Error::no_memory);
    EXPECT_EQ(b->t.bind_guest_vector(0, 0x40).error(), Error::no_memory);
    same();
    // A closed port cannot be bound to.
    ASSERT_TRUE(a->t.close(for_b).ok());
    EXPECT_EQ(c->t.bind_interdomain(a->t, for_b).error(), Error::not_found);
}

TEST(Evtchn, EveryInvalidPortNumber)
{
    auto a = make_dom(1, 16), b = make_dom(2, 16);
    uint32_t pa = a->t.alloc_unbound(2).value();
    ASSERT_TRUE(b->t.bind_interdomain(a->t, pa).ok());
    ASSERT_TRUE(a->t.bind_virq(0).ok());
    Snapshot before = snap({a.get(), b.get()});
    std::vector<uint32_t> out = {16, 17};
    out.insert(out.end(), std::begin(bad_ports), std::end(bad_ports));
    std::vector<uint32_t> free_ports = {0, 3, 15};
    for (uint32_t p : out) {
        SCOPED_TRACE(p);
        EXPECT_EQ(a->t.close(p).error(), Error::out_of_range);
        EXPECT_EQ(a->t.send(p).error(), Error::out_of_range);
        EXPECT_EQ(a->t.peer(p).error(), Error::out_of_range);
        expect_raise(a->t.raise(p), RaiseOutcome::dropped, Error::out_of_range);
        EXPECT_EQ(a->t.mask(p).error(), Error::out_of_range);
        EXPECT_EQ(a->t.unmask(p).error(), Error::out_of_range);
        EXPECT_EQ(a->t.status(p).error(), Error::out_of_range);
        EXPECT_EQ(a->t.first_pending(p).error(), Error::not_found);
        EXPECT_EQ(a->t.take_pending(p).error(), Error::not_found);
        EXPECT_EQ(a->t.next_bound(p), 16u);
        SendTarget t{&a->t, p, &b->t, 1};
        expect_raise(a->t.deliver(t), RaiseOutcome::dropped, Error::out_of_range);
    }
    for (uint32_t p : free_ports) {
        SCOPED_TRACE(p);
        EXPECT_EQ(a->t.close(p).error(), Error::not_found);
        EXPECT_EQ(a->t.send(p).error(), Error::not_found);
        EXPECT_EQ(a->t.peer(p).error(), Error::not_found);
        expect_raise(a->t.raise(p), RaiseOutcome::dropped, Error::not_found);
        EXPECT_EQ(a->t.mask(p).error(), Error::not_found);
        EXPECT_EQ(a->t.unmask(p).error(), Error::not_found);
        EXPECT_EQ(a->t.status(p).value().state, PortState::free);
        SendTarget t{&a->t, p, &b->t, 1};
        expect_raise(a->t.deliver(t), RaiseOutcome::dropped, Error::not_found);
    }
    // A target whose `from` does not match the binding.
    SendTarget wrong_from{&a->t, pa, &a->t, 1};
    expect_raise(a->t.deliver(wrong_from), RaiseOutcome::dropped, Error::not_found);
    SendTarget wrong_port{&a->t, pa, &b->t, 2};
    expect_raise(a->t.deliver(wrong_port), RaiseOutcome::dropped, Error::not_found);
    SendTarget null_table{nullptr, pa, &b->t, 1};
    expect_raise(a->t.deliver(null_table), RaiseOutcome::dropped, Error::invalid);
    EXPECT_TRUE(snap({a.get(), b.get()}) == before);
}

TEST(Evtchn, ExhaustionReusesTheLowestFreePort)
{
    auto a = make_dom(1, 4);
    EXPECT_EQ(a->t.alloc_unbound(2).value(), 1u);
    EXPECT_EQ(a->t.bind_virq(0).value(), 2u);
    EXPECT_EQ(a->t.bind_guest_vector(0, 0x40).value(), 3u);
    EXPECT_EQ(a->t.alloc_unbound(2).error(), Error::no_memory);
    EXPECT_EQ(a->t.allocated(), 3u);
    ASSERT_TRUE(a->t.close(2).ok());
    EXPECT_EQ(a->t.allocated(), 2u);
    EXPECT_EQ(a->t.alloc_unbound(5).value(), 2u);
    // The largest table: ports 1..1023, never 0 or 1024.
    auto big = make_dom(1, 1024);
    for (uint32_t p = 1; p < 1024; ++p) ASSERT_EQ(big->t.alloc_unbound(2).value(), p);
    EXPECT_EQ(big->t.alloc_unbound(2).error(), Error::no_memory);
    EXPECT_EQ(big->t.allocated(), 1023u);
    ASSERT_TRUE(big->t.close(700).ok());
    EXPECT_EQ(big->t.bind_virq(1).value(), 700u);
    EXPECT_TRUE(big->t.raise_virq(1).must_notify());
    EXPECT_EQ(big->page.pending_sel, uint64_t(1) << (700 / 64));
    EXPECT_EQ(big->t.first_pending().value(), 700u);
}

TEST(Evtchn, PendingScanAcrossWords)
{
    auto a = make_dom(1, 130), b = make_dom(2, 8);
    std::vector<uint32_t> ports;
    for (uint32_t i = 1; i < 130; ++i) ports.push_back(a->t.bind_guest_vector(0, 0x40).value());
    // Turn 63, 64, 127, 128 and 129 into virqs.
    for (uint32_t p : {63u, 64u, 127u, 128u, 129u}) ASSERT_TRUE(a->t.close(p).ok());
    EXPECT_EQ(a->t.bind_virq(0).value(), 63u);
    EXPECT_EQ(a->t.bind_virq(1).value(), 64u);
    EXPECT_EQ(a->t.bind_virq(2).value(), 127u);
    EXPECT_EQ(a->t.bind_virq(3).value(), 128u);
    EXPECT_EQ(a->t.bind_virq(4).value(), 129u);
    for (uint32_t q = 0; q < 5; ++q) EXPECT_TRUE(a->t.raise_virq(q).must_notify());
    EXPECT_EQ(a->page.pending_sel, 0x7u);
    EXPECT_EQ(a->t.first_pending(0).value(), 63u);
    EXPECT_EQ(a->t.first_pending(63).value(), 63u);
    EXPECT_EQ(a->t.first_pending(64).value(), 64u);
    EXPECT_EQ(a->t.first_pending(65).value(), 127u);
    EXPECT_EQ(a->t.first_pending(128).value(), 128u);
    EXPECT_EQ(a->t.first_pending(129).value(), 129u);
    EXPECT_EQ(a->t.first_pending(130).error(), Error::not_found);
    a->set_mask(64);
    EXPECT_EQ(a->t.take_pending(64).value(), 127u);
    EXPECT_EQ(a->t.take_pending(64).value(), 128u);
    EXPECT_EQ(a->t.take_pending().value(), 63u);
    EXPECT_EQ(a->t.take_pending().value(), 129u);
    EXPECT_EQ(a->t.take_pending().error(), Error::not_found);
    EXPECT_TRUE(a->pending(64));  // masked: left alone
    (void)b;
}

TEST(Evtchn, TeardownClosesEveryPortAndFreesThePeers)
{
    auto a = make_dom(1, 16), b = make_dom(2, 16), c = make_dom(3, 16);
    uint32_t x = a->t.alloc_unbound(2).value();
    uint32_t bx = b->t.bind_interdomain(a->t, x).value();
    uint32_t cy = c->t.alloc_unbound(1).value();
    ASSERT_TRUE(a->t.bind_interdomain(c->t, cy).ok());
    ASSERT_TRUE(a->t.bind_virq(0).ok());
    ASSERT_TRUE(a->t.bind_guest_vector(1, 0x60).ok());
    ASSERT_TRUE(a->t.alloc_unbound(7).ok());
    std::vector<uint32_t> closed;
    for (uint32_t p = a->t.next_bound(0); p < a->t.port_count(); p = a->t.next_bound(p + 1)) {
        closed.push_back(p);
        ASSERT_TRUE(a->t.close(p).ok());
    }
    EXPECT_EQ(closed, (std::vector<uint32_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(a->t.allocated(), 0u);
    EXPECT_EQ(a->t.next_bound(0), 16u);
    EXPECT_EQ(b->t.status(bx).value().state, PortState::unbound);
    EXPECT_EQ(b->t.status(bx).value().remote_domid, 1u);
    EXPECT_EQ(c->t.status(cy).value().state, PortState::unbound);
    EXPECT_EQ(a->t.virq_port(0).error(), Error::not_found);
    ASSERT_TRUE(a->t.init(1, &a->page, 16, 4).ok());
}

// The domain fills its page with ones: everything looks pending and masked.
TEST(Evtchn, HostilePageAllOnes)
{
    auto a = make_dom(1, 70), b = make_dom(2, 8);
    uint32_t pa = a->t.alloc_unbound(2).value();           // 1
    uint32_t pb = b->t.bind_interdomain(a->t, pa).value();
    uint32_t vq = a->t.bind_virq(virq_console).value();    // 2
    uint32_t gv = a->t.bind_guest_vector(3, 0x77).value();  // 3
    uint32_t ub = a->t.alloc_unbound(9).value();           // 4
    std::memset(&a->page, 0xff, sizeof(a->page));
    Snapshot before = snap({a.get(), b.get()});

    EXPECT_EQ(a->t.first_pending().error(), Error::not_found);  // all masked
    SendTarget t = b->t.send(pb).value();
    expect_raise(a->t.deliver(t), RaiseOutcome::coalesced);
    expect_raise(a->t.raise_virq(virq_console), RaiseOutcome::coalesced);
    RaiseResult r = a->t.raise(gv);
    EXPECT_EQ(r.outcome, RaiseOutcome::inject);
    EXPECT_EQ(r.vcpu, 3u);
    EXPECT_EQ(r.vector, 0x77);
    EXPECT_TRUE(snap({a.get(), b.get()}) == before);  // nothing written: every bit was already set
    for (uint32_t p = 0; p < 70; ++p) EXPECT_EQ(a->t.status(p).value().pending, true);

    // Unmasked, all pending: only real event ports are offered, in order,
    // never a free port, a guest_vector port or one beyond the count.
    std::memset(a->page.mask, 0, sizeof(a->page.mask));
    std::vector<uint32_t> got;
    for (uint32_t from = 0;;) {
        auto p = a->t.first_pending(from);
        if (!p) break;
        got.push_back(*p);
        from = *p + 1;
    }
    EXPECT_EQ(got, (std::vector<uint32_t>{pa, vq, ub}));
    got.clear();
    while (auto p = a->t.take_pending()) got.push_back(*p);
    EXPECT_EQ(got, (std::vector<uint32_t>{pa, vq, ub}));
    // Exactly those three bits were cleared.
    for (uint32_t w = 0; w < evtchn_words; ++w) {
        uint64_t expect = ~uint64_t(0);
        if (w == 0) expect &= ~((uint64_t(1) << pa) | (uint64_t(1) << vq) | (uint64_t(1) << ub));
        EXPECT_EQ(a->page.pending[w], expect) << w;
    }
    EXPECT_EQ(a->page.pending_sel, ~uint64_t(0));
    for (uint64_t x : a->page.reserved) EXPECT_EQ(x, ~uint64_t(0));
    // Unmask reports pending truthfully; statuses are unchanged.
    a->page.pending[0] = ~uint64_t(0);
    EXPECT_EQ(a->t.unmask(pa).value(), true);
    EXPECT_EQ(a->t.status(pa).value().state, PortState::interdomain);
    EXPECT_EQ(a->t.status(pa).value().remote_port, pb);
    EXPECT_EQ(a->t.status(gv).value().state, PortState::guest_vector);
    EXPECT_EQ(a->t.status(5).value().state, PortState::free);
    EXPECT_EQ(a->t.allocated(), 4u);
    // Binding a new port still works and clears its own bits only.
    std::memset(&a->page, 0xff, sizeof(a->page));
    EXPECT_EQ(a->t.alloc_unbound(2).value(), 5u);
    EXPECT_EQ(a->page.pending[0], ~(uint64_t(1) << 5));
    EXPECT_EQ(a->page.mask[0], ~(uint64_t(1) << 5));
    expect_raise(a->t.raise(5), RaiseOutcome::dropped, Error::invalid);  // unbound
    // Closing clears only the closed port's pending bit.
    ASSERT_TRUE(a->t.close(vq).ok());
    EXPECT_EQ(a->page.pending[0], ~((uint64_t(1) << 5) | (uint64_t(1) << vq)));
    // All zeros after the kernel's writes: plain unpending, nothing odd.
    std::memset(&a->page, 0, sizeof(a->page));
    expect_raise(a->t.deliver(t), RaiseOutcome::notify);
    EXPECT_EQ(a->page.pending[0], uint64_t(1) << pa);
    EXPECT_EQ(a->page.pending_sel, 1u);
}

// Before every kernel call the domain rewrites its whole page with random
// words. The kernel's answer must be exactly what the bits it finds imply,
// and it may change only the bits of the port it works on (plus the
// selector bit with a notification).
TEST(Evtchn, HostilePageRandomGarbage)
{
    auto a = make_dom(5, 130, 2), b = make_dom(6, 8);
    // A: ports of every kind spread over three words, with holes.
    uint32_t inter = a->t.alloc_unbound(6).value();  // 1
    uint32_t pb = b->t.bind_interdomain(a->t, inter).value();
    uint32_t virqs = 0;
    for (uint32_t p = 2; p < 130; ++p) {
        if (p % 4 == 0) ASSERT_EQ(a->t.bind_guest_vector((p / 4) % 2, uint8_t(32 + p)).value(), p);
        else if (p % 4 == 3 && virqs < evtchn_nr_virqs) ASSERT_EQ(a->t.bind_virq(virqs++).value(), p);
        else ASSERT_EQ(a->t.alloc_unbound(9).value(), p);
    }
    for (uint32_t p = 2; p < 130; p += 4) ASSERT_TRUE(a->t.close(p).ok());  // holes
    const uint32_t allocated = a->t.allocated();
    ASSERT_EQ(allocated, 129u - 32u);
    std::vector<PortStatus> kinds;
    for (uint32_t p = 0; p < 130; ++p) kinds.push_back(a->t.status(p).value());
    auto can_event = [&](uint32_t p) {
        PortState s = kinds[p].state;
        return s == PortState::unbound || s == PortState::interdomain || s == PortState::virq;
    };
    SendTarget t = b->t.send(pb).value();
    std::mt19937_64 rng(7);
    auto garbage = [&] {
        uint64_t* w = reinterpret_cast<uint64_t*>(&a->page);
        for (size_t i = 0; i < sizeof(a->page) / 8; ++i) {
            switch (rng() % 4) {
            case 0: w[i] = 0; break;
            case 1: w[i] = ~uint64_t(0); break;
            default: w[i] = rng(); break;
            }
        }
    };
    auto bit = [](const uint64_t* words, uint32_t p) { return (words[p / 64] >> (p % 64)) & 1; };
    for (int step = 0; step < 50000; ++step) {
        garbage();
        EvtchnShared before = a->page;
        uint32_t port = uint32_t(rng() % 134);  // includes a few beyond the count
        EvtchnShared expect = before;
        switch (rng() % 7) {
        case 0: {  // raise any port
            RaiseResult r = a->t.raise(port);
            if (port >= 130) {
                expect_raise(r, RaiseOutcome::dropped, Error::out_of_range);
            } else if (kinds[port].state == PortState::free) {
                expect_raise(r, RaiseOutcome::dropped, Error::not_found);
            } else if (kinds[port].state == PortState::unbound) {
                expect_raise(r, RaiseOutcome::dropped, Error::invalid);
            } else if (kinds[port].state == PortState::guest_vector) {
                ASSERT_EQ(r.outcome, RaiseOutcome::inject);
                ASSERT_EQ(r.vcpu, kinds[port].vcpu);
                ASSERT_EQ(r.vector, kinds[port].vector);
            } else if (bit(before.pending, port)) {
                ASSERT_EQ(r.outcome, RaiseOutcome::coalesced);
            } else {
                expect.pending[port / 64] |= uint64_t(1) << (port % 64);
                if (bit(before.mask, port)) {
                    ASSERT_EQ(r.outcome, RaiseOutcome::masked);
                } else {
                    ASSERT_EQ(r.outcome, RaiseOutcome::notify);
                    expect.pending_sel |= uint64_t(1) << (port / 64);
                }
            }
            break;
        }
        case 1: {  // an event from B
            RaiseResult r = a->t.deliver(t);
            if (bit(before.pending, inter)) {
                ASSERT_EQ(r.outcome, RaiseOutcome::coalesced);
            } else {
                expect.pending[0] |= uint64_t(1) << inter;
                if (bit(before.mask, inter)) {
                    ASSERT_EQ(r.outcome, RaiseOutcome::masked);
                } else {
                    ASSERT_EQ(r.outcome, RaiseOutcome::notify);
                    expect.pending_sel |= 1;
                }
            }
            break;
        }
        case 2: {  // first_pending from anywhere
            auto r = a->t.first_pending(port);
            uint32_t want = 0;
            for (uint32_t p = port; p < 130 && !want; ++p)
                if (can_event(p) && bit(before.pending, p) && !bit(before.mask, p)) want = p;
            if (want) ASSERT_EQ(r.value(), want);
            else ASSERT_EQ(r.error(), Error::not_found);
            break;
        }
        case 3: {  // take_pending
            auto r = a->t.take_pending(port);
            uint32_t want = 0;
            for (uint32_t p = port; p < 130 && !want; ++p)
                if (can_event(p) && bit(before.pending, p) && !bit(before.mask, p)) want = p;
            if (want) {
                ASSERT_EQ(r.value(), want);
                expect.pending[want / 64] &= ~(uint64_t(1) << (want % 64));
            } else {
                ASSERT_EQ(r.error(), Error::not_found);
            }
            break;
        }
        case 4: {  // unmask
            auto r = a->t.unmask(port);
            if (port >= 130) {
                ASSERT_EQ(r.error(), Error::out_of_range);
            } else if (kinds[port].state == PortState::free) {
                ASSERT_EQ(r.error(), Error::not_found);
            } else if (kinds[port].state == PortState::guest_vector) {
                ASSERT_EQ(r.error(), Error::invalid);
            } else {
                expect.mask[port / 64] &= ~(uint64_t(1) << (port % 64));
                ASSERT_EQ(r.value(), bool(bit(before.pending, port)));
                if (bit(before.pending, port)) expect.pending_sel |= uint64_t(1) << (port / 64);
            }
            break;
        }
        case 5: {  // status: the page bits as they are, the state from the table
            auto r = a->t.status(port);
            if (port >= 130) {
                ASSERT_EQ(r.error(), Error::out_of_range);
            } else {
                PortStatus k = kinds[port];
                k.pending = bit(before.pending, port);
                k.masked = bit(before.mask, port);
                ASSERT_TRUE(same_status(r.value(), k)) << port;
            }
            break;
        }
        case 6: {  // B's view is never affected by A's page
            auto r = b->t.send(pb);
            ASSERT_EQ(r.value().table, &a->t);
            ASSERT_EQ(r.value().port, inter);
            break;
        }
        }
        ASSERT_EQ(std::memcmp(&a->page, &expect, sizeof(expect)), 0) << "step " << step;
        ASSERT_EQ(a->t.allocated(), allocated);
    }
    for (uint32_t p = 0; p < 130; ++p) {
        PortStatus s = a->t.status(p).value(), k = kinds[p];
        s.pending = s.masked = k.pending = k.masked = false;
        ASSERT_TRUE(same_status(s, k)) << p;
    }
}

// ---------------------------------------------------------------------------
// Model-based random test: three tables, random operations with random (and
// often bad) arguments, including the domains' own page writes, checked
// after every step against a plain reference model: every result, every
// port's status, every page bit, virq bindings and counts.
namespace {

struct MPort {
    PortState st = PortState::free;
    uint32_t arg = 0;  // unbound: allowed domid; guest_vector: vcpu; virq: number
    int rt = -1;       // interdomain: remote table index
    uint32_t rp = 0;
    uint8_t vec = 0;
};

// Page words with bit access, so the model's page compares with memcmp.
struct BitArray {
    uint64_t w[evtchn_words] = {};
    struct Ref {
        uint64_t& word;
        uint64_t bit;
        operator bool() const { return word & bit; }
        Ref& operator=(bool v)
        {
            word = v ? word | bit : word & ~bit;
            return *this;
        }
    };
    Ref operator[](uint32_t p) { return {w[p / 64], uint64_t(1) << (p % 64)}; }
    bool operator[](uint32_t p) const { return w[p / 64] >> (p % 64) & 1; }
};

struct MTable {
    uint32_t domid, count, vcpus;
    std::vector<MPort> ports = std::vector<MPort>(evtchn_max_ports);
    BitArray pend, mask;  // the page as the model expects it, bit for bit
    uint64_t sel = 0;
    uint32_t virq[evtchn_nr_virqs] = {};
};

struct MRaise {
    RaiseOutcome outcome;
    Error error = Error::none;
    uint32_t vcpu = 0;
    uint8_t vector = 0;
};

struct Model {
    std::vector<MTable> t;

    int alloc(int i)
    {
        for (uint32_t p = 1; p < t[i].count; ++p)
            if (t[i].ports[p].st == PortState::free) return int(p);
        return -1;
    }
    void fresh(int i, int p, MPort mp)
    {
        t[i].ports[p] = mp;
        t[i].pend[p] = false;
        t[i].mask[p] = false;
    }
    static bool can_event(PortState s)
    {
        return s == PortState::unbound || s == PortState::interdomain || s == PortState::virq;
    }
    Error check(int i, uint32_t p) const
    {
        if (p >= t[i].count) return Error::out_of_range;
        if (t[i].ports[p].st == PortState::free) return Error::not_found;
        return Error::none;
    }
    std::pair<Error, uint32_t> alloc_unbound(int i, uint32_t d)
    {
        if (d == t[i].domid) return {Error::invalid, 0};
        int p = alloc(i);
        if (p < 0) return {Error::no_memory, 0};
        fresh(i, p, {PortState::unbound, d});
        return {Error::none, p};
    }
    std::pair<Error, uint32_t> bind_interdomain(int i, int r, uint32_t rp)
    {
        if (i == r) return {Error::invalid, 0};
        if (Error e = check(r, rp); e != Error::none) return {e, 0};
        const MPort& rem = t[r].ports[rp];
        if (rem.st != PortState::unbound) return {Error::invalid, 0};
        if (rem.arg != t[i].domid) return {Error::denied, 0};
        int p = alloc(i);
        if (p < 0) return {Error::no_memory, 0};
        fresh(i, p, {PortState::interdomain, 0, r, rp});
        t[r].ports[rp] = {PortState::interdomain, 0, i, uint32_t(p)};
        return {Error::none, p};
    }
    std::pair<Error, uint32_t> bind_gv(int i, uint32_t vcpu, uint8_t vec)
    {
        if (vcpu >= t[i].vcpus) return {Error::out_of_range, 0};
        if (vec < 32) return {Error::invalid, 0};
        int p = alloc(i);
        if (p < 0) return {Error::no_memory, 0};
        fresh(i, p, {PortState::guest_vector, vcpu, -1, 0, vec});
        return {Error::none, p};
    }
    std::pair<Error, uint32_t> bind_virq(int i, uint32_t q)
    {
        if (q >= evtchn_nr_virqs) return {Error::out_of_range, 0};
        if (t[i].virq[q]) return {Error::exists, 0};
        int p = alloc(i);
        if (p < 0) return {Error::no_memory, 0};
        fresh(i, p, {PortState::virq, q});
        t[i].virq[q] = p;
        return {Error::none, p};
    }
    Error close(int i, uint32_t p)
    {
        if (Error e = check(i, p); e != Error::none) return e;
        MPort& mp = t[i].ports[p];
        if (mp.st == PortState::interdomain) t[mp.rt].ports[mp.rp] = {PortState::unbound, t[i].domid};
        if (mp.st == PortState::virq) t[i].virq[mp.arg] = 0;
        mp = MPort{};
        t[i].pend[p] = false;
        return Error::none;
    }
    Error send(int i, uint32_t p, int& rt, uint32_t& rp) const
    {
        if (Error e = check(i, p); e != Error::none) return e;
        const MPort& mp = t[i].ports[p];
        if (mp.st != PortState::interdomain) return Error::invalid;
        rt = mp.rt;
        rp = mp.rp;
        return Error::none;
    }
    MRaise raise_port(int i, uint32_t p)
    {
        const MPort& mp = t[i].ports[p];
        switch (mp.st) {
        case PortState::free: return {RaiseOutcome::dropped, Error::not_found};
        case PortState::unbound: return {RaiseOutcome::dropped, Error::invalid};
        case PortState::guest_vector: return {RaiseOutcome::inject, Error::none, mp.arg, mp.vec};
        default: break;
        }
        if (t[i].pend[p]) return {RaiseOutcome::coalesced};
        t[i].pend[p] = true;
        if (t[i].mask[p]) return {RaiseOutcome::masked};
        t[i].sel |= uint64_t(1) << (p / 64);
        return {RaiseOutcome::notify};
    }
    MRaise raise(int i, uint32_t p)
    {
        if (p >= t[i].count) return {RaiseOutcome::dropped, Error::out_of_range};
        return raise_port(i, p);
    }
    MRaise deliver(int on, int ti, uint32_t port, int from, uint32_t from_port)
    {
        if (on != ti) return {RaiseOutcome::dropped, Error::invalid};
        if (port >= t[on].count) return {RaiseOutcome::dropped, Error::out_of_range};
        const MPort& mp = t[on].ports[port];
        if (mp.st != PortState::interdomain || mp.rt != from || mp.rp != from_port)
            return {RaiseOutcome::dropped, Error::not_found};
        return raise_port(on, port);
    }
    MRaise raise_virq(int i, uint32_t q)
    {
        if (q >= evtchn_nr_virqs) return {RaiseOutcome::dropped, Error::out_of_range};
        if (!t[i].virq[q]) return {RaiseOutcome::dropped, Error::not_found};
        return raise_port(i, t[i].virq[q]);
    }
    Error mask(int i, uint32_t p)
    {
        if (Error e = check(i, p); e != Error::none) return e;
        if (t[i].ports[p].st == PortState::guest_vector) return Error::invalid;
        t[i].mask[p] = true;
        return Error::none;
    }
    std::pair<Error, bool> unmask(int i, uint32_t p)
    {
        if (Error e = check(i, p); e != Error::none) return {e, false};
        if (t[i].ports[p].st == PortState::guest_vector) return {Error::invalid, false};
        t[i].mask[p] = false;
        if (!t[i].pend[p]) return {Error::none, false};
        t[i].sel |= uint64_t(1) << (p / 64);
        return {Error::none, true};
    }
    int first(int i, uint32_t from) const
    {
        for (uint32_t p = from; p < t[i].count; ++p)
            if (can_event(t[i].ports[p].st) && t[i].pend[p] && !t[i].mask[p]) return int(p);
        return -1;
    }
};

void expect_same(const RaiseResult& r, const MRaise& m)
{
    ASSERT_EQ(r.outcome, m.outcome);
    ASSERT_EQ(r.error, m.error);
    if (m.outcome == RaiseOutcome::inject) {
        ASSERT_EQ(r.vcpu, m.vcpu);
        ASSERT_EQ(r.vector, m.vector);
    }
}

template <typename T> void expect_same(const lib::Result<T>& r, Error e, T v)
{
    if (e == Error::none) {
        ASSERT_TRUE(r.ok()) << lib::error_name(r.error());
        ASSERT_EQ(*r, v);
    } else {
        ASSERT_EQ(r.error(), e);
    }
}

}  // namespace

TEST(Evtchn, ModelBasedRandom)
{
    const uint32_t domids[3] = {7, 3, 12};
    const uint32_t counts[3] = {6, 9, 130};
    const uint32_t vcpus[3] = {2, 1, 0};
    std::vector<std::unique_ptr<Dom>> d;
    Model m;
    for (int i = 0; i < 3; ++i) {
        d.push_back(make_dom(domids[i], counts[i], vcpus[i]));
        m.t.push_back(MTable{domids[i], counts[i], vcpus[i]});
    }
    struct Sent {
        int to;
        uint32_t port;
        int from;
        uint32_t from_port;
        SendTarget t;
    };
    std::vector<Sent> sent;  // targets kept for later (stale) delivery
    auto index_of = [&](const EvtchnTable* t) {
        for (int i = 0; i < 3; ++i)
            if (&d[i]->t == t) return i;
        return -1;
    };

    std::mt19937 rng(2024);
    auto port_arg = [&](int i) -> uint32_t {
        switch (rng() % 8) {
        case 0: return rng();
        case 1: return bad_ports[rng() % std::size(bad_ports)];
        default: return rng() % (counts[i] + 2);
        }
    };
    auto domid_arg = [&]() -> uint32_t {
        switch (rng() % 6) {
        case 0: return rng();
        case 1: return 1;
        default: return domids[rng() % 3];
        }
    };

    // How often each call ended each way (errors and raise outcomes), to
    // show the run covered them.
    std::map<std::pair<unsigned, int>, unsigned> seen;
    auto saw = [&](unsigned op, Error e) { ++seen[{op, int(e)}]; };
    auto saw_raise = [&](unsigned op, const RaiseResult& r) {
        ++seen[{op, r.outcome == RaiseOutcome::dropped ? int(r.error) : 100 + int(r.outcome)}];
    };
    uint64_t ok_ops = 0;
    for (int step = 0; step < 300000; ++step) {
        int i = rng() % 3;
        EvtchnTable& t = d[i]->t;
        unsigned op = rng() % 18;
        switch (op) {
        case 0:
        case 1: {
            uint32_t dom = domid_arg();
            auto [e, v] = m.alloc_unbound(i, dom);
            expect_same(t.alloc_unbound(dom), e, v);
            saw(0, e);
            break;
        }
        case 2:
        case 3: {
            int r = rng() % 3;
            uint32_t rp = port_arg(r);
            auto [e, v] = m.bind_interdomain(i, r, rp);
            expect_same(t.bind_interdomain(d[r]->t, rp), e, v);
            saw(2, e);
            break;
        }
        case 4: {
            uint32_t vcpu = rng() % 8 == 0 ? rng() : rng() % 3;
            uint8_t vec = uint8_t(rng());
            auto [e, v] = m.bind_gv(i, vcpu, vec);
            expect_same(t.bind_guest_vector(vcpu, vec), e, v);
            saw(4, e);
            break;
        }
        case 5: {
            uint32_t q = rng() % 8 == 0 ? rng() : rng() % (evtchn_nr_virqs + 2);
            auto [e, v] = m.bind_virq(i, q);
            expect_same(t.bind_virq(q), e, v);
            saw(5, e);
            break;
        }
        case 6:
        case 7: {
            uint32_t p = port_arg(i);
            bool was_inter = p < counts[i] && m.t[i].ports[p].st == PortState::interdomain;
            Error e = m.close(i, p);
            ASSERT_EQ(t.close(p).error(), e);
            saw(was_inter ? 7 : 6, e);
            break;
        }
        case 8:
        case 9: {  // send now, deliver now or keep for later
            uint32_t p = port_arg(i);
            int rt = -1;
            uint32_t rp = 0;
            Error e = m.send(i, p, rt, rp);
            auto r = t.send(p);
            ASSERT_EQ(r.error(), e);
            saw(8, e);
            if (e != Error::none) break;
            ASSERT_EQ(index_of(r->table), rt);
            ASSERT_EQ(r->port, rp);
            ASSERT_EQ(r->from, &t);
            ASSERT_EQ(r->from_port, p);
            if (rng() % 3 == 0) {
                sent.push_back({rt, rp, i, p, *r});
            } else {
                MRaise mr = m.deliver(rt, rt, rp, i, p);
                RaiseResult rr = r->table->deliver(*r);
                expect_same(rr, mr);
                saw_raise(9, rr);
            }
            break;
        }
        case 10: {  // a kept target, possibly stale, possibly on the wrong table
            if (sent.empty()) break;
            size_t k = rng() % sent.size();
            Sent s = sent[k];
            int on = rng() % 4 == 0 ? int(rng() % 3) : s.to;
            MRaise mr = m.deliver(on, s.to, s.port, s.from, s.from_port);
            RaiseResult rr = d[on]->t.deliver(s.t);
            expect_same(rr, mr);
            saw_raise(10, rr);
            if (rng() % 2) sent.erase(sent.begin() + long(k));
            break;
        }
        case 11: {
            uint32_t p = port_arg(i);
            RaiseResult rr = t.raise(p);
            expect_same(rr, m.raise(i, p));
            saw_raise(11, rr);
            break;
        }
        case 12: {
            uint32_t q = rng() % 8 == 0 ? rng() : rng() % (evtchn_nr_virqs + 1);
            RaiseResult rr = t.raise_virq(q);
            expect_same(rr, m.raise_virq(i, q));
            saw_raise(12, rr);
            break;
        }
        case 13: {
            uint32_t p = port_arg(i);
            if (rng() % 2) {
                ASSERT_EQ(t.mask(p).error(), m.mask(i, p));
            } else {
                auto [e, v] = m.unmask(i, p);
                expect_same(t.unmask(p), e, v);
                saw(e == Error::none && v ? 14 : 13, e);
            }
            break;
        }
        case 14: {
            uint32_t from = rng() % 4 == 0 ? port_arg(i) : 0;
            int want = m.first(i, from);
            if (rng() % 2) {
                auto r = t.first_pending(from);
                if (want < 0) ASSERT_EQ(r.error(), Error::not_found);
                else ASSERT_EQ(r.value(), uint32_t(want));
            } else {
                auto r = t.take_pending(from);
                if (want < 0) {
                    ASSERT_EQ(r.error(), Error::not_found);
                } else {
                    ASSERT_EQ(r.value(), uint32_t(want));
                    m.t[i].pend[want] = false;
                }
                saw(15, r.error());
            }
            break;
        }
        case 15:
        case 16: {  // the domain writes its own page: any bit, any port, even beyond the count
            uint32_t p = rng() % evtchn_max_ports;
            uint64_t b = uint64_t(1) << (p % 64);
            switch (rng() % 5) {
            case 0: d[i]->page.mask[p / 64] |= b; m.t[i].mask[p] = true; break;
            case 1: d[i]->page.mask[p / 64] &= ~b; m.t[i].mask[p] = false; break;
            case 2: d[i]->page.pending[p / 64] &= ~b; m.t[i].pend[p] = false; break;
            case 3: d[i]->page.pending[p / 64] |= b; m.t[i].pend[p] = true; break;
            case 4: d[i]->page.pending_sel = 0; m.t[i].sel = 0; break;
            }
            break;
        }
        case 17: {
            uint32_t p = port_arg(i);
            auto r = t.peer(p);
            int rt = -1;
            uint32_t rp = 0;
            Error e = m.send(i, p, rt, rp);
            ASSERT_EQ(r.error(), e);
            if (e == Error::none) {
                ASSERT_EQ(index_of(r->table), rt);
                ASSERT_EQ(r->port, rp);
            }
            break;
        }
        }
        if (HasFatalFailure()) {
            ADD_FAILURE() << "step " << step << " op " << op << " table " << i;
            return;
        }
        // Full comparison (cheap checks first; assertions only on a mismatch).
        for (int k = 0; k < 3; ++k) {
            const MTable& mt = m.t[k];
            uint32_t allocated = 0;
            for (uint32_t p = 0; p < mt.count; ++p) {
                const MPort& mp = mt.ports[p];
                PortStatus want{};
                want.state = mp.st;
                switch (mp.st) {
                case PortState::unbound: want.remote_domid = mp.arg; break;
                case PortState::interdomain:
                    want.remote_domid = domids[mp.rt];
                    want.remote_port = mp.rp;
                    break;
                case PortState::guest_vector:
                    want.vcpu = mp.arg;
                    want.vector = mp.vec;
                    break;
                case PortState::virq: want.virq = mp.arg; break;
                case PortState::free: break;
                }
                want.pending = mt.pend[p];
                want.masked = mt.mask[p];
                allocated += mp.st != PortState::free;
                PortStatus s = d[k]->t.status(p).value();
                if (!same_status(s, want)) {
                    FAIL() << "step " << step << " table " << k << " port " << p << ": state "
                           << port_state_name(s.state) << " want " << port_state_name(want.state) << ", remote "
                           << s.remote_domid << ":" << s.remote_port << " want " << want.remote_domid << ":"
                           << want.remote_port << ", pending " << s.pending << " masked " << s.masked;
                }
            }
            ASSERT_EQ(d[k]->t.allocated(), allocated);
            if (std::memcmp(d[k]->page.pending, mt.pend.w, sizeof(mt.pend.w)) != 0 ||
                std::memcmp(d[k]->page.mask, mt.mask.w, sizeof(mt.mask.w)) != 0 || d[k]->page.pending_sel != mt.sel)
                FAIL() << "step " << step << " table " << k << ": page bits differ from the model";
            for (uint32_t q = 0; q < evtchn_nr_virqs; ++q) {
                auto r = d[k]->t.virq_port(q);
                if (mt.virq[q] ? r.value_or(0) != mt.virq[q] : r.error() != Error::not_found)
                    FAIL() << "step " << step << " table " << k << " virq " << q;
            }
            uint32_t from = rng() % (mt.count + 1);
            uint32_t nb = mt.count;
            for (uint32_t p = from; p < mt.count; ++p)
                if (mt.ports[p].st != PortState::free) {
                    nb = p;
                    break;
                }
            ASSERT_EQ(d[k]->t.next_bound(from), nb);
        }
        ++ok_ops;
        if (sent.size() > 32) sent.erase(sent.begin());
    }
    EXPECT_EQ(ok_ops, 300000u);
    auto n = [&](unsigned op, int what) { return seen[{op, what}]; };
    auto e = [](Error x) { return int(x); };
    auto o = [](RaiseOutcome x) { return 100 + int(x); };
    const std::pair<unsigned, int> expected[] = {
        {0, e(Error::none)},         {0, e(Error::invalid)},     {0, e(Error::no_memory)},
        {2, e(Error::none)},         {2, e(Error::invalid)},     {2, e(Error::out_of_range)},
        {2, e(Error::not_found)},    {2, e(Error::denied)},      {2, e(Error::no_memory)},
        {4, e(Error::none)},         {4, e(Error::invalid)},     {4, e(Error::out_of_range)},
        {5, e(Error::none)},         {5, e(Error::exists)},      {5, e(Error::out_of_range)},
        {6, e(Error::none)},         {6, e(Error::not_found)},   {6, e(Error::out_of_range)},
        {7, e(Error::none)},         {8, e(Error::none)},        {8, e(Error::invalid)},
        {9, o(RaiseOutcome::notify)}, {9, o(RaiseOutcome::coalesced)}, {9, o(RaiseOutcome::masked)},
        {10, o(RaiseOutcome::notify)}, {10, e(Error::not_found)}, {10, e(Error::invalid)},
        {11, o(RaiseOutcome::inject)}, {11, o(RaiseOutcome::notify)}, {11, e(Error::invalid)},
        {11, e(Error::not_found)},   {11, e(Error::out_of_range)}, {12, o(RaiseOutcome::notify)},
        {12, o(RaiseOutcome::coalesced)}, {12, e(Error::not_found)}, {13, e(Error::none)},
        {13, e(Error::invalid)},     {14, e(Error::none)},       {15, e(Error::none)},
        {15, e(Error::not_found)},
    };
    for (auto& x : expected) EXPECT_GE(n(x.first, x.second), 20u) << "op " << x.first << " outcome " << x.second;
}

namespace {

// Kernel-sourced ports (device interrupts): raised by hv like a virq, not in
// the virq table, so any number of them may exist and closing one leaves
// the virqs alone.
TEST(Evtchn, KernelSourcedPorts)
{
    auto a = make_dom(0, 64);
    uint32_t v = a->t.bind_virq(virq_console).value();
    uint32_t k1 = a->t.bind_kernel().value(), k2 = a->t.bind_kernel().value();
    EXPECT_NE(k1, k2);
    EXPECT_EQ(a->t.status(k1).value().state, PortState::virq);
    EXPECT_EQ(a->t.status(k1).value().virq, EvtchnTable::kernel_source);
    EXPECT_EQ(a->t.raise(k1).outcome, RaiseOutcome::notify);
    EXPECT_TRUE(a->pending(k1));
    EXPECT_EQ(a->t.raise(k1).outcome, RaiseOutcome::coalesced);
    a->set_mask(k2);
    EXPECT_EQ(a->t.raise(k2).outcome, RaiseOutcome::masked);
    EXPECT_EQ(a->t.first_pending(1).value(), k1);  // k2 is masked
    EXPECT_TRUE(a->t.close(k1).ok());
    EXPECT_EQ(a->t.virq_port(virq_console).value(), v);  // the virq binding is untouched
    EXPECT_EQ(a->t.raise_virq(virq_console).outcome, RaiseOutcome::notify);
    EXPECT_EQ(a->t.status(k1).value().state, PortState::free);
    EXPECT_TRUE(a->t.close(k2).ok());
    EXPECT_TRUE(a->t.close(v).ok());
    EXPECT_EQ(a->t.allocated(), 0u);
}

}  // namespace
