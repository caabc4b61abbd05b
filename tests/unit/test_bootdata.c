/*
 * Unit tests of the guest ROS boot data: the e820 map, the MP table, the
 * ACPI tables, the bzImage parser and the zero page. Plans come from the
 * real partition planner, so the tables are checked for the layouts that
 * `hvm run` produces.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "bootparams.h"
#include "bzimage.h"
#include "e820.h"
#include "mptable.h"
#include "partition.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static char err[256];
static uint8_t buf[VMM_ACPI_MAX_SIZE];

static struct vmm_partition plan_make(unsigned ros_cpus, unsigned hrt_cpus,
                                      uint64_t ros_mem)
{
    struct vmm_partition_request request = {
        .ros_cpus = ros_cpus,
        .hrt_cpus = hrt_cpus,
        .ros_mem = ros_mem,
        .hrt_mem = 64 * MIB,
        .max_vcpus = 288,
        .host_mem = 64 * GIB,
    };
    struct vmm_partition plan;

    ck_assert_msg(vmm_partition_plan(&request, &plan, err, sizeof(err)) == 0,
                  "plan rejected: %s", err);
    return plan;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;

    for (size_t i = 0; i < len; i++)
        s += p[i];
    return s;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static void expect_message(const char *word)
{
    ck_assert_msg(strstr(err, word) != NULL,
                  "message \"%s\" does not contain \"%s\"", err, word);
}

/* ---- e820 ---- */

START_TEST(e820_lists_only_ros_memory)
{
    struct vmm_partition plan = plan_make(1, 1, 128 * MIB);
    struct vmm_e820_map map;
    uint64_t ram = 0;

    ck_assert_int_eq(vmm_e820_build_ros(&plan, &map, err, sizeof(err)), 0);
    ck_assert_uint_eq(map.count, 4);
    for (unsigned i = 0; i < map.count; i++) {
        const struct vmm_e820_entry *e = &map.entries[i];

        ck_assert(e->addr + e->size <= plan.hrt_range.gpa ||
                  e->addr >= plan.hrt_range.gpa + plan.hrt_range.size);
        ck_assert(e->addr + e->size <= 128 * MIB);
        if (e->type == VMM_E820_RAM)
            ram += e->size;
    }
    ck_assert_uint_eq(ram, 128 * MIB - (VMM_E820_HIGH_START -
                                        VMM_E820_EBDA_START));
    ck_assert_uint_eq(map.entries[3].addr, VMM_E820_HIGH_START);
}
END_TEST

START_TEST(e820_splits_around_hole)
{
    struct vmm_partition plan = plan_make(2, 1, 4 * GIB);
    struct vmm_e820_map map;

    ck_assert_int_eq(vmm_e820_build_ros(&plan, &map, err, sizeof(err)), 0);
    ck_assert_uint_eq(map.count, 5);
    ck_assert_uint_eq(map.entries[4].addr, VMM_HIGH_MEM_START);
    ck_assert_uint_eq(map.entries[4].size, 4 * GIB - VMM_LOW_MEM_LIMIT);
    ck_assert_uint_eq(map.entries[4].type, VMM_E820_RAM);
}
END_TEST

START_TEST(e820_rejects_overlap_with_hrt)
{
    struct vmm_partition plan = plan_make(1, 1, 128 * MIB);
    struct vmm_e820_map map;

    plan.hrt_range.gpa = 64 * MIB;
    ck_assert_int_eq(vmm_e820_build_ros(&plan, &map, err, sizeof(err)), -1);
    expect_message("overlaps the HRT");
}
END_TEST

START_TEST(e820_rejects_bad_first_range)
{
    struct vmm_partition plan = plan_make(1, 1, 128 * MIB);
    struct vmm_e820_map map;

    plan.ros_ranges[0].gpa = 2 * MIB;
    ck_assert_int_eq(vmm_e820_build_ros(&plan, &map, err, sizeof(err)), -1);
    expect_message("start at 0");
    plan.nr_ros_ranges = 0;
    ck_assert_int_eq(vmm_e820_build_ros(&plan, &map, err, sizeof(err)), -1);
    expect_message("0 ROS memory ranges");
}
END_TEST

