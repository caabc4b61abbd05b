/*
 * x86 state for vCPUs that start directly in 64-bit mode: the GDT and TSS
 * layouts shared with the HRT, control registers, segment registers,
 * system-call MSRs and CPUID.
 */
#include "vmm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_OSXSAVE (1ULL << 18)
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

/* RFLAGS bits cleared on `syscall` entry: TF, IF, DF, IOPL, NT, AC. */
#define SYSCALL_FLAG_MASK 0x47700ULL

/* Descriptor encodings for flat segments (base 0, limit 4 GiB). */
#define GDT_KERNEL_CODE64 0x00af9b000000ffffULL
#define GDT_KERNEL_DATA 0x00cf93000000ffffULL
#define GDT_USER_CODE32 0x00cffb000000ffffULL
#define GDT_USER_DATA 0x00cff3000000ffffULL
#define GDT_USER_CODE64 0x00affb000000ffffULL

void vmm_x86_gdt_build(uint64_t *gdt, uint64_t tss_base, uint32_t tss_limit)
{
    memset(gdt, 0, HVM_GDT_ENTRIES * sizeof(uint64_t));
    gdt[HVM_SEL_KERNEL_CS >> 3] = GDT_KERNEL_CODE64;
    gdt[HVM_SEL_KERNEL_DS >> 3] = GDT_KERNEL_DATA;
    gdt[HVM_SEL_USER32_CS >> 3] = GDT_USER_CODE32;
    gdt[HVM_SEL_USER_DS >> 3] = GDT_USER_DATA;
    gdt[HVM_SEL_USER_CS >> 3] = GDT_USER_CODE64;
    /* 64-bit available TSS (type 9), present, DPL 0, 16 bytes. */
    gdt[HVM_SEL_TSS >> 3] = (tss_limit & 0xffffULL) |
                            ((tss_base & 0xffffffULL) << 16) | (0x89ULL << 40) |
                            ((uint64_t)(tss_limit >> 16) & 0xf) << 48 |
                            ((tss_base >> 24) & 0xffULL) << 56;
    gdt[(HVM_SEL_TSS >> 3) + 1] = tss_base >> 32;
}

uint32_t vmm_x86_tss_build(uint8_t *tss, uint64_t rsp0, const uint64_t ist[3])
{
    uint16_t iomap_base = 104;
    uint8_t *bitmap = tss + iomap_base;

    memset(tss, 0, VMM_TSS_SIZE);
    memcpy(tss + 4, &rsp0, 8);
    for (int i = 0; i < 3; i++)
        memcpy(tss + 36 + 8 * i, &ist[i], 8);
    memcpy(tss + 102, &iomap_base, 2);
    /* A set bit denies the port; the byte after the bitmap must be 0xff. */
    memset(bitmap, 0xff, 8192 + 1);
    for (unsigned port = HVM_HC_PORT_BASE;
         port < HVM_HC_PORT_BASE + HVM_HC_PORT_COUNT; port++)
        bitmap[port / 8] &= (uint8_t) ~(1u << (port % 8));
    return VMM_TSS_SIZE - 1;
}

static struct kvm_segment flat_segment(uint16_t selector, int code, int dpl)
{
    struct kvm_segment seg = {
        .base = 0,
        .limit = 0xffffffff,
        .selector = selector,
        .type = code ? 11 : 3, /* execute/read accessed, read/write accessed */
        .present = 1,
        .dpl = (uint8_t)dpl,
        .db = code ? 0 : 1,
        .s = 1,
        .l = code ? 1 : 0,
        .g = 1,
    };
    return seg;
}

static void long_mode_sregs(struct kvm_sregs *sregs,
                            const struct vmm_long_mode *state)
{
    int dpl = state->user ? 3 : 0;
    uint16_t cs = state->user ? HVM_SEL_USER_CS : HVM_SEL_KERNEL_CS;
    uint16_t ds = state->user ? HVM_SEL_USER_DS : HVM_SEL_KERNEL_DS;

    sregs->cs = flat_segment(cs, 1, dpl);
    sregs->ss = flat_segment(ds, 0, dpl);
    sregs->ds = sregs->es = sregs->ss;
    sregs->fs = flat_segment(0, 0, dpl);
    sregs->fs.base = state->fs_base;
    sregs->gs = sregs->fs;
    sregs->gs.base = state->gs_base;

    memset(&sregs->tr, 0, sizeof(sregs->tr));
    sregs->tr.base = state->tss_base;
    sregs->tr.limit = state->tss_limit;
    sregs->tr.selector = state->tss_base ? HVM_SEL_TSS : 0;
    sregs->tr.type = 11; /* busy 64-bit TSS */
    sregs->tr.present = 1;
    memset(&sregs->ldt, 0, sizeof(sregs->ldt));
    sregs->ldt.type = 2;
    sregs->ldt.unusable = 1;

    sregs->gdt.base = state->gdt_base;
    sregs->gdt.limit = state->gdt_limit;
    sregs->idt.base = state->idt_base;
    sregs->idt.limit = state->idt_limit;

    sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    sregs->cr3 = state->cr3;
    sregs->cr4 = CR4_PAE;
    if (state->sse)
        sregs->cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE;
    sregs->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
}

