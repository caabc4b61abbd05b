/*
 * The report printed when a vCPU stops unexpectedly: why, the general
 * registers, the segment and control registers, and the instruction bytes
 * at RIP, so that a failure can be diagnosed from one paste.
 */
#include "vmm.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static void dump_instruction_bytes(struct vmm_vcpu *vcpu, uint64_t rip)
{
    struct kvm_run *run = vcpu->run;
    const uint8_t *bytes = NULL;
    unsigned count = 0;
    uint64_t gpa;

    if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
        run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
        (run->emulation_failure.flags &
         KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
        bytes = run->emulation_failure.insn_bytes;
        count = run->emulation_failure.insn_size;
        if (count > sizeof(run->emulation_failure.insn_bytes))
            count = sizeof(run->emulation_failure.insn_bytes);
    } else if (vmm_vcpu_translate(vcpu, rip, &gpa) == 0) {
        /* Stop at the page end so the read stays inside one page. */
        count = 16;
        if ((gpa & 4095) > 4096 - count)
            count = 4096 - (gpa & 4095);
        bytes = vmm_gpa_to_hva(vcpu->vm, gpa, count);
    }
    if (bytes == NULL) {
        vmm_print_raw("  code: RIP 0x%llx is not mapped to guest memory\n",
                      (unsigned long long)rip);
        return;
    }
    vmm_print_raw("  code at RIP:");
    for (unsigned i = 0; i < count; i++)
        vmm_print_raw(" %02x", bytes[i]);
    vmm_print_raw("\n");
}

static void dump_internal_error(const struct kvm_run *run)
{
    vmm_print_raw("  internal error suberror %u", run->internal.suberror);
    if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
        vmm_print_raw(" (instruction emulation failed: KVM cannot run "
                      "this instruction in this mode)");
    vmm_print_raw("\n");
    for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
        vmm_print_raw("  data[%u] 0x%llx\n", i,
                      (unsigned long long)run->internal.data[i]);
}

static void dump_segment(const char *name, const struct kvm_segment *seg)
{
    vmm_print_raw("  %-3s sel 0x%04x base 0x%016llx limit 0x%08x dpl %u%s\n",
                  name, seg->selector, (unsigned long long)seg->base,
                  seg->limit, seg->dpl, seg->l ? " long" : "");
}

void vmm_vcpu_dump(struct vmm_vcpu *vcpu, const char *why)
{
    struct kvm_regs r;
    struct kvm_sregs s;

    vmm_print_raw("hvm: vCPU %u stopped: %s\n", vcpu->index, why);
    if (vcpu->run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
        dump_internal_error(vcpu->run);
    if (vcpu->run->exit_reason == KVM_EXIT_IO)
        vmm_print_raw("  port 0x%x size %u count %u\n", vcpu->run->io.port,
                      vcpu->run->io.size, vcpu->run->io.count);
    if (vcpu->run->exit_reason == KVM_EXIT_MMIO)
        vmm_print_raw("  MMIO %s at 0x%llx, %u bytes\n",
                      vcpu->run->mmio.is_write ? "write" : "read",
                      (unsigned long long)vcpu->run->mmio.phys_addr,
                      vcpu->run->mmio.len);
    if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 ||
        ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
        vmm_error_errno("KVM_GET_REGS/KVM_GET_SREGS");
        return;
    }
    vmm_print_raw("  rip 0x%016llx rsp 0x%016llx rflags 0x%08llx\n"
                  "  rax 0x%016llx rbx 0x%016llx rcx 0x%016llx rdx 0x%016llx\n"
                  "  rsi 0x%016llx rdi 0x%016llx rbp 0x%016llx r8  0x%016llx\n"
                  "  r9  0x%016llx r10 0x%016llx r11 0x%016llx r12 0x%016llx\n"
                  "  r13 0x%016llx r14 0x%016llx r15 0x%016llx\n",
                  r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi,
                  r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14,
                  r.r15);
    vmm_print_raw("  cr0 0x%llx cr2 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx\n",
                  s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
    dump_segment("cs", &s.cs);
    dump_segment("ss", &s.ss);
    dump_segment("fs", &s.fs);
    dump_segment("gs", &s.gs);
    dump_segment("tr", &s.tr);
    vmm_print_raw("  gdt 0x%llx/%u idt 0x%llx/%u\n",
                  (unsigned long long)s.gdt.base, s.gdt.limit,
                  (unsigned long long)s.idt.base, s.idt.limit);
    dump_instruction_bytes(vcpu, r.rip);
}
