// Hypercall dispatch: one bounded switch over the call number; each call
// decodes its registers, checks every pointer against the caller's address
// space (arch::UserSpace::check/copy_in/copy_out) and returns a Status with
// an optional value. Nothing a caller passes can fault the kernel.
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/user_mode.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/abi/hypercall.hpp"
#include "hv/console.hpp"
#include "hv/dom0/hypercall.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/dom0/pd.hpp"
#include "hv/dom0/region.hpp"
#include "hv/dom0/registry.hpp"
#include "hv/domain/domain.hpp"
#include "hv/dom0/thread.hpp"
#include "hv/mem/frames.hpp"
#include "hv/wall_clock.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"

namespace hv::hc {

// The control capability: the right to create domains and read the
// hypervisor's state. One object; Dom0 gets a handle at start.
constinit obj::KObject control_object{obj::ObjType::control, 1};

namespace {

using abi::Call;
using abi::Status;

// lib::Error and abi::Status share their first values.
static_assert(uint64_t(Status::invalid) == uint64_t(lib::Error::invalid));
static_assert(uint64_t(Status::no_memory) == uint64_t(lib::Error::no_memory));
static_assert(uint64_t(Status::not_found) == uint64_t(lib::Error::not_found));
static_assert(uint64_t(Status::denied) == uint64_t(lib::Error::denied));
static_assert(uint64_t(Status::corrupt) == uint64_t(lib::Error::corrupt));
static_assert(abi::rights::read == obj::right_read && abi::rights::write == obj::right_write);
static_assert(abi::rights::map == obj::right_map && abi::rights::manage == obj::right_manage);
static_assert(abi::rights::signal == obj::right_signal && abi::rights::dup == obj::right_dup);
static_assert(abi::rights::transfer == obj::right_transfer);
static_assert(uint32_t(abi::ObjectType::domain) == uint32_t(obj::ObjType::domain));
static_assert(uint32_t(abi::ObjectType::control) == uint32_t(obj::ObjType::control));

constexpr size_t max_console_write = 64 * 1024;
constexpr size_t chunk = 512;

uint64_t tsc_hz() { return arch::lapic::timer_info().tsc_hz; }

Reply console_write(Thread& t, uint64_t buf, uint64_t len)
{
    if (len > max_console_write) return fail(Status::out_of_range);
    if (auto s = t.pd->space->check(buf, len, false); !s.ok()) return fail_copy(s.error());
    char tmp[chunk];
    for (uint64_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (auto s = t.pd->space->copy_in(tmp, buf + off, n); !s.ok()) return fail_copy(s.error());
        console::write_dom0(tmp, n);
    }
    return {Status::ok, len};
}

Reply console_read(Thread& t, uint64_t buf, uint64_t cap, uint64_t timeout_ns)
{
    if (cap == 0) return fail(Status::invalid);
    if (cap > chunk) cap = chunk;
    if (auto s = t.pd->space->check(buf, cap, true); !s.ok()) return fail_copy(s.error());
    uint64_t deadline = timeout_ns == ~0ull ? 0 : arch::rdtsc() + ns_to_ticks(timeout_ns);
    while (!console::input_ready()) {
        if (deadline && arch::rdtsc() >= deadline) return {Status::ok, 0};
        t.woken = false;
        block_current(t, WaitFor::console_input, deadline);
    }
    char tmp[chunk];
    size_t n = console::read_input(tmp, cap);
    if (auto s = t.pd->space->copy_out(buf, tmp, n); !s.ok()) return fail_copy(s.error());
    return {Status::ok, n};
}

Reply log_read(Thread& t, uint64_t seq, uint64_t buf, uint64_t cap)
{
    if (cap < 2) return fail(Status::invalid);
    if (cap > 2048) cap = 2048;
    if (auto s = t.pd->space->check(buf, cap, true); !s.ok()) return fail_copy(s.error());
    char tmp[2048];
    size_t len = 0;
    uint64_t next = console::read_log(seq, tmp, cap, &len);
    if (auto s = t.pd->space->copy_out(buf, tmp, len + 1); !s.ok()) return fail_copy(s.error());
    return {Status::ok, next};
}

void copy_name(char* dst, size_t cap, const char* src) { lib::copy_cstr(dst, cap, src); }

Reply log_write(Thread& t, uint64_t level, uint64_t buf, uint64_t len)
{
    if (level > uint64_t(lib::LogLevel::debug)) return fail(Status::invalid);
    char line[240];
    if (len >= sizeof line) len = sizeof line - 1;  // long lines are cut, as the log ring does
    if (auto s = t.pd->space->copy_in(line, buf, len); !s.ok()) return fail_copy(s.error());
    line[len] = '\0';
    for (size_t i = 0; i < len; ++i)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';  // one record per call
    lib::log(lib::LogLevel(level), "%s: %s", t.pd->id == 0 ? "dom0" : t.pd->name, line);
    return {};
}

Reply system_info(Thread& t, uint64_t out)
{
    abi::SystemInfo si{};
    copy_name(si.hv_version, sizeof si.hv_version, "0.1.0");
    copy_name(si.backend, sizeof si.backend,
              arch::virt::caps().vendor == arch::virt::Vendor::svm   ? "svm"
              : arch::virt::caps().vendor == arch::virt::Vendor::vmx ? "vmx"
                                                                     : "none");
    si.cpu_count = arch::smp::online_count();
    si.numa_nodes = mem::frame_allocator().node_count();
    si.tsc_hz = tsc_hz();
    si.total_memory = mem::frame_allocator().total_frames() * 4096;
    si.free_memory = mem::free_memory_bytes();
    si.free_frames = si.free_memory / 4096;
    {
        arch::SpinGuard g(t.pd->lock);
        for (const Thread* th = t.pd->threads; th; th = th->next_in_pd) si.caller_cpu_ns += th->sched.runtime_ns();
    }
    si.wall_clock_ns = wall_clock_ns();
    si.uptime_ns = ticks_to_ns(arch::rdtsc());
    auto v = arch::cpuid(0);
    __builtin_memcpy(si.cpu_vendor, &v.ebx, 4);
    __builtin_memcpy(si.cpu_vendor + 4, &v.edx, 4);
    __builtin_memcpy(si.cpu_vendor + 8, &v.ecx, 4);
    if (arch::cpuid(0x80000000).eax >= 0x80000004) {
        for (uint32_t i = 0; i < 3; ++i) {
            auto r = arch::cpuid(0x80000002 + i);
            __builtin_memcpy(si.cpu_model + 16 * i, &r, 16);
        }
        si.cpu_model[47] = '\0';
    }
    if (auto s = t.pd->space->copy_out(out, &si, sizeof si); !s.ok()) return fail_copy(s.error());
    return {};
}

Reply handle_close(Thread& t, uint64_t h)
{
    if (h > 0xffffffffull) return fail(Status::not_found);
    obj::KObject* o = nullptr;
    {
        arch::SpinGuard g(t.pd->lock);
        auto r = t.pd->caps.remove(obj::Handle(h));
        if (!r) return fail(r.error());
        o = *r;
    }
    if (o->type == obj::ObjType::domain) release_domain(*reinterpret_cast<Domain*>(o));
    else if (o->type == obj::ObjType::region) release_region(*reinterpret_cast<Region*>(o));
    else (void)o->release();  // the control object is never freed: it keeps its own reference
    return {};
}

Reply handle_info(Thread& t, uint64_t h, uint64_t out)
{
    abi::HandleInfo i{};
    {
        if (h > 0xffffffffull) return fail(Status::not_found);
        arch::SpinGuard g(t.pd->lock);
        auto o = t.pd->caps.lookup(obj::Handle(h), obj::ObjType::none, 0);
        if (!o) return fail(o.error());
        i.type = abi::ObjectType(uint32_t((*o)->type));
        i.rights = t.pd->caps.rights(obj::Handle(h)).value_or(0);
        i.koid = (*o)->type == obj::ObjType::domain ? reinterpret_cast<Domain*>(*o)->id : 0;
    }
    if (auto s = t.pd->space->copy_out(out, &i, sizeof i); !s.ok()) return fail_copy(s.error());
    return {};
}

Reply handle_dup(Thread& t, uint64_t h, uint64_t rights)
{
    if (h > 0xffffffffull) return fail(Status::not_found);
    if (rights & ~uint64_t(obj::rights_all)) return fail(Status::invalid);
    arch::SpinGuard g(t.pd->lock);
    auto n = t.pd->caps.duplicate(obj::Handle(h), obj::Rights(rights));
    if (!n) return fail(n.error());
    return {Status::ok, *n};
}

Reply thread_create(Thread& t, uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t cpu)
{
    // A Pd's threads share one CPU for now: unmapping then needs no TLB
    // shootdown on other CPUs.
    if (cpu != ~0ull && cpu != t.cpu) return fail(Status::unsupported);
    if (rip >= arch::user_top || rsp > arch::user_top || (rsp & 7)) return fail(Status::invalid);
    auto n = create_thread(*t.pd, rip, rsp, arg, t.cpu);
    if (!n) return fail(n.error());
    return {Status::ok, (*n)->id};
}

Reply dispatch(Thread& t, const arch::InterruptFrame& f)
{
    if (f.rax >= uint64_t(Call::count_)) return fail(Status::bad_call);
    switch (Call(f.rax)) {
    case Call::console_write: return console_write(t, f.rdi, f.rsi);
    case Call::console_read: return console_read(t, f.rdi, f.rsi, f.rdx);
    case Call::log_read: return log_read(t, f.rdi, f.rsi, f.rdx);
    case Call::system_info: return system_info(t, f.rdi);
    case Call::clock: return {Status::ok, ticks_to_ns(arch::rdtsc())};
    case Call::thread_exit: exit_current(t, int64_t(f.rdi));
    case Call::yield:
        t.yield_requested = true;
        thread_switch_out(t);
        return {};
    case Call::sleep: {
        uint64_t until = arch::rdtsc() + ns_to_ticks(f.rdi);
        while (arch::rdtsc() < until) block_current(t, WaitFor::time, until);
        return {};
    }
    case Call::handle_close: return handle_close(t, f.rdi);
    case Call::handle_info: return handle_info(t, f.rdi, f.rsi);
    case Call::thread_create: return thread_create(t, f.rdi, f.rsi, f.rdx, f.r10);
    case Call::domain_create: return domain_create(t, f.rdi, f.rsi);
    case Call::domain_destroy: return domain_destroy(t, f.rdi);
    case Call::domain_pause: return domain_pause(t, f.rdi, true);
    case Call::domain_unpause: return domain_pause(t, f.rdi, false);
    case Call::domain_info: return domain_info(t, f.rdi, f.rsi);
    case Call::domain_list: return domain_list(t, f.rdi, f.rsi, f.rdx, f.r10);
    case Call::domain_map: return domain_map(t, f.rdi, f.rsi, f.rdx, f.r10, f.r8);
    case Call::unmap: return unmap(t, f.rdi, f.rsi);
    case Call::vcpu_boot: return vcpu_boot(t, f.rdi, f.rsi, f.rdx);
    case Call::vcpu_info: return vcpu_info(t, f.rdi, f.rsi, f.rdx);
    case Call::domain_sched: return domain_sched(t, f.rdi, f.rsi, f.rdx);
    case Call::ioport_forward: return ioport_forward(t, f.rdi, f.rsi, f.rdx);
    case Call::ioreq_wait: return ioreq_wait(t, f.rdi, f.rsi);
    case Call::ioreq_complete: return ioreq_complete(t, f.rdi, f.rsi, f.rdx);
    case Call::domain_shutdown: return domain_shutdown(t, f.rdi, f.rsi, f.rdx);
    case Call::log_write: return log_write(t, f.rdi, f.rsi, f.rdx);
    case Call::handle_dup: return handle_dup(t, f.rdi, f.rsi);
    case Call::evtchn_wait: return evtchn_wait(t, f.rdi);
    case Call::evtchn_send: return evtchn_send(t, f.rdi);
    case Call::evtchn_close: return evtchn_close(t, f.rdi);
    case Call::ioevent_bind: return ioevent_bind(t, f.rdi, f.rsi, false);
    case Call::ioevent_bind_mmio: return ioevent_bind(t, f.rdi, f.rsi, true);
    case Call::vcpu_nmi: return vcpu_nmi(t, f.rdi, f.rsi);
    case Call::domain_irq: return domain_irq(t, f.rdi, f.rsi, f.rdx);
    case Call::domain_msi: return domain_msi(t, f.rdi, f.rsi, f.rdx);
    case Call::domain_extint: return domain_extint(t, f.rdi, f.rsi);
    case Call::ioport_buffer: return ioport_buffer(t, f.rdi, f.rsi, f.rdx);
    case Call::ioport_drain: return ioport_drain(t, f.rdi, f.rsi, f.rdx);
    case Call::ioport_latch: return ioport_latch(t, f.rdi, f.rsi, f.rdx);
    case Call::evtchn_bind_vector: return evtchn_bind_vector(t, f.rdi, f.rsi, f.rdx);
    case Call::domain_exits: return domain_exits(t, f.rdi, f.rsi);
    case Call::vcpu_pin: return vcpu_pin(t, f.rdi, f.rsi, f.rdx);
    case Call::mmio_forward: return mmio_forward(t, f.rdi, f.rsi, f.rdx);
    case Call::region_create: return region_create(t, f.rdi);
    case Call::region_map: return region_map(t, f.rdi, f.rsi, f.rdx);
    case Call::region_grant: return region_grant(t, f.rdi, f.rsi, f.rdx, f.r10);
    case Call::device_ports: return device_ports(t, f.rdi, f.rsi, f.rdx);
    case Call::device_mmio_map: return device_mmio_map(t, f.rdi, f.rsi, f.rdx, f.r10);
    case Call::region_phys: return region_phys(t, f.rdi);
    case Call::device_irq_bind: return device_irq_bind(t, f.rdi, f.rsi);
    case Call::device_irq_ack: return device_irq_ack(t, f.rdi);
    case Call::pci_config_read: return pci_config_read(t, f.rdi, f.rsi, f.rdx);
    case Call::pci_config_write: return pci_config_write(t, f.rdi, f.rsi, f.rdx, f.r10);
    case Call::device_msi_bind: return device_msi_bind(t, f.rdi, f.rsi);
    case Call::domain_populate: return domain_populate(t, f.rdi, f.rsi, f.rdx);
    case Call::domain_release: return domain_release(t, f.rdi, f.rsi, f.rdx);
    case Call::count_: break;
    }
    return fail(Status::bad_call);
}

// A fault in ring 3 ends the faulting thread with a report; the host and
// every other thread go on.
void on_user_exception(arch::InterruptFrame& f)
{
    Thread* t = current_thread();
    if (!t) return;
    LOG_ERROR("%s: thread %u killed: %s (error %#lx) at rip %#lx rsp %#lx cr2 %#lx", t->pd->name, t->id,
              arch::exception_name(f.vector), f.error_code, f.rip, f.rsp, arch::read_cr2());
    t->pd->crashed = true;
    exit_current(*t, -int64_t(f.vector) - 1);
}

}  // namespace

abi::Status check_control(Pd& pd, uint64_t handle, obj::Rights need)
{
    auto c = lookup<obj::KObject>(pd, handle, obj::ObjType::control, need);
    return c ? Status::ok : c.error();
}

GuestMapping* reserve_mapping(Pd& pd, const GuestMapping& m)
{
    arch::SpinGuard g(pd.lock);
    for (auto& slot : pd.mappings)
        if (!slot.used()) {
            slot = m;
            slot.size = 0;  // not found by unmap until committed
            return &slot;
        }
    return nullptr;
}

void commit_mapping(Pd& pd, GuestMapping& slot, uint64_t size)
{
    arch::SpinGuard g(pd.lock);
    slot.size = size;
}

void cancel_mapping(Pd& pd, GuestMapping& slot)
{
    arch::SpinGuard g(pd.lock);
    slot = GuestMapping{};
}

uint64_t ns_to_ticks(uint64_t ns) { return ns / 1'000'000'000ull * tsc_hz() + ns % 1'000'000'000ull * tsc_hz() / 1'000'000'000ull; }
uint64_t ticks_to_ns(uint64_t t) { return t / tsc_hz() * 1'000'000'000ull + t % tsc_hz() * 1'000'000'000ull / tsc_hz(); }

}  // namespace hv::hc

namespace hv {
void init_hypercalls() { arch::set_user_exception_hook(hc::on_user_exception); }

lib::Result<obj::Handle> grant_control(Pd& pd)
{
    arch::SpinGuard g(pd.lock);
    return pd.caps.insert(&hc::control_object, obj::rights_all);
}
}  // namespace hv

extern "C" void syscall_dispatch(arch::InterruptFrame* f)
{
    hv::Thread* t = hv::current_thread();
    if (!t) return;  // cannot happen: only threads enter through SYSCALL
    t->frame = f;
    hv::hc::Reply r = hv::hc::dispatch(*t, *f);
    f->rax = uint64_t(r.status);
    f->rdx = r.value;
    t->frame = nullptr;
}
