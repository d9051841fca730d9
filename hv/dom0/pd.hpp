// A protection domain: a ring-3 address space with its threads, scheduled as
// one group. Dom0 is one; a driver domain split off later would be another.
#pragma once

#include <cstdint>

#include "arch/x86_64/spinlock.hpp"
#include "arch/x86_64/user_space.hpp"
#include "hv/obj/cap_table.hpp"
#include "hv/obj/evtchn.hpp"
#include "hv/sched/sched_group.hpp"
#include "lib/result.hpp"

namespace hv {

struct Thread;
struct Domain;
struct Vcpu;
struct Region;

// Memory of another object mapped into the Pd: a domain's RAM (domain_map)
// or a shared region (region_map). Each holds a reference on the object
// while mapped; unmap gives it back.
struct GuestMapping {
    uint64_t va;
    uint64_t size;
    Domain* domain;
    Region* region;
    bool device;  // a physical MMIO window (device_mmio_map)
    bool used() const { return domain || region || device; }
};

struct Pd {
    uint32_t id;
    char name[32];
    arch::UserSpace* space;
    hv::sched::SchedGroup sched;
    arch::SpinLock lock;  // threads list and counts
    Thread* threads;
    uint32_t next_thread_id;
    uint32_t live_threads;
    uint64_t started_tsc;
    bool crashed;
    // Capabilities: what this Pd can name. Protected by `lock`.
    static constexpr uint32_t cap_count = 1024;
    obj::CapTable caps;
    obj::CapSlot cap_slots[cap_count];
    static constexpr uint32_t max_mappings = 64;
    GuestMapping mappings[max_mappings];
    // Forwarded port accesses of the domains this Pd models, oldest first,
    // and the thread waiting for one (ioreq_wait). Protected by `lock`.
    Vcpu* ioreq_head;
    Vcpu* ioreq_tail;
    Thread* ioreq_waiter;
    // Event channels (under `lock`): the table, its page (also mapped into
    // the Pd), and the thread blocked in evtchn_wait or ioreq_wait.
    obj::EvtchnTable evtchn;
    uint64_t evtchn_page_pa;
    Thread* event_waiter;
    // Ports its drivers may use (device_ports): 8 KiB, clear bit = allowed;
    // nullptr until the first grant. The generation tells CPUs to reload it.
    uint8_t* io_bitmap;
    uint64_t io_bitmap_gen;
};

lib::Result<Pd*> create_pd(uint32_t id, const char* name, uint32_t weight);

uint64_t pd_cr3(const Pd& pd);
hv::sched::SchedGroup& pd_sched_group(Pd& pd);
// The loop took a dead thread off its CPU: free it, and the Pd's threads are
// counted down (the last one logs that the Pd ended).
void thread_reaped(Thread& t);

}  // namespace hv
