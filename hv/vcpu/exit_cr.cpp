// Control-register write exits (CR0, CR4; MOV, CLTS, LMSW): the value is
// checked the way the CPU would (SDM Vol. 3A 2.5, 9.8.5; APM Vol. 2 3.1) and
// against what the domain's CPUID lets the guest use; an invalid one is #GP(0).
// EFER.LMA follows CR0.PG when the hypervisor performs the write.
#include "hv/domain/domain.hpp"
#include "hv/vcpu/cpuid_policy.hpp"
#include "hv/vcpu/guest_view.hpp"
#include "hv/vcpu/vcpu.hpp"
#include "lib/log.hpp"

namespace hv {
namespace {

namespace cr0 {
constexpr uint64_t pe = 1u << 0, ts = 1u << 3, et = 1u << 4, nw = 1u << 29, cd = 1u << 30, pg = 1ull << 31;
}
namespace cr4 {
constexpr uint64_t pae = 1u << 5, pcide = 1u << 17;
}
constexpr uint64_t efer_lme = 1u << 8, efer_lma = 1u << 10;

// CR4 bits the guest may set, from the CPUID it sees.
uint64_t cr4_allowed(const Vcpu& v)
{
    auto l1 = vcpu_cpuid(v, 1, 0);
    auto l7 = vcpu_cpuid(v, 7, 0);
    uint64_t ok = 0x7ff & ~(1u << 11);  // VME..OSXMMEXCPT (bits 0-10)
    auto bit = [](bool c, unsigned n) { return c ? (1ull << n) : 0; };
    ok |= bit(l7.ecx & (1u << 2), 11);   // UMIP
    ok |= bit(l7.ebx & (1u << 0), 16);   // FSGSBASE
    ok |= bit(l1.ecx & (1u << 17), 17);  // PCIDE
    ok |= bit(l1.ecx & (1u << 26), 18);  // OSXSAVE
    ok |= bit(l7.ebx & (1u << 7), 20);   // SMEP
    ok |= bit(l7.ebx & (1u << 20), 21);  // SMAP
    return ok;
}

// Returns false for #GP(0).
bool write_cr0(Vcpu& v, uint64_t value)
{
    HwVcpu& hw = *v.hw;
    if (value >> 32) return false;
    if ((value & cr0::pg) && !(value & cr0::pe)) return false;
    if ((value & cr0::nw) && !(value & cr0::cd)) return false;
    uint64_t efer = hw.read(GuestReg::efer);
    uint64_t cr4v = hw.read(GuestReg::cr4);
    bool paging_on = (value & cr0::pg) && !(hw.read(GuestReg::cr0) & cr0::pg);
    // Paging cannot be turned off from 64-bit code (SDM Vol. 3A 9.8.5.4: leave
    // IA-32e mode through compatibility mode first).
    if (!(value & cr0::pg) && (efer & efer_lma) && (hw.segment(SegReg::cs).attrib & seg_attr::l)) return false;
    if (paging_on && (efer & efer_lme)) {
        if (!(cr4v & cr4::pae)) return false;
        Segment cs = hw.segment(SegReg::cs);
        if (cs.attrib & seg_attr::l) return false;  // entering long mode with CS.L=1
    }
    value |= cr0::et;  // hard-wired to 1 on every CPU since the 486
    hw.write(GuestReg::cr0, value);
    bool lma = (value & cr0::pg) && (efer & efer_lme);
    if (bool(efer & efer_lma) != lma) hw.write(GuestReg::efer, lma ? efer | efer_lma : efer & ~efer_lma);
    v.hw->flush_guest_tlb();  // paging mode changes drop guest TLB entries
    return true;
}

bool write_cr4(Vcpu& v, uint64_t value)
{
    HwVcpu& hw = *v.hw;
    uint64_t bad = value & ~cr4_allowed(v);
    if (bad) {
        LOG_INFO("dom%u vcpu%u: CR4 write with reserved or unoffered bits %#lx: #GP", v.domain->id, v.id, bad);
        return false;
    }
    bool long_mode = hw.read(GuestReg::efer) & efer_lma;
    if (long_mode && !(value & cr4::pae)) return false;  // PAE cannot be cleared in IA-32e mode
    if ((value & cr4::pcide) && !(hw.read(GuestReg::cr4) & cr4::pcide) &&
        (!long_mode || (hw.read(GuestReg::cr3) & 0xfff)))
        return false;
    hw.write(GuestReg::cr4, value);
    v.hw->flush_guest_tlb();
    return true;
}

}  // namespace

void handle_cr(Vcpu& v, const VmExit& x)
{
    if (!x.cr.write || (x.cr.cr != 0 && x.cr.cr != 4)) {
        crash_domain(*v.domain, "vCPU %u: unexpected CR%u %s exit", v.id, x.cr.cr, x.cr.write ? "write" : "read");
        return;
    }
    uint64_t value;
    uint8_t len = x.insn_len;
    x86::Regs regs = emulator_regs(v);
    if (x.cr.gpr_valid && len) {
        value = v.gprs.gpr[x.cr.gpr & 15];
    } else {
        // No decode assist: decode MOV CRn / CLTS / LMSW ourselves.
        auto insn = x86::fetch_and_decode(regs, emulator_paging(v), guest_ram(*v.domain));
        if (!insn.ok()) {
            deliver_fault(v, insn.error());
            return;
        }
        len = insn->length;
        uint64_t cur = v.hw->read(x.cr.cr == 0 ? GuestReg::cr0 : GuestReg::cr4);
        switch (insn->op) {
        case x86::Op::mov_to_cr:
            value = v.gprs.gpr[insn->rm_reg & 15];
            if (regs.mode != x86::CpuMode::bits64) value = uint32_t(value);
            break;
        case x86::Op::clts: value = cur & ~cr0::ts; break;
        case x86::Op::lmsw:
            if (insn->rm_is_mem) {
                crash_domain(*v.domain, "vCPU %u: LMSW from memory is not emulated", v.id);
                return;
            }
            // LMSW loads PE, MP, EM, TS and can set but never clear PE.
            value = (cur & ~0xeull) | (v.gprs.gpr[insn->rm_reg & 15] & 0xf) | (cur & 1);
            break;
        default:
            crash_domain(*v.domain, "vCPU %u: CR%u write exit on an instruction that does not write it", v.id,
                         x.cr.cr);
            return;
        }
    }
    bool ok = x.cr.cr == 0 ? write_cr0(v, value) : write_cr4(v, value);
    if (!ok) {
        inject_exception(v, 13, true, 0);
        return;
    }
    v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
}

}  // namespace hv
