# Kernel objects reached through capabilities, and event channels: portable
# logic (no locks, no allocation), compiled into the kernel and the host tests.
list(APPEND HV_PORTABLE_SOURCES
  hv/obj/cap_table.cpp
  hv/obj/evtchn.cpp
)
