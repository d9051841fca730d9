#include "hv/mem/frames.hpp"

#include "arch/x86_64/spinlock.hpp"

namespace hv::mem {
namespace {
FrameAllocator allocator;
arch::SpinLock lock;
}  // namespace

FrameAllocator& frame_allocator() { return allocator; }

lib::Result<uint64_t> alloc_frames(const FrameRequest& req)
{
    arch::SpinGuard g(lock);
    return allocator.alloc(req);
}

lib::Status free_frames(uint64_t phys, size_t count)
{
    arch::SpinGuard g(lock);
    return allocator.free(phys, count);
}

uint64_t free_memory_bytes()
{
    arch::SpinGuard g(lock);
    return allocator.free_frames() * 4096;
}

}  // namespace hv::mem
