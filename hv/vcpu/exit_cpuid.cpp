// CPUID exits: the domain's policy over the host's answer.
#include "arch/x86_64/cpu.hpp"
#include "hv/domain/domain.hpp"
#include "hv/vcpu/cpuid_policy.hpp"
#include "hv/vcpu/guest_view.hpp"
#include "hv/vcpu/vcpu.hpp"

namespace hv {
namespace {
CpuidRegs host_cpuid(uint32_t leaf, uint32_t sub)
{
    auto r = arch::cpuid(leaf, sub);
    return {r.eax, r.ebx, r.ecx, r.edx};
}
}  // namespace

CpuidRegs vcpu_cpuid(const Vcpu& v, uint32_t leaf, uint32_t subleaf)
{
    return guest_cpuid(v.domain->cpuid, host_cpuid, v.id, leaf, subleaf);
}

void handle_cpuid(Vcpu& v, const VmExit& x)
{
    uint8_t len = x.insn_len ? x.insn_len : decode_insn_length(v);
    if (!len) return;
    auto leaf = uint32_t(v.gprs[Gpr::rax]);
    auto sub = uint32_t(v.gprs[Gpr::rcx]);
    CpuidRegs r = vcpu_cpuid(v, leaf, sub);
    v.gprs[Gpr::rax] = r.eax;
    v.gprs[Gpr::rbx] = r.ebx;
    v.gprs[Gpr::rcx] = r.ecx;
    v.gprs[Gpr::rdx] = r.edx;
    v.hw->write(GuestReg::rip, v.hw->read(GuestReg::rip) + len);
}

}  // namespace hv
