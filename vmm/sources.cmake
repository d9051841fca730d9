# Dom0's portable code (parsers, device models, control logic): compiled into
# the Dom0 image and, for the host tests and fuzzers, into hv_vmm. Paths are
# relative to the repository root.
set(HV_VMM_PORTABLE_SOURCES
  vmm/control/xl.cpp
)
