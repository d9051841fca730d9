// One physical CPU's queue of runnable, not running vCPUs, ordered by
// virtual time (FIFO among equals). Intrusive doubly linked list through
// SchedVcpu::prev_/next_: insertion walks from the tail (a requeued vCPU
// usually goes last), removal is O(1). Not locked: the caller holds the
// CPU's run-queue lock.
#pragma once

#include <cstdint>

#include "hv/sched/sched_vcpu.hpp"

namespace hv::sched {

class RunQueue {
public:
    constexpr RunQueue() = default;

    void insert(SchedVcpu& v);
    void remove(SchedVcpu& v);
    SchedVcpu* first() const { return head_; }
    SchedVcpu* last() const { return tail_; }
    static SchedVcpu* next(const SchedVcpu& v) { return v.next_; }
    static SchedVcpu* prev(const SchedVcpu& v) { return v.prev_; }
    uint32_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

private:
    SchedVcpu* head_ = nullptr;
    SchedVcpu* tail_ = nullptr;
    uint32_t size_ = 0;
};

}  // namespace hv::sched
