list(APPEND HV_PORTABLE_SOURCES
  lib/format.cpp
  lib/str.cpp
  lib/log.cpp
  lib/elf.cpp)
list(APPEND HV_KERNEL_SOURCES
  lib/kernel_rt.cpp)
