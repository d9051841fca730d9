// EvtchnTable: port allocation, bindings and the event page bit protocol (see
// evtchn.hpp for the contract). Every access to the page is one atomic
// operation on one word, and every index into it comes from a port number
// already checked against count_, so what the domain writes there can change
// which bits we see but never where we look or what state a port is in.
#include "hv/obj/evtchn.hpp"

#include <bit>

namespace hv::obj {

using lib::err;
using lib::Error;

namespace {

constexpr uint32_t word_of(uint32_t port) { return port / 64; }
constexpr uint64_t bit_of(uint32_t port) { return uint64_t(1) << (port % 64); }

uint64_t load(const uint64_t& w) { return __atomic_load_n(&w, __ATOMIC_SEQ_CST); }
void store(uint64_t& w, uint64_t v) { __atomic_store_n(&w, v, __ATOMIC_SEQ_CST); }
uint64_t fetch_or(uint64_t& w, uint64_t bits) { return __atomic_fetch_or(&w, bits, __ATOMIC_SEQ_CST); }
uint64_t fetch_and(uint64_t& w, uint64_t bits) { return __atomic_fetch_and(&w, bits, __ATOMIC_SEQ_CST); }

static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0), "no libatomic in the kernel");

constexpr bool carries_events(PortState s)
{
    // Unbound counts: a port whose peer closed keeps the events that came
    // before, and the owner should still find them.
    return s == PortState::unbound || s == PortState::interdomain || s == PortState::virq;
}

constexpr RaiseResult dropped(Error e) { return {RaiseOutcome::dropped, 0, 0, e}; }

// A fresh port starts without an event and unmasked, whatever an earlier
// binding or the domain left in its bits.
void clear_bits(EvtchnShared& s, uint32_t port)
{
    fetch_and(s.pending[word_of(port)], ~bit_of(port));
    fetch_and(s.mask[word_of(port)], ~bit_of(port));
}

}  // namespace

lib::Status EvtchnTable::init(uint32_t domid, EvtchnShared* shared, uint32_t port_count, uint32_t vcpu_count)
{
    if (allocated_ != 0) return Error::busy;
    if (!shared || reinterpret_cast<uintptr_t>(shared) % alignof(uint64_t) != 0) return Error::invalid;
    if (port_count < 2 || port_count > evtchn_max_ports) return Error::out_of_range;
    for (Port& p : ports_) p = Port{};
    for (uint32_t w = 0; w < evtchn_words; ++w) {
        uint32_t lo = w * 64;
        // Ports >= port_count are never available.
        uint64_t usable = port_count >= lo + 64 ? ~uint64_t(0)
                          : port_count <= lo    ? 0
                                                : (uint64_t(1) << (port_count - lo)) - 1;
        taken_[w] = ~usable;
        can_event_[w] = 0;
        store(shared->pending[w], 0);
        store(shared->mask[w], 0);
    }
    taken_[0] |= 1;  // port 0 means "no port"
    store(shared->pending_sel, 0);
    for (uint16_t& v : virq_ports_) v = 0;
    shared_ = shared;
    domid_ = domid;
    count_ = port_count;
    vcpu_count_ = vcpu_count;
    return {};
}

lib::Result<uint32_t> EvtchnTable::check_port(uint32_t port) const
{
    if (port >= count_) return err(Error::out_of_range);
    if (ports_[port].state == PortState::free) return err(Error::not_found);
    return port;
}

lib::Result<uint32_t> EvtchnTable::alloc_port() const
{
    // Bounded by count_ as well as by taken_: before init, taken_ is all
    // clear (init marks port 0 and the ports beyond the count) and count_ is 0.
    for (uint32_t w = 0; w < evtchn_words; ++w) {
        uint64_t avail = ~taken_[w];
        if (!avail) continue;
        uint32_t port = w * 64 + uint32_t(std::countr_zero(avail));
        if (port >= count_) break;
        return port;
    }
    return err(Error::no_memory);
}

void EvtchnTable::set_port(uint32_t port, const Port& p)
{
    bool was_free = ports_[port].state == PortState::free;
    bool now_free = p.state == PortState::free;
    ports_[port] = p;
    uint32_t w = word_of(port);
    uint64_t b = bit_of(port);
    if (was_free && !now_free) {
        taken_[w] |= b;
        ++allocated_;
    } else if (!was_free && now_free) {
        taken_[w] &= ~b;
        --allocated_;
    }
    if (carries_events(p.state)) can_event_[w] |= b;
    else can_event_[w] &= ~b;
}

void EvtchnTable::free_port(uint32_t port)
{
    set_port(port, Port{});
    fetch_and(shared_->pending[word_of(port)], ~bit_of(port));
}

