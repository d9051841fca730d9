# Virtual I/O APIC and MSI decoding: portable, compiled into the kernel and
# into the host test library.
list(APPEND HV_PORTABLE_SOURCES
  hv/vioapic/vioapic.cpp)
