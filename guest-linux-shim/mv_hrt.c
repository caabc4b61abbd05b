/*
 * The HRT of a host-ROS process: its private memory above every host user
 * address, its page tables, the HRT kernel image booted on the first vCPU,
 * and the state each later vCPU starts application code with.
 */
#include "mv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "elf.h"

#define LAPIC_DEFAULT 0xfee00000ULL
#define BOOT_TIMEOUT_S 30

/* Offsets inside one vCPU's area of MV_HRT_CPU_SIZE bytes. */
#define CPU_GDT 0x0000
#define CPU_TSS 0x1000
#define CPU_PERCPU 0x4000
#define CPU_IST1_TOP 0x8000
#define CPU_IST2_TOP 0xa000
#define CPU_IST3_TOP 0xc000
#define CPU_STACK_TOP 0x10000

static uint64_t hrt_virt(uint64_t offset)
{
    return HVM_DIRECT_MAP_VIRT + offset;
}

static uint64_t cpu_area(unsigned index)
{
    return MV_HRT_CPUS + (uint64_t)index * MV_HRT_CPU_SIZE;
}

/* Builds the GDT and TSS of vCPU index in its area. */
static void cpu_area_build(unsigned index, struct hvm_boot_cpu *cpu)
{
    uint64_t area = cpu_area(index);
    uint64_t ist[3] = {hrt_virt(area + CPU_IST1_TOP),
                       hrt_virt(area + CPU_IST2_TOP),
                       hrt_virt(area + CPU_IST3_TOP)};
    uint32_t tss_limit;

    memset(mv.hrt_mem + area, 0, MV_HRT_CPU_SIZE);
    tss_limit = vmm_x86_tss_build(mv.hrt_mem + area + CPU_TSS,
                                  hrt_virt(area + CPU_STACK_TOP), ist);
    vmm_x86_gdt_build((uint64_t *)(mv.hrt_mem + area + CPU_GDT),
                      hrt_virt(area + CPU_TSS), tss_limit);
    cpu->apic_id = index;
    cpu->stack_top = hrt_virt(area + CPU_STACK_TOP);
    memcpy(cpu->ist_top, ist, sizeof(ist));
    cpu->tss = hrt_virt(area + CPU_TSS);
    cpu->gdt = hrt_virt(area + CPU_GDT);
    cpu->percpu = hrt_virt(area + CPU_PERCPU);
}

static void *hrt_hva_hook(struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
    (void)vm;
    /* Lower-half guest physical addresses are host addresses. */
    if (gpa + len < gpa || gpa + len > (1ULL << 47) ||
        mv_memory_fault(gpa, 0, 0) < 0)
        return NULL;
    return (void *)(uintptr_t)gpa;
}

static int hrt_memory_create(void)
{
    uint64_t span = MV_HRT_SIZE + VMM_HUGE_ALIGN;
    uint8_t *reserve, *aligned;
    struct vmm_mem_region *region;

    reserve = mmap(NULL, span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserve == MAP_FAILED) {
        vmm_error_errno("mmap HRT memory");
        return -1;
    }
    aligned = (uint8_t *)(((uintptr_t)reserve + VMM_HUGE_ALIGN - 1) &
                          ~(uintptr_t)(VMM_HUGE_ALIGN - 1));
    madvise(aligned, MV_HRT_SIZE, MADV_HUGEPAGE);
    mv_memory_private(reserve, span);
    mv.hrt_mem = aligned;
    if (vmm_memslot_set(mv.vm, 0, 0, MV_HRT_GPA, MV_HRT_SIZE, aligned) < 0)
        return -1;
    region = &mv.vm->regions[mv.vm->nr_regions++];
    *region = (struct vmm_mem_region){.gpa = MV_HRT_GPA,
                                      .size = MV_HRT_SIZE,
                                      .hva = aligned,
                                      .slot = 0,
                                      .memfd = -1,
                                      .name = "hrt"};
    mv.vm->next_slot = 1;
    mv.vm->gpa_to_hva_hook = hrt_hva_hook;
    return 0;
}

static int hrt_tables_build(void)
{
    if (vmm_pt_init(&mv.tables, mv.hrt_mem + MV_HRT_TABLES,
                    MV_HRT_GPA + MV_HRT_TABLES, MV_HRT_TABLES_SIZE) < 0)
        return -1;
    if (vmm_pt_map(&mv.tables, HVM_DIRECT_MAP_VIRT, MV_HRT_GPA, MV_HRT_SIZE,
                   VMM_PTE_WRITE | VMM_PTE_GLOBAL) < 0 ||
        vmm_pt_map(&mv.tables, HVM_KERNEL_VIRT_BASE, MV_HRT_GPA, MV_HRT_SIZE,
                   VMM_PTE_WRITE | VMM_PTE_GLOBAL) < 0) {
        vmm_error("cannot build the HRT page tables");
        return -1;
    }
    return 0;
}

