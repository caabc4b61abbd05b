/*
 * Unit tests of hypercall decoding and of the guest-address checks:
 * range ends, wrap at 2^64, zero lengths, ranges spanning two regions and
 * string sanitizing.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hvm/abi.h>

#include "hypercall.h"

#define MIB (1ULL << 20)
#define TOP_GPA 0xffffffffffff0000ULL /* a region that ends at 2^64 */
#define TOP_SIZE 0x10000ULL

static uint8_t low_mem[MIB];
static uint8_t next_mem[MIB];
static uint8_t top_mem[TOP_SIZE];

/* Two adjacent regions backed by separate host buffers, and one at 2^64. */
static const struct vmm_guest_range ranges[] = {
    {.gpa = 0, .size = MIB, .hva = low_mem},
    {.gpa = MIB, .size = MIB, .hva = next_mem},
    {.gpa = TOP_GPA, .size = TOP_SIZE, .hva = top_mem},
};
#define NR_RANGES (sizeof(ranges) / sizeof(ranges[0]))

static void *guest_ptr(uint64_t gpa, uint64_t len)
{
    return vmm_guest_ptr(ranges, NR_RANGES, gpa, len);
}

START_TEST(decode_first_and_last_port)
{
    struct vmm_hypercall call;

    memset(&call, 0xff, sizeof(call));
    ck_assert_int_eq(
        vmm_hypercall_decode(HVM_HC_PORT_BASE, 1, 1, 2, 3, 4, &call), 0);
    ck_assert_uint_eq(call.op, HVM_HC_CONSOLE_WRITE);
    ck_assert_uint_eq(call.args[0], 1);
    ck_assert_uint_eq(call.args[1], 2);
    ck_assert_uint_eq(call.args[2], 3);
    ck_assert_uint_eq(call.args[3], 4);

    ck_assert_int_eq(vmm_hypercall_decode(HVM_HC_PORT_BASE + HVM_HC_REBOOT, 1,
                                          0, 0, 0, UINT64_MAX, &call),
                     0);
    ck_assert_uint_eq(call.op, HVM_HC_REBOOT);
    ck_assert_uint_eq(call.args[3], UINT64_MAX);
}
END_TEST

START_TEST(decode_unknown_operation)
{
    struct vmm_hypercall call;
    uint16_t last = HVM_HC_PORT_BASE + HVM_HC_PORT_COUNT - 1;

    /* Decoded as is, so the dispatcher can return HVM_ERR_NOSYS. */
    ck_assert_int_eq(vmm_hypercall_decode(HVM_HC_PORT_BASE + HVM_HC_COUNT, 1, 0,
                                          0, 0, 0, &call),
                     0);
    ck_assert_uint_eq(call.op, HVM_HC_COUNT);
    ck_assert_int_eq(vmm_hypercall_decode(last, 1, 0, 0, 0, 0, &call), 0);
    ck_assert_uint_eq(call.op, HVM_HC_PORT_COUNT - 1);
}
END_TEST

START_TEST(decode_other_ports)
{
    struct vmm_hypercall call;

    ck_assert_int_eq(
        vmm_hypercall_decode(HVM_HC_PORT_BASE - 1, 1, 0, 0, 0, 0, &call), 1);
    ck_assert_int_eq(vmm_hypercall_decode(HVM_HC_PORT_BASE + HVM_HC_PORT_COUNT,
                                          1, 0, 0, 0, 0, &call),
                     1);
    ck_assert_int_eq(vmm_hypercall_decode(0x3f8, 1, 0, 0, 0, 0, &call), 1);
    ck_assert_int_eq(vmm_hypercall_decode(0, 0, 0, 0, 0, 0, &call), 1);
    ck_assert_int_eq(vmm_hypercall_decode(0xffff, 1, 0, 0, 0, 0, &call), 1);
}
END_TEST

START_TEST(decode_read_rejected)
{
    struct vmm_hypercall call;

    ck_assert_int_eq(
        vmm_hypercall_decode(HVM_HC_PORT_BASE, 0, 0, 0, 0, 0, &call), -1);
}
END_TEST

START_TEST(guest_ptr_inside_ranges)
{
    ck_assert_ptr_eq(guest_ptr(0, 1), low_mem);
    ck_assert_ptr_eq(guest_ptr(0x1234, 100), low_mem + 0x1234);
    ck_assert_ptr_eq(guest_ptr(0, MIB), low_mem);
    ck_assert_ptr_eq(guest_ptr(MIB, 8), next_mem);
    ck_assert_ptr_eq(guest_ptr(MIB + 0x10, MIB - 0x10), next_mem + 0x10);
}
END_TEST

START_TEST(guest_ptr_end_of_range)
{
    ck_assert_ptr_eq(guest_ptr(MIB - 16, 16), low_mem + MIB - 16);
    ck_assert_ptr_eq(guest_ptr(MIB - 1, 1), low_mem + MIB - 1);
    ck_assert_ptr_eq(guest_ptr(2 * MIB - 1, 1), next_mem + MIB - 1);
    ck_assert_ptr_null(guest_ptr(2 * MIB - 1, 2));
    ck_assert_ptr_null(guest_ptr(2 * MIB, 1));
    ck_assert_ptr_null(guest_ptr(0, MIB * 2 + 1));
}
END_TEST

START_TEST(guest_ptr_spanning_two_ranges)
{
    /* Adjacent in guest memory but not in host memory. */
    ck_assert_ptr_null(guest_ptr(MIB - 16, 17));
    ck_assert_ptr_null(guest_ptr(0, 2 * MIB));
}
END_TEST

START_TEST(guest_ptr_zero_length)
{
    ck_assert_ptr_eq(guest_ptr(0x100, 0), low_mem + 0x100);
    ck_assert_ptr_eq(guest_ptr(MIB, 0), next_mem);
    /* One past the end of a region is outside it, even for 0 bytes. */
    ck_assert_ptr_null(guest_ptr(2 * MIB, 0));
    ck_assert_ptr_null(guest_ptr(3 * MIB, 0));
}
END_TEST

START_TEST(guest_ptr_wrap_at_2_64)
{
    ck_assert_ptr_eq(guest_ptr(TOP_GPA, TOP_SIZE), top_mem);
    ck_assert_ptr_eq(guest_ptr(UINT64_MAX, 1), top_mem + TOP_SIZE - 1);
    ck_assert_ptr_null(guest_ptr(UINT64_MAX, 2));
    ck_assert_ptr_null(guest_ptr(TOP_GPA, TOP_SIZE + 1));
    ck_assert_ptr_null(guest_ptr(UINT64_MAX - 4, UINT64_MAX));
    ck_assert_ptr_null(guest_ptr(0x10, UINT64_MAX));
    ck_assert_ptr_null(guest_ptr(1, UINT64_MAX));
}
END_TEST

START_TEST(guest_ptr_malformed_ranges)
{
    static uint8_t buffer[0x2000];
    /* A region whose end passes 2^64, and one without host memory. */
    const struct vmm_guest_range bad[] = {
        {.gpa = UINT64_MAX - 0xfff, .size = 0x2000, .hva = buffer},
        {.gpa = 0, .size = MIB, .hva = NULL},
    };

    ck_assert_ptr_eq(vmm_guest_ptr(bad, 2, UINT64_MAX - 0xfff, 0x1000), buffer);
    ck_assert_ptr_null(vmm_guest_ptr(bad, 2, UINT64_MAX - 0xfff, 0x1001));
    ck_assert_ptr_null(vmm_guest_ptr(bad, 2, 0, 1));
    ck_assert_ptr_null(vmm_guest_ptr(ranges, 0, 0, 1));
}
END_TEST

START_TEST(guest_string_plain)
{
    char dst[16];

    memset(dst, 'x', sizeof(dst));
    vmm_guest_string(dst, "hello", sizeof(dst));
    ck_assert_str_eq(dst, "hello");
}
END_TEST

START_TEST(guest_string_sanitizes)
{
    const char guest[] = "\x01"
                         "a\nb\x7f\xff\t~ ";
    char dst[16];

    vmm_guest_string(dst, guest, sizeof(dst));
    ck_assert_str_eq(dst, "?a?b???~ ");
}
END_TEST

START_TEST(guest_string_truncates)
{
    const char guest[6] = {'a', 'b', 'c', 'd', 'e', 'f'}; /* no NUL */
    char dst[8];

    memset(dst, 'x', sizeof(dst));
    vmm_guest_string(dst, guest, 4);
    ck_assert_str_eq(dst, "abc");
    ck_assert_int_eq(dst[4], 'x');

    vmm_guest_string(dst, guest, 1);
    ck_assert_str_eq(dst, "");

    memset(dst, 'x', sizeof(dst));
    vmm_guest_string(dst, guest, 0);
    ck_assert_int_eq(dst[0], 'x');
}
END_TEST

START_TEST(guest_string_stops_at_nul)
{
    const char guest[8] = {'o', 'k', '\0', 'h', 'i', 'd', '\0', 0};
    char dst[8];

    memset(dst, 'x', sizeof(dst));
    vmm_guest_string(dst, guest, sizeof(guest));
    ck_assert_str_eq(dst, "ok");
    ck_assert_int_eq(dst[3], 'x');
}
END_TEST

static Suite *hypercall_suite(void)
{
    Suite *suite = suite_create("hypercall");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, decode_first_and_last_port);
    tcase_add_test(tc, decode_unknown_operation);
    tcase_add_test(tc, decode_other_ports);
    tcase_add_test(tc, decode_read_rejected);
    tcase_add_test(tc, guest_ptr_inside_ranges);
    tcase_add_test(tc, guest_ptr_end_of_range);
    tcase_add_test(tc, guest_ptr_spanning_two_ranges);
    tcase_add_test(tc, guest_ptr_zero_length);
    tcase_add_test(tc, guest_ptr_wrap_at_2_64);
    tcase_add_test(tc, guest_ptr_malformed_ranges);
    tcase_add_test(tc, guest_string_plain);
    tcase_add_test(tc, guest_string_sanitizes);
    tcase_add_test(tc, guest_string_truncates);
    tcase_add_test(tc, guest_string_stops_at_nul);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(hypercall_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