// A fresh port in state p, its page bits cleared.
lib::Result<uint32_t> EvtchnTable::add_port(const Port& p)
{
    uint32_t port = TRY(alloc_port());
    set_port(port, p);
    clear_bits(*shared_, port);
    return port;
}

lib::Result<uint32_t> EvtchnTable::alloc_unbound(uint32_t allowed_remote_domid)
{
    if (allowed_remote_domid == domid_) return err(Error::invalid);
    Port p;
    p.state = PortState::unbound;
    p.arg = allowed_remote_domid;
    return add_port(p);
}

lib::Result<uint32_t> EvtchnTable::bind_interdomain(EvtchnTable& remote, uint32_t remote_port)
{
    if (&remote == this) return err(Error::invalid);
    TRY(remote.check_port(remote_port));
    const Port& rp = remote.ports_[remote_port];
    if (rp.state != PortState::unbound) return err(Error::invalid);
    if (rp.arg != domid_) return err(Error::denied);
    Port mine;
    mine.state = PortState::interdomain;
    mine.remote = &remote;
    mine.remote_port = uint16_t(remote_port);
    uint32_t port = TRY(add_port(mine));
    // The remote end keeps its page bits: it was already allocated.
    Port theirs;
    theirs.state = PortState::interdomain;
    theirs.remote = this;
    theirs.remote_port = uint16_t(port);
    remote.set_port(remote_port, theirs);
    return port;
}

lib::Result<uint32_t> EvtchnTable::bind_guest_vector(uint32_t vcpu, uint8_t vector)
{
    if (vcpu >= vcpu_count_) return err(Error::out_of_range);
    if (vector < evtchn_min_vector) return err(Error::invalid);
    Port p;
    p.state = PortState::guest_vector;
    p.arg = vcpu;
    p.vector = vector;
    return add_port(p);
}

// A port in state virq with `arg` naming its source: a virq number, or
// kernel_source.
lib::Result<uint32_t> EvtchnTable::bind_raised(uint32_t arg)
{
    Port p;
    p.state = PortState::virq;
    p.arg = arg;
    return add_port(p);
}

lib::Result<uint32_t> EvtchnTable::bind_virq(uint32_t virq)
{
    if (virq >= evtchn_nr_virqs) return err(Error::out_of_range);
    if (virq_ports_[virq] != 0) return err(Error::exists);
    uint32_t port = TRY(bind_raised(virq));
    virq_ports_[virq] = uint16_t(port);
    return port;
}

lib::Result<uint32_t> EvtchnTable::bind_kernel() { return bind_raised(kernel_source); }

lib::Status EvtchnTable::close(uint32_t port)
{
    TRY(check_port(port));
    const Port& p = ports_[port];
    if (p.state == PortState::interdomain) {
        EvtchnTable& remote = *p.remote;
        const Port& rp = remote.ports_[p.remote_port];
        // Bindings are made and undone on both ends at once, so the peer
        // points back here; check anyway rather than clobber a stranger.
        if (rp.state == PortState::interdomain && rp.remote == this && rp.remote_port == port) {
            Port back;
            back.state = PortState::unbound;
            back.arg = domid_;
            remote.set_port(p.remote_port, back);
        }
    } else if (p.state == PortState::virq && p.arg < evtchn_nr_virqs) {
        virq_ports_[p.arg] = 0;
    }
    free_port(port);
    return {};
}

lib::Result<Peer> EvtchnTable::peer(uint32_t port) const
{
    TRY(check_port(port));
    const Port& p = ports_[port];
    if (p.state != PortState::interdomain) return err(Error::invalid);
    return Peer{p.remote, p.remote_port};
}

lib::Result<SendTarget> EvtchnTable::send(uint32_t port) const
{
    Peer p = TRY(peer(port));
    return SendTarget{p.table, p.port, this, port};
}

RaiseResult EvtchnTable::raise_port(uint32_t port)
{
    const Port& p = ports_[port];
    switch (p.state) {
    case PortState::guest_vector: return {RaiseOutcome::inject, p.vector, p.arg, Error::none};
    case PortState::interdomain:
    case PortState::virq: break;
    case PortState::free: return dropped(Error::not_found);
    case PortState::unbound: return dropped(Error::invalid);
    }
    uint32_t w = word_of(port);
    uint64_t b = bit_of(port);
    if (fetch_or(shared_->pending[w], b) & b) return {RaiseOutcome::coalesced};
    if (load(shared_->mask[w]) & b) return {RaiseOutcome::masked};
    fetch_or(shared_->pending_sel, uint64_t(1) << w);
    return {RaiseOutcome::notify};
}

