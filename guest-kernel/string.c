/*
 * memset, memcpy, memcmp and strlen for the freestanding kernel. Ring-0
 * code is interpreted on some hosts at about 1 us per instruction, so the
 * bulk of each copy or fill is one `rep movsq` or `rep stosq`.
 */
#include "kernel.h"

void *memset(void *dst, int c, size_t n)
{
    uint64_t pattern = 0x0101010101010101ULL * (uint8_t)c;
    size_t words = n / 8, bytes = n % 8;
    void *d = dst;

    __asm__ volatile("rep stosq"
                     : "+D"(d), "+c"(words)
                     : "a"(pattern)
                     : "memory");
    __asm__ volatile("rep stosb"
                     : "+D"(d), "+c"(bytes)
                     : "a"(pattern)
                     : "memory");
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    size_t words = n / 8, bytes = n % 8;
    void *d = dst;
    const void *s = src;

    __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(bytes) : : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    size_t i;

    for (i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}
