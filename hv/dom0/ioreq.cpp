// Port accesses forwarded to a device model in Dom0 (synchronously): the
// vCPU's exit posts a request and the vCPU waits; a Dom0 thread takes it
// with ioreq_wait, emulates the device and answers with ioreq_complete; the
// vCPU's own CPU then applies the answer (RAX for IN, RIP past the
// instruction) and runs it again.
#include "arch/x86_64/cpu.hpp"
#include "hv/dom0/hypercall_args.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/dom0/registry.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "hv/vcpu/vcpu.hpp"

namespace hv {

bool port_forwarded(const Domain& d, uint16_t port)
{
    for (size_t i = 0; i < d.forwarded_count; ++i)
        if (port >= d.forwarded[i].base && port - d.forwarded[i].base < d.forwarded[i].count) return true;
    return false;
}

void post_ioreq(Vcpu& v, uint16_t port, uint8_t size, bool in, uint32_t value, uint8_t insn_len)
{
    Pd* dm = v.domain->dm;
    v.ioreq = {IoreqState::posted, in, size, insn_len, port, in ? 0 : value};
    v.state = VcpuState::waiting_io;
    Thread* waiter;
    {
        arch::SpinGuard g(dm->lock);
        v.ioreq_next = nullptr;
        if (dm->ioreq_tail) dm->ioreq_tail->ioreq_next = &v;
        else dm->ioreq_head = &v;
        dm->ioreq_tail = &v;
        waiter = dm->ioreq_waiter;
    }
    if (waiter) wake_thread(*waiter);
}

void apply_ioreq(Vcpu& v)
{
    const Ioreq& r = v.ioreq;
    if (r.in) {
        uint64_t& rax = v.gprs[Gpr::rax];
        uint32_t mask = r.size >= 4 ? 0xffffffffu : (1u << (r.size * 8)) - 1;
        rax = r.size == 4 ? r.value : (rax & ~uint64_t(mask)) | (r.value & mask);
    }
    v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + r.insn_len);
    __atomic_store_n(&v.ioreq.state, IoreqState::none, __ATOMIC_RELEASE);
}

namespace hc {

using abi::Status;

void drop_ioreqs(Pd& pd, Domain& d)
{
    arch::SpinGuard g(pd.lock);
    Vcpu** link = &pd.ioreq_head;
    pd.ioreq_tail = nullptr;
    while (*link) {
        if ((*link)->domain == &d) {
            *link = (*link)->ioreq_next;
            continue;
        }
        pd.ioreq_tail = *link;
        link = &(*link)->ioreq_next;
    }
}

Reply ioport_forward(Thread& t, uint64_t h, uint64_t base, uint64_t count)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.dead || dom.started) return fail(Status::busy);
    if (auto st = check_port_range(base, count); st != Status::ok) return fail(st);
    if (dom.dm != t.pd) return fail(Status::denied);
    for (size_t i = 0; i < dom.forwarded_count; ++i) {
        const auto& f = dom.forwarded[i];
        if (base < uint64_t(f.base) + f.count && f.base < base + count) return fail(Status::exists);
    }
    if (dom.forwarded_count == Domain::max_forwarded) return fail(Status::no_memory);
    dom.forwarded[dom.forwarded_count++] = {uint16_t(base), uint16_t(count)};
    return {};
}

Reply ioreq_wait(Thread& t, uint64_t out, uint64_t timeout_ns)
{
    Pd& pd = *t.pd;
    if (auto s = pd.space->check(out, sizeof(abi::IoRequest), true); !s.ok()) return fail_copy(s.error());
    uint64_t deadline = timeout_ns == ~0ull ? 0 : arch::rdtsc() + ns_to_ticks(timeout_ns);
    for (;;) {
        t.woken = false;
        Vcpu* v = nullptr;
        abi::IoRequest req{};
        bool events = false;
        {
            arch::SpinGuard g(pd.lock);
            events = pd.evtchn.first_pending(1).ok();
            v = events ? nullptr : pd.ioreq_head;
            if (v) {
                pd.ioreq_head = v->ioreq_next;
                if (!pd.ioreq_head) pd.ioreq_tail = nullptr;
                v->ioreq.state = IoreqState::taken;
                req = {v->domain->id, v->id, v->ioreq.port, v->ioreq.size, uint8_t(v->ioreq.in), v->ioreq.value};
                if (pd.ioreq_waiter == &t) pd.ioreq_waiter = nullptr;
            } else if (!events) {
                pd.ioreq_waiter = &t;
                pd.event_waiter = &t;  // an event ends the wait too
            }
            if ((v || events)) {
                if (pd.ioreq_waiter == &t) pd.ioreq_waiter = nullptr;
                if (pd.event_waiter == &t) pd.event_waiter = nullptr;
            }
        }
        if (events) return {Status::ok, 2};
        if (v) {
            (void)pd.space->copy_out(out, &req, sizeof req);  // checked above; the Pd's other threads cannot unmap it meanwhile (one CPU)
            return {Status::ok, 1};
        }
        if (deadline && arch::rdtsc() >= deadline) {
            arch::SpinGuard g(pd.lock);
            if (pd.ioreq_waiter == &t) pd.ioreq_waiter = nullptr;
            if (pd.event_waiter == &t) pd.event_waiter = nullptr;
            return {Status::ok, 0};
        }
        block_current(t, WaitFor::ioreq, deadline);
    }
}

Reply ioreq_complete(Thread& t, uint64_t h, uint64_t vcpu, uint64_t value)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_write);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.dead) return fail(Status::not_found);
    if (vcpu >= dom.vcpu_count) return fail(Status::out_of_range);
    if (value > 0xffffffffull) return fail(Status::invalid);
    Vcpu& v = *dom.vcpus[vcpu];
    {
        arch::SpinGuard g(t.pd->lock);
        if (v.ioreq.state != IoreqState::taken) return fail(Status::busy);  // nothing to complete
        v.ioreq.value = v.ioreq.in ? uint32_t(value) : v.ioreq.value;
        __atomic_store_n(&v.ioreq.state, IoreqState::done, __ATOMIC_RELEASE);
    }
    kick(v);
    return {};
}

}  // namespace hc
}  // namespace hv
