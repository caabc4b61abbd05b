/*
 * HRT boot and reboot: lays out HRT memory, loads the kernel ELF, builds
 * the boot page tables, GDTs, TSSs and struct hvm_boot_info host-side,
 * and runs the HRT vCPUs on threads that can be parked and restarted.
 *
 * HRT memory layout, as offsets from its first byte (hrt_gpa):
 *   0          struct hvm_boot_info
 *   8 KiB      page-table pool, up to 2 MiB
 *   2 MiB      kernel image (p_paddr is an offset from hrt_gpa)
 *   next 2 MiB per-CPU blocks: GDT, TSS, per-CPU page, kernel stack and
 *              three IST stacks for each HRT CPU
 *   next 2 MiB the ring-3 region (optional), identity-mapped with U=1
 *   next 2 MiB heap, to the end of HRT memory
 * Before each (re)boot the VMM zeroes what the kernel reads before it
 * writes: the boot info, the image range, the per-CPU blocks and the
 * start of the ring-3 region. Page-table pages come zeroed from the
 * builder. Stacks and the heap keep old bytes, because zeroing them on
 * the host costs a first-touch fault per page.
 */
#include "hrt_boot.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "elf.h"
#include "pagetable.h"

#define MIB (1ULL << 20)
#define HUGE_ALIGN (2ULL * MIB)
#define BOOT_INFO_SPACE (8ULL << 10)
/* The kernel window runs from HVM_KERNEL_VIRT_BASE to the top: 2 GiB. */
#define KERNEL_WINDOW_MAX (2ULL << 30)
#define HEAP_MIN (1ULL * MIB)

/* Offsets inside one per-CPU block. */
#define CPU_GDT 0ULL
#define CPU_TSS 4096ULL
#define CPU_PERCPU (CPU_TSS + 3 * 4096ULL)
#define CPU_STACK (CPU_PERCPU + HRT_PERCPU_SIZE)
#define CPU_IST (CPU_STACK + HRT_KERNEL_STACK_SIZE)
#define CPU_BLOCK_SIZE (CPU_IST + 3 * HRT_IST_STACK_SIZE)

_Static_assert(sizeof(struct hvm_boot_info) <= BOOT_INFO_SPACE,
               "boot info does not fit its space");
_Static_assert(VMM_TSS_SIZE <= CPU_PERCPU - CPU_TSS, "TSS does not fit");

/* xAPIC register page offsets used to reset a vCPU's local APIC. */
#define LAPIC_ISR 0x100
#define LAPIC_IRR 0x200
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_LVT_MASKED 0x10000u

/* The signal vmm_vcpu_kick() sends (VMM_KICK_SIGNAL in vmm/vcpu.c). */
#define HRT_KICK_SIGNAL (SIGRTMAX - 2)

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
    return -1;
}

static uint64_t kernel_virt(uint64_t offset)
{
    return HVM_KERNEL_VIRT_BASE + offset;
}

static int config_check(const struct hrt_boot_config *config, char *err,
                        size_t errlen)
{
    if (config->vm == NULL || config->hrt_hva == NULL)
        return fail(err, errlen, "HRT boot: no VM or HRT memory given");
    if (config->nr_cpus == 0 || config->nr_cpus > HVM_MAX_HRT_CPUS)
        return fail(err, errlen, "HRT CPU count %u is outside 1..%u",
                    config->nr_cpus, HVM_MAX_HRT_CPUS);
    if ((config->hrt_gpa | config->hrt_size) & (HUGE_ALIGN - 1))
        return fail(err, errlen,
                    "HRT memory at 0x%llx, %llu bytes, is not 2 MiB aligned",
                    (unsigned long long)config->hrt_gpa,
                    (unsigned long long)config->hrt_size);
    for (unsigned i = 0; i < config->nr_cpus; i++) {
        unsigned index = config->vcpu_index[i];

        if (index >= VMM_MAX_VCPUS || config->vm->vcpus[index] == NULL)
            return fail(err, errlen, "HRT CPU %u: vCPU %u does not exist", i,
                        index);
    }
    return 0;
}

