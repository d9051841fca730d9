#include "hv/dom0/thread.hpp"

#include <new>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.hpp"
#include "arch/x86_64/user_mode.hpp"
#include "hv/console.hpp"
#include "hv/dom0/pd.hpp"
#include "hv/mem/frames.hpp"
#include "hv/mem/kernel_heap.hpp"

namespace hv {

lib::Result<Thread*> create_thread(Pd& pd, uint64_t rip, uint64_t rsp, uint64_t arg, unsigned cpu)
{
    if (rip >= arch::user_top || rsp > arch::user_top) return lib::err(lib::Error::invalid);
    void* mem = mem::kernel_heap().allocate(sizeof(Thread), alignof(Thread));
    if (!mem) return lib::err(lib::Error::no_memory);
    auto* t = new (mem) Thread{};
    t->run_kind = RunKind::thread;
    t->pd = &pd;
    t->cpu = cpu;
    t->running_on = -1;
    auto stack = mem::alloc_frames({.count = thread_kstack_size / arch::page_size});
    if (!stack) {
        mem::kernel_heap().deallocate(t, sizeof(Thread));
        return lib::err(stack.error());
    }
    t->kstack_phys = *stack;
    t->kstack_top = reinterpret_cast<uint64_t>(arch::phys_to_virt<uint8_t>(*stack)) + thread_kstack_size;
    t->saved_rsp = arch::prepare_user_thread_stack(t->kstack_top, rip, rsp, arg);
    {
        arch::SpinGuard g(pd.lock);
        t->id = pd.next_thread_id++;
        t->next_in_pd = pd.threads;
        pd.threads = t;
        ++pd.live_threads;
    }
    if (auto s = start_thread(*t); !s.ok()) {
        t->exit_code = -1;
        thread_reaped(*t);
        return lib::err(s.error());
    }
    return t;
}

void free_thread(Thread* t)
{
    (void)mem::free_frames(t->kstack_phys, thread_kstack_size / arch::page_size);
    t->~Thread();
    mem::kernel_heap().deallocate(t, sizeof(Thread));
}

void block_current(Thread& t, WaitFor wait, uint64_t timeout_tsc)
{
    t.wait = wait;
    t.wake_tsc = timeout_tsc;
    if (thread_wait_over(t, arch::rdtsc())) return;
    t.state = ThreadState::blocked;
    thread_switch_out(t);
    t.wait = WaitFor::nothing;
}

bool thread_wait_over(const Thread& t, uint64_t now_tsc)
{
    if (t.woken) return true;
    if (t.wake_tsc && now_tsc >= t.wake_tsc) return true;
    switch (t.wait) {
    case WaitFor::nothing: return false;
    case WaitFor::time: return false;
    case WaitFor::console_input: return console::input_ready();
    case WaitFor::ioreq: return false;  // the poster sets woken
    }
    return true;
}

void exit_current(Thread& t, int64_t code)
{
    t.exit_code = code;
    t.state = ThreadState::dead;
    thread_switch_out(t);
    __builtin_unreachable();
}

}  // namespace hv
