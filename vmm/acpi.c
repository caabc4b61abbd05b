/*
 * Builds the ACPI tables of the ROS (ACPI 6.0 layouts). Only ROS
 * processors appear in the MADT, so a kernel with ACPI never starts the
 * HRT's vCPUs. The FADT declares a hardware-reduced platform: there is no
 * PM timer, no SCI and no fixed-hardware register block to emulate.
 */
#include "acpi.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mptable.h"

#define ACPI_HEADER_SIZE 36
#define ACPI_RSDP_SIZE 36
#define ACPI_FADT_SIZE 276
#define ACPI_MADT_CPU_SIZE 8
#define ACPI_MADT_IOAPIC_SIZE 12
#define ACPI_MADT_NMI_SIZE 6

#define FADT_WBINVD (1u << 0)
#define FADT_POWER_BUTTON_ABSENT (1u << 4)
#define FADT_SLEEP_BUTTON_ABSENT (1u << 5)
#define FADT_HW_REDUCED (1u << 20)
#define FADT_BOOT_VGA_ABSENT (1u << 2)
#define FADT_BOOT_CMOS_RTC_ABSENT (1u << 5)
#define MADT_PCAT_COMPAT 1u
#define MADT_CPU_ENABLED 1u

/*
 * The DSDT's AML body: Name (_S5, Package (4) { 5, 0, 0, 0 }), the sleep
 * type that Linux writes to the sleep control register to power off.
 */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '5', '_',            /* NameOp "_S5_" */
    0x12, 0x07, 0x04,                    /* PackageOp, length 7, 4 items */
    0x0a, VMM_ACPI_S5_TYPE, 0x00, 0x00, 0x00, /* BytePrefix 5, Zero x3 */
};

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Writes a system description table header; the checksum comes later. */
static void acpi_header_put(uint8_t *p, const char *signature,
                            uint32_t length, uint8_t revision)
{
    memcpy(p, signature, 4);
    put32(p + 4, length);
    p[8] = revision;
    memcpy(p + 10, "HVM   ", 6);
    memcpy(p + 16, "HYBRIDVM", 8);
    put32(p + 24, 1);
    memcpy(p + 28, "HVM ", 4);
    put32(p + 32, 1);
}

static void acpi_table_finish(uint8_t *p)
{
    uint32_t length;

    memcpy(&length, p + 4, 4);
    p[9] = 0;
    p[9] = vmm_checksum(p, length);
}

/* A generic address structure for a one-byte I/O port register. */
static void acpi_gas_port_put(uint8_t *p, uint16_t port)
{
    p[0] = 1; /* system I/O space */
    p[1] = 8; /* register width in bits */
    p[2] = 0;
    p[3] = 1; /* byte access */
    put64(p + 4, port);
}

static void acpi_fadt_put(uint8_t *p, uint64_t dsdt_gpa)
{
    acpi_header_put(p, "FACP", ACPI_FADT_SIZE, 6);
    put32(p + 40, (uint32_t)dsdt_gpa);
    put16(p + 109, FADT_BOOT_VGA_ABSENT | FADT_BOOT_CMOS_RTC_ABSENT);
    put32(p + 112, FADT_WBINVD | FADT_POWER_BUTTON_ABSENT |
                       FADT_SLEEP_BUTTON_ABSENT | FADT_HW_REDUCED);
    p[131] = 0; /* FADT minor version: 6.0 */
    put64(p + 140, dsdt_gpa);
    acpi_gas_port_put(p + 244, VMM_ACPI_SLEEP_CONTROL_PORT);
    acpi_gas_port_put(p + 256, VMM_ACPI_SLEEP_STATUS_PORT);
    memcpy(p + 268, "HVMHVMHV", 8);
    acpi_table_finish(p);
}

static size_t acpi_madt_size(unsigned ncpus)
{
    return ACPI_HEADER_SIZE + 8 + ncpus * ACPI_MADT_CPU_SIZE +
           ACPI_MADT_IOAPIC_SIZE + ACPI_MADT_NMI_SIZE;
}