static int set_syscall_msrs(struct vmm_vcpu *vcpu,
                            const struct vmm_long_mode *state)
{
    struct {
        struct kvm_msrs header;
        struct kvm_msr_entry entries[5];
    } msrs = {0};
    /* sysret loads CS from STAR[63:48] + 16 and SS from STAR[63:48] + 8. */
    uint64_t star = ((uint64_t)HVM_SEL_USER32_CS << 48) |
                    ((uint64_t)HVM_SEL_KERNEL_CS << 32);
    unsigned n = 0;

    msrs.entries[n++] = (struct kvm_msr_entry){.index = MSR_STAR, .data = star};
    msrs.entries[n++] =
        (struct kvm_msr_entry){.index = MSR_SFMASK, .data = SYSCALL_FLAG_MASK};
    msrs.entries[n++] = (struct kvm_msr_entry){.index = MSR_KERNEL_GS_BASE,
                                               .data = state->kernel_gs_base};
    if (state->lstar != 0) {
        msrs.entries[n++] =
            (struct kvm_msr_entry){.index = MSR_LSTAR, .data = state->lstar};
        msrs.entries[n++] =
            (struct kvm_msr_entry){.index = MSR_CSTAR, .data = state->lstar};
    }
    msrs.header.nmsrs = n;
    if (ioctl(vcpu->fd, KVM_SET_MSRS, &msrs) != (int)n) {
        vmm_error("KVM_SET_MSRS on vCPU %u: only some MSRs were set",
                  vcpu->index);
        return -1;
    }
    return 0;
}

/* Enables the host's XCR0 state components so AVX code runs in the guest. */
static void set_xcr0(struct vmm_vcpu *vcpu)
{
    struct kvm_xcrs xcrs = {0};
    uint32_t lo, hi;

    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = ((uint64_t)hi << 32) | lo;
    if (ioctl(vcpu->fd, KVM_SET_XCRS, &xcrs) < 0)
        vmm_debug("KVM_SET_XCRS on vCPU %u failed: %s", vcpu->index,
                  strerror(errno));
}

int vmm_x86_set_long_mode(struct vmm_vcpu *vcpu,
                          const struct vmm_long_mode *state)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs = {0};
    struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};

    if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
        vmm_error_errno("KVM_GET_SREGS");
        return -1;
    }
    long_mode_sregs(&sregs, state);
    if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0) {
        vmm_error_errno("KVM_SET_SREGS");
        return -1;
    }
    if (state->sse)
        set_xcr0(vcpu);
    regs.rip = state->rip;
    regs.rsp = state->rsp;
    regs.rflags = state->rflags | 0x2; /* bit 1 is always set */
    regs.rdi = state->rdi;
    regs.rsi = state->rsi;
    regs.rdx = state->rdx;
    regs.rcx = state->rcx;
    if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0) {
        vmm_error_errno("KVM_SET_REGS");
        return -1;
    }
    if (set_syscall_msrs(vcpu, state) < 0)
        return -1;
    /* Without this a vCPU other than 0 waits for INIT/SIPI forever. */
    if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
        vmm_error_errno("KVM_SET_MP_STATE");
        return -1;
    }
    return 0;
}

#define CPUID_MAX_ENTRIES 256
#define CPUID_1_ECX_CX16 (1u << 13)
#define CPUID_KVM_FEATURES 0x40000001

static void cpuid_adjust(struct kvm_cpuid_entry2 *entry, unsigned apic_id,
                         int clear_kvm_pv)
{
    if (entry->function == 1) {
        /* The emulator of KVM without hardware support rejects it. */
        entry->ecx &= ~CPUID_1_ECX_CX16;
        entry->ebx = (entry->ebx & 0x00ffffffu) | (apic_id << 24);
    }
    if (entry->function == 0xb || entry->function == 0x1f)
        entry->edx = apic_id;
    if (entry->function == CPUID_KVM_FEATURES && clear_kvm_pv) {
        entry->eax = 0;
        entry->edx = 0;
    }
}

int vmm_x86_set_cpuid(struct vmm_vcpu *vcpu, int clear_kvm_pv)
{
    size_t size = sizeof(struct kvm_cpuid2) +
                  CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *cpuid = calloc(1, size);
    int result = -1;

    if (cpuid == NULL)
        return -1;
    cpuid->nent = CPUID_MAX_ENTRIES;
    if (ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
        vmm_error_errno("KVM_GET_SUPPORTED_CPUID");
        goto out;
    }
    for (uint32_t i = 0; i < cpuid->nent; i++)
        cpuid_adjust(&cpuid->entries[i], vcpu->index, clear_kvm_pv);
    if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0) {
        vmm_error_errno("KVM_SET_CPUID2");
        goto out;
    }
    result = 0;
out:
    free(cpuid);
    return result;
}
