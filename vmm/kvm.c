/*
 * VM lifetime and guest memory: opening /dev/kvm, creating the VM and its
 * in-kernel devices, memfd-backed guest memory and memslots, and the
 * registries of port and hypercall handlers.
 */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/memfd.h>
#include <unistd.h>

int vmm_kvm_open(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int version;

    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
        vmm_error("open /dev/kvm failed: %s; run as root or add your "
                  "user to the group that owns /dev/kvm (usually kvm)",
                  strerror(errno));
        return -1;
    }
    if (fd < 0 && errno == ENOENT) {
        vmm_error("open /dev/kvm failed: no such device; this host offers "
                  "no KVM (load kvm_intel or kvm_amd, or use a VM type "
                  "with nested virtualization)");
        return -1;
    }
    if (fd < 0) {
        vmm_error_errno("open /dev/kvm");
        return -1;
    }
    version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        vmm_error("KVM API version %d, expected %d", version, KVM_API_VERSION);
        close(fd);
        return -1;
    }
    return fd;
}

static int vm_create_devices(struct vmm_vm *vm)
{
    if (!vm->options.irqchip)
        return 0;
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        vmm_error_errno("KVM_CREATE_IRQCHIP");
        return -1;
    }
    if (vm->options.pit) {
        struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

        if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
            vmm_error_errno("KVM_CREATE_PIT2");
            return -1;
        }
    }
    return 0;
}

struct vmm_vm *vmm_vm_create(const struct vmm_vm_options *options)
{
    struct vmm_vm *vm = calloc(1, sizeof(*vm));

    if (vm == NULL) {
        vmm_error_errno("allocate VM");
        return NULL;
    }
    vm->vm_fd = -1;
    vm->options = *options;
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->stopped_cond, NULL);

    vm->kvm_fd = vmm_kvm_open();
    if (vm->kvm_fd < 0)
        goto fail;
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        vmm_error_errno("KVM_CREATE_VM");
        goto fail;
    }
    vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->vcpu_mmap_size <= 0) {
        vmm_error_errno("KVM_GET_VCPU_MMAP_SIZE");
        goto fail;
    }
    if (vm_create_devices(vm) < 0)
        goto fail;
    return vm;

fail:
    vmm_vm_destroy(vm);
    return NULL;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
    if (vm == NULL)
        return;
    vmm_vm_stop(vm, vm->exit_status);
    vmm_vm_wait(vm);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmm_vcpu *vcpu = vm->vcpus[i];

        if (vcpu == NULL)
            continue;
        if (vcpu->run != NULL)
            munmap(vcpu->run, vm->vcpu_mmap_size);
        if (vcpu->fd >= 0)
            close(vcpu->fd);
        free(vcpu);
    }
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    for (unsigned i = 0; i < vm->nr_regions; i++) {
        struct vmm_mem_region *region = &vm->regions[i];

        munmap(region->hva, region->size);
        if (region->memfd >= 0)
            close(region->memfd);
    }
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    free(vm);
}

