/*
 * libmultiverse-guest, the guest-ROS runtime: a process inside the Linux
 * guest of `hvm run` has its threads run on HRT vCPUs of the same VM and
 * serves their system calls and page faults in partner threads here. It
 * shares the channel stub and the raw-system-call helpers of the host-ROS
 * runtime (mv_entry.S, mv_sys.c) but not its VMM: the VMM is `hvm`, which
 * the runtime reaches by hypercall (port I/O opened with ioperm()).
 */
#ifndef MV_GUEST_H
#define MV_GUEST_H

#include <stdint.h>
#include <sys/types.h>

#include <hvm/abi.h>

#include "mv.h"

#define MV_GUEST_PARTNER_STACK (256 * 1024)

/* The guest side of one execution group. */
struct mv_guest_group {
    uint8_t *channel; /* HVM_CH_SIZE bytes, page aligned, locked */
    uint8_t *partner_stack;
    struct hvm_group_start start;
    /* For a thread that runs natively when no HRT CPU is free. */
    struct mv_native_state native;
};

/* "LD_PRELOAD=..." that images this process execs get back. */
extern const char *mv_guest_preload;

/* mv_guest_start.c */
long mv_guest_hypercall(unsigned op, uint64_t rdi);
/* Allocates a group with a locked channel. Raw calls only. */
struct mv_guest_group *mv_guest_group_new(void);
/* Runs a new thread's partner: creates its HRT thread, then serves it. */
void mv_guest_thread_start(void *group) __attribute__((noreturn));

/* Requests a partner found while polling, yielding and sleeping; printed
 * at exit when MV_GUEST_STATS is set. */
extern uint64_t mv_guest_wait_phases[3];
extern uint64_t mv_guest_service_cycles; /* TSC cycles spent serving */
extern int mv_guest_stats;
void mv_guest_stats_print(void);

/* mv_guest_partner.c */
void mv_guest_partner_main(void *group) __attribute__((noreturn));

#endif
