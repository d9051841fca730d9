// A domain's event channels (Xen 2-level style, simplified): up to
// evtchn_max_ports ports, each free, unbound (waiting for one named remote
// domain to bind), interdomain (connected to a port of another domain's
// table), guest_vector (an event is an interrupt vector for one vCPU) or virq
// (raised by the hypervisor). Events are bits in the domain's event page
// (hv/abi/evtchn_abi.h), which the domain can write at will: the table keeps
// every port's state on its own side and uses the page for nothing but atomic
// single-bit set/clear/test, so no page content makes it misbehave.
// Portable: no locks, no allocation; the kernel glue wakes threads and
// injects vectors as the results say.
//
// PORT NUMBERS from outside are checked the same way everywhere:
//   out_of_range  port >= port_count() (any 32-bit value)
//   not_found     port 0 or a free port where an allocated one is needed
//   invalid       an allocated port in the wrong state for the call
// Other errors: no_memory (no free port), denied (the remote unbound port
// does not allow this domain), exists (virq already bound). A call that
// fails changes nothing.
//
// LOCKING. Each table has a lock (the domain's event lock) held by the
// caller for every call. A call on two tables (bind_interdomain, close of an
// interdomain port) needs both locks, lower domain id first. A binding
// between two ports changes only under both locks, so while either lock is
// held the other end stays where peer() / send() said.
//
// SENDING on port a of table A (kernel protocol, one lock at a time):
//   lock A; t = A.send(a); unlock A;            // t names B and b
//   lock B; r = t.table->deliver(t); unlock B;  // re-checks b is still bound to A:a
//   r.outcome == notify: wake B's waiter / upcall
// deliver() only compares t.from with its binding (never dereferences it),
// so a close racing with the send drops the event instead of raising an
// unrelated port. The caller keeps B alive across the two steps (a domain
// reference); `t.table` is only guaranteed while A's lock is held.
//
// CLOSING an interdomain port a of A: lock A, p = A.peer(a); if p.table's
// domain id is lower, unlock A, lock B then A, and check peer(a) again;
// then A.close(a) turns B's end back into unbound (allowing A's domain).
// Domain teardown: close every port from next_bound() that way.
//
// NOTIFICATION. raise() sets the pending bit and says notify only when the
// bit went from 0 to 1 and the port is not masked; an event on an already
// pending port is coalesced. The page's pending_sel bit for the word is set
// with each notification (the domain clears it). Ordering: the kernel sets
// pending then tests mask, the domain clears mask then tests pending, all
// sequentially consistent, so one of the two always sees the event.
#pragma once

#include <cstdint>

#include "hv/abi/evtchn_abi.h"
#include "lib/result.hpp"

