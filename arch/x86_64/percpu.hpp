// Per-CPU data, reached through GS base. Each CPU's block lives in the
// direct map; its stacks live in the stack area with guard pages around them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch/x86_64/descriptors.hpp"
#include "arch/x86_64/user_abi.h"
#include "lib/result.hpp"

namespace arch {

inline constexpr unsigned max_cpus = 256;

struct PerCpu {
    PerCpu* self;  // gs:0, so this_cpu() is one load
    uint64_t user_rsp;    // SYSCALL entry scratch (user_entry.S)
    uint64_t kernel_rsp;  // top of the running thread's kernel stack (= TSS.RSP0)
    uint32_t index;
    uint32_t apic_id;
    uint64_t stack_bottom;  // lowest mapped byte of the kernel stack
    uint64_t stack_top;
    uint64_t ist_top[4];  // by Ist slot
    volatile bool online;
    uint64_t timer_ticks;
    uint64_t user_tlb_gen;  // generation of the user space last loaded here (user_mode.cpp)
    bool syscall_msrs_loaded;  // the host's SYSCALL MSRs are in this CPU's registers
    struct FpuState* fpu_owner;  // whose x87/SSE state is in this CPU's registers
    uint64_t svm_host_save_pa;  // VM_HSAVE_PA area (SVM)
    uint64_t svm_host_vmcb_pa;  // VMSAVE/VMLOAD area for host FS/GS/TR/MSRs (SVM)
    Gdt gdt;
    Tss tss;
    // The TSS's I/O permission bitmap (SDM Vol. 1 19.5.2): a clear bit lets
    // ring 3 use that port. All set (nothing allowed) unless a thread whose
    // protection domain was given ports runs here; the byte after it must be
    // all ones. Follows the TSS directly (iomap_base = sizeof(Tss)).
    uint8_t io_bitmap[8192 + 1];
    const void* io_bitmap_owner;  // whose permissions are loaded (nullptr: none)
    uint64_t io_bitmap_gen;
};
static_assert(offsetof(PerCpu, self) == 0);
static_assert(offsetof(PerCpu, user_rsp) == PERCPU_USER_RSP);
static_assert(offsetof(PerCpu, kernel_rsp) == PERCPU_KERNEL_RSP);
static_assert(offsetof(PerCpu, io_bitmap) == offsetof(PerCpu, tss) + sizeof(Tss));

inline PerCpu& this_cpu()
{
    PerCpu* p;
    asm volatile("movq %%gs:0, %0" : "=r"(p));
    return *p;
}

// Per-CPU blocks by index; nullptr for CPUs not (yet) set up.
extern PerCpu* cpus[max_cpus];
// Whether GS base already points at a PerCpu on this CPU (early faults).
bool percpu_ready();

// Stack area layout per CPU slot (bytes from the slot base): a guard page,
// the kernel stack, then one guard page before each IST stack.
inline constexpr uint64_t stack_slot_size = 128 * 1024;
inline constexpr uint64_t kernel_stack_size = 32 * 1024;
inline constexpr uint64_t ist_stack_size = 8 * 1024;

}  // namespace arch

namespace arch {
// Allocates CPU `index`'s block and maps its stacks.
lib::Result<PerCpu*> create_percpu(unsigned index, uint32_t apic_id);
// Points GS at it and loads its GDT, TSS (with IST stacks) and the IDT.
void activate_percpu(PerCpu& c);
}  // namespace arch
