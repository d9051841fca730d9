// The domain's APIC bus: an IPI written to one vLAPIC's ICR goes to every
// vLAPIC of the domain it addresses. Today every vCPU of a domain runs on the
// CPU that delivers, so no lock or kick is needed yet; with vCPUs on several
// CPUs the target's lock is taken and a kick IPI forces its exit.
#include "hv/domain/domain.hpp"

#include <new>

#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

class DomainBus final : public vlapic::Bus {
public:
    explicit DomainBus(Domain& d) : d_(d) {}
    void send_ipi(vlapic::Vlapic& from, const vlapic::Ipi& ipi) override
    {
        for (uint32_t i = 0; i < d_.vcpu_count; ++i) {
            Vcpu* t = d_.vcpus[i];
            if (t && vlapic::is_ipi_target(t->lapic, from, ipi.dest)) t->lapic.deliver(ipi.irq);
        }
    }
    void eoi_broadcast(vlapic::Vlapic&, uint8_t) override {}  // no vIOAPIC yet

private:
    Domain& d_;
};

}  // namespace

vlapic::Bus* create_lapic_bus(Domain& d)
{
    static_assert(sizeof(DomainBus) <= sizeof(d.lapic_bus_storage));
    return new (d.lapic_bus_storage) DomainBus(d);
}

}  // namespace hv
