/* Times N pthread_create + pthread_join pairs; prints ns per pair. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bench_common.h"

static void *thread_body(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    unsigned long count;
    uint64_t start, elapsed;

    if (argc != 2) {
        fprintf(stderr, "usage: %s THREADS\n", argv[0]);
        return 2;
    }
    count = bench_count_parse(argv[1], "THREADS");
    bench_kvm_begin();
    start = bench_now_ns();
    for (unsigned long i = 0; i < count; i++) {
        pthread_t thread;
        void *result;
        int error = pthread_create(&thread, NULL, thread_body, (void *)i);

        if (error != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(error));
            return 1;
        }
        pthread_join(thread, &result);
        if (result != (void *)i) {
            fprintf(stderr, "thread %lu returned a wrong value\n", i);
            return 1;
        }
    }
    elapsed = bench_now_ns() - start;
    printf("%.1f\n", (double)elapsed / (double)count);
    bench_kvm_end();
    return 0;
}
