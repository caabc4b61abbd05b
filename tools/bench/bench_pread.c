/* Times N 64-byte preads at offset 0 of FILE; prints ns per call. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
    char buffer[64];
    unsigned long count;
    uint64_t start, elapsed;
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: %s CALLS FILE\n", argv[0]);
        return 2;
    }
    count = bench_count_parse(argv[1], "CALLS");
    fd = open(argv[2], O_RDONLY);
    if (fd < 0) {
        perror(argv[2]);
        return 1;
    }
    bench_kvm_begin();
    start = bench_now_ns();
    for (unsigned long i = 0; i < count; i++) {
        if (pread(fd, buffer, sizeof(buffer), 0) != (ssize_t)sizeof(buffer)) {
            fprintf(stderr, "pread %s: short read\n", argv[2]);
            return 1;
        }
    }
    elapsed = bench_now_ns() - start;
    printf("%.1f\n", (double)elapsed / (double)count);
    bench_kvm_end();
    close(fd);
    return 0;
}
