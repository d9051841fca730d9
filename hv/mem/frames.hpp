// The system-wide physical frame allocator, behind a lock. Kernel only; the
// allocator itself (frame_allocator.hpp) is portable and host-tested.
#pragma once

#include <cstdint>

#include "hv/mem/frame_allocator.hpp"

namespace hv::mem {

FrameAllocator& frame_allocator();  // for boot-time setup, before SMP
lib::Result<uint64_t> alloc_frames(const FrameRequest& req);
lib::Status free_frames(uint64_t phys, size_t count);
uint64_t free_memory_bytes();

}  // namespace hv::mem
