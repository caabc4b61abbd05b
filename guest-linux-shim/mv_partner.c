/*
 * Partner threads: each serves the system calls of one HRT thread. A
 * partner is a real Linux thread with the application thread's identity
 * (TID, TLS, signal mask, robust list), so a forwarded call has the
 * meaning it would have natively. Calls that create threads or processes,
 * end threads, change the FS base or change mappings get extra work here.
 *
 * Partners run with the TLS of the application thread, so this file uses
 * raw system calls only, and never errno, malloc or stdio.
 */
#include "mv.h"

#include <asm/prctl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define ENOSYS_RESULT (-38)
#define EINVAL_RESULT (-22)
#define EFAULT_RESULT (-14)

/* Work of the loop after it has published a reply. */
enum after_reply {
    AFTER_NOTHING,
    AFTER_THREAD_EXIT,
};

static inline uint64_t ch64(const struct mv_group *group, unsigned offset)
{
    return *(volatile uint64_t *)(group->channel + offset);
}

static inline void ch64_set(struct mv_group *group, unsigned offset,
                            uint64_t value)
{
    *(volatile uint64_t *)(group->channel + offset) = value;
}

static long forward(long nr, const uint64_t *args)
{
    return mv_syscall6(nr, (long)args[0], (long)args[1], (long)args[2],
                       (long)args[3], (long)args[4], (long)args[5]);
}


/* The registers of the calling HRT thread as they were at `syscall`. */
static void registers_at_call(struct mv_group *group, struct mv_guest_state *s)
{
    memset(s, 0, sizeof(*s));
    s->rdi = ch64(group, HVM_CH_ARGS + 0);
    s->rsi = ch64(group, HVM_CH_ARGS + 8);
    s->rdx = ch64(group, HVM_CH_ARGS + 16);
    s->r10 = ch64(group, HVM_CH_ARGS + 24);
    s->r8 = ch64(group, HVM_CH_ARGS + 32);
    s->r9 = ch64(group, HVM_CH_ARGS + 40);
    s->rbx = ch64(group, HVM_CH_RBX);
    s->rbp = ch64(group, HVM_CH_RBP);
    s->r12 = ch64(group, HVM_CH_R12);
    s->r13 = ch64(group, HVM_CH_R13);
    s->r14 = ch64(group, HVM_CH_R14);
    s->r15 = ch64(group, HVM_CH_R15);
    s->rsp = ch64(group, HVM_CH_RSP);
    s->rip = ch64(group, HVM_CH_RIP);
    s->rflags = ch64(group, HVM_CH_RFLAGS);
    /* After `syscall`, RCX contains the return address and R11 the flags. */
    s->rcx = s->rip;
    s->r11 = s->rflags;
    s->fs_base = group->fs_base;
}


/*
 * fork, vfork, and clone without CLONE_THREAD: the child process cannot
 * use this process's VM (KVM_RUN fails with EIO after fork), so it
 * continues natively from the instruction after the `syscall`.
 */
static long serve_process_clone(struct mv_group *group, long nr,
                                const uint64_t *args)
{
    struct mv_native_state state;
    struct mv_guest_state regs;
    struct clone_args ca;
    uint64_t child_sp = 0;
    long result;

    if (nr == SYS_fork || nr == SYS_vfork) {
        memset(&ca, 0, sizeof(ca));
        ca.flags = nr == SYS_vfork ? CLONE_VM | CLONE_VFORK : 0;
        ca.exit_signal = SIGCHLD;
    } else if ((result = mv_clone_args_read(nr, args, &ca, &child_sp)) < 0) {
        return result;
    }
    /* The child first runs on this partner's stack: only safe if it has
     * its own copy of memory or the parent is suspended (CLONE_VFORK). */
    if ((ca.flags & CLONE_VM) && !(ca.flags & CLONE_VFORK))
        return EINVAL_RESULT;
    registers_at_call(group, &regs);
    state.rax = 0; /* the child's result */
    state.rbx = regs.rbx;
    state.rdx = regs.rdx;
    state.rsi = regs.rsi;
    state.rdi = regs.rdi;
    state.rbp = regs.rbp;
    state.r8 = regs.r8;
    state.r9 = regs.r9;
    state.r10 = regs.r10;
    state.r11 = regs.rflags;
    state.r12 = regs.r12;
    state.r13 = regs.r13;
    state.r14 = regs.r14;
    state.r15 = regs.r15;
    state.rcx = regs.rip;
    state.rip = regs.rip;
    state.rflags = regs.rflags;
    state.rsp = child_sp ? child_sp : regs.rsp;
    memcpy(state.fxsave, group->channel + HVM_CH_FXSAVE, 512);
    /* The child starts on this partner's stack, then takes its own. */
    ca.stack = 0;
    ca.stack_size = 0;
    return mv_clone3_native(&ca, sizeof(ca), &state);
}

