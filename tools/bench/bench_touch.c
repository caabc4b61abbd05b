/*
 * The fault-heavy program writes one byte in every 4 KiB page of MIB
 * mebibytes of fresh anonymous memory, under the default transparent
 * huge page policy. It prints the seconds the touches took.
 */
#include <stdio.h>
#include <sys/mman.h>

#include "bench_common.h"

#define PAGE_SIZE 4096UL

int main(int argc, char **argv)
{
    unsigned long size;
    uint64_t start, elapsed;
    volatile char *memory;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MIB\n", argv[0]);
        return 2;
    }
    size = bench_count_parse(argv[1], "MIB") << 20;
    memory = mmap(NULL, size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    bench_kvm_begin();
    start = bench_now_ns();
    for (unsigned long offset = 0; offset < size; offset += PAGE_SIZE)
        memory[offset] = 1;
    elapsed = bench_now_ns() - start;
    printf("%.6f\n", (double)elapsed / 1e9);
    bench_kvm_end();
    return 0;
}
