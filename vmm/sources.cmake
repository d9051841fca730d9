# Dom0's portable code (parsers, device models, control logic): compiled into
# the Dom0 image and, for the host tests and fuzzers, into hv_vmm. Paths are
# relative to the repository root.
set(HV_VMM_PORTABLE_SOURCES
  vmm/builder/multiboot_loader.cpp
  vmm/builder/aml.cpp
  vmm/builder/acpi_builder.cpp
  vmm/builder/multiboot2_loader.cpp
  vmm/builder/linux_loader.cpp
  vmm/builder/kernel_image.cpp
  vmm/builder/load_common.cpp
  vmm/builder/e820.cpp
  vmm/devices/uart16550.cpp
  vmm/devices/pic8259.cpp
  vmm/devices/pit8254.cpp
  vmm/devices/cmos_rtc.cpp
  vmm/platform/legacy_isa.cpp
  vmm/control/xl.cpp
  vmm/files/cpio.cpp
  vmm/block/archive/cpio_opener.cpp
  vmm/console/console_ring.cpp
  vmm/control/xl_cfg.cpp
  vmm/control/domain_disks.cpp
  vmm/pci/config_space.cpp
  vmm/pci/msix.cpp
  vmm/pci/host_bridge.cpp
  vmm/virtio/virtio_blk.cpp
  vmm/virtio/virtqueue.cpp
  vmm/virtio/virtio_pci.cpp
  vmm/virtio/virtio_console.cpp
  vmm/virtio/virtio_net.cpp
  vmm/net/checksum.cpp
  vmm/net/tso.cpp
  vmm/net/bridge.cpp
  vmm/platform/pc_platform.cpp
  vmm/platform/pci_hotplug.cpp
  # Dom0's drivers for physical devices (drivers/, on DevicePlatform).
  drivers/pci/pci_function.cpp
  drivers/nvme/nvme.cpp
  drivers/ahci/ahci.cpp
  drivers/virtio/split_queue.cpp
  drivers/virtio/virtio_pci_device.cpp
  drivers/virtio/virtio_blk_disk.cpp
  drivers/virtio/virtio_net_nic.cpp
  vmm/hostdev/disk_file.cpp
  vmm/hostdev/host_disks.cpp
  vmm/hostdev/uplink.cpp
)
