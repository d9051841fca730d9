list(APPEND HV_PORTABLE_SOURCES
  hv/log_ring.cpp
  hv/mem/heap.cpp)
list(APPEND HV_KERNEL_SOURCES
  hv/main.cpp
  hv/console.cpp
  hv/panic.cpp)
