/* vfork, then exec in the child, which runs on the parent's stack. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int status;
    pid_t child = vfork();

    if (child == 0) {
        execl("/bin/echo", "echo", "from the vfork child", (char *)NULL);
        _exit(99);
    }
    waitpid(child, &status, 0);
    printf("parent: child exited with %d\n", WEXITSTATUS(status));
    return 0;
}
