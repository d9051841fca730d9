# Portable x86 instruction decoder, MMIO emulator and guest page-table walker:
# compiled into the kernel and into the host test library.
list(APPEND HV_PORTABLE_SOURCES
  hv/x86/decoder.cpp
  hv/x86/page_walk.cpp
  hv/x86/fetch.cpp
  hv/x86/mmio_emulator.cpp)