RaiseResult EvtchnTable::raise(uint32_t port)
{
    if (port >= count_) return dropped(Error::out_of_range);
    return raise_port(port);
}

RaiseResult EvtchnTable::deliver(const SendTarget& t)
{
    if (t.table != this) return dropped(Error::invalid);
    if (t.port >= count_) return dropped(Error::out_of_range);
    const Port& p = ports_[t.port];
    if (p.state != PortState::interdomain || p.remote != t.from || p.remote_port != t.from_port)
        return dropped(Error::not_found);
    return raise_port(t.port);
}

RaiseResult EvtchnTable::raise_virq(uint32_t virq)
{
    if (virq >= evtchn_nr_virqs) return dropped(Error::out_of_range);
    if (virq_ports_[virq] == 0) return dropped(Error::not_found);
    return raise_port(virq_ports_[virq]);
}

lib::Status EvtchnTable::mask(uint32_t port)
{
    TRY(check_port(port));
    if (ports_[port].state == PortState::guest_vector) return Error::invalid;
    fetch_or(shared_->mask[word_of(port)], bit_of(port));
    return {};
}

lib::Result<bool> EvtchnTable::unmask(uint32_t port)
{
    TRY(check_port(port));
    if (ports_[port].state == PortState::guest_vector) return err(Error::invalid);
    uint32_t w = word_of(port);
    uint64_t b = bit_of(port);
    fetch_and(shared_->mask[w], ~b);
    if (!(load(shared_->pending[w]) & b)) return false;
    fetch_or(shared_->pending_sel, uint64_t(1) << w);
    return true;
}

uint64_t EvtchnTable::eligible_word(uint32_t w) const
{
    if (!can_event_[w]) return 0;  // no page access for words without event ports
    return load(shared_->pending[w]) & ~load(shared_->mask[w]) & can_event_[w];
}

lib::Result<uint32_t> EvtchnTable::first_pending(uint32_t from) const
{
    if (from >= count_) return err(Error::not_found);
    uint32_t words = (count_ + 63) / 64;
    for (uint32_t w = word_of(from); w < words; ++w) {
        uint64_t bits = eligible_word(w);
        if (w == word_of(from)) bits &= ~(bit_of(from) - 1);
        if (bits) return w * 64 + uint32_t(std::countr_zero(bits));
    }
    return err(Error::not_found);
}

lib::Result<uint32_t> EvtchnTable::take_pending(uint32_t from)
{
    if (from >= count_) return err(Error::not_found);
    uint32_t words = (count_ + 63) / 64;
    for (uint32_t w = word_of(from); w < words; ++w) {
        uint64_t bits = eligible_word(w);
        if (w == word_of(from)) bits &= ~(bit_of(from) - 1);
        // Each candidate is tried once: the loop ends whatever the domain
        // does to the word meanwhile.
        while (bits) {
            uint32_t bit = uint32_t(std::countr_zero(bits));
            uint64_t b = uint64_t(1) << bit;
            bits &= ~b;
            if (fetch_and(shared_->pending[w], ~b) & b) return w * 64 + bit;
        }
    }
    return err(Error::not_found);
}

lib::Result<PortStatus> EvtchnTable::status(uint32_t port) const
{
    if (port >= count_) return err(Error::out_of_range);
    const Port& p = ports_[port];
    PortStatus s{};
    s.state = p.state;
    switch (p.state) {
    case PortState::free: break;
    case PortState::unbound: s.remote_domid = p.arg; break;
    // The peer's domid never changes while it has ports bound, so reading
    // it without the peer's lock is fine.
    case PortState::interdomain:
        s.remote_domid = p.remote->domid_;
        s.remote_port = p.remote_port;
        break;
    case PortState::guest_vector:
        s.vcpu = p.arg;
        s.vector = p.vector;
        break;
    case PortState::virq: s.virq = p.arg; break;
    }
    s.pending = load(shared_->pending[word_of(port)]) & bit_of(port);
    s.masked = load(shared_->mask[word_of(port)]) & bit_of(port);
    return s;
}

lib::Result<uint32_t> EvtchnTable::virq_port(uint32_t virq) const
{
    if (virq >= evtchn_nr_virqs) return err(Error::out_of_range);
    if (virq_ports_[virq] == 0) return err(Error::not_found);
    return uint32_t(virq_ports_[virq]);
}

uint32_t EvtchnTable::next_bound(uint32_t from) const
{
    for (uint32_t port = from; port < count_; ++port)
        if (ports_[port].state != PortState::free) return port;
    return count_;
}

}  // namespace hv::obj
