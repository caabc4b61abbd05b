/*
 * Raw system calls for partner threads. A partner runs with the TLS of the
 * application thread it serves, so it must not touch errno or any other
 * C-library state of that thread between two forwarded calls.
 */
#include "mv.h"

#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define MADV_POPULATE_READ_ 22 /* Linux 5.14 */

long mv_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    register long r9 __asm__("r9") = a5;
    long result;

    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return result;
}

void mv_futex_wait(atomic_uint *word, unsigned expected)
{
    mv_syscall6(SYS_futex, (long)word, FUTEX_WAIT_PRIVATE, expected, 0, 0, 0);
}

void mv_futex_wake(atomic_uint *word)
{
    mv_syscall6(SYS_futex, (long)word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

void mv_write_all(int fd, const char *text, size_t length)
{
    while (length > 0) {
        long written =
            mv_syscall6(SYS_write, fd, (long)text, (long)length, 0, 0, 0);

        if (written == -4) /* EINTR */
            continue;
        if (written <= 0)
            return;
        text += written;
        length -= (size_t)written;
    }
}

void mv_die(const char *message)
{
    mv_write_all(2, "libmultiverse: ", 15);
    mv_write_all(2, message, __builtin_strlen(message));
    mv_write_all(2, "\n", 1);
    mv_syscall6(SYS_exit_group, MV_EXIT_RUNTIME_FAILED, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

/*
 * Copies application memory without faulting: with process_vm_readv, or
 * where the kernel lacks it (the minimal ROS kernel), after checking
 * with MADV_POPULATE_READ that the whole range is readable.
 */
int mv_read_app(void *dst, uint64_t src, size_t length)
{
    struct iovec local = {dst, length};
    struct iovec remote = {(void *)(uintptr_t)src, length};
    long pid = mv_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
    long result = mv_syscall6(SYS_process_vm_readv, pid, (long)&local, 1,
                              (long)&remote, 1, 0);
    uint64_t first = src & ~4095ULL;

    if (result != (-38))
        return result == (long)length ? 0 : -1;
    if (length == 0 || src + length < src ||
        mv_syscall6(SYS_madvise, (long)first, (long)(src + length - first),
                    MADV_POPULATE_READ_, 0, 0, 0) != 0)
        return -1;
    memcpy(dst, (const void *)(uintptr_t)src, length);
    return 0;
}

/* Reads clone arguments of clone or clone3 into one form. */
int mv_clone_args_read(long nr, const uint64_t *args, struct clone_args *ca,
                           uint64_t *child_sp)
{
    memset(ca, 0, sizeof(*ca));
    if (nr == SYS_clone3) {
        size_t size = args[1] < sizeof(*ca) ? args[1] : sizeof(*ca);

        if (size < 64 || mv_read_app(ca, args[0], size) < 0)
            return (-14);
        *child_sp = ca->stack ? ca->stack + ca->stack_size : 0;
        return 0;
    }
    /* clone(flags, newsp, parent_tid, child_tid, tls) on x86-64. */
    ca->flags = args[0] & ~0xffULL;
    ca->exit_signal = args[0] & 0xff;
    ca->parent_tid = args[2];
    ca->child_tid = args[3];
    ca->tls = args[4];
    if (ca->flags & CLONE_PIDFD)
        ca->pidfd = args[2];
    *child_sp = args[1];
    return 0;
}

int mv_clone_is_thread(long nr, const uint64_t *args)
{
    uint64_t flags = args[0];

    /* clone3 keeps its flags in the first field of struct clone_args. */
    if (nr == SYS_clone3 && mv_read_app(&flags, args[0], sizeof(flags)) < 0)
        return -14; /* EFAULT */
    return (flags & CLONE_THREAD) != 0;
}

uint64_t mv_tsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
