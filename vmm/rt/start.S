/* Dom0's entry: hv starts the first thread here with rdi = StartInfo* and
 * RSP + 8 16-byte aligned. */
        .section .text.start, "ax"
        .globl _start
_start:
        xorl    %ebp, %ebp
        call    dom0_main
        movq    %rax, %rdi
        movl    $5, %eax                /* Call::thread_exit */
        syscall
        ud2