/* Places the per-CPU blocks, the ring-3 region and the heap. */
static int layout_compute(struct hrt_boot *boot, char *err, size_t errlen)
{
    const struct hrt_boot_config *config = &boot->config;
    uint64_t image_end = boot->elf.phys_end - config->hrt_gpa;
    uint64_t need;

    boot->pt_offset = BOOT_INFO_SPACE;
    boot->pt_size = HRT_IMAGE_OFFSET - BOOT_INFO_SPACE;
    if (boot->elf.phys_start - config->hrt_gpa < HRT_IMAGE_OFFSET)
        return fail(
            err, errlen,
            "HRT image starts at offset 0x%llx, below the 2 MiB "
            "reserved for boot data",
            (unsigned long long)(boot->elf.phys_start - config->hrt_gpa));
    boot->percpu_offset = align_up(image_end, HUGE_ALIGN);
    boot->percpu_stride = CPU_BLOCK_SIZE;
    boot->user_offset = align_up(
        boot->percpu_offset + config->nr_cpus * CPU_BLOCK_SIZE, HUGE_ALIGN);
    boot->user_size = config->user_region ? HRT_USER_REGION_SIZE : 0;
    boot->heap_offset = boot->user_offset + boot->user_size;
    if (config->vmm_reserve & (HUGE_ALIGN - 1))
        return fail(err, errlen, "HRT VMM reserve of %llu bytes is not 2 MiB "
                    "aligned", (unsigned long long)config->vmm_reserve);
    need = boot->heap_offset + HEAP_MIN + config->vmm_reserve;
    if (need > config->hrt_size)
        return fail(err, errlen,
                    "HRT memory of %llu MiB is too small for this image and "
                    "%u CPUs: give at least %llu MiB",
                    (unsigned long long)(config->hrt_size / MIB),
                    config->nr_cpus,
                    (unsigned long long)(align_up(need, HUGE_ALIGN) / MIB));
    if (boot->user_offset >= KERNEL_WINDOW_MAX)
        return fail(err, errlen,
                    "HRT per-CPU data does not fit the 2 GiB "
                    "kernel window");
    return 0;
}

static struct vmm_elf_target elf_target(const struct hrt_boot *boot)
{
    struct vmm_elf_target target = {
        .mem = boot->config.hrt_hva,
        .phys_base = boot->config.hrt_gpa,
        .phys_size = boot->config.hrt_size,
        .paddr_is_offset = 1,
    };
    return target;
}

/*
 * Returns the guest's TSC rate in kHz. KVM_GET_TSC_KHZ returns at once
 * the rate the guest sees. The host calibration (vmm_tsc_khz, which
 * spins for 20 ms on first use) is the fallback.
 */
static uint64_t guest_tsc_khz(struct vmm_vcpu *vcpu)
{
    int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

    return khz > 0 ? (uint64_t)khz : vmm_tsc_khz();
}

static void cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

int hrt_boot_init(struct hrt_boot *boot, const struct hrt_boot_config *config,
                  char *err, size_t errlen)
{
    struct vmm_elf_target target;
    char elf_error[256];

    memset(boot, 0, sizeof(*boot));
    boot->config = *config;
    if (config_check(config, err, errlen) < 0)
        return -1;
    target = elf_target(boot);
    if (vmm_elf_check(config->image, config->image_size, &target, &boot->elf,
                      elf_error, sizeof(elf_error)) < 0)
        return fail(err, errlen, "invalid HRT image: %s", elf_error);
    if (boot->elf.entry < HVM_KERNEL_VIRT_BASE)
        return fail(err, errlen,
                    "invalid HRT image: entry 0x%llx is outside the kernel "
                    "window at 0x%llx",
                    (unsigned long long)boot->elf.entry,
                    (unsigned long long)HVM_KERNEL_VIRT_BASE);
    if (layout_compute(boot, err, errlen) < 0)
        return -1;
    boot->image = malloc(config->image_size);
    if (boot->image == NULL)
        return fail(err, errlen, "HRT boot: out of memory for the image");
    memcpy(boot->image, config->image, config->image_size);
    boot->config.image = boot->image;
    for (unsigned i = 0; i < config->nr_cpus; i++) {
        boot->cpus[i].boot = boot;
        boot->cpus[i].cpu = i;
        boot->cpus[i].vcpu = config->vm->vcpus[config->vcpu_index[i]];
    }
    boot->tsc_khz = guest_tsc_khz(boot->cpus[0].vcpu);
    pthread_mutex_init(&boot->lock, NULL);
    cond_init_monotonic(&boot->cond);
    return 0;
}

