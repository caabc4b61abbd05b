/*
 * The Intel MultiProcessor Specification (1.4) table for Linux kernels
 * built without ACPI: a floating pointer and a configuration table with
 * the ROS processors, one ISA bus, the I/O APIC and its interrupt entries.
 */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"

#define VMM_LAPIC_ADDR 0xfee00000U
#define VMM_IOAPIC_ADDR 0xfec00000U
/* ISA interrupts 0-15 reach I/O APIC pins 0-15, KVM's default routing. */
#define VMM_ISA_IRQS 16

/* The MP table lists at most this many processors (8-bit APIC IDs). */
#define VMM_MPTABLE_MAX_CPUS 254

/* Bytes the floating pointer and the table take for ncpus processors. */
size_t vmm_mptable_size(unsigned ncpus);

/*
 * Writes the floating pointer and, right after it, the configuration
 * table into buf, whose first byte is at guest physical address buf_gpa
 * (16-byte aligned, below 1 MiB so Linux's scan finds it). Processors get
 * APIC IDs 0 to ros_cpus - 1 and the first is the boot processor; the I/O
 * APIC gets ID ros_cpus. Returns the bytes written, or 0 with a message in
 * err if the plan has no ROS processors, too many, overlapping HRT
 * processors, or buf is too small.
 */
size_t vmm_mptable_build(uint8_t *buf, size_t buflen, uint64_t buf_gpa,
                         const struct vmm_partition *plan, char *err,
                         size_t errlen);

/* Returns the byte that makes the sum of data[0..len) zero. */
uint8_t vmm_checksum(const void *data, size_t len);

#endif
