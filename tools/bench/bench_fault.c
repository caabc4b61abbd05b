/*
 * Times the first touch (one write) of N fresh 4 KiB anonymous pages and
 * prints nanoseconds per page. Transparent huge pages are disabled on the
 * range, so every touch is a page fault natively.
 */
#include <stdio.h>
#include <sys/mman.h>

#include "bench_common.h"

#define PAGE_SIZE 4096UL

int main(int argc, char **argv)
{
    unsigned long pages;
    uint64_t start, elapsed;
    volatile char *memory;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PAGES\n", argv[0]);
        return 2;
    }
    pages = bench_count_parse(argv[1], "PAGES");
    memory = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    if (madvise((void *)memory, pages * PAGE_SIZE, MADV_NOHUGEPAGE) < 0)
        perror("madvise MADV_NOHUGEPAGE (continuing)");
    bench_kvm_begin();
    start = bench_now_ns();
    for (unsigned long i = 0; i < pages; i++)
        memory[i * PAGE_SIZE] = 1;
    elapsed = bench_now_ns() - start;
    printf("%.1f\n", (double)elapsed / (double)pages);
    bench_kvm_end();
    return 0;
}