void hrt_boot_destroy(struct hrt_boot *boot)
{
    free(boot->image);
    boot->image = NULL;
    pthread_cond_destroy(&boot->cond);
    pthread_mutex_destroy(&boot->lock);
}

/*
 * Maps the kernel window (HRT memory from HVM_KERNEL_VIRT_BASE), the
 * direct map of every guest memory region and of the LAPIC page, and the
 * ring-3 region. Returns 0 or -1.
 */
static int page_tables_build(struct hrt_boot *boot, uint64_t *dmap_size)
{
    const struct hrt_boot_config *config = &boot->config;
    struct vmm_vm *vm = config->vm;
    struct vmm_pt_builder pt;
    uint64_t window = config->hrt_size, end = 0;

    if (window > KERNEL_WINDOW_MAX)
        window = KERNEL_WINDOW_MAX;
    if (vmm_pt_init(&pt, config->hrt_hva + boot->pt_offset,
                    config->hrt_gpa + boot->pt_offset, boot->pt_size) < 0 ||
        vmm_pt_map(&pt, HVM_KERNEL_VIRT_BASE, config->hrt_gpa, window,
                   VMM_PTE_WRITE) < 0)
        return -1;
    for (unsigned i = 0; i < vm->nr_regions; i++) {
        const struct vmm_mem_region *region = &vm->regions[i];

        if (vmm_pt_map(&pt, HVM_DIRECT_MAP_VIRT + region->gpa, region->gpa,
                       region->size, VMM_PTE_WRITE | VMM_PTE_NX) < 0)
            return -1;
        if (region->gpa + region->size > end)
            end = region->gpa + region->size;
    }
    if (vmm_pt_map(&pt, HVM_DIRECT_MAP_VIRT + HRT_LAPIC_PHYS, HRT_LAPIC_PHYS,
                   VMM_PAGE_SIZE, VMM_PTE_WRITE | VMM_PTE_NX) < 0)
        return -1;
    if (boot->user_size != 0) {
        uint64_t user = config->hrt_gpa + boot->user_offset;

        if (vmm_pt_map(&pt, user, user, boot->user_size,
                       VMM_PTE_WRITE | VMM_PTE_USER) < 0)
            return -1;
    }
    boot->pml4_gpa = pt.pml4_phys;
    *dmap_size = end;
    return 0;
}

/* Builds CPU i's GDT, TSS, stacks, boot-info entry and register state. */
static void cpu_prepare(struct hrt_boot *boot, struct hvm_boot_info *info,
                        unsigned i)
{
    uint8_t *mem = boot->config.hrt_hva;
    uint64_t block = boot->percpu_offset + i * boot->percpu_stride;
    struct hvm_boot_cpu *cpu = &info->cpus[i];
    struct vmm_long_mode *state = &boot->cpus[i].state;
    uint32_t tss_limit;

    cpu->apic_id = boot->cpus[i].vcpu->index; /* KVM's default APIC ID */
    cpu->stack_top = kernel_virt(block + CPU_IST);
    for (unsigned n = 0; n < 3; n++)
        cpu->ist_top[n] =
            kernel_virt(block + CPU_IST + (n + 1) * HRT_IST_STACK_SIZE);
    cpu->tss = kernel_virt(block + CPU_TSS);
    cpu->gdt = kernel_virt(block + CPU_GDT);
    cpu->percpu = kernel_virt(block + CPU_PERCPU);
    /* RSP0 is unused while every gate has an IST; point it at the stack. */
    tss_limit =
        vmm_x86_tss_build(mem + block + CPU_TSS, cpu->stack_top, cpu->ist_top);
    vmm_x86_gdt_build((uint64_t *)(mem + block + CPU_GDT), cpu->tss, tss_limit);

    memset(state, 0, sizeof(*state));
    state->cr3 = boot->pml4_gpa;
    state->gdt_base = cpu->gdt;
    state->gdt_limit = HVM_GDT_ENTRIES * 8 - 1;
    state->tss_base = cpu->tss;
    state->tss_limit = tss_limit;
    state->gs_base = cpu->percpu;
    state->kernel_gs_base = cpu->percpu;
    state->rip = boot->elf.entry;
    state->rsp = cpu->stack_top;
    state->rflags = 0x2; /* IF = 0 until the kernel has an IDT */
    state->rdi = kernel_virt(0);
    state->rsi = i;
}

