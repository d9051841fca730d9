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
    bool deferred;  // an access went to Dom0: the instruction runs again once it answered
};

// An access to a range Dom0 emulates: the result Dom0 gave for it on an
// earlier run of this instruction, or a request to Dom0 (and no result now).
bool forwarded_access(BusContext& c, uint64_t gpa, uint8_t size, bool write, uint64_t& value)
{
    MmioLog& log = c.vcpu->mmio_log;
    if (log.used < log.count) {
        const auto& e = log.e[log.used];
        if (e.gpa == gpa && e.size == size && e.write == write && (!write || e.value == value)) {
            ++log.used;
            if (!write) value = e.value;
            return true;
        }
        // Another instruction than the one the results were for (it moved
        // on, or a fault handler runs): they are stale.
        log.count = log.used = 0;
    }
    if (!c.deferred) post_mmio_ioreq(*c.vcpu, gpa, size, write, value);
    c.deferred = true;
    return false;
}

lib::Result<uint64_t> bus_read(void* ctx, uint64_t gpa, uint8_t size)
{
    auto& c = *static_cast<BusContext*>(ctx);
    Vcpu& v = *c.vcpu;
    if (mmio_forwarded(*v.domain, gpa)) {
        uint64_t value = 0;
        if (!forwarded_access(c, gpa, size, false, value)) return lib::err(lib::Error::busy);
        return value;
    }
    const MmioHandler* h = find_mmio_handler(*v.domain, gpa);
    if (!h || gpa + size > h->base + h->size) return lib::err(lib::Error::not_found);
    return h->read(v, gpa, size);
}

lib::Status bus_write(void* ctx, uint64_t gpa, uint8_t size, uint64_t value)
{
    auto& c = *static_cast<BusContext*>(ctx);
    Vcpu& v = *c.vcpu;
    if (mmio_forwarded(*v.domain, gpa)) {
        if (ioevent_fire(v, gpa, true)) return {};  // a doorbell: Dom0 gets an event, not an exit
        if (!forwarded_access(c, gpa, size, true, value)) return lib::err(lib::Error::busy);
        return {};
    }
    const MmioHandler* h = find_mmio_handler(*v.domain, gpa);
    if (!h || gpa + size > h->base + h->size) return lib::err(lib::Error::not_found);
    return h->write(v, gpa, size, value);
}

}  // namespace

void handle_mmio(Vcpu& v, const VmExit& x)
{
    Domain& d = *v.domain;
    const auto& m = x.mmio;
    if ((!find_mmio_handler(d, m.gpa) && !mmio_forwarded(d, m.gpa)) || m.fetch) {
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
    BusContext ctx{&v, false};
    v.mmio_log.used = 0;
    x86::MmioEnv env;
    env.gpa = m.gpa;
    env.bus = {&ctx, bus_read, bus_write};
    env.ram = ram;
    env.paging = paging;
    auto s = x86::emulate_mmio(insn.value(), regs, env);
    if (ctx.deferred) {
        // Waiting for Dom0. REP elements completed so far stay done (their
        // log entries go); a single instruction changes nothing yet.
        MmioLog& log = v.mmio_log;
        if (insn->rep) {
            apply_emulator_regs(v, regs);
            for (unsigned i = log.used; i < log.count; ++i) log.e[i - log.used] = log.e[i];
            log.count = uint8_t(log.count - log.used);
        }
        log.used = 0;
        return;
    }
    v.mmio_log.count = v.mmio_log.used = 0;  // the instruction is done with its results
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