START_TEST(e820_add_rejects_overlap_and_wrap)
{
    struct vmm_e820_map map = {0};

    ck_assert_int_eq(vmm_e820_add(&map, 0x1000, 0x1000, VMM_E820_RAM, err,
                                  sizeof(err)), 0);
    ck_assert_int_eq(vmm_e820_add(&map, 0x1800, 0x1000, VMM_E820_RAM, err,
                                  sizeof(err)), -1);
    expect_message("overlaps");
    ck_assert_int_eq(vmm_e820_add(&map, UINT64_MAX - 1, 4, VMM_E820_RAM, err,
                                  sizeof(err)), -1);
    expect_message("invalid range");
    ck_assert_int_eq(vmm_e820_add(&map, 0x9000, 0, VMM_E820_RAM, err,
                                  sizeof(err)), -1);
    ck_assert_uint_eq(map.count, 1);
}
END_TEST

/* ---- MP table ---- */

static void mptable_check(unsigned ros_cpus, unsigned hrt_cpus)
{
    struct vmm_partition plan = plan_make(ros_cpus, hrt_cpus, 256 * MIB);
    size_t size = vmm_mptable_build(buf, sizeof(buf), VMM_E820_EBDA_START,
                                    &plan, err, sizeof(err));
    const uint8_t *table = buf + 16;
    uint16_t length, count;
    unsigned cpus = 0, offset = 44;

    ck_assert_msg(size > 0, "rejected: %s", err);
    ck_assert_uint_eq(size, vmm_mptable_size(ros_cpus));
    ck_assert_int_eq(memcmp(buf, "_MP_", 4), 0);
    ck_assert_uint_eq(sum(buf, 16), 0);
    ck_assert_uint_eq(get32(buf + 4), VMM_E820_EBDA_START + 16);
    ck_assert_int_eq(memcmp(table, "PCMP", 4), 0);
    memcpy(&length, table + 4, 2);
    memcpy(&count, table + 34, 2);
    ck_assert_uint_eq(length, size - 16);
    ck_assert_uint_eq(sum(table, length), 0);
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *entry = table + offset;

        ck_assert_uint_lt(offset, length);
        if (entry[0] == 0) {
            ck_assert_uint_eq(entry[1], cpus); /* APIC ID */
            ck_assert_uint_eq(entry[3] & 2, cpus == 0 ? 2 : 0); /* BSP */
            ck_assert_uint_eq(entry[3] & 1, 1);                 /* enabled */
            cpus++;
        }
        offset += entry[0] == 0 ? 20 : 8;
    }
    ck_assert_uint_eq(offset, length);
    ck_assert_uint_eq(cpus, ros_cpus);
}

START_TEST(mptable_one_ros_one_hrt)
{
    mptable_check(1, 1);
}
END_TEST

START_TEST(mptable_two_ros_two_hrt)
{
    mptable_check(2, 2);
}
END_TEST

START_TEST(mptable_eight_ros_one_hrt)
{
    mptable_check(8, 1);
}
END_TEST

START_TEST(mptable_rejects_invalid_partitions)
{
    struct vmm_partition plan = plan_make(2, 2, 256 * MIB);

    plan.first_hrt_cpu = 1;
    ck_assert_uint_eq(vmm_mptable_build(buf, sizeof(buf), 0x9fc00, &plan,
                                        err, sizeof(err)), 0);
    expect_message("overlaps");
    plan.first_hrt_cpu = 2;
    plan.ros_cpus = 0;
    ck_assert_uint_eq(vmm_mptable_build(buf, sizeof(buf), 0x9fc00, &plan,
                                        err, sizeof(err)), 0);
    expect_message("no ROS processors");
    plan.ros_cpus = 255;
    plan.first_hrt_cpu = 255;
    ck_assert_uint_eq(vmm_mptable_build(buf, sizeof(buf), 0x9fc00, &plan,
                                        err, sizeof(err)), 0);
    expect_message("at most 254");
}
END_TEST

START_TEST(mptable_rejects_small_buffer)
{
    struct vmm_partition plan = plan_make(2, 1, 256 * MIB);

    ck_assert_uint_eq(vmm_mptable_build(buf, vmm_mptable_size(2) - 1,
                                        0x9fc00, &plan, err, sizeof(err)),
                      0);
    expect_message("do not fit");
    ck_assert_uint_eq(vmm_mptable_build(buf, sizeof(buf), 0x9fc08, &plan,
                                        err, sizeof(err)),
                      0);
}
END_TEST

/* ---- ACPI ---- */

static const uint8_t *xsdt_table(const uint8_t *xsdt, const char *sig)
{
    uint32_t length = get32(xsdt + 4);

    for (uint32_t off = 36; off + 8 <= length; off += 8) {
        const uint8_t *t = buf + (get64(xsdt + off) - VMM_ACPI_GPA);

        if (memcmp(t, sig, 4) == 0)
            return t;
    }
    return NULL;
}

