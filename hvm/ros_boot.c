/*
 * Writes the guest ROS's kernel, initramfs and boot data into its memory
 * and creates its vCPUs. The layout is described in ros_boot.h.
 */
#include "ros_boot.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "bootparams.h"
#include "bzimage.h"
#include "e820.h"
#include "elf.h"
#include "mptable.h"
#include "pagetable.h"
#include "ros_initrd.h"

#define ROS_GDT_GPA 0x1000ULL
#define ROS_ZERO_PAGE_GPA 0x7000ULL
#define ROS_PT_POOL_GPA 0x10000ULL
#define ROS_PT_POOL_SIZE 0x10000ULL
#define ROS_CMDLINE_GPA 0x20000ULL
#define ROS_CMDLINE_MAX 4096
#define ROS_MPTABLE_GPA 0xf0000ULL
#define ROS_MPTABLE_MAX 0x10000ULL

static void *ros_ptr(const struct hvm_ros_boot_config *config, uint64_t gpa,
                     uint64_t size)
{
    return vmm_gpa_to_hva(config->vm, gpa, size);
}

/*
 * A vmlinux states its entry point as a physical address (startup_64 at
 * its load address), while the ELF loader checks entry points against
 * virtual addresses. Rewrites e_entry to the virtual alias of the segment
 * that contains it and returns the physical entry, or 0 if none does.
 */
static uint64_t elf_entry_virtualize(uint8_t *image, size_t size)
{
    uint64_t entry, phoff;
    uint16_t phentsize, phnum;

    if (size < 64)
        return 0;
    memcpy(&entry, image + 24, 8);
    memcpy(&phoff, image + 32, 8);
    memcpy(&phentsize, image + 54, 2);
    memcpy(&phnum, image + 56, 2);
    for (uint16_t i = 0; i < phnum; i++) {
        uint64_t at = phoff + (uint64_t)i * phentsize, vaddr, paddr, memsz;
        uint32_t type;

        if (phentsize < 56 || at > size || size - at < 56)
            return 0;
        memcpy(&type, image + at, 4);
        memcpy(&vaddr, image + at + 16, 8);
        memcpy(&paddr, image + at + 24, 8);
        memcpy(&memsz, image + at + 40, 8);
        if (type == 1 && entry >= paddr && entry - paddr < memsz) {
            uint64_t virtual_entry = vaddr + (entry - paddr);

            memcpy(image + 24, &virtual_entry, 8);
            return entry;
        }
    }
    return 0;
}

static int kernel_load_elf(const struct hvm_ros_boot_config *config,
                           struct hvm_ros_boot_layout *layout, char *err,
                           size_t errlen)
{
    const struct vmm_mem_range *low = &config->plan->ros_ranges[0];
    struct vmm_elf_target target = {
        .mem = ros_ptr(config, low->gpa, low->size),
        .phys_base = low->gpa,
        .phys_size = low->size,
        .paddr_is_offset = 0,
    };
    struct vmm_elf_info info;
    uint64_t entry = elf_entry_virtualize(config->kernel,
                                          config->kernel_size);

    if (entry == 0) {
        snprintf(err, errlen, "vmlinux: the entry point is not inside a "
                 "loadable segment");
        return -1;
    }
    if (vmm_elf_load(config->kernel, config->kernel_size, &target, &info,
                     err, errlen) < 0)
        return -1;
    layout->entry = entry;
    layout->kernel_start = info.phys_start;
    layout->kernel_end = info.phys_end;
    return 0;
}

/*
 * NOTE: this path has run Debian's cloud kernel only where KVM interprets
 * guest ring 0, as far as early kernel initialization; no bzImage has
 * reached /init under hardware virtualization yet.
 */
