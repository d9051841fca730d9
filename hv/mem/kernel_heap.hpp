// The kernel's heap instance: hv::mem::Heap over the frame allocator, locked.
#pragma once

#include "lib/allocator.hpp"

namespace hv::mem {
void init_kernel_heap();
lib::Allocator& kernel_heap();
}  // namespace hv::mem
