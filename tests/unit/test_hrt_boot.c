/*
 * Unit tests of the HRT boot preparation (hvm/hrt_boot.c) without KVM:
 * configuration and image checks, the memory layout, the page tables,
 * GDT, TSS, boot info and register state that hrt_boot_load builds for
 * the real HRT image. The vCPUs are stand-ins: nothing here runs them.
 *
 * usage: test_hrt_boot HRT_IMAGE
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hrt_boot.h"
#include "pagetable.h"

#define MIB (1ULL << 20)
#define HRT_SIZE (32 * MIB)
#define NR_CPUS 2

static const char *image_path;
static void *image;
static size_t image_size;

static struct vmm_vm *vm;
static struct vmm_vcpu vcpus[NR_CPUS];
static struct hrt_boot boot;
static struct hrt_boot_config config;

static void setup(void)
{
    char err[256];

    image = vmm_file_read(image_path, &image_size, err, sizeof(err));
    ck_assert_msg(image != NULL, "%s", err);
    vm = calloc(1, sizeof(*vm));
    ck_assert_ptr_nonnull(vm);
    vm->regions[0].gpa = 0;
    vm->regions[0].size = HRT_SIZE;
    vm->regions[0].hva = aligned_alloc(2 * MIB, HRT_SIZE);
    ck_assert_ptr_nonnull(vm->regions[0].hva);
    vm->nr_regions = 1;
    for (unsigned i = 0; i < NR_CPUS; i++) {
        vcpus[i].vm = vm;
        vcpus[i].index = i;
        vm->vcpus[i] = &vcpus[i];
        config.vcpu_index[i] = i;
    }
    vm->nr_vcpus = NR_CPUS;
    config.vm = vm;
    config.hrt_gpa = 0;
    config.hrt_size = HRT_SIZE;
    config.hrt_hva = vm->regions[0].hva;
    config.nr_cpus = NR_CPUS;
    config.flags = HVM_BOOT_SELFTEST;
    config.user_region = 1;
    config.image = image;
    config.image_size = image_size;
}

static void teardown(void)
{
    free(vm->regions[0].hva);
    free(vm);
    free(image);
}

/* Initializes boot with config and expects success. */
static void init_ok(void)
{
    char err[256] = "";

    ck_assert_msg(hrt_boot_init(&boot, &config, err, sizeof(err)) == 0, "%s",
                  err);
}

/* Initializes boot with config and expects an error containing text. */
static void init_fails_with(const char *text)
{
    char err[256] = "";

    ck_assert_int_eq(hrt_boot_init(&boot, &config, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, text) != NULL, "error '%s' lacks '%s'", err,
                  text);
}

static uint8_t *host_of_kernel_virt(uint64_t virt)
{
    return config.hrt_hva + (virt - HVM_KERNEL_VIRT_BASE);
}

/* Walks the boot page tables built by hrt_boot_load. */
static int translate(uint64_t virt, uint64_t *phys, uint64_t *flags)
{
    struct vmm_pt_builder tables = {
        .pool = config.hrt_hva + boot.pt_offset,
        .pool_phys = config.hrt_gpa + boot.pt_offset,
        .pool_size = boot.pt_size,
        .used = boot.pt_size,
        .pml4_phys = boot.pml4_gpa,
    };

    return vmm_pt_translate(&tables, virt, phys, flags);
}

START_TEST(init_computes_layout)
{
    init_ok();
    ck_assert_uint_ge(boot.percpu_offset, boot.elf.phys_end);
    ck_assert_uint_eq(boot.percpu_offset % (2 * MIB), 0);
    ck_assert_uint_ge(boot.user_offset,
                      boot.percpu_offset + NR_CPUS * boot.percpu_stride);
    ck_assert_uint_eq(boot.user_offset % (2 * MIB), 0);
    ck_assert_uint_eq(boot.user_size, HRT_USER_REGION_SIZE);
    ck_assert_uint_eq(boot.heap_offset, boot.user_offset + boot.user_size);
    ck_assert_uint_le(boot.heap_offset + MIB, HRT_SIZE);
    ck_assert_uint_ge(boot.elf.entry, HVM_KERNEL_VIRT_BASE);
    hrt_boot_destroy(&boot);
}
END_TEST

START_TEST(init_rejects_small_memory)
{
    config.hrt_size = 4 * MIB;
    init_fails_with("too small");
    init_fails_with("give at least");
}
END_TEST

START_TEST(init_rejects_unaligned_memory)
{
    config.hrt_size = HRT_SIZE - 4096;
    init_fails_with("not 2 MiB aligned");
}
END_TEST

START_TEST(init_rejects_missing_vcpu)
{
    config.vcpu_index[1] = 7;
    init_fails_with("vCPU 7 does not exist");
}
END_TEST

