/*
 * Kernel threads and a per-CPU round-robin scheduler. Threads switch
 * cooperatively (hrt_yield, hrt_thread_join) and, while preempt_enabled
 * is set, on LAPIC timer ticks taken in ring 0. Threads never migrate
 * between CPUs, so each CPU's list is touched only with interrupts off.
 */
#include "kernel.h"

#define THREAD_STACK_SIZE 16384u

enum thread_state {
    THREAD_RUNNABLE = 0,
    THREAD_DONE = 1,
};

struct hrt_thread {
    uint64_t rsp;            /* saved stack pointer while switched out */
    struct hrt_thread *next; /* circular list of this CPU's threads */
    enum thread_state state;
    uint64_t result;
    void *stack; /* NULL for the boot thread */
};

HRT_NORETURN void hrt_thread_exit(uint64_t result);

/* Turns the running boot code of this CPU into its first thread. */
void hrt_sched_init(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    struct hrt_thread *boot = hrt_malloc(sizeof(*boot));

    if (!boot)
        hrt_panic("sched: no memory for the boot thread");
    memset(boot, 0, sizeof(*boot));
    boot->next = boot;
    cpu->current = boot;
    cpu->boot_thread_storage = boot;
}

static struct hrt_thread *next_runnable(struct hrt_thread *from)
{
    struct hrt_thread *t;

    for (t = from->next; t != from; t = t->next)
        if (t->state == THREAD_RUNNABLE)
            return t;
    return NULL;
}

int hrt_sched_others_runnable(void)
{
    return next_runnable(hrt_this_cpu()->current) != NULL;
}

/* Switches to the next runnable thread. Interrupts must be disabled. */
static void schedule_locked(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    struct hrt_thread *prev = cpu->current;
    struct hrt_thread *next = next_runnable(prev);

    if (!next)
        return;
    cpu->current = next;
    hrt_context_switch(&prev->rsp, next->rsp);
}

void hrt_yield(void)
{
    uint64_t flags = hrt_irq_save();

    schedule_locked();
    hrt_irq_restore(flags);
}

/* Called by the interrupt path with the interrupted frame on this stack. */
void hrt_preempt_schedule(void)
{
    hrt_this_cpu()->preemptions++;
    schedule_locked();
}

/*
 * Creates a runnable thread that calls fn(arg); its return value is the
 * result hrt_thread_join returns. Returns NULL if memory runs out.
 */
struct hrt_thread *hrt_thread_create(hrt_thread_fn fn, uint64_t arg)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    struct hrt_thread *t = hrt_malloc(sizeof(*t));
    uint64_t *top, flags;

    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->stack = hrt_malloc_aligned(THREAD_STACK_SIZE, 16);
    if (!t->stack) {
        hrt_free(t);
        return NULL;
    }
    /* The frame hrt_context_switch pops: r15..rbp, RFLAGS, return. */
    top = (uint64_t *)((uint8_t *)t->stack + THREAD_STACK_SIZE);
    top[-1] = (uint64_t)hrt_thread_trampoline;
    top[-2] = 0x202;        /* IF set, so the timer can preempt the thread */
    top[-3] = 0;            /* rbp */
    top[-4] = 0;            /* rbx */
    top[-5] = (uint64_t)fn; /* r12 */
    top[-6] = arg;          /* r13 */
    top[-7] = 0;            /* r14 */
    top[-8] = 0;            /* r15 */
    t->rsp = (uint64_t)&top[-8];
    flags = hrt_irq_save();
    t->next = cpu->current->next;
    cpu->current->next = t;
    hrt_irq_restore(flags);
    return t;
}

HRT_NORETURN void hrt_thread_exit(uint64_t result)
{
    struct hrt_percpu *cpu;

    hrt_irq_save();
    cpu = hrt_this_cpu();
    cpu->current->result = result;
    cpu->current->state = THREAD_DONE;
    schedule_locked();
    hrt_panic("sched: a finished thread was resumed");
}

/* Waits (yielding) until thread finishes, frees it and returns its result. */
uint64_t hrt_thread_join(struct hrt_thread *thread)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    struct hrt_thread *prev;
    uint64_t result, flags;

    while (thread->state != THREAD_DONE)
        hrt_yield();
    flags = hrt_irq_save();
    for (prev = cpu->current; prev->next != thread; prev = prev->next)
        ;
    prev->next = thread->next;
    hrt_irq_restore(flags);
    result = thread->result;
    hrt_free(thread->stack);
    hrt_free(thread);
    return result;
}
