#include "hv/vcpu/cpu_loop.hpp"

#include "arch/x86_64/address_space.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/fpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "arch/x86_64/user_mode.hpp"
#include "arch/x86_64/virt/virt.hpp"
#include "hv/dom0/pd.hpp"
#include "hv/dom0/thread.hpp"
#include "hv/domain/domain.hpp"
#include "hv/sched/scheduler.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

constexpr unsigned max_per_cpu = 16;

// Per physical CPU: the scheduler's run-queue lock for that CPU, and the
// vCPUs pinned there (polled for wakeups while they are blocked). With hard
// pinning every scheduler call for a vCPU is made on its own CPU, under this
// lock; start_domain/detach_domain take it from the domain's control path.
struct CpuQueue {
    arch::SpinLock lock;
    Vcpu* vcpus[max_per_cpu] = {};
    unsigned count = 0;
    Thread* threads[max_per_cpu] = {};
    unsigned thread_count = 0;
    // While a thread runs: the loop's own stack pointer (context_switch) and
    // the thread.
    uint64_t loop_rsp = 0;
    Thread* current = nullptr;
};
constinit CpuQueue queues[arch::max_cpus];
constinit sched::Scheduler scheduler;

// Slices as the round-robin loop had them (10 ms); the rest are the
// policy's defaults.
constexpr sched::SchedConfig sched_config{.slice_us = 10'000, .wake_credit_us = 10'000};

void kick_handler(arch::InterruptFrame&) { arch::lapic::eoi(); }

// The scheduler's clock: nanoseconds from the TSC (synchronised across CPUs).
uint64_t tsc_to_ns(uint64_t tsc)
{
    uint64_t hz = arch::lapic::timer_info().tsc_hz;
    return tsc / hz * 1'000'000'000ull + tsc % hz * 1'000'000'000ull / hz;
}

// The TSC value `until` (scheduler ns) corresponds to, given a pair read together.
uint64_t ns_to_tsc(uint64_t until, uint64_t now_ns, uint64_t now_tsc)
{
    if (until <= now_ns) return now_tsc;
    return now_tsc + (until - now_ns) * arch::lapic::timer_info().tsc_hz / 1'000'000'000ull;
}

Runnable* runnable_of(sched::SchedVcpu* s) { return s ? static_cast<Runnable*>(s->owner()) : nullptr; }

// How often a thread waiting for console input looks at the UART.
constexpr uint64_t console_poll_ns = 5'000'000;

void kick_cpu(unsigned cpu)
{
    if (cpu >= arch::max_cpus) return;
    if (arch::percpu_ready() && cpu == arch::this_cpu().index) return;  // it decides again anyway
    arch::PerCpu* c = arch::cpus[cpu];
    if (c) arch::lapic::send_ipi(c->apic_id, arch::lapic::IpiKind::fixed, arch::vector::ipi_kick);
}

void send_kicks(const sched::Kick& k)
{
    if (k.resched_cpu != sched::no_cpu) kick_cpu(k.resched_cpu);
    if (k.idle_cpu != sched::no_cpu) kick_cpu(k.idle_cpu);
}

// Under the CPU's lock: blocked (HLT) or not yet started vCPUs here that can
// run now (an interrupt, a timer, a SIPI) become runnable in the scheduler.
void poll_wakeups(CpuQueue& q, uint64_t now)
{
    for (unsigned i = 0; i < q.count; ++i) {
        Vcpu& v = *q.vcpus[i];
        // A destroyed domain's backend state goes on the CPU that holds it.
        if (v.domain->release_hw && v.hw && v.running_on < 0) {
            v.hw->destroy();
            v.hw = nullptr;
            if (arch::this_cpu().fpu_owner == &v.fpu) arch::this_cpu().fpu_owner = nullptr;
        }
        if (v.domain->state != DomainState::running || v.domain->paused) continue;
        auto st = scheduler.state(v.sched);
        if (st != sched::VcpuState::blocked && st != sched::VcpuState::offline) continue;
        if (!v.sched.group() || !wake_if_pending(v)) continue;
        auto k = scheduler.wake(v.sched, now);
        if (k.ok()) send_kicks(*k);
    }
    uint64_t tsc = arch::rdtsc();
    for (unsigned i = 0; i < q.thread_count; ++i) {
        Thread& t = *q.threads[i];
        if (t.state != ThreadState::blocked || !thread_wait_over(t, tsc)) continue;
        t.state = ThreadState::runnable;
        auto k = scheduler.wake(t.sched, now);
        if (k.ok()) send_kicks(*k);
    }
}

