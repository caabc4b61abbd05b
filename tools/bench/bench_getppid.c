/* Times N getppid system calls; prints nanoseconds per call. */
#include <stdio.h>
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
    /* The C library's wrapper, as programs call it (glibc never caches it). */
    for (unsigned long i = 0; i < count; i++)
        getppid();
    elapsed = bench_now_ns() - start;
    printf("%.1f\n", (double)elapsed / (double)count);
    bench_kvm_end();
    return 0;
}