int vmm_memslot_set(struct vmm_vm *vm, uint32_t slot, uint32_t flags,
                    uint64_t gpa, uint64_t size, void *hva)
{
    struct kvm_userspace_memory_region region = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)hva,
    };

    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        vmm_error("KVM_SET_USER_MEMORY_REGION slot %u gpa 0x%llx size "
                  "0x%llx failed: %s",
                  slot, (unsigned long long)gpa, (unsigned long long)size,
                  strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Maps size bytes of fd so that the mapping starts on a 2 MiB boundary:
 * transparent huge pages back a guest 2 MiB page only when guest physical
 * and host virtual addresses agree modulo 2 MiB.
 */
static uint8_t *map_aligned(int fd, uint64_t size)
{
    uint64_t span = size + VMM_HUGE_ALIGN;
    uint8_t *reserve, *aligned, *mapped;

    reserve = mmap(NULL, span, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserve == MAP_FAILED)
        return NULL;
    aligned = (uint8_t *)(((uintptr_t)reserve + VMM_HUGE_ALIGN - 1) &
                          ~(uintptr_t)(VMM_HUGE_ALIGN - 1));
    mapped = mmap(aligned, size, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0);
    if (mapped == MAP_FAILED) {
        munmap(reserve, span);
        return NULL;
    }
    if (aligned > reserve)
        munmap(reserve, aligned - reserve);
    if (aligned + size < reserve + span)
        munmap(aligned + size, reserve + span - (aligned + size));
    return mapped;
}

struct vmm_mem_region *vmm_memory_add(struct vmm_vm *vm, const char *name,
                                      uint64_t gpa, uint64_t size)
{
    struct vmm_mem_region *region;
    unsigned memfd_flags = MFD_CLOEXEC;
    int fd;

    if (vm->nr_regions >= VMM_MAX_REGIONS || size == 0 ||
        (gpa | size) & (VMM_PAGE_ALIGN - 1)) {
        vmm_error("guest memory %s: invalid region gpa 0x%llx size 0x%llx",
                  name, (unsigned long long)gpa, (unsigned long long)size);
        return NULL;
    }
    if (vm->options.hugepages && size % VMM_HUGE_ALIGN == 0)
        memfd_flags |= MFD_HUGETLB | MFD_HUGE_2MB;
    fd = memfd_create(name, memfd_flags);
    /*
     * Reserve the huge pages now: with an empty pool the mapping succeeds
     * and the first touch raises SIGBUS instead.
     */
    if (fd >= 0 && (memfd_flags & MFD_HUGETLB) &&
        fallocate(fd, 0, 0, (off_t)size) < 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0 && (memfd_flags & MFD_HUGETLB)) {
        vmm_warn("%llu MiB of 2 MiB huge pages unavailable for %s (%s); "
                 "using 4 KiB pages (see /proc/sys/vm/nr_hugepages)",
                 (unsigned long long)(size >> 20), name, strerror(errno));
        memfd_flags = MFD_CLOEXEC;
        fd = memfd_create(name, memfd_flags);
    }
    if (fd < 0) {
        vmm_error_errno("memfd_create");
        return NULL;
    }
    if (!(memfd_flags & MFD_HUGETLB) && ftruncate(fd, (off_t)size) < 0) {
        vmm_error_errno("ftruncate guest memory");
        close(fd);
        return NULL;
    }
    region = &vm->regions[vm->nr_regions];
    region->hva = map_aligned(fd, size);
    if (region->hva == NULL) {
        vmm_error_errno("mmap guest memory");
        close(fd);
        return NULL;
    }
    /* THP for shared memfd mappings follows shmem_enabled; ask anyway. */
    madvise(region->hva, size, MADV_HUGEPAGE);
    region->gpa = gpa;
    region->size = size;
    region->memfd = fd;
    region->name = name;
    region->slot = vm->next_slot++;
    if (vmm_memslot_set(vm, region->slot, 0, gpa, size, region->hva) < 0) {
        munmap(region->hva, size);
        close(fd);
        return NULL;
    }
    vm->nr_regions++;
    return region;
}

void *vmm_gpa_to_hva(const struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
    struct vmm_guest_range ranges[VMM_MAX_REGIONS];

    for (unsigned i = 0; i < vm->nr_regions; i++) {
        ranges[i].gpa = vm->regions[i].gpa;
        ranges[i].size = vm->regions[i].size;
        ranges[i].hva = vm->regions[i].hva;
    }
    void *hva = vmm_guest_ptr(ranges, vm->nr_regions, gpa, len);

    if (hva == NULL && vm->gpa_to_hva_hook != NULL)
        hva = vm->gpa_to_hva_hook((struct vmm_vm *)vm, gpa, len);
    return hva;
}

int vmm_io_register(struct vmm_vm *vm, uint16_t first_port, uint16_t count,
                    vmm_io_fn fn, void *ctx)
{
    if (vm->nr_io >= VMM_MAX_IO_HANDLERS || count == 0)
        return -1;
    vm->io[vm->nr_io++] = (struct vmm_io_handler){first_port, count, fn, ctx};
    return 0;
}

int vmm_hypercall_register(struct vmm_vm *vm, unsigned op, vmm_hypercall_fn fn,
                           void *ctx)
{
    if (op >= HVM_HC_COUNT)
        return -1;
    vm->hypercalls[op].fn = fn;
    vm->hypercalls[op].ctx = ctx;
    return 0;
}

uint64_t vmm_now_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

static inline uint64_t read_tsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Set from KVM_GET_TSC_KHZ by the first vCPU, or by calibration. */
static _Atomic uint64_t tsc_khz_cached;

void vmm_tsc_khz_from_vcpu(int vcpu_fd)
{
    int khz;

    if (atomic_load(&tsc_khz_cached) != 0)
        return;
    khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
    if (khz > 0)
        atomic_store(&tsc_khz_cached, (uint64_t)khz);
}

uint64_t vmm_tsc_khz(void)
{
    uint64_t cached = atomic_load(&tsc_khz_cached);
    uint64_t t0, t1, n0, n1;

    if (cached != 0)
        return cached;
    /* Calibrate against the monotonic clock over 20 ms. */
    n0 = vmm_now_ns();
    t0 = read_tsc();
    do {
        n1 = vmm_now_ns();
    } while (n1 - n0 < 20000000ULL);
    t1 = read_tsc();
    cached = (t1 - t0) * 1000000ULL / (n1 - n0);
    atomic_store(&tsc_khz_cached, cached);
    return cached;
}
