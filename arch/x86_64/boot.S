/* Multiboot1 and Multiboot2 entry: 32-bit protected mode, paging off.
 * Builds boot page tables (identity and direct map of the low 4 GiB, the
 * image at -2 GiB), enters long mode, and calls kernel_main(magic, info) on
 * the higher-half boot stack. Loaders: QEMU -kernel and iPXE (Multiboot1,
 * hv.elf32), GRUB BIOS/EFI (Multiboot2, hv.elf). */

#define MB1_MAGIC        0x1badb002
#define MB1_FLAGS        0x00000003   /* page-align modules, memory info */
#define MB2_MAGIC        0xe85250d6
#define MB1_BOOT_MAGIC   0x2badb002
#define MB2_BOOT_MAGIC   0x36d76289
#define KERNEL_VIRT      0xffffffff80000000

#define PTE_P   0x001
#define PTE_RW  0x002
#define PTE_PS  0x080

        .section .multiboot1, "a"
        .align 4
multiboot1_header:
        .long MB1_MAGIC
        .long MB1_FLAGS
        .long -(MB1_MAGIC + MB1_FLAGS)

        .section .multiboot2, "a"
        .align 8
multiboot2_header:
        .long MB2_MAGIC
        .long 0                                   /* i386 protected mode */
        .long multiboot2_header_end - multiboot2_header
        .long -(MB2_MAGIC + 0 + (multiboot2_header_end - multiboot2_header))
        /* Module alignment tag: page-aligned modules. */
        .align 8
        .short 6, 0
        .long 8
        /* End tag. */
        .align 8
        .short 0, 0
        .long 8
multiboot2_header_end:

        .section .boot.text, "ax"
        .code32
        .globl multiboot_entry
multiboot_entry:
        cli
        cld
        movl    %eax, boot_magic
        movl    %ebx, boot_info
        movl    $boot_stack32_top, %esp

        cmpl    $MB1_BOOT_MAGIC, %eax
        je      1f
        cmpl    $MB2_BOOT_MAGIC, %eax
        je      1f
        movl    $msg_not_multiboot, %esi
        jmp     boot_fail32
1:
        /* Long mode available? CPUID.80000001h:EDX[29] */
        movl    $0x80000000, %eax
        cpuid
        cmpl    $0x80000001, %eax
        jb      no_long_mode
        movl    $0x80000001, %eax
        cpuid
        btl     $29, %edx
        jnc     no_long_mode
        movl    %edx, %ebp                        /* keep: bit 20 = NX */

        /* Four page directories of 2 MiB pages: identity of the low 4 GiB. */
        movl    $boot_pd, %edi
        xorl    %ecx, %ecx
2:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $(PTE_P | PTE_RW | PTE_PS), %eax
        movl    %eax, (%edi,%ecx,8)
        movl    %ecx, %eax
        shrl    $11, %eax                         /* bits 32+ of the address */
        movl    %eax, 4(%edi,%ecx,8)
        incl    %ecx
        cmpl    $2048, %ecx
        jb      2b

        /* Low PDPT: four PDs. */
        movl    $boot_pdpt_low, %edi
        xorl    %ecx, %ecx
3:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $(boot_pd + PTE_P + PTE_RW), %eax
        movl    %eax, (%edi,%ecx,8)
        incl    %ecx
        cmpl    $4, %ecx
        jb      3b

        /* High PDPT: slot 510 maps the first GiB at -2 GiB. */
        movl    $(boot_pd + PTE_P + PTE_RW), boot_pdpt_high + 510*8

        /* PML4: slot 0 identity, slot 256 direct map, slot 511 kernel. */
        movl    $(boot_pdpt_low + PTE_P + PTE_RW), boot_pml4
        movl    $(boot_pdpt_low + PTE_P + PTE_RW), boot_pml4 + 256*8
        movl    $(boot_pdpt_high + PTE_P + PTE_RW), boot_pml4 + 511*8

        /* CR4.PAE, CR3, EFER.LME (+NXE if present), CR0.PG|WP. */
        movl    %cr4, %eax
        orl     $0x20, %eax
        movl    %eax, %cr4
        movl    $boot_pml4, %eax
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx
        rdmsr
        orl     $0x100, %eax
        btl     $20, %ebp
        jnc     4f
        orl     $0x800, %eax
4:      wrmsr
        movl    %cr0, %eax
        orl     $0x80010001, %eax
        movl    %eax, %cr0

        lgdt    boot_gdt_desc
        ljmp    $0x08, $long_entry_low

no_long_mode:
        movl    $msg_no_long_mode, %esi
        /* fall through */
/* Print the NUL-terminated string at %esi on COM1 and stop. */
boot_fail32:
        movw    $0x3f8, %dx
5:      lodsb
        testb   %al, %al
        jz      6f
        outb    %al, %dx
        jmp     5b
6:      cli
        hlt
        jmp     6b

        .code64
long_entry_low:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        xorw    %ax, %ax
        movw    %ax, %fs
        movw    %ax, %gs
        movabsq $long_entry_high, %rax
        jmp     *%rax

        .section .boot.data, "aw"
        .align 16
boot_gdt:
        .quad 0
        .quad 0x00af9a000000ffff                  /* 0x08: 64-bit code */
        .quad 0x00cf92000000ffff                  /* 0x10: data */
boot_gdt_end:
boot_gdt_desc:
        .short boot_gdt_end - boot_gdt - 1
        .long boot_gdt
        .globl boot_magic, boot_info
boot_magic:     .long 0
boot_info:      .long 0
msg_not_multiboot:
        .asciz "hv: FATAL: not loaded by a Multiboot loader\r\n"
msg_no_long_mode:
        .asciz "hv: FATAL: this CPU has no 64-bit long mode\r\n"

        .section .boot.bss, "aw", @nobits
        .align 4096
        .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
boot_stack32:   .skip 1024
boot_stack32_top:

        .text
        .code64
long_entry_high:
        movabsq $bsp_boot_stack_top, %rsp
        xorl    %ebp, %ebp
        movl    boot_magic + KERNEL_VIRT, %edi
        movl    boot_info + KERNEL_VIRT, %esi
        call    kernel_main
7:      cli
        hlt
        jmp     7b

        .bss
        .align 4096
        .globl bsp_boot_stack_guard, bsp_boot_stack_top
bsp_boot_stack_guard:  .skip 4096     /* unmapped once the kernel builds its page tables */
bsp_boot_stack:        .skip 16384
bsp_boot_stack_top:
