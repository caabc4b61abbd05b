/*
 * Unit tests of the guest-ROS merge (hvm/ros_hybrid_merge.c) on synthetic
 * page tables in a fake guest memory: finding the roots from CR3 (PCID
 * bits, page-table isolation), walking the tables, and building and
 * refreshing the HRT PML4 whose lower half is the process's.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pagetable.h"
#include "ros_hybrid_merge.h"

/* Fake guest memory: 64 pages of ROS memory at MEM_BASE, and an HRT
 * range the read callback rejects as the VMM's does. */
#define MEM_BASE 0x100000ULL
#define MEM_PAGES 64
#define HRT_BASE 0x8000000ULL

static uint64_t memory[MEM_PAGES][512] __attribute__((aligned(4096)));
static unsigned next_page;

static const void *fake_read(void *ctx, uint64_t gpa, uint64_t len)
{
    (void)ctx;
    if (gpa < MEM_BASE || gpa + len > MEM_BASE + MEM_PAGES * 4096ULL)
        return NULL;
    return (const uint8_t *)memory + (gpa - MEM_BASE);
}

static const struct hvm_merge_source source = {fake_read, NULL};

static uint64_t page_new(void)
{
    uint64_t gpa = MEM_BASE + next_page * 4096ULL;

    ck_assert_uint_lt(next_page, MEM_PAGES);
    memset(memory[next_page], 0, 4096);
    next_page++;
    return gpa;
}

static uint64_t *table(uint64_t gpa)
{
    return memory[(gpa - MEM_BASE) / 4096];
}

/* Maps one 4 KiB page at va to pa in the tables at root, Linux style. */
static void map4k(uint64_t root, uint64_t va, uint64_t pa, uint64_t flags)
{
    uint64_t t = root;

    for (int level = 3; level > 0; level--) {
        uint64_t *entries = table(t);
        unsigned index = (unsigned)(va >> (12 + 9 * level)) & 511;

        if (!(entries[index] & VMM_PTE_PRESENT))
            entries[index] =
                page_new() | VMM_PTE_PRESENT | VMM_PTE_WRITE | VMM_PTE_USER;
        t = entries[index] & VMM_PTE_ADDR_MASK;
    }
    table(t)[(va >> 12) & 511] = pa | flags | VMM_PTE_PRESENT;
}

static void setup(void)
{
    next_page = 0;
}

START_TEST(test_root_masks_pcid)
{
    uint64_t root = page_new();
    struct hvm_merge_root found;

    ck_assert_int_eq(
        hvm_merge_root_find(&source, root | 0x5 | (1ULL << 63), &found), 0);
    ck_assert_uint_eq(found.user_root, root);
    ck_assert_uint_eq(found.kernel_root, root);
    ck_assert_int_eq(found.pti, 0);
}
END_TEST

START_TEST(test_root_outside_ros_memory)
{
    struct hvm_merge_root found;

    ck_assert_int_eq(hvm_merge_root_find(&source, HRT_BASE, &found), -1);
}
END_TEST

/* Linux with PTI: 8 KiB pair, kernel root below with a full upper half
 * and NX on its copy of the user entries, user root on top. */
START_TEST(test_root_detects_pti)
{
    uint64_t kernel, user, pdpt = 0;
    struct hvm_merge_root found;

    page_new(); /* keep the pair 8 KiB aligned: page 0 is at MEM_BASE */
    page_new();
    kernel = page_new();
    user = page_new();
    ck_assert_uint_eq(user, kernel + 4096);
    ck_assert_uint_eq(user & 0x1000, 0x1000);
    pdpt = page_new();
    table(user)[0] = pdpt | VMM_PTE_PRESENT | VMM_PTE_USER | VMM_PTE_WRITE;
    table(kernel)[0] = table(user)[0] | VMM_PTE_NX;
    for (unsigned i = 256; i < 300; i++)
        table(kernel)[i] = pdpt | VMM_PTE_PRESENT;
    table(user)[511] = pdpt | VMM_PTE_PRESENT;
    ck_assert_int_eq(hvm_merge_root_find(&source, user, &found), 0);
    ck_assert_int_eq(found.pti, 1);
    ck_assert_uint_eq(found.user_root, user);
    ck_assert_uint_eq(found.kernel_root, kernel);
}
END_TEST