// Nothing runnable: when to wake up at the latest (TSC, 0 = no timer): the
// earliest timer of a halted vCPU here, or `until` (a capped domain's budget
// refill). Under the CPU's lock.
uint64_t idle_deadline(const CpuQueue& q, uint64_t until)
{
    uint64_t wake = until;
    for (unsigned i = 0; i < q.count; ++i) {
        uint64_t t = vcpu_wakeup_time(*q.vcpus[i]);
        if (t && (!wake || t < wake)) wake = t;
    }
    for (unsigned i = 0; i < q.thread_count; ++i) {
        const Thread& th = *q.threads[i];
        if (th.state != ThreadState::blocked) continue;
        uint64_t t = th.wake_tsc;
        if (th.wait == WaitFor::console_input) {
            uint64_t poll = arch::rdtsc() + console_poll_ns * arch::lapic::timer_info().tsc_hz / 1'000'000'000ull;
            if (!t || poll < t) t = poll;
        }
        if (t && (!wake || t < wake)) wake = t;
    }
    return wake;
}

// Sleeps until a kick, a host interrupt, or `wake` (TSC, 0 = none).
void idle(uint64_t wake)
{
    if (wake) {
        uint64_t now = arch::rdtsc(), hz = arch::lapic::timer_info().tsc_hz;
        uint64_t delta = wake > now ? wake - now : 1;
        if (delta > hz) delta = hz;
        arch::lapic::arm_oneshot(delta * 1'000'000'000ull / hz + 1, arch::vector::lapic_timer);
    }
    arch::sti();
    arch::halt();
    arch::cli();
}

// A sibling of v queued on this CPU (the next after v in the CPU's list), as
// a directed-yield target when the scheduler's preferred one is pinned
// elsewhere; yield_to checks that it was preempted (else a plain yield).
sched::SchedVcpu* local_sibling(const CpuQueue& q, const Vcpu& v)
{
    unsigned at = 0;
    while (at < q.count && q.vcpus[at] != &v) ++at;
    for (unsigned k = 1; k < q.count; ++k) {
        Vcpu& s = *q.vcpus[(at + k) % q.count];
        if (s.domain == v.domain && scheduler.state(s.sched) == sched::VcpuState::runnable) return &s.sched;
    }
    return nullptr;
}

// Under this CPU's lock: vCPUs asked to move (xl vcpu-pin) that are not in
// guest mode leave this CPU's queue and the scheduler; their backend state
// is detached here (VMCLEAR) and their FPU state saved. migrate_in() then
// adds them on the new CPU, under that CPU's lock only.
unsigned migrate_out(CpuQueue& q, Vcpu** moving, unsigned cap)
{
    unsigned n = 0;
    for (unsigned i = 0; i < q.count && n < cap;) {
        Vcpu& v = *q.vcpus[i];
        int to = v.migrate_to;
        if (to < 0 || v.running_on >= 0 || unsigned(to) == v.cpu) {
            if (to >= 0 && unsigned(to) == v.cpu) v.migrate_to = -1;
            ++i;
            continue;
        }
        uint64_t ran = v.sched.runtime_ns();
        if (!scheduler.remove_vcpu(v.sched).ok()) {
            ++i;
            continue;
        }
        v.runtime_carry_ns += ran;
        if (v.hw) v.hw->unload();
        arch::fpu_release(arch::this_cpu().fpu_owner, &v.fpu);
        v.host_timer_for = 0;
        v.p2m_generation = ~0ull;  // flush its guest TLB on the new CPU
        q.vcpus[i] = q.vcpus[--q.count];
        moving[n++] = &v;
    }
    return n;
}

void migrate_in(Vcpu& v)
{
    unsigned to = unsigned(v.migrate_to);
    CpuQueue& q = queues[to];
    {
        arch::SpinGuard g(q.lock);
        sched::CpuMask only;
        only.set(to);
        if (q.count == max_per_cpu || !scheduler.add_vcpu(v.sched, v.domain->sched, only, static_cast<Runnable*>(&v)).ok()) {
            crash_domain(*v.domain, "vCPU %u could not move to CPU %u", v.id, to);
            to = v.cpu;  // left off every queue: the domain is stopped
        } else {
            q.vcpus[q.count++] = &v;
        }
        v.cpu = to;
        v.migrate_to = -1;
    }
    kick_cpu(to);
}

// Runs thread t on this CPU until it blocks, yields, ends or its slice ends
// (slice_end, TSC). Interrupts are off.
void run_thread(CpuQueue& q, Thread& t, uint64_t slice_end)
{
    t.slice_end = slice_end;
    uint64_t now = arch::rdtsc(), hz = arch::lapic::timer_info().tsc_hz;
    uint64_t delta = slice_end > now ? slice_end - now : 1;
    if (delta > hz) delta = hz;
    arch::lapic::arm_oneshot(delta * 1'000'000'000ull / hz + 1, arch::vector::lapic_timer);
    // A VMX guest may have left its SYSCALL MSRs loaded here: five WRMSRs
    // only then (or the first time), not at every switch.
    arch::PerCpu& cpu = arch::this_cpu();
    if (arch::virt::reclaim_syscall_msrs() || !cpu.syscall_msrs_loaded) {
        arch::load_syscall_msrs();
        cpu.syscall_msrs_loaded = true;
    }
    arch::enter_thread_context(pd_cr3(*t.pd), t.pd->space->generation(), t.kstack_top);
    arch::load_io_bitmap(t.pd->io_bitmap, t.pd->io_bitmap_gen);
    q.current = &t;
    context_switch(&q.loop_rsp, t.saved_rsp);
    q.current = nullptr;
}

// One decision on CPU `me`: runs the vCPU or thread the scheduler picks until
// its slice ends (or it halts, blocks or yields), or idles. Interrupts are off.
void schedule_once(unsigned me)
{
    CpuQueue& q = queues[me];
    uint64_t tsc = arch::rdtsc();
    uint64_t now = tsc_to_ns(tsc);
    sched::Decision dec;
    Runnable* r = nullptr;
    uint64_t wake = 0;
    Vcpu* moving[max_per_cpu];
    unsigned moving_count = 0;
    {
        arch::SpinGuard g(q.lock);
        moving_count = migrate_out(q, moving, max_per_cpu);
        poll_wakeups(q, now);
        for (;;) {
            dec = scheduler.pick_next(me, now);
            // Every vCPU's and thread's affinity is exactly its own CPU: nothing migrates.
            if (dec.migrate) LOG_ERROR("cpu%u: scheduler migrates a pinned vCPU", me);
            r = runnable_of(dec.next);
            if (!r) break;
            if (r->run_kind == RunKind::thread) {
                auto& t = static_cast<Thread&>(*r);
                if (t.state == ThreadState::runnable) {
                    t.running_on = int(me);
                    break;
                }
                (void)scheduler.block(t.sched, now);
                r = nullptr;
                continue;
            }
            auto& v = static_cast<Vcpu&>(*r);
            if (v.domain->state == DomainState::running && !v.domain->paused && wake_if_pending(v)) {
                v.running_on = int(me);
                break;
            }
            // Not runnable after all (its domain stopped, or an INIT came).
            (void)scheduler.block(v.sched, now);
            r = nullptr;
        }
        if (!r) wake = idle_deadline(q, dec.until ? ns_to_tsc(dec.until, now, tsc) : 0);
    }
    for (unsigned i = 0; i < moving_count; ++i) migrate_in(*moving[i]);
    if (!r) {
        idle(wake);
        return;
    }
    if (r->run_kind == RunKind::thread) {
        auto& t = static_cast<Thread&>(*r);
        run_thread(q, t, ns_to_tsc(dec.until, now, tsc));
        now = tsc_to_ns(arch::rdtsc());
        arch::SpinGuard g(q.lock);
        if (t.state == ThreadState::dead) {
            (void)scheduler.block(t.sched, now);
            (void)scheduler.remove_vcpu(t.sched);
            unsigned out = 0;
            for (unsigned i = 0; i < q.thread_count; ++i)
                if (q.threads[i] != &t) q.threads[out++] = q.threads[i];
            q.thread_count = out;
            // Its address space may go with it: do not keep running on it.
            arch::load_kernel_cr3();
            t.running_on = -1;
            thread_reaped(t);
            return;
        }
        if (t.state == ThreadState::blocked) {
            (void)scheduler.block(t.sched, now);
        } else if (t.yield_requested) {
            t.yield_requested = false;
            auto y = scheduler.yield_to(t.sched, nullptr, now);
            if (y.ok()) send_kicks(y->kick);
        }
        t.running_on = -1;
        return;
    }
    Vcpu* v = static_cast<Vcpu*>(r);
    run_vcpu(*v, ns_to_tsc(dec.until, now, tsc));
    now = tsc_to_ns(arch::rdtsc());
    arch::cli();
    arch::SpinGuard g(q.lock);
    if (v->domain->state != DomainState::running || v->domain->paused || v->state != VcpuState::runnable) {
        // Halted (woken by poll_wakeups), waiting for a SIPI, or stopped.
        (void)scheduler.block(v->sched, now);
    } else if (v->migrate_to >= 0 && unsigned(v->migrate_to) != me) {
        // Asked to move (xl vcpu-pin): off the scheduler here so that
        // migrate_out can take it; the new CPU wakes it (poll_wakeups).
        (void)scheduler.block(v->sched, now);
    } else if (v->yield_requested) {
        // A PAUSE-loop exit (the domain has directed yield on): give up the
        // slice, to a preempted sibling on this CPU if there is one (the
        // likely lock holder). Siblings on other CPUs are pinned there.
        v->yield_requested = false;
        sched::SchedVcpu* target = scheduler.yield_candidate(v->sched);
        if (target && target->cpu() != me) target = local_sibling(q, *v);
        auto y = scheduler.yield_to(v->sched, target, now);
        if (y.ok()) {
            if (y->target) ++v->directed_yields;
            send_kicks(y->kick);
        }
    }
    // Otherwise its slice ended: the next pick_next charges and requeues it.
    v->running_on = -1;
}

// A ring-3 interrupt on this CPU: the running thread gives the CPU back when
// its slice is over or a kick asks the loop to decide again.
void on_user_interrupt(arch::InterruptFrame& f)
{
    CpuQueue& q = queues[arch::this_cpu().index];
    Thread* t = q.current;
    if (!t) return;
    if (f.vector == arch::vector::ipi_kick || arch::rdtsc() >= t->slice_end) thread_switch_out(*t);
}

// A domain whose every vCPU is blocked for good can never run again.
void check_all_blocked(Domain& d)
{
    if (d.state != DomainState::running) return;
    for (uint32_t i = 0; i < d.vcpu_count; ++i)
        if (!blocked_for_good(*d.vcpus[i])) return;
    shutdown_domain(d, "every vCPU halted with nothing left to wake it");
    for (uint32_t i = 0; i < d.vcpu_count; ++i) kick(*d.vcpus[i]);
}

}  // namespace

void cpu_loop_init()
{
    arch::set_interrupt_handler(arch::vector::ipi_kick, kick_handler);
    arch::set_user_interrupt_hook(on_user_interrupt);
    // Every CPU index may take part; with hard pinning a CPU without vCPUs
    // simply never has any queued.
    if (auto s = scheduler.init(arch::max_cpus, sched_config); !s.ok())
        LOG_ERROR("scheduler: init failed: %s", lib::error_name(s.error()));
}

sched::Scheduler& the_scheduler() { return scheduler; }

void cpu_loop_run() { cpu_loop_ap(); }

void cpu_loop_ap()
{
    unsigned me = arch::this_cpu().index;
    for (;;) {
        arch::cli();
        schedule_once(me);
    }
}

void cpu_loop_until_domain_done(Domain& d)
{
    unsigned me = arch::this_cpu().index;
    for (;;) {
        arch::cli();
        check_all_blocked(d);
        bool on_cpu = false;
        for (uint32_t i = 0; i < d.vcpu_count; ++i) on_cpu |= d.vcpus[i]->running_on >= 0;
        if (d.state != DomainState::running && !on_cpu) break;
        schedule_once(me);
    }
    arch::sti();
}

void start_domain(Domain& d)
{
    unsigned cpus = arch::smp::online_count();
    if (auto s = scheduler.add_group(d.sched, d.sched_weight, d.sched_cap, &d); !s.ok()) {
        crash_domain(d, "scheduler refused weight %u cap %u: %s", d.sched_weight, d.sched_cap,
                     lib::error_name(s.error()));
        return;
    }
    d.state = DomainState::running;
    for (uint32_t i = 0; i < d.vcpu_count; ++i) {
        Vcpu& v = *d.vcpus[i];
        unsigned c = v.placed ? v.cpu : i % cpus;
        if (c >= arch::max_cpus || !arch::cpus[c]) c = 0;
        v.cpu = c;
        CpuQueue& q = queues[c];
        arch::SpinGuard g(q.lock);
        if (q.count == max_per_cpu) {
            crash_domain(d, "more than %u vCPUs on CPU %u", max_per_cpu, c);
            return;
        }
        // Hard pinning: a VMCS cannot move between CPUs yet.
        sched::CpuMask only;
        only.set(c);
        if (auto s = scheduler.add_vcpu(v.sched, d.sched, only, &v); !s.ok()) {
            crash_domain(d, "vCPU %u: scheduler refused it: %s", v.id, lib::error_name(s.error()));
            return;
        }
        q.vcpus[q.count++] = &v;
    }
    // Each CPU starts its vCPUs (poll_wakeups) when it next looks.
    for (uint32_t i = 0; i < d.vcpu_count; ++i) kick(*d.vcpus[i]);
}

void detach_domain(Domain& d)
{
    for (uint32_t i = 0; i < d.vcpu_count; ++i) {
        Vcpu& v = *d.vcpus[i];
        // A CPU that picked it after the domain stopped blocks it at once.
        for (;;) {
            lib::Status s;
            {
                CpuQueue& q = queues[v.sched.cpu()];
                arch::SpinGuard g(q.lock);
                s = scheduler.remove_vcpu(v.sched);
            }
            if (s.ok() || s.error() != lib::Error::busy) break;
            arch::pause();
        }
    }
    (void)scheduler.remove_group(d.sched);
    for (unsigned c = 0; c < arch::max_cpus; ++c) {
        CpuQueue& q = queues[c];
        arch::SpinGuard g(q.lock);
        unsigned out = 0;
        for (unsigned i = 0; i < q.count; ++i)
            if (q.vcpus[i]->domain != &d) q.vcpus[out++] = q.vcpus[i];
        q.count = out;
    }
}

void kick(Vcpu& v) { kick_cpu(v.cpu); }

void request_migration(Vcpu& v, unsigned cpu)
{
    v.migrate_to = int(cpu);
    kick_cpu(v.cpu);
}

lib::Status start_thread(Thread& t)
{
    CpuQueue& q = queues[t.cpu];
    arch::SpinGuard g(q.lock);
    if (q.thread_count == max_per_cpu) return lib::err(lib::Error::no_memory);
    sched::CpuMask only;
    only.set(t.cpu);
    TRY(scheduler.add_vcpu(t.sched, pd_sched_group(*t.pd), only, static_cast<Runnable*>(&t)));
    q.threads[q.thread_count++] = &t;
    // Registered offline: the next poll_wakeups on its CPU makes it runnable.
    t.state = ThreadState::blocked;
    t.wait = WaitFor::nothing;
    t.woken = true;
    kick_cpu(t.cpu);
    return {};
}

void thread_switch_out(Thread& t)
{
    CpuQueue& q = queues[t.cpu];
    context_switch(&t.saved_rsp, q.loop_rsp);
}

Thread* current_thread()
{
    if (!arch::percpu_ready()) return nullptr;
    return queues[arch::this_cpu().index].current;
}

void wake_thread(Thread& t)
{
    t.woken = true;
    kick_cpu(t.cpu);
}

}  // namespace hv
