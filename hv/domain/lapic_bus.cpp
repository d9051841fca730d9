// The domain's APIC bus: an IPI written to one vLAPIC's ICR goes to every
// vLAPIC of the domain it addresses, under that vCPU's lock, and the CPU that
// runs the target is kicked so it sees the interrupt at once. The vIOAPIC
// and MSIs use the same path; EOIs of level-triggered vectors go back to the
// vIOAPIC.
#include "hv/domain/domain.hpp"

#include <new>

#include "hv/vcpu/cpu_loop.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

class DomainBus final : public vlapic::Bus {
public:
    explicit DomainBus(Domain& d) : d_(d) {}
    // Called inside a register write of `from`, with that vCPU's lock held:
    // queue, delivery happens in flush_ipis.
    void send_ipi(vlapic::Vlapic& from, const vlapic::Ipi& ipi) override
    {
        for (uint32_t i = 0; i < d_.vcpu_count; ++i) {
            Vcpu* v = d_.vcpus[i];
            if (!v || &v->lapic != &from) continue;
            if (v->outbox_count == sizeof v->outbox / sizeof v->outbox[0]) {
                LOG_WARN("dom%u vcpu%u: more than %lu IPIs in one exit: dropped", d_.id, v->id,
                         sizeof v->outbox / sizeof v->outbox[0]);
                return;
            }
            v->outbox[v->outbox_count++] = ipi;
            return;
        }
    }
    // Also under the sender's lock: queued for flush_ipis, which takes the
    // vIOAPIC's lock.
    void eoi_broadcast(vlapic::Vlapic& from, uint8_t vector) override
    {
        for (uint32_t i = 0; i < d_.vcpu_count; ++i) {
            Vcpu* v = d_.vcpus[i];
            if (!v || &v->lapic != &from) continue;
            if (v->eoi_count < sizeof v->eoi_outbox) v->eoi_outbox[v->eoi_count++] = vector;
            return;
        }
    }

private:
    Domain& d_;
};

}  // namespace

void flush_ipis(Vcpu& v)
{
    Domain& d = *v.domain;
    for (unsigned k = 0; k < v.outbox_count; ++k) {
        const vlapic::Ipi& ipi = v.outbox[k];
        for (uint32_t i = 0; i < d.vcpu_count; ++i) {
            Vcpu* t = d.vcpus[i];
            if (!t) continue;
            {
                arch::SpinGuard g(t->lock);
                if (!vlapic::is_ipi_target(t->lapic, v.lapic, ipi.dest)) continue;
                t->lapic.deliver(ipi.irq);
            }
            if (t != &v) kick(*t);
        }
    }
    v.outbox_count = 0;
    if (v.eoi_count) {
        vioapic::Outbox out;
        {
            arch::SpinGuard g(d.ioapic_lock);
            for (unsigned k = 0; k < v.eoi_count; ++k) d.ioapic.eoi(v.eoi_outbox[k], out);
        }
        v.eoi_count = 0;
        deliver_messages(d, out);
    }
}

void deliver_messages(Domain& d, const vioapic::Outbox& out)
{
    for (size_t k = 0; k < out.count; ++k) {
        const vioapic::Message& m = out.msg[k];
        bool lowest = m.irq.mode == vlapic::DeliveryMode::lowest_priority;
        for (uint32_t i = 0; i < d.vcpu_count; ++i) {
            Vcpu* t = d.vcpus[i];
            if (!t) continue;
            {
                arch::SpinGuard g(t->lock);
                if (!vlapic::matches_destination(t->lapic, m.dest)) continue;
                t->lapic.deliver(m.irq);
            }
            kick(*t);
            // Lowest priority: the first APIC of the set takes it (a valid
            // arbitration outcome; hardware may pick any of them).
            if (lowest) break;
        }
    }
}

bool set_irq_line(Domain& d, uint32_t gsi, uint32_t level)
{
    if (gsi >= vioapic::pins || level > 2) return false;
    vioapic::Outbox out;
    {
        arch::SpinGuard g(d.ioapic_lock);
        d.ioapic.set_line(gsi, level != 0, out);
        if (level == 2) d.ioapic.set_line(gsi, false, out);
    }
    deliver_messages(d, out);
    return true;
}

bool send_msi(Domain& d, uint64_t address, uint32_t data)
{
    vioapic::Outbox out;
    if (!vioapic::decode_msi(address, data, out.msg[0])) return false;
    out.count = 1;
    deliver_messages(d, out);
    return true;
}

vlapic::Bus* create_lapic_bus(Domain& d)
{
    static_assert(sizeof(DomainBus) <= sizeof(d.lapic_bus_storage));
    return new (d.lapic_bus_storage) DomainBus(d);
}

}  // namespace hv