START_TEST(init_rejects_cpu_count)
{
    config.nr_cpus = 0;
    init_fails_with("HRT CPU count 0");
    config.nr_cpus = HVM_MAX_HRT_CPUS + 1;
    init_fails_with("outside 1..64");
}
END_TEST

START_TEST(init_rejects_truncated_image)
{
    config.image_size = 200;
    init_fails_with("invalid HRT image");
}
END_TEST

START_TEST(init_rejects_text_file)
{
    static const char text[] = "this is not an ELF file, it is text\n";

    config.image = text;
    config.image_size = sizeof(text) - 1;
    init_fails_with("invalid HRT image");
}
END_TEST

START_TEST(load_fills_boot_info)
{
    const struct hvm_boot_info *info = (const void *)config.hrt_hva;

    init_ok();
    boot.boot_count = 3;
    ck_assert_int_eq(hrt_boot_load(&boot), 0);
    ck_assert_uint_eq(info->magic, HVM_BOOT_MAGIC);
    ck_assert_uint_eq(info->version, HVM_BOOT_VERSION);
    ck_assert_uint_eq(info->flags, HVM_BOOT_SELFTEST);
    ck_assert_uint_eq(info->ncpus, NR_CPUS);
    ck_assert_uint_eq(info->boot_count, 3);
    ck_assert_uint_eq(info->hrt_phys_base, 0);
    ck_assert_uint_eq(info->hrt_mem_size, HRT_SIZE);
    ck_assert_uint_eq(info->heap_phys, boot.heap_offset);
    ck_assert_uint_eq(info->heap_phys + info->heap_size, HRT_SIZE);
    ck_assert_uint_eq(info->user_virt, info->user_phys);
    ck_assert_uint_eq(info->user_phys, boot.user_offset);
    ck_assert_uint_eq(info->dmap_virt, HVM_DIRECT_MAP_VIRT);
    ck_assert_uint_eq(info->dmap_size, HRT_SIZE);
    ck_assert_uint_eq(info->lapic_phys, HRT_LAPIC_PHYS);
    ck_assert_uint_eq(info->pml4_phys, boot.pml4_gpa);
    for (unsigned i = 0; i < NR_CPUS; i++) {
        ck_assert_uint_eq(info->cpus[i].apic_id, i);
        ck_assert_uint_ge(info->cpus[i].percpu, HVM_KERNEL_VIRT_BASE);
        ck_assert_uint_eq(info->cpus[i].stack_top % 16, 0);
    }
    ck_assert_uint_ne(info->cpus[0].percpu, info->cpus[1].percpu);
    hrt_boot_destroy(&boot);
}
END_TEST

START_TEST(load_maps_kernel_and_direct_map)
{
    const struct hvm_boot_info *info = (const void *)config.hrt_hva;
    uint64_t phys, flags;

    init_ok();
    ck_assert_int_eq(hrt_boot_load(&boot), 0);
    ck_assert_int_eq(translate(boot.elf.entry, &phys, &flags), 0);
    ck_assert_uint_eq(phys, boot.elf.entry - HVM_KERNEL_VIRT_BASE);
    ck_assert_uint_eq(flags & VMM_PTE_USER, 0);
    ck_assert_int_eq(
        translate(HVM_DIRECT_MAP_VIRT + info->heap_phys, &phys, &flags), 0);
    ck_assert_uint_eq(phys, info->heap_phys);
    ck_assert_uint_ne(flags & VMM_PTE_NX, 0);
    ck_assert_int_eq(
        translate(HVM_DIRECT_MAP_VIRT + HRT_LAPIC_PHYS, &phys, &flags), 0);
    ck_assert_uint_eq(phys, HRT_LAPIC_PHYS);
    ck_assert_int_eq(translate(info->user_virt + 4096, &phys, &flags), 0);
    ck_assert_uint_eq(phys, info->user_phys + 4096);
    ck_assert_uint_ne(flags & VMM_PTE_USER, 0);
    /* The kernel's #PF self-test and hrt-fault.elf rely on this hole. */
    ck_assert_int_eq(translate(HVM_KERNEL_VIRT_BASE - 2 * MIB, &phys, &flags),
                     -1);
    hrt_boot_destroy(&boot);
}
END_TEST

