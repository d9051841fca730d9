# Virtual local APIC (xAPIC MMIO and x2APIC MSRs, timer, IPIs): portable,
# compiled into the kernel and into the host test library.
list(APPEND HV_PORTABLE_SOURCES
  hv/vlapic/vlapic.cpp
  hv/vlapic/registers.cpp
  hv/vlapic/xapic_mmio.cpp
  hv/vlapic/x2apic_msr.cpp
  hv/vlapic/timer.cpp
  hv/vlapic/destination.cpp)
