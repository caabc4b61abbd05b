/*
 * The local APIC in xAPIC mode: enable, periodic timer, IPIs and EOI.
 * The VMM maps the APIC page into the direct map (virtual address =
 * dmap_virt + lapic_phys - dmap_phys) and KVM's in-kernel irqchip serves
 * every access.
 */
#include "kernel.h"

#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0

#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_LVT_PERIODIC (1u << 17)
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_DIVIDE_BY_1 0xb

static volatile uint32_t *lapic_reg(unsigned offset)
{
    uint64_t base = (uint64_t)hrt_phys_to_virt(hrt_boot_info->lapic_phys);

    return (volatile uint32_t *)(base + offset);
}

static uint32_t lapic_read(unsigned offset)
{
    return *lapic_reg(offset);
}

static void lapic_write(unsigned offset, uint32_t value)
{
    *lapic_reg(offset) = value;
}

void hrt_lapic_init(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();

    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | HRT_VEC_SPURIOUS);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | HRT_VEC_TIMER);
    cpu->apic_id = lapic_read(LAPIC_ID) >> 24;
}

void hrt_lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

/* Starts the periodic timer; the platform clamps periods below 200 us. */
void hrt_lapic_timer_start(uint32_t period_us)
{
    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_DIVIDE_BY_1);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_PERIODIC | HRT_VEC_TIMER);
    lapic_write(LAPIC_TIMER_INITIAL, period_us * LAPIC_COUNTS_PER_US);
}

uint32_t hrt_lapic_timer_current(void)
{
    return lapic_read(LAPIC_TIMER_CURRENT);
}

void hrt_lapic_timer_stop(void)
{
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | HRT_VEC_TIMER);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
}

/* Sends a fixed-delivery IPI with the given vector to one APIC. */
void hrt_lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    uint64_t flags = hrt_irq_save();

    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, vector);
    hrt_irq_restore(flags);
}

int hrt_timer_interrupt(struct hrt_frame *frame)
{
    struct hrt_percpu *cpu = hrt_this_cpu();

    cpu->ticks++;
    hrt_lapic_eoi();
    if ((frame->cs & 3) != 0 || !cpu->preempt_enabled)
        return 0;
    return hrt_sched_others_runnable();
}

void hrt_ipi_interrupt(struct hrt_frame *frame)
{
    struct hrt_percpu *cpu = hrt_this_cpu();

    if (frame->vector == HRT_VEC_IPI_TEST) {
        cpu->ipi_test_tsc = hrt_rdtsc();
        cpu->ipi_test_count++;
    } else {
        cpu->ipi_count++;
    }
    hrt_lapic_eoi();
}
