/*
 * Allocates 64 MiB, writes one byte per 4 KiB page and reads them back;
 * prints the sum and exits 0 when it is right.
 */
#include <stdio.h>
#include <stdlib.h>

#define SIZE (64UL << 20)
#define PAGE 4096UL

int main(void)
{
    unsigned char *block = malloc(SIZE);
    unsigned long sum = 0, expected = 0;

    if (block == NULL) {
        fprintf(stderr, "malloc of 64 MiB failed\n");
        return 1;
    }
    for (unsigned long i = 0; i < SIZE; i += PAGE) {
        block[i] = (unsigned char)(i / PAGE);
        expected += (unsigned char)(i / PAGE);
    }
    for (unsigned long i = 0; i < SIZE; i += PAGE)
        sum += block[i];
    printf("touched %lu pages, sum %lu\n", SIZE / PAGE, sum);
    free(block);
    return sum == expected ? 0 : 1;
}
