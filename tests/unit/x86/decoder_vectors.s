# Encodings for the decoder's length table. gen_decoder_vectors.py assembles
# this with GNU as, disassembles each section with objdump in its mode, checks
# that both agree on the instruction count, and writes decoder_vectors.inc.
# One instruction per line; no prefix-only lines (objdump prints those apart).

        .section .text64, "ax"
        .code64
        # Instructions the exit handlers need lengths for.
        cpuid
        rdmsr
        wrmsr
        hlt
        pause
        rdtsc
        rdtscp
        rdpmc
        vmcall
        vmmcall
        vmlaunch
        vmresume
        vmxoff
        vmrun
        vmload
        vmsave
        stgi
        clgi
        skinit
        invlpga
        xsetbv
        xgetbv
        wbinvd
        invd
        clts
        int3
        int $0x80
        int1
        iretq
        iretl
        ud2
        swapgs
        monitor
        mwait
        syscall
        sysretq
        sysenter
        sysexitl
        in $0x60, %al
        in $0x60, %ax
        in $0x60, %eax
        in (%dx), %al
        in (%dx), %ax
        in (%dx), %eax
        out %al, $0x80
        out %ax, $0x80
        out %eax, $0x80
        out %al, (%dx)
        out %ax, (%dx)
        out %eax, (%dx)
        insb
        insw
        insl
        outsb
        outsw
        outsl
        rep insb
        rep outsw
        rep outsl
        mov %cr0, %rax
        mov %rax, %cr3
        mov %cr4, %r9
        mov %r8, %cr8
        mov %cr2, %rbx
        mov %rcx, %cr0
        mov %db7, %rax
        mov %rax, %db0
        invlpg (%rax)
        invlpg 0x10(%rip)
        invlpg 0x12345678(%rax,%rbx,8)
        lgdt (%rax)
        lidt 0x8(%rsp)
        sgdt (%rdi)
        sidt (%rdi)
        lmsw %ax
        smsw %eax
        lldt %ax
        ltr %ax
        sldt %eax
        str %eax
        # MOV forms
        mov %eax, (%rdi)
        mov %al, (%rdi)
        mov %ax, (%rdi)
        mov %rax, (%rdi)
        mov %sil, (%rdi)
        mov %r8b, (%rdi)
        mov (%rsi), %ecx
        mov (%rsi), %cl
        mov (%rsi), %r15
        movb $1, (%rax)
        movw $0x1234, (%rax)
        movl $0x12345678, 0x10(%rax)
        movq $-1, 0x1000(%rip)
        mov %r8d, (%r9,%r10,4)
        mov 0x7fffffff(%r12), %r13
        mov (%r13), %eax
        mov (%rsp), %eax
        mov (%rbp), %eax
        mov 0x40(%rsp,%rbx,2), %eax
        mov 0x12345678(,%rcx,8), %eax
        mov 0x12345678, %eax
        mov %fs:0x28, %rax
        mov %gs:(%rax), %eax
        mov (%eax), %ecx
        mov (%eax,%ebx,4), %ecx
        mov 0x10(%eip), %eax
        movabs 0x1122334455667788, %al
        movabs 0x1122334455667788, %ax
        movabs 0x1122334455667788, %eax
        movabs 0x1122334455667788, %rax
        movabs %al, 0x1122334455667788
        movabs %rax, 0x1122334455667788
        movabs $0x1122334455667788, %rax
        mov $0x11223344, %r10d
        mov $0x1234, %ax
        mov $1, %r10b
        mov %ds, %ax
        mov %ax, %ds
        lea 0x10(%rax,%rbx,4), %rcx
        movzbl (%rax), %ecx
        movzwl (%rax), %ecx
        movzbw (%rax), %cx
        movzbq (%rax), %rcx
        movsbl (%rax), %ecx
        movswl (%rax), %ecx
        movsbq (%rax), %r9
        movswq (%rax), %rcx
        movslq (%rax), %rcx
        movsb
        movsw
        movsl
        movsq
        rep movsb
        rep movsq
        stosb
        stosw
        stosl
        stosq
        rep stosl
        lodsb
        lodsq
        cmpsb
        repne scasb
        # ALU group
        add %eax, (%rbx)
        add (%rbx), %eax
        add %al, (%rbx)
        add (%rbx), %al
        add %rax, (%rbx)
        add %ax, (%rbx)
        addl $1, (%rbx)
        addl $0x1000, (%rbx)
        addb $1, (%rbx)
        addw $0x1000, (%rbx)
        addq $-0x1000, (%rbx)
        add $0x12345678, %eax
        add $0x1234, %ax
        add $1, %al
        or %ecx, 0x10(%rbx)
        orl $0x80000000, (%rbx)
        adc %edx, (%rbx)
        adcb $1, (%rbx)
        sbb (%rbx), %edx
        sbbq $1, (%rbx)
        and %eax, (%rbx)
        andl $0xfffffffe, (%rbx)
        andw $0xff, (%rbx)
        sub %eax, (%rbx)
        subb $0x10, (%rbx)
        xor %r11, (%rbx)
        xorl $0x1, (%rbx)
        cmp %eax, (%rbx)
        cmp (%rbx), %eax
        cmpb $0x80, (%rbx)
        cmpl $0x1000, (%rbx)
        test %eax, (%rbx)
        test %al, (%rbx)
        testb $1, (%rbx)
        testw $0x100, (%rbx)
        testl $0x10000, (%rbx)
        testq $-2, (%rbx)
        test $1, %al
        test $0x12345678, %eax
        xchg %eax, (%rbx)
        xchg %al, (%rbx)
        xchg %r8, %rax
        xchg %ax, (%rbx)
        nop
        nopw 0x0(%rax,%rax,1)
        nopl 0x0(%rax)
        bt %eax, (%rbx)
        bt %rax, (%rbx)
        bt %ax, (%rbx)
        btl $5, (%rbx)
        btq $63, (%rbx)
        btsl $3, (%rbx)
        btr %eax, (%rbx)
        btc %eax, (%rbx)
        lock add %eax, (%rbx)
        lock cmpxchg %ecx, (%rdx)
        lock xadd %eax, (%rdx)
        lock incl (%rax)
        lock orb $1, (%rax)
        # Control flow, stack, misc.
        push %rax
        push %r12
        pop %rbx
        push $0x12345678
        push $1
        pushq (%rax)
        pushf
        popf
        call .+0x100
        jmp .+0x100
        jmp .+2
        jne .+0x100
        jne .+2
        jrcxz .+2
        loop .+2
        call *%rax
        call *(%rax)
        jmp *0x10(%rip)
        ljmp *(%rax)
        lcall *(%rax)
        ret
        ret $8
        lretq
        enter $16, $0
        leave
        imul $0x1000, %eax, %ecx
        imul $5, %eax, %ecx
        imul (%rax), %ecx
        shl $3, %eax
        shll $3, (%rax)
        shr %cl, %eax
        rol %eax
        incl (%rax)
        decb (%rax)
        negl (%rax)
        notl (%rax)
        mull (%rax)
        divq (%rax)
        cbw
        cwde
        cdqe
        cqo
        sahf
        lahf
        cmc
        clc
        stc
        cli
        sti
        cld
        std
        xlat
        cmove (%rax), %eax
        sete (%rax)
        setne %al
        bsf %eax, %ecx
        bsr (%rax), %rcx
        bswap %eax
        bswap %r9
        shld $4, %eax, (%rbx)
        shrd %cl, %eax, (%rbx)
        cmpxchg8b (%rax)
        cmpxchg16b (%rax)
        rdrand %eax
        rdseed %rax
        popcnt %eax, %ecx
        tzcnt %eax, %ecx
        lzcnt %eax, %ecx
        endbr64
        lfence
        mfence
        sfence
        clflush (%rax)
        prefetchw (%rax)
        prefetcht0 (%rax)
        xsave (%rax)
        xrstor (%rax)
        fxsave (%rax)
        ldmxcsr (%rax)
        movbe (%rax), %eax
        crc32b (%rax), %eax
        crc32q %rax, %rcx
        # x87
        flds (%rax)
        fldl 0x10(%rbx)
        fstp %st(1)
        fnstsw %ax
        fninit
        # SSE: 0F, 66 0F, F2 0F, F3 0F, 0F 38, 0F 3A
        movaps (%rax), %xmm0
        movdqu %xmm1, (%rbx)
        movdqa %xmm8, 0x10(%r9)
        movq %xmm0, %rax
        movd %eax, %xmm0
        pshufd $0x1b, %xmm0, %xmm1
        pshuflw $0x1b, (%rax), %xmm1
        pextrw $1, %xmm0, %eax
        pinsrw $1, (%rax), %xmm0
        cmpps $1, %xmm0, %xmm1
        cmpsd $1, (%rax), %xmm1
        shufps $1, %xmm0, %xmm1
        psrldq $4, %xmm0
        psllq $1, %mm0
        addsd (%rax), %xmm0
        cvtsi2sdq %rax, %xmm1
        pshufb %xmm0, %xmm1
        pshufb (%rax), %mm1
        palignr $4, %xmm0, %xmm1
        pinsrd $1, %eax, %xmm0
        pextrq $1, %xmm0, (%rax)
        roundsd $4, (%rax), %xmm2
        aesenc %xmm0, %xmm1
        aeskeygenassist $1, %xmm0, %xmm1
        pclmulqdq $0x11, %xmm0, %xmm1
        sha1rnds4 $1, %xmm0, %xmm1
        ptest (%rax), %xmm1
        pcmpistri $0x18, (%rax), %xmm1
        movntdqa (%rax), %xmm1
        emms
        # AMD: 3DNow!, SSE4a
        femms
        pfadd %mm1, %mm0
        pi2fd (%rax), %mm1
        pfmul 0x10(%rax,%rbx,4), %mm2
        extrq $4, $8, %xmm0
        insertq $4, $8, %xmm1, %xmm0
        extrq %xmm1, %xmm0
        insertq %xmm1, %xmm0
        # VEX
        vmovdqu (%rax), %ymm0
        vmovdqu %ymm8, (%r9)
        vpaddd %ymm0, %ymm1, %ymm2
        vzeroupper
        vzeroall
        vpermq $0x1b, %ymm0, %ymm1
        vpshufd $1, %ymm1, %ymm2
        vpcmpeqd %xmm0, %xmm1, %xmm2
        vfmadd231ps %ymm0, %ymm1, %ymm2
        vextracti128 $1, %ymm0, %xmm1
        vpblendvb %xmm3, %xmm0, %xmm1, %xmm2
        vcmpps $1, 0x20(%rax), %ymm1, %ymm2
        vpsrlq $3, %ymm1, %ymm2
        vbroadcastss (%rax), %ymm0
        vpextrq $1, %xmm0, %rax
        andn %eax, %ebx, %ecx
        bextr %eax, (%rbx), %ecx
        pdep %rax, %rbx, %rcx
        rorx $3, %eax, %ecx
        shlx %eax, %ebx, %ecx
        kmovw %k1, %eax
        # EVEX
        vmovdqu64 (%rax), %zmm0
        vmovups 0x40(%rax), %zmm1
        vmovups 0x1000(%rax), %zmm1
        vpaddd %zmm1, %zmm2, %zmm3{%k1}
        vpaddd %zmm17, %zmm18, %zmm19{%k1}{z}
        vpternlogd $0x11, %zmm0, %zmm1, %zmm2
        vpshufd $1, %zmm1, %zmm2
        vpaddq (%rax){1to8}, %zmm1, %zmm2
        vcmpps $1, %zmm0, %zmm1, %k2
        vpxord %xmm16, %xmm17, %xmm18
        # XOP (AMD)
        vprotb $3, %xmm1, %xmm2
        vpcmov %xmm3, %xmm0, %xmm1, %xmm2
        vfrczps %xmm1, %xmm2
        vphaddbw (%rax), %xmm1
        bextr $0x1234, %eax, %ecx
        blcfill %eax, %ecx

        .section .text32, "ax"
        .code32
        cpuid
        rdmsr
        wrmsr
        hlt
        pause
        rdtsc
        vmcall
        vmmcall
        xsetbv
        clts
        wbinvd
        int3
        int $0x80
        into
        iretl
        iretw
        in $0x60, %al
        in (%dx), %eax
        out %ax, $0x80
        out %al, (%dx)
        insl
        rep outsb
        mov %cr0, %eax
        mov %eax, %cr3
        mov %cr4, %ebx
        mov %db6, %eax
        invlpg (%eax)
        invlpg 0x10(%ebx,%ecx,2)
        lgdt (%eax)
        lidt 0x12345678
        lmsw %ax
        mov %eax, (%edi)
        mov %al, (%edi)
        mov %ax, (%edi)
        mov (%esi), %ecx
        movb $1, (%eax)
        movw $0x1234, (%eax)
        movl $0x12345678, 0x10(%eax)
        mov 0x12345678, %eax
        mov 0x12345678, %al
        mov 0x12345678, %ax
        mov %eax, 0x12345678
        mov %al, 0x12345678
        addr16 mov 0x1234, %eax
        mov %fs:0x10, %eax
        mov %es:(%eax), %ecx
        mov (%esp), %eax
        mov 0x10(%ebp), %eax
        mov (,%eax,4), %ecx
        mov (%bx,%si), %eax
        mov 0x10(%bp), %eax
        mov 0x1234(%bp,%di), %ax
        mov 0x1234, %eax
        movzbl (%eax), %ecx
        movzwl (%eax), %ecx
        movsbl (%eax), %ecx
        movswl (%eax), %ecx
        movsb
        movsl
        movsw
        rep movsb
        rep stosl
        rep stosw
        addr16 rep movsb
        add %eax, (%ebx)
        addl $1, (%ebx)
        addl $0x1000, (%ebx)
        addw $0x1000, (%ebx)
        addw $1, (%ebx)
        orb $1, (%ebx)
        and (%ebx), %eax
        xor %eax, (%ebx)
        cmp $0x12345678, %eax
        cmp $0x1234, %ax
        test %eax, (%ebx)
        testl $0x10000, (%ebx)
        testw $0x100, (%ebx)
        xchg %eax, (%ebx)
        bt %eax, (%ebx)
        btl $5, (%ebx)
        lock add %eax, (%ebx)
        inc %eax
        dec %ecx
        push %es
        pop %ds
        push %cs
        pusha
        popa
        daa
        das
        aaa
        aas
        aam
        aad
        aam $16
        bound %eax, (%ebx)
        les (%eax), %ecx
        lds (%eax), %ecx
        arpl %ax, (%ebx)
        lcall $0x10, $0x12345678
        ljmp $0x8, $0x1000
        lcallw $0x10, $0x1234
        push $0x12345678
        pushw $0x1234
        push $1
        call .+0x100
        jmp .+0x100
        jmp .+2
        jne .+0x100
        jecxz .+2
        ret $8
        enter $16, $1
        leave
        mov $0x12345678, %eax
        mov $0x1234, %ax
        vpaddd %xmm0, %xmm1, %xmm2
        vmovdqu (%eax), %ymm0
        vpermq $0x1b, %ymm0, %ymm1
        vpaddd %zmm0, %zmm1, %zmm2
        vmovups 0x40(%eax), %zmm1
        vprotb $3, %xmm1, %xmm2
        pop (%eax)
        pfadd %mm1, %mm0
        sysenter
        flds (%eax)

        .section .text16, "ax"
        .code16
        cpuid
        rdmsr
        wrmsr
        hlt
        pause
        vmcall
        vmmcall
        int $0x10
        int3
        into
        iretw
        iretl
        in $0x60, %al
        in (%dx), %ax
        out %al, $0x80
        outl %eax, (%dx)
        outsb
        rep insw
        mov %cr0, %eax
        mov %eax, %cr0
        lgdt (%bx)
        lidtl 0x10(%bp)
        lmsw %ax
        invlpg (%si)
        mov (%bx,%si), %ax
        mov (%bx,%di), %ax
        mov (%bp,%si), %ax
        mov (%bp,%di), %ax
        mov (%si), %ax
        mov (%di), %ax
        mov 0x1234, %ax
        mov (%bx), %ax
        mov 0x10(%bx,%si), %ax
        mov 0x10(%bp), %ax
        mov 0x1234(%bp), %ax
        mov 0x1234(%di), %al
        mov %ax, 0x10(%bp)
        movw $0x1234, (%bx)
        movl $0x12345678, (%bx)
        movb $1, 0x1234(%bx,%si)
        mov (%eax), %ax
        mov (%eax,%ebx,2), %ecx
        mov 0x12345678(%esp), %ax
        mov %es:(%di), %ax
        mov %ax, %ss:(%bx)
        mov 0x1234, %al
        mov %ax, 0x1234
        addr32 mov 0x12345678, %eax
        movzbw (%bx), %ax
        movzbl (%bx), %eax
        movsb
        movsw
        movsl
        rep movsb
        rep stosw
        addr32 rep movsb
        add %ax, (%bx)
        addw $1, (%bx)
        addw $0x1000, (%bx)
        addl $0x100000, (%bx)
        cmp $0x1234, %ax
        cmp $0x12345678, %eax
        testw $0x100, (%bx)
        xchg %ax, (%bx)
        bt %ax, (%bx)
        btw $5, (%bx)
        ljmp $0x8, $0x1000
        ljmpl $0x8, $0x100000
        lcall $0x8, $0x1000
        call .+0x100
        jmp .+0x100
        jne .+0x100
        jmp .+2
        push $0x1234
        pushl $0x12345678
        ret $2
        enter $8, $0
        mov $0x1234, %ax
        mov $0x12345678, %eax
        push %ds
        pop %es
        pusha
        cli
        sti
        lock incw (%bx)
        flds (%bx)
        vpaddd %xmm0, %xmm1, %xmm2