static void acpi_check(unsigned ros_cpus, unsigned hrt_cpus)
{
    struct vmm_partition plan = plan_make(ros_cpus, hrt_cpus, 256 * MIB);
    size_t size = vmm_acpi_build(buf, sizeof(buf), VMM_ACPI_GPA, &plan, err,
                                 sizeof(err));
    const uint8_t *xsdt, *fadt, *madt, *dsdt;
    unsigned cpus = 0;

    ck_assert_msg(size > 0, "rejected: %s", err);
    ck_assert_int_eq(memcmp(buf, "RSD PTR ", 8), 0);
    ck_assert_uint_eq(sum(buf, 20), 0);
    ck_assert_uint_eq(sum(buf, 36), 0);
    xsdt = buf + (get64(buf + 24) - VMM_ACPI_GPA);
    ck_assert_int_eq(memcmp(xsdt, "XSDT", 4), 0);
    ck_assert_uint_eq(sum(xsdt, get32(xsdt + 4)), 0);
    fadt = xsdt_table(xsdt, "FACP");
    madt = xsdt_table(xsdt, "APIC");
    ck_assert_ptr_nonnull(fadt);
    ck_assert_ptr_nonnull(madt);
    ck_assert_uint_eq(get32(fadt + 4), 276);
    ck_assert_uint_eq(sum(fadt, 276), 0);
    ck_assert_uint_eq(get32(fadt + 112) & (1u << 20), 1u << 20);
    dsdt = buf + (get64(fadt + 140) - VMM_ACPI_GPA);
    ck_assert_int_eq(memcmp(dsdt, "DSDT", 4), 0);
    ck_assert_uint_eq(sum(dsdt, get32(dsdt + 4)), 0);
    ck_assert_ptr_nonnull(memmem(dsdt, get32(dsdt + 4), "_S5_", 4));
    ck_assert_uint_eq(sum(madt, get32(madt + 4)), 0);
    for (uint32_t off = 44; off < get32(madt + 4); off += madt[off + 1]) {
        ck_assert_uint_gt(madt[off + 1], 0);
        if (madt[off] == 0) {
            ck_assert_uint_eq(madt[off + 3], cpus);
            ck_assert_uint_eq(get32(madt + off + 4) & 1, 1);
            cpus++;
        }
    }
    ck_assert_uint_eq(cpus, ros_cpus);
    ck_assert_uint_le(size, VMM_ACPI_MAX_SIZE);
}

START_TEST(acpi_one_ros_one_hrt)
{
    acpi_check(1, 1);
}
END_TEST

START_TEST(acpi_four_ros_two_hrt)
{
    acpi_check(4, 2);
}
END_TEST

START_TEST(acpi_rejects_invalid_partitions)
{
    struct vmm_partition plan = plan_make(2, 2, 256 * MIB);

    plan.first_hrt_cpu = 0;
    ck_assert_uint_eq(vmm_acpi_build(buf, sizeof(buf), VMM_ACPI_GPA, &plan,
                                     err, sizeof(err)), 0);
    expect_message("overlaps");
    plan.first_hrt_cpu = 2;
    plan.ros_cpus = 0;
    ck_assert_uint_eq(vmm_acpi_build(buf, sizeof(buf), VMM_ACPI_GPA, &plan,
                                     err, sizeof(err)), 0);
    expect_message("no ROS processors");
    plan.ros_cpus = 2;
    ck_assert_uint_eq(vmm_acpi_build(buf, 100, VMM_ACPI_GPA, &plan, err,
                                     sizeof(err)), 0);
    expect_message("do not fit");
}
END_TEST

/* ---- bzImage ---- */

#define FAKE_SETUP_SECTS 4
#define FAKE_KERNEL_SIZE 8192
#define FAKE_SIZE ((FAKE_SETUP_SECTS + 1) * 512 + FAKE_KERNEL_SIZE)

