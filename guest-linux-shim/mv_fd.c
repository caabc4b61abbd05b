/*
 * The runtime's file descriptors (/dev/kvm, the VM, each vCPU, the
 * statistics pipe) live in the program's descriptor table. They are moved
 * to numbers far above what programs use. The partners keep the program
 * from closing or overwriting them: close and close_range skip them as if
 * they were not open, and a dup2 onto one moves it away first.
 */
#include "mv.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define MAX_RUNTIME_FDS (VMM_MAX_VCPUS + 8)
#define EBADF_RESULT (-9)
/* Keep this many numbers below the soft limit for the runtime. */
#define RUNTIME_FD_SPAN 512

static int *runtime_fds[MAX_RUNTIME_FDS];
static atomic_uint nr_runtime_fds;
static int fd_base;

static int base_compute(void)
{
    struct rlimit limit;

    if (mv_syscall6(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&limit, 0,
                    0) < 0 ||
        limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (1u << 30))
        return 1024;
    if (limit.rlim_cur >= 2 * RUNTIME_FD_SPAN)
        return (int)(limit.rlim_cur - RUNTIME_FD_SPAN);
    return (int)(limit.rlim_cur / 2);
}

/* Moves *slot to a free number at or above the base; keeps it on failure. */
static void fd_move_high(int *slot, int minimum)
{
    long moved = mv_syscall6(SYS_fcntl, *slot, F_DUPFD_CLOEXEC, minimum, 0, 0,
                             0);

    if (moved < 0)
        return;
    mv_syscall6(SYS_close, *slot, 0, 0, 0, 0, 0);
    *slot = (int)moved;
}

void mv_fd_hide(int *slot)
{
    unsigned index;

    if (*slot < 0)
        return;
    if (fd_base == 0)
        fd_base = base_compute();
    if (*slot < fd_base)
        fd_move_high(slot, fd_base);
    index = atomic_fetch_add(&nr_runtime_fds, 1);
    if (index < MAX_RUNTIME_FDS)
        __atomic_store_n(&runtime_fds[index], slot, __ATOMIC_RELEASE);
}

static int *runtime_slot(long fd)
{
    unsigned count = atomic_load(&nr_runtime_fds);

    if (count > MAX_RUNTIME_FDS)
        count = MAX_RUNTIME_FDS;
    for (unsigned i = 0; i < count; i++) {
        int *slot = __atomic_load_n(&runtime_fds[i], __ATOMIC_ACQUIRE);

        if (slot != NULL && *slot == fd)
            return slot;
    }
    return NULL;
}

long mv_fd_close(long fd)
{
    if (runtime_slot(fd) != NULL)
        return EBADF_RESULT; /* the program never opened it */
    return mv_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* close_range(first, last, flags) on every number but the runtime's. */
long mv_fd_close_range(unsigned long first, unsigned long last,
                       unsigned long flags)
{
    unsigned long start = first;
    long result = 0;

    for (unsigned long fd = first; fd <= last && fd >= first; fd++) {
        unsigned count = atomic_load(&nr_runtime_fds);
        unsigned long next_runtime = ~0UL;

        /* Jump to the next runtime number in range, if any. */
        for (unsigned i = 0; i < count && i < MAX_RUNTIME_FDS; i++) {
            int *slot = __atomic_load_n(&runtime_fds[i], __ATOMIC_ACQUIRE);

            if (slot != NULL && *slot >= 0 && (unsigned long)*slot >= fd &&
                (unsigned long)*slot < next_runtime)
                next_runtime = (unsigned long)*slot;
        }
        if (next_runtime > last)
            break;
        if (next_runtime > start)
            result = mv_syscall6(SYS_close_range, (long)start,
                                 (long)next_runtime - 1, (long)flags, 0, 0, 0);
        start = next_runtime + 1;
        fd = next_runtime;
        if (result < 0 || next_runtime == ~0UL)
            return result;
    }
    if (start <= last && start >= first)
        result = mv_syscall6(SYS_close_range, (long)start, (long)last,
                             (long)flags, 0, 0, 0);
    return result;
}

void mv_fd_make_room(long fd)
{
    int *slot = runtime_slot(fd);

    if (slot != NULL)
        fd_move_high(slot, (int)fd + 1);
}
