/*
 * Builds the MP table (Intel MultiProcessor Specification 1.4, chapter 4)
 * for the ROS. Only ROS processors are listed, so a kernel without ACPI
 * never starts the HRT's vCPUs.
 */
#include "mptable.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MP_SPEC_REV 4
#define MP_FLOATING_SIZE 16
#define MP_HEADER_SIZE 44
#define MP_CPU_SIZE 20
#define MP_SMALL_ENTRY_SIZE 8 /* bus, I/O APIC, interrupt entries */

enum mp_entry_type {
    MP_PROCESSOR = 0,
    MP_BUS = 1,
    MP_IOAPIC = 2,
    MP_IO_INTERRUPT = 3,
    MP_LOCAL_INTERRUPT = 4,
};

enum mp_interrupt_type {
    MP_INT = 0,
    MP_NMI = 1,
    MP_EXTINT = 3,
};

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_LAPIC_VERSION 0x14  /* an integrated xAPIC */
#define MP_IOAPIC_VERSION 0x11 /* an 82093AA-compatible I/O APIC */
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES 0x201  /* FPU and on-chip APIC (CPUID.1:EDX) */

/* Entries: processors, one bus, one I/O APIC, ISA IRQs, LINT0 and LINT1. */
static unsigned mp_entry_count(unsigned ncpus)
{
    return ncpus + 1 + 1 + VMM_ISA_IRQS + 2;
}

size_t vmm_mptable_size(unsigned ncpus)
{
    return MP_FLOATING_SIZE + MP_HEADER_SIZE + ncpus * MP_CPU_SIZE +
           (mp_entry_count(ncpus) - ncpus) * MP_SMALL_ENTRY_SIZE;
}

uint8_t vmm_checksum(const void *data, size_t len)
{
    const uint8_t *bytes = data;
    uint8_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum += bytes[i];
    return (uint8_t)-sum;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint8_t *mp_processor_put(uint8_t *p, unsigned apic_id)
{
    p[0] = MP_PROCESSOR;
    p[1] = (uint8_t)apic_id;
    p[2] = MP_LAPIC_VERSION;
    p[3] = MP_CPU_ENABLED | (apic_id == 0 ? MP_CPU_BSP : 0);
    put32(p + 4, MP_CPU_SIGNATURE);
    put32(p + 8, MP_CPU_FEATURES);
    return p + MP_CPU_SIZE;
}

static uint8_t *mp_interrupt_put(uint8_t *p, enum mp_entry_type type,
                                 enum mp_interrupt_type kind, uint8_t irq,
                                 uint8_t dest_id, uint8_t dest_pin)
{
    p[0] = (uint8_t)type;
    p[1] = (uint8_t)kind;
    put16(p + 2, 0); /* polarity and trigger conform to the ISA bus */
    p[4] = 0;        /* source bus: the ISA bus */
    p[5] = irq;
    p[6] = dest_id;
    p[7] = dest_pin;
    return p + MP_SMALL_ENTRY_SIZE;
}

static uint8_t *mp_entries_put(uint8_t *p, unsigned ncpus)
{
    uint8_t ioapic_id = (uint8_t)ncpus;

    for (unsigned cpu = 0; cpu < ncpus; cpu++)
        p = mp_processor_put(p, cpu);
    p[0] = MP_BUS;
    p[1] = 0;
    memcpy(p + 2, "ISA   ", 6);
    p += MP_SMALL_ENTRY_SIZE;
    p[0] = MP_IOAPIC;
    p[1] = ioapic_id;
    p[2] = MP_IOAPIC_VERSION;
    p[3] = MP_IOAPIC_ENABLED;
    put32(p + 4, VMM_IOAPIC_ADDR);
    p += MP_SMALL_ENTRY_SIZE;
    for (unsigned irq = 0; irq < VMM_ISA_IRQS; irq++)
        p = mp_interrupt_put(p, MP_IO_INTERRUPT, MP_INT, (uint8_t)irq,
                             ioapic_id, (uint8_t)irq);
    /* The 8259 in virtual-wire mode on LINT0, NMI on LINT1, all CPUs. */
    p = mp_interrupt_put(p, MP_LOCAL_INTERRUPT, MP_EXTINT, 0, 0xff, 0);
    p = mp_interrupt_put(p, MP_LOCAL_INTERRUPT, MP_NMI, 0, 0xff, 1);
    return p;
}

static int mp_plan_check(const struct vmm_partition *plan, char *err,
                         size_t errlen)
{
    if (plan->ros_cpus == 0) {
        snprintf(err, errlen, "MP table: the plan has no ROS processors");
        return -1;
    }
    if (plan->ros_cpus > VMM_MPTABLE_MAX_CPUS) {
        snprintf(err, errlen, "MP table: %u ROS processors, at most %d fit",
                 plan->ros_cpus, VMM_MPTABLE_MAX_CPUS);
        return -1;
    }
    if (plan->hrt_cpus > 0 && plan->first_hrt_cpu < plan->ros_cpus) {
        snprintf(err, errlen, "MP table: HRT processor %u overlaps the %u "
                 "ROS processors", plan->first_hrt_cpu, plan->ros_cpus);
        return -1;
    }
    return 0;
}

size_t vmm_mptable_build(uint8_t *buf, size_t buflen, uint64_t buf_gpa,
                         const struct vmm_partition *plan, char *err,
                         size_t errlen)
{
    size_t size;
    uint8_t *table, *end;

    if (mp_plan_check(plan, err, errlen) < 0)
        return 0;
    size = vmm_mptable_size(plan->ros_cpus);
    if (buflen < size || buf_gpa % 16 != 0 ||
        buf_gpa + MP_FLOATING_SIZE > UINT32_MAX) {
        snprintf(err, errlen, "MP table: %zu bytes at 0x%" PRIx64 " do not "
                 "fit a 16-byte aligned %zu-byte table below 4 GiB", buflen,
                 buf_gpa, size);
        return 0;
    }
    memset(buf, 0, size);
    table = buf + MP_FLOATING_SIZE;
    end = mp_entries_put(table + MP_HEADER_SIZE, plan->ros_cpus);

    memcpy(table, "PCMP", 4);
    put16(table + 4, (uint16_t)(end - table));
    table[6] = MP_SPEC_REV;
    memcpy(table + 8, "HVM     ", 8);
    memcpy(table + 16, "HYBRID VM   ", 12);
    put16(table + 34, (uint16_t)mp_entry_count(plan->ros_cpus));
    put32(table + 36, VMM_LAPIC_ADDR);
    table[7] = vmm_checksum(table, (size_t)(end - table));

    memcpy(buf, "_MP_", 4);
    put32(buf + 4, (uint32_t)(buf_gpa + MP_FLOATING_SIZE));
    buf[8] = 1; /* length in 16-byte units */
    buf[9] = MP_SPEC_REV;
    buf[10] = vmm_checksum(buf, MP_FLOATING_SIZE);
    return size;
}