/* Without PTI a root may sit at an odd 4 KiB page: no false positive. */
START_TEST(test_root_odd_page_without_pti)
{
    uint64_t below, root;
    struct hvm_merge_root found;

    page_new();
    page_new();
    below = page_new();
    root = page_new();
    for (unsigned i = 256; i < 300; i++) {
        table(below)[i] = below | VMM_PTE_PRESENT;
        table(root)[i] = below | VMM_PTE_PRESENT;
    }
    ck_assert_int_eq(hvm_merge_root_find(&source, root, &found), 0);
    ck_assert_int_eq(found.pti, 0);
    ck_assert_uint_eq(found.user_root, root);
}
END_TEST

START_TEST(test_translate_rights)
{
    uint64_t root = page_new(), gpa, rights;

    map4k(root, 0x400000, 0x123000, VMM_PTE_USER | VMM_PTE_WRITE);
    map4k(root, 0x401000, 0x124000, VMM_PTE_USER | VMM_PTE_NX);
    ck_assert_int_eq(
        hvm_merge_translate(&source, root, 0x400abc, &gpa, &rights), 0);
    ck_assert_uint_eq(gpa, 0x123abc);
    ck_assert_uint_eq(rights & (VMM_PTE_USER | VMM_PTE_WRITE),
                      VMM_PTE_USER | VMM_PTE_WRITE);
    ck_assert_uint_eq(rights & VMM_PTE_NX, 0);
    ck_assert_int_eq(
        hvm_merge_translate(&source, root, 0x401000, &gpa, &rights), 0);
    ck_assert_uint_eq(rights & VMM_PTE_WRITE, 0);
    ck_assert_uint_eq(rights & VMM_PTE_NX, VMM_PTE_NX);
}
END_TEST

START_TEST(test_translate_unmapped_and_kernel_half)
{
    uint64_t root = page_new(), gpa, rights;

    map4k(root, 0x400000, 0x123000, VMM_PTE_USER);
    ck_assert_int_eq(
        hvm_merge_translate(&source, root, 0x402000, &gpa, &rights), -1);
    ck_assert_int_eq(
        hvm_merge_translate(&source, root, 0x800000000000ULL, &gpa, &rights),
        -1);
}
END_TEST

START_TEST(test_translate_huge_page)
{
    uint64_t root = page_new(), pdpt = page_new(), pd = page_new();
    uint64_t gpa, rights;

    table(root)[0] = pdpt | VMM_PTE_PRESENT | VMM_PTE_USER | VMM_PTE_WRITE;
    table(pdpt)[0] = pd | VMM_PTE_PRESENT | VMM_PTE_USER | VMM_PTE_WRITE;
    table(pd)[1] =
        0x40000000ULL | VMM_PTE_PRESENT | VMM_PTE_HUGE | VMM_PTE_USER;
    ck_assert_int_eq(
        hvm_merge_translate(&source, root, 0x212345, &gpa, &rights), 0);
    ck_assert_uint_eq(gpa, 0x40012345ULL);
    ck_assert_uint_eq(rights & VMM_PTE_WRITE, 0);
}
END_TEST

/* A walk whose next table lies outside ROS memory fails. */
START_TEST(test_translate_rejects_hrt_tables)
{
    uint64_t root = page_new(), gpa, rights;

    table(root)[0] = HRT_BASE | VMM_PTE_PRESENT | VMM_PTE_USER;
    ck_assert_int_eq(hvm_merge_translate(&source, root, 0x1000, &gpa, &rights),
                     -1);
}
END_TEST

