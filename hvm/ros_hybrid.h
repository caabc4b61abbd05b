/*
 * Guest-ROS hybridization in `hvm run`: a process in the Linux guest asks
 * by hypercall for execution groups. The VMM merges the lower half of the
 * process's page tables into an HRT PML4 of its own (host-side, because
 * guest ring 0 may be interpreted), borrows an idle HRT vCPU from
 * hrt_boot and runs the thread there in ring 3, while a partner thread
 * in the guest serves its system calls and page faults through the
 * channel page of include/hvm/abi.h.
 */
#ifndef HVM_ROS_HYBRID_H
#define HVM_ROS_HYBRID_H

#include "hrt_boot.h"
#include "vmm.h"

/* HRT memory kept for per-process PML4 pages (one 4 KiB page each). */
#define HVM_ROS_HYBRID_RESERVE (2ULL << 20)

struct hvm_ros_hybrid;

/*
 * Allocates the state and sets config's lend hook and VMM reserve. Call
 * before hrt_boot_init() with the config that will be passed to it.
 * Returns NULL after logging the failure.
 */
struct hvm_ros_hybrid *hvm_ros_hybrid_create(struct hrt_boot_config *config);

/*
 * Registers the hypercalls of guest-ROS hybridization (group creation,
 * channel wait/action, exceptions, process exit, status, reboot). Call
 * after hrt_boot_init() and before the vCPUs start. Returns 0 or -1.
 */
int hvm_ros_hybrid_start(struct hvm_ros_hybrid *hybrid, struct hrt_boot *boot);

/* Frees the state; every vCPU thread must have stopped. */
void hvm_ros_hybrid_destroy(struct hvm_ros_hybrid *hybrid);

/* The guest path of the launcher that `hvm run --hybrid` puts in front of
 * the command (tools/initramfs installs it). */
#define HVM_ROS_HYBRID_LAUNCHER "/usr/bin/mvrun"

#endif
