// Intel VMX backend (SDM Vol. 3C Chapters 24-31): detection, enabling VMX
// operation on each CPU, EPT invalidation, and the vCPU. Called only by the
// vendor dispatch in arch/x86_64/virt.
#pragma once

#include "arch/x86_64/virt/virt.hpp"

namespace arch::vmx {

// CPUID.1:ECX.VMX[bit 5] (SDM 24.6).
bool present();
// Reads the IA32_VMX_* capability MSRs, checks that everything the backend
// relies on is there (true controls, EPT with 4-level WB tables and INVEPT,
// VPID with INVVPID, unrestricted guest, MSR and I/O bitmaps, the exit and
// entry controls for EFER/PAT, ...) and fills the VMX fields of `caps`.
// Error::unsupported with a LOG_ERROR naming what is missing.
lib::Status detect(virt::Capabilities& caps);
// IA32_FEATURE_CONTROL (locks VMX on when the firmware left it unlocked,
// refuses when it is locked off), CR0/CR4 fixed bits, CR4.VMXE and VMXON with
// this CPU's VMXON region. After detect() succeeded.
lib::Status enable_this_cpu();
// A vCPU whose VMCS is current on the calling CPU. VPID = cfg.vcpu_id + 1.
lib::Result<hv::HwVcpu*> create_vcpu(const virt::VcpuConfig& cfg);
// All-context INVEPT on the calling CPU (detect() requires that type): after
// a p2m change that removes or narrows mappings, on every CPU.
void invept_all();
// The guest's SYSCALL MSRs and KERNEL_GS_BASE loaded on this CPU (lazy
// switching) are saved back into their vCPU: host code that needs its own
// values (ring-3 threads) loads them next. True if a guest's were loaded.
bool release_lazy_msrs();

}  // namespace arch::vmx
