// Domain control hypercalls: create, destroy, pause, unpause, information,
// mapping guest RAM into the caller (domain builder, device models), vCPU
// boot state and scheduling parameters. Every argument is checked before
// anything changes; a refused call changes nothing.
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/smp.hpp"
#include "hv/dom0/hypercall_args.hpp"
#include "hv/dom0/hypercall_internal.hpp"
#include "hv/dom0/region.hpp"
#include "hv/dom0/registry.hpp"
#include "hv/domain/domain.hpp"
#include "hv/mem/frames.hpp"
#include "hv/sched/scheduler.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"
#include "lib/format.hpp"
#include "lib/str.hpp"

namespace hv::hc {
namespace {

using abi::Status;

lib::Result<Domain*, Status> live_domain(Thread& t, uint64_t h, obj::Rights need)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, need);
    if (!d) return d.error();
    if ((*d)->dead) return Status::not_found;
    return *d;
}

abi::RunState run_state(const Domain& d)
{
    if (d.dead) return abi::RunState::dying;
    switch (d.state) {
    case DomainState::building: return abi::RunState::building;
    case DomainState::running: return d.paused ? abi::RunState::paused : abi::RunState::running;
    case DomainState::shutdown: return abi::RunState::shutdown;
    case DomainState::crashed: return abi::RunState::crashed;
    }
    return abi::RunState::crashed;
}

abi::DomainInfo info_of(const Domain& d)
{
    abi::DomainInfo i{};
    i.id = d.id;
    i.state = run_state(d);
    lib::copy_cstr(i.name, sizeof i.name, d.name);
    i.memory = d.mem_bytes;
    i.vcpus = d.vcpu_count;
    i.exit_status_valid = d.has_exit_status;
    i.exit_value = d.exit_value;
    i.weight = d.sched_weight;
    i.cap = d.sched_cap;
    for (uint32_t k = 0; k < d.vcpu_count; ++k) {
        i.cpu_time_ns += vcpu_runtime_ns(*d.vcpus[k]);
        i.exits += d.vcpus[k]->exits_total;
    }
    lib::copy_cstr(i.reason, sizeof i.reason, d.stop_reason);
    return i;
}

// Stops every vCPU of d and takes them off their CPUs, backend state freed
// on the CPU that held it. The caller (a thread on some CPU) yields while
// other CPUs and its own loop do their part.
void stop_and_detach(Thread& t, Domain& d)
{
    if (d.state == DomainState::running || d.state == DomainState::building) shutdown_domain(d, "destroyed");
    d.release_hw = true;
    yield_until(t, [&] {
        bool done = true;
        for (uint32_t i = 0; i < d.vcpu_count; ++i) {
            Vcpu& v = *d.vcpus[i];
            if (v.running_on >= 0 || v.hw) {
                done = false;
                kick(v);
            }
        }
        return done;
    });
    if (d.started) detach_domain(d);
}

}  // namespace

Reply domain_create(Thread& t, uint64_t control, uint64_t cfg_ptr)
{
    if (auto st = check_control(*t.pd, control, obj::right_manage); st != Status::ok) return fail(st);
    abi::DomainConfig cfg;
    if (auto s = t.pd->space->copy_in(&cfg, cfg_ptr, sizeof cfg); !s.ok()) return fail_copy(s.error());
    HostLimits host{mem::free_memory_bytes(), arch::smp::online_count(), Domain::max_vcpus};
    if (auto st = check_domain_config(cfg, host); st != Status::ok) return fail(st);
    if (registry_find_name(cfg.name)) return fail(Status::exists);
    auto d = create_domain(cfg.name, cfg.memory, cfg.vcpus);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (cfg.weight) dom.sched_weight = cfg.weight;
    dom.sched_cap = cfg.cap;
    if (cfg.flags & abi::domain_flag::pause_exits) dom.pause.enabled = true;
    if (cfg.flags & abi::domain_flag::no_directed_yield) dom.directed_yield = false;
    dom.dm = t.pd;
    dom.paused = true;
    if (auto s = registry_add(dom); !s.ok()) {
        destroy_domain(&dom);
        return fail(s.error());
    }
    obj::Handle handle = obj::invalid_handle;
    lib::Error e = lib::Error::none;
    {
        arch::SpinGuard g(t.pd->lock);
        auto h = t.pd->caps.insert(&dom.kobj, obj::rights_all);
        if (h) handle = *h;
        else e = h.error();
    }
    if (e != lib::Error::none) {
        registry_remove(dom);  // drops the creator's reference: the domain goes
        return fail(e);
    }
    return {Status::ok, handle};
}

