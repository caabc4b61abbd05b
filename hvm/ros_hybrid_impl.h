/*
 * Internal state of guest-ROS hybridization, shared by ros_hybrid.c
 * (processes, PML4 pool, hypercalls from the ROS) and ros_hybrid_cpu.c
 * (the borrowed HRT vCPUs and their hypercalls).
 */
#ifndef HVM_ROS_HYBRID_IMPL_H
#define HVM_ROS_HYBRID_IMPL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "ros_hybrid.h"
#include "ros_hybrid_merge.h"

#define HYBRID_MAX_PROCESSES HVM_HRT_STATUS_PROCESSES
#define HYBRID_POOL_PAGES (HVM_ROS_HYBRID_RESERVE / 4096)

enum hybrid_page_state {
    PAGE_CLEAN = 0, /* never a root since the last shadow zap */
    PAGE_IN_USE,
    PAGE_DIRTY, /* was a root: KVM may still shadow its old bytes */
};

struct hybrid_process {
    int used;
    struct hvm_merge_root root;
    uint32_t pid;
    int pml4_page; /* index into the pool */
    uint64_t pml4_gpa;
    uint64_t generation; /* bumped whenever the HRT must reload CR3 */
    unsigned threads;    /* groups not yet free */
    int exiting;
    uint64_t calls_done; /* calls of groups that have ended */
    uint64_t faults, flushes, merges;
};

enum hybrid_group_state {
    GROUP_FREE = 0,
    GROUP_PENDING, /* assigned, its HRT CPU has not taken it yet */
    GROUP_RUNNING,
    GROUP_ENDING, /* the CPU must stop running it */
};

/* One per HRT CPU: the group that CPU runs, if any. */
struct hybrid_group {
    enum hybrid_group_state state;
    int thread_exited; /* ended by the thread's own exit */
    struct hybrid_process *process;
    struct hvm_group_start start;
    uint8_t *channel;    /* host address of the locked channel page */
    uint64_t generation; /* process generation loaded in CR3 */
    unsigned cr3_toggle; /* alternates PWT so that each reload differs */
    uint64_t last_fault; /* CR2 of the last served fault */
    unsigned fault_repeats;
    uint64_t waits, wait_ns; /* sleeps in the VMM for the partner */
    struct hrt_boot_cpu *cpu;
};

struct hvm_ros_hybrid {
    struct vmm_vm *vm;
    struct hrt_boot *boot;
    pthread_mutex_t lock;
    uint64_t hrt_gpa, hrt_size;
    uint64_t pool_gpa;
    uint8_t *pool_hva;
    uint8_t pool_state[HYBRID_POOL_PAGES];
    uint32_t zap_slot;
    void *zap_page;
    uint64_t groups_created;
    int rebooting;
    struct hybrid_process processes[HYBRID_MAX_PROCESSES];
    struct hybrid_group groups[HVM_MAX_HRT_CPUS];
};

/* ros_hybrid.c */
struct hvm_merge_source hybrid_source(struct hvm_ros_hybrid *hybrid);
/* Copies the lower half again if it changed (lock held). Returns 1 if
 * the process got a new PML4, 0 if nothing changed, -1 on failure. */
int hybrid_process_refresh(struct hvm_ros_hybrid *hybrid,
                           struct hybrid_process *process);
/* Drops every KVM shadow page (lock held). Returns 0 or -1. */
int hybrid_shadow_zap(struct hvm_ros_hybrid *hybrid);
/* Frees a process whose last group has ended (lock held). */
void hybrid_process_release(struct hvm_ros_hybrid *hybrid,
                            struct hybrid_process *process);
/* Makes every CPU running a group of process leave KVM_RUN (lock held). */
void hybrid_process_kick(struct hvm_ros_hybrid *hybrid,
                         struct hybrid_process *process,
                         const struct hybrid_group *except);

/* ros_hybrid_cpu.c */
void hybrid_cpu_lend(struct hrt_boot_cpu *cpu, void *ctx);
void hybrid_cpu_hypercalls_register(struct hvm_ros_hybrid *hybrid);
/* Waits until the HRT CPU of group has taken it, kicking it. Returns 0,
 * or -1 if it did not within a second. */
int hybrid_group_hand_over(struct hvm_ros_hybrid *hybrid,
                           struct hybrid_group *group);

#endif
