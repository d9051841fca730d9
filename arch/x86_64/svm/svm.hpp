// AMD SVM backend (APM Vol. 2 ch. 15): detection, enabling, and the vCPU.
#pragma once

#include "arch/x86_64/virt/virt.hpp"

namespace arch::svm {

bool present();  // CPUID 8000_0001h:ECX.SVM
lib::Status detect(virt::Capabilities& caps);
lib::Status enable_this_cpu();
lib::Result<hv::HwVcpu*> create_vcpu(const virt::VcpuConfig& cfg);

}  // namespace arch::svm
