/*
 * The `hvm bench` measurements that need no process. A scratch VM with
 * two vCPUs ping-pongs a cache line in guest ring 3, and a one-vCPU VM
 * makes null hypercalls from guest ring 0 and ring 3. Their host
 * counterparts are two host threads ping-ponging a line and a native
 * getppid. Guest timings come from
 * the guest TSC, converted with the host TSC frequency; the KVM counters
 * of each scratch VM are read before and after the timed run.
 */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pagetable.h"
#include "vmm.h"

#define SCRATCH_MEM_SIZE (4ULL << 20)
#define SCRATCH_GDT 0x1000
#define SCRATCH_TSS 0x2000
#define SCRATCH_STACK0 0x8000
#define SCRATCH_STACK1 0x9000
#define SCRATCH_CODE 0x10000
#define SCRATCH_LINE 0x20000 /* the shared cache line */
#define SCRATCH_TSC0 0x21000 /* u64[2] TSC readings of vCPU 0 */
#define SCRATCH_TABLES 0x100000

extern const uint8_t bench_guest_start[], bench_guest_end[];
extern const uint8_t bench_guest_ping[], bench_guest_pong[];
extern const uint8_t bench_guest_hypercalls[];

struct scratch_vm {
    struct vmm_vm *vm;
    uint8_t *mem;
    int stats_fds[3]; /* VM, vCPU 0, vCPU 1; -1 where absent */
};

static uint64_t guest_entry(const uint8_t *routine)
{
    return SCRATCH_CODE + (uint64_t)(routine - bench_guest_start);
}

/* Ends a vCPU's run loop at the guest's exit hypercall. */
static int64_t scratch_exit_hypercall(struct vmm_vcpu *vcpu,
                                      const struct vmm_hypercall *call,
                                      void *ctx)
{
    (void)call;
    (void)ctx;
    vcpu->leave_loop = 1;
    return HVM_OK;
}

static int scratch_memory_prepare(struct scratch_vm *scratch)
{
    struct vmm_mem_region *region;
    struct vmm_pt_builder tables;
    uint64_t ist[3] = {SCRATCH_STACK0, SCRATCH_STACK0, SCRATCH_STACK0};
    uint32_t tss_limit;

    region = vmm_memory_add(scratch->vm, "bench", 0, SCRATCH_MEM_SIZE);
    if (region == NULL)
        return -1;
    scratch->mem = region->hva;
    tss_limit =
        vmm_x86_tss_build(scratch->mem + SCRATCH_TSS, SCRATCH_STACK0, ist);
    vmm_x86_gdt_build((uint64_t *)(scratch->mem + SCRATCH_GDT), SCRATCH_TSS,
                      tss_limit);
    memcpy(scratch->mem + SCRATCH_CODE, bench_guest_start,
           (size_t)(bench_guest_end - bench_guest_start));
    if (vmm_pt_init(&tables, scratch->mem + SCRATCH_TABLES, SCRATCH_TABLES,
                    SCRATCH_MEM_SIZE - SCRATCH_TABLES) < 0 ||
        vmm_pt_map(&tables, 0, 0, 2ULL << 20, VMM_PTE_WRITE | VMM_PTE_USER) < 0)
        return -1;
    return tables.pml4_phys == SCRATCH_TABLES ? 0 : -1;
}

/* Creates a scratch VM with nr_vcpus vCPUs. Returns 0 or -1. */
static int scratch_create(struct scratch_vm *scratch, unsigned nr_vcpus)
{
    struct vmm_vm_options options = {0};

    memset(scratch, 0, sizeof(*scratch));
    for (unsigned i = 0; i < 3; i++)
        scratch->stats_fds[i] = -1;
    scratch->vm = vmm_vm_create(&options);
    if (scratch->vm == NULL)
        return -1;
    vmm_hypercall_register(scratch->vm, HVM_HC_EXIT, scratch_exit_hypercall,
                           NULL);
    scratch->stats_fds[0] = bench_kvm_stats_open(scratch->vm->vm_fd);
    for (unsigned i = 0; i < nr_vcpus; i++) {
        struct vmm_vcpu *vcpu = vmm_vcpu_create(scratch->vm, i);

        if (vcpu == NULL || vmm_x86_set_cpuid(vcpu, 1) < 0)
            return -1;
        scratch->stats_fds[1 + i] = bench_kvm_stats_open(vcpu->fd);
    }
    return scratch_memory_prepare(scratch);
}

