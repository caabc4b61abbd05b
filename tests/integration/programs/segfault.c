/* Writes through a null pointer after printing a line (unbuffered). */
#include <stdio.h>

int main(void)
{
    volatile int *null = NULL;

    fprintf(stderr, "about to fault\n");
    *null = 42;
    return 0;
}
