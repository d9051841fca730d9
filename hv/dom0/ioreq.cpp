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

bool mmio_forwarded(const Domain& d, uint64_t gpa)
{
    for (size_t i = 0; i < d.forwarded_mmio_count; ++i)
        if (gpa >= d.forwarded_mmio[i].base && gpa - d.forwarded_mmio[i].base < d.forwarded_mmio[i].size) return true;
    return false;
}

namespace {
void post(Vcpu& v, const Ioreq& r)
{
    Pd* dm = v.domain->dm;
    v.ioreq = r;
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
}  // namespace

void post_ioreq(Vcpu& v, uint16_t port, uint8_t size, bool in, uint32_t value, uint8_t insn_len)
{
    post(v, {IoreqState::posted, in, false, size, insn_len, port, in ? 0 : value});
}

void post_mmio_ioreq(Vcpu& v, uint64_t gpa, uint8_t size, bool write, uint64_t value)
{
    post(v, {IoreqState::posted, !write, true, size, 0, gpa, write ? value : 0});
}

void apply_ioreq(Vcpu& v)
{
    const Ioreq& r = v.ioreq;
    if (r.mmio) {
        // The instruction runs again and its emulation takes this result.
        MmioLog& log = v.mmio_log;
        if (log.count < MmioLog::max) log.e[log.count++] = {r.addr, r.value, r.size, !r.in};
        __atomic_store_n(&v.ioreq.state, IoreqState::none, __ATOMIC_RELEASE);
        return;
    }
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

Reply mmio_forward(Thread& t, uint64_t h, uint64_t gpa, uint64_t size)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.dead || dom.started) return fail(Status::busy);
    if (dom.dm != t.pd) return fail(Status::denied);
    if ((gpa | size) & 0xfff || size == 0 || gpa + size < gpa || gpa + size > (1ull << 46))
        return fail(Status::invalid);
    for (uint64_t a = gpa; a < gpa + size; a += 0x1000)
        if (dom.p2m.translate(a).ok() || find_mmio_handler(dom, a) || mmio_forwarded(dom, a))
            return fail(Status::exists);  // RAM, a grant or another device
    if (dom.forwarded_mmio_count == Domain::max_forwarded) return fail(Status::no_memory);
    dom.forwarded_mmio[dom.forwarded_mmio_count++] = {gpa, size};
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
                req.domain = v->domain->id;
                req.vcpu = v->id;
                req.addr = v->ioreq.addr;
                req.value = v->ioreq.value;
                req.size = v->ioreq.size;
                req.in = v->ioreq.in;
                req.kind = v->ioreq.mmio ? abi::IoKind::mmio : abi::IoKind::port;
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
    Vcpu& v = *dom.vcpus[vcpu];
    {
        arch::SpinGuard g(t.pd->lock);
        if (v.ioreq.state != IoreqState::taken) return fail(Status::busy);  // nothing to complete
        uint64_t mask = v.ioreq.size >= 8 ? ~0ull : (1ull << (8 * v.ioreq.size)) - 1;
        if (v.ioreq.in && (value & ~mask)) return fail(Status::invalid);  // wider than the access
        if (v.ioreq.in) v.ioreq.value = value;
        __atomic_store_n(&v.ioreq.state, IoreqState::done, __ATOMIC_RELEASE);
    }
    kick(v);
    return {};
}

}  // namespace hc
}  // namespace hv