static uint8_t image[FAKE_SIZE];

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* A bzImage header as a 6.1 x86-64 kernel has one, with a small kernel. */
static void fake_bzimage(void)
{
    memset(image, 0, sizeof(image));
    image[0x1f1] = FAKE_SETUP_SECTS;
    put32(image + 0x1f4, FAKE_KERNEL_SIZE / 16);
    put16(image + 0x1fe, 0xaa55);
    image[0x200] = 0xeb;
    image[0x201] = 0x66; /* header ends at 0x268 */
    memcpy(image + 0x202, "HdrS", 4);
    put16(image + 0x206, 0x020f);
    image[0x211] = 0x01; /* LOADED_HIGH */
    put32(image + 0x22c, 0x7fffffff);
    put32(image + 0x230, 0x200000);
    image[0x234] = 1;
    put16(image + 0x236, 0x0003); /* KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
    put32(image + 0x238, 2047);
    put32(image + 0x258, 0x1000000);
    put32(image + 0x260, 0x100000);
}

static int parse(size_t size, struct vmm_bzimage *info)
{
    return vmm_bzimage_parse(image, size, info, err, sizeof(err));
}

START_TEST(bzimage_valid_header)
{
    struct vmm_bzimage info;
    uint64_t address;

    fake_bzimage();
    ck_assert_msg(parse(sizeof(image), &info) == 0, "rejected: %s", err);
    ck_assert_uint_eq(info.setup_size, 5 * 512);
    ck_assert_uint_eq(info.kernel_size, FAKE_KERNEL_SIZE);
    ck_assert_ptr_eq(info.kernel, image + 5 * 512);
    ck_assert_uint_eq(info.setup_header_size, 0x268 - 0x1f1);
    ck_assert_uint_eq(info.cmdline_size, 2047);
    ck_assert_int_eq(vmm_bzimage_load_address(&info, 0, 128 * MIB, &address,
                                              err, sizeof(err)), 0);
    ck_assert_uint_eq(address, 0x1000000);
}
END_TEST

START_TEST(bzimage_rejects_truncated)
{
    struct vmm_bzimage info;

    fake_bzimage();
    ck_assert_int_eq(parse(0x200, &info), -1);
    expect_message("truncated");
    ck_assert_int_eq(parse(sizeof(image) - 16, &info), -1);
    expect_message("truncated");
    ck_assert_int_eq(parse(5 * 512, &info), -1);
    expect_message("truncated");
}
END_TEST

START_TEST(bzimage_rejects_foreign_files)
{
    struct vmm_bzimage info;

    fake_bzimage();
    memcpy(image, "\177ELF", 4);
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("ELF");
    memset(image, 0, sizeof(image));
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("0xaa55");
    fake_bzimage();
    memcpy(image + 0x202, "HdrX", 4);
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("HdrS");
}
END_TEST

START_TEST(bzimage_rejects_old_protocol)
{
    struct vmm_bzimage info;

    fake_bzimage();
    put16(image + 0x206, 0x0205);
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("2.05 is too old");
    fake_bzimage();
    put16(image + 0x236, 0);
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("XLF_KERNEL_64");
}
END_TEST

START_TEST(bzimage_rejects_bad_fields)
{
    struct vmm_bzimage info;

    fake_bzimage();
    image[0x211] = 0;
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("LOADED_HIGH");
    fake_bzimage();
    image[0x1f1] = 65;
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("setup_sects");
    fake_bzimage();
    put32(image + 0x230, 0x300000);
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("kernel_alignment");
    fake_bzimage();
    put32(image + 0x260, 16);
    ck_assert_int_eq(parse(sizeof(image), &info), -1);
    expect_message("init_size");
}
END_TEST

START_TEST(bzimage_fixed_kernel_outside_ram)
{
    struct vmm_bzimage info;
    uint64_t address;

    fake_bzimage();
    image[0x234] = 0; /* not relocatable */
    put32(image + 0x258, 0x8000000);
    ck_assert_int_eq(parse(sizeof(image), &info), 0);
    ck_assert_int_eq(vmm_bzimage_load_address(&info, 0, 64 * MIB, &address,
                                              err, sizeof(err)), -1);
    expect_message("not relocatable");
}
END_TEST

/* ---- zero page ---- */

static struct vmm_e820_map e820_make(void)
{
    struct vmm_partition plan = plan_make(1, 1, 128 * MIB);
    struct vmm_e820_map map;

    ck_assert_int_eq(vmm_e820_build_ros(&plan, &map, err, sizeof(err)), 0);
    return map;
}

START_TEST(bootparams_vmlinux_header)
{
    static uint8_t zp[VMM_ZERO_PAGE_SIZE];
    struct vmm_e820_map map = e820_make();
    struct vmm_boot_params_config config = {
        .cmdline_gpa = 0x20000,
        .cmdline_length = 100,
        .initrd_gpa = 0x4000000,
        .initrd_size = 0x200000,
        .e820 = &map,
    };

    ck_assert_int_eq(vmm_boot_params_build(zp, &config, err, sizeof(err)), 0);
    ck_assert_int_eq(memcmp(zp + 0x202, "HdrS", 4), 0);
    ck_assert_uint_eq(zp[0x210], 0xff);
    ck_assert_uint_eq(get32(zp + 0x228), 0x20000);
    ck_assert_uint_eq(get32(zp + 0x218), 0x4000000);
    ck_assert_uint_eq(get32(zp + 0x21c), 0x200000);
    ck_assert_uint_eq(zp[0x1e8], map.count);
    ck_assert_int_eq(memcmp(zp + 0x2d0, map.entries, map.count * 20), 0);
    ck_assert_uint_eq(get64(zp + 0x70), 0);
}
END_TEST

