/*
 * Platform detection: the KVM module in use and a timing probe that runs
 * the same loop in guest ring 0 and guest ring 3 of a scratch VM.
 */
#include "platform.h"

#include <cpuid.h>
#include <string.h>
#include <unistd.h>

#include "pagetable.h"
#include "vmm.h"

#define PROBE_MEM_SIZE (4ULL << 20)
#define PROBE_GDT 0x1000
#define PROBE_TSS 0x2000
#define PROBE_STACK 0x8000
#define PROBE_CODE 0x10000
#define PROBE_TABLES 0x100000
#define PROBE_ITERATIONS 20000
#define PROBE_TRIALS 3
/*
 * A dec/jnz iteration takes under 1 ns natively; with one exit (tens of
 * microseconds at most) spread over PROBE_ITERATIONS, native ring 0 stays
 * far below this. Interpreted ring 0 takes hundreds of ns. A preempted
 * native trial can only look slower, which picks the safe answer (user).
 */
#define PROBE_EMULATED_NS 20.0
/* Above this, even a 7 ms preemption of a native trial cannot explain it. */
#define PROBE_CERTAIN_NS 400.0

void vmm_platform_identify(struct vmm_platform *platform)
{
    unsigned eax, ebx, ecx, edx;

    memset(platform, 0, sizeof(*platform));
    platform->kind = "unknown";
    platform->module = "";
    platform->ring0_emulated = -1;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        platform->nested = (ecx >> 31) & 1;
    if (access("/sys/module/kvm_pvm", F_OK) == 0) {
        platform->kind = "PVM-nested";
        platform->module = "kvm_pvm";
    } else if (access("/sys/module/kvm_intel", F_OK) == 0) {
        platform->kind = "VMX";
        platform->module = "kvm_intel";
    } else if (access("/sys/module/kvm_amd", F_OK) == 0) {
        platform->kind = "SVM";
        platform->module = "kvm_amd";
    }
}

/* mov $n,%ecx; 1: dec %ecx; jnz 1b; mov $port,%dx; out %al,%dx; hlt */
static void write_probe_code(uint8_t *code, uint32_t iterations)
{
    uint16_t port = HVM_HC_PORT_BASE + HVM_HC_EXIT;
    uint8_t bytes[] = {0xb9, 0,    0,    0, 0, 0xff, 0xc9, 0x75,
                       0xfc, 0x66, 0xba, 0, 0, 0xee, 0xf4};

    memcpy(bytes + 1, &iterations, 4);
    memcpy(bytes + 11, &port, 2);
    memcpy(code, bytes, sizeof(bytes));
}

static enum vmm_action probe_io_exit(struct vmm_vcpu *vcpu, void *ctx)
{
    (void)ctx;
    if (vcpu->run->io.port != HVM_HC_PORT_BASE + HVM_HC_EXIT) {
        vmm_vcpu_dump(vcpu, "platform probe: unexpected port");
        vmm_vm_stop(vcpu->vm, 1);
    }
    return VMM_STOP;
}

static int probe_time_ring(struct vmm_vcpu *vcpu, uint8_t *mem, int user,
                           double *ns_per_iteration)
{
    struct vmm_long_mode state = {
        .cr3 = PROBE_TABLES,
        .gdt_base = PROBE_GDT,
        .gdt_limit = HVM_GDT_ENTRIES * 8 - 1,
        .tss_base = PROBE_TSS,
        .tss_limit = VMM_TSS_SIZE - 1,
        .user = user,
        .rip = PROBE_CODE,
        .rsp = PROBE_STACK,
    };
    uint64_t start, elapsed;

    (void)mem;
    if (vmm_x86_set_long_mode(vcpu, &state) < 0)
        return -1;
    start = vmm_now_ns();
    vmm_vcpu_run_loop(vcpu);
    elapsed = vmm_now_ns() - start;
    if (atomic_load(&vcpu->vm->stopping))
        return -1;
    *ns_per_iteration = (double)elapsed / PROBE_ITERATIONS;
    return 0;
}

/*
 * The fastest of up to PROBE_TRIALS runs, because preemption only ever
 * adds time. It stops early once the result is clear either way.
 */
static int probe_time_best(struct vmm_vcpu *vcpu, uint8_t *mem, int user,
                           double *ns_per_iteration)
{
    double best = 0;

    for (int trial = 0; trial < PROBE_TRIALS; trial++) {
        double measured;

        if (probe_time_ring(vcpu, mem, user, &measured) < 0)
            return -1;
        if (trial == 0 || measured < best)
            best = measured;
        if (best < PROBE_EMULATED_NS || best > PROBE_CERTAIN_NS)
            break;
    }
    *ns_per_iteration = best;
    return 0;
}

static int probe_prepare(struct vmm_vm *vm, uint8_t **mem)
{
    struct vmm_mem_region *region;
    struct vmm_pt_builder tables;
    uint64_t ist[3] = {PROBE_STACK, PROBE_STACK, PROBE_STACK};
    uint32_t tss_limit;

    region = vmm_memory_add(vm, "probe", 0, PROBE_MEM_SIZE);
    if (region == NULL)
        return -1;
    *mem = region->hva;
    tss_limit = vmm_x86_tss_build(*mem + PROBE_TSS, PROBE_STACK, ist);
    vmm_x86_gdt_build((uint64_t *)(*mem + PROBE_GDT), PROBE_TSS, tss_limit);
    write_probe_code(*mem + PROBE_CODE, PROBE_ITERATIONS);
    if (vmm_pt_init(&tables, *mem + PROBE_TABLES, PROBE_TABLES,
                    PROBE_MEM_SIZE - PROBE_TABLES) < 0 ||
        vmm_pt_map(&tables, 0, 0, 2ULL << 20, VMM_PTE_WRITE | VMM_PTE_USER) < 0)
        return -1;
    return tables.pml4_phys == PROBE_TABLES ? 0 : -1;
}

int vmm_platform_probe(struct vmm_platform *platform)
{
    struct vmm_vm_options options = {0};
    struct vmm_vm *vm;
    struct vmm_vcpu *vcpu;
    uint8_t *mem;
    int result = -1;

    vmm_platform_identify(platform);
    vm = vmm_vm_create(&options);
    if (vm == NULL)
        return -1;
    vm->exit_handlers[KVM_EXIT_IO] = probe_io_exit;
    vcpu = vmm_vcpu_create(vm, 0);
    if (vcpu != NULL && probe_prepare(vm, &mem) == 0 &&
        probe_time_best(vcpu, mem, 0, &platform->ring0_ns_per_iteration) ==
            0 &&
        probe_time_best(vcpu, mem, 1, &platform->ring3_ns_per_iteration) ==
            0) {
        platform->ring0_emulated =
            platform->ring0_ns_per_iteration > PROBE_EMULATED_NS;
        result = 0;
    }
    vmm_vm_destroy(vm);
    return result;
}