static void boot_info_fill(struct hrt_boot *boot, struct hvm_boot_info *info,
                           uint64_t dmap_size)
{
    const struct hrt_boot_config *config = &boot->config;

    info->magic = HVM_BOOT_MAGIC;
    info->version = HVM_BOOT_VERSION;
    info->flags = config->flags;
    info->ncpus = config->nr_cpus;
    info->boot_count = boot->boot_count;
    info->hrt_phys_base = config->hrt_gpa;
    info->hrt_mem_size = config->hrt_size;
    info->dmap_virt = HVM_DIRECT_MAP_VIRT;
    info->dmap_phys = 0;
    info->dmap_size = dmap_size;
    info->heap_phys = config->hrt_gpa + boot->heap_offset;
    info->heap_size =
        config->hrt_size - boot->heap_offset - config->vmm_reserve;
    info->user_virt = config->hrt_gpa + boot->user_offset;
    info->user_phys = info->user_virt;
    info->user_size = boot->user_size;
    info->tsc_khz = boot->tsc_khz;
    info->lapic_phys = HRT_LAPIC_PHYS;
    info->pml4_phys = boot->pml4_gpa;
    info->selftest_mask = config->selftest_mask;
}

/* Zeroes the ranges listed at the top of this file. */
static void memory_clear(struct hrt_boot *boot)
{
    uint8_t *mem = boot->config.hrt_hva;
    uint64_t image_end = boot->elf.phys_end - boot->config.hrt_gpa;

    memset(mem, 0, BOOT_INFO_SPACE);
    memset(mem + HRT_IMAGE_OFFSET, 0,
           align_up(image_end, VMM_PAGE_SIZE) - HRT_IMAGE_OFFSET);
    for (unsigned i = 0; i < boot->config.nr_cpus; i++)
        memset(mem + boot->percpu_offset + i * boot->percpu_stride, 0,
               CPU_STACK);
    if (boot->user_size != 0)
        memset(mem + boot->user_offset, 0, HRT_USER_CODE_SIZE);
}

int hrt_boot_load(struct hrt_boot *boot)
{
    const struct hrt_boot_config *config = &boot->config;
    struct vmm_elf_target target = elf_target(boot);
    struct hvm_boot_info *info = (void *)config->hrt_hva;
    uint64_t dmap_size;
    char elf_error[256];

    memory_clear(boot);
    if (vmm_elf_load(boot->image, config->image_size, &target, &boot->elf,
                     elf_error, sizeof(elf_error)) < 0) {
        vmm_error("HRT boot %u: loading the image failed: %s", boot->boot_count,
                  elf_error);
        return -1;
    }
    if (page_tables_build(boot, &dmap_size) < 0) {
        vmm_error("HRT boot %u: building the page tables failed (pool of "
                  "%llu KiB)",
                  boot->boot_count, (unsigned long long)(boot->pt_size >> 10));
        return -1;
    }
    boot_info_fill(boot, info, dmap_size);
    for (unsigned i = 0; i < config->nr_cpus; i++)
        cpu_prepare(boot, info, i);
    return 0;
}

