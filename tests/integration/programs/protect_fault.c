/* Writes to a page it made read-only: Linux ends it with SIGSEGV. */
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
    volatile char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    page[0] = 1;
    mprotect((void *)page, 4096, PROT_READ);
    fprintf(stderr, "read back %d, now writing\n", page[0]);
    page[0] = 2;
    return 0;
}