static void scratch_destroy(struct scratch_vm *scratch)
{
    for (unsigned i = 0; i < 3; i++)
        if (scratch->stats_fds[i] >= 0)
            close(scratch->stats_fds[i]);
    if (scratch->vm != NULL)
        vmm_vm_destroy(scratch->vm);
}

static void scratch_stats_read(const struct scratch_vm *scratch,
                               struct bench_kvm_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < 3; i++)
        if (scratch->stats_fds[i] >= 0)
            bench_kvm_stats_add(scratch->stats_fds[i], sum);
}

static int scratch_vcpu_set(struct scratch_vm *scratch, unsigned index,
                            int user, const uint8_t *routine, uint64_t rdi,
                            uint64_t rsi, uint64_t rdx)
{
    struct vmm_long_mode state = {
        .cr3 = SCRATCH_TABLES,
        .gdt_base = SCRATCH_GDT,
        .gdt_limit = HVM_GDT_ENTRIES * 8 - 1,
        .tss_base = SCRATCH_TSS,
        .tss_limit = VMM_TSS_SIZE - 1,
        .user = user,
        .rip = guest_entry(routine),
        .rsp = index == 0 ? SCRATCH_STACK0 : SCRATCH_STACK1,
        .rflags = 0x2,
        .rdi = rdi,
        .rsi = rsi,
        .rdx = rdx,
    };

    return vmm_x86_set_long_mode(scratch->vm->vcpus[index], &state);
}

/* Converts the TSC pair at SCRATCH_TSC0 to ns per operation. */
static double scratch_tsc_ns(const struct scratch_vm *scratch,
                             unsigned long operations)
{
    uint64_t tsc[2];
    uint64_t khz = vmm_tsc_khz();

    memcpy(tsc, scratch->mem + SCRATCH_TSC0, sizeof(tsc));
    if (khz == 0 || tsc[1] <= tsc[0])
        return -1;
    return (double)(tsc[1] - tsc[0]) * 1e6 / (double)khz / (double)operations;
}

/* Runs the VM's vCPUs, each on its own thread, until all have exited. */
static int scratch_run(struct scratch_vm *scratch)
{
    if (vmm_vm_start(scratch->vm) < 0)
        return -1;
    return vmm_vm_wait(scratch->vm) == 0 && !atomic_load(&scratch->vm->stopping)
               ? 0
               : -1;
}

static void row_kvm_set(struct bench_row *row, struct bench_kvm_stats *after,
                        const struct bench_kvm_stats *before, double operations)
{
    bench_kvm_stats_subtract(after, before);
    row->kvm = *after;
    row->has_kvm = 1;
    row->operations = operations;
}

int bench_vm_pingpong(struct bench_context *ctx, struct bench_row *row)
{
    unsigned long trips = ctx->sizes.pingpong_round_trips;
    struct bench_kvm_stats before, after;
    struct scratch_vm scratch;
    double ns;
    int ok;

    ok = scratch_create(&scratch, 2) == 0 &&
         scratch_vcpu_set(&scratch, 0, 1, bench_guest_ping, SCRATCH_LINE, trips,
                          SCRATCH_TSC0) == 0 &&
         scratch_vcpu_set(&scratch, 1, 1, bench_guest_pong, SCRATCH_LINE, trips,
                          0) == 0;
    if (ok) {
        scratch_stats_read(&scratch, &before);
        ok = scratch_run(&scratch) == 0;
        scratch_stats_read(&scratch, &after);
    }
    ns = ok ? scratch_tsc_ns(&scratch, trips) : -1;
    if (ns > 0) {
        bench_series_add(&row->hybrid, ns);
        row_kvm_set(row, &after, &before, (double)trips);
    } else {
        bench_row_error(row, "the two-vCPU scratch VM failed to run");
    }
    scratch_destroy(&scratch);
    return ns > 0 ? 0 : -1;
}

