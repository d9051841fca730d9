// A small LRU cache of cluster-sized metadata tables (L2 tables, refcount
// blocks), kept in their on-disk (big-endian) form. The owner decides how a
// dirty slot is written back: qcow2 orders refcount blocks before L2 tables.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/allocator.hpp"
#include "lib/result.hpp"
#include "vmm/block/buffer.hpp"

namespace vmm::block::qcow2 {

struct CacheSlot {
    uint64_t offset = 0;  // host offset of the table; 0 = empty slot
    uint8_t* data = nullptr;
    bool dirty = false;
    uint64_t last_used = 0;
};

class MetaCache {
public:
    lib::Status init(lib::Allocator& a, size_t slots, size_t table_size);
    CacheSlot* find(uint64_t offset);
    // The slot to reuse: an empty one, else the least recently used one.
    CacheSlot* victim();
    void touch(CacheSlot& s) { s.last_used = ++clock_; }
    void drop(uint64_t offset);
    size_t count() const { return count_; }
    CacheSlot& at(size_t i) { return slots_[i]; }
    bool any_dirty() const;
    size_t table_size() const { return table_size_; }

private:
    Buffer slot_mem_;
    Buffer data_mem_;
    CacheSlot* slots_ = nullptr;
    size_t count_ = 0;
    size_t table_size_ = 0;
    uint64_t clock_ = 0;
};

}  // namespace vmm::block::qcow2
