/*
 * libmultiverse, the host-ROS runtime: internal interfaces shared by its
 * files. The process becomes its own VMM: its threads run in the HRT of a
 * VM whose guest physical addresses equal the process's virtual
 * addresses, and partner threads serve their system calls in Linux.
 */
#ifndef MV_H
#define MV_H

#include <linux/sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mv_rewrite.h"
#include "pagetable.h"
#include "vmm.h"

#define MV_MAX_SYSCALL 512
/* Exit status when the runtime itself fails, as `hvm run` uses for a VM. */
#define MV_EXIT_RUNTIME_FAILED 125
#define MV_PARTNER_STACK_SIZE (256 * 1024)
#define MV_HUGE_PAGE_SIZE (2ULL << 20)
/* A partner polls at most this many times MV_SPIN_NS before it sleeps. */
#define MV_SPIN_MAX_FACTOR 20

/* The HRT's private memory in guest physical space. It lies above every
 * user address of the host, which end at 2^47. */
#define MV_HRT_GPA 0xc00000000000ULL
#define MV_HRT_SIZE (64ULL << 20)
#define MV_HRT_BOOT_INFO 0x0ULL     /* offset of struct hvm_boot_info */
#define MV_HRT_TABLES (16ULL << 20) /* page-table pool, 16 MiB */
#define MV_HRT_TABLES_SIZE (16ULL << 20)
#define MV_HRT_CPUS (32ULL << 20) /* per-vCPU areas from here */
#define MV_HRT_CPU_SIZE (64ULL << 10)
#define MV_HRT_MAX_VCPUS ((MV_HRT_SIZE - MV_HRT_CPUS) / MV_HRT_CPU_SIZE)

/* Registers of a forked child, loaded by mv_native_resume(). */
struct mv_native_state {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags, pad;
    uint8_t fxsave[512];
    uint64_t rsp;
} __attribute__((aligned(16)));

_Static_assert(offsetof(struct mv_native_state, rip) == 120, "layout");
_Static_assert(offsetof(struct mv_native_state, fxsave) == 144, "layout");
_Static_assert(offsetof(struct mv_native_state, rsp) == 656, "layout");

/* Application privilege in the HRT. */
enum mv_privilege {
    MV_PRIVILEGE_KERNEL = 0, /* ring 0 */
    MV_PRIVILEGE_USER = 3,   /* ring 3 */
};

/* Work a partner hands to the vCPU thread of its group. */
enum mv_vmm_action {
    MV_ACTION_NONE = 0,
    MV_ACTION_SET_FS,    /* load action_arg into the FS base */
    MV_ACTION_TERMINATE, /* the thread has exited: release the vCPU */
};