/* clone or clone3 with CLONE_THREAD: a new execution group. */
static long serve_thread_clone(struct mv_group *group, long nr,
                               const uint64_t *args)
{
    struct mv_group *child;
    struct clone_args ca;
    uint64_t child_sp = 0;
    long result = mv_clone_args_read(nr, args, &ca, &child_sp);

    if (result < 0)
        return result;
    if (!(ca.flags & CLONE_VM) || child_sp == 0)
        return EINVAL_RESULT;
    child = mv_group_new();
    if (child == NULL)
        return -12; /* ENOMEM */
    registers_at_call(group, &child->start);
    child->start.rax = 0;
    child->start.rsp = child_sp;
    if (ca.flags & CLONE_SETTLS)
        child->start.fs_base = ca.tls;
    child->partner_stack = (uint8_t *)mv_syscall6(
        SYS_mmap, 0, MV_PARTNER_STACK_SIZE, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if ((long)child->partner_stack < 0 && (long)child->partner_stack > -4096)
        return -12;
    mv_memory_private(child->partner_stack, MV_PARTNER_STACK_SIZE);
    ca.stack = (uint64_t)(uintptr_t)child->partner_stack;
    ca.stack_size = MV_PARTNER_STACK_SIZE;
    result = mv_clone3_raw(&ca, sizeof(ca), mv_partner_main, child);
    if (result < 0)
        return result;
    child->partner_tid = (pid_t)result;
    mv_spawn_request(child);
    return result;
}

static void update_after_mmap(uint64_t address, const uint64_t *args)
{
    uint64_t length = args[1];

    if (address >= (uint64_t)-4096)
        return;
    /*
     * A first touch of a 4 KiB page by guest code costs a shadow-MMU
     * fault. With a 2 MiB guest page over a transparent huge page, one
     * fault serves 512 pages. Linux does the same with THP "always".
     */
    if ((args[3] & MAP_ANONYMOUS) && length >= MV_HUGE_PAGE_SIZE)
        mv_syscall6(SYS_madvise, (long)address, (long)length, MADV_HUGEPAGE, 0,
                    0, 0);
    mv_memory_update(address, address + length, (int)args[2]);
}

static long serve_memory(long nr, const uint64_t *args)
{
    static uint64_t current_brk;
    long result;

    switch (nr) {
    case SYS_mmap:
        /* A fixed mapping may replace one with other protections. */
        if (args[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE))
            mv_memory_update(args[0], args[0] + args[1], -1);
        result = forward(nr, args);
        update_after_mmap((uint64_t)result, args);
        return result;
    case SYS_munmap:
        /* Slots go first: a slot over unmapped memory fails KVM_RUN. */
        mv_memory_update(args[0], args[0] + args[1], -1);
        return forward(nr, args);
    case SYS_mprotect:
    case SYS_pkey_mprotect:
        mv_memory_update(args[0], args[0] + args[1], -1);
        result = forward(nr, args);
        if (result == 0)
            mv_memory_update(args[0], args[0] + args[1], (int)args[2]);
        return result;
    case SYS_mremap:
        mv_memory_update(args[0], args[0] + args[1], -1);
        result = forward(nr, args);
        /* Slots for the new range are added on first access. */
        if ((uint64_t)result < (uint64_t)-4096)
            mv_memory_map_range((uint64_t)result, (uint64_t)result + args[2]);
        return result;
    default: /* SYS_brk */
        if (current_brk == 0)
            current_brk = (uint64_t)mv_syscall6(SYS_brk, 0, 0, 0, 0, 0, 0);
        result = forward(nr, args);
        if ((uint64_t)result > current_brk)
            mv_memory_update(current_brk, (uint64_t)result,
                             PROT_READ | PROT_WRITE);
        else if ((uint64_t)result < current_brk)
            mv_memory_update((uint64_t)result, current_brk, -1);
        current_brk = (uint64_t)result;
        return result;
    }
}

static long serve_arch_prctl(struct mv_group *group, const uint64_t *args)
{
    /* Keep the partner's FS base equal to the HRT thread's: the partner
     * uses that TLS, and a forked child inherits it. */
    long result = forward(SYS_arch_prctl, args);

    if (result == 0 && args[0] == ARCH_SET_FS) {
        group->action = MV_ACTION_SET_FS;
        group->action_arg = args[1];
        ch64_set(group, HVM_CH_ACTION, HVM_CH_ACTION_VMM);
    }
    return result;
}

/* rt_sigaction, noting which signals get a handler function. */
static long serve_sigaction(const uint64_t *args)
{
    int signo = (int)args[0];
    uint64_t handler;
    long result;

    /* The VMM kicks vCPU threads with this signal. */
    if (signo == SIGRTMAX - 2)
        return EINVAL_RESULT;
    result = forward(SYS_rt_sigaction, args);
    if (result == 0 && args[1] != 0 && signo > 0 && signo <= 64 &&
        mv_read_app(&handler, args[1], sizeof(handler)) == 0) {
        uint64_t bit = 1ULL << (signo - 1);

        if (handler > 1) /* neither SIG_DFL (0) nor SIG_IGN (1) */
            atomic_fetch_or(&mv.handled_signals, bit);
        else
            atomic_fetch_and(&mv.handled_signals, ~bit);
    }
    return result;
}

#define EXEC_ENV_MAX 8192
#define EXEC_SAVED_MAX 4096
#define EXEC_ENV_BYTES ((EXEC_ENV_MAX + 16) * sizeof(char *) + EXEC_SAVED_MAX)

static int starts_with(const char *text, const char *prefix)
{
    while (*prefix != '\0' && *text == *prefix)
        text++, prefix++;
    return *prefix == '\0';
}

/* Turns "LD_PRELOAD=x" into "MV_SAVED_LD_PRELOAD=x" in buffer. */
static const char *saved_preload(const char *entry, char *buffer)
{
    static const char prefix[] = "MV_SAVED_LD_PRELOAD=";
    const char *value = entry + sizeof("LD_PRELOAD=") - 1;
    size_t used = sizeof(prefix) - 1;

    memcpy(buffer, prefix, used);
    while (*value != '\0' && used < EXEC_SAVED_MAX - 1)
        buffer[used++] = *value++;
    buffer[used] = '\0';
    return buffer;
}

/*
 * execve and execveat replace the process image: the new image is
 * hybridized too, so the runtime's variables join its environment (its
 * runtime removes them again before main). The application's own
 * LD_PRELOAD is kept in MV_SAVED_LD_PRELOAD.
 */
static long serve_exec(long nr, const uint64_t *args)
{
    unsigned envp_index = nr == SYS_execve ? 2 : 3;
    uint64_t user_envp = args[envp_index];
    uint64_t new_args[6];
    const char **envp;
    unsigned count = 0;
    long result;

    envp = (const char **)mv_syscall6(SYS_mmap, 0, EXEC_ENV_BYTES,
                                      PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((long)envp < 0 && (long)envp > -4096)
        return forward(nr, args);
    for (unsigned i = 0; mv.exec_env[i] != NULL; i++)
        envp[count++] = mv.exec_env[i];
    for (unsigned i = 0; user_envp != 0 && count < EXEC_ENV_MAX; i++) {
        uint64_t entry;

        if (mv_read_app(&entry, user_envp + 8 * i, sizeof(entry)) < 0)
            return EFAULT_RESULT;
        if (entry == 0)
            break;
        /* The runtime's own variables take precedence. */
        if (starts_with((const char *)(uintptr_t)entry, "LD_PRELOAD=")) {
            envp[count++] = saved_preload((const char *)(uintptr_t)entry,
                                          (char *)(envp + EXEC_ENV_MAX + 16));
            continue;
        }
        if (starts_with((const char *)(uintptr_t)entry, "MV_"))
            continue;
        envp[count++] = (const char *)(uintptr_t)entry;
    }
    envp[count] = NULL;
    memcpy(new_args, args, sizeof(new_args));
    new_args[envp_index] = (uint64_t)(uintptr_t)envp;
    result = forward(nr, new_args);
    mv_syscall6(SYS_munmap, (long)envp, EXEC_ENV_BYTES, 0, 0, 0, 0);
    return result;
}

static long serve(struct mv_group *group, long nr, const uint64_t *args,
                  enum after_reply *after)
{
    switch (nr) {
    case SYS_exit:
        group->action = MV_ACTION_TERMINATE;
        ch64_set(group, HVM_CH_ACTION, HVM_CH_ACTION_VMM);
        *after = AFTER_THREAD_EXIT;
        return 0;
    case SYS_exit_group:
        mv_stats_report((int)args[0]);
        mv_syscall6(SYS_exit_group, (long)args[0], 0, 0, 0, 0, 0);
        __builtin_unreachable();
    case SYS_clone:
    case SYS_clone3: {
        int thread = mv_clone_is_thread(nr, args);

        if (thread < 0)
            return thread;
        if (thread)
            return serve_thread_clone(group, nr, args);
        return serve_process_clone(group, nr, args);
    }
    case SYS_fork:
    case SYS_vfork:
        return serve_process_clone(group, nr, args);
    case SYS_arch_prctl:
        return serve_arch_prctl(group, args);
    case SYS_execve:
    case SYS_execveat:
        return serve_exec(nr, args);
    case SYS_close:
        return mv_fd_close((long)args[0]);
    case SYS_close_range:
        return mv_fd_close_range(args[0], args[1], args[2]);
    case SYS_dup2:
    case SYS_dup3:
        if (args[0] != args[1])
            mv_fd_make_room((long)args[1]);
        return forward(nr, args);
    case SYS_rt_sigaction:
        return serve_sigaction(args);
    case SYS_rt_sigreturn:
        /* Handlers run on the partner, so their frames never reach here. */
        return ENOSYS_RESULT;
    case SYS_mmap:
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_mremap:
    case SYS_brk:
        return serve_memory(nr, args);
    default:
        return forward(nr, args);
    }
}

static void count_call(long nr)
{
    if (nr >= 0 && nr < MV_MAX_SYSCALL)
        atomic_fetch_add_explicit(&mv.stats.syscalls[nr], 1,
                                  memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&mv.stats.syscalls_other, 1,
                                  memory_order_relaxed);
}

/*
 * Returns how long to poll for the next request. It is twice the recent
 * gap between a reply and the next request, so that a program that calls
 * often rarely finds its partner asleep. The result stays within
 * [base, MV_SPIN_MAX_FACTOR * base]. A program that calls rarely gets the
 * base, so its partner sleeps soon.
 */
static uint64_t spin_budget(uint64_t base, uint64_t average_gap)
{
    uint64_t wanted = 2 * average_gap;

    if (wanted <= base || wanted > MV_SPIN_MAX_FACTOR * base)
        return base;
    return wanted;
}

/* Polls for a request for spin_cycles, then sleeps on the futex. */
static unsigned wait_request(struct mv_group *group, unsigned last,
                             uint64_t spin_cycles)
{
    atomic_uint *req = (atomic_uint *)(group->channel + HVM_CH_REQ_SEQ);
    atomic_uint *sleeping =
        (atomic_uint *)(group->channel + HVM_CH_PARTNER_WAITING);
    uint64_t deadline = mv_tsc() + spin_cycles;
    unsigned seq;

    while ((seq = atomic_load(req)) == last) {
        if (mv_tsc() < deadline) {
            __builtin_ia32_pause();
            continue;
        }
        atomic_store(sleeping, 1);
        if (atomic_load(req) == last)
            mv_futex_wait(req, last);
        atomic_store(sleeping, 0);
    }
    return seq;
}

static void thread_exit(struct mv_group *group, int status)
{
    /* The HRT thread must be off its stack before the joiner frees it. */
    while (atomic_load(&group->vcpu_released) == 0)
        mv_futex_wait(&group->vcpu_released, 0);
    mv_syscall6(SYS_exit, status, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

void mv_partner_main(void *arg)
{
    struct mv_group *group = arg;
    atomic_uint *rep = (atomic_uint *)(group->channel + HVM_CH_REP_SEQ);
    atomic_uint *guest_waiting =
        (atomic_uint *)(group->channel + HVM_CH_GUEST_WAITING);
    uint64_t spin_cycles = mv.options.spin_ns * vmm_tsc_khz() / 1000000ULL;
    unsigned last = atomic_load(rep);
    uint64_t average_gap = 0, replied = mv_tsc();

    group->partner_tid = (pid_t)mv_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    for (;;) {
        unsigned seq =
            wait_request(group, last, spin_budget(spin_cycles, average_gap));
        uint64_t gap = mv_tsc() - replied;

        average_gap = (3 * average_gap + gap) / 4;
        long nr = (long)ch64(group, HVM_CH_NR);
        uint64_t args[6];
        enum after_reply after = AFTER_NOTHING;
        uint64_t start = mv_tsc();
        long result;

        for (int i = 0; i < 6; i++)
            args[i] = ch64(group, HVM_CH_ARGS + 8 * i);
        count_call(nr);
        result = serve(group, nr, args, &after);
        atomic_fetch_add_explicit(&mv.stats.service_ns,
                                  (mv_tsc() - start) * 1000000ULL /
                                      vmm_tsc_khz(),
                                  memory_order_relaxed);
        ch64_set(group, HVM_CH_RET, (uint64_t)result);
        last = seq;
        atomic_store(rep, seq);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load(guest_waiting))
            mv_futex_wake(rep);
        replied = mv_tsc();
        if (after == AFTER_THREAD_EXIT)
            thread_exit(group, (int)args[0]);
    }
}
