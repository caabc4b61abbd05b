/*
 * Unit tests of the page-table builder: 2 MiB and 4 KiB mappings, flags,
 * mixed page sizes, pool exhaustion and rejected arguments, each checked
 * by walking the tables with vmm_pt_translate.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pagetable.h"

#define POOL_PAGES 64
#define POOL_PHYS 0x100000ULL
#define KERNEL_VIRT 0xffffffff80000000ULL
#define MIB (1ULL << 20)

static uint64_t pool[POOL_PAGES * 512];
static struct vmm_pt_builder builder;

static void setup(void)
{
    memset(pool, 0xa5, sizeof(pool));
    ck_assert_int_eq(vmm_pt_init(&builder, pool, POOL_PHYS, sizeof(pool)), 0);
}

/* Translates virt and expects phys, with flags in want and not in unwanted. */
static void expect_mapped(uint64_t virt, uint64_t want_phys, uint64_t want,
                          uint64_t unwanted)
{
    uint64_t phys = 0, flags = 0;
    int rc = vmm_pt_translate(&builder, virt, &phys, &flags);

    ck_assert_msg(rc == 0, "0x%llx is not mapped", (unsigned long long)virt);
    ck_assert_msg(phys == want_phys, "0x%llx maps to 0x%llx, expected 0x%llx",
                  (unsigned long long)virt, (unsigned long long)phys,
                  (unsigned long long)want_phys);
    ck_assert_msg((flags & want) == want, "0x%llx flags 0x%llx lack 0x%llx",
                  (unsigned long long)virt, (unsigned long long)flags,
                  (unsigned long long)want);
    ck_assert_msg((flags & unwanted) == 0, "0x%llx flags 0x%llx have 0x%llx",
                  (unsigned long long)virt, (unsigned long long)flags,
                  (unsigned long long)unwanted);
}

static void expect_unmapped(uint64_t virt)
{
    uint64_t phys, flags;

    ck_assert_int_eq(vmm_pt_translate(&builder, virt, &phys, &flags), -1);
}

START_TEST(pt_init_allocates_pml4)
{
    ck_assert_uint_eq(builder.pml4_phys, POOL_PHYS);
    ck_assert_uint_eq(builder.used, VMM_PAGE_SIZE);
    /* The PML4 comes out zeroed although the pool was not. */
    for (int i = 0; i < 512; i++)
        ck_assert_uint_eq(pool[i], 0);
    ck_assert_uint_eq(pool[512], 0xa5a5a5a5a5a5a5a5ULL);
}
END_TEST

START_TEST(pt_init_rejects_bad_pool)
{
    struct vmm_pt_builder other;

    errno = 0;
    ck_assert_int_eq(vmm_pt_init(&other, pool, POOL_PHYS + 1, sizeof(pool)),
                     -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(vmm_pt_init(&other, NULL, POOL_PHYS, sizeof(pool)), -1);
    ck_assert_int_eq(vmm_pt_init(&other, pool, POOL_PHYS, 4095), -1);
    ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(pt_map_huge_pages)
{
    ck_assert_int_eq(
        vmm_pt_map(&builder, KERNEL_VIRT, 2 * MIB, 4 * MIB, VMM_PTE_WRITE), 0);
    /* PML4, PDPT and PD: no page table for 2 MiB leaves. */
    ck_assert_uint_eq(builder.used, 3 * VMM_PAGE_SIZE);
    expect_mapped(KERNEL_VIRT, 2 * MIB,
                  VMM_PTE_PRESENT | VMM_PTE_WRITE | VMM_PTE_HUGE, 0);
    expect_mapped(KERNEL_VIRT + 0x123456, 2 * MIB + 0x123456, VMM_PTE_HUGE, 0);
    expect_mapped(KERNEL_VIRT + 4 * MIB - 1, 6 * MIB - 1, VMM_PTE_HUGE, 0);
    expect_unmapped(KERNEL_VIRT + 4 * MIB);
    expect_unmapped(KERNEL_VIRT - 1);
}
END_TEST

START_TEST(pt_map_small_pages)
{
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0x5000, 0x3000, 0), 0);
    ck_assert_uint_eq(builder.used, 4 * VMM_PAGE_SIZE);
    expect_mapped(0x1000, 0x5000, VMM_PTE_PRESENT,
                  VMM_PTE_HUGE | VMM_PTE_WRITE);
    expect_mapped(0x2abc, 0x6abc, VMM_PTE_PRESENT, VMM_PTE_HUGE);
    expect_mapped(0x3fff, 0x7fff, VMM_PTE_PRESENT, VMM_PTE_HUGE);
    expect_unmapped(0x0);
    expect_unmapped(0x4000);
}
END_TEST

