/* A thread other than main ends the process with exit(7). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *arg)
{
    (void)arg;
    printf("worker exits the process\n");
    fflush(stdout);
    exit(7);
}

int main(void)
{
    pthread_t thread;

    pthread_create(&thread, NULL, worker, NULL);
    for (;;)
        pause();
}
