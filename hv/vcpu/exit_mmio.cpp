// Nested-page-fault / EPT-violation exits: an access to a registered MMIO
// range is emulated (fetch and decode the instruction at RIP through the
// guest's page tables, carry it out against the handler); anything else is
// the domain's crash policy.
#include "hv/domain/domain.hpp"
#include "hv/vcpu/guest_view.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "hv/x86/mmio_emulator.hpp"

namespace hv {
namespace {

struct BusContext {
    Vcpu* vcpu;
};

lib::Result<uint64_t> bus_read(void* ctx, uint64_t gpa, uint8_t size)
{
    Vcpu& v = *static_cast<BusContext*>(ctx)->vcpu;
    const MmioHandler* h = find_mmio_handler(*v.domain, gpa);
    if (!h || gpa + size > h->base + h->size) return lib::err(lib::Error::not_found);
    return h->read(v, gpa, size);
}

lib::Status bus_write(void* ctx, uint64_t gpa, uint8_t size, uint64_t value)
{
    Vcpu& v = *static_cast<BusContext*>(ctx)->vcpu;
    const MmioHandler* h = find_mmio_handler(*v.domain, gpa);
    if (!h || gpa + size > h->base + h->size) return lib::err(lib::Error::not_found);
    return h->write(v, gpa, size, value);
}

}  // namespace

void handle_mmio(Vcpu& v, const VmExit& x)
{
    Domain& d = *v.domain;
    const auto& m = x.mmio;
    if (!find_mmio_handler(d, m.gpa) || m.fetch) {
        crash_domain(d, "vCPU %u %s unmapped guest-physical address %#lx at rip %#lx", v.id,
                     m.fetch ? "executed from" : m.write ? "wrote to" : "read from", m.gpa,
                     v.hw->read(GuestReg::rip));
        return;
    }
    x86::Regs regs = emulator_regs(v);
    x86::Paging paging = emulator_paging(v);
    x86::GuestPhys ram = guest_ram(d);
    auto insn = x86::fetch_and_decode(regs, paging, ram);
    if (!insn.ok()) {
        deliver_fault(v, insn.error());
        return;
    }
    BusContext ctx{&v};
    x86::MmioEnv env;
    env.gpa = m.gpa;
    env.bus = {&ctx, bus_read, bus_write};
    env.ram = ram;
    env.paging = paging;
    auto s = x86::emulate_mmio(insn.value(), regs, env);
    if (!s.ok()) {
        if (s.error().kind == x86::FaultKind::unsupported) {
            crash_domain(d, "vCPU %u: instruction at rip %#lx (%s, %u bytes) on MMIO %#lx is not emulated", v.id,
                         regs.rip, x86::op_name(insn->op), insn->length, m.gpa);
            return;
        }
        apply_emulator_regs(v, regs);  // REP elements completed before the fault stay done
        deliver_fault(v, s.error());
        return;
    }
    apply_emulator_regs(v, regs);
}

}  // namespace hv
