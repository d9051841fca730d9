/* Ring 3: the SYSCALL entry, the way back to user mode, and the kernel-stack
 * switch between threads. Frames from user mode use the layout of
 * arch::InterruptFrame, so a thread interrupted in ring 3 and a thread in a
 * hypercall look the same to the scheduler. */
#include "arch/x86_64/frame_macros.h"
#include "arch/x86_64/user_abi.h"

        .text
        .code64

/* SYSCALL: RCX = user RIP, R11 = user RFLAGS, RFLAGS masked by FMASK (IF,
 * TF, DF, AC cleared), CS/SS from STAR, RSP still the user's. */
        .globl syscall_entry
syscall_entry:
        swapgs
        movq    %rsp, %gs:PERCPU_USER_RSP
        movq    %gs:PERCPU_KERNEL_RSP, %rsp
        pushq   $SEL_USER_DATA                  /* ss */
        pushq   %gs:PERCPU_USER_RSP             /* rsp */
        pushq   %r11                            /* rflags */
        pushq   $SEL_USER_CODE                  /* cs */
        pushq   %rcx                            /* rip */
        pushq   $0                              /* error code */
        pushq   $FRAME_VECTOR_SYSCALL           /* vector */
        PUSH_GPRS
        xorl    %ebp, %ebp                      /* ends kernel backtraces here */
        movq    %rsp, %rdi
        call    syscall_dispatch
        /* fall through */

/* Returns to ring 3 from the frame at RSP (built by syscall_entry, an
 * interrupt from user mode, or a new thread's first frame). IRETQ, not
 * SYSRET: it restores every register exactly and never faults in ring 0 on a
 * non-canonical RIP (the frame's RIP was checked when it was set). */
        .globl user_return
user_return:
        cli
        POP_GPRS
        addq    $16, %rsp                       /* vector, error code */
        swapgs
        iretq

/* context_switch(uint64_t* save_rsp, uint64_t new_rsp): saves the callee-
 * saved registers on this stack, stores RSP in *save_rsp, continues on
 * new_rsp where another context_switch saved itself (or where a new thread's
 * stack was prepared: thread_first_run). */
        .globl context_switch
context_switch:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret

/* A new thread's first switch lands here (its prepared stack returns to this
 * address) with its user frame right above. */
        .globl thread_first_run
thread_first_run:
        jmp     user_return
