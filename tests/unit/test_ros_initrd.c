/*
 * Unit tests of the archive that carries the guest command: a newc cpio
 * with /hvm and /hvm/argv whose data are the arguments, each ending in a
 * NUL, and a trailer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ros_initrd.h"

static uint8_t buf[4096];

/* Parses the newc header at p; returns the data and stores its fields. */
static const uint8_t *entry_parse(const uint8_t *p, char *name, size_t *size)
{
    char field[9] = {0};
    size_t name_size, header = 110;

    ck_assert_int_eq(memcmp(p, "070701", 6), 0);
    memcpy(field, p + 6 + 6 * 8, 8);
    *size = strtoul(field, NULL, 16);
    memcpy(field, p + 6 + 11 * 8, 8);
    name_size = strtoul(field, NULL, 16);
    memcpy(name, p + header, name_size);
    ck_assert_uint_eq(name[name_size - 1], '\0');
    return p + ((header + name_size + 3) & ~(size_t)3);
}

START_TEST(argv_archive_layout)
{
    char *argv[] = {"/bin/sh", "-c", "echo 'a b'; exit 3"};
    size_t size = hvm_ros_argv_archive_size(3, argv), data_size;
    size_t written = hvm_ros_argv_archive_build(buf, sizeof(buf), 3, argv);
    const uint8_t *p = buf, *data;
    char name[64];

    ck_assert_uint_eq(written, size);
    ck_assert_uint_eq(written % 4, 0);
    p = entry_parse(p, name, &data_size);
    ck_assert_str_eq(name, "hvm");
    ck_assert_uint_eq(data_size, 0);
    data = entry_parse(p, name, &data_size);
    ck_assert_str_eq(name, "hvm/argv");
    ck_assert_uint_eq(data_size, sizeof("/bin/sh") + sizeof("-c") +
                                     sizeof("echo 'a b'; exit 3"));
    ck_assert_int_eq(memcmp(data, "/bin/sh\0-c\0echo 'a b'; exit 3\0",
                            data_size), 0);
    p = data + ((data_size + 3) & ~(size_t)3);
    entry_parse(p, name, &data_size);
    ck_assert_str_eq(name, "TRAILER!!!");
}
END_TEST

START_TEST(argv_archive_small_buffer)
{
    char *argv[] = {"true"};
    size_t size = hvm_ros_argv_archive_size(1, argv);

    ck_assert_uint_eq(hvm_ros_argv_archive_build(buf, size - 1, 1, argv), 0);
    ck_assert_uint_eq(hvm_ros_argv_archive_build(buf, 0, 1, argv), 0);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("ros_initrd");
    TCase *tcase = tcase_create("argv");
    SRunner *runner;
    int failed;

    tcase_add_test(tcase, argv_archive_layout);
    tcase_add_test(tcase, argv_archive_small_buffer);
    suite_add_tcase(suite, tcase);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
