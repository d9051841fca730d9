list(APPEND HV_PORTABLE_SOURCES
  hv/boot/boot_info_builder.cpp
  hv/boot/multiboot.cpp
  hv/boot/multiboot1.cpp
  hv/boot/multiboot2.cpp
  hv/boot/cmdline.cpp
  hv/mem/memmap.cpp
  hv/mem/frame_allocator.cpp
  hv/mem/frame_allocator_init.cpp
  hv/acpi/rsdp.cpp
  hv/acpi/sdt.cpp
  hv/acpi/madt.cpp
  hv/acpi/fadt.cpp
  hv/acpi/mcfg.cpp
  hv/acpi/srat.cpp
  hv/acpi/dmar.cpp
  hv/acpi/ivrs.cpp
  hv/acpi/hpet.cpp
  hv/log_ring.cpp
  hv/mem/heap.cpp)
list(APPEND HV_KERNEL_SOURCES
  hv/main.cpp
  hv/console.cpp
  hv/panic.cpp
  hv/mem/frames.cpp
  hv/mem/kernel_heap.cpp
  hv/selftest.cpp)
include(${PROJECT_SOURCE_DIR}/hv/x86/sources.cmake)
