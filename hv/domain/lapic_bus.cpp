// The domain's APIC bus: an IPI written to one vLAPIC's ICR goes to every
// vLAPIC of the domain it addresses, under that vCPU's lock, and the CPU that
// runs the target is kicked so it sees the interrupt at once.
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
    void eoi_broadcast(vlapic::Vlapic&, uint8_t) override {}  // no vIOAPIC yet

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
}

vlapic::Bus* create_lapic_bus(Domain& d)
{
    static_assert(sizeof(DomainBus) <= sizeof(d.lapic_bus_storage));
    return new (d.lapic_bus_storage) DomainBus(d);
}

}  // namespace hv
