/*
 * Loading, starting and rebooting the HRT kernel on its vCPUs of a VM.
 * The VMM prepares everything host-side (ELF image, page tables, GDT,
 * TSS, stacks, per-CPU pages, struct hvm_boot_info) because ring-0 guest
 * code may be interpreted, then starts each HRT vCPU at the kernel entry
 * in 64-bit mode. The register contract is documented at _start in
 * guest-kernel/entry.S.
 *
 * The HRT vCPUs run on threads owned by this module: a reboot parks them
 * outside KVM_RUN, reloads the image and restarts them, while any ROS
 * vCPUs keep running.
 */
#ifndef HVM_HRT_BOOT_H
#define HVM_HRT_BOOT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "elf.h"
#include "vmm.h"

/* Bytes of the zeroed per-CPU page the kernel reaches through GS. */
#define HRT_PERCPU_SIZE 4096ULL
#define HRT_KERNEL_STACK_SIZE (16ULL << 10)
#define HRT_IST_STACK_SIZE (16ULL << 10)
/* Size of the identity-mapped ring-3 region (code copy and stacks). */
#define HRT_USER_REGION_SIZE (2ULL << 20)
/* Start of the ring-3 region that receives the kernel's ring-3 code. */
#define HRT_USER_CODE_SIZE (64ULL << 10)
/* Offset of the kernel image in HRT memory (the linker script agrees). */
#define HRT_IMAGE_OFFSET (2ULL << 20)
#define HRT_LAPIC_PHYS 0xfee00000ULL

struct hrt_boot_cpu;

struct hrt_boot_config {
    struct vmm_vm *vm;
    uint64_t hrt_gpa;  /* HRT memory: 2 MiB aligned guest physical */
    uint64_t hrt_size; /* bytes, a multiple of 2 MiB */
    uint8_t *hrt_hva;  /* host address of hrt_gpa */
    unsigned nr_cpus;  /* HRT vCPUs, at most HVM_MAX_HRT_CPUS */
    unsigned vcpu_index[HVM_MAX_HRT_CPUS]; /* created vCPUs, HRT CPU order */
    uint32_t flags;                        /* HVM_BOOT_* */
    uint32_t selftest_mask;
    int user_region;   /* map an identity ring-3 region */
    const void *image; /* ELF image, copied by hrt_boot_init */
    size_t image_size;
    uint64_t vmm_start_ns; /* vmm_now_ns() when the VMM started */
    /* Bytes at the end of HRT memory kept out of the kernel's heap for
     * the VMM (a multiple of 2 MiB; 0 for none). */
    uint64_t vmm_reserve;
    /*
     * Called on an HRT CPU's thread whenever its run loop ends without a
     * reboot or VM stop, so that other code can borrow the vCPU (guest-ROS
     * hybridization). It must leave the vCPU as it found it; the CPU then
     * re-enters its run loop. NULL: the CPU parks until the next reboot.
     */
    void (*lend)(struct hrt_boot_cpu *cpu, void *ctx);
    void *lend_ctx;
};

/* Timestamps of one boot (boot 0) or reboot (boot_count >= 1). */
struct hrt_boot_times {
    uint64_t request_ns;   /* VMM start, or when the reboot was requested */
    uint64_t release_ns;   /* vCPUs set up and released */
    uint64_t complete_ns;  /* boot-complete hypercall received */
    uint64_t entry_tsc;    /* guest TSC at the first kernel instruction */
    uint64_t complete_tsc; /* guest TSC at boot-complete */
};

struct hrt_boot_cpu {
    struct hrt_boot *boot;
    struct vmm_vcpu *vcpu;
    unsigned cpu; /* HRT CPU index */
    int parked;   /* outside KVM_RUN, waiting for the next boot */
    struct vmm_long_mode state;
};

struct hrt_boot {
    struct hrt_boot_config config;
    void *image;
    struct vmm_elf_info elf;
    uint64_t tsc_khz;

    /* Layout, as offsets from hrt_gpa. */
    uint64_t pt_offset, pt_size;
    uint64_t percpu_offset, percpu_stride;
    uint64_t user_offset, user_size;
    uint64_t heap_offset;
    uint64_t pml4_gpa;

    struct hrt_boot_cpu cpus[HVM_MAX_HRT_CPUS];

    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint32_t boot_count; /* of the image loaded last */
    uint64_t generation; /* bumped when a loaded image may start */
    unsigned parked;
    int reboot_requested;
    int load_failed;
    int complete; /* boot-complete seen for boot_count */
    struct hrt_boot_times times;
};

/*
 * Checks the configuration, copies and validates the image against the
 * HRT memory and computes the layout. Returns 0, or -1 with err set.
 */
int hrt_boot_init(struct hrt_boot *boot, const struct hrt_boot_config *config,
                  char *err, size_t errlen);

/*
 * Zeroes the HRT's boot data, loads the image and builds the page
 * tables, GDTs, TSSs, struct hvm_boot_info and each CPU's register state
 * (boot->cpus[i].state) for boot number boot->boot_count. Touches no
 * vCPU; hrt_boot_start() and reboots call it. Returns 0 or -1.
 */
int hrt_boot_load(struct hrt_boot *boot);

/* Releases what hrt_boot_init allocated. The vCPU threads must be gone. */
void hrt_boot_destroy(struct hrt_boot *boot);

/*
 * Registers the BOOT_COMPLETE and REBOOT hypercalls, loads boot 0 and
 * starts one thread per HRT vCPU (counted in vm->running_threads, so
 * vmm_vm_wait() waits for them). Call before vmm_vm_start().
 */
int hrt_boot_start(struct hrt_boot *boot);

/*
 * Asks for a reboot: the HRT vCPUs leave KVM_RUN, the last one to park
 * reloads the image (boot_count + 1) and all restart. Returns at once;
 * safe from any thread, including HRT vCPU hypercall handlers.
 */
void hrt_boot_reboot_request(struct hrt_boot *boot);

/*
 * Waits until boot number boot_count has reported boot-complete, the VM
 * stops or deadline_ns (vmm_now_ns() clock) passes. Returns 0 when
 * complete, -1 otherwise. Copies the boot's timestamps to times.
 */
int hrt_boot_wait_complete(struct hrt_boot *boot, uint32_t boot_count,
                           uint64_t deadline_ns, struct hrt_boot_times *times);

/*
 * Parks every HRT vCPU (waiting up to 1 s) and prints each one's
 * registers with vmm_vcpu_dump(). For diagnosing a hang; the vCPUs stay
 * parked until the next reboot or until the VM stops.
 */
void hrt_boot_dump(struct hrt_boot *boot, const char *reason);

/* Returns the HRT CPU index of vcpu, or -1 if it is not an HRT vCPU. */
int hrt_boot_cpu_of(const struct hrt_boot *boot, const struct vmm_vcpu *vcpu);

/* Converts guest TSC ticks to microseconds with the host TSC frequency. */
uint64_t hrt_boot_tsc_to_us(const struct hrt_boot *boot, uint64_t ticks);

#endif
