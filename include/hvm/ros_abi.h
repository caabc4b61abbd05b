/*
 * Ports between the guest ROS's /init (tools/initramfs/init.c) and `hvm
 * run`. They are separate from the HRT's hypercall ports so that a ROS
 * report can never be taken for an HRT one. /init opens them with
 * ioperm() and writes one byte with `outb`.
 */
#ifndef HVM_ROS_ABI_H
#define HVM_ROS_ABI_H

/* A progress report of /init, one of the HVM_ROS_INIT_* values. */
#define HVM_ROS_PORT_INIT 0x0604
#define HVM_ROS_INIT_STARTED 0 /* user space has started: /init's first act */
#define HVM_ROS_INIT_CONSOLES_READY 1 /* ttyS1 is open and takes input */
/* The byte is the command's exit status; the VM stops. */
#define HVM_ROS_PORT_EXIT 0x0605
#define HVM_ROS_PORT_COUNT 2

#endif