Reply domain_destroy(Thread& t, uint64_t h)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.dm_mappings) return fail(Status::busy);  // unmap its RAM first
    stop_and_detach(t, dom);
    drop_ioreqs(*t.pd, dom);
    close_event_pairs(*t.pd, dom);
    dom.dead = true;
    LOG_INFO("dom%u: '%s' destroyed (%lu exits)", dom.id, dom.name, info_of(dom).exits);
    obj::KObject* o = nullptr;
    {
        arch::SpinGuard g(t.pd->lock);
        auto r = t.pd->caps.remove(obj::Handle(h));
        if (r) o = *r;
    }
    registry_remove(dom);
    if (o) release_domain(dom);
    return {};
}

Reply domain_pause(Thread& t, uint64_t h, bool pause)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.state != DomainState::running && dom.state != DomainState::building) return fail(Status::busy);
    if (pause) {
        if (dom.paused) return fail(Status::busy);
        dom.paused = true;
        for (uint32_t i = 0; i < dom.vcpu_count; ++i) kick(*dom.vcpus[i]);
        return {};
    }
    if (!dom.paused) return fail(Status::busy);
    dom.paused = false;
    if (!dom.started) {
        dom.started = true;
        start_domain(dom);  // running; vCPU 0 from its boot state, the others wait for a SIPI
        return {};
    }
    for (uint32_t i = 0; i < dom.vcpu_count; ++i) kick(*dom.vcpus[i]);
    return {};
}

Reply domain_info(Thread& t, uint64_t h, uint64_t out)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_read);
    if (!d) return fail(d.error());
    abi::DomainInfo i = info_of(**d);
    if (auto s = t.pd->space->copy_out(out, &i, sizeof i); !s.ok()) return fail_copy(s.error());
    return {};
}

Reply domain_list(Thread& t, uint64_t control, uint64_t first_id, uint64_t out, uint64_t cap)
{
    if (auto st = check_control(*t.pd, control, obj::right_read); st != Status::ok) return fail(st);
    if (cap > 256) cap = 256;
    if (auto s = t.pd->space->check(out, cap * sizeof(abi::DomainInfo), true); !s.ok()) return fail_copy(s.error());
    uint64_t n = 0;
    registry_for_each(first_id, [&](const Domain& d) {
        if (n == cap) return false;
        abi::DomainInfo i = info_of(d);
        (void)t.pd->space->copy_out(out + n * sizeof i, &i, sizeof i);  // checked above
        ++n;
        return true;
    });
    return {Status::ok, n};
}

Reply domain_map(Thread& t, uint64_t h, uint64_t gpa, uint64_t size, uint64_t va, uint64_t flags)
{
    auto d = live_domain(t, h, obj::right_map);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (auto st = check_map_args(gpa, size, va, flags, ram_end(dom)); st != Status::ok) return fail(st);
    if (!is_ram(dom, gpa, size)) return fail(Status::out_of_range);  // holes, grants and devices are not RAM
    Pd& pd = *t.pd;
    GuestMapping* slot = reserve_mapping(pd, {va, 0, &dom, nullptr, false});
    if (!slot) return fail(Status::no_memory);
    // Page by page: guest RAM is made of chunks that need not be contiguous.
    uint64_t done = 0;
    lib::Status s;
    for (; done < size && s.ok(); done += arch::page_size) {
        auto hpa = dom.p2m.translate(gpa + done);
        if (!hpa) s = lib::err(lib::Error::out_of_range);
        else s = pd.space->map(va + done, *hpa, arch::page_size, {.write = bool(flags & 1)}, false);
    }
    if (!s.ok()) {
        if (done > arch::page_size) (void)pd.space->unmap(va, done - arch::page_size);
        cancel_mapping(pd, *slot);
        return fail(s.error());
    }
    dom.kobj.retain();
    ++dom.dm_mappings;
    commit_mapping(pd, *slot, size);
    return {};
}

Reply unmap(Thread& t, uint64_t va, uint64_t size)
{
    Pd& pd = *t.pd;
    GuestMapping m{};
    {
        arch::SpinGuard g(pd.lock);
        for (auto& x : pd.mappings)
            if (x.used() && x.size && x.va == va && x.size == size) {
                m = x;
                x = GuestMapping{};
                break;
            }
    }
    if (!m.used()) return fail(Status::not_found);
    (void)pd.space->unmap(va, size);  // flushes this CPU's TLB; the Pd's threads all run here
    if (m.domain) {
        --m.domain->dm_mappings;
        release_domain(*m.domain);
    } else if (m.region) {
        release_region(*m.region);
    }
    return {};
}

