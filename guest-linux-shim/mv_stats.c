/*
 * The statistics line of a hybridized run, written when the program calls
 * exit_group to the descriptor that `hvm exec --stats` passed down.
 */
#include "mv.h"

#include <stdio.h>
#include <string.h>

#include "syscall_names.h"

#define TOP_COUNT 10

static const char *syscall_name(unsigned nr)
{
    if (nr < sizeof(mv_syscall_names) / sizeof(mv_syscall_names[0]) &&
        mv_syscall_names[nr] != NULL)
        return mv_syscall_names[nr];
    return "unknown";
}

/* Appends the TOP_COUNT most frequent calls, most frequent first. */
static size_t top_calls(char *out, size_t size, const uint64_t *counts)
{
    unsigned taken[TOP_COUNT];
    size_t used = 0;

    for (unsigned rank = 0; rank < TOP_COUNT; rank++) {
        unsigned best = MV_MAX_SYSCALL;

        for (unsigned nr = 0; nr < MV_MAX_SYSCALL; nr++) {
            int already = 0;

            for (unsigned i = 0; i < rank; i++)
                already |= taken[i] == nr;
            if (!already && counts[nr] > 0 &&
                (best == MV_MAX_SYSCALL || counts[nr] > counts[best]))
                best = nr;
        }
        if (best == MV_MAX_SYSCALL)
            break;
        taken[rank] = best;
        used +=
            (size_t)snprintf(out + used, used < size ? size - used : 0,
                             "%s%s %llu", rank ? ", " : "", syscall_name(best),
                             (unsigned long long)counts[best]);
    }
    return used;
}

void mv_stats_report(int status)
{
    uint64_t counts[MV_MAX_SYSCALL];
    uint64_t total = atomic_load(&mv.stats.syscalls_other);
    uint64_t wall_ns = vmm_now_ns() - mv.start_ns;
    uint64_t service_ns = atomic_load(&mv.stats.service_ns);
    uint64_t thread_ns = mv_thread_time_ns();
    uint64_t hrt_ns = thread_ns > service_ns ? thread_ns - service_ns : 0;
    char top[1024] = "";
    char line[2048];
    int length;

    if (mv.options.stats_fd < 0)
        return;
    for (unsigned nr = 0; nr < MV_MAX_SYSCALL; nr++) {
        counts[nr] = atomic_load(&mv.stats.syscalls[nr]);
        total += counts[nr];
    }
    top_calls(top, sizeof(top), counts);
    length = snprintf(
        line, sizeof(line),
        "hvm: stats: exit status %d, %s privilege, HRT boot %.2f ms\n"
        "hvm: stats: %llu system calls forwarded (%s)\n"
        "hvm: stats: %llu memory faults and %llu page faults served, "
        "%llu wake-ups, %llu threads\n"
        "hvm: stats: wall %.3f s; summed over threads: HRT code %.3f s, "
        "waiting for Linux %.3f s\n",
        status, mv.options.privilege == MV_PRIVILEGE_USER ? "user" : "kernel",
        mv.boot_ns / 1e6, (unsigned long long)total, top,
        (unsigned long long)atomic_load(&mv.stats.memory_faults),
        (unsigned long long)atomic_load(&mv.stats.page_faults),
        (unsigned long long)atomic_load(&mv.stats.wakeups),
        (unsigned long long)atomic_load(&mv.stats.threads), wall_ns / 1e9,
        hrt_ns / 1e9, service_ns / 1e9);
    if (length > 0)
        mv_write_all(mv.options.stats_fd, line,
                     (size_t)length < sizeof(line) ? (size_t)length
                                                   : sizeof(line) - 1);
}
