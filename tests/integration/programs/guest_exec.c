/*
 * Prints a line, then replaces itself with /bin/echo (whose output ends
 * the run), so a hybridized run checks that the new image runs and that
 * output written before the exec is kept.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("before exec\n");
    fflush(stdout);
    execl("/bin/echo", "echo", "after exec", (char *)NULL);
    perror("guest_exec: execl /bin/echo");
    return 1;
}
