#include "vmm/block/qcow2/cache.hpp"

namespace vmm::block::qcow2 {

lib::Status MetaCache::init(lib::Allocator& a, size_t slots, size_t table_size)
{
    if (slots == 0) slots = 1;
    slot_mem_ = TRY(Buffer::make(a, slots * sizeof(CacheSlot), alignof(CacheSlot)));
    data_mem_ = TRY(Buffer::make(a, slots * table_size));
    slots_ = reinterpret_cast<CacheSlot*>(slot_mem_.data());
    for (size_t i = 0; i < slots; ++i) {
        new (&slots_[i]) CacheSlot;
        slots_[i].data = data_mem_.data() + i * table_size;
    }
    count_ = slots;
    table_size_ = table_size;
    return {};
}

CacheSlot* MetaCache::find(uint64_t offset)
{
    for (size_t i = 0; i < count_; ++i)
        if (slots_[i].offset == offset) {
            touch(slots_[i]);
            return &slots_[i];
        }
    return nullptr;
}

CacheSlot* MetaCache::victim()
{
    CacheSlot* best = &slots_[0];
    for (size_t i = 0; i < count_; ++i) {
        if (slots_[i].offset == 0) return &slots_[i];
        if (slots_[i].last_used < best->last_used) best = &slots_[i];
    }
    return best;
}

void MetaCache::drop(uint64_t offset)
{
    for (size_t i = 0; i < count_; ++i)
        if (slots_[i].offset == offset) {
            slots_[i].offset = 0;
            slots_[i].dirty = false;
        }
}

bool MetaCache::any_dirty() const
{
    for (size_t i = 0; i < count_; ++i)
        if (slots_[i].offset && slots_[i].dirty) return true;
    return false;
}

}  // namespace vmm::block::qcow2
