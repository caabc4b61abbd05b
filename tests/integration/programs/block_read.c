/* Prints its pid, then blocks reading stdin until a signal ends it. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char byte;

    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    return read(0, &byte, 1) < 0 ? 2 : 3;
}
