/*
 * Self-tests of the heap and of kernel threads (cooperative switching,
 * join results and timer preemption). Kept apart from selftest.c, which
 * contains the hardware-facing tests.
 */
#include "kernel.h"

#define HEAP_BLOCKS 12
#define THREAD_COUNT 4
#define THREAD_ROUNDS 3
#define PREEMPT_LIMIT_US 500000u

static const uint32_t heap_sizes[HEAP_BLOCKS] = {
    1, 16, 24, 100, 512, 777, 4096, 3000, 64, 8000, 40, 2048,
};
static const uint32_t heap_aligns[HEAP_BLOCKS] = {
    16, 16, 64, 16, 256, 16, 4096, 32, 16, 16, 128, 4096,
};

/* Allocates the table of blocks, each filled with its own byte. */
static int heap_fill(uint8_t **blocks, char *reason, size_t len)
{
    int i;

    for (i = 0; i < HEAP_BLOCKS; i++) {
        blocks[i] = hrt_malloc_aligned(heap_sizes[i], heap_aligns[i]);
        if (!blocks[i]) {
            hrt_snprintf(reason, len, "allocation %d of %u bytes failed", i,
                         heap_sizes[i]);
            return 0;
        }
        if ((uint64_t)blocks[i] % heap_aligns[i]) {
            hrt_snprintf(reason, len, "%p is not %u-byte aligned",
                         (void *)blocks[i], heap_aligns[i]);
            return 0;
        }
        memset(blocks[i], 0x40 + i, heap_sizes[i]);
    }
    return 1;
}

/* Checks that no block overwrote another: first and last bytes intact. */
static int heap_verify(uint8_t **blocks, char *reason, size_t len)
{
    int i;

    for (i = 0; i < HEAP_BLOCKS; i++) {
        if (!blocks[i])
            continue;
        if (blocks[i][0] != 0x40 + i ||
            blocks[i][heap_sizes[i] - 1] != 0x40 + i) {
            hrt_snprintf(reason, len, "block %d (%p) was overwritten", i,
                         (void *)blocks[i]);
            return 0;
        }
    }
    return 1;
}

/* Frees the odd blocks, allocates them again and expects reuse. */
static int heap_reuse(uint8_t **blocks, char *reason, size_t len)
{
    uint8_t *again;
    int i;

    for (i = 1; i < HEAP_BLOCKS; i += 2) {
        hrt_free(blocks[i]);
        blocks[i] = NULL;
    }
    if (!heap_verify(blocks, reason, len))
        return 0;
    again = hrt_malloc(100);
    hrt_free(again);
    if (hrt_malloc(100) != again) {
        hrt_snprintf(reason, len, "freed block %p was not reused",
                     (void *)again);
        return 0;
    }
    hrt_free(again);
    return 1;
}

void hrt_selftest_heap(void)
{
    uint8_t *blocks[HEAP_BLOCKS];
    uint64_t free_before = hrt_heap_free_bytes(), start = hrt_rdtsc();
    char reason[80] = "";
    int i, ok;

    ok = heap_fill(blocks, reason, sizeof(reason)) &&
         heap_verify(blocks, reason, sizeof(reason)) &&
         heap_reuse(blocks, reason, sizeof(reason));
    for (i = 0; ok && i < HEAP_BLOCKS; i += 2)
        hrt_free(blocks[i]);
    if (ok && hrt_heap_free_bytes() != free_before) {
        hrt_snprintf(reason, sizeof(reason), "%lu bytes free after, %lu before",
                     (unsigned long)hrt_heap_free_bytes(),
                     (unsigned long)free_before);
        ok = 0;
    }
    if (ok && hrt_malloc(free_before + 1) != NULL) {
        hrt_snprintf(reason, sizeof(reason), "oversized allocation succeeded");
        ok = 0;
    }
    if (!ok) {
        hrt_test_report("heap", HVM_TEST_FAIL, "%s", reason);
        return;
    }
    hrt_test_report("heap", HVM_TEST_PASS,
                    "%d allocations, alignment, reuse and coalescing in %u us",
                    HEAP_BLOCKS + 2,
                    (unsigned)hrt_tsc_to_us(hrt_rdtsc() - start));
}

/* Per CPU: the order in which the cooperative threads ran, per round. */
static uint8_t thread_trace[HVM_MAX_HRT_CPUS][THREAD_COUNT * THREAD_ROUNDS];
static unsigned thread_trace_len[HVM_MAX_HRT_CPUS];

