// Dom0's physical devices: at start it scans PCI through hv, brings up the
// disks its drivers know (virtio-blk, NVMe, AHCI) and registers them, with
// their partitions, in the HostDisks that xl.cfg targets name, and brings
// up its network card (virtio-net) for the bridge's uplink. Dom0 only.
#pragma once

#include <cstdint>

#include "drivers/net/nic.hpp"
#include "vmm/control/xl.hpp"
#include "vmm/hostdev/host_disks.hpp"

namespace vmm::hostdev {

HostDisks& host_disks();
// The first network card Dom0 brought up (the bridge's uplink), or null.
drivers::Nic* host_nic();
// Logs one line per PCI function and per disk found on `log`.
void probe_host_devices(uint32_t control, xl::Output& log);

}  // namespace vmm::hostdev