START_TEST(load_builds_gdt_and_tss)
{
    const struct hvm_boot_info *info = (const void *)config.hrt_hva;

    init_ok();
    ck_assert_int_eq(hrt_boot_load(&boot), 0);
    for (unsigned i = 0; i < NR_CPUS; i++) {
        const struct hvm_boot_cpu *cpu = &info->cpus[i];
        const uint64_t *gdt = (const void *)host_of_kernel_virt(cpu->gdt);
        const uint8_t *tss = host_of_kernel_virt(cpu->tss);
        uint64_t tss_base, rsp0, ist;

        /* 64-bit code segment, DPL 0, at HVM_SEL_KERNEL_CS. */
        ck_assert_uint_eq((gdt[HVM_SEL_KERNEL_CS >> 3] >> 40) & 0xff, 0x9b);
        ck_assert_uint_eq((gdt[HVM_SEL_KERNEL_CS >> 3] >> 53) & 1, 1);
        tss_base = ((gdt[HVM_SEL_TSS >> 3] >> 16) & 0xffffff) |
                   (((gdt[HVM_SEL_TSS >> 3] >> 56) & 0xff) << 24) |
                   (gdt[(HVM_SEL_TSS >> 3) + 1] << 32);
        ck_assert_uint_eq(tss_base, cpu->tss);
        memcpy(&rsp0, tss + 4, 8);
        ck_assert_uint_eq(rsp0, cpu->stack_top);
        for (unsigned n = 0; n < 3; n++) {
            memcpy(&ist, tss + 36 + 8 * n, 8);
            ck_assert_uint_eq(ist, cpu->ist_top[n]);
            ck_assert_uint_eq(ist % 16, 0);
        }
    }
    hrt_boot_destroy(&boot);
}
END_TEST

START_TEST(load_sets_entry_state)
{
    const struct hvm_boot_info *info = (const void *)config.hrt_hva;

    init_ok();
    ck_assert_int_eq(hrt_boot_load(&boot), 0);
    for (unsigned i = 0; i < NR_CPUS; i++) {
        const struct vmm_long_mode *state = &boot.cpus[i].state;

        ck_assert_uint_eq(state->rip, boot.elf.entry);
        ck_assert_uint_eq(state->rsp, info->cpus[i].stack_top);
        ck_assert_uint_eq(state->rdi, HVM_KERNEL_VIRT_BASE);
        ck_assert_uint_eq(state->rsi, i);
        ck_assert_uint_eq(state->gs_base, info->cpus[i].percpu);
        ck_assert_uint_eq(state->kernel_gs_base, info->cpus[i].percpu);
        ck_assert_uint_eq(state->cr3, boot.pml4_gpa);
        ck_assert_uint_eq(state->rflags & 0x200, 0); /* IF clear */
        ck_assert_uint_eq(state->idt_limit, 0);
        ck_assert_int_eq(state->user, 0);
    }
    hrt_boot_destroy(&boot);
}
END_TEST

START_TEST(load_zeroes_boot_data_only)
{
    const struct hvm_boot_info *info = (const void *)config.hrt_hva;
    const uint8_t *percpu, *heap, *user, *bss_end;

    memset(config.hrt_hva, 0xa5, HRT_SIZE);
    init_ok();
    ck_assert_int_eq(hrt_boot_load(&boot), 0);
    percpu = host_of_kernel_virt(info->cpus[1].percpu);
    for (unsigned i = 0; i < HRT_PERCPU_SIZE; i++)
        ck_assert_uint_eq(percpu[i], 0);
    ck_assert_uint_eq(info->reserved, 0);
    bss_end = config.hrt_hva + boot.elf.phys_end;
    ck_assert_uint_eq(bss_end[-1], 0);
    user = config.hrt_hva + boot.user_offset;
    ck_assert_uint_eq(user[0], 0);
    ck_assert_uint_eq(user[HRT_USER_CODE_SIZE - 1], 0);
    heap = config.hrt_hva + boot.heap_offset;
    ck_assert_uint_eq(heap[0], 0xa5);
    ck_assert_uint_eq(heap[HRT_SIZE - boot.heap_offset - 1], 0xa5);
    hrt_boot_destroy(&boot);
}
END_TEST

static Suite *hrt_boot_suite(void)
{
    Suite *suite = suite_create("hrt_boot");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, init_computes_layout);
    tcase_add_test(tc, init_rejects_small_memory);
    tcase_add_test(tc, init_rejects_unaligned_memory);
    tcase_add_test(tc, init_rejects_missing_vcpu);
    tcase_add_test(tc, init_rejects_cpu_count);
    tcase_add_test(tc, init_rejects_truncated_image);
    tcase_add_test(tc, init_rejects_text_file);
    tcase_add_test(tc, load_fills_boot_info);
    tcase_add_test(tc, load_maps_kernel_and_direct_map);
    tcase_add_test(tc, load_builds_gdt_and_tss);
    tcase_add_test(tc, load_sets_entry_state);
    tcase_add_test(tc, load_zeroes_boot_data_only);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(int argc, char **argv)
{
    SRunner *runner;
    int failed;

    if (argc != 2) {
        fprintf(stderr, "usage: %s HRT_IMAGE\n", argv[0]);
        return EXIT_FAILURE;
    }
    image_path = argv[1];
    runner = srunner_create(hrt_boot_suite());
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
