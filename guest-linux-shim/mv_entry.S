/*
 * Assembly of the host-ROS runtime: the system-call entry that HRT threads
 * reach through LSTAR, the HRT entry of the main thread, and the host-side
 * helpers that create partner threads and resume a forked child natively.
 */
#include <hvm/abi.h>

#define SYS_clone 56
#define SYS_fork 57
#define SYS_vfork 58
#define SYS_clone3 435

/*
 * mv_syscall_entry: LSTAR of every HRT vCPU of this process.
 *
 * On hosts whose KVM interprets guest ring 0 a ring-3 `syscall` lands here
 * still in ring 3; with hardware virtualization it lands in ring 0 with
 * the user stack. Both cases run the same code: the caller's registers go
 * to the channel at the GS base (set by the VMM, never by the caller),
 * the partner runs the call, and the result comes back in RAX. Only RAX,
 * RCX and R11 change, as with a real `syscall`. The first 128 bytes below
 * RSP are the caller's red zone and are never written.
 */
    .text
    .globl mv_syscall_entry
    .type mv_syscall_entry, @function
mv_syscall_entry:
    movq %rcx, %gs:HVM_CH_RIP
    movq %r11, %gs:HVM_CH_RFLAGS
    movq %rsp, %gs:HVM_CH_RSP
    leaq -128(%rsp), %rsp
    movq %rax, %gs:HVM_CH_NR
    movq %rdi, %gs:HVM_CH_ARGS + 0
    movq %rsi, %gs:HVM_CH_ARGS + 8
    movq %rdx, %gs:HVM_CH_ARGS + 16
    movq %r10, %gs:HVM_CH_ARGS + 24
    movq %r8, %gs:HVM_CH_ARGS + 32
    movq %r9, %gs:HVM_CH_ARGS + 40
    movq %rbx, %gs:HVM_CH_RBX
    movq %rbp, %gs:HVM_CH_RBP
    movq %r12, %gs:HVM_CH_R12
    movq %r13, %gs:HVM_CH_R13
    movq %r14, %gs:HVM_CH_R14
    movq %r15, %gs:HVM_CH_R15

    /* A forked child resumes natively and needs the FPU/SSE state too. */
    cmpq $SYS_clone, %rax
    je 1f
    cmpq $SYS_fork, %rax
    je 1f
    cmpq $SYS_vfork, %rax
    je 1f
    cmpq $SYS_clone3, %rax
    jne 2f
1:  fxsave64 %gs:HVM_CH_FXSAVE

    /* Publish the request; stores are not reordered with earlier stores. */
2:  movl %gs:HVM_CH_REQ_SEQ, %ecx
    incl %ecx
    movl %ecx, %gs:HVM_CH_REQ_SEQ
    mfence
    cmpl $0, %gs:HVM_CH_PARTNER_WAITING
    je 3f
    movq %gs:HVM_CH_SELF, %rdi
    movl $(HVM_HC_PORT_BASE + HVM_HC_CHANNEL_WAKE), %edx
    outb %al, %dx

    /* Poll for the reply until the deadline in R11, then sleep in the VMM. */
3:  rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    addq %gs:HVM_CH_SPIN_CYCLES, %rax
    movq %rax, %r11
4:  cmpl %ecx, %gs:HVM_CH_REP_SEQ
    je 6f
    pause
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    cmpq %r11, %rax
    jb 4b
    movq %gs:HVM_CH_SELF, %rdi
    movl $(HVM_HC_PORT_BASE + HVM_HC_CHANNEL_WAIT), %edx
    outb %al, %dx
    jmp 4b

    /* The VMM applies actions it owns (FS base, thread exit) first. */
6:  cmpq $HVM_CH_ACTION_NONE, %gs:HVM_CH_ACTION
    je 7f
    movq %gs:HVM_CH_SELF, %rdi
    movl $(HVM_HC_PORT_BASE + HVM_HC_CHANNEL_ACTION), %edx
    outb %al, %dx

7:  movq %gs:HVM_CH_ARGS + 0, %rdi
    movq %gs:HVM_CH_ARGS + 16, %rdx
    movq %gs:HVM_CH_RET, %rax
    movq %gs:HVM_CH_RIP, %rcx
    movq %gs:HVM_CH_RFLAGS, %r11

    /* Ring 0 entered from ring-3 code (hardware virtualization): sysret. */
    movl %cs, %esi
    testl $3, %esi
    jnz 8f
    cmpq $0, %gs:HVM_CH_APP_RING
    je 8f
    movq %gs:HVM_CH_ARGS + 8, %rsi
    movq %gs:HVM_CH_RSP, %rsp
    sysretq

    /* Same ring as the caller: restore flags below the red zone, jump. */
