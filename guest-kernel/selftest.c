/*
 * Boot self-tests, run on every HRT CPU. Each test sends one
 * HVM_HC_TEST_RESULT (pass, fail or skip with a reason); the VMM decides
 * the exit status from these reports.
 */
#include "kernel.h"

/* Test-selection bits of boot_info.selftest_mask (see kernel.h). */
#define TEST_EXCEPTIONS (1u << 0)
#define TEST_TIMER (1u << 1)
#define TEST_IPI (1u << 2)
#define TEST_HEAP (1u << 3)
#define TEST_THREADS (1u << 4)
#define TEST_RING3 (1u << 5)

#define TIMER_PERIOD_US 1000u
#define TIMER_TEST_TICKS 20u
#define WAIT_LIMIT_US 2000000u /* bound of every wait in these tests */
#define RING3_LOOP_COUNT 1000000u

/* Shared by the IPI test: TSC at which CPU i sent its test IPI. */
static volatile uint64_t ipi_send_tsc[HVM_MAX_HRT_CPUS];

static int wait_expired(uint64_t start_tsc)
{
    return hrt_tsc_to_us(hrt_rdtsc() - start_tsc) > WAIT_LIMIT_US;
}

/*
 * Calls fault(), which faults once and resumes through the fixup table,
 * and checks the recorded vector, error code 0 and, for #PF, CR2.
 */
static int exception_check(uint64_t (*fault)(void), uint64_t vector,
                           uint64_t cr2, char *reason, size_t len)
{
    struct hrt_percpu *cpu = hrt_this_cpu();

    cpu->fixup_vector = ~0ULL;
    if (fault() != 1 || cpu->fixup_vector != vector) {
        hrt_snprintf(reason, len, "expected vector %u, got %d",
                     (unsigned)vector, (int)cpu->fixup_vector);
        return 0;
    }
    if (cpu->fixup_error_code != 0) {
        hrt_snprintf(reason, len, "vector %u: error code %x, expected 0",
                     (unsigned)vector, (unsigned)cpu->fixup_error_code);
        return 0;
    }
    if (vector == 14 && cpu->fixup_cr2 != cr2) {
        hrt_snprintf(reason, len, "#PF CR2 %p, expected %p",
                     (void *)cpu->fixup_cr2, (void *)cr2);
        return 0;
    }
    return 1;
}

/* An address the boot page tables leave unmapped: below the kernel. */
#define UNMAPPED_ADDRESS (HVM_KERNEL_VIRT_BASE - 0x200000)

static uint64_t fault_pf_unmapped(void)
{
    return hrt_selftest_fault_pf(UNMAPPED_ADDRESS);
}

static void test_exceptions(void)
{
    uint64_t start = hrt_rdtsc();
    char reason[80];

    if (!exception_check(hrt_selftest_fault_ud, 6, 0, reason, sizeof(reason)) ||
        !exception_check(hrt_selftest_fault_de, 0, 0, reason, sizeof(reason)) ||
        !exception_check(fault_pf_unmapped, 14, UNMAPPED_ADDRESS, reason,
                         sizeof(reason)) ||
        !exception_check(hrt_selftest_fault_gp, 13, 0, reason,
                         sizeof(reason))) {
        hrt_test_report("exceptions", HVM_TEST_FAIL, "%s", reason);
        return;
    }
    hrt_test_report("exceptions", HVM_TEST_PASS,
                    "#UD #DE #PF #GP raised and returned in %u us",
                    (unsigned)hrt_tsc_to_us(hrt_rdtsc() - start));
}

/*
 * Measures the timer's count rate in counts per microsecond from two
 * reads of its current count a quarter period apart, after a tick.
 * Returns 0 if no try was both shorter than a period and free of a
 * counter reload, because the host did not run this vCPU in time.
 */
static uint64_t timer_rate_measure(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t window_us = TIMER_PERIOD_US / 4, t0, t1, ticks, elapsed_us;
    uint32_t c0, c1;

    for (int attempt = 0; attempt < 20; attempt++) {
        ticks = cpu->ticks;
        while (cpu->ticks == ticks)
            hrt_wait_interrupt();
        c0 = hrt_lapic_timer_current();
        t0 = hrt_rdtsc();
        do
            t1 = hrt_rdtsc();
        while (hrt_tsc_to_us(t1 - t0) < window_us);
        c1 = hrt_lapic_timer_current();
        t1 = hrt_rdtsc();
        elapsed_us = hrt_tsc_to_us(t1 - t0);
        /* Shorter than a period and still counting down: no reload. */
        if (c1 < c0 && elapsed_us > 0 && elapsed_us < TIMER_PERIOD_US)
            return (c0 - c1) / elapsed_us;
    }
    return 0;
}

/*
 * Counts periodic ticks while halted and checks the timer's clock rate.
 * Ticks never come early, but some are lost while the host cannot run
 * this vCPU (more vCPUs than host CPUs). So the delivered period is only
 * bounded from below, and the clock rate is checked on the counter.
 */
