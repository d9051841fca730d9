#include "hv/dom0/pd.hpp"

#include <new>

#include "hv/dom0/thread.hpp"
#include "hv/mem/kernel_heap.hpp"
#include "hv/sched/scheduler.hpp"
#include "hv/vcpu/cpu_loop.hpp"
#include "lib/log.hpp"
#include "lib/str.hpp"

namespace hv {

lib::Result<Pd*> create_pd(uint32_t id, const char* name, uint32_t weight)
{
    void* mem = mem::kernel_heap().allocate(sizeof(Pd), alignof(Pd));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* pd = new (mem) Pd{};
    pd->id = id;
    lib::copy_cstr(pd->name, sizeof pd->name, name);
    auto space = arch::UserSpace::create();
    if (!space) {
        mem::kernel_heap().deallocate(pd, sizeof(Pd));
        return lib::err(space.error());
    }
    pd->space = *space;
    (void)pd->caps.init(pd->cap_slots, Pd::cap_count);  // cannot fail: a fresh table of a valid size
    if (auto s = the_scheduler().add_group(pd->sched, weight, 0, pd); !s.ok()) {
        arch::UserSpace::destroy(pd->space);
        mem::kernel_heap().deallocate(pd, sizeof(Pd));
        return lib::err(s.error());
    }
    return pd;
}

uint64_t pd_cr3(const Pd& pd) { return pd.space->cr3(); }

sched::SchedGroup& pd_sched_group(Pd& pd) { return pd.sched; }

void thread_reaped(Thread& t)
{
    Pd& pd = *t.pd;
    uint32_t left;
    {
        arch::SpinGuard g(pd.lock);
        Thread** link = &pd.threads;
        while (*link && *link != &t) link = &(*link)->next_in_pd;
        if (*link) *link = t.next_in_pd;
        left = --pd.live_threads;
    }
    LOG_INFO("%s: thread %u ended (%ld)%s", pd.name, t.id, t.exit_code, left ? "" : ", no threads left");
    free_thread(&t);
}

}  // namespace hv