8:  movq %gs:HVM_CH_ARGS + 8, %rsi
    pushq %r11
    popfq
    leaq 128(%rsp), %rsp
    jmpq *%rcx
    .size mv_syscall_entry, . - mv_syscall_entry

/*
 * mv_guest_main(main, argc, argv, envp): the first HRT code of the main
 * thread. Calls main and passes its result to exit(), as the C library's
 * start routine would have done.
 */
    .globl mv_guest_main
    .type mv_guest_main, @function
mv_guest_main:
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    xorl %ebp, %ebp
    callq *%rax
    movl %eax, %edi
    callq exit@PLT
    ud2
    .size mv_guest_main, . - mv_guest_main

/*
 * long mv_clone3_raw(struct clone_args *args, size_t size,
 *                    void (*fn)(void *), void *arg)
 * Host side. Runs clone3; the child calls fn(arg) on the stack from args
 * and must never return. The parent gets the child's TID or -errno.
 */
    .globl mv_clone3_raw
    .type mv_clone3_raw, @function
mv_clone3_raw:
    movq %rdx, %r8
    movq %rcx, %r9
    movl $SYS_clone3, %eax
    syscall
    testq %rax, %rax
    jnz 1f
    xorl %ebp, %ebp
    andq $-16, %rsp
    movq %r9, %rdi
    callq *%r8
    ud2
1:  ret
    .size mv_clone3_raw, . - mv_clone3_raw

/*
 * void mv_switch_stack(void *top, void (*fn)(void *), void *arg)
 * Host side. Calls fn(arg) on a new stack; fn must never return.
 */
    .globl mv_switch_stack
    .type mv_switch_stack, @function
mv_switch_stack:
    movq %rdi, %rsp
    andq $-16, %rsp
    movq %rdx, %rdi
    xorl %ebp, %ebp
    callq *%rsi
    ud2
    .size mv_switch_stack, . - mv_switch_stack

/*
 * long mv_clone3_native(struct clone_args *args, size_t size,
 *                       const struct mv_native_state *state)
 * Host side. Runs clone3 with args (whose stack must be 0); the child
 * jumps straight to mv_native_resume(state) without a call or a return,
 * because with CLONE_VM|CLONE_VFORK it runs on the suspended parent's
 * stack and must not overwrite the parent's frames. The parent gets the
 * child's PID or -errno.
 */
    .globl mv_clone3_native
    .type mv_clone3_native, @function
mv_clone3_native:
    movq %rdx, %r8
    movl $SYS_clone3, %eax
    syscall
    testq %rax, %rax
    jnz 1f
    movq %r8, %rdi
    jmp mv_native_resume
1:  ret
    .size mv_clone3_native, . - mv_clone3_native

/*
 * void mv_native_resume(const struct mv_native_state *state)
 * Host side, in a forked child: loads the application's registers as they
 * were at its `syscall` and continues natively after it, as the kernel
 * would: RCX holds the resume address and R11 the flags. The offsets
 * match struct mv_native_state in mv.h. The one push (for popfq) lands
 * below the current stack pointer, never in a live frame.
 */
    .globl mv_native_resume
    .type mv_native_resume, @function
mv_native_resume:
    fxrstor64 144(%rdi)
    pushq 128(%rdi)
    popfq
    movq 0(%rdi), %rax
    movq 8(%rdi), %rbx
    movq 24(%rdi), %rdx
    movq 32(%rdi), %rsi
    movq 48(%rdi), %rbp
    movq 56(%rdi), %r8
    movq 64(%rdi), %r9
    movq 72(%rdi), %r10
    movq 80(%rdi), %r11
    movq 88(%rdi), %r12
    movq 96(%rdi), %r13
    movq 104(%rdi), %r14
    movq 112(%rdi), %r15
    movq 120(%rdi), %rcx
    movq 656(%rdi), %rsp
    movq 40(%rdi), %rdi
    jmpq *%rcx
    .size mv_native_resume, . - mv_native_resume

    .section .note.GNU-stack, "", @progbits