START_TEST(bootparams_bzimage_header)
{
    static uint8_t zp[VMM_ZERO_PAGE_SIZE];
    struct vmm_e820_map map = e820_make();
    struct vmm_bzimage info;
    struct vmm_boot_params_config config = {
        .cmdline_gpa = 0x20000,
        .cmdline_length = 2048,
        .rsdp_gpa = VMM_ACPI_GPA,
        .e820 = &map,
    };

    fake_bzimage();
    ck_assert_int_eq(parse(sizeof(image), &info), 0);
    config.setup_header = info.setup_header;
    config.setup_header_size = info.setup_header_size;
    ck_assert_int_eq(vmm_boot_params_build(zp, &config, err, sizeof(err)),
                     -1);
    expect_message("longer than");
    config.cmdline_length = 2047;
    ck_assert_int_eq(vmm_boot_params_build(zp, &config, err, sizeof(err)), 0);
    ck_assert_uint_eq(get32(zp + 0x230), 0x200000);
    ck_assert_uint_eq(get64(zp + 0x70), VMM_ACPI_GPA);
    ck_assert_uint_eq(zp[0x210], 0xff);
}
END_TEST

START_TEST(bootparams_rejects_high_initrd)
{
    static uint8_t zp[VMM_ZERO_PAGE_SIZE];
    struct vmm_e820_map map = e820_make();
    struct vmm_bzimage info;
    struct vmm_boot_params_config config = {
        .initrd_gpa = 0x7ff00000,
        .initrd_size = 0x200000,
        .e820 = &map,
    };

    fake_bzimage();
    put16(image + 0x236, 0x0001); /* no CAN_BE_LOADED_ABOVE_4G */
    ck_assert_int_eq(parse(sizeof(image), &info), 0);
    config.setup_header = info.setup_header;
    config.setup_header_size = info.setup_header_size;
    ck_assert_int_eq(vmm_boot_params_build(zp, &config, err, sizeof(err)),
                     -1);
    expect_message("initrd");
    map.count = 0;
    config.initrd_size = 0;
    ck_assert_int_eq(vmm_boot_params_build(zp, &config, err, sizeof(err)),
                     -1);
    expect_message("e820");
}
END_TEST

static Suite *bootdata_suite(void)
{
    Suite *suite = suite_create("bootdata");
    TCase *e820 = tcase_create("e820");
    TCase *mp = tcase_create("mptable");
    TCase *acpi = tcase_create("acpi");
    TCase *bz = tcase_create("bzimage");
    TCase *bp = tcase_create("bootparams");

    tcase_add_test(e820, e820_lists_only_ros_memory);
    tcase_add_test(e820, e820_splits_around_hole);
    tcase_add_test(e820, e820_rejects_overlap_with_hrt);
    tcase_add_test(e820, e820_rejects_bad_first_range);
    tcase_add_test(e820, e820_add_rejects_overlap_and_wrap);
    tcase_add_test(mp, mptable_one_ros_one_hrt);
    tcase_add_test(mp, mptable_two_ros_two_hrt);
    tcase_add_test(mp, mptable_eight_ros_one_hrt);
    tcase_add_test(mp, mptable_rejects_invalid_partitions);
    tcase_add_test(mp, mptable_rejects_small_buffer);
    tcase_add_test(acpi, acpi_one_ros_one_hrt);
    tcase_add_test(acpi, acpi_four_ros_two_hrt);
    tcase_add_test(acpi, acpi_rejects_invalid_partitions);
    tcase_add_test(bz, bzimage_valid_header);
    tcase_add_test(bz, bzimage_rejects_truncated);
    tcase_add_test(bz, bzimage_rejects_foreign_files);
    tcase_add_test(bz, bzimage_rejects_old_protocol);
    tcase_add_test(bz, bzimage_rejects_bad_fields);
    tcase_add_test(bz, bzimage_fixed_kernel_outside_ram);
    tcase_add_test(bp, bootparams_vmlinux_header);
    tcase_add_test(bp, bootparams_bzimage_header);
    tcase_add_test(bp, bootparams_rejects_high_initrd);
    suite_add_tcase(suite, e820);
    suite_add_tcase(suite, mp);
    suite_add_tcase(suite, acpi);
    suite_add_tcase(suite, bz);
    suite_add_tcase(suite, bp);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(bootdata_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
