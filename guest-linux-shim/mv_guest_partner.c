/*
 * Guest partner threads: each serves the system calls and page faults of
 * one HRT thread, inside the Linux guest. A partner is a real Linux
 * thread with the application thread's identity (TID, TLS, signal mask),
 * so a forwarded call has its native meaning. After calls that change
 * mappings it asks the VMM, through the channel's action word, to flush
 * the HRT's TLBs before the HRT thread continues.
 *
 * Partners run with the TLS of the application thread, so this file uses
 * raw system calls only, and never errno, malloc or stdio.
 */
#include "mv_guest.h"

#include <asm/prctl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#define RESULT_ENOSYS (-38)
#define RESULT_EINVAL (-22)
#define RESULT_EFAULT (-14)
#define RESULT_ENOMEM (-12)
#define MADV_POPULATE_READ_ 22 /* Linux 5.14 */
#define MADV_POPULATE_WRITE_ 23
#define PF_PRESENT 1
#define PF_WRITE 2
#define PF_FETCH 16
#define FAULT_AROUND (64ULL << 10)
/* Polling budget before the partner sleeps, in TSC cycles: a guest system
 * call costs a few hundred microseconds where guest ring 0 is
 * interpreted, so this covers the gap between calls of a busy program. */
#define SPIN_CYCLES_PURE (500ULL * 1000)
#define SPIN_CYCLES_MIN (2ULL * 1000 * 1000)
#define SPIN_CYCLES_MAX (40ULL * 1000 * 1000)
#define SLEEP_NS 100000

enum after_reply {
    AFTER_NOTHING,
    AFTER_THREAD_EXIT,
};

static inline uint64_t ch64(const struct mv_guest_group *group, unsigned offset)
{
    return *(volatile uint64_t *)(group->channel + offset);
}

static inline void ch64_set(struct mv_guest_group *group, unsigned offset,
                            uint64_t value)
{
    *(volatile uint64_t *)(group->channel + offset) = value;
}

/* Asks the HRT side to have the VMM act before it returns. */
static void action_add(struct mv_guest_group *group, uint64_t bits,
                       uint64_t arg)
{
    if (bits & HVM_CH_ACTION_SET_FS)
        ch64_set(group, HVM_CH_ACTION_ARG, arg);
    ch64_set(group, HVM_CH_ACTION, ch64(group, HVM_CH_ACTION) | bits);
}

static long forward(long nr, const uint64_t *args)
{
    return mv_syscall6(nr, (long)args[0], (long)args[1], (long)args[2],
                       (long)args[3], (long)args[4], (long)args[5]);
}

static void nap(void)
{
    struct timespec step = {0, SLEEP_NS};

    mv_syscall6(SYS_nanosleep, (long)&step, 0, 0, 0, 0, 0);
}


/* The calling HRT thread's registers at `syscall`, for a native copy. */
static void native_state_at_call(const struct mv_guest_group *group,
                                 struct mv_native_state *s, uint64_t rsp)
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
    s->rip = ch64(group, HVM_CH_RIP);
    s->rflags = ch64(group, HVM_CH_RFLAGS);
    s->rcx = s->rip;
    s->r11 = s->rflags;
    s->rsp = rsp ? rsp : ch64(group, HVM_CH_RSP);
    memcpy(s->fxsave, group->channel + HVM_CH_FXSAVE, sizeof(s->fxsave));
}


/* fork, vfork, clone without CLONE_THREAD: the child runs natively. */
static long serve_process_clone(struct mv_guest_group *group, long nr,
                                const uint64_t *args)
{
    struct mv_native_state state;
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
    /* The child starts on this partner's stack. */
    if ((ca.flags & CLONE_VM) && !(ca.flags & CLONE_VFORK))
        return RESULT_EINVAL;
    native_state_at_call(group, &state, child_sp);
    state.rax = 0; /* the child's result */
    ca.stack = 0;
    ca.stack_size = 0;
    /* With CLONE_VFORK the child runs on this suspended partner's stack:
     * mv_clone3_native resumes it without a call that would overwrite the
     * partner's frames. */
    return mv_clone3_native(&ca, sizeof(ca), &state);
}