static int kernel_load_bzimage(const struct hvm_ros_boot_config *config,
                               struct vmm_bzimage *bz,
                               struct hvm_ros_boot_layout *layout, char *err,
                               size_t errlen)
{
    const struct vmm_mem_range *low = &config->plan->ros_ranges[0];
    uint64_t address;
    void *dest;

    if (vmm_bzimage_parse(config->kernel, config->kernel_size, bz, err,
                          errlen) < 0 ||
        vmm_bzimage_load_address(bz, VMM_E820_HIGH_START,
                                 low->gpa + low->size, &address, err,
                                 errlen) < 0)
        return -1;
    dest = ros_ptr(config, address, bz->init_size);
    if (dest == NULL) {
        snprintf(err, errlen, "bzImage: 0x%" PRIx64 " is outside ROS "
                 "memory", address);
        return -1;
    }
    memcpy(dest, bz->kernel, bz->kernel_size);
    layout->entry = address + VMM_BZIMAGE_ENTRY64_OFFSET;
    layout->kernel_start = address;
    layout->kernel_end = address + bz->init_size;
    return 0;
}

/* Places the initramfs and the command archive at the top of low memory. */
static int initrd_load(const struct hvm_ros_boot_config *config,
                       struct hvm_ros_boot_layout *layout, char *err,
                       size_t errlen)
{
    const struct vmm_mem_range *low = &config->plan->ros_ranges[0];
    size_t base = (config->initrd_size + 3) & ~(size_t)3;
    size_t extra = config->argc > 0
                       ? hvm_ros_argv_archive_size(config->argc,
                                                   config->argv) + 1
                       : 0;
    uint64_t total = base + extra, gpa;
    uint8_t *dest;

    if (total + layout->kernel_end > low->gpa + low->size) {
        snprintf(err, errlen, "ROS memory of %" PRIu64 " MiB cannot hold "
                 "the kernel (up to 0x%" PRIx64 ") and a %" PRIu64
                 "-byte initramfs: raise --ros-mem", low->size >> 20,
                 layout->kernel_end, total);
        return -1;
    }
    gpa = (low->gpa + low->size - total) & ~0xfffULL;
    dest = ros_ptr(config, gpa, total);
    if (dest == NULL) {
        snprintf(err, errlen, "initramfs: 0x%" PRIx64 " is outside ROS "
                 "memory", gpa);
        return -1;
    }
    memcpy(dest, config->initrd, config->initrd_size);
    memset(dest + config->initrd_size, 0, base - config->initrd_size);
    if (extra > 0)
        extra = hvm_ros_argv_archive_build(dest + base, extra, config->argc,
                                           config->argv);
    layout->initrd_gpa = gpa;
    layout->initrd_size = base + extra;
    return 0;
}

/* Writes the GDT and identity page tables over low ROS memory. */
static int page_tables_build(const struct hvm_ros_boot_config *config,
                             uint64_t *pml4, char *err, size_t errlen)
{
    const struct vmm_mem_range *low = &config->plan->ros_ranges[0];
    struct vmm_pt_builder builder;
    uint64_t *gdt = ros_ptr(config, ROS_GDT_GPA, HVM_GDT_ENTRIES * 8);
    uint64_t mapped = (low->size + VMM_HUGE_PAGE_SIZE - 1) &
                      ~(VMM_HUGE_PAGE_SIZE - 1);

    if (gdt == NULL ||
        vmm_pt_init(&builder, ros_ptr(config, ROS_PT_POOL_GPA,
                                      ROS_PT_POOL_SIZE),
                    ROS_PT_POOL_GPA, ROS_PT_POOL_SIZE) < 0 ||
        vmm_pt_map(&builder, 0, 0, mapped, VMM_PTE_WRITE) < 0) {
        snprintf(err, errlen, "cannot build the ROS boot page tables");
        return -1;
    }
    vmm_x86_gdt_build(gdt, 0, 0);
    *pml4 = builder.pml4_phys;
    return 0;
}

static int firmware_tables_build(const struct hvm_ros_boot_config *config,
                                 char *err, size_t errlen)
{
    uint8_t *acpi = ros_ptr(config, VMM_ACPI_GPA, VMM_ACPI_MAX_SIZE);
    uint8_t *mp = ros_ptr(config, ROS_MPTABLE_GPA, ROS_MPTABLE_MAX);

    if (acpi == NULL || mp == NULL) {
        snprintf(err, errlen, "ROS memory does not cover the BIOS area");
        return -1;
    }
    if (vmm_acpi_build(acpi, VMM_ACPI_MAX_SIZE, VMM_ACPI_GPA, config->plan,
                       err, errlen) == 0 ||
        vmm_mptable_build(mp, ROS_MPTABLE_MAX, ROS_MPTABLE_GPA, config->plan,
                          err, errlen) == 0)
        return -1;
    return 0;
}