START_TEST(test_build_halves)
{
    uint64_t root = page_new();
    uint64_t hrt[512] = {0}, pml4[512];

    map4k(root, 0x400000, 0x123000, VMM_PTE_USER);
    map4k(root, 0x7fff00000000ULL, 0x124000, VMM_PTE_USER);
    table(root)[300] = 0xdead000 | VMM_PTE_PRESENT; /* Linux's upper half */
    hrt[256] = 0xaaa000 | VMM_PTE_PRESENT;
    hrt[511] = 0xbbb000 | VMM_PTE_PRESENT;
    memset(pml4, 0xff, sizeof(pml4));
    ck_assert_int_eq(hvm_merge_build(&source, root, hrt, pml4), 256);
    ck_assert_uint_eq(pml4[0], table(root)[0]);
    ck_assert_uint_eq(pml4[255], table(root)[255]);
    ck_assert_uint_eq(pml4[1], 0);
    ck_assert_uint_eq(pml4[256], hrt[256]);
    ck_assert_uint_eq(pml4[300], 0);
    ck_assert_uint_eq(pml4[511], hrt[511]);
}
END_TEST

START_TEST(test_build_drops_entries_into_hrt)
{
    uint64_t root = page_new();
    uint64_t hrt[512] = {0}, pml4[512] = {0};

    table(root)[3] = HRT_BASE | VMM_PTE_PRESENT | VMM_PTE_USER;
    ck_assert_int_eq(hvm_merge_build(&source, root, hrt, pml4), 0);
    ck_assert_uint_eq(pml4[3], 0);
}
END_TEST

/* Linux adds a top-level entry later: the refresh check sees it. */
START_TEST(test_changes_after_new_entry)
{
    uint64_t root = page_new();
    uint64_t hrt[512] = {0}, pml4[512] = {0};

    map4k(root, 0x400000, 0x123000, VMM_PTE_USER);
    ck_assert_int_eq(hvm_merge_build(&source, root, hrt, pml4), 1);
    ck_assert_int_eq(hvm_merge_lower_changes(&source, root, pml4), 0);
    map4k(root, 0x7f0000000000ULL, 0x125000, VMM_PTE_USER);
    ck_assert_int_eq(hvm_merge_lower_changes(&source, root, pml4), 1);
    ck_assert_int_eq(hvm_merge_build(&source, root, hrt, pml4), 1);
    ck_assert_int_eq(hvm_merge_lower_changes(&source, root, pml4), 0);
    ck_assert_int_eq(hvm_merge_lower_changes(&source, HRT_BASE, pml4), -1);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("merge");
    TCase *roots = tcase_create("roots");
    TCase *walks = tcase_create("walks");
    TCase *builds = tcase_create("builds");
    SRunner *runner;
    int failed;

    tcase_add_checked_fixture(roots, setup, NULL);
    tcase_add_checked_fixture(walks, setup, NULL);
    tcase_add_checked_fixture(builds, setup, NULL);
    tcase_add_test(roots, test_root_masks_pcid);
    tcase_add_test(roots, test_root_outside_ros_memory);
    tcase_add_test(roots, test_root_detects_pti);
    tcase_add_test(roots, test_root_odd_page_without_pti);
    tcase_add_test(walks, test_translate_rights);
    tcase_add_test(walks, test_translate_unmapped_and_kernel_half);
    tcase_add_test(walks, test_translate_huge_page);
    tcase_add_test(walks, test_translate_rejects_hrt_tables);
    tcase_add_test(builds, test_build_halves);
    tcase_add_test(builds, test_build_drops_entries_into_hrt);
    tcase_add_test(builds, test_changes_after_new_entry);
    suite_add_tcase(suite, roots);
    suite_add_tcase(suite, walks);
    suite_add_tcase(suite, builds);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