START_TEST(pt_map_mixed_sizes)
{
    /* 4 KiB below the 2 MiB boundary, one 2 MiB page, then 4 KiB again. */
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1ff000, 0x1ff000,
                                2 * MIB + 2 * VMM_PAGE_SIZE, VMM_PTE_WRITE),
                     0);
    expect_mapped(0x1ff000, 0x1ff000, VMM_PTE_WRITE, VMM_PTE_HUGE);
    expect_mapped(0x200000, 0x200000, VMM_PTE_WRITE | VMM_PTE_HUGE, 0);
    expect_mapped(0x3fffff, 0x3fffff, VMM_PTE_HUGE, 0);
    expect_mapped(0x400000, 0x400000, VMM_PTE_WRITE, VMM_PTE_HUGE);
    expect_unmapped(0x401000);
}
END_TEST

START_TEST(pt_map_misaligned_phys_uses_small)
{
    /* virt is 2 MiB aligned but phys is not, so 4 KiB pages are needed. */
    ck_assert_int_eq(
        vmm_pt_map(&builder, 2 * MIB, 2 * MIB + 0x1000, 2 * MIB, 0), 0);
    expect_mapped(2 * MIB, 2 * MIB + 0x1000, VMM_PTE_PRESENT, VMM_PTE_HUGE);
    expect_mapped(4 * MIB - 1, 4 * MIB + 0xfff, VMM_PTE_PRESENT, VMM_PTE_HUGE);
    ck_assert_uint_eq(builder.used, 4 * VMM_PAGE_SIZE);
}
END_TEST

START_TEST(pt_user_and_nx_bits)
{
    const uint64_t *pml4;

    ck_assert_int_eq(vmm_pt_map(&builder, 0x400000, 0x400000, 2 * MIB,
                                VMM_PTE_USER | VMM_PTE_NX | VMM_PTE_WRITE),
                     0);
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0x600000, 0x600000, VMM_PAGE_SIZE, VMM_PTE_USER),
        0);
    ck_assert_int_eq(
        vmm_pt_map(&builder, KERNEL_VIRT, 0, VMM_PAGE_SIZE, VMM_PTE_GLOBAL), 0);
    expect_mapped(0x400000, 0x400000, VMM_PTE_USER | VMM_PTE_NX | VMM_PTE_WRITE,
                  0);
    expect_mapped(0x600000, 0x600000, VMM_PTE_USER, VMM_PTE_NX | VMM_PTE_WRITE);
    expect_mapped(KERNEL_VIRT, 0, VMM_PTE_GLOBAL,
                  VMM_PTE_USER | VMM_PTE_NX | VMM_PTE_WRITE);

    /* Intermediate entries allow everything, so the leaf decides. */
    pml4 = vmm_pt_table(&builder, builder.pml4_phys);
    ck_assert_ptr_nonnull(pml4);
    ck_assert_uint_eq(pml4[0] & (VMM_PTE_USER | VMM_PTE_WRITE),
                      VMM_PTE_USER | VMM_PTE_WRITE);
    ck_assert_uint_eq(pml4[0] & VMM_PTE_NX, 0);
    ck_assert_uint_eq(pml4[511] & VMM_PTE_USER, VMM_PTE_USER);
}
END_TEST

START_TEST(pt_pool_exhaustion)
{
    struct vmm_pt_builder small;

    /* A 4 KiB page needs PDPT, PD and PT: three pages after the PML4. */
    ck_assert_int_eq(vmm_pt_init(&small, pool, POOL_PHYS, 3 * VMM_PAGE_SIZE),
                     0);
    errno = 0;
    ck_assert_int_eq(vmm_pt_map(&small, 0, 0, VMM_PAGE_SIZE, 0), -1);
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_uint_eq(small.used, 3 * VMM_PAGE_SIZE);

    ck_assert_int_eq(vmm_pt_init(&small, pool, POOL_PHYS, 4 * VMM_PAGE_SIZE),
                     0);
    ck_assert_int_eq(vmm_pt_map(&small, 0, 0, VMM_PAGE_SIZE, 0), 0);
    ck_assert_int_eq(vmm_pt_map(&small, 1ULL << 39, 0, VMM_PAGE_SIZE, 0), -1);
    ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(pt_non_canonical_rejected)
{
    uint64_t phys, flags;

    errno = 0;
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0x0000800000000000ULL, 0, VMM_PAGE_SIZE, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0xffff7ffffffff000ULL, 0, VMM_PAGE_SIZE, 0), -1);
    /* Starts canonical but runs into the hole. */
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0x00007ffffffff000ULL, 0, 2 * VMM_PAGE_SIZE, 0),
        -1);
    /* Wraps past 2^64. */
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0xfffffffffffff000ULL, 0, 2 * VMM_PAGE_SIZE, 0),
        -1);
    ck_assert_int_eq(
        vmm_pt_translate(&builder, 0x0000800000000000ULL, &phys, &flags), -1);
    /* Nothing was allocated for the rejected requests. */
    ck_assert_uint_eq(builder.used, VMM_PAGE_SIZE);
}
END_TEST

