#include "hv/sched/run_queue.hpp"

#include "hv/sched/vtime.hpp"

namespace hv::sched {

void RunQueue::insert(SchedVcpu& v)
{
    // Walk back past every vCPU with a later virtual time.
    SchedVcpu* after = tail_;
    while (after && vt_before(v.vtime_, after->vtime_)) after = after->prev_;
    v.prev_ = after;
    v.next_ = after ? after->next_ : head_;
    if (v.next_) v.next_->prev_ = &v;
    else tail_ = &v;
    if (after) after->next_ = &v;
    else head_ = &v;
    v.queued_ = true;
    ++size_;
}

void RunQueue::remove(SchedVcpu& v)
{
    if (v.prev_) v.prev_->next_ = v.next_;
    else head_ = v.next_;
    if (v.next_) v.next_->prev_ = v.prev_;
    else tail_ = v.prev_;
    v.prev_ = v.next_ = nullptr;
    v.queued_ = false;
    --size_;
}

}  // namespace hv::sched
