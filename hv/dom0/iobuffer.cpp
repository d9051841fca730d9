// Buffered writes and latched reads: forwarded ports a device model has made
// cheap, as Xen's buffered ioreqs do for writes that need no answer.
//   - A guest OUT to a buffered port is queued in the domain's ring and the
//     vCPU goes on; the device model's event port is raised and it drains the
//     ring (ioport_drain). When the ring is full the write is forwarded
//     synchronously, behind the queued ones.
//   - A 1-byte guest IN of a latched port answers the value the device model
//     published last (ioport_latch), with no round trip.
// A 16550's transmit path is the user: per byte, Linux reads LSR (latched:
// THRE) and writes THR (buffered), two round trips to Dom0 otherwise.
//
// Ordering is the device model's half of the contract: it drains the ring
// before it handles the domain's next synchronous request (so a guest's
// writes reach the device in program order), and it withdraws a latch while
// reading the register has a side effect or depends on queued writes.
#include "hv/dom0/hypercall_args.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/dom0/registry.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/vcpu.hpp"

namespace hv {

namespace {
constexpr uint32_t latch_valid = 0x100;

const BufferedPorts* buffered_range(const Domain& d, uint16_t port)
{
    for (size_t i = 0; i < d.buffered_count; ++i)
        if (port >= d.buffered[i].base && port - d.buffered[i].base < d.buffered[i].count) return &d.buffered[i];
    return nullptr;
}
}  // namespace

bool iobuf_write(Vcpu& v, uint16_t port, uint8_t size, uint32_t value)
{
    Domain& d = *v.domain;
    // buffered_count is fixed before the domain starts.
    const BufferedPorts* b = d.buffered_count ? buffered_range(d, port) : nullptr;
    if (!b || !d.dm) return false;
    {
        arch::SpinGuard g(d.iobuf_lock);
        if (d.iobuf_count == Domain::iobuf_capacity) return false;  // full: forwarded, after the queued ones
        d.iobuf[(d.iobuf_head + d.iobuf_count) % Domain::iobuf_capacity] = {port, size, uint8_t(v.id), value};
        ++d.iobuf_count;
    }
    send_to_dm(d, b->port);  // wakes the device model only when the port was not pending yet
    return true;
}

bool latch_read(const Domain& d, uint16_t port, uint32_t& value)
{
    uint32_t n = __atomic_load_n(&d.latch_count, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; ++i) {
        if (d.latches[i].port != port) continue;
        uint32_t w = __atomic_load_n(&d.latches[i].word, __ATOMIC_ACQUIRE);
        if (!(w & latch_valid)) return false;
        value = w & 0xff;
        return true;
    }
    return false;
}

namespace hc {

using abi::Status;

namespace {
// Every port of [base, base+count) is forwarded to the caller.
bool all_forwarded(const Domain& d, uint64_t base, uint64_t count)
{
    for (uint64_t p = base; p < base + count; ++p)
        if (!port_forwarded(d, uint16_t(p))) return false;
    return true;
}
}  // namespace

Reply ioport_buffer(Thread& t, uint64_t h, uint64_t base, uint64_t count)
{
    auto dr = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_manage);
    if (!dr) return fail(dr.error());
    Domain& d = **dr;
    if (d.dead || d.started) return fail(Status::busy);  // the exit path reads the ranges unlocked
    if (d.dm != t.pd) return fail(Status::denied);
    if (auto st = check_port_range(base, count); st != Status::ok) return fail(st);
    if (!all_forwarded(d, base, count)) return fail(Status::out_of_range);  // the caller emulates them
    for (size_t i = 0; i < d.buffered_count; ++i) {
        const auto& b = d.buffered[i];
        if (base < uint64_t(b.base) + b.count && b.base < base + count) return fail(Status::exists);
    }
    if (d.buffered_count == Domain::max_buffered) return fail(Status::no_memory);
    uint32_t dp = 0;
    auto mine = bind_event_pair(*t.pd, d, dp);
    if (!mine) return fail(mine.error());
    d.buffered[d.buffered_count++] = {uint16_t(base), uint16_t(count), dp};
    return {Status::ok, *mine};
}

Reply ioport_drain(Thread& t, uint64_t h, uint64_t out, uint64_t cap)
{
    auto dr = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_write);
    if (!dr) return fail(dr.error());
    Domain& d = **dr;
    if (d.dead) return fail(Status::not_found);
    if (d.dm != t.pd) return fail(Status::denied);
    if (cap == 0 || cap > Domain::iobuf_capacity) return fail(Status::out_of_range);
    Pd& pd = *t.pd;
    if (auto s = pd.space->check(out, cap * sizeof(abi::BufferedWrite), true); !s.ok()) return fail_copy(s.error());
    // In chunks through the stack: the ring's lock is not held across a copy
    // into the caller (one CPU runs the caller's threads, so the checked
    // buffer stays mapped meanwhile).
    uint64_t taken = 0;
    while (taken < cap) {
        abi::BufferedWrite chunk[32];
        uint64_t n = 0;
        {
            arch::SpinGuard g(d.iobuf_lock);
            uint64_t want = cap - taken < 32 ? cap - taken : 32;
            while (n < want && d.iobuf_count) {
                chunk[n++] = d.iobuf[d.iobuf_head];
                d.iobuf_head = (d.iobuf_head + 1) % Domain::iobuf_capacity;
                --d.iobuf_count;
            }
        }
        if (!n) break;
        (void)pd.space->copy_out(out + taken * sizeof(abi::BufferedWrite), chunk, n * sizeof(abi::BufferedWrite));
        taken += n;
    }
    return {Status::ok, taken};
}

Reply ioport_latch(Thread& t, uint64_t h, uint64_t port, uint64_t value)
{
    auto dr = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_write);
    if (!dr) return fail(dr.error());
    Domain& d = **dr;
    if (d.dead) return fail(Status::not_found);
    if (d.dm != t.pd) return fail(Status::denied);
    if (port > 0xffff) return fail(Status::out_of_range);
    if (value > 0xff && value != ~0ull) return fail(Status::invalid);
    if (!port_forwarded(d, uint16_t(port))) return fail(Status::out_of_range);
    uint32_t word = value == ~0ull ? 0 : uint32_t(value) | latch_valid;
    arch::SpinGuard g(d.iobuf_lock);  // serialises allocation; readers go lock-free
    uint32_t n = d.latch_count;
    for (uint32_t i = 0; i < n; ++i)
        if (d.latches[i].port == port) {
            __atomic_store_n(&d.latches[i].word, word, __ATOMIC_RELEASE);
            return {};
        }
    if (!word) return {};  // withdrawing a latch that never was
    if (n == Domain::max_latches) return fail(Status::no_memory);
    d.latches[n].port = uint16_t(port);
    d.latches[n].word = word;
    __atomic_store_n(&d.latch_count, n + 1, __ATOMIC_RELEASE);
    return {};
}

}  // namespace hc
}  // namespace hv