static int hrt_image_load(struct vmm_elf_info *info)
{
    struct vmm_elf_target target = {
        .mem = mv.hrt_mem,
        .phys_base = MV_HRT_GPA,
        .phys_size = MV_HRT_TABLES,
        .paddr_is_offset = 1,
    };
    char err[256];
    size_t size;
    void *image = vmm_file_read(mv.options.hrt_image, &size, err, sizeof(err));
    int result;

    if (image == NULL) {
        vmm_error("HRT image: %s", err);
        return -1;
    }
    result = vmm_elf_load(image, size, &target, info, err, sizeof(err));
    free(image);
    if (result < 0)
        vmm_error("HRT image %s: %s", mv.options.hrt_image, err);
    return result;
}

static void boot_info_build(const struct vmm_elf_info *info)
{
    struct hvm_boot_info *boot =
        (struct hvm_boot_info *)(mv.hrt_mem + MV_HRT_BOOT_INFO);
    uint64_t heap = (info->phys_end - MV_HRT_GPA + 4095) & ~4095ULL;

    memset(boot, 0, sizeof(*boot));
    boot->magic = HVM_BOOT_MAGIC;
    boot->version = HVM_BOOT_VERSION;
    boot->flags = HVM_BOOT_HOST_ROS;
    boot->ncpus = 1;
    boot->hrt_phys_base = MV_HRT_GPA;
    boot->hrt_mem_size = MV_HRT_SIZE;
    boot->dmap_virt = HVM_DIRECT_MAP_VIRT;
    boot->dmap_phys = MV_HRT_GPA;
    boot->dmap_size = MV_HRT_SIZE;
    boot->heap_phys = MV_HRT_GPA + heap;
    boot->heap_size = heap < MV_HRT_TABLES ? MV_HRT_TABLES - heap : 0;
    boot->tsc_khz = vmm_tsc_khz();
    boot->lapic_phys = LAPIC_DEFAULT;
    boot->pml4_phys = mv.tables.pml4_phys;
    cpu_area_build(0, &boot->cpus[0]);
}

static int64_t on_boot_complete(struct vmm_vcpu *vcpu,
                                const struct vmm_hypercall *call, void *ctx)
{
    (void)call;
    (void)ctx;
    mv.boot_ns = vmm_now_ns() - mv.start_ns;
    vcpu->leave_loop = 1;
    return HVM_OK;
}

static void *boot_thread(void *arg)
{
    vmm_vcpu_run_loop(arg);
    return NULL;
}

/* Runs the HRT kernel on vCPU 0 until it reports boot-complete. */
static int hrt_boot_run(struct vmm_vcpu *vcpu, uint64_t entry)
{
    struct hvm_boot_info *boot =
        (struct hvm_boot_info *)(mv.hrt_mem + MV_HRT_BOOT_INFO);
    struct vmm_long_mode state = {
        .cr3 = mv.tables.pml4_phys,
        .gdt_base = boot->cpus[0].gdt,
        .gdt_limit = HVM_GDT_ENTRIES * 8 - 1,
        .tss_base = boot->cpus[0].tss,
        .tss_limit = VMM_TSS_SIZE - 1,
        .gs_base = boot->cpus[0].percpu,
        .kernel_gs_base = boot->cpus[0].percpu,
        .rip = entry,
        .rsp = boot->cpus[0].stack_top,
        .rdi = hrt_virt(MV_HRT_BOOT_INFO),
        .rsi = 0,
    };
    struct kvm_sregs sregs;
    struct timespec deadline;
    pthread_t thread;

    if (vmm_x86_set_long_mode(vcpu, &state) < 0)
        return -1;
    if (pthread_create(&thread, NULL, boot_thread, vcpu) != 0)
        return -1;
    vcpu->thread = thread;
    vcpu->thread_started = 1;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += BOOT_TIMEOUT_S;
    if (pthread_timedjoin_np(thread, NULL, &deadline) != 0) {
        vmm_error("the HRT did not report boot-complete within %d s",
                  BOOT_TIMEOUT_S);
        return -1;
    }
    vcpu->thread_started = 0;
    if (atomic_load(&mv.vm->stopping) || mv.boot_ns == 0)
        return -1;
    if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
        vmm_error_errno("KVM_GET_SREGS");
        return -1;
    }
    mv.idt_base = sregs.idt.base;
    mv.idt_limit = sregs.idt.limit;
    if (mv.idt_limit == 0) {
        vmm_error("the HRT reported boot-complete without an IDT");
        return -1;
    }
    return 0;
}