/* clone or clone3 with CLONE_THREAD: a new group and partner thread. */
static long serve_thread_clone(struct mv_guest_group *group, long nr,
                               const uint64_t *args)
{
    struct mv_guest_group *child;
    struct clone_args ca;
    uint64_t child_sp = 0;
    const uint64_t *native;
    long result = mv_clone_args_read(nr, args, &ca, &child_sp);

    if (result < 0)
        return result;
    if (!(ca.flags & CLONE_VM) || child_sp == 0)
        return RESULT_EINVAL;
    child = mv_guest_group_new();
    if (child == NULL)
        return RESULT_ENOMEM;
    native_state_at_call(group, &child->native, child_sp);
    child->native.rax = 0;
    native = &child->native.rax;
    for (unsigned i = 0; i < 15; i++)
        child->start.gprs[i] = native[i];
    child->start.rip = child->native.rip;
    child->start.rsp = child_sp;
    child->start.rflags = child->native.rflags;
    child->start.fs_base = group->start.fs_base;
    if (ca.flags & CLONE_SETTLS)
        child->start.fs_base = ca.tls;
    ca.stack = (uint64_t)(uintptr_t)child->partner_stack;
    ca.stack_size = MV_GUEST_PARTNER_STACK;
    return mv_clone3_raw(&ca, sizeof(ca), mv_guest_thread_start, child);
}

static int mapping_changes(long nr, const uint64_t *args)
{
    switch (nr) {
    case SYS_munmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_mremap:
        return 1;
    case SYS_mmap:
        return (args[3] & MAP_FIXED) != 0;
    case SYS_madvise:
        return args[2] == MADV_DONTNEED || args[2] == MADV_FREE ||
               args[2] == MADV_REMOVE;
    default:
        return 0;
    }
}

static long serve_brk(struct mv_guest_group *group, const uint64_t *args)
{
    static uint64_t current;
    long result;

    if (current == 0)
        current = (uint64_t)mv_syscall6(SYS_brk, 0, 0, 0, 0, 0, 0);
    result = forward(SYS_brk, args);
    if ((uint64_t)result < current)
        action_add(group, HVM_CH_ACTION_FLUSH, 0);
    current = (uint64_t)result;
    return result;
}

#define EXEC_ENV_MAX 8192
#define EXEC_ENV_BYTES ((EXEC_ENV_MAX + 2) * sizeof(char *))

static int starts_with(const char *text, const char *prefix)
{
    while (*prefix != '\0' && *text == *prefix)
        text++, prefix++;
    return *prefix == '\0';
}

/*
 * execve replaces the address space the HRT threads run on, so they stop
 * first (HVM_HC_PROCESS_EXIT); the new image is hybridized again through
 * LD_PRELOAD. A path that cannot be executed fails before that.
 */
static long serve_exec(struct mv_guest_group *group, long nr,
                       const uint64_t *args)
{
    static struct mv_native_state state;
    unsigned envp_index = nr == SYS_execve ? 2 : 3;
    uint64_t user_envp = args[envp_index], new_args[6];
    const char **envp;
    unsigned count = 0;
    long result;

    if (nr == SYS_execve &&
        (result = mv_syscall6(SYS_access, (long)args[0], X_OK, 0, 0, 0, 0)) < 0)
        return result;
    envp = (const char **)mv_syscall6(SYS_mmap, 0, EXEC_ENV_BYTES,
                                      PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((long)envp < 0 && (long)envp > -4096)
        return (long)envp;
    if (mv_guest_preload != NULL)
        envp[count++] = mv_guest_preload;
    for (unsigned i = 0; user_envp != 0 && count < EXEC_ENV_MAX; i++) {
        uint64_t entry;

        if (mv_read_app(&entry, user_envp + 8 * i, sizeof(entry)) < 0)
            return RESULT_EFAULT;
        if (entry == 0)
            break;
        if (starts_with((const char *)(uintptr_t)entry, "LD_PRELOAD="))
            continue;
        envp[count++] = (const char *)(uintptr_t)entry;
    }
    envp[count] = NULL;
    memcpy(new_args, args, sizeof(new_args));
    new_args[envp_index] = (uint64_t)(uintptr_t)envp;
    native_state_at_call(group, &state, 0);
    mv_guest_hypercall(HVM_HC_PROCESS_EXIT, 0);
    result = forward(nr, new_args);
    /* NOTE: the HRT thread is gone; the program continues natively,
     * without the FPU state of its HRT thread. */
    state.rax = (uint64_t)result;
    mv_native_resume(&state);
}

static int exception_signal(uint64_t vector)
{
    switch (vector) {
    case 0:
    case 16:
    case 19:
        return SIGFPE;
    case 1:
    case 3:
        return SIGTRAP;
    case 6:
        return SIGILL;
    case 17:
        return SIGBUS;
    default:
        return SIGSEGV;
    }
}

/* Ends the process with signo's default action, as Linux would. */
static void signal_self(int signo) __attribute__((noreturn));
static void signal_self(int signo)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } action = {.handler = SIG_DFL};
    uint64_t unblock = 1ULL << (signo - 1);
    long pid = mv_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
    long tid = mv_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);

    mv_guest_hypercall(HVM_HC_PROCESS_EXIT, 0);
    mv_syscall6(SYS_rt_sigaction, signo, (long)&action, 0, 8, 0, 0);
    mv_syscall6(SYS_tgkill, pid, tid, signo, 0, 0, 0);
    mv_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&unblock, 0, 8, 0, 0);
    for (;;)
        mv_syscall6(SYS_pause, 0, 0, 0, 0, 0, 0);
}

