list(APPEND HV_PORTABLE_SOURCES)
list(APPEND HV_KERNEL_SOURCES
  arch/x86_64/boot.S
  arch/x86_64/entry.S
  arch/x86_64/trampoline.S
  arch/x86_64/address_space.cpp
  arch/x86_64/descriptors.cpp
  arch/x86_64/exceptions.cpp
  arch/x86_64/lapic.cpp
  arch/x86_64/percpu.cpp
  arch/x86_64/ref_clock.cpp
  arch/x86_64/cmos_rtc.cpp
  arch/x86_64/smp.cpp
  arch/x86_64/fpu.cpp
  arch/x86_64/ioapic.cpp
  arch/x86_64/user_entry.S
  arch/x86_64/user_mode.cpp
  arch/x86_64/user_space.cpp
  arch/x86_64/svm/svm.cpp
  arch/x86_64/svm/svm_entry.S
  arch/x86_64/virt/virt.cpp)
# Intel VMX backend (decode.hpp, controls.hpp, vmcs_fields.hpp, exit_reason.hpp are header-only and host-tested).
list(APPEND HV_KERNEL_SOURCES
  arch/x86_64/vmx/entry.S
  arch/x86_64/vmx/vmx.cpp
  arch/x86_64/vmx/vcpu.cpp)