/* The first HRT state of a thread. */
struct mv_guest_state {
    uint64_t rip, rsp, rflags, fs_base;
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* An execution group: one application thread as HRT thread + partner. */
struct mv_group {
    uint8_t *channel; /* HVM_CH_SIZE bytes, page aligned, locked */
    unsigned id;
    pid_t partner_tid;
    struct mv_guest_state start;
    struct vmm_vcpu *vcpu;
    pthread_t vcpu_thread;
    enum mv_vmm_action action;
    uint64_t action_arg;
    atomic_uint vcpu_released; /* futex word: 1 once the vCPU is free */
    uint8_t *partner_stack;
    uint64_t fs_base; /* the HRT thread's FS base */
    uint64_t wait_ns; /* time its HRT thread waited for Linux */
    uint64_t run_start_ns;
};

struct mv_options {
    unsigned hrt_cpus;
    enum mv_privilege privilege;
    int stats_fd;     /* -1: no statistics */
    uint64_t spin_ns; /* how long either side polls before sleeping */
    const char *hrt_image;
    int rewrite; /* rewrite the C library's system-call sites */
};

struct mv_stats {
    atomic_ullong syscalls[MV_MAX_SYSCALL];
    atomic_ullong syscalls_other;
    atomic_ullong memory_faults; /* MMIO exits served by adding a slot */
    atomic_ullong page_faults;   /* guest #PF served by a page-table entry */
    atomic_ullong wakeups;       /* sleeping partner or HRT thread woken */
    atomic_ullong threads;
    atomic_ullong service_ns; /* partner time spent in system calls */
    atomic_ullong ended_thread_ns; /* lifetimes of HRT threads that ended */
};

struct mv_runtime {
    struct vmm_vm *vm;
    struct mv_options options;
    uint8_t *hrt_mem;
    struct vmm_pt_builder tables;
    uint64_t idt_base;
    uint16_t idt_limit;
    uint64_t boot_ns; /* VMM start to HRT boot-complete */
    uint64_t start_ns;
    atomic_uint next_vcpu;
    int (*main)(int, char **, char **);
    /* "NAME=value" of LD_PRELOAD and MV_*, added to the environment of
     * images this process execs so that they are hybridized too. */
    const char *exec_env[9];
    /* Signals for which the program installed a handler function. */
    atomic_ullong handled_signals;
    struct mv_stats stats;
};

extern struct mv_runtime mv;

/* mv_entry.S */
void mv_syscall_entry(void);
void mv_guest_main(void);
long mv_clone3_raw(struct clone_args *args, size_t size, void (*fn)(void *),
                   void *arg);
void mv_switch_stack(void *top, void (*fn)(void *), void *arg)
    __attribute__((noreturn));
void mv_native_resume(const struct mv_native_state *state)
    __attribute__((noreturn));
long mv_clone3_native(struct clone_args *args, size_t size,
                      const struct mv_native_state *state);

/* mv_sys.c: raw system calls that touch neither errno nor TLS. */
long mv_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
void mv_futex_wait(atomic_uint *word, unsigned expected);
void mv_futex_wake(atomic_uint *word);
void mv_write_all(int fd, const char *text, size_t length);
void mv_die(const char *message) __attribute__((noreturn));
uint64_t mv_tsc(void);
/* Copies application memory without faulting. Returns 0 or -1. */
int mv_read_app(void *dst, uint64_t src, size_t length);
/* Reads the arguments of clone or clone3 into one form. Returns 0 or
 * -errno; *child_sp is the child's stack top, 0 for none. */
/* Returns 1 if clone or clone3 creates a thread, 0 if a process, or
 * -EFAULT for an unreadable clone3 argument. */
int mv_clone_is_thread(long nr, const uint64_t *args);
int mv_clone_args_read(long nr, const uint64_t *args, struct clone_args *ca,
                       uint64_t *child_sp);

/* mv_hrt.c */
int mv_hrt_start(void);
int mv_vcpu_enter_state(struct vmm_vcpu *vcpu, struct mv_group *group);
struct vmm_vcpu *mv_vcpu_new(void);

/* mv_memory.c */
int mv_memory_init(void);
void mv_memory_lock(void);
void mv_memory_unlock(void);
/* Mirrors [start, end) with protection prot (-1: unmapped). Locked. */
void mv_memory_update(uint64_t start, uint64_t end, int prot);
/* Serves an access with no slot. Returns 0, or -1 for SIGSEGV. */
int mv_memory_fault(uint64_t address, int is_write, int is_exec);
/* Maps the 2 MiB guest pages that cover [start, end). */
int mv_memory_map_range(uint64_t start, uint64_t end);
/* Rebuilds every slot from /proc/self/maps. */
void mv_memory_resync(void);
/* Backs the guest view of [start, end) with host memory at host. */
void mv_memory_overlay(uint64_t start, uint64_t end, const void *host);
/* Marks host memory the application must never reach through the HRT. */
void mv_memory_private(const void *start, size_t size);

/* mv_patch.c */
/* Rewrites the C library's system-call sites in the HRT's view. */
void mv_patch_libc(void);

/* mv_fd.c */
/* Moves the runtime descriptor in *slot out of the program's way and
 * keeps track of it; *slot follows later moves. */
void mv_fd_hide(int *slot);
long mv_fd_close(long fd);
long mv_fd_close_range(unsigned long first, unsigned long last,
                       unsigned long flags);
/* Moves a runtime descriptor numbered fd elsewhere, for a dup2 onto fd. */
void mv_fd_make_room(long fd);

/* mv_group.c */
void mv_group_handlers_register(void);
/* Sums the lifetimes of all HRT threads so far, ended and running. */
uint64_t mv_thread_time_ns(void);
/* Puts a vCPU whose thread has ended in the pool for new threads. */
void mv_vcpu_release(struct vmm_vcpu *vcpu);
struct mv_group *mv_group_new(void);
/* Hands a new group to the spawner thread, which starts its vCPU thread. */
void mv_spawn_request(struct mv_group *group);
int mv_spawner_start(void);
int mv_group_start_vcpu(struct mv_group *group);
void mv_signal_self(struct mv_group *group, int signo)
    __attribute__((noreturn));

/* mv_partner.c */
void mv_partner_main(void *group) __attribute__((noreturn));

/* mv_stats.c */
void mv_stats_report(int status);

#endif
