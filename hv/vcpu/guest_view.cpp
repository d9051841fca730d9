#include "hv/vcpu/guest_view.hpp"

#include "hv/domain/domain.hpp"

namespace hv {

x86::Regs emulator_regs(const Vcpu& v)
{
    x86::Regs r;
    for (unsigned i = 0; i < 16; ++i) r.gpr[i] = v.gprs.gpr[i];
    const HwVcpu& hw = *v.hw;
    r.rip = hw.read(GuestReg::rip);
    r.rflags = hw.read(GuestReg::rflags);
    const SegReg segs[] = {SegReg::es, SegReg::cs, SegReg::ss, SegReg::ds, SegReg::fs, SegReg::gs};
    for (unsigned i = 0; i < 6; ++i) r.seg_base[i] = hw.segment(segs[i]).base;
    Segment cs = hw.segment(SegReg::cs);
    uint64_t cr0 = hw.read(GuestReg::cr0);
    uint64_t efer = hw.read(GuestReg::efer);
    r.mode = x86::cpu_mode(cr0 & 1, r.rflags & (1u << 17), efer & (1u << 10), cs.attrib & seg_attr::l,
                           cs.attrib & seg_attr::db);
    r.cpl = uint8_t(seg_attr::dpl(hw.segment(SegReg::ss).attrib));
    return r;
}

void apply_emulator_regs(Vcpu& v, const x86::Regs& r)
{
    for (unsigned i = 0; i < 16; ++i) v.gprs.gpr[i] = r.gpr[i];
    v.hw->write(GuestReg::rip, r.rip);
    v.hw->write(GuestReg::rflags, r.rflags);
}

x86::Paging emulator_paging(const Vcpu& v)
{
    const HwVcpu& hw = *v.hw;
    return {.cr0 = hw.read(GuestReg::cr0), .cr3 = hw.read(GuestReg::cr3), .cr4 = hw.read(GuestReg::cr4),
            .efer = hw.read(GuestReg::efer)};
}

x86::GuestPhys guest_ram(Domain& d)
{
    x86::GuestPhys g;
    g.ctx = &d;
    g.read = [](void* ctx, uint64_t gpa, void* dst, size_t len) -> lib::Status {
        auto s = copy_from_guest(*static_cast<Domain*>(ctx), gpa, dst, len);
        return s.ok() ? lib::Status{} : lib::err(lib::Error::not_found);
    };
    g.write = [](void* ctx, uint64_t gpa, const void* src, size_t len) -> lib::Status {
        auto s = copy_to_guest(*static_cast<Domain*>(ctx), gpa, src, len);
        return s.ok() ? lib::Status{} : lib::err(lib::Error::not_found);
    };
    return g;
}

void deliver_fault(Vcpu& v, const x86::Fault& f)
{
    switch (f.kind) {
    case x86::FaultKind::page_fault:
        v.hw->write(GuestReg::cr2, f.address);
        inject_exception(v, 14, true, f.error_code);
        return;
    case x86::FaultKind::general_protection: inject_exception(v, 13, true, 0); return;
    case x86::FaultKind::unsupported: inject_exception(v, 6); return;
    default:
        crash_domain(*v.domain, "vCPU %u: %s at guest address %#lx (rip %#lx)", v.id, x86::fault_kind_name(f.kind),
                     f.address, v.hw->read(GuestReg::rip));
        return;
    }
}

uint8_t decode_insn_length(Vcpu& v)
{
    auto insn = x86::fetch_and_decode(emulator_regs(v), emulator_paging(v), guest_ram(*v.domain));
    if (!insn.ok()) {
        deliver_fault(v, insn.error());
        return 0;
    }
    return insn->length;
}

}  // namespace hv
