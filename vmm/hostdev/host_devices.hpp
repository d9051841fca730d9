// Dom0's physical devices: at start it scans PCI through hv, brings up the
// disks its drivers know (virtio-blk; NVMe and AHCI when built in) and
// registers them, with their partitions, in the HostDisks that xl.cfg
// targets name. Dom0 only.
#pragma once

#include <cstdint>

#include "vmm/control/xl.hpp"
#include "vmm/hostdev/host_disks.hpp"

namespace vmm::hostdev {

HostDisks& host_disks();
// Logs one line per PCI function and per disk found on `log`.
void probe_host_devices(uint32_t control, xl::Output& log);

}  // namespace vmm::hostdev