static void test_timer(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t first = cpu->ticks, start = hrt_rdtsc(), period, rate;

    hrt_lapic_timer_start(TIMER_PERIOD_US);
    while (cpu->ticks - first < TIMER_TEST_TICKS && !wait_expired(start))
        hrt_wait_interrupt();
    if (cpu->ticks - first < TIMER_TEST_TICKS) {
        hrt_test_report(
            "timer", HVM_TEST_FAIL, "%u ticks in %u us, expected %u",
            (unsigned)(cpu->ticks - first), WAIT_LIMIT_US, TIMER_TEST_TICKS);
        return;
    }
    period = hrt_tsc_to_us(hrt_rdtsc() - start) / TIMER_TEST_TICKS;
    rate = timer_rate_measure();
    if (period < TIMER_PERIOD_US * 8 / 10 ||
        (rate != 0 && (rate < LAPIC_COUNTS_PER_US * 8 / 10 ||
                       rate > LAPIC_COUNTS_PER_US * 12 / 10))) {
        hrt_test_report("timer", HVM_TEST_FAIL,
                        "period %u us (programmed %u us), clock %u "
                        "counts/us (expected %u)",
                        (unsigned)period, TIMER_PERIOD_US, (unsigned)rate,
                        LAPIC_COUNTS_PER_US);
        return;
    }
    if (rate == 0) {
        /* NOTE: only on hosts too busy to run this vCPU for 250 us. */
        hrt_test_report("timer", HVM_TEST_PASS,
                        "%u ticks while halted, period %u us, clock rate "
                        "not measured (vCPU descheduled)",
                        TIMER_TEST_TICKS, (unsigned)period);
        return;
    }
    hrt_test_report("timer", HVM_TEST_PASS,
                    "%u ticks while halted, period %u us, clock %u "
                    "counts/us",
                    TIMER_TEST_TICKS, (unsigned)period, (unsigned)rate);
}

/* Each CPU sends one test IPI to the next and waits for the previous. */
static void test_ipi(void)
{
    const struct hvm_boot_info *info = hrt_boot_info;
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t start = hrt_rdtsc();
    uint32_t next = (uint32_t)((cpu->cpu + 1) % info->ncpus);
    uint32_t prev = (uint32_t)((cpu->cpu + info->ncpus - 1) % info->ncpus);

    if (info->ncpus < 2) {
        hrt_test_report("ipi", HVM_TEST_SKIP, "needs 2 HRT CPUs, have 1");
        return;
    }
    ipi_send_tsc[cpu->cpu] = hrt_rdtsc();
    hrt_lapic_send_ipi(info->cpus[next].apic_id, HRT_VEC_IPI_TEST);
    while (cpu->ipi_test_count == 0 && !wait_expired(start))
        hrt_wait_interrupt();
    if (cpu->ipi_test_count != 1) {
        hrt_test_report("ipi", HVM_TEST_FAIL,
                        "%u IPIs from cpu%u after %u us, expected 1",
                        (unsigned)cpu->ipi_test_count, prev, WAIT_LIMIT_US);
        return;
    }
    hrt_test_report(
        "ipi", HVM_TEST_PASS, "sent to cpu%u, received from cpu%u after %u us",
        next, prev,
        (unsigned)hrt_tsc_to_us(cpu->ipi_test_tsc - ipi_send_tsc[prev]));
}

void hrt_selftest_heap(void);
void hrt_selftest_threads(void);

static void test_ring3(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t expected = (uint64_t)RING3_LOOP_COUNT * (RING3_LOOP_COUNT + 1) / 2;
    uint64_t start, result, us;

    if (!cpu->syscall_stack) {
        hrt_test_report("ring3", HVM_TEST_SKIP,
                        "user region too small for ring-3 code");
        return;
    }
    cpu->user_fault_vector = ~0ULL;
    cpu->syscall_ring = ~0ULL;
    start = hrt_rdtsc();
    result = hrt_user_enter(hrt_user_address(hrt_user_test_entry),
                            hrt_user_stack_top(), RING3_LOOP_COUNT, 0);
    us = hrt_tsc_to_us(hrt_rdtsc() - start);
    if (cpu->user_fault_vector != ~0ULL) {
        hrt_test_report("ring3", HVM_TEST_FAIL, "ring-3 exception %u at %p",
                        (unsigned)cpu->user_fault_vector,
                        (void *)cpu->user_fault_rip);
    } else if (cpu->user_rbx != expected || result != expected + 7) {
        hrt_test_report("ring3", HVM_TEST_FAIL,
                        "wrong results: sum %lu, syscall %lu",
                        (unsigned long)cpu->user_rbx, (unsigned long)result);
    } else if (cpu->user_rdx != 0) {
        hrt_test_report("ring3", HVM_TEST_FAIL,
                        "syscall changed %u red-zone qwords",
                        (unsigned)cpu->user_rdx);
    } else {
        hrt_test_report("ring3", HVM_TEST_PASS,
                        "round trip in %u us; syscall landed in ring %u%s",
                        (unsigned)us, (unsigned)cpu->syscall_ring,
                        cpu->syscall_ring == 3
                            ? " (completed by a ud2 trap), red zone kept"
                            : " (returned by sysretq), red zone kept");
    }
}

static int selected(uint32_t bit)
{
    uint32_t mask = hrt_boot_info->selftest_mask & HRT_SELFTEST_TESTS_MASK;

    return mask == 0 || (mask & bit) != 0;
}

void hrt_selftests_run(void)
{
    if (selected(TEST_EXCEPTIONS))
        test_exceptions();
    if (selected(TEST_HEAP))
        hrt_selftest_heap();
    if (selected(TEST_TIMER))
        test_timer();
    else
        hrt_lapic_timer_start(TIMER_PERIOD_US); /* wakes bounded waits */
    if (selected(TEST_IPI))
        test_ipi();
    if (selected(TEST_THREADS))
        hrt_selftest_threads();
    if (selected(TEST_RING3))
        test_ring3();
    hrt_lapic_timer_stop();
}
