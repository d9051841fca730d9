// State shared by the VMX backend's files: what detect() learned and decided
// once for all CPUs, and each CPU's VMX state. Kernel only.
#pragma once

#include <cstdint>

#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/vmx/controls.hpp"

namespace arch::vmx {

struct Config {
    VmxBasic basic;
    uint64_t ept_vpid_cap;
    uint64_t misc;
    CrFixed host_cr0, host_cr4;   // for VMX operation (A.7, A.8)
    CrFixed guest_cr0, guest_cr4; // PE/PG exempt in the guest (unrestricted guest)
    // Control values every vCPU starts from (after adjust_controls).
    uint32_t pin, proc, proc2, exit, entry;
    bool ple;                  // PAUSE-loop exiting available
    bool invept_single;
    bool invvpid_single;
    bool invvpid_all;
};
extern Config config;

// Per-CPU VMX state, by PerCpu::index.
class VmxVcpu;
struct CpuState {
    uint64_t vmxon_phys;
    bool on;                   // in VMX root operation
    const VmxVcpu* current;    // whose VMCS VMPTRLD made current here
    VmxVcpu* msr_owner;        // whose lazily switched MSRs are loaded here (vcpu.cpp)
};
extern CpuState cpu_states[max_cpus];
inline CpuState& this_cpu_state() { return cpu_states[this_cpu().index]; }

// Frames for VMX structures: zeroed, below 4 GiB when IA32_VMX_BASIC[48]
// limits their addresses to 32 bits.
lib::Result<uint64_t> alloc_vmx_frame();

}  // namespace arch::vmx
