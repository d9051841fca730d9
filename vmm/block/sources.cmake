# Block backends (raw, qcow2, VHD) and their helpers: portable freestanding
# code, built for the host as hv_block and into Dom0.
set(HV_BLOCK_SOURCES
  vmm/block/file.cpp
  vmm/block/device.cpp
  vmm/block/image.cpp
  vmm/block/archive/memory_file.cpp
  vmm/block/inflate/inflate.cpp
  vmm/block/raw/raw.cpp
  vmm/block/qcow2/cache.cpp
  vmm/block/qcow2/open.cpp
  vmm/block/qcow2/l2.cpp
  vmm/block/qcow2/refcount.cpp
  vmm/block/qcow2/check.cpp
  vmm/block/qcow2/create.cpp
  vmm/block/qcow2/snapshot.cpp
  vmm/block/vhd/vhd.cpp
  vmm/block/vhd/create.cpp
  vmm/block/partition/partition_table.cpp
  vmm/block/partition/partition_file.cpp
  vmm/block/chain/volume_chain.cpp)
