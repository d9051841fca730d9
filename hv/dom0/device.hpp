// What hv keeps to itself when Dom0's drivers ask for devices (device.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hv/boot/boot_info.hpp"

namespace hv {

// At boot: the firmware's RAM map, the local APIC, hv's console UART and
// ACPI PM timer ports (0 = none).
void record_host_devices(const boot::MemRegion* map, size_t count, uint64_t lapic_address, uint16_t console_port,
                         uint16_t pm_timer_port);

}  // namespace hv
