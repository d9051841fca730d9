// Ring 3 on the host: SYSCALL setup, the first entry of a thread into user
// mode, switching kernel stacks between threads, and the hooks through which
// hv sees interrupts and exceptions that arrive while a thread runs in ring 3.
#pragma once

#include <cstdint>

#include "arch/x86_64/interrupts.hpp"

namespace arch {

// EFER.SCE, STAR, LSTAR, FMASK and a zero user GS base, on this CPU. Called
// before a thread runs if a guest's values may be loaded (VMX switches them
// lazily: virt::reclaim_syscall_msrs first).
void load_syscall_msrs();

// Prepares a new thread's kernel stack ending at kstack_top: a user frame
// that starts it at `rip` with `rsp` and rdi = arg (interrupts on), under a
// context_switch frame that returns into it. Returns the saved stack pointer
// to pass to context_switch.
uint64_t prepare_user_thread_stack(uint64_t kstack_top, uint64_t rip, uint64_t rsp, uint64_t arg);

// Makes this CPU ready to run a thread whose kernel stack ends at kstack_top
// in the address space `cr3` at TLB generation `gen`: TSS.RSP0, the SYSCALL
// stack, CR3 (reloaded if another space, or the same one since unmapped).
void enter_thread_context(uint64_t cr3, uint64_t gen, uint64_t kstack_top);

// Loads a protection domain's I/O permission bitmap (8 KiB, clear bit =
// allowed; nullptr = no ports) into this CPU's TSS unless it is there at
// generation `gen` already, and makes sure TR covers it.
void load_io_bitmap(const uint8_t* bitmap, uint64_t gen);

// True if the frame was interrupted in ring 3.
inline bool from_user(const InterruptFrame& f) { return (f.cs & 3) == 3; }

// Called after the handler of an interrupt that arrived in ring 3 (for
// preemption), and instead of the fatal report for an exception in ring 3.
using UserFrameHook = void (*)(InterruptFrame& frame);
void set_user_interrupt_hook(UserFrameHook hook);
void set_user_exception_hook(UserFrameHook hook);
UserFrameHook user_interrupt_hook();
UserFrameHook user_exception_hook();

}  // namespace arch

// user_entry.S
extern "C" void context_switch(uint64_t* save_rsp, uint64_t new_rsp);
extern "C" void syscall_entry();
extern "C" void thread_first_run();
// The hypercall dispatcher (hv), called by syscall_entry with the frame.
extern "C" void syscall_dispatch(arch::InterruptFrame* frame);