namespace hv::obj {

using EvtchnShared = ::hv_evtchn_shared;

inline constexpr uint32_t evtchn_max_ports = HV_EVTCHN_MAX_PORTS;
inline constexpr uint32_t evtchn_words = HV_EVTCHN_WORDS;
inline constexpr uint32_t evtchn_nr_virqs = HV_EVTCHN_NR_VIRQS;
inline constexpr uint32_t evtchn_min_vector = HV_EVTCHN_MIN_VECTOR;
inline constexpr uint32_t virq_dom_exc = HV_VIRQ_DOM_EXC;
inline constexpr uint32_t virq_console = HV_VIRQ_CONSOLE;
inline constexpr uint32_t virq_timer = HV_VIRQ_TIMER;

static_assert(evtchn_max_ports <= 65536, "ports are stored in 16 bits");
static_assert(evtchn_words == evtchn_max_ports / 64);

enum class PortState : uint8_t {
    free = HV_EVTCHN_STATE_FREE,
    unbound = HV_EVTCHN_STATE_UNBOUND,
    interdomain = HV_EVTCHN_STATE_INTERDOMAIN,
    guest_vector = HV_EVTCHN_STATE_GUEST_VECTOR,
    virq = HV_EVTCHN_STATE_VIRQ,
};

static_assert(sizeof(PortState) == 1 && uint8_t(PortState::virq) == 4, "the status hypercall reports these numbers");

constexpr const char* port_state_name(PortState s)
{
    switch (s) {
    case PortState::free: return "free";
    case PortState::unbound: return "unbound";
    case PortState::interdomain: return "interdomain";
    case PortState::guest_vector: return "guest_vector";
    case PortState::virq: return "virq";
    }
    return "?";
}

// One port as xl evtchn-list would show it. Fields not used by the state are 0.
struct PortStatus {
    PortState state;
    uint8_t vector;         // guest_vector
    uint32_t remote_domid;  // unbound: the domain allowed to bind; interdomain: the peer's domain
    uint32_t remote_port;   // interdomain
    uint32_t vcpu;          // guest_vector
    uint32_t virq;          // virq
    bool pending;           // the page's bits right now (whatever the domain left there)
    bool masked;
};

class EvtchnTable;

// The other end of an interdomain port.
struct Peer {
    EvtchnTable* table;
    uint32_t port;
};

// Where an event sent on `from`:`from_port` goes: call table->deliver(*this)
// with table's lock held.
struct SendTarget {
    EvtchnTable* table;
    uint32_t port;
    const EvtchnTable* from;
    uint32_t from_port;
};

enum class RaiseOutcome : uint8_t {
    notify,     // newly pending and unmasked: wake the owner's waiter / upcall
    inject,     // guest_vector port: inject `vector` into vCPU `vcpu`
    coalesced,  // was already pending: nothing to do
    masked,     // newly pending but masked: nothing now (unmask renotifies)
    dropped,    // not raised (see error): bad port, wrong state, binding gone
};

struct [[nodiscard]] RaiseResult {
    RaiseOutcome outcome;
    uint8_t vector = 0;      // inject
    uint32_t vcpu = 0;       // inject
    lib::Error error = lib::Error::none;  // dropped: why

    constexpr bool must_notify() const { return outcome == RaiseOutcome::notify; }
};

class EvtchnTable {
public:
    constexpr EvtchnTable() = default;
    EvtchnTable(const EvtchnTable&) = delete;
    EvtchnTable& operator=(const EvtchnTable&) = delete;

    // Domain `domid` gets ports 1..port_count-1 with events in `shared`
    // (which init clears). vcpu_count bounds bind_guest_vector. Errors: busy
    // (ports still allocated), invalid (shared null or not 8-byte aligned),
    // out_of_range (port_count < 2 or > evtchn_max_ports).
    lib::Status init(uint32_t domid, EvtchnShared* shared, uint32_t port_count, uint32_t vcpu_count);

    uint32_t domid() const { return domid_; }
    // Whatever object the kernel keeps the table in (a domain, a Pd), for
    // finding it from a peer's side. Not used by the table itself.
    void set_owner(void* o) { owner_ = o; }
    void* owner() const { return owner_; }
    uint32_t port_count() const { return count_; }
    uint32_t allocated() const { return allocated_; }  // ports not free

    // New ports are the lowest free number, with pending and mask cleared.

    // An unbound port that domain `allowed_remote_domid` may bind to.
    // Errors: invalid (this domain's own id: no loopback channels), no_memory.
    lib::Result<uint32_t> alloc_unbound(uint32_t allowed_remote_domid);

    // Connects a new local port to `remote_port` of `remote`, which must be
    // unbound and allow this domain. Both ends become interdomain. Caller
    // holds both locks. Errors: invalid (remote is this table, or the remote
    // port is not unbound), out_of_range / not_found (remote port), denied
    // (not allowed), no_memory (no local port).
    lib::Result<uint32_t> bind_interdomain(EvtchnTable& remote, uint32_t remote_port);

    // Errors: out_of_range (vcpu >= vcpu_count), invalid (vector <
    // evtchn_min_vector), no_memory.
    lib::Result<uint32_t> bind_guest_vector(uint32_t vcpu, uint8_t vector);

    // Errors: out_of_range (virq >= evtchn_nr_virqs), exists, no_memory.
    lib::Result<uint32_t> bind_virq(uint32_t virq);
    // A port the kernel raises on the owner's behalf for a source of its own
    // (a device interrupt): state virq, reported with virq = kernel_source.
    static constexpr uint32_t kernel_source = 0xffffffffu;
    lib::Result<uint32_t> bind_kernel();

    // Frees the port and clears its pending bit. For an interdomain port the
    // peer goes back to unbound, allowing this domain again (as in Xen);
    // caller holds both locks. Errors: out_of_range, not_found.
    lib::Status close(uint32_t port);

    // The other end of an interdomain port. Errors: out_of_range, not_found,
    // invalid (not interdomain).
    lib::Result<Peer> peer(uint32_t port) const;

    // Where an event on `port` goes (interdomain only; after a peer closed,
    // the port is unbound and a send is refused). Errors: out_of_range,
    // not_found, invalid.
    lib::Result<SendTarget> send(uint32_t port) const;

    // Raises `port` of this table: interdomain, virq (pending bit) or
    // guest_vector (inject). dropped errors: out_of_range, not_found,
    // invalid (unbound: nothing can send to it).
    RaiseResult raise(uint32_t port);
    // The receiving half of send(): raises t.port if it is still bound to
    // t.from:t.from_port. dropped errors: invalid (t.table is not this
    // table), out_of_range, not_found (binding gone).
    RaiseResult deliver(const SendTarget& t);
    // Raises the port bound to `virq`. dropped errors: out_of_range (virq),
    // not_found (not bound).
    RaiseResult raise_virq(uint32_t virq);

    // Mask bits for the kernel side (the domain also writes them itself).
    // unmask returns true if the port is pending: notify the owner (the
    // pending_sel bit is set again). Errors: out_of_range, not_found,
    // invalid (guest_vector: masked in the guest's own LAPIC instead).
    lib::Status mask(uint32_t port);
    lib::Result<bool> unmask(uint32_t port);

    // For the owning side (what a waiter wakes to): the lowest port >= from
    // that is pending, unmasked and able to carry events (unbound,
    // interdomain or virq; nothing else counts whatever the page says).
    // take_pending also clears that pending bit (atomically, so a bit the
    // domain cleared meanwhile is skipped). Errors: not_found (none).
    lib::Result<uint32_t> first_pending(uint32_t from = 1) const;
    lib::Result<uint32_t> take_pending(uint32_t from = 1);

    // Errors: out_of_range. A free port (or port 0) reports state free.
    lib::Result<PortStatus> status(uint32_t port) const;
    // Errors: out_of_range (virq), not_found.
    lib::Result<uint32_t> virq_port(uint32_t virq) const;
    // The lowest allocated port >= from, or port_count() if none (teardown,
    // listing).
    uint32_t next_bound(uint32_t from) const;

private:
    struct Port {
        EvtchnTable* remote = nullptr;  // interdomain
        uint32_t arg = 0;               // unbound: allowed domid; guest_vector: vCPU; virq: number
        uint16_t remote_port = 0;       // interdomain
        PortState state = PortState::free;
        uint8_t vector = 0;             // guest_vector
    };
    static_assert(sizeof(Port) == 16);

    lib::Result<uint32_t> check_port(uint32_t port) const;  // out_of_range / not_found
    lib::Result<uint32_t> bind_raised(uint32_t arg);        // a virq-state port (bind_virq, bind_kernel)
    lib::Result<uint32_t> add_port(const Port& p);          // alloc_port + set_port + clear its page bits
    lib::Result<uint32_t> alloc_port() const;
    void set_port(uint32_t port, const Port& p);  // bitmaps, counters, page bits
    void free_port(uint32_t port);
    RaiseResult raise_port(uint32_t port);
    uint64_t eligible_word(uint32_t w) const;  // pending & ~mask & can_event_

    Port ports_[evtchn_max_ports] = {};
    // Kernel-side bitmaps: ports not available to alloc (allocated, port 0,
    // ports >= count), and ports whose pending bit means something.
    uint64_t taken_[evtchn_words] = {};
    uint64_t can_event_[evtchn_words] = {};
    uint16_t virq_ports_[evtchn_nr_virqs] = {};  // 0: not bound
    EvtchnShared* shared_ = nullptr;
    uint32_t domid_ = 0;
    void* owner_ = nullptr;
    uint32_t count_ = 0;
    uint32_t vcpu_count_ = 0;
    uint32_t allocated_ = 0;
};

}  // namespace hv::obj