/* One run of null hypercalls in the given ring. Returns ns per call. */
static double hypercalls_run(struct scratch_vm *scratch, int user,
                             unsigned long calls, struct bench_row *row)
{
    struct bench_kvm_stats before, after;
    double ns = -1;

    memset(scratch->mem + SCRATCH_TSC0, 0, 16);
    if (scratch_vcpu_set(scratch, 0, user, bench_guest_hypercalls, calls, 0,
                         SCRATCH_TSC0) < 0)
        return -1;
    scratch_stats_read(scratch, &before);
    if (scratch_run(scratch) == 0)
        ns = scratch_tsc_ns(scratch, calls);
    scratch_stats_read(scratch, &after);
    if (ns > 0)
        row_kvm_set(row, &after, &before, (double)calls);
    return ns;
}

int bench_vm_hypercalls(struct bench_context *ctx, struct bench_row *ring0,
                        struct bench_row *ring3)
{
    struct scratch_vm scratch;
    double ns0 = -1, ns3 = -1;

    if (scratch_create(&scratch, 1) == 0) {
        ns0 = hypercalls_run(&scratch, 0, ctx->sizes.hypercalls_ring0, ring0);
        if (ns0 > 0)
            ns3 =
                hypercalls_run(&scratch, 1, ctx->sizes.hypercalls_ring3, ring3);
    }
    scratch_destroy(&scratch);
    if (ns0 > 0)
        bench_series_add(&ring0->hybrid, ns0);
    else
        bench_row_error(ring0, "the ring-0 hypercall VM failed to run");
    if (ns3 > 0)
        bench_series_add(&ring3->hybrid, ns3);
    else
        bench_row_error(ring3, "the ring-3 hypercall VM failed to run");
    return ns0 > 0 && ns3 > 0 ? 0 : -1;
}

struct host_pingpong {
    _Alignas(64) atomic_ulong line;
    unsigned long round_trips;
};

static void *host_pong(void *arg)
{
    struct host_pingpong *shared = arg;

    atomic_store(&shared->line, 1);
    for (unsigned long value = 2; value < 2 * shared->round_trips + 2;
         value += 2) {
        while (atomic_load_explicit(&shared->line, memory_order_acquire) !=
               value)
            __builtin_ia32_pause();
        atomic_store_explicit(&shared->line, value + 1, memory_order_release);
    }
    return NULL;
}

double bench_host_pingpong(unsigned long round_trips)
{
    static struct host_pingpong shared;
    pthread_t thread;
    uint64_t start, elapsed;

    atomic_store(&shared.line, 0);
    shared.round_trips = round_trips;
    if (pthread_create(&thread, NULL, host_pong, &shared) != 0)
        return -1;
    while (atomic_load(&shared.line) != 1)
        __builtin_ia32_pause();
    start = vmm_now_ns();
    for (unsigned long value = 2; value < 2 * round_trips + 2; value += 2) {
        atomic_store_explicit(&shared.line, value, memory_order_release);
        while (atomic_load_explicit(&shared.line, memory_order_acquire) !=
               value + 1)
            __builtin_ia32_pause();
    }
    elapsed = vmm_now_ns() - start;
    pthread_join(thread, NULL);
    return (double)elapsed / (double)round_trips;
}

double bench_host_getppid(unsigned long calls)
{
    uint64_t start = vmm_now_ns();

    for (unsigned long i = 0; i < calls; i++)
        syscall(SYS_getppid);
    return (double)(vmm_now_ns() - start) / (double)calls;
}