START_TEST(pt_top_of_address_space)
{
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0xffffffffffe00000ULL, 8 * MIB, 2 * MIB, 0), 0);
    ck_assert_int_eq(
        vmm_pt_map(&builder, 0x00007ffffffff000ULL, 0x3000, VMM_PAGE_SIZE, 0),
        0);
    expect_mapped(0xffffffffffffffffULL, 10 * MIB - 1, VMM_PTE_HUGE, 0);
    expect_mapped(0x00007fffffffffffULL, 0x3fff, VMM_PTE_PRESENT, 0);
}
END_TEST

START_TEST(pt_bad_arguments_rejected)
{
    errno = 0;
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1001, 0, VMM_PAGE_SIZE, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0x10, VMM_PAGE_SIZE, 0), -1);
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0, 0x800, 0), -1);
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0, 0, 0), -1);
    /* Bit 9 is not a flag the caller may set. */
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0, VMM_PAGE_SIZE, 1 << 9),
                     -1);
    /* A physical address beyond 52 bits does not fit an entry. */
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 1ULL << 52, VMM_PAGE_SIZE, 0),
                     -1);
    ck_assert_uint_eq(builder.used, VMM_PAGE_SIZE);
}
END_TEST

START_TEST(pt_small_over_huge_rejected)
{
    ck_assert_int_eq(vmm_pt_map(&builder, 0, 0, 2 * MIB, 0), 0);
    errno = 0;
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0x1000, VMM_PAGE_SIZE, 0),
                     -1);
    ck_assert_int_eq(errno, EEXIST);
    expect_mapped(0x1000, 0x1000, VMM_PTE_HUGE, 0);
}
END_TEST

START_TEST(pt_huge_over_small_rejected)
{
    ck_assert_int_eq(vmm_pt_map(&builder, 0x1000, 0x1000, VMM_PAGE_SIZE, 0), 0);
    errno = 0;
    ck_assert_int_eq(vmm_pt_map(&builder, 0, 0, 2 * MIB, 0), -1);
    ck_assert_int_eq(errno, EEXIST);
    expect_mapped(0x1000, 0x1000, VMM_PTE_PRESENT, VMM_PTE_HUGE);
    expect_unmapped(0x2000);
}
END_TEST

START_TEST(pt_remap_same_size)
{
    ck_assert_int_eq(vmm_pt_map(&builder, 0, 0, 2 * MIB, 0), 0);
    ck_assert_int_eq(vmm_pt_map(&builder, 0, 4 * MIB, 2 * MIB, VMM_PTE_WRITE),
                     0);
    expect_mapped(0x10, 4 * MIB + 0x10, VMM_PTE_WRITE | VMM_PTE_HUGE, 0);
}
END_TEST

START_TEST(pt_translate_gigabyte_leaf)
{
    uint64_t *pdpt;

    /* The builder never makes 1 GiB pages, but a guest may. */
    ck_assert_int_eq(vmm_pt_map(&builder, 0, 0, VMM_PAGE_SIZE, 0), 0);
    pdpt = vmm_pt_table(&builder, vmm_pt_table(&builder, builder.pml4_phys)[0] &
                                      VMM_PTE_ADDR_MASK);
    ck_assert_ptr_nonnull(pdpt);
    pdpt[1] = (3ULL << 30) | VMM_PTE_PRESENT | VMM_PTE_HUGE;
    expect_mapped((1ULL << 30) + 0x12345678, (3ULL << 30) + 0x12345678,
                  VMM_PTE_HUGE, 0);
}
END_TEST

START_TEST(pt_table_outside_pool)
{
    ck_assert_ptr_null(vmm_pt_table(&builder, POOL_PHYS - VMM_PAGE_SIZE));
    ck_assert_ptr_null(vmm_pt_table(&builder, POOL_PHYS + 1));
    /* Pool pages not yet handed out are not tables either. */
    ck_assert_ptr_null(vmm_pt_table(&builder, POOL_PHYS + VMM_PAGE_SIZE));
    ck_assert_ptr_eq(vmm_pt_table(&builder, POOL_PHYS), (void *)pool);
}
END_TEST

static Suite *pagetable_suite(void)
{
    Suite *suite = suite_create("pagetable");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, pt_init_allocates_pml4);
    tcase_add_test(tc, pt_init_rejects_bad_pool);
    tcase_add_test(tc, pt_map_huge_pages);
    tcase_add_test(tc, pt_map_small_pages);
    tcase_add_test(tc, pt_map_mixed_sizes);
    tcase_add_test(tc, pt_map_misaligned_phys_uses_small);
    tcase_add_test(tc, pt_user_and_nx_bits);
    tcase_add_test(tc, pt_pool_exhaustion);
    tcase_add_test(tc, pt_non_canonical_rejected);
    tcase_add_test(tc, pt_top_of_address_space);
    tcase_add_test(tc, pt_bad_arguments_rejected);
    tcase_add_test(tc, pt_small_over_huge_rejected);
    tcase_add_test(tc, pt_huge_over_small_rejected);
    tcase_add_test(tc, pt_remap_same_size);
    tcase_add_test(tc, pt_translate_gigabyte_leaf);
    tcase_add_test(tc, pt_table_outside_pool);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(pagetable_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
