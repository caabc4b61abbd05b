/*
 * Ring-3 support: the ring-3 code blob in the user region, the system-call
 * entry (LSTAR) and the ring-3 half of the exception path. Ring 3 gets
 * back to ring 0 only through exceptions here: `int n` raises #UD and
 * `syscall` may stay in ring 3 (see hrt_syscall_entry in entry.S).
 */
#include "kernel.h"

#define MSR_LSTAR 0xc0000082u
#define SYSCALL_STACK_SIZE 8192u
#define USER_BLOB_MAX 65536u
#define USER_STACK_SIZE 16384u

/* RFLAGS bits ring 3 may keep across a system call: arithmetic and DF. */
#define USER_RFLAGS_MASK 0xcd5ULL
#define RFLAGS_IF 0x200ULL
#define RFLAGS_FIXED 0x2ULL

uint64_t hrt_user_address(const char *blob_symbol)
{
    return hrt_boot_info->user_virt +
           (uint64_t)(blob_symbol - hrt_user_blob_start);
}

/* Each CPU's ring-3 stack sits below the previous CPU's, at the top. */
uint64_t hrt_user_stack_top(void)
{
    const struct hvm_boot_info *info = hrt_boot_info;

    return info->user_virt + info->user_size -
           hrt_this_cpu()->cpu * USER_STACK_SIZE;
}

/*
 * Copies the ring-3 blob (CPU 0 only, before the other CPUs run tests),
 * allocates this CPU's ring-0 system-call stack and points LSTAR at the
 * blob's entry. Without a large enough user region ring 3 stays unused.
 */
void hrt_user_init(void)
{
    const struct hvm_boot_info *info = hrt_boot_info;
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t blob_size = (uint64_t)(hrt_user_blob_end - hrt_user_blob_start);
    uint8_t *stack;

    if (info->user_size < USER_BLOB_MAX + info->ncpus * USER_STACK_SIZE ||
        blob_size > USER_BLOB_MAX)
        return;
    if (cpu->cpu == 0)
        memcpy((void *)info->user_virt, hrt_user_blob_start, blob_size);
    stack = hrt_malloc_aligned(SYSCALL_STACK_SIZE, 16);
    if (!stack)
        hrt_panic("user: no memory for the system-call stack");
    cpu->syscall_stack = (uint64_t)stack + SYSCALL_STACK_SIZE;
    hrt_wrmsr(MSR_LSTAR, hrt_user_address(hrt_syscall_entry));
}

int64_t hrt_syscall_dispatch(uint64_t nr, uint64_t arg0, uint64_t arg1,
                             uint64_t ring)
{
    struct hrt_percpu *cpu = hrt_this_cpu();

    cpu->syscall_ring = ring;
    cpu->syscall_count++;
    switch (nr) {
    case HRT_SYS_TEST_ADD:
        return (int64_t)(arg0 + arg1);
    case HRT_SYS_GETCPU:
        return (int64_t)cpu->cpu;
    default:
        return -HRT_ENOSYS;
    }
}

/*
 * `syscall` stayed in ring 3 and trapped at hrt_syscall_ring3_trap: run
 * the call from the frame and resume the caller at RCX (the return
 * address `syscall` stored) with its RSP, red zone skipped, restored.
 */
static void syscall_from_ring3(struct hrt_frame *frame)
{
    frame->rax =
        (uint64_t)hrt_syscall_dispatch(frame->rax, frame->rdi, frame->rsi, 3);
    frame->rip = frame->rcx;
    frame->rsp += 128;
    frame->rflags = (frame->r11 & USER_RFLAGS_MASK) | RFLAGS_IF | RFLAGS_FIXED;
}

/*
 * Handles an exception taken in ring 3 by the self-test code. Returns 1
 * when the frame may be resumed; exits to hrt_user_enter's caller for the
 * deliberate ud2 at hrt_user_exit and for any other fault.
 */
int hrt_user_exception(struct hrt_frame *frame)
{
    struct hrt_percpu *cpu = hrt_this_cpu();

    if (frame->vector == 6 &&
        frame->rip == hrt_user_address(hrt_syscall_ring3_trap)) {
        syscall_from_ring3(frame);
        return 1;
    }
    if (frame->vector == 6 && frame->rip == hrt_user_address(hrt_user_exit)) {
        cpu->user_rbx = frame->rbx;
        cpu->user_rdx = frame->rdx;
        hrt_user_return(frame->rax);
    }
    cpu->user_fault_vector = frame->vector;
    cpu->user_fault_rip = frame->rip;
    hrt_user_return(~0ULL);
}