static int zero_page_build(const struct hvm_ros_boot_config *config,
                           const struct vmm_bzimage *bz,
                           const struct hvm_ros_boot_layout *layout,
                           char *err, size_t errlen)
{
    struct vmm_e820_map e820;
    size_t cmdline_length = strlen(config->cmdline);
    char *cmdline = ros_ptr(config, ROS_CMDLINE_GPA, ROS_CMDLINE_MAX);
    struct vmm_boot_params_config params = {
        .setup_header = bz ? bz->setup_header : NULL,
        .setup_header_size = bz ? bz->setup_header_size : 0,
        .cmdline_gpa = ROS_CMDLINE_GPA,
        .cmdline_length = cmdline_length,
        .initrd_gpa = layout->initrd_gpa,
        .initrd_size = layout->initrd_size,
        .rsdp_gpa = VMM_ACPI_GPA,
        .e820 = &e820,
    };

    if (cmdline_length >= ROS_CMDLINE_MAX) {
        snprintf(err, errlen, "kernel command line of %zu bytes is too long",
                 cmdline_length);
        return -1;
    }
    memcpy(cmdline, config->cmdline, cmdline_length + 1);
    if (vmm_e820_build_ros(config->plan, &e820, err, errlen) < 0)
        return -1;
    return vmm_boot_params_build(ros_ptr(config, ROS_ZERO_PAGE_GPA,
                                         VMM_ZERO_PAGE_SIZE),
                                 &params, err, errlen);
}

int hvm_ros_boot_load(const struct hvm_ros_boot_config *config,
                      struct hvm_ros_boot_layout *layout, char *err,
                      size_t errlen)
{
    struct vmm_bzimage bz;
    int is_elf = config->format == HVM_ROS_KERNEL_ELF;

    memset(layout, 0, sizeof(*layout));
    if (ros_ptr(config, 0, ROS_CMDLINE_GPA + ROS_CMDLINE_MAX) == NULL) {
        snprintf(err, errlen, "ROS memory at guest physical 0 is missing");
        return -1;
    }
    if ((is_elf ? kernel_load_elf(config, layout, err, errlen)
                : kernel_load_bzimage(config, &bz, layout, err, errlen)) < 0)
        return -1;
    if (layout->kernel_start < VMM_E820_HIGH_START) {
        snprintf(err, errlen, "kernel at 0x%" PRIx64 " overlaps the boot "
                 "data below 1 MiB", layout->kernel_start);
        return -1;
    }
    if (initrd_load(config, layout, err, errlen) < 0 ||
        page_tables_build(config, &layout->pml4_gpa, err, errlen) < 0 ||
        firmware_tables_build(config, err, errlen) < 0 ||
        zero_page_build(config, is_elf ? NULL : &bz, layout, err,
                        errlen) < 0)
        return -1;
    return 0;
}

int hvm_ros_vcpus_create(struct vmm_vm *vm, const struct vmm_partition *plan,
                         const struct hvm_ros_boot_layout *layout)
{
    struct vmm_long_mode state = {
        .cr3 = layout->pml4_gpa,
        .gdt_base = ROS_GDT_GPA,
        .gdt_limit = HVM_GDT_ENTRIES * 8 - 1,
        .rip = layout->entry,
        .rsp = ROS_ZERO_PAGE_GPA,
        .rsi = ROS_ZERO_PAGE_GPA, /* the 64-bit boot protocol's zero page */
    };

    for (unsigned i = 0; i < plan->ros_cpus; i++) {
        struct vmm_vcpu *vcpu = vmm_vcpu_create(vm, i);

        /* CPUID without CX16 and the KVM paravirtual features. */
        if (vcpu == NULL || vmm_x86_set_cpuid(vcpu, 1) < 0)
            return -1;
        if (i == 0 && vmm_x86_set_long_mode(vcpu, &state) < 0)
            return -1;
    }
    return 0;
}
