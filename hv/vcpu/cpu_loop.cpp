#include "hv/vcpu/cpu_loop.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/lapic.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

constexpr unsigned max_per_cpu = 16;
constexpr uint64_t slice_us = 10'000;

struct CpuQueue {
    arch::SpinLock lock;
    Vcpu* vcpus[max_per_cpu] = {};
    unsigned count = 0;
    unsigned next = 0;  // round-robin position
};
CpuQueue queues[arch::max_cpus];

void kick_handler(arch::InterruptFrame&) { arch::lapic::eoi(); }

void run_slice(Vcpu& v, unsigned me)
{
    v.running_on = int(me);
    uint64_t slice_end = arch::rdtsc() + slice_us * arch::lapic::timer_info().tsc_hz / 1'000'000;
    run_vcpu(v, slice_end);
    v.running_on = -1;
    // Preempted: its slice ran out while it could still run (it did not halt
    // or yield). Such a vCPU may hold a lock its siblings spin on.
    v.preempted = v.state == VcpuState::runnable && !v.yield_requested;
}

// One pass over this CPU's vCPUs: runs each runnable one for a slice.
// Returns true if any ran.
bool run_queue_once(unsigned me)
{
    CpuQueue& q = queues[me];
    bool ran = false;
    for (unsigned n = 0;; ++n) {
        Vcpu* v;
        {
            arch::SpinGuard g(q.lock);
            if (n >= q.count) break;
            v = q.vcpus[(q.next + n) % q.count];
        }
        if (v->domain->state != DomainState::running) continue;
        if (!wake_if_pending(*v)) continue;
        run_slice(*v, me);
        ran = true;
        if (v->yield_requested) {
            v->yield_requested = false;
            // Directed yield: a sibling of the same domain on this CPU that
            // was preempted (not one that halted or is spinning itself) is the
            // likely lock holder: run it now. None: the spinner goes on.
            Vcpu* sibling = nullptr;
            {
                arch::SpinGuard g(q.lock);
                for (unsigned k = 0; k < q.count && !sibling; ++k) {
                    Vcpu* c = q.vcpus[(q.next + n + 1 + k) % q.count];
                    if (c != v && c->domain == v->domain && c->preempted) sibling = c;
                }
            }
            if (sibling && sibling->domain->state == DomainState::running && wake_if_pending(*sibling)) {
                ++v->directed_yields;
                run_slice(*sibling, me);
                sibling->yield_requested = false;
            }
        }
    }
    arch::SpinGuard g(q.lock);
    if (q.count) q.next = (q.next + 1) % q.count;
    return ran;
}

// Nothing runnable: sleep until a kick, a host interrupt, or the earliest
// timer of a halted vCPU here.
void idle(unsigned me)
{
    uint64_t wake = 0;
    {
        arch::SpinGuard g(queues[me].lock);
        for (unsigned i = 0; i < queues[me].count; ++i) {
            uint64_t t = vcpu_wakeup_time(*queues[me].vcpus[i]);
            if (t && (!wake || t < wake)) wake = t;
        }
    }
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

void cpu_loop_init() { arch::set_interrupt_handler(arch::vector::ipi_kick, kick_handler); }

void cpu_loop_ap()
{
    unsigned me = arch::this_cpu().index;
    for (;;) {
        arch::cli();
        if (!run_queue_once(me)) idle(me);
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
        if (!run_queue_once(me)) idle(me);
    }
    arch::sti();
}

void start_domain(Domain& d)
{
    unsigned cpus = arch::smp::online_count();
    d.state = DomainState::running;
    for (uint32_t i = 0; i < d.vcpu_count; ++i) {
        Vcpu& v = *d.vcpus[i];
        unsigned c = i % cpus;
        if (!arch::cpus[c]) c = 0;
        v.cpu = c;
        CpuQueue& q = queues[c];
        arch::SpinGuard g(q.lock);
        if (q.count == max_per_cpu) {
            crash_domain(d, "more than %u vCPUs on CPU %u", max_per_cpu, c);
            return;
        }
        q.vcpus[q.count++] = &v;
    }
    for (uint32_t i = 0; i < d.vcpu_count; ++i) kick(*d.vcpus[i]);
}

void detach_domain(Domain& d)
{
    for (unsigned c = 0; c < arch::max_cpus; ++c) {
        CpuQueue& q = queues[c];
        arch::SpinGuard g(q.lock);
        unsigned out = 0;
        for (unsigned i = 0; i < q.count; ++i)
            if (q.vcpus[i]->domain != &d) q.vcpus[out++] = q.vcpus[i];
        q.count = out;
        q.next = 0;
    }
}

void kick(Vcpu& v)
{
    unsigned target = v.cpu;
    if (arch::percpu_ready() && target == arch::this_cpu().index) return;  // this CPU looks again anyway
    arch::PerCpu* c = arch::cpus[target];
    if (c) arch::lapic::send_ipi(c->apic_id, arch::lapic::IpiKind::fixed, arch::vector::ipi_kick);
}

}  // namespace hv