int mv_hrt_start(void)
{
    struct vmm_vm_options options = {0};
    struct vmm_elf_info info;
    struct vmm_vcpu *vcpu;

    mv.vm = vmm_vm_create(&options);
    if (mv.vm == NULL)
        return -1;
    mv_fd_hide(&mv.vm->kvm_fd);
    mv_fd_hide(&mv.vm->vm_fd);
    if (hrt_memory_create() < 0 || hrt_tables_build() < 0 ||
        hrt_image_load(&info) < 0)
        return -1;
    boot_info_build(&info);
    vmm_hypercall_register(mv.vm, HVM_HC_BOOT_COMPLETE, on_boot_complete, NULL);
    vcpu = mv_vcpu_new();
    if (vcpu == NULL || hrt_boot_run(vcpu, info.entry) < 0)
        return -1;
    mv_vcpu_release(vcpu);
    /* The other HRT CPUs asked for; threads beyond them get new vCPUs. */
    for (unsigned i = 1; i < mv.options.hrt_cpus; i++) {
        vcpu = mv_vcpu_new();
        if (vcpu == NULL)
            return -1;
        mv_vcpu_release(vcpu);
    }
    return 0;
}

struct vmm_vcpu *mv_vcpu_new(void)
{
    unsigned index = atomic_fetch_add(&mv.next_vcpu, 1);
    struct hvm_boot_cpu cpu;
    struct vmm_vcpu *vcpu;

    if (index >= MV_HRT_MAX_VCPUS) {
        vmm_error("more than %llu HRT vCPUs requested",
                  (unsigned long long)MV_HRT_MAX_VCPUS);
        return NULL;
    }
    vcpu = vmm_vcpu_create(mv.vm, index);
    if (vcpu == NULL)
        return NULL;
    mv_fd_hide(&vcpu->fd);
    if (vmm_x86_set_cpuid(vcpu, 0) < 0)
        return NULL;
    cpu_area_build(index, &cpu);
    return vcpu;
}

static int set_all_registers(struct vmm_vcpu *vcpu,
                             const struct mv_guest_state *s)
{
    struct kvm_regs regs = {
        .rax = s->rax,
        .rbx = s->rbx,
        .rcx = s->rcx,
        .rdx = s->rdx,
        .rsi = s->rsi,
        .rdi = s->rdi,
        .rsp = s->rsp,
        .rbp = s->rbp,
        .r8 = s->r8,
        .r9 = s->r9,
        .r10 = s->r10,
        .r11 = s->r11,
        .r12 = s->r12,
        .r13 = s->r13,
        .r14 = s->r14,
        .r15 = s->r15,
        .rip = s->rip,
        .rflags = s->rflags | 0x202,
    };

    if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0) {
        vmm_error_errno("KVM_SET_REGS");
        return -1;
    }
    return 0;
}

int mv_vcpu_enter_state(struct vmm_vcpu *vcpu, struct mv_group *group)
{
    uint64_t area = cpu_area(vcpu->index);
    uint64_t *channel_self = (uint64_t *)(group->channel + HVM_CH_SELF);
    struct vmm_long_mode state = {
        .cr3 = mv.tables.pml4_phys,
        .gdt_base = hrt_virt(area + CPU_GDT),
        .gdt_limit = HVM_GDT_ENTRIES * 8 - 1,
        .idt_base = mv.idt_base,
        .idt_limit = mv.idt_limit,
        .tss_base = hrt_virt(area + CPU_TSS),
        .tss_limit = VMM_TSS_SIZE - 1,
        .user = mv.options.privilege == MV_PRIVILEGE_USER,
        .fs_base = group->start.fs_base,
        .gs_base = (uint64_t)(uintptr_t)group->channel,
        .kernel_gs_base = hrt_virt(area + CPU_PERCPU),
        .rip = group->start.rip,
        .rsp = group->start.rsp,
        .rflags = group->start.rflags,
        .lstar = (uint64_t)(uintptr_t)mv_syscall_entry,
        .sse = 1,
    };

    *channel_self = (uint64_t)(uintptr_t)group->channel;
    *(uint64_t *)(group->channel + HVM_CH_SPIN_CYCLES) =
        mv.options.spin_ns * vmm_tsc_khz() / 1000000ULL;
    *(uint64_t *)(group->channel + HVM_CH_APP_RING) = mv.options.privilege;
    group->fs_base = group->start.fs_base;
    if (vmm_x86_set_long_mode(vcpu, &state) < 0)
        return -1;
    return set_all_registers(vcpu, &group->start);
}
