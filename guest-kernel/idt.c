/*
 * The interrupt descriptor table and the first C code of every trap:
 * recovery through the fixup table, ring-3 exits, host-ROS exception
 * forwarding and the panic report for everything unexpected.
 */
#include "kernel.h"

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type; /* present, DPL 0, 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

#define IDT_GATE_INTERRUPT 0x8e

/*
 * One IDT shared by every HRT CPU. The integrator reuses it on other
 * vCPUs (it reads IDTR after boot-complete), so it lives in .bss of the
 * image and never changes after boot. The gates name IST slots, so every
 * vCPU that loads it needs a TSS with IST1-IST3 set.
 */
static struct idt_gate hrt_idt[256] __attribute__((aligned(16)));

static void idt_gate_set(unsigned vector, const void *handler, unsigned ist)
{
    uint64_t address = (uint64_t)handler;
    struct idt_gate gate = {
        .offset_low = (uint16_t)address,
        .selector = HVM_SEL_KERNEL_CS,
        .ist = (uint8_t)ist,
        .type = IDT_GATE_INTERRUPT,
        .offset_mid = (uint16_t)(address >> 16),
        .offset_high = (uint32_t)(address >> 32),
    };

    hrt_idt[vector] = gate;
}

static unsigned exception_ist(unsigned vector)
{
    if (vector == 2 || vector == 8 || vector == 18)
        return HVM_IST_NMI; /* NMI, double fault, machine check */
    return HVM_IST_FAULT;
}

/*
 * Fills the shared IDT and loads it. Every CPU runs this at boot and they
 * all write identical bytes, so a CPU that loads IDTR depends only on its
 * own completed writes. No CPU waits for another, because a ring-0 wait
 * is a spin loop, which is slow where KVM interprets ring 0.
 */
void hrt_idt_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {sizeof(hrt_idt) - 1, (uint64_t)hrt_idt};
    unsigned v;

    for (v = 0; v < 32; v++)
        idt_gate_set(v, (const void *)hrt_isr_table[v], exception_ist(v));
    idt_gate_set(HRT_VEC_TIMER, hrt_isr_timer, HVM_IST_IRQ);
    idt_gate_set(HRT_VEC_IPI, hrt_isr_ipi, HVM_IST_IRQ);
    idt_gate_set(HRT_VEC_IPI_TEST, hrt_isr_ipi_test, HVM_IST_IRQ);
    idt_gate_set(HRT_VEC_SPURIOUS, hrt_isr_spurious, HVM_IST_IRQ);
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

static uint64_t read_cr2(void)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    return cr2;
}

/* Resumes a ring-0 fault listed in the fixup table. Returns 1 if found. */
static int fixup_apply(struct hrt_frame *frame)
{
    const uint64_t *entry;
    struct hrt_percpu *cpu;

    for (entry = hrt_fixup_table_start; entry < hrt_fixup_table_end;
         entry += 2) {
        if (entry[0] != frame->rip)
            continue;
        cpu = hrt_this_cpu();
        cpu->fixup_vector = frame->vector;
        cpu->fixup_error_code = frame->error_code;
        cpu->fixup_cr2 = frame->vector == 14 ? read_cr2() : 0;
        cpu->fixup_count++;
        frame->rip = entry[1];
        return 1;
    }
    return 0;
}

/*
 * Host-ROS and guest-ROS exception contract: an exception taken in ring
 * 3 or at a lower-half RIP (application code) is described in a struct
 * hvm_exception on this IST stack and sent with HVM_HC_EXCEPTION, whose
 * argument is the struct's guest physical address. HVM_OK means that
 * the VMM fixed the cause. The handler then reloads RIP and RSP from the
 * struct, which the VMM may have changed, and returns with iretq. Any
 * other result halts this CPU for good. This path does not use GS,
 * because application code may have its own GS base.
 */
static void host_ros_exception(struct hrt_frame *frame)
{
    struct hvm_exception exc = {
        .vector = frame->vector,
        .error_code = frame->error_code,
        .rip = frame->rip,
        .cs = frame->cs,
        .rflags = frame->rflags,
        .rsp = frame->rsp,
        .ss = frame->ss,
        .cr2 = frame->vector == 14 ? read_cr2() : 0,
    };
    int64_t result;

    result = hrt_hypercall(HVM_HC_EXCEPTION, hrt_virt_to_phys(&exc), 0);
    if (result != HVM_OK)
        hrt_halt_forever();
    frame->rip = exc.rip;
    frame->rsp = exc.rsp;
}

static HRT_NORETURN void exception_panic(struct hrt_frame *frame)
{
    struct hvm_panic_report report;

    memset(&report, 0, sizeof(report));
    report.cpu = (uint32_t)hrt_this_cpu()->cpu;
    report.vector = (uint32_t)frame->vector;
    report.error_code = frame->error_code;
    report.rip = frame->rip;
    report.cr2 = read_cr2();
    report.rsp = frame->rsp;
    report.rflags = frame->rflags;
    report.cs = frame->cs;
    hrt_snprintf(report.message, sizeof(report.message),
                 "unexpected exception in ring %u", (unsigned)(frame->cs & 3));
    hrt_hypercall(HVM_HC_PANIC, hrt_virt_to_phys(&report), 0);
    hrt_halt_forever();
}

static int is_application_code(const struct hrt_frame *frame)
{
    return (frame->cs & 3) != 0 || frame->rip < (1ULL << 47);
}

/* Called by every stub. Returns 1 when the scheduler should preempt. */
int hrt_trap(struct hrt_frame *frame)
{
    if (frame->vector == HRT_VEC_TIMER)
        return hrt_timer_interrupt(frame);
    if (frame->vector == HRT_VEC_IPI || frame->vector == HRT_VEC_IPI_TEST) {
        hrt_ipi_interrupt(frame);
        return 0;
    }
    if (frame->vector == HRT_VEC_SPURIOUS)
        return 0; /* spurious interrupts take no EOI */
    /* Guest ROS: the VMM runs Linux processes in ring 3 here. */
    if ((hrt_boot_info->flags & HVM_BOOT_HOST_ROS ||
         ((hrt_boot_info->flags & HVM_BOOT_GUEST_ROS) &&
          !(hrt_boot_info->flags & HVM_BOOT_SELFTEST))) &&
        is_application_code(frame)) {
        host_ros_exception(frame);
        return 0;
    }
    if ((frame->cs & 3) == 0 && fixup_apply(frame))
        return 0;
    if ((frame->cs & 3) != 0 && hrt_user_exception(frame))
        return 0;
    exception_panic(frame);
}
