/*
 * Four threads add to one counter under a mutex; prints the total and
 * each thread's result, which a correct run makes exact.
 */
#include <pthread.h>
#include <stdio.h>

#define THREADS 4
#define ROUNDS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *worker(void *arg)
{
    long id = (long)arg;

    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return (void *)(id * 10);
}

int main(void)
{
    pthread_t threads[THREADS];

    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, worker, (void *)i) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    for (long i = 0; i < THREADS; i++) {
        void *result;

        pthread_join(threads[i], &result);
        printf("thread %ld returned %ld\n", i, (long)result);
    }
    printf("counter %ld of %d\n", counter, THREADS * ROUNDS);
    return counter == THREADS * ROUNDS ? 0 : 1;
}
