// The hypercall entry (hv/abi/hypercall.hpp) and the ring-3 fault policy.
#pragma once

namespace hv {
// Installs the ring-3 exception hook; syscall_dispatch is the entry itself.
void init_hypercalls();
}  // namespace hv
