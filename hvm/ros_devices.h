/*
 * The small devices and exit handlers a guest ROS needs besides its serial
 * ports: the i8042 reset line, a CMOS clock, the ACPI sleep control
 * register, the /init report ports, and the completion of the two
 * instructions that KVM's emulator rejects in Linux's ring 0 on hosts
 * where it interprets that ring.
 */
#ifndef HVM_ROS_DEVICES_H
#define HVM_ROS_DEVICES_H

#include <stdatomic.h>
#include <stdint.h>

#include "vmm.h"

/* Events of the ROS run, written by vCPU threads and read after the run. */
struct hvm_ros_events {
    struct vmm_vm *vm;
    unsigned ros_cpus;       /* vCPUs 0 to ros_cpus - 1 are the ROS's */
    uint64_t start_ns;       /* vmm_now_ns() when hvm started */
    atomic_uint_fast64_t init_ns; /* when /init started, 0 before */
    atomic_int *consoles_ready;   /* set when /init's consoles take input */
    atomic_int exit_reported;
    atomic_int exit_status;  /* the command's, valid once exit_reported */
    atomic_int reset_seen;   /* reboot through the i8042 (and panic=-1) */
    atomic_int power_off_seen;
    atomic_uint int3_completed;
    atomic_uint fwait_completed;
    uint8_t cmos_index;      /* guarded by the vCPU that writes it */
};

/*
 * Registers the port handlers and the internal-error exit handler on vm.
 * Returns 0 or -1.
 */
int hvm_ros_devices_register(struct vmm_vm *vm,
                             struct hvm_ros_events *events);

#endif