/*
 * Clears what a previous boot left in a vCPU: pending events, in-service
 * and requested interrupts, and a running LAPIC timer.
 */
static void vcpu_reset(struct vmm_vcpu *vcpu)
{
    struct kvm_vcpu_events events;
    struct kvm_lapic_state lapic;
    uint32_t lvt;

    memset(&events, 0, sizeof(events));
    if (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &events) < 0)
        vmm_warn("vCPU %u: KVM_SET_VCPU_EVENTS failed: %s", vcpu->index,
                 strerror(errno));
    if (!vcpu->vm->options.irqchip)
        return;
    if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0) {
        vmm_warn("vCPU %u: KVM_GET_LAPIC failed: %s", vcpu->index,
                 strerror(errno));
        return;
    }
    /* ISR, TMR and IRR: 3 x 8 registers, 16 bytes apart, from 0x100. */
    memset(lapic.regs + LAPIC_ISR, 0, LAPIC_IRR + 0x80 - LAPIC_ISR);
    memcpy(&lvt, lapic.regs + LAPIC_LVT_TIMER, sizeof(lvt));
    lvt |= LAPIC_LVT_MASKED;
    memcpy(lapic.regs + LAPIC_LVT_TIMER, &lvt, sizeof(lvt));
    memset(lapic.regs + LAPIC_TIMER_INITIAL, 0, 4);
    if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
        vmm_warn("vCPU %u: KVM_SET_LAPIC failed: %s", vcpu->index,
                 strerror(errno));
}

int hrt_boot_cpu_of(const struct hrt_boot *boot, const struct vmm_vcpu *vcpu)
{
    for (unsigned i = 0; i < boot->config.nr_cpus; i++)
        if (boot->cpus[i].vcpu == vcpu)
            return (int)i;
    return -1;
}

uint64_t hrt_boot_tsc_to_us(const struct hrt_boot *boot, uint64_t ticks)
{
    return boot->tsc_khz ? ticks * 1000 / boot->tsc_khz : 0;
}

/* Waits on boot->cond (lock held) for at most ms milliseconds. */
static void cond_wait_ms(struct hrt_boot *boot, unsigned ms)
{
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += (long)ms * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&boot->cond, &boot->lock, &deadline);
}

/*
 * Asks every HRT vCPU that is not parked to leave its run loop. Repeated
 * while a reboot is pending, because vmm_vcpu_run_loop() clears
 * leave_loop when it starts and a request can land just before that.
 */
static void kick_unparked(struct hrt_boot *boot)
{
    for (unsigned i = 0; i < boot->config.nr_cpus; i++) {
        struct hrt_boot_cpu *cpu = &boot->cpus[i];

        if (cpu->parked)
            continue;
        cpu->vcpu->leave_loop = 1;
        vmm_vcpu_kick(cpu->vcpu);
    }
}

/* Reloads the HRT while every HRT vCPU is parked. Lock held. */
static void reboot_perform(struct hrt_boot *boot)
{
    struct vmm_vm *vm = boot->config.vm;

    boot->boot_count++;
    boot->complete = 0;
    boot->reboot_requested = 0;
    for (unsigned i = 0; i < boot->config.nr_cpus; i++)
        vcpu_reset(boot->cpus[i].vcpu);
    if (hrt_boot_load(boot) < 0) {
        boot->load_failed = 1;
        vmm_vm_stop(vm, 1);
        pthread_cond_broadcast(&boot->cond);
        return;
    }
    vmm_debug("HRT reboot %u: image reloaded", boot->boot_count);
    boot->times.release_ns = vmm_now_ns();
    boot->generation++;
    pthread_cond_broadcast(&boot->cond);
}

/*
 * Waits, parked, until a new generation may run. The last CPU to park
 * during a reboot performs it. Returns 0 to run, -1 when the VM stops.
 */