static uint64_t hex_parse(const char **text)
{
    uint64_t value = 0;

    for (;; (*text)++) {
        char c = **text;

        if (c >= '0' && c <= '9')
            value = value * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            value = value * 16 + (uint64_t)(c - 'a' + 10);
        else
            return value;
    }
}

/* Checks one line "start-end perms ..." of /proc/self/maps. Returns the
 * permission letters if it covers address, else NULL. */
static const char *maps_line_match(const char *line, uint64_t address)
{
    uint64_t start = hex_parse(&line), end;

    if (*line++ != '-')
        return NULL;
    end = hex_parse(&line);
    if (*line++ != ' ' || address < start || address >= end)
        return NULL;
    return line;
}

/*
 * Looks address up in /proc/self/maps; stores "rwx" flags of its mapping
 * in rights (bit 0 read, 1 write, 2 execute). Returns 0, or -1 if it is
 * not mapped. Slow (several system calls), so only for unusual faults.
 */
static int maps_rights(uint64_t address, unsigned *rights)
{
    static char buffer[8192];
    long fd = mv_syscall6(SYS_open, (long)"/proc/self/maps", 0, 0, 0, 0, 0);
    long kept = 0, got;
    int found = -1;

    if (fd < 0)
        return -1;
    while (found < 0 && (got = mv_syscall6(SYS_read, fd, (long)(buffer + kept),
                                           (long)(sizeof(buffer) - 1 - kept), 0,
                                           0, 0)) > 0) {
        char *line = buffer, *newline;

        kept += got;
        buffer[kept] = '\0';
        while (found < 0 && (newline = __builtin_strchr(line, '\n'))) {
            const char *perms = maps_line_match(line, address);

            if (perms != NULL) {
                *rights = (perms[0] == 'r') | (perms[1] == 'w') << 1 |
                          (perms[2] == 'x') << 2;
                found = 0;
            }
            line = newline + 1;
        }
        kept = buffer + kept - line;
        __builtin_memmove(buffer, line, (size_t)kept);
    }
    mv_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
    return found;
}

/*
 * A page fault of the HRT thread: touching the page here with the same
 * access makes Linux fill the entry both share. Returns 0 when served,
 * or the signal Linux would send.
 */
static int serve_page_fault(uint64_t address, uint64_t error)
{
    uint64_t page = address & ~4095ULL;
    int write = (error & PF_WRITE) != 0;
    int fetch = (error & PF_FETCH) != 0;
    unsigned rights, need = 1; /* read */
    long populate = write ? MADV_POPULATE_WRITE_ : MADV_POPULATE_READ_;
    long result;

    if (write)
        need = 2;
    else if (fetch)
        need = 4;
    /* An instruction fetch from a present page: the page is not
     * executable. */
    if ((error & (PF_PRESENT | PF_FETCH)) == (PF_PRESENT | PF_FETCH))
        return SIGSEGV;
    /* Each fault costs the HRT an exception and a round trip, so fill
     * the aligned 64 KiB around it when all of it allows the access. */
    if (mv_syscall6(SYS_madvise, (long)(address & ~(FAULT_AROUND - 1)),
                    FAULT_AROUND, populate, 0, 0, 0) == 0)
        return 0;
    result = mv_syscall6(SYS_madvise, (long)page, 4096, populate, 0, 0, 0);
    if (result == 0)
        return 0;
    /* Special mappings (the vDSO's data, device memory) refuse populate:
     * touch them directly when the mapping allows the access. */
    if (maps_rights(address, &rights) < 0 || (rights & need) != need)
        return SIGSEGV;
    if (result == RESULT_EFAULT)
        return SIGBUS;
    if (write)
        __atomic_fetch_or((volatile uint8_t *)(uintptr_t)address, 0,
                          __ATOMIC_SEQ_CST);
    else
        (void)*(volatile uint8_t *)(uintptr_t)address;
    return 0;
}

