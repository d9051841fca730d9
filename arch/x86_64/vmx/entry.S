/* VM entry and exit (SDM Vol. 3C 27, 28; VMLAUNCH/VMRESUME in 31.3).
 *
 * uint64_t vmx_enter(hv::GuestGprs* gprs, uint64_t launched)
 *   Saves the host's callee-saved registers and the gprs pointer on this
 *   stack, points the VMCS host RSP field at it, loads the guest's registers
 *   (all but RSP, which the CPU loads from the VMCS) and enters the guest with
 *   VMLAUNCH (launched == 0) or VMRESUME. Returns VMX_ENTER_EXIT after a VM
 *   exit (through vmx_exit_stub, the VMCS host RIP), or a VMX_ENTER_FAIL_*
 *   code when the instruction itself failed.
 *
 * The CPU comes back from a VM exit with RSP = host RSP, RFLAGS = 0x2 and the
 * guest's general registers still in place: vmx_exit_stub stores them, then
 * clears every register that could still hold a guest value before C++
 * continues. Interrupts stay disabled (RFLAGS.IF = 0) until the caller decides. */
#include "arch/x86_64/vmx/entry_abi.h"

        .text
        .code64

        .globl  vmx_enter
        .type   vmx_enter, @function
vmx_enter:
        pushq   %rbp
        movq    %rsp, %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rdi                            /* gprs, at 0(%rsp) when the guest exits */

        movl    $VMX_FIELD_HOST_RSP, %eax
        vmwrite %rsp, %rax
        jna     .Lfail                          /* CF or ZF: VMfailInvalid / VMfailValid */

        testq   %rsi, %rsi                      /* flags survive the MOVs below */
        movq    VMX_GPR_RAX(%rdi), %rax
        movq    VMX_GPR_RCX(%rdi), %rcx
        movq    VMX_GPR_RDX(%rdi), %rdx
        movq    VMX_GPR_RBX(%rdi), %rbx
        movq    VMX_GPR_RBP(%rdi), %rbp
        movq    VMX_GPR_RSI(%rdi), %rsi
        movq    VMX_GPR_R8(%rdi), %r8
        movq    VMX_GPR_R9(%rdi), %r9
        movq    VMX_GPR_R10(%rdi), %r10
        movq    VMX_GPR_R11(%rdi), %r11
        movq    VMX_GPR_R12(%rdi), %r12
        movq    VMX_GPR_R13(%rdi), %r13
        movq    VMX_GPR_R14(%rdi), %r14
        movq    VMX_GPR_R15(%rdi), %r15
        movq    VMX_GPR_RDI(%rdi), %rdi
        jnz     .Lresume
        vmlaunch
        jmp     .Lfail
.Lresume:
        vmresume
.Lfail:
        /* Still on the host stack; the registers hold guest values. */
        movl    $VMX_ENTER_FAIL_INVALID, %eax
        jc      1f
        movl    $VMX_ENTER_FAIL_VALID, %eax
1:      addq    $8, %rsp                        /* gprs */
        jmp     .Lreturn

        .globl  vmx_exit_stub
        .type   vmx_exit_stub, @function
vmx_exit_stub:
        pushq   %rdi                            /* guest RDI */
        movq    8(%rsp), %rdi                   /* gprs */
        movq    %rax, VMX_GPR_RAX(%rdi)
        movq    %rcx, VMX_GPR_RCX(%rdi)
        movq    %rdx, VMX_GPR_RDX(%rdi)
        movq    %rbx, VMX_GPR_RBX(%rdi)
        movq    %rbp, VMX_GPR_RBP(%rdi)
        movq    %rsi, VMX_GPR_RSI(%rdi)
        movq    %r8, VMX_GPR_R8(%rdi)
        movq    %r9, VMX_GPR_R9(%rdi)
        movq    %r10, VMX_GPR_R10(%rdi)
        movq    %r11, VMX_GPR_R11(%rdi)
        movq    %r12, VMX_GPR_R12(%rdi)
        movq    %r13, VMX_GPR_R13(%rdi)
        movq    %r14, VMX_GPR_R14(%rdi)
        movq    %r15, VMX_GPR_R15(%rdi)
        popq    VMX_GPR_RDI(%rdi)
        addq    $8, %rsp                        /* gprs */
        movl    $VMX_ENTER_EXIT, %eax
.Lreturn:
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        /* No guest value may leak into the host's C++ code. */
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        xorl    %esi, %esi
        xorl    %edi, %edi
        xorl    %r8d, %r8d
        xorl    %r9d, %r9d
        xorl    %r10d, %r10d
        xorl    %r11d, %r11d
        ret
        .size   vmx_enter, . - vmx_enter
