// The hypercall entry (hv/abi/hypercall.hpp) and the ring-3 fault policy.
#pragma once

#include "hv/obj/cap_table.hpp"
#include "lib/result.hpp"

namespace hv {
struct Pd;
// Installs the ring-3 exception hook; syscall_dispatch is the entry itself.
void init_hypercalls();
// Gives `pd` a handle to the control capability (all rights): Dom0 at start.
lib::Result<obj::Handle> grant_control(Pd& pd);
}  // namespace hv
