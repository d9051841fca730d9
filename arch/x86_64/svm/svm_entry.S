/* svm_run(guest_vmcb_pa, gprs, host_save_vmcb_pa): one world switch.
 * The guest's RAX and RSP live in the VMCB; every other GPR is loaded from
 * and stored to hv::GuestGprs (x86 register order, 8 bytes each; layout
 * checked in svm.cpp). FS, GS (our per-CPU base), TR, LDTR and the syscall
 * MSRs are swapped with VMSAVE/VMLOAD around VMRUN. GIF is clear for the
 * whole sequence and RFLAGS.IF set, so a physical interrupt that arrives
 * while the guest runs causes #VMEXIT(INTR) instead of being taken in host
 * mode with guest state loaded (APM Vol. 2 15.17). */

#define G_RCX  8
#define G_RDX  16
#define G_RBX  24
#define G_RBP  40
#define G_RSI  48
#define G_RDI  56
#define G_R8   64
#define G_R9   72
#define G_R10  80
#define G_R11  88
#define G_R12  96
#define G_R13  104
#define G_R14  112
#define G_R15  120

        .text
        .globl svm_run
svm_run:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        pushq   %rsi                    /* gprs */
        pushq   %rdx                    /* host save VMCB */
        pushq   %rdi                    /* guest VMCB */

        clgi
        sti
        movq    %rdx, %rax
        vmsave  %rax                    /* host FS/GS/TR/LDTR/MSRs */
        movq    %rdi, %rax

        movq    G_RCX(%rsi), %rcx
        movq    G_RDX(%rsi), %rdx
        movq    G_RBX(%rsi), %rbx
        movq    G_RBP(%rsi), %rbp
        movq    G_RDI(%rsi), %rdi
        movq    G_R8(%rsi), %r8
        movq    G_R9(%rsi), %r9
        movq    G_R10(%rsi), %r10
        movq    G_R11(%rsi), %r11
        movq    G_R12(%rsi), %r12
        movq    G_R13(%rsi), %r13
        movq    G_R14(%rsi), %r14
        movq    G_R15(%rsi), %r15
        movq    G_RSI(%rsi), %rsi

        vmload  %rax
        vmrun   %rax
        vmsave  %rax

        /* Guest GPRs are live; RAX holds the guest VMCB again. */
        pushq   %rsi
        movq    24(%rsp), %rsi          /* gprs (above guest rsi, guest VMCB, host VMCB) */
        movq    %rcx, G_RCX(%rsi)
        movq    %rdx, G_RDX(%rsi)
        movq    %rbx, G_RBX(%rsi)
        movq    %rbp, G_RBP(%rsi)
        movq    %rdi, G_RDI(%rsi)
        movq    %r8, G_R8(%rsi)
        movq    %r9, G_R9(%rsi)
        movq    %r10, G_R10(%rsi)
        movq    %r11, G_R11(%rsi)
        movq    %r12, G_R12(%rsi)
        movq    %r13, G_R13(%rsi)
        movq    %r14, G_R14(%rsi)
        movq    %r15, G_R15(%rsi)
        popq    %rax
        movq    %rax, G_RSI(%rsi)

        movq    8(%rsp), %rax           /* host save VMCB */
        vmload  %rax
        cli
        stgi

        /* Clear guest values out of registers the C++ side does not restore. */
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        xorl    %esi, %esi
        xorl    %edi, %edi
        xorl    %r8d, %r8d
        xorl    %r9d, %r9d
        xorl    %r10d, %r10d
        xorl    %r11d, %r11d

        addq    $24, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