static uint64_t thread_worker(uint64_t id)
{
    uint64_t cpu = hrt_this_cpu()->cpu, sum = 0;
    unsigned *len = &thread_trace_len[cpu];
    int round;

    for (round = 0; round < THREAD_ROUNDS; round++) {
        if (*len < sizeof(thread_trace[cpu]))
            thread_trace[cpu][(*len)++] = (uint8_t)id;
        sum += id * 100 + (uint64_t)round;
        hrt_yield();
    }
    return sum;
}

/* Per CPU: set by the setter thread to end the spinner's loop. */
static volatile int preempt_flag[HVM_MAX_HRT_CPUS];

/* Spins in ring 0 without yielding until another thread sets the flag. */
static uint64_t thread_spinner(uint64_t arg)
{
    volatile int *flag = &preempt_flag[hrt_this_cpu()->cpu];
    uint64_t start = hrt_rdtsc();

    (void)arg;
    while (!*flag && hrt_tsc_to_us(hrt_rdtsc() - start) < PREEMPT_LIMIT_US)
        __asm__ volatile("" ::: "memory");
    return (uint64_t)*flag;
}

static uint64_t thread_setter(uint64_t arg)
{
    preempt_flag[hrt_this_cpu()->cpu] = (int)arg;
    return 0;
}

/* Runs THREAD_COUNT workers; checks results and that they interleaved. */
static int threads_cooperative(char *reason, size_t len)
{
    uint64_t cpu = hrt_this_cpu()->cpu, id, expected;
    struct hrt_thread *threads[THREAD_COUNT];
    const uint8_t *trace = thread_trace[cpu];
    int i;

    thread_trace_len[cpu] = 0;
    for (id = 0; id < THREAD_COUNT; id++) {
        threads[id] = hrt_thread_create(thread_worker, id + 1);
        if (!threads[id]) {
            hrt_snprintf(reason, len, "thread %u creation failed",
                         (unsigned)id);
            return 0;
        }
    }
    for (id = 0; id < THREAD_COUNT; id++) {
        expected = (id + 1) * 100 * THREAD_ROUNDS +
                   THREAD_ROUNDS * (THREAD_ROUNDS - 1) / 2;
        if (hrt_thread_join(threads[id]) != expected) {
            hrt_snprintf(reason, len, "thread %u returned a wrong result",
                         (unsigned)id);
            return 0;
        }
    }
    for (i = 1; i < THREAD_COUNT; i++) {
        if (trace[i] == trace[0]) {
            hrt_snprintf(reason, len, "threads did not interleave");
            return 0;
        }
    }
    return thread_trace_len[cpu] == sizeof(thread_trace[cpu]);
}

/*
 * Starts a thread that spins without yielding, yields to it, and expects
 * a timer tick to preempt it so that another thread can end its spin.
 */
static int threads_preemptive(char *reason, size_t len)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t preemptions = cpu->preemptions;
    struct hrt_thread *spinner, *setter;
    uint64_t seen;

    preempt_flag[cpu->cpu] = 0;
    cpu->preempt_enabled = 1;
    spinner = hrt_thread_create(thread_spinner, 0);
    if (!spinner) {
        cpu->preempt_enabled = 0;
        hrt_snprintf(reason, len, "thread creation failed");
        return 0;
    }
    hrt_yield(); /* back here only when the timer preempts the spinner */
    setter = hrt_thread_create(thread_setter, 1);
    seen = hrt_thread_join(spinner);
    if (setter)
        hrt_thread_join(setter);
    cpu->preempt_enabled = 0;
    if (!setter || !seen || cpu->preemptions == preemptions) {
        hrt_snprintf(reason, len, "spinning thread was not preempted");
        return 0;
    }
    return 1;
}

void hrt_selftest_threads(void)
{
    uint64_t start = hrt_rdtsc();
    char reason[80] = "wrong thread trace";

    if (!threads_cooperative(reason, sizeof(reason)) ||
        !threads_preemptive(reason, sizeof(reason))) {
        hrt_test_report("threads", HVM_TEST_FAIL, "%s", reason);
        return;
    }
    hrt_test_report("threads", HVM_TEST_PASS,
                    "%d threads yielded and joined, spinner preempted by "
                    "the timer (%lu preemptions), %u us",
                    THREAD_COUNT, (unsigned long)hrt_this_cpu()->preemptions,
                    (unsigned)hrt_tsc_to_us(hrt_rdtsc() - start));
}
