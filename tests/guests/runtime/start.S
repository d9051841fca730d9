/* Test-guest entry: a Multiboot1 kernel (loadable by QEMU -kernel and by the
 * hypervisor's test build). Enters long mode with the low 4 GiB identity
 * mapped in 2 MiB pages, installs an IDT whose handlers record the exception
 * and resume at `guest_resume_rip` (so a test can expect a fault), and calls
 * guest_main(mbi). guest_main's return value goes to the debug-exit port. */

        .section .multiboot, "a"
        .align 4
        .long 0x1badb002
        .long 0
        .long -0x1badb002

        .section .text.entry, "ax"
        .code32
        .globl _start
_start:
        cli
        movl    $stack_top, %esp
        movl    %ebx, mbi_ptr

        /* PDs: 2048 entries of 2 MiB, identity 0-4 GiB. */
        movl    $pd, %edi
        xorl    %ecx, %ecx
1:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $0x83, %eax
        movl    %eax, (%edi,%ecx,8)
        movl    $0, 4(%edi,%ecx,8)
        incl    %ecx
        cmpl    $2048, %ecx
        jb      1b
        movl    $pdpt, %edi
        xorl    %ecx, %ecx
2:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $(pd + 3), %eax
        movl    %eax, (%edi,%ecx,8)
        incl    %ecx
        cmpl    $4, %ecx
        jb      2b
        movl    $(pdpt + 3), pml4

        movl    %cr4, %eax
        orl     $0x20, %eax                     /* PAE */
        movl    %eax, %cr4
        movl    $pml4, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx               /* EFER.LME: an MSR exit under the hypervisor */
        rdmsr
        orl     $0x100, %eax
        wrmsr
        movl    %cr0, %eax
        orl     $0x80000001, %eax
        movl    %eax, %cr0
        lgdt    gdt_desc
        ljmp    $0x08, $long_mode

        .code64
long_mode:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movq    $stack_top, %rsp
        call    guest_install_idt
        movl    mbi_ptr, %edi
        call    guest_main
        movl    %eax, %edi
        call    guest_exit
3:      cli
        hlt
        jmp     3b

/* Exception stubs: push the vector (and a zero error code where the CPU
 * pushes none), then record and resume. */
        .macro exc v, err
        .globl exc_stub_\v
exc_stub_\v:
        .if \err == 0
        pushq   $0
        .endif
        pushq   $\v
        jmp     exc_common
        .endm
        exc 0,0
        exc 1,0
        exc 2,0
        exc 3,0
        exc 4,0
        exc 5,0
        exc 6,0
        exc 7,0
        exc 8,1
        exc 9,0
        exc 10,1
        exc 11,1
        exc 12,1
        exc 13,1
        exc 14,1
        exc 15,0
        exc 16,0
        exc 17,1
        exc 18,0
        exc 19,0
        exc 20,0
        exc 21,1

/* External interrupt vector 0x40: count it (no interrupt controller to EOI). */
        .globl irq_stub_40
irq_stub_40:
        incq    guest_irq_count(%rip)
        iretq

/* Vector 0x41: a local-APIC interrupt in x2APIC mode: count it and EOI. */
        .globl irq_stub_41
irq_stub_41:
        pushq   %rax
        pushq   %rcx
        pushq   %rdx
        incq    guest_apic_irq_count(%rip)
        movl    $0x80b, %ecx
        xorl    %eax, %eax
        xorl    %edx, %edx
        wrmsr
        popq    %rdx
        popq    %rcx
        popq    %rax
        iretq

/* NMI (vector 2): count it. The first one raises a second NMI through the
 * test device and records the count while still in the handler: the second
 * must wait for this handler's IRET. */
        .globl nmi_stub
nmi_stub:
        pushq   %rax
        incq    guest_nmi_count(%rip)
        cmpq    $1, guest_nmi_count(%rip)
        jne     5f
        movl    $0xfe000fe0, %eax               /* zero-extends into RAX */
        movl    $1, (%rax)
        movl    $2000, %eax
6:      pause
        decl    %eax
        jnz     6b
        movq    guest_nmi_count(%rip), %rax
        movq    %rax, guest_nmi_count_in_handler(%rip)
5:      popq    %rax
        iretq

exc_common:
        popq    guest_last_vector(%rip)
        popq    guest_last_error(%rip)
        incq    guest_exception_count(%rip)
        movq    guest_resume_rip(%rip), %rax
        testq   %rax, %rax
        jz      4f
        movq    %rax, (%rsp)                    /* frame RIP */
        movq    $0, guest_resume_rip(%rip)
        iretq
4:      /* Unexpected: report through the debug port (value 0x7f). */
        movw    $0xf4, %dx
        movl    $0x7f, %eax
        outl    %eax, %dx
        cli
        hlt

/* AP start: guest_ap_trampoline..guest_ap_trampoline_end is copied to a
 * page below 1 MiB by the guest (guest::start_aps); a SIPI starts an AP there
 * in real mode. It loads the GDT, enters protected mode and jumps to
 * ap_entry32, which joins the BSP's page tables, enters long mode, takes a
 * stack and calls guest_ap_main(index). */
        .section .rodata
        .code16
        .globl guest_ap_trampoline, guest_ap_trampoline_end
guest_ap_trampoline:
        cli
        movw    %cs, %ax
        movw    %ax, %ds
        lgdtl   (tramp_gdtr - guest_ap_trampoline)
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $0x18, $ap_entry32
        .align 4
tramp_gdtr:
        .short gdt_end - gdt - 1
        .long gdt
guest_ap_trampoline_end:

        .text
        .code32
ap_entry32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    %cr4, %eax
        orl     $0x20, %eax
        movl    %eax, %cr4
        movl    $pml4, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx
        rdmsr
        orl     $0x100, %eax
        wrmsr
        movl    %cr0, %eax
        orl     $0x80000001, %eax
        movl    %eax, %cr0
        ljmp    $0x08, $ap_long
        .code64
ap_long:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $1, %edi
        lock xaddl %edi, ap_next_index(%rip)    /* index 1, 2, ... */
        movl    %edi, %eax
        shll    $14, %eax                       /* 16 KiB per AP */
        leaq    ap_stacks(%rip), %rsp
        addq    %rax, %rsp
        call    guest_install_idt_ap
        call    guest_ap_main
7:      cli
        hlt
        jmp     7b

        .data
        .align 8
gdt:
        .quad 0
        .quad 0x00af9a000000ffff                /* 0x08: 64-bit code */
        .quad 0x00cf92000000ffff                /* 0x10: data */
        .quad 0x00cf9a000000ffff                /* 0x18: 32-bit code (APs on the way up) */
gdt_end:
gdt_desc:
        .short gdt_end - gdt - 1
        .quad gdt
        .globl mbi_ptr
mbi_ptr: .long 0

        .align 4
ap_next_index: .long 1

        .bss
        .align 16
ap_stacks:
        .skip 16384 * 8                         /* index 1..7 use the slots above their index */
        .align 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096 * 4
        .skip 16384
stack_top:
