// What the hypercall handlers share: the reply, status mapping, and looking
// up a capability of the calling Pd with the rights a call needs.
#pragma once

#include <cstdint>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "hv/abi/hypercall.hpp"
#include "hv/dom0/pd.hpp"
#include "hv/dom0/thread.hpp"
#include "hv/obj/cap_table.hpp"
#include "lib/result.hpp"

namespace hv {
struct Domain;
// Whether the Pd has an unmasked event pending (evtchn_calls.cpp).
bool pd_events_pending(Pd& pd);
// Closes the Pd's ends of every port pair with `d` (d is being destroyed).
void close_event_pairs(Pd& pd, Domain& d);
}

namespace hv::hc {

struct Reply {
    abi::Status status = abi::Status::ok;
    uint64_t value = 0;
};

inline abi::Status status_of(lib::Error e) { return abi::Status(uint64_t(e)); }
inline Reply fail(abi::Status s) { return {s, 0}; }
inline Reply fail(lib::Error e) { return {status_of(e), 0}; }
// A user pointer that did not pass UserSpace::check.
inline Reply fail_copy(lib::Error e) { return fail(e == lib::Error::denied ? abi::Status::bad_address : status_of(e)); }

// The object behind `h` in the caller's table, of type T (whose first member
// or base is the KObject), with rights `need`. Errors as the ABI names them:
// not_found, wrong_type, denied.
template <typename T>
lib::Result<T*, abi::Status> lookup(Pd& pd, uint64_t h, obj::ObjType type, obj::Rights need)
{
    if (h > 0xffffffffull) return abi::Status::not_found;
    arch::SpinGuard g(pd.lock);
    auto o = pd.caps.lookup(obj::Handle(h), type, need);
    if (!o) {
        if (o.error() == lib::Error::invalid) return abi::Status::wrong_type;
        return status_of(o.error());
    }
    return reinterpret_cast<T*>(*o);
}

// The caller's control capability with the rights `need` (ok, or the error).
abi::Status check_control(Pd& pd, uint64_t handle, obj::Rights need);

// A mapping into the caller's address space in three steps: reserve a slot
// (under the Pd's lock; nullptr when all are taken), map, then commit it
// with its size or cancel it.
GuestMapping* reserve_mapping(Pd& pd, const GuestMapping& m);
void commit_mapping(Pd& pd, GuestMapping& slot, uint64_t size);
void cancel_mapping(Pd& pd, GuestMapping& slot);

uint64_t ns_to_ticks(uint64_t ns);

// Gives the CPU away until done() holds (other CPUs and this CPU's loop do
// their part meanwhile); false if timeout_ns (0 = none) passed first.
template <typename F> bool yield_until(Thread& t, F done, uint64_t timeout_ns = 0)
{
    uint64_t give_up = timeout_ns ? arch::rdtsc() + ns_to_ticks(timeout_ns) : 0;
    while (!done()) {
        if (give_up && arch::rdtsc() > give_up) return false;
        t.yield_requested = true;
        thread_switch_out(t);
    }
    return true;
}

// Domain control (domctl.cpp) and device-model forwarding (ioreq.cpp).
Reply domain_create(Thread& t, uint64_t control, uint64_t cfg);
Reply domain_destroy(Thread& t, uint64_t dom);
Reply domain_pause(Thread& t, uint64_t dom, bool pause);
Reply domain_info(Thread& t, uint64_t dom, uint64_t out);
Reply domain_list(Thread& t, uint64_t control, uint64_t first_id, uint64_t out, uint64_t cap);
Reply domain_map(Thread& t, uint64_t dom, uint64_t gpa, uint64_t size, uint64_t va, uint64_t flags);
Reply unmap(Thread& t, uint64_t va, uint64_t size);
Reply vcpu_boot(Thread& t, uint64_t dom, uint64_t vcpu, uint64_t boot);
Reply vcpu_info(Thread& t, uint64_t dom, uint64_t vcpu, uint64_t out);
Reply domain_sched(Thread& t, uint64_t dom, uint64_t weight, uint64_t cap);
Reply ioport_forward(Thread& t, uint64_t dom, uint64_t base, uint64_t count);
Reply ioreq_wait(Thread& t, uint64_t out, uint64_t timeout_ns);
Reply ioreq_complete(Thread& t, uint64_t dom, uint64_t vcpu, uint64_t value);
Reply domain_shutdown(Thread& t, uint64_t dom, uint64_t kind, uint64_t value);
Reply domain_exits(Thread& t, uint64_t dom, uint64_t out);
Reply vcpu_pin(Thread& t, uint64_t dom, uint64_t vcpu, uint64_t cpu);
Reply mmio_forward(Thread& t, uint64_t dom, uint64_t gpa, uint64_t size);
Reply region_create(Thread& t, uint64_t size);
Reply region_map(Thread& t, uint64_t region, uint64_t va, uint64_t flags);
Reply region_grant(Thread& t, uint64_t region, uint64_t dom, uint64_t gpa, uint64_t flags);
Reply device_ports(Thread& t, uint64_t control, uint64_t base, uint64_t count);
Reply device_mmio_map(Thread& t, uint64_t control, uint64_t phys, uint64_t size, uint64_t va);
Reply region_phys(Thread& t, uint64_t region);
Reply device_irq_bind(Thread& t, uint64_t control, uint64_t gsi);
Reply device_irq_ack(Thread& t, uint64_t port);
Reply pci_config_read(Thread& t, uint64_t control, uint64_t address, uint64_t width);
Reply pci_config_write(Thread& t, uint64_t control, uint64_t address, uint64_t width, uint64_t value);
Reply device_msi_bind(Thread& t, uint64_t control, uint64_t out);
Reply domain_populate(Thread& t, uint64_t dom, uint64_t gpa, uint64_t size);
Reply domain_release(Thread& t, uint64_t dom, uint64_t gpa, uint64_t size);
Reply vcpu_nmi(Thread& t, uint64_t dom, uint64_t vcpu);
Reply domain_irq(Thread& t, uint64_t dom, uint64_t gsi, uint64_t level);
Reply domain_msi(Thread& t, uint64_t dom, uint64_t address, uint64_t data);
Reply domain_extint(Thread& t, uint64_t dom, uint64_t vector);
Reply evtchn_wait(Thread& t, uint64_t timeout_ns);
Reply evtchn_send(Thread& t, uint64_t port);
Reply evtchn_close(Thread& t, uint64_t port);
Reply ioevent_bind(Thread& t, uint64_t dom, uint64_t addr, bool mmio);
Reply evtchn_bind_vector(Thread& t, uint64_t dom, uint64_t vcpu, uint64_t vector);
Reply ioport_buffer(Thread& t, uint64_t dom, uint64_t base, uint64_t count);
Reply ioport_drain(Thread& t, uint64_t dom, uint64_t out, uint64_t cap);
Reply ioport_latch(Thread& t, uint64_t dom, uint64_t port, uint64_t value);
// A pair of event ports: one in the domain's table (domain_port), one in the
// caller's (returned), bound to each other.
lib::Result<uint64_t> bind_event_pair(Pd& pd, Domain& d, uint32_t& domain_port);
// Forgets the posted requests of a domain being destroyed.
void drop_ioreqs(Pd& pd, Domain& d);

// Time conversions for timeouts.
uint64_t ticks_to_ns(uint64_t ticks);

}  // namespace hv::hc
