/*
 * Guest code of the `hvm bench` scratch VMs. The bytes between
 * bench_guest_start and bench_guest_end are copied into guest memory and
 * entered at an offset, so every routine is position-independent. Each
 * routine stores its guest TSC readings through a pointer argument and
 * ends with the exit hypercall, after which the VMM leaves the run loop.
 */
#include <hvm/abi.h>

#define EXIT_PORT (HVM_HC_PORT_BASE + HVM_HC_EXIT)
/* The last hypercall port has no operation: the VMM answers NOSYS. */
#define NULL_PORT (HVM_HC_PORT_BASE + HVM_HC_PORT_COUNT - 1)

/* Stores the TSC into the 8 bytes at reg + offset; clobbers RAX, RDX. */
.macro TSC_STORE reg, offset
    rdtsc
    shl $32, %rdx
    or %rax, %rdx
    mov %rdx, \offset(\reg)
.endm

.macro EXIT_HYPERCALL
    mov $EXIT_PORT, %dx
    out %al, %dx
1:  hlt
    jmp 1b
.endm

    .text
    .globl bench_guest_start, bench_guest_end
    .globl bench_guest_ping, bench_guest_pong, bench_guest_hypercalls
bench_guest_start:

/*
 * Ping side of the cache-line round trip. RDI = shared line, RSI = round
 * trips (> 0), RDX = u64[2] for the TSC at start and end. Waits until the
 * pong side has written 1, then for each round trip writes an even value
 * v and waits for v + 1.
 */
bench_guest_ping:
    mov %rdx, %r8
1:  cmpq $1, (%rdi)
    je 2f
    pause
    jmp 1b
2:  TSC_STORE %r8, 0
    mov $2, %rcx
3:  mov %rcx, (%rdi)
    lea 1(%rcx), %r9
4:  cmp %r9, (%rdi)
    je 5f
    pause
    jmp 4b
5:  add $2, %rcx
    dec %rsi
    jnz 3b
    TSC_STORE %r8, 8
    EXIT_HYPERCALL

/*
 * Pong side. RDI = shared line, RSI = round trips (> 0). Writes 1 to say
 * it runs, then answers each even value v with v + 1.
 */
bench_guest_pong:
    movq $1, (%rdi)
    mov $2, %rcx
1:  cmp %rcx, (%rdi)
    je 2f
    pause
    jmp 1b
2:  lea 1(%rcx), %rax
    mov %rax, (%rdi)
    add $2, %rcx
    dec %rsi
    jnz 1b
    EXIT_HYPERCALL

/*
 * RDI = null hypercalls to make (> 0), RDX = u64[2] for the TSC at start
 * and end. Runs in ring 0 or ring 3 (the TSS I/O bitmap allows the port).
 */
bench_guest_hypercalls:
    mov %rdx, %r8
    mov %rdi, %rcx
    TSC_STORE %r8, 0
    mov $NULL_PORT, %dx
1:  out %al, %dx
    dec %rcx
    jnz 1b
    TSC_STORE %r8, 8
    EXIT_HYPERCALL

bench_guest_end:
    .section .note.GNU-stack, "", @progbits
