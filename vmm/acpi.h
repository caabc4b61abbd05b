/*
 * ACPI tables for Linux kernels built with ACPI: RSDP, XSDT, FADT (hardware
 * reduced, with a sleep control register so that power-off reaches the
 * VMM), a DSDT that defines only \_S5 and a MADT with the ROS processors.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"

/* Table location: Linux scans 0xe0000-0xfffff for the RSDP. */
#define VMM_ACPI_GPA 0xe0000ULL
#define VMM_ACPI_MAX_SIZE 0x10000ULL

/* The MADT lists at most this many processors (8-bit xAPIC IDs). */
#define VMM_ACPI_MAX_CPUS 254

/*
 * Ports of the FADT's sleep control and sleep status registers. Linux
 * powers off by writing (5 << 2) | VMM_ACPI_SLEEP_ENABLE to the control
 * port, 5 being the sleep type that the DSDT gives \_S5.
 */
#define VMM_ACPI_SLEEP_CONTROL_PORT 0x0600
#define VMM_ACPI_SLEEP_STATUS_PORT 0x0601
#define VMM_ACPI_SLEEP_ENABLE 0x20
#define VMM_ACPI_SLEEP_TYPE_MASK 0x1c
#define VMM_ACPI_S5_TYPE 5

/*
 * Writes the tables into buf, whose first byte is at guest physical
 * address buf_gpa (16-byte aligned, below 4 GiB); the RSDP comes first.
 * The MADT lists APIC IDs 0 to ros_cpus - 1 and an I/O APIC with ID
 * ros_cpus. Returns the bytes used, or 0 with a message in err if the plan
 * has no ROS processors, too many, overlapping HRT processors, or buf is
 * too small.
 */
size_t vmm_acpi_build(uint8_t *buf, size_t buflen, uint64_t buf_gpa,
                      const struct vmm_partition *plan, char *err,
                      size_t errlen);

#endif
