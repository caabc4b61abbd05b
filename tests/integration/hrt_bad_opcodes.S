/*
 * Instructions that check-hrt-opcodes.sh must reject in ring-0 code. The
 * hrt-opcodes-reject test expects the checker to fail on this object, so
 * the opcode check can be seen to fail. The .user_text copy must be
 * ignored.
 */
    .text
    popcnt %rax, %rbx
    pxor %xmm0, %xmm0
    lock cmpxchg16b (%rdi)
    xsave (%rdi)
    int3
    int $0x80
    vmcall
    andn %rax, %rbx, %rcx
    rdtscp

    .section .user_text, "ax"
    popcnt %rax, %rbx