Reply vcpu_boot(Thread& t, uint64_t h, uint64_t vcpu, uint64_t boot)
{
    auto d = live_domain(t, h, obj::right_write);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.started) return fail(Status::busy);
    abi::VcpuBoot b;
    if (auto s = t.pd->space->copy_in(&b, boot, sizeof b); !s.ok()) return fail_copy(s.error());
    if (auto st = check_vcpu_boot(b, vcpu, dom.vcpu_count); st != Status::ok) return fail(st);
    Vcpu& v = *dom.vcpus[vcpu];
    v.boot_eip = uint32_t(b.rip);
    v.boot_eax = uint32_t(b.rax);
    v.boot_ebx = uint32_t(b.rbx);
    v.boot_esi = uint32_t(b.rsi);
    v.boot_edi = uint32_t(b.rdi);
    v.boot_pending = true;
    if (b.flags & abi::vcpu_boot_flag::virtual_wire) {
        // As SeaBIOS leaves the BSP's APIC: enabled, LINT0 ExtINT, LINT1 NMI.
        (void)v.lapic.mmio_write(0xf0, 4, 0x1ff, 0);
        (void)v.lapic.mmio_write(0x350, 4, 0x700, 0);
        (void)v.lapic.mmio_write(0x360, 4, 0x400, 0);
    }
    return {};
}

Reply vcpu_info(Thread& t, uint64_t h, uint64_t vcpu, uint64_t out)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_read);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (vcpu >= dom.vcpu_count) return fail(Status::out_of_range);
    const Vcpu& v = *dom.vcpus[vcpu];
    abi::VcpuInfo i{};
    i.vcpu = uint32_t(vcpu);
    i.cpu = v.cpu;
    i.state = uint32_t(dom.started && !dom.dead ? the_scheduler().state(v.sched) : sched::VcpuState::offline);
    if (dom.paused && dom.started) i.state = uint32_t(sched::VcpuState::paused);
    i.time_ns = vcpu_runtime_ns(v);
    i.exits = v.exits_total;
    i.affinity = v.cpu < 64 ? 1ull << v.cpu : 0;
    if (auto s = t.pd->space->copy_out(out, &i, sizeof i); !s.ok()) return fail_copy(s.error());
    return {};
}

Reply domain_sched(Thread& t, uint64_t h, uint64_t weight, uint64_t cap)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (auto st = check_sched_args(weight, cap, arch::smp::online_count()); st != Status::ok) return fail(st);
    uint32_t w = weight ? uint32_t(weight) : dom.sched_weight;
    uint32_t c = cap == ~0ull ? dom.sched_cap : uint32_t(cap);
    if (dom.started) {
        if (auto s = the_scheduler().set_group_params(dom.sched, w, c); !s.ok()) return fail(s.error());
    }
    dom.sched_weight = w;
    dom.sched_cap = c;
    return {};
}


Reply domain_shutdown(Thread& t, uint64_t h, uint64_t kind, uint64_t value)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.dead) return fail(abi::Status::not_found);
    if (kind > uint64_t(abi::ShutdownKind::crash) || value > 0xffffffffull) return fail(abi::Status::invalid);
    if (dom.state != DomainState::running) return fail(abi::Status::busy);
    dom.has_exit_status = true;
    dom.exit_value = uint32_t(value);
    char why[48];
    lib::format(why, sizeof why, "%s (exit value %#lx)",
                kind == 0 ? "powered off" : kind == 1 ? "rebooted" : "crashed", value);
    if (kind == uint64_t(abi::ShutdownKind::crash)) crash_domain(dom, "%s", why);
    else shutdown_domain(dom, why);
    for (uint32_t i = 0; i < dom.vcpu_count; ++i) kick(*dom.vcpus[i]);
    return {};
}


Reply domain_exits(Thread& t, uint64_t h, uint64_t out)
{
    auto d = lookup<Domain>(*t.pd, h, obj::ObjType::domain, obj::right_read);
    if (!d) return fail(d.error());
    const Domain& dom = **d;
    static_assert(unsigned(ExitReason::count_) <= abi::ExitCounts::max_reasons);
    abi::ExitCounts c{};
    for (unsigned r = 0; r < unsigned(ExitReason::count_); ++r) {
        uint64_t n = 0;
        for (uint32_t i = 0; i < dom.vcpu_count; ++i) n += dom.vcpus[i]->exits[r];
        if (!n) continue;
        auto& e = c.reasons[c.count++];
        lib::copy_cstr(e.name, sizeof e.name, exit_reason_name(ExitReason(r)));
        e.exits = n;
        c.total += n;
    }
    if (auto s = t.pd->space->copy_out(out, &c, sizeof c); !s.ok()) return fail_copy(s.error());
    return {};
}


