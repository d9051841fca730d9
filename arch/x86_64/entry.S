/* Interrupt and exception entry stubs. Each stub makes the frame uniform
 * (pushes a zero error code where the CPU does not), pushes its vector and
 * jumps to the common path, which saves the general registers in the layout
 * of arch::InterruptFrame and calls interrupt_dispatch(frame). */

#include "arch/x86_64/frame_macros.h"

/* Vectors for which the CPU pushes an error code (SDM Vol. 3A Table 6-1). */
#define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

        .text
        .code64

        .altmacro
        .macro stub v
        .align 16
interrupt_stub_\v:
        .if HAS_ERROR(\v)
        .else
        pushq   $0
        .endif
        pushq   $\v
        jmp     interrupt_common
        .endm

        .set i, 0
        .rept 256
        stub %i
        .set i, i + 1
        .endr

interrupt_common:
        cld
        /* From ring 3 (CS RPL 3): the kernel's GS base is in KERNEL_GS_BASE. */
        testb   $3, 24(%rsp)
        jz      1f
        swapgs
1:
        PUSH_GPRS
        movq    %rsp, %rdi
        /* Frame pointer chain for backtraces: link to the interrupted rbp. */
        movq    %rsp, %rbx
        andq    $-16, %rsp
        call    interrupt_dispatch
        movq    %rbx, %rsp
        POP_GPRS
        addq    $16, %rsp               /* vector, error code */
        testb   $3, 8(%rsp)             /* back to ring 3: give GS back */
        jz      2f
        swapgs
2:
        iretq

        .macro stub_addr v
        .quad interrupt_stub_\v
        .endm

        .section .rodata
        .align 8
        .globl interrupt_stub_table
interrupt_stub_table:
        .set i, 0
        .rept 256
        stub_addr %i
        .set i, i + 1
        .endr

        .text
/* switch_stack_and_jump(stack_top, fn): continue on a new stack; fn never
 * returns. */
        .globl switch_stack_and_jump
switch_stack_and_jump:
        movq    %rdi, %rsp
        xorl    %ebp, %ebp
        pushq   $0                              /* fake return address: ends backtraces */
        jmp     *%rsi
