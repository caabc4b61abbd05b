/*
 * HRT kernel start-up: per-CPU state, IDT, LAPIC, heap, scheduler and
 * ring-3 support on every CPU, then the boot-complete report, the
 * self-tests and the final exit hypercall. Idle CPUs wait with `sti; hlt`
 * because spinning in interpreted ring 0 would starve the host.
 */
#include "kernel.h"

const struct hvm_boot_info *hrt_boot_info;

/* Start-up rendezvous, all counted with locked increments. */
static volatile uint32_t cpus_checked_in; /* CPUs other than 0 set up */
static volatile uint32_t boot_released;   /* CPU 0 reported boot-complete */
static volatile uint32_t cpus_finished;   /* CPUs done with the tests */

static void counter_increment(volatile uint32_t *counter)
{
    __asm__ volatile("lock incl %0" : "+m"(*counter)::"memory");
}

/* Sleeps until *counter reaches target; IPIs from other CPUs wake us. */
static void wait_for_count(volatile uint32_t *counter, uint32_t target)
{
    while (*counter < target)
        hrt_wait_interrupt();
}

static void wake_cpu(uint32_t cpu)
{
    hrt_lapic_send_ipi(hrt_boot_info->cpus[cpu].apic_id, HRT_VEC_IPI);
}

static struct hrt_percpu *percpu_init(const struct hvm_boot_info *info,
                                      uint64_t cpu_index)
{
    struct hrt_percpu *cpu = (void *)info->cpus[cpu_index].percpu;

    cpu->self = cpu;
    cpu->cpu = cpu_index;
    cpu->user_fault_vector = ~0ULL;
    return cpu;
}

/*
 * Host-ROS mode: the host kernel is the ROS and the integrator runs
 * application code on HRT vCPUs. The kernel only provides its IDT and
 * per-CPU state; CPU 0 reports boot-complete and every CPU halts.
 */
static HRT_NORETURN void host_ros_boot(uint64_t cpu_index, uint64_t entry_tsc)
{
    if (cpu_index == 0)
        hrt_hypercall(HVM_HC_BOOT_COMPLETE, entry_tsc, hrt_rdtsc());
    for (;;)
        hrt_wait_interrupt();
}

#ifdef HRT_FAULT_TEST
/*
 * Built into hrt-fault.elf only: touches an address the boot page tables
 * leave unmapped (2 MiB below the kernel window), so the VMM must print
 * a #PF panic report and exit with a non-zero status.
 */
static void fault_test_trigger(void)
{
    volatile uint64_t *unmapped =
        (volatile uint64_t *)(HVM_KERNEL_VIRT_BASE - 0x200000);

    (void)*unmapped;
}
#endif

/* Brings this CPU up, then meets the others before the tests run. */
static void cpu_setup_and_rendezvous(struct hrt_percpu *cpu, uint64_t entry_tsc)
{
    const struct hvm_boot_info *info = hrt_boot_info;
    uint32_t n;

    hrt_lapic_init();
    hrt_heap_init();
    hrt_sched_init();
    hrt_user_init();
#ifdef HRT_FAULT_TEST
    fault_test_trigger();
#endif
#ifdef HRT_HANG_TEST
    hrt_halt_forever(); /* hrt-hang.elf: the VMM's boot timeout must fire */
#endif
    if (cpu->cpu != 0) {
        counter_increment(&cpus_checked_in);
        wake_cpu(0);
        wait_for_count(&boot_released, 1);
        return;
    }
    wait_for_count(&cpus_checked_in, info->ncpus - 1);
    hrt_hypercall(HVM_HC_BOOT_COMPLETE, entry_tsc, hrt_rdtsc());
    counter_increment(&boot_released);
    for (n = 1; n < info->ncpus; n++)
        wake_cpu(n);
}

/*
 * Runs the self-tests. Once all CPUs finish, CPU 0 sends the exit
 * hypercall, or requests a reboot while boot_count is below the number
 * of reboots in selftest_mask.
 */
static void selftests_finish(struct hrt_percpu *cpu)
{
    const struct hvm_boot_info *info = hrt_boot_info;
    uint32_t reboots = (info->selftest_mask >> HRT_SELFTEST_REBOOTS_SHIFT) &
                       HRT_SELFTEST_REBOOTS_MASK;

    hrt_selftests_run();
    counter_increment(&cpus_finished);
    if (cpu->cpu != 0) {
        wake_cpu(0);
        return;
    }
    wait_for_count(&cpus_finished, info->ncpus);
    if (info->boot_count < reboots)
        hrt_hypercall(HVM_HC_REBOOT, 0, 0);
    else
        hrt_hypercall(HVM_HC_EXIT, 0, 0);
}

/*
 * C entry, called by _start (entry.S documents the register contract)
 * with the TSC value read at the first instruction.
 */
void hrt_main(const struct hvm_boot_info *info, uint64_t cpu_index,
              uint64_t entry_tsc)
{
    struct hrt_percpu *cpu;

    if (info->magic != HVM_BOOT_MAGIC || info->version != HVM_BOOT_VERSION ||
        info->ncpus == 0 || info->ncpus > HVM_MAX_HRT_CPUS ||
        cpu_index >= info->ncpus) {
        hrt_hypercall(HVM_HC_EXIT, 125, 0);
        hrt_halt_forever();
    }
    hrt_boot_info = info;
    cpu = percpu_init(info, cpu_index);
    hrt_idt_load();
    if (info->flags & HVM_BOOT_HOST_ROS)
        host_ros_boot(cpu_index, entry_tsc);

    cpu_setup_and_rendezvous(cpu, entry_tsc);
    if (cpu->cpu == 0)
        hrt_printf("hrt: boot %u complete, HRT CPUs: %u\n", info->boot_count,
                   info->ncpus);
    if (info->flags & HVM_BOOT_SELFTEST)
        selftests_finish(cpu);
    for (;;)
        hrt_wait_interrupt();
}
