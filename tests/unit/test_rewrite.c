/* Unit tests of the system-call site rewriting of libmultiverse. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mv_rewrite.h"

#define TEXT_SIZE 4096
#define ENTRY 0x1122334455667788ULL

static uint8_t *area;
static uint8_t *text;
static uint8_t *stubs;

static const uint8_t getpid_site[] = {0xb8, 0x27, 0, 0, 0, 0x0f, 0x05};
static const uint8_t write_site[] = {0xb8, 0x01, 0, 0, 0, 0x0f, 0x05};
/* xor %eax, %eax; syscall; cmp $-4096, %rax (the C library's read). */
static const uint8_t read_site[] = {0x31, 0xc0, 0x0f, 0x05, 0x48,
                                    0x3d, 0x00, 0xf0, 0xff, 0xff};
/* mov $4096, %eax; syscall: no system call has that number. */
static const uint8_t bad_number[] = {0xb8, 0x00, 0x10, 0, 0, 0x0f, 0x05};

static void setup(void)
{
    area = mmap(NULL, 2 * TEXT_SIZE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(area, MAP_FAILED);
    text = area;
    stubs = area + TEXT_SIZE;
    memset(text, 0x90, TEXT_SIZE);
    memcpy(text + 100, getpid_site, sizeof(getpid_site));
    memcpy(text + 300, bad_number, sizeof(bad_number));
    memcpy(text + 500, write_site, sizeof(write_site));
    memcpy(text + 700, read_site, sizeof(read_site));
    /* Cut off by the end of the text: not a site. */
    memcpy(text + TEXT_SIZE - 4, getpid_site, 4);
}

static void teardown(void)
{
    munmap(area, 2 * TEXT_SIZE);
}

static int32_t rel32_at(const uint8_t *at)
{
    int32_t rel;

    memcpy(&rel, at, 4);
    return rel;
}

START_TEST(rewrite_counts_only_valid_sites)
{
    unsigned count = mv_rewrite_sites(text, (uint64_t)(uintptr_t)text,
                                      TEXT_SIZE, stubs, 16, ENTRY);

    ck_assert_uint_eq(count, 3);
    ck_assert_mem_eq(text + 300, bad_number, sizeof(bad_number));
    ck_assert_mem_eq(text + TEXT_SIZE - 4, getpid_site, 4);
}
END_TEST

START_TEST(rewrite_jumps_to_own_stub)
{
    mv_rewrite_sites(text, (uint64_t)(uintptr_t)text, TEXT_SIZE, stubs, 16,
                     ENTRY);

    ck_assert_uint_eq(text[100], 0xe9);
    ck_assert_ptr_eq(text + 105 + rel32_at(text + 101), stubs);
    ck_assert_uint_eq(text[500], 0xe9);
    ck_assert_ptr_eq(text + 505 + rel32_at(text + 501),
                     stubs + MV_REWRITE_STUB_SIZE);
}
END_TEST

START_TEST(rewrite_keeps_syscall_bytes)
{
    mv_rewrite_sites(text, (uint64_t)(uintptr_t)text, TEXT_SIZE, stubs, 16,
                     ENTRY);

    /* A branch straight to the syscall still finds the instruction. */
    ck_assert_uint_eq(text[105], 0x0f);
    ck_assert_uint_eq(text[106], 0x05);
}
END_TEST

START_TEST(stub_loads_number_and_resume_address)
{
    uint64_t resume = (uint64_t)(uintptr_t)text + 107;
    uint64_t entry;
    uint8_t *movabs;

    mv_rewrite_sites(text, (uint64_t)(uintptr_t)text, TEXT_SIZE, stubs, 16,
                     ENTRY);
    ck_assert_mem_eq(stubs, getpid_site, 5);
    movabs = memmem(stubs, MV_REWRITE_STUB_SIZE, "\x48\xb9", 2);
    ck_assert_ptr_nonnull(movabs);
    ck_assert_mem_eq(movabs + 2, &resume, 8);
    ck_assert_mem_eq(movabs + 10, "\xff\x25\x00\x00\x00\x00", 6);
    memcpy(&entry, movabs + 16, 8);
    ck_assert_uint_eq(entry, ENTRY);
}
END_TEST

START_TEST(stub_saves_flags_below_red_zone)
{
    static const uint8_t lower[] = {0x48, 0x8d, 0x64, 0x24, 0x80};
    static const uint8_t flags_to_r11[] = {0x9c, 0x41, 0x5b};

    mv_rewrite_sites(text, (uint64_t)(uintptr_t)text, TEXT_SIZE, stubs, 16,
                     ENTRY);
    /* RSP drops by 128 before pushfq, so the red zone is never written. */
    ck_assert_mem_eq(stubs + 5, lower, sizeof(lower));
    ck_assert_mem_eq(stubs + 10, flags_to_r11, sizeof(flags_to_r11));
}
END_TEST

START_TEST(cmp_site_resumes_through_tail)
{
    uint8_t *stub = stubs + 2 * MV_REWRITE_STUB_SIZE;
    uint8_t *movabs, *tail;
    uint64_t resume;

    mv_rewrite_sites(text, (uint64_t)(uintptr_t)text, TEXT_SIZE, stubs, 16,
                     ENTRY);
    /* The xor before the syscall stays; the syscall becomes the jmp. */
    ck_assert_mem_eq(text + 700, read_site, 2);
    ck_assert_uint_eq(text[702], 0xe9);
    ck_assert_ptr_eq(text + 707 + rel32_at(text + 703), stub);
    ck_assert_uint_eq(text[707], 0xcc);
    ck_assert_uint_eq(text[709], 0xcc);
    /* RCX points at a tail that runs the cmp and jumps after the site. */
    movabs = memmem(stub, MV_REWRITE_STUB_SIZE, "\x48\xb9", 2);
    ck_assert_ptr_nonnull(movabs);
    memcpy(&resume, movabs + 2, 8);
    tail = (uint8_t *)(uintptr_t)resume;
    ck_assert(tail >= stub);
    ck_assert(tail < stub + MV_REWRITE_STUB_SIZE);
    ck_assert_mem_eq(tail, read_site + 4, 6);
    ck_assert_uint_eq(tail[6], 0xe9);
    ck_assert_ptr_eq(tail + 11 + rel32_at(tail + 7), text + 710);
}
END_TEST

START_TEST(rewrite_skips_sites_out_of_reach)
{
    /* Pretend the code runs 8 GiB away from the stubs. */
    uint64_t far = (uint64_t)(uintptr_t)stubs + (8ULL << 30);
    unsigned count = mv_rewrite_sites(text, far, TEXT_SIZE, stubs, 16, ENTRY);

    ck_assert_uint_eq(count, 0);
    ck_assert_mem_eq(text + 100, getpid_site, sizeof(getpid_site));
}
END_TEST

START_TEST(rewrite_stops_at_max_sites)
{
    unsigned count = mv_rewrite_sites(text, (uint64_t)(uintptr_t)text,
                                      TEXT_SIZE, stubs, 1, ENTRY);

    ck_assert_uint_eq(count, 1);
    ck_assert_mem_eq(text + 500, write_site, sizeof(write_site));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("rewrite");
    TCase *tcase = tcase_create("sites");
    SRunner *runner;
    int failed;

    tcase_add_checked_fixture(tcase, setup, teardown);
    tcase_add_test(tcase, rewrite_counts_only_valid_sites);
    tcase_add_test(tcase, rewrite_jumps_to_own_stub);
    tcase_add_test(tcase, rewrite_keeps_syscall_bytes);
    tcase_add_test(tcase, stub_loads_number_and_resume_address);
    tcase_add_test(tcase, stub_saves_flags_below_red_zone);
    tcase_add_test(tcase, cmp_site_resumes_through_tail);
    tcase_add_test(tcase, rewrite_skips_sites_out_of_reach);
    tcase_add_test(tcase, rewrite_stops_at_max_sites);
    suite_add_tcase(suite, tcase);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
