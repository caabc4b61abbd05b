/*
 * The system-call-heavy program: reads FILE from start to end in 4 KiB
 * read(2) calls; prints the seconds the reads took. The harness warms
 * the page cache first, so the reads measure system calls, not the disk.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
    static char buffer[4096];
    unsigned long long total = 0, checksum = 0;
    uint64_t start, elapsed;
    ssize_t length;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    bench_kvm_begin();
    start = bench_now_ns();
    while ((length = read(fd, buffer, sizeof(buffer))) > 0) {
        total += (unsigned long long)length;
        checksum += (unsigned char)buffer[0];
    }
    elapsed = bench_now_ns() - start;
    if (length < 0) {
        perror("read");
        return 1;
    }
    printf("%.6f\n", (double)elapsed / 1e9);
    bench_kvm_end();
    fprintf(stderr, "read %llu bytes (checksum %llu)\n", total, checksum);
    close(fd);
    return 0;
}