static int cpu_wait_generation(struct hrt_boot_cpu *cpu, uint64_t ran)
{
    struct hrt_boot *boot = cpu->boot;
    struct vmm_vm *vm = boot->config.vm;

    while (boot->generation == ran) {
        if (atomic_load(&vm->stopping) || boot->load_failed)
            return -1;
        if (boot->reboot_requested && boot->parked == boot->config.nr_cpus)
            reboot_perform(boot);
        else if (boot->reboot_requested)
            kick_unparked(boot);
        else
            cond_wait_ms(boot, 10);
        if (boot->reboot_requested)
            cond_wait_ms(boot, 2);
    }
    return atomic_load(&vm->stopping) ? -1 : 0;
}

/*
 * Discards kick signals left pending from the previous run. vCPU threads
 * block the kick outside KVM_RUN, so a kick that ended a run stays
 * pending and would end every later KVM_RUN at once with EINTR.
 */
static void kick_signal_drain(void)
{
    struct timespec zero = {0, 0};
    sigset_t kick;

    sigemptyset(&kick);
    sigaddset(&kick, HRT_KICK_SIGNAL);
    while (sigtimedwait(&kick, NULL, &zero) > 0)
        ;
}

/*
 * Lends the CPU through config.lend after its run loop ended. Returns 1
 * when the CPU should re-enter its run loop, 0 when it should park.
 */
static int cpu_lend(struct hrt_boot_cpu *cpu)
{
    struct hrt_boot *boot = cpu->boot;
    int reboot;

    if (boot->config.lend == NULL ||
        atomic_load(&boot->config.vm->stopping))
        return 0;
    pthread_mutex_lock(&boot->lock);
    reboot = boot->reboot_requested;
    pthread_mutex_unlock(&boot->lock);
    if (reboot)
        return 0;
    boot->config.lend(cpu, boot->config.lend_ctx);
    return !atomic_load(&boot->config.vm->stopping);
}

static void *cpu_thread(void *arg)
{
    struct hrt_boot_cpu *cpu = arg;
    struct hrt_boot *boot = cpu->boot;
    struct vmm_vm *vm = boot->config.vm;
    uint64_t ran = 0;

    pthread_mutex_lock(&boot->lock);
    while (cpu_wait_generation(cpu, ran) == 0) {
        ran = boot->generation;
        if (cpu->parked) {
            cpu->parked = 0;
            boot->parked--;
        }
        pthread_mutex_unlock(&boot->lock);
        if (vmm_x86_set_long_mode(cpu->vcpu, &cpu->state) < 0) {
            vmm_error("HRT CPU %u: setting the boot state failed", cpu->cpu);
            vmm_vm_stop(vm, 1);
        } else {
            kick_signal_drain();
            do
                vmm_vcpu_run_loop(cpu->vcpu);
            while (cpu_lend(cpu));
        }
        pthread_mutex_lock(&boot->lock);
        cpu->parked = 1;
        boot->parked++;
        pthread_cond_broadcast(&boot->cond);
    }
    pthread_mutex_unlock(&boot->lock);

    /* The same accounting as the core's vCPU threads, for vmm_vm_wait(). */
    pthread_mutex_lock(&vm->lock);
    vm->running_threads--;
    pthread_cond_broadcast(&vm->stopped_cond);
    pthread_mutex_unlock(&vm->lock);
    return NULL;
}

static int64_t boot_complete_hypercall(struct vmm_vcpu *vcpu,
                                       const struct vmm_hypercall *call,
                                       void *ctx)
{
    struct hrt_boot *boot = ctx;
    uint64_t entry_tsc = call->args[0], now_tsc = call->args[1];

    if (hrt_boot_cpu_of(boot, vcpu) < 0)
        return HVM_ERR_STATE;
    if (entry_tsc > now_tsc)
        return HVM_ERR_INVAL;
    pthread_mutex_lock(&boot->lock);
    if (boot->complete) {
        pthread_mutex_unlock(&boot->lock);
        return HVM_ERR_STATE;
    }
    boot->complete = 1;
    boot->times.complete_ns = vmm_now_ns();
    boot->times.entry_tsc = entry_tsc;
    boot->times.complete_tsc = now_tsc;
    pthread_cond_broadcast(&boot->cond);
    pthread_mutex_unlock(&boot->lock);
    vmm_info("HRT boot %u complete (vCPU %u)", boot->boot_count, vcpu->index);
    return HVM_OK;
}

