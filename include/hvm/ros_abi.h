/*
 * Ports between the guest ROS's /init (tools/initramfs/init.c) and `hvm
 * run`. They are separate from the HRT's hypercall ports so that a ROS
 * report can never be taken for an HRT one. /init opens them with
 * ioperm() and writes one byte with `outb`.
 */
#ifndef HVM_ROS_ABI_H
#define HVM_ROS_ABI_H

/* Any byte: user space has started (the first act of /init). */
#define HVM_ROS_PORT_INIT 0x0604
/* The byte is the command's exit status; the VM stops. */
#define HVM_ROS_PORT_EXIT 0x0605
#define HVM_ROS_PORT_COUNT 2

#endif