static void acpi_madt_put(uint8_t *p, unsigned ncpus)
{
    uint8_t *entry = p + ACPI_HEADER_SIZE + 8;

    acpi_header_put(p, "APIC", (uint32_t)acpi_madt_size(ncpus), 5);
    put32(p + 36, VMM_LAPIC_ADDR);
    put32(p + 40, MADT_PCAT_COMPAT);
    for (unsigned cpu = 0; cpu < ncpus; cpu++, entry += ACPI_MADT_CPU_SIZE) {
        entry[0] = 0; /* processor local APIC */
        entry[1] = ACPI_MADT_CPU_SIZE;
        entry[2] = (uint8_t)cpu; /* ACPI processor UID */
        entry[3] = (uint8_t)cpu; /* APIC ID */
        put32(entry + 4, MADT_CPU_ENABLED);
    }
    entry[0] = 1; /* I/O APIC */
    entry[1] = ACPI_MADT_IOAPIC_SIZE;
    entry[2] = (uint8_t)ncpus;
    put32(entry + 4, VMM_IOAPIC_ADDR);
    put32(entry + 8, 0); /* first GSI */
    entry += ACPI_MADT_IOAPIC_SIZE;
    entry[0] = 4; /* local APIC NMI on LINT1 of every processor */
    entry[1] = ACPI_MADT_NMI_SIZE;
    entry[2] = 0xff;
    put16(entry + 3, 0);
    entry[5] = 1;
    acpi_table_finish(p);
}

static void acpi_rsdp_put(uint8_t *p, uint64_t xsdt_gpa)
{
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "HVM   ", 6);
    p[15] = 2; /* ACPI 2.0 or later: the XSDT is valid */
    put32(p + 20, ACPI_RSDP_SIZE);
    put64(p + 24, xsdt_gpa);
    p[8] = vmm_checksum(p, 20);
    p[32] = vmm_checksum(p, ACPI_RSDP_SIZE);
}

static int acpi_plan_check(const struct vmm_partition *plan, char *err,
                           size_t errlen)
{
    if (plan->ros_cpus == 0) {
        snprintf(err, errlen, "ACPI: the plan has no ROS processors");
        return -1;
    }
    if (plan->ros_cpus > VMM_ACPI_MAX_CPUS) {
        snprintf(err, errlen, "ACPI: %u ROS processors, at most %d fit",
                 plan->ros_cpus, VMM_ACPI_MAX_CPUS);
        return -1;
    }
    if (plan->hrt_cpus > 0 && plan->first_hrt_cpu < plan->ros_cpus) {
        snprintf(err, errlen, "ACPI: HRT processor %u overlaps the %u ROS "
                 "processors", plan->first_hrt_cpu, plan->ros_cpus);
        return -1;
    }
    return 0;
}

size_t vmm_acpi_build(uint8_t *buf, size_t buflen, uint64_t buf_gpa,
                      const struct vmm_partition *plan, char *err,
                      size_t errlen)
{
    size_t xsdt = align16(ACPI_RSDP_SIZE);
    size_t fadt = align16(xsdt + ACPI_HEADER_SIZE + 2 * 8);
    size_t dsdt = align16(fadt + ACPI_FADT_SIZE);
    size_t madt = align16(dsdt + ACPI_HEADER_SIZE + sizeof(dsdt_aml));
    size_t end;

    if (acpi_plan_check(plan, err, errlen) < 0)
        return 0;
    end = madt + acpi_madt_size(plan->ros_cpus);
    if (buflen < end || buf_gpa % 16 != 0 || buf_gpa + end > UINT32_MAX) {
        snprintf(err, errlen, "ACPI: %zu bytes at 0x%" PRIx64 " do not fit "
                 "16-byte aligned %zu bytes of tables below 4 GiB", buflen,
                 buf_gpa, end);
        return 0;
    }
    memset(buf, 0, end);

    acpi_header_put(buf + dsdt, "DSDT",
                    (uint32_t)(ACPI_HEADER_SIZE + sizeof(dsdt_aml)), 2);
    memcpy(buf + dsdt + ACPI_HEADER_SIZE, dsdt_aml, sizeof(dsdt_aml));
    acpi_table_finish(buf + dsdt);
    acpi_fadt_put(buf + fadt, buf_gpa + dsdt);
    acpi_madt_put(buf + madt, plan->ros_cpus);

    acpi_header_put(buf + xsdt, "XSDT", ACPI_HEADER_SIZE + 2 * 8, 1);
    put64(buf + xsdt + ACPI_HEADER_SIZE, buf_gpa + fadt);
    put64(buf + xsdt + ACPI_HEADER_SIZE + 8, buf_gpa + madt);
    acpi_table_finish(buf + xsdt);
    acpi_rsdp_put(buf, buf_gpa + xsdt);
    return end;
}
