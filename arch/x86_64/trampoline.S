/* SMP trampoline: copied to a free page below 1 MiB; an AP starts here in
 * real mode after INIT-SIPI-SIPI with CS = page >> 4, IP = 0. It switches to
 * protected mode, then long mode with the CR3 the BSP left in the parameter
 * block (a short-lived PML4 that identity-maps this page and shares the
 * kernel's upper half), and jumps to the kernel's ap_entry on its own stack.
 * Position independent: everything is addressed relative to the page base,
 * which the code computes from CS. Offsets of the parameter block are
 * checked against arch::TrampolineParams by static_assert in smp.cpp. */

#define OFF(sym) ((sym) - trampoline_start)

        .section .rodata
        .align 16
        .globl trampoline_start, trampoline_end
        .code16
trampoline_start:
        cli
        cld
        movw    %cs, %ax
        movw    %ax, %ds
        movzwl  %ax, %ebx
        shll    $4, %ebx                        /* ebx = physical base */
        /* Patch the GDT base and the two far-jump targets. */
        leal    OFF(tramp_gdt)(%ebx), %eax
        movl    %eax, OFF(tramp_gdtr) + 2
        leal    OFF(prot32)(%ebx), %eax
        movl    %eax, OFF(far32)
        leal    OFF(long64)(%ebx), %eax
        movl    %eax, OFF(far64)
        lgdtl   OFF(tramp_gdtr)
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   *OFF(far32)

        .code32
prot32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    %cr4, %eax
        orl     $0x20, %eax                     /* PAE */
        movl    %eax, %cr4
        movl    OFF(param_cr3)(%ebx), %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx               /* EFER: LME, NXE if asked */
        rdmsr
        orl     $0x100, %eax
        orl     OFF(param_efer_extra)(%ebx), %eax
        wrmsr
        movl    %cr0, %eax
        orl     $0x80010001, %eax               /* PG, WP, PE */
        movl    %eax, %cr0
        ljmpl   *OFF(far64)(%ebx)

        .code64
long64:
        movl    %ebx, %ebx                      /* upper half undefined after the switch */
        movq    OFF(param_stack)(%rbx), %rsp
        movq    OFF(param_percpu)(%rbx), %rdi
        movq    OFF(param_entry)(%rbx), %rax
        xorl    %ebp, %ebp
        jmp     *%rax

        .align 8
tramp_gdt:
        .quad 0
        .quad 0x00cf9a000000ffff                /* 0x08: 32-bit code */
        .quad 0x00cf92000000ffff                /* 0x10: data */
        .quad 0x00af9a000000ffff                /* 0x18: 64-bit code */
tramp_gdtr:
        .short 31
        .long 0
        .align 4
far32:  .long 0
        .short 0x08
        .align 4
far64:  .long 0
        .short 0x18

        /* Parameter block written by the BSP before each start. */
        .align 8
        .globl trampoline_params
trampoline_params:
param_cr3:          .quad 0
param_stack:        .quad 0
param_percpu:       .quad 0
param_entry:        .quad 0
param_efer_extra:   .quad 0
trampoline_end:
