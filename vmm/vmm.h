/*
 * The KVM VMM core: one VM, its guest memory, its vCPUs (one host thread
 * each), a table of exit handlers and a table of hypercall handlers.
 * Everything above this (HRT boot, guest ROS boot, host-ROS hybridization)
 * is built from these calls.
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <hvm/abi.h>

#include "hypercall.h"
#include "log.h"
#include "uart.h"

#define VMM_MAX_VCPUS 256
#define VMM_MAX_REGIONS 16
#define VMM_MAX_IO_HANDLERS 16
#define VMM_PAGE_ALIGN 4096ULL
#define VMM_HUGE_ALIGN (2ULL << 20)

struct vmm_vm;
struct vmm_vcpu;

/* The next step of the run loop, chosen by an exit handler. */
enum vmm_action {
    VMM_RESUME = 0, /* enter the guest again */
    VMM_STOP = 1,   /* stop this vCPU; vmm_vm_stop() has been called */
};

/* Handles a port access of size bytes; data is in/out. */
typedef enum vmm_action (*vmm_io_fn)(struct vmm_vcpu *vcpu, uint16_t port,
                                     int is_write, uint8_t *data, unsigned size,
                                     void *ctx);

/* Handles a hypercall. The return value is stored in the guest's RAX. */
typedef int64_t (*vmm_hypercall_fn)(struct vmm_vcpu *vcpu,
                                    const struct vmm_hypercall *call,
                                    void *ctx);

/* Handles an exit reason the core does not handle itself. */
typedef enum vmm_action (*vmm_exit_fn)(struct vmm_vcpu *vcpu, void *ctx);

struct vmm_mem_region {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
    uint32_t slot;
    int memfd; /* -1 when the memory is not memfd-backed */
    const char *name;
};

struct vmm_io_handler {
    uint16_t first_port;
    uint16_t count;
    vmm_io_fn fn;
    void *ctx;
};

struct vmm_vm_options {
    int irqchip;   /* create the in-kernel LAPIC/IOAPIC/PIC */
    int pit;       /* create the in-kernel PIT (needs irqchip) */
    int hugepages; /* back memfd memory with 2 MiB huge pages if possible */
};

struct vmm_vcpu {
    struct vmm_vm *vm;
    unsigned index;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    int thread_started;
    void *user; /* owner's per-vCPU data */
    /* Called on the vCPU thread before the first KVM_RUN; may be NULL. */
    int (*on_start)(struct vmm_vcpu *vcpu);
    uint64_t exits;
    /* Set by a handler to leave vmm_vcpu_run_loop() without stopping the VM. */
    atomic_int leave_loop;
};

struct vmm_vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_mmap_size;
    struct vmm_vm_options options;

    struct vmm_mem_region regions[VMM_MAX_REGIONS];
    unsigned nr_regions;
    uint32_t next_slot;

    struct vmm_vcpu *vcpus[VMM_MAX_VCPUS];
    unsigned nr_vcpus;

    struct vmm_io_handler io[VMM_MAX_IO_HANDLERS];
    unsigned nr_io;
    struct {
        vmm_hypercall_fn fn;
        void *ctx;
    } hypercalls[HVM_HC_COUNT];
    vmm_exit_fn exit_handlers[64]; /* indexed by KVM_EXIT_* */
    /*
     * Called when KVM_RUN fails with an errno other than EINTR/EAGAIN;
     * VMM_RESUME retries the run. NULL reports the failure and stops.
     */
    enum vmm_action (*run_error_handler)(struct vmm_vcpu *vcpu, int error);
    void *exit_ctx;

    /* Set once by vmm_vm_stop(); every vCPU thread then leaves its loop. */
    atomic_int stopping;
    /* Ignore writes to and read 0xff from ports without a handler. */
    int ignore_unknown_ports;
    /*
     * Consulted by vmm_gpa_to_hva() for addresses outside the regions, for
     * VMs whose guest memory is not region-backed (the host ROS). It must
     * validate the whole range. NULL for none.
     */
    void *(*gpa_to_hva_hook)(struct vmm_vm *vm, uint64_t gpa, uint64_t len);
    int exit_status;
    pthread_mutex_t lock;
    pthread_cond_t stopped_cond;
    unsigned running_threads;
    void *user; /* owner's data */
};

/* Opens /dev/kvm and checks the API version. Returns the fd or -1. */
int vmm_kvm_open(void);

/* Creates a VM. Returns NULL after logging the failed operation. */
struct vmm_vm *vmm_vm_create(const struct vmm_vm_options *options);

/* Stops all vCPU threads, joins them and frees the VM and its memory. */
void vmm_vm_destroy(struct vmm_vm *vm);

/*
 * Allocates size bytes of guest memory at gpa (memfd-backed, 2 MiB aligned
 * in the host so guest 2 MiB pages can use transparent huge pages) and
 * registers it with KVM. Returns the region or NULL.
 */
struct vmm_mem_region *vmm_memory_add(struct vmm_vm *vm, const char *name,
                                      uint64_t gpa, uint64_t size);

/*
 * Returns the host address of [gpa, gpa + len) if it lies inside one
 * region, else NULL. The only way the VMM turns a guest address into a
 * pointer.
 */
void *vmm_gpa_to_hva(const struct vmm_vm *vm, uint64_t gpa, uint64_t len);

/* Registers a memslot over host memory the caller owns. Returns 0 or -1. */
int vmm_memslot_set(struct vmm_vm *vm, uint32_t slot, uint32_t flags,
                    uint64_t gpa, uint64_t size, void *hva);

/* Creates vCPU number index. Returns NULL after logging the failure. */
struct vmm_vcpu *vmm_vcpu_create(struct vmm_vm *vm, unsigned index);

/* Registers a handler for ports [first_port, first_port + count). */
int vmm_io_register(struct vmm_vm *vm, uint16_t first_port, uint16_t count,
                    vmm_io_fn fn, void *ctx);

/* Registers the handler of hypercall op. */
int vmm_hypercall_register(struct vmm_vm *vm, unsigned op, vmm_hypercall_fn fn,
                           void *ctx);

/*
 * Runs the vCPU until the VM stops or a handler returns VMM_STOP, on the
 * calling thread. Unexpected exits (internal error, shutdown, unknown
 * port, failed entry) print a report and stop the VM with status 1.
 */
void vmm_vcpu_run_loop(struct vmm_vcpu *vcpu);

/* Starts one host thread per vCPU, each running vmm_vcpu_run_loop(). */
int vmm_vm_start(struct vmm_vm *vm);

/* Waits until every vCPU thread has left its run loop. Returns exit_status. */
int vmm_vm_wait(struct vmm_vm *vm);

/*
 * Asks every vCPU to stop with the given status. The first call's status
 * wins. Safe from any thread, including vCPU threads and exit handlers.
 */
void vmm_vm_stop(struct vmm_vm *vm, int status);

/* Kicks one vCPU out of KVM_RUN so that its loop reads the new state. */
void vmm_vcpu_kick(struct vmm_vcpu *vcpu);

/*
 * Prints the exit reason, the registers, the segment state and the
 * instruction bytes at RIP (read through the guest page tables).
 */
void vmm_vcpu_dump(struct vmm_vcpu *vcpu, const char *why);

/*
 * Translates a guest virtual address with the vCPU's current page tables
 * (KVM_TRANSLATE). Returns 0 and the guest physical address, or -1.
 */
int vmm_vcpu_translate(struct vmm_vcpu *vcpu, uint64_t gva, uint64_t *gpa);

/*
 * Returns the TSC frequency in kHz: KVM's value once a vCPU exists,
 * otherwise a 20 ms calibration against the monotonic clock.
 */
uint64_t vmm_tsc_khz(void);

/* Takes the TSC frequency from KVM_GET_TSC_KHZ of a vCPU, if not known. */
void vmm_tsc_khz_from_vcpu(int vcpu_fd);

/* Reads the host's monotonic clock in nanoseconds. */
uint64_t vmm_now_ns(void);

/* The guest's view of a vCPU in 64-bit mode, as vmm_x86_* sets it up. */
struct vmm_long_mode {
    uint64_t cr3;
    uint64_t gdt_base; /* guest virtual address */
    uint16_t gdt_limit;
    uint64_t idt_base; /* 0 with limit 0 for "none yet" */
    uint16_t idt_limit;
    uint64_t tss_base; /* guest virtual address, 0 for none */
    uint32_t tss_limit;
    int user; /* start in ring 3 with the user selectors */
    uint64_t fs_base;
    uint64_t gs_base;
    uint64_t kernel_gs_base;
    uint64_t rip, rsp, rflags;
    uint64_t rdi, rsi, rdx, rcx;
    uint64_t lstar; /* syscall entry, 0 to leave unset */
    int sse;        /* set CR4.OSFXSR/OSXMMEXCPT */
};

/*
 * Puts the vCPU straight into 64-bit mode (CR0.PG/PE, CR4.PAE, EFER.LME/
 * LMA/NXE/SCE) with flat segments, and sets STAR/LSTAR/SFMASK so that
 * `syscall` enters HVM_SEL_KERNEL_CS. Returns 0 or -1.
 */
int vmm_x86_set_long_mode(struct vmm_vcpu *vcpu,
                          const struct vmm_long_mode *state);

/*
 * Writes a GDT with the layout of the HVM_SEL_* selectors into gdt (at
 * least HVM_GDT_ENTRIES * 8 bytes) with a 64-bit TSS descriptor for tss.
 */
void vmm_x86_gdt_build(uint64_t *gdt, uint64_t tss_base, uint32_t tss_limit);

/*
 * Size of a TSS with an I/O permission bitmap that allows the hypercall
 * ports to ring 3 and denies every other port.
 */
#define VMM_TSS_SIZE (104 + 8192 + 1)

/*
 * Fills a TSS: RSP0, IST1-IST3 and the I/O bitmap described above.
 * tss must be VMM_TSS_SIZE bytes. Returns the TSS limit.
 */
uint32_t vmm_x86_tss_build(uint8_t *tss, uint64_t rsp0, const uint64_t ist[3]);

/*
 * Sets CPUID: the host's supported leaves, minus what the emulator of
 * this platform cannot run (CX16) and minus the KVM paravirtual leaf
 * features when clear_kvm_pv is set. Returns 0 or -1.
 */
int vmm_x86_set_cpuid(struct vmm_vcpu *vcpu, int clear_kvm_pv);

#endif
