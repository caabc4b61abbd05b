/*
 * Assembly parts of the HRT kernel: the boot entry, the exception and
 * interrupt stubs, the thread context switch, ring-3 entry and exit, the
 * system-call entry at LSTAR, and the self-test fault sites whose
 * recovery goes through the fixup table.
 */
#include "kernel.h"

/* Number of quadwords in struct hrt_frame. */
#define FRAME_QWORDS 22
#define FRAME_RSP (20 * 8)

    .section .text.entry, "ax"
/*
 * Boot entry contract, shared with hvm/hrt_boot.c. Every HRT CPU starts
 * here, all at the same time:
 *   - 64-bit mode, ring 0, paging on with the page tables that the VMM
 *     built (kernel window, direct map, user region);
 *   - RDI = virtual address of struct hvm_boot_info (kernel window);
 *   - RSI = CPU index (0 .. ncpus-1);
 *   - RSP = cpus[i].stack_top, 16-byte aligned;
 *   - GDTR and TR loaded with this CPU's GDT and TSS (IST1-IST3 set);
 *   - IDTR empty and RFLAGS.IF = 0, so no interrupt may arrive before
 *     the kernel loads its IDT;
 *   - GS base = KERNEL_GS_BASE = cpus[i].percpu (a zeroed page).
 */
    .globl _start
_start:
    mov %rdi, %r12
    mov %rsi, %r13
    rdtsc
    shl $32, %rdx
    or %rax, %rdx          /* third argument: TSC at entry */
    mov %r12, %rdi
    mov %r13, %rsi
    and $-16, %rsp
    xor %ebp, %ebp
    call hrt_main
1:  cli
    hlt
    jmp 1b

    .text
/*
 * Exception stubs: every vector 0-31 pushes a dummy error code where the
 * CPU pushes none, then its vector, so all frames share one layout.
 */
.macro ISR_NOERR vec
    .p2align 4
hrt_isr_\vec:
    push $0
    push $\vec
    jmp hrt_isr_common
.endm

.macro ISR_ERR vec
    .p2align 4
hrt_isr_\vec:
    push $\vec
    jmp hrt_isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31

    .p2align 4
    .globl hrt_isr_timer
hrt_isr_timer:
    push $0
    push $HRT_VEC_TIMER
    jmp hrt_isr_common

    .p2align 4
    .globl hrt_isr_ipi
hrt_isr_ipi:
    push $0
    push $HRT_VEC_IPI
    jmp hrt_isr_common

    .p2align 4
    .globl hrt_isr_ipi_test
hrt_isr_ipi_test:
    push $0
    push $HRT_VEC_IPI_TEST
    jmp hrt_isr_common

    .p2align 4
    .globl hrt_isr_spurious
hrt_isr_spurious:
    push $0
    push $HRT_VEC_SPURIOUS
    jmp hrt_isr_common

/*
 * Saves the general registers and calls hrt_trap(frame). A non-zero
 * result asks for preemption: the frame is then moved from the IST stack
 * to the interrupted ring-0 stack before the scheduler switches threads,
 * so the next interrupt can reuse the IST stack while this thread waits.
 */
hrt_isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call hrt_trap
    test %eax, %eax
    jz hrt_isr_return
    mov FRAME_RSP(%rsp), %rax
    sub $(FRAME_QWORDS * 8), %rax
    and $-16, %rax
    mov %rsp, %rsi
    mov %rax, %rdi
    mov $FRAME_QWORDS, %ecx
    rep movsq
    mov %rax, %rsp
    call hrt_preempt_schedule
hrt_isr_return:
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

    .section .rodata
    .p2align 3
    .globl hrt_isr_table
hrt_isr_table:
    .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .quad hrt_isr_\vec
    .endr
    .irp vec, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad hrt_isr_\vec
    .endr

    .text
/*
 * hrt_context_switch(save_rsp, new_rsp): saves the callee-saved registers
 * and RFLAGS on the current stack, stores RSP in *save_rsp and resumes
 * the thread whose stack pointer is new_rsp. thread.c builds the same
 * layout for a new thread, with hrt_thread_trampoline as return address.
 */
    .globl hrt_context_switch
hrt_context_switch:
    pushfq
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    popfq
    ret

/* First code of a new thread: R12 = function, R13 = argument. */
    .globl hrt_thread_trampoline
hrt_thread_trampoline:
    mov %r13, %rdi
    call *%r12
    mov %rax, %rdi
    call hrt_thread_exit
    ud2

/*
 * hrt_user_enter(entry, stack, arg0, arg1): runs ring-3 code at entry
 * with RDI = arg0 and RSI = arg1 until the #UD handler calls
 * hrt_user_return(value); returns that value.
 */
    .globl hrt_user_enter
hrt_user_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    pushfq
    cli
    mov %rsp, %gs:PERCPU_USER_RETURN_RSP
    push $HVM_SEL_USER_DS
    push %rsi
    push $0x202
    push $HVM_SEL_USER_CS
    push %rdi
    mov %rdx, %rdi
    mov %rcx, %rsi
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %ebp, %ebp
    iretq

    .globl hrt_user_return
