/* Times N getppid system calls; prints nanoseconds per call. */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
    unsigned long count;
    uint64_t start, elapsed;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CALLS\n", argv[0]);
        return 2;
    }
    count = bench_count_parse(argv[1], "CALLS");
    bench_kvm_begin();
    start = bench_now_ns();
    /* syscall(2) rather than getppid(3), so no C library can cache it. */
    for (unsigned long i = 0; i < count; i++)
        syscall(SYS_getppid);
    elapsed = bench_now_ns() - start;
    printf("%.1f\n", (double)elapsed / (double)count);
    bench_kvm_end();
    return 0;
}
