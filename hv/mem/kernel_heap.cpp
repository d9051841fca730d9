#include "hv/mem/kernel_heap.hpp"

#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/heap.hpp"

namespace hv::mem {
namespace {

void* pages_alloc(void*, size_t pages)
{
    auto r = alloc_frames({.count = pages});
    return r.ok() ? arch::phys_to_virt<void>(r.value()) : nullptr;
}
void pages_free(void*, void* p, size_t pages) { (void)free_frames(arch::virt_to_phys(p), pages); }

class LockedHeap final : public lib::Allocator {
public:
    void* allocate(size_t size, size_t align) override
    {
        arch::SpinGuard g(lock_);
        return heap_.allocate(size, align);
    }
    void deallocate(void* p, size_t size) override
    {
        arch::SpinGuard g(lock_);
        heap_.deallocate(p, size);
    }
    void init() { heap_.init({pages_alloc, pages_free, nullptr}); }

private:
    Heap heap_;
    arch::SpinLock lock_;
};

LockedHeap heap;

}  // namespace

void init_kernel_heap() { heap.init(); }
lib::Allocator& kernel_heap() { return heap; }

}  // namespace hv::mem
