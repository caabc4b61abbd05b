/*
 * Eight threads contend on one mutex and hand a token around with a
 * condition variable; prints the totals, which a correct run makes exact.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn;
static __thread long private_sum;
static long sums[THREADS];
static pid_t tids[THREADS];

static void *worker(void *arg)
{
    long id = (long)arg;

    tids[id] = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        private_sum += i;
    }
    /* Token ring: each thread waits for its turn once. */
    pthread_mutex_lock(&lock);
    while (turn != id)
        pthread_cond_wait(&turn_changed, &lock);
    turn++;
    pthread_cond_broadcast(&turn_changed);
    pthread_mutex_unlock(&lock);
    sums[id] = private_sum;
    return (void *)(id * 10);
}

int main(void)
{
    pthread_t threads[THREADS];
    long joined = 0, total = 0;
    int distinct = 1;

    for (long i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++) {
        void *result;

        pthread_join(threads[i], &result);
        joined += (long)result;
    }
    for (int i = 0; i < THREADS; i++) {
        total += sums[i];
        for (int j = 0; j < i; j++)
            distinct &= tids[i] != tids[j] && tids[i] != getpid();
    }
    printf("counter %ld (expected %d)\n", counter, THREADS * ROUNDS);
    printf("joined %ld, turn %d, thread sums %ld, distinct tids %d\n",
           joined, turn, total, distinct);
    return counter == THREADS * ROUNDS ? 0 : 1;
}
