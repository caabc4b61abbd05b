/*
 * hvmctl: HRT control from inside the guest ROS of `hvm run`. It talks
 * to the VMM by hypercall (port I/O, so it needs root for ioperm()).
 *
 *   hvmctl status   HRT CPUs (busy/total), boot count, hybridized processes
 *   hvmctl stats    per process: threads, forwarded calls, faults, flushes
 *   hvmctl reboot   reboots the HRT; rejected while processes are hybridized
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>

#include <hvm/abi.h>

#define EXIT_USAGE 2

/* One page, so that the VMM writes it through one translation. */
static struct hvm_hrt_status status __attribute__((aligned(4096)));

static long hypercall(unsigned op, uint64_t rdi)
{
    long result;

    __asm__ volatile("outb %%al, %%dx"
                     : "=a"(result)
                     : "d"(HVM_HC_PORT_BASE + op), "D"(rdi), "a"(0)
                     : "memory");
    return result;
}

static int status_read(void)
{
    long result;

    /* The VMM writes only present, writable pages: fault it in first. */
    memset(&status, 0, sizeof(status));
    mlock(&status, sizeof(status));
    result = hypercall(HVM_HC_HRT_STATUS, (uint64_t)(uintptr_t)&status);
    if (result != HVM_OK) {
        fprintf(stderr,
                "hvmctl: the VMM rejected the status request "
                "(error %ld): is this the guest of `hvm run`?\n",
                result);
        return -1;
    }
    return 0;
}

static int command_status(void)
{
    if (status_read() < 0)
        return 1;
    printf("HRT CPUs: %u (%u busy)\n", status.hrt_cpus, status.busy_cpus);
    printf("HRT boot count: %u\n", status.boot_count);
    printf("hybridized processes: %u\n", status.nr_processes);
    for (uint32_t i = 0; i < status.nr_processes; i++)
        printf("  pid %u: %u threads in the HRT\n", status.processes[i].pid,
               status.processes[i].threads);
    return 0;
}

static int command_stats(void)
{
    if (status_read() < 0)
        return 1;
    printf("execution groups created: %llu\n",
           (unsigned long long)status.groups_created);
    printf("%8s %8s %12s %10s %10s %8s\n", "pid", "threads", "calls", "faults",
           "flushes", "merges");
    for (uint32_t i = 0; i < status.nr_processes; i++) {
        const struct hvm_hrt_process *p = &status.processes[i];

        printf("%8u %8u %12llu %10llu %10llu %8llu\n", p->pid, p->threads,
               (unsigned long long)p->calls, (unsigned long long)p->faults,
               (unsigned long long)p->flushes, (unsigned long long)p->merges);
    }
    return 0;
}

static int command_reboot(void)
{
    long result = hypercall(HVM_HC_HRT_REBOOT, 0);

    if (result == HVM_ERR_BUSY) {
        fprintf(stderr, "hvmctl: reboot rejected: processes are hybridized "
                        "or a reboot is in progress (see hvmctl status)\n");
        return 1;
    }
    if (result < 0) {
        fprintf(stderr, "hvmctl: the HRT reboot failed (error %ld)\n", result);
        return 1;
    }
    printf("HRT rebooted: boot count %ld\n", result);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hvmctl status|stats|reboot\n");
        return EXIT_USAGE;
    }
    if (ioperm(HVM_HC_PORT_BASE, HVM_HC_PORT_COUNT, 1) < 0) {
        perror("hvmctl: ioperm of the hypercall ports (run as root)");
        return 1;
    }
    if (strcmp(argv[1], "status") == 0)
        return command_status();
    if (strcmp(argv[1], "stats") == 0)
        return command_stats();
    if (strcmp(argv[1], "reboot") == 0)
        return command_reboot();
    fprintf(stderr,
            "hvmctl: unknown command '%s': give status, stats or "
            "reboot\n",
            argv[1]);
    return EXIT_USAGE;
}