static long serve_exception(struct mv_guest_group *group, const uint64_t *args)
{
    int signo = args[0] == 14 ? serve_page_fault(args[2], args[1])
                              : exception_signal(args[0]);

    (void)group;
    return signo;
}

static long serve(struct mv_guest_group *group, long nr, const uint64_t *args,
                  enum after_reply *after)
{
    long result;

    switch (nr) {
    case HVM_CH_NR_EXCEPTION:
        return serve_exception(group, args);
    case SYS_exit:
        action_add(group, HVM_CH_ACTION_EXIT, 0);
        *after = AFTER_THREAD_EXIT;
        return 0;
    case SYS_exit_group:
        mv_guest_hypercall(HVM_HC_PROCESS_EXIT, 0);
        mv_guest_stats_print();
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
        result = forward(nr, args);
        if (result == 0 && args[0] == ARCH_SET_FS)
            action_add(group, HVM_CH_ACTION_SET_FS, args[1]);
        return result;
    case SYS_execve:
    case SYS_execveat:
        return serve_exec(group, nr, args);
    case SYS_rt_sigreturn:
        /* Handlers run on the partner, so their frames never reach here. */
        return RESULT_ENOSYS;
    case SYS_brk:
        return serve_brk(group, args);
    default:
        result = forward(nr, args);
        if (mapping_changes(nr, args))
            action_add(group, HVM_CH_ACTION_FLUSH, 0);
        return result;
    }
}

/*
 * Waits for a request: polls for a short while, then yields the ROS CPU
 * between polls (other partners may need it) until spin_cycles have
 * passed, then sleeps in short steps between polls.
 */
static unsigned wait_request(struct mv_guest_group *group, unsigned last,
                             uint64_t spin_cycles)
{
    volatile uint32_t *req = (uint32_t *)(group->channel + HVM_CH_REQ_SEQ);
    uint64_t start = mv_tsc(), now;
    unsigned seq, phase = 0;

    while ((seq = *req) == last) {
        now = mv_tsc();
        if (now - start < SPIN_CYCLES_PURE) {
            __builtin_ia32_pause();
        } else if (now - start < spin_cycles) {
            phase = phase < 1 ? 1 : phase;
            mv_syscall6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        } else {
            phase = 2;
            nap();
        }
    }
    mv_guest_wait_phases[phase]++;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return seq;
}

static uint64_t spin_budget(uint64_t average_gap)
{
    uint64_t wanted = 2 * average_gap;

    if (wanted < SPIN_CYCLES_MIN)
        return SPIN_CYCLES_MIN;
    return wanted > SPIN_CYCLES_MAX ? SPIN_CYCLES_MAX : wanted;
}

static void thread_exit(struct mv_guest_group *group, int status)
{
    volatile uint32_t *stopped = (uint32_t *)(group->channel + HVM_CH_STOPPED);

    /* The joiner may free the HRT thread's stack once this thread ends. */
    while (*stopped == 0)
        nap();
    mv_syscall6(SYS_exit, status, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

void mv_guest_partner_main(void *arg)
{
    struct mv_guest_group *group = arg;
    volatile uint32_t *rep = (uint32_t *)(group->channel + HVM_CH_REP_SEQ);
    unsigned last = *rep;
    uint64_t average_gap = 0, replied = mv_tsc();

    for (;;) {
        unsigned seq = wait_request(group, last, spin_budget(average_gap));
        long nr = (long)ch64(group, HVM_CH_NR);
        enum after_reply after = AFTER_NOTHING;
        uint64_t args[6], served;
        long result;

        average_gap = (3 * average_gap + (mv_tsc() - replied)) / 4;
        for (int i = 0; i < 6; i++)
            args[i] = ch64(group, HVM_CH_ARGS + 8 * i);
        served = mv_tsc();
        result = serve(group, nr, args, &after);
        mv_guest_service_cycles += mv_tsc() - served;
        if (nr != HVM_CH_NR_EXCEPTION)
            ch64_set(group, HVM_CH_CALLS, ch64(group, HVM_CH_CALLS) + 1);
        ch64_set(group, HVM_CH_RET, (uint64_t)result);
        last = seq;
        __atomic_store_n(rep, seq, __ATOMIC_SEQ_CST);
        replied = mv_tsc();
        if (nr == HVM_CH_NR_EXCEPTION && result != 0)
            signal_self((int)result);
        if (after == AFTER_THREAD_EXIT)
            thread_exit(group, (int)args[0]);
    }
}
