/*
 * Raw system calls for partner threads. A partner runs with the TLS of the
 * application thread it serves, so it must not touch errno or any other
 * C-library state of that thread between two forwarded calls.
 */
#include "mv.h"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>

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

uint64_t mv_tsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
