/*
 * Loading the guest ROS from the host side. The kernel (a vmlinux ELF or a
 * bzImage), the initramfs with the command appended, the command line,
 * the boot data (zero page, e820, ACPI tables and MP table), the boot page
 * tables and the GDT are written into ROS memory before any vCPU runs.
 *
 * Low ROS memory, guest physical:
 *   0x1000   GDT with the boot selectors 0x10 (code) and 0x18 (data)
 *   0x7000   zero page; the boot stack grows down below it
 *   0x10000  identity page tables (2 MiB pages) over low ROS memory
 *   0x20000  kernel command line
 *   0x9fc00  reserved in the e820 map, as a BIOS's EBDA would be
 *   0xe0000  ACPI tables (RSDP first), then the MP table at 0xf0000
 *   kernel   at its physical load address (16 MiB for both formats)
 *   initrd   at the top of low ROS memory
 */
#ifndef HVM_ROS_BOOT_H
#define HVM_ROS_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"
#include "ros_kernel.h"
#include "vmm.h"

struct hvm_ros_boot_config {
    struct vmm_vm *vm;
    const struct vmm_partition *plan;
    enum hvm_ros_kernel_format format;
    void *kernel;          /* file contents; an ELF's header is adjusted */
    size_t kernel_size;
    const void *initrd;    /* the initramfs file */
    size_t initrd_size;
    int argc;              /* the command, or 0 for an interactive shell */
    char *const *argv;
    const char *cmdline;
};

struct hvm_ros_boot_layout {
    uint64_t entry;        /* 64-bit entry point, guest physical */
    uint64_t kernel_start, kernel_end;
    uint64_t initrd_gpa, initrd_size;
    uint64_t pml4_gpa;     /* boot page tables */
};

/*
 * Writes everything the kernel needs into ROS memory (the ROS regions
 * must exist). Returns 0, or -1 with a message in err.
 */
int hvm_ros_boot_load(const struct hvm_ros_boot_config *config,
                      struct hvm_ros_boot_layout *layout, char *err,
                      size_t errlen);

/*
 * Creates the ROS vCPUs (indexes 0 to ros_cpus - 1) with the CPUID that
 * Linux can run with here, and puts vCPU 0 at the entry point in 64-bit
 * mode. The others wait for Linux's INIT/SIPI. Returns 0 or -1.
 */
int hvm_ros_vcpus_create(struct vmm_vm *vm, const struct vmm_partition *plan,
                         const struct hvm_ros_boot_layout *layout);

#endif
