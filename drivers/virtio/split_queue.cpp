#include "drivers/virtio/split_queue.hpp"

namespace drivers::virtio {

lib::Status SplitQueue::init(DevicePlatform& p, uint16_t size)
{
    if (size == 0 || size > max_size || (size & (size - 1))) return lib::Error::invalid;
    size_ = size;
    avail_off_ = 16u * size;
    used_off_ = (avail_off_ + 6u + 2u * size + 63u) & ~63u;
    uint32_t total = used_off_ + 6u + 8u * size;
    mem_ = TRY(p.alloc_dma((total + 4095u) & ~4095u));
    for (uint16_t i = 0; i < size; ++i) next_[i] = uint16_t(i + 1);
    free_head_ = 0;
    free_count_ = size;
    avail_idx_ = used_seen_ = 0;
    broken_ = false;
    return {};
}

lib::Result<uint16_t> SplitQueue::add(const Segment* segs, unsigned n)
{
    if (broken_) return lib::Error::io;
    if (n == 0 || n > 255) return lib::Error::invalid;
    if (n > free_count_) return lib::Error::busy;
    uint16_t head = free_head_, at = head;
    for (unsigned i = 0; i < n; ++i) {
        volatile VringDesc& d = desc()[at];
        d.addr = segs[i].bus;
        d.len = segs[i].len;
        uint16_t flags = segs[i].device_writes ? desc_write : 0;
        uint16_t next = next_[at];
        if (i + 1 < n) flags |= desc_next;
        d.flags = flags;
        d.next = next;
        if (i + 1 < n) at = next;
        else free_head_ = next;
    }
    free_count_ = uint16_t(free_count_ - n);
    chain_len_[head] = uint8_t(n);
    avail()[2 + (avail_idx_ % size_)] = head;
    __atomic_thread_fence(__ATOMIC_RELEASE);  // the entry before the index that publishes it
    avail()[1] = ++avail_idx_;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the index before reading the device's flags
    return head;
}

bool SplitQueue::needs_notify() const { return !(used_hdr()[0] & 1); }

bool SplitQueue::take_used(Used& out)
{
    if (broken_) return false;
    uint16_t idx = used_hdr()[1];
    if (idx == used_seen_) return false;
    if (uint16_t(idx - used_seen_) > size_) {  // more used than ever made available
        broken_ = true;
        return false;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const volatile VringUsedElem& e = used_ring()[used_seen_ % size_];
    uint32_t id = e.id;
    if (id >= size_ || !chain_len_[id]) {  // not a head in flight
        broken_ = true;
        return false;
    }
    ++used_seen_;
    out = {uint16_t(id), e.len};
    // Free the chain from the shadow links (the device may have scribbled
    // over the table's).
    uint16_t last = uint16_t(id);
    for (unsigned i = 1; i < chain_len_[id]; ++i) last = next_[last];
    next_[last] = free_head_;
    free_head_ = uint16_t(id);
    free_count_ = uint16_t(free_count_ + chain_len_[id]);
    chain_len_[id] = 0;
    return true;
}

}  // namespace drivers::virtio