Reply vcpu_pin(Thread& t, uint64_t h, uint64_t vcpu, uint64_t cpu)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (vcpu >= dom.vcpu_count) return fail(Status::out_of_range);
    if (cpu >= arch::smp::online_count() || !arch::cpus[cpu]) return fail(Status::out_of_range);
    Vcpu& v = *dom.vcpus[vcpu];
    if (!dom.started) {
        v.cpu = unsigned(cpu);
        v.placed = true;
        return {};
    }
    if (dom.state != DomainState::running) return fail(Status::busy);
    if (v.cpu == cpu) return {};
    request_migration(v, unsigned(cpu));
    // Its CPU hands it over at its next stop (a kick makes that soon).
    bool moved = yield_until(
        t, [&] { return (v.cpu == cpu && v.migrate_to < 0) || dom.state != DomainState::running; },
        2'000'000'000ull);
    if (!moved || v.cpu != cpu) return fail(Status::busy);
    v.placed = true;
    return {};
}


Reply domain_populate(Thread& t, uint64_t h, uint64_t gpa, uint64_t size)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.state != DomainState::running && dom.state != DomainState::building) return fail(Status::busy);
    if (size > mem::free_memory_bytes()) return fail(Status::no_memory);
    if (auto s = populate_ram(dom, gpa, size); !s.ok()) return fail(s.error());
    return {};
}

Reply domain_release(Thread& t, uint64_t h, uint64_t gpa, uint64_t size)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (dom.started && !dom.paused) return fail(Status::busy);  // a running vCPU may still use the pages
    if (dom.dm_mappings) return fail(Status::busy);              // and so may Dom0
    if ((gpa | size) & (arch::page_size - 1) || size == 0 || gpa + size < gpa) return fail(Status::invalid);
    if (!is_ram(dom, gpa, size)) return fail(Status::out_of_range);
    // Paused vCPUs may still be on their way out of guest mode.
    for (uint32_t i = 0; i < dom.vcpu_count; ++i) {
        Vcpu& v = *dom.vcpus[i];
        yield_until(t, [&] {
            if (v.running_on < 0) return true;
            kick(v);
            return false;
        });
    }
    if (auto s = release_ram(dom, gpa, size); !s.ok()) return fail(s.error());
    return {};
}


Reply vcpu_nmi(Thread& t, uint64_t h, uint64_t vcpu)
{
    auto d = live_domain(t, h, obj::right_manage);
    if (!d) return fail(d.error());
    Domain& dom = **d;
    if (vcpu >= dom.vcpu_count) return fail(Status::out_of_range);
    if (dom.state != DomainState::running) return fail(Status::busy);
    Vcpu& v = *dom.vcpus[vcpu];
    {
        arch::SpinGuard g(v.lock);
        raise_nmi(v);  // delivered before its next entry (or its NMI window)
    }
    kick(v);
    return {};
}

// Interrupts from device models. Allowed while the domain is being built or
// paused too (a device may raise its line before the first unpause); the
// vLAPICs hold them until the guest can take them.
Reply domain_irq(Thread& t, uint64_t h, uint64_t gsi, uint64_t level)
{
    auto d = live_domain(t, h, obj::right_write);
    if (!d) return fail(d.error());
    if (level > 2) return fail(Status::invalid);
    if (!set_irq_line(**d, uint32_t(gsi > 0xffffffffull ? 0xffffffffull : gsi), uint32_t(level)))
        return fail(Status::out_of_range);
    return {};
}

Reply domain_msi(Thread& t, uint64_t h, uint64_t address, uint64_t data)
{
    auto d = live_domain(t, h, obj::right_write);
    if (!d) return fail(d.error());
    if (data > 0xffffffffull) return fail(Status::invalid);
    if (!send_msi(**d, address, uint32_t(data))) return fail(Status::invalid);
    return {};
}

// A virtual PIC's INTR into vCPU 0: one vector at a time (busy until the
// vCPU took the last), so the PIC model never loses an acknowledged one.
Reply domain_extint(Thread& t, uint64_t h, uint64_t vector)
{
    auto d = live_domain(t, h, obj::right_write);
    if (!d) return fail(d.error());
    if (vector > 0xff) return fail(Status::invalid);
    Vcpu& v = *(**d).vcpus[0];
    {
        arch::SpinGuard g(v.lock);
        if (v.extint_pending) return fail(Status::busy);
        v.extint_pending = true;
        v.extint_vector = uint8_t(vector);
    }
    kick(v);
    return {};
}

}  // namespace hv::hc