hrt_user_return:
    mov %gs:PERCPU_USER_RETURN_RSP, %rsp
    mov %rdi, %rax
    popfq
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/*
 * System call, ring-0 half. Reached from hrt_syscall_entry only when
 * `syscall` really entered ring 0 (hardware virtualization): RSP is the
 * caller's RSP - 128, RCX the return RIP, R11 the caller's RFLAGS.
 * NOTE: this path cannot run on hosts whose `syscall` stays in ring 3,
 * so the self-test exercises it only on hardware virtualization.
 */
    .globl hrt_syscall_ring0
hrt_syscall_ring0:
    swapgs
    mov %rsp, %gs:PERCPU_SYSCALL_USER_RSP
    mov %gs:PERCPU_SYSCALL_STACK, %rsp
    push %gs:PERCPU_SYSCALL_USER_RSP
    push %rcx
    push %r11
    push %rdi
    push %rsi
    push %rdx
    push %r8
    push %r9
    push %r10
    mov %rsi, %rdx
    mov %rdi, %rsi
    mov %rax, %rdi
    xor %ecx, %ecx
    call hrt_syscall_dispatch
    pop %r10
    pop %r9
    pop %r8
    pop %rdx
    pop %rsi
    pop %rdi
    pop %r11
    pop %rcx
    pop %rsp
    lea 128(%rsp), %rsp
    swapgs
    sysretq

/*
 * Self-test fault sites. Each faults once at label 1; the exception
 * handler finds label 1 in the fixup table, records the exception and
 * resumes at label 2. They return 1 once resumed.
 */
.macro FIXUP from, to
    .pushsection .fixup_table, "a"
    .quad \from, \to
    .popsection
.endm

    .globl hrt_selftest_fault_ud
hrt_selftest_fault_ud:
1:  ud2
2:  mov $1, %eax
    ret
    FIXUP 1b, 2b

    .globl hrt_selftest_fault_de
hrt_selftest_fault_de:
    xor %edx, %edx
    mov $1, %eax
    xor %ecx, %ecx
1:  div %rcx
2:  mov $1, %eax
    ret
    FIXUP 1b, 2b

    .globl hrt_selftest_fault_pf
hrt_selftest_fault_pf:
1:  mov (%rdi), %rax
2:  mov $1, %eax
    ret
    FIXUP 1b, 2b

    .globl hrt_selftest_fault_gp
hrt_selftest_fault_gp:
    movabs $0x8000000000000000, %rax
1:  mov (%rax), %rax
2:  mov $1, %eax
    ret
    FIXUP 1b, 2b

/*
 * Code that runs in ring 3. user.c copies this position-independent blob
 * into the user region (mapped with U=1), so every reference inside it is
 * RIP-relative or an absolute address stored in the blob.
 */
    .section .user_text, "ax"
    .globl hrt_user_blob_start
hrt_user_blob_start:

/*
 * Ring-3 self-test: RDI = loop count. Sums 1..RDI natively, fills the
 * red zone, calls HRT_SYS_TEST_ADD(sum, 7) with `syscall` and checks the
 * red zone. Leaves RAX = system call result, RBX = the sum, RDX = red-zone
 * qwords that changed, then returns to ring 0 through ud2.
 */
    .globl hrt_user_test_entry
hrt_user_test_entry:
    mov %rdi, %rcx
    xor %eax, %eax
1:  add %rcx, %rax
    dec %rcx
    jnz 1b
    mov %rax, %r12
    movabs $0x5a5a5a5a00000000, %rdx
    lea -128(%rsp), %r9
    mov $16, %ecx
2:  lea (%rdx,%rcx), %r8
    mov %r8, -8(%r9,%rcx,8)
    dec %ecx
    jnz 2b
    mov $HRT_SYS_TEST_ADD, %eax
    mov %r12, %rdi
    mov $7, %esi
    syscall
    mov %rax, %r13
    xor %r14d, %r14d
    lea -128(%rsp), %r9
    mov $16, %ecx
3:  lea (%rdx,%rcx), %r8
    cmp %r8, -8(%r9,%rcx,8)
    je 4f
    inc %r14
4:  dec %ecx
    jnz 3b
    mov %r12, %rbx
    mov %r14, %rdx
    mov %r13, %rax
    .globl hrt_user_exit
hrt_user_exit:
    ud2

/*
 * System-call entry (LSTAR). It runs in ring 0 where `syscall` raises the
 * privilege level, and in ring 3 on hosts where it does not (there CS
 * stays 0x33). It first skips the caller's 128-byte red zone, then reads
 * CS to learn the ring. In ring 3 it touches no privileged state: ud2
 * traps into ring 0, where user.c performs the call from the trap frame
 * and resumes the caller at RCX with RSP restored.
 */
    .p2align 4
    .globl hrt_syscall_entry
hrt_syscall_entry:
    lea -128(%rsp), %rsp
    push %rax
    mov %cs, %eax
    test $3, %al
    pop %rax
    jnz hrt_syscall_ring3_trap
    jmp *hrt_syscall_ring0_address(%rip)
    .globl hrt_syscall_ring3_trap
hrt_syscall_ring3_trap:
    ud2
    .p2align 3
hrt_syscall_ring0_address:
    .quad hrt_syscall_ring0
    .globl hrt_user_blob_end
hrt_user_blob_end:
