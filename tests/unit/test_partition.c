/*
 * Unit tests of the partition plan: layouts for several VM shapes, each
 * rejected request with the value it names, and size parsing.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hvm/abi.h>

#include "partition.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static struct vmm_partition_request request;
static struct vmm_partition plan;
static char err[256];

/* A guest ROS with 2 CPUs and 1 GiB, an HRT with 2 CPUs and 256 MiB. */
static void setup(void)
{
    request = (struct vmm_partition_request){
        .ros_cpus = 2,
        .hrt_cpus = 2,
        .ros_mem = 1 * GIB,
        .hrt_mem = 256 * MIB,
        .max_vcpus = 288,
        .host_mem = 64 * GIB,
    };
    memset(&plan, 0xff, sizeof(plan));
    err[0] = '\0';
}

static void expect_plan(void)
{
    int rc = vmm_partition_plan(&request, &plan, err, sizeof(err));

    ck_assert_msg(rc == 0, "rejected: %s", err);
}

static void expect_reject(const char *word)
{
    int rc = vmm_partition_plan(&request, &plan, err, sizeof(err));

    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, word) != NULL,
                  "message \"%s\" does not contain \"%s\"", err, word);
}

START_TEST(plan_small_guest_ros)
{
    expect_plan();
    ck_assert_uint_eq(plan.ros_cpus, 2);
    ck_assert_uint_eq(plan.hrt_cpus, 2);
    ck_assert_uint_eq(plan.first_hrt_cpu, 2);
    ck_assert_uint_eq(plan.nr_ros_ranges, 1);
    ck_assert_uint_eq(plan.ros_ranges[0].gpa, 0);
    ck_assert_uint_eq(plan.ros_ranges[0].size, 1 * GIB);
    ck_assert_uint_eq(plan.hrt_range.gpa, 1 * GIB);
    ck_assert_uint_eq(plan.hrt_range.size, 256 * MIB);
}
END_TEST

START_TEST(plan_hrt_only)
{
    request.ros_cpus = 0;
    request.ros_mem = 0;
    request.hrt_cpus = 4;
    request.hrt_mem = 64 * MIB;
    expect_plan();
    ck_assert_uint_eq(plan.ros_cpus, 0);
    ck_assert_uint_eq(plan.first_hrt_cpu, 0);
    ck_assert_uint_eq(plan.nr_ros_ranges, 0);
    ck_assert_uint_eq(plan.hrt_range.gpa, 0);
    ck_assert_uint_eq(plan.hrt_range.size, 64 * MIB);
}
END_TEST

START_TEST(plan_hrt_only_larger_than_low_memory)
{
    request.ros_cpus = 0;
    request.ros_mem = 0;
    request.hrt_mem = 4 * GIB;
    expect_plan();
    ck_assert_uint_eq(plan.hrt_range.gpa, VMM_HIGH_MEM_START);
    ck_assert_uint_eq(plan.hrt_range.size, 4 * GIB);
}
END_TEST

START_TEST(plan_ros_split_around_hole)
{
    request.ros_mem = 4 * GIB;
    expect_plan();
    ck_assert_uint_eq(plan.nr_ros_ranges, 2);
    ck_assert_uint_eq(plan.ros_ranges[0].gpa, 0);
    ck_assert_uint_eq(plan.ros_ranges[0].size, VMM_LOW_MEM_LIMIT);
    ck_assert_uint_eq(plan.ros_ranges[1].gpa, VMM_HIGH_MEM_START);
    ck_assert_uint_eq(plan.ros_ranges[1].size, 4 * GIB - VMM_LOW_MEM_LIMIT);
    ck_assert_uint_eq(plan.hrt_range.gpa,
                      VMM_HIGH_MEM_START + 4 * GIB - VMM_LOW_MEM_LIMIT);
}
END_TEST

START_TEST(plan_hrt_moves_above_hole)
{
    /* ROS ends at 2.5 GiB, so 1 GiB of HRT would reach into the hole. */
    request.ros_mem = 2 * GIB + 512 * MIB;
    request.hrt_mem = 1 * GIB;
    expect_plan();
    ck_assert_uint_eq(plan.nr_ros_ranges, 1);
    ck_assert_uint_eq(plan.hrt_range.gpa, VMM_HIGH_MEM_START);
}
END_TEST

START_TEST(plan_ros_ends_at_hole)
{
    request.ros_mem = VMM_LOW_MEM_LIMIT;
    expect_plan();
    ck_assert_uint_eq(plan.nr_ros_ranges, 1);
    ck_assert_uint_eq(plan.ros_ranges[0].size, VMM_LOW_MEM_LIMIT);
    ck_assert_uint_eq(plan.hrt_range.gpa, VMM_HIGH_MEM_START);
}
END_TEST

START_TEST(plan_hrt_fills_low_memory)
{
    /* HRT ends exactly at the hole, so it stays low. */
    request.ros_mem = VMM_LOW_MEM_LIMIT - 4 * MIB;
    request.hrt_mem = 4 * MIB;
    expect_plan();
    ck_assert_uint_eq(plan.hrt_range.gpa, VMM_LOW_MEM_LIMIT - 4 * MIB);
    ck_assert_uint_eq(plan.hrt_range.gpa + plan.hrt_range.size,
                      VMM_LOW_MEM_LIMIT);
}
END_TEST

START_TEST(plan_at_limits)
{
    request.ros_cpus = 224;
    request.hrt_cpus = HVM_MAX_HRT_CPUS;
    request.max_vcpus = 224 + HVM_MAX_HRT_CPUS;
    request.host_mem = request.ros_mem + request.hrt_mem;
    expect_plan();
    ck_assert_uint_eq(plan.first_hrt_cpu, 224);
    ck_assert_uint_eq(plan.hrt_cpus, HVM_MAX_HRT_CPUS);
}
END_TEST

START_TEST(plan_zero_hrt_cpus)
{
    request.hrt_cpus = 0;
    expect_reject("HRT CPU count is 0");
}
END_TEST

START_TEST(plan_too_many_vcpus)
{
    request.max_vcpus = 3;
    expect_reject("exceeds the host's maximum of 3");
    ck_assert_ptr_nonnull(strstr(err, "count 4"));
}
END_TEST

START_TEST(plan_vcpu_sum_does_not_wrap)
{
    request.ros_cpus = UINT32_MAX;
    request.max_vcpus = UINT32_MAX;
    expect_reject("exceeds the host's maximum");
}
END_TEST

START_TEST(plan_too_many_hrt_cpus)
{
    request.hrt_cpus = HVM_MAX_HRT_CPUS + 1;
    expect_reject("HRT CPU count 65");
    ck_assert_ptr_nonnull(strstr(err, "maximum of 64"));
}
END_TEST

START_TEST(plan_ros_cpus_without_memory)
{
    request.ros_mem = 0;
    expect_reject("ROS memory is 0");
}
END_TEST

START_TEST(plan_ros_memory_too_small)
{
    request.ros_mem = 30 * MIB;
    expect_reject("minimum of 32 MiB");
    ck_assert_ptr_nonnull(strstr(err, "ROS memory"));
}
END_TEST

START_TEST(plan_ros_memory_without_cpus)
{
    request.ros_cpus = 0;
    expect_reject("without ROS CPUs");
}
END_TEST

START_TEST(plan_hrt_memory_too_small)
{
    request.hrt_mem = 2 * MIB;
    expect_reject("minimum of 4 MiB");
    ck_assert_ptr_nonnull(strstr(err, "HRT memory"));
}
END_TEST

START_TEST(plan_ros_memory_not_2mib_multiple)
{
    request.ros_mem = 33 * MIB;
    expect_reject("multiples of 2 MiB");
}
END_TEST

START_TEST(plan_hrt_memory_not_2mib_multiple)
{
    request.hrt_mem = 5 * MIB;
    expect_reject("multiples of 2 MiB");
}
END_TEST

START_TEST(plan_exceeds_host_memory)
{
    request.host_mem = 1 * GIB;
    expect_reject("available on the host");
}
END_TEST

START_TEST(plan_memory_sum_overflows)
{
    request.host_mem = UINT64_MAX;
    request.ros_mem = UINT64_MAX - (2 * MIB - 1);
    request.hrt_mem = 4 * MIB;
    expect_reject("overflows");
}
END_TEST

START_TEST(plan_ros_layout_overflows)
{
    /* The sum fits, but moving RAM above 4 GiB does not. */
    request.host_mem = UINT64_MAX;
    request.ros_mem = 0 - 8 * MIB;
    request.hrt_mem = 4 * MIB;
    expect_reject("overflows the guest physical address space");
    ck_assert_ptr_nonnull(strstr(err, "ROS"));
}
END_TEST

START_TEST(plan_hrt_layout_overflows)
{
    /* ROS ends 2 MiB below 2^64, so 4 MiB of HRT does not fit. */
    request.host_mem = UINT64_MAX;
    request.ros_mem = 0 - VMM_HIGH_MEM_START + VMM_LOW_MEM_LIMIT - 2 * MIB;
    request.hrt_mem = 4 * MIB;
    expect_reject("overflows the guest physical address space");
    ck_assert_ptr_nonnull(strstr(err, "HRT"));
}
END_TEST

START_TEST(parse_size_valid)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"65536", 65536},
        {"0", 0},
        {"64K", 64 * 1024},
        {"4k", 4096},
        {"512M", 512 * MIB},
        {"2G", 2 * GIB},
        {"2GiB", 2 * GIB},
        {"16MB", 16 * MIB},
        {"1T", 1024 * GIB},
        {"18446744073709551615", UINT64_MAX},
        {"16777215T", 16777215ULL << 40},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t bytes = 1;

        ck_assert_msg(vmm_parse_size(cases[i].text, &bytes) == 0,
                      "\"%s\" rejected", cases[i].text);
        ck_assert_msg(bytes == cases[i].bytes, "\"%s\" parsed as %llu",
                      cases[i].text, (unsigned long long)bytes);
    }
}
END_TEST

START_TEST(parse_size_invalid)
{
    static const char *const cases[] = {
        "",          "M",    "-1",  " 5",
        "5 ",        "5X",   "5MM", "5Mb",
        "0x10",      "1.5G", "5iB", "18446744073709551616", /* 2^64 */
        "16777216T",                                        /* 2^64 bytes */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t bytes = 7;

        ck_assert_msg(vmm_parse_size(cases[i], &bytes) == -1, "\"%s\" accepted",
                      cases[i]);
        ck_assert_uint_eq(bytes, 7);
    }
    ck_assert_int_eq(vmm_parse_size(NULL, NULL), -1);
}
END_TEST

static Suite *partition_suite(void)
{
    Suite *suite = suite_create("partition");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, plan_small_guest_ros);
    tcase_add_test(tc, plan_hrt_only);
    tcase_add_test(tc, plan_hrt_only_larger_than_low_memory);
    tcase_add_test(tc, plan_ros_split_around_hole);
    tcase_add_test(tc, plan_hrt_moves_above_hole);
    tcase_add_test(tc, plan_ros_ends_at_hole);
    tcase_add_test(tc, plan_hrt_fills_low_memory);
    tcase_add_test(tc, plan_at_limits);
    tcase_add_test(tc, plan_zero_hrt_cpus);
    tcase_add_test(tc, plan_too_many_vcpus);
    tcase_add_test(tc, plan_vcpu_sum_does_not_wrap);
    tcase_add_test(tc, plan_too_many_hrt_cpus);
    tcase_add_test(tc, plan_ros_cpus_without_memory);
    tcase_add_test(tc, plan_ros_memory_too_small);
    tcase_add_test(tc, plan_ros_memory_without_cpus);
    tcase_add_test(tc, plan_hrt_memory_too_small);
    tcase_add_test(tc, plan_ros_memory_not_2mib_multiple);
    tcase_add_test(tc, plan_hrt_memory_not_2mib_multiple);
    tcase_add_test(tc, plan_exceeds_host_memory);
    tcase_add_test(tc, plan_memory_sum_overflows);
    tcase_add_test(tc, plan_ros_layout_overflows);
    tcase_add_test(tc, plan_hrt_layout_overflows);
    tcase_add_test(tc, parse_size_valid);
    tcase_add_test(tc, parse_size_invalid);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(partition_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