static int64_t reboot_hypercall(struct vmm_vcpu *vcpu,
                                const struct vmm_hypercall *call, void *ctx)
{
    struct hrt_boot *boot = ctx;

    (void)call;
    if (hrt_boot_cpu_of(boot, vcpu) < 0)
        return HVM_ERR_STATE;
    hrt_boot_reboot_request(boot);
    return HVM_OK;
}

void hrt_boot_reboot_request(struct hrt_boot *boot)
{
    pthread_mutex_lock(&boot->lock);
    if (!boot->reboot_requested) {
        boot->reboot_requested = 1;
        memset(&boot->times, 0, sizeof(boot->times));
        boot->times.request_ns = vmm_now_ns();
    }
    kick_unparked(boot);
    pthread_cond_broadcast(&boot->cond);
    pthread_mutex_unlock(&boot->lock);
}

int hrt_boot_start(struct hrt_boot *boot)
{
    struct vmm_vm *vm = boot->config.vm;

    vmm_hypercall_register(vm, HVM_HC_BOOT_COMPLETE, boot_complete_hypercall,
                           boot);
    vmm_hypercall_register(vm, HVM_HC_REBOOT, reboot_hypercall, boot);
    pthread_mutex_lock(&boot->lock);
    boot->times.request_ns = boot->config.vmm_start_ns;
    if (hrt_boot_load(boot) < 0) {
        pthread_mutex_unlock(&boot->lock);
        return -1;
    }
    boot->times.release_ns = vmm_now_ns();
    boot->generation = 1;
    pthread_mutex_unlock(&boot->lock);
    for (unsigned i = 0; i < boot->config.nr_cpus; i++) {
        struct hrt_boot_cpu *cpu = &boot->cpus[i];

        pthread_mutex_lock(&vm->lock);
        vm->running_threads++;
        pthread_mutex_unlock(&vm->lock);
        if (pthread_create(&cpu->vcpu->thread, NULL, cpu_thread, cpu) != 0) {
            vmm_error("HRT CPU %u: creating its thread failed", i);
            pthread_mutex_lock(&vm->lock);
            vm->running_threads--;
            pthread_mutex_unlock(&vm->lock);
            vmm_vm_stop(vm, 1);
            return -1;
        }
        cpu->vcpu->thread_started = 1;
    }
    return 0;
}

int hrt_boot_wait_complete(struct hrt_boot *boot, uint32_t boot_count,
                           uint64_t deadline_ns, struct hrt_boot_times *times)
{
    struct vmm_vm *vm = boot->config.vm;
    int result = -1;

    pthread_mutex_lock(&boot->lock);
    for (;;) {
        if (boot->boot_count == boot_count && boot->complete) {
            result = 0;
            break;
        }
        if (atomic_load(&vm->stopping) || boot->load_failed ||
            vmm_now_ns() >= deadline_ns)
            break;
        if (boot->reboot_requested)
            kick_unparked(boot);
        cond_wait_ms(boot, 20);
    }
    if (times != NULL)
        *times = boot->times;
    pthread_mutex_unlock(&boot->lock);
    return result;
}

void hrt_boot_dump(struct hrt_boot *boot, const char *reason)
{
    uint64_t deadline = vmm_now_ns() + 1000000000ULL;

    pthread_mutex_lock(&boot->lock);
    while (boot->parked < boot->config.nr_cpus && vmm_now_ns() < deadline) {
        kick_unparked(boot);
        cond_wait_ms(boot, 5);
    }
    for (unsigned i = 0; i < boot->config.nr_cpus; i++) {
        if (boot->cpus[i].parked)
            vmm_vcpu_dump(boot->cpus[i].vcpu, reason);
        else
            vmm_error("HRT CPU %u: vCPU %u did not leave KVM_RUN", i,
                      boot->cpus[i].vcpu->index);
    }
    pthread_mutex_unlock(&boot->lock);
}
