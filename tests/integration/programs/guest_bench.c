/*
 * Costs measured inside the guest ROS, run once plain and once under
 * mvrun: a system call (getppid) and an anonymous page fault (first write
 * to a fresh 4 KiB page). Prints one line per operation with the mean in
 * microseconds over the given count (default 200).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 200;
    volatile char *pages;
    double start, syscall_us, fault_us;

    if (count <= 0) {
        fprintf(stderr, "usage: guest_bench [COUNT > 0]\n");
        return 2;
    }
    start = now_us();
    for (long i = 0; i < count; i++)
        syscall(SYS_getppid);
    syscall_us = (now_us() - start) / count;
    pages = mmap(NULL, count * 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) {
        perror("guest_bench: mmap");
        return 1;
    }
    start = now_us();
    for (long i = 0; i < count; i++)
        pages[i * 4096] = 1;
    fault_us = (now_us() - start) / count;
    printf("getppid %.1f us\n", syscall_us);
    printf("page-fault %.1f us\n", fault_us);
    return 0;
}
