/*
 * Unit tests of the ELF64 loader: a valid image loads, and every broken
 * header or segment is rejected with a message that names the problem.
 * Images are built in memory from the ELF structures declared below.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf.h"

struct test_ehdr {
    unsigned char e_ident[16];
    uint16_t e_type;
    uint16_t e_machine;
    uint32_t e_version;
    uint64_t e_entry;
    uint64_t e_phoff;
    uint64_t e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize;
    uint16_t e_phentsize;
    uint16_t e_phnum;
    uint16_t e_shentsize;
    uint16_t e_shnum;
    uint16_t e_shstrndx;
};

struct test_phdr {
    uint32_t p_type;
    uint32_t p_flags;
    uint64_t p_offset;
    uint64_t p_vaddr;
    uint64_t p_paddr;
    uint64_t p_filesz;
    uint64_t p_memsz;
    uint64_t p_align;
};

#define TEXT_SIZE 0x100
#define DATA_FILE_SIZE 0x20
#define DATA_MEM_SIZE 0x2000
#define VIRT_BASE 0xffffffff80000000ULL
#define PHYS_BASE 0x200000ULL
#define TARGET_SIZE 0x10000ULL

/* A kernel-like image: text (R X) at offset 0, data + .bss at 0x1000. */
struct test_image {
    struct test_ehdr ehdr;
    struct test_phdr phdr[3];
    uint8_t text[TEXT_SIZE];
    uint8_t data[DATA_FILE_SIZE];
};

_Static_assert(sizeof(struct test_ehdr) == 64, "ELF header is 64 bytes");
_Static_assert(sizeof(struct test_phdr) == 56, "program header is 56 bytes");

static struct test_image image;
static uint8_t target_mem[TARGET_SIZE];
static struct vmm_elf_target target;
static struct vmm_elf_info info;
static char err[256];

static void image_build(void)
{
    struct test_ehdr *eh = &image.ehdr;

    memset(&image, 0, sizeof(image));
    memcpy(eh->e_ident,
           "\x7f"
           "ELF",
           4);
    eh->e_ident[4] = 2; /* ELFCLASS64 */
    eh->e_ident[5] = 1; /* ELFDATA2LSB */
    eh->e_ident[6] = 1; /* EV_CURRENT */
    eh->e_type = 2;     /* ET_EXEC */
    eh->e_machine = 62; /* EM_X86_64 */
    eh->e_version = 1;
    eh->e_entry = VIRT_BASE + 0x10;
    eh->e_phoff = offsetof(struct test_image, phdr);
    eh->e_ehsize = sizeof(*eh);
    eh->e_phentsize = sizeof(struct test_phdr);
    eh->e_phnum = 3;

    image.phdr[0] = (struct test_phdr){
        .p_type = 1,  /* PT_LOAD */
        .p_flags = 5, /* PF_R | PF_X */
        .p_offset = offsetof(struct test_image, text),
        .p_vaddr = VIRT_BASE,
        .p_paddr = 0,
        .p_filesz = TEXT_SIZE,
        .p_memsz = TEXT_SIZE,
        .p_align = 0x1000,
    };
    image.phdr[1] = (struct test_phdr){
        .p_type = 1,
        .p_flags = 6, /* PF_R | PF_W */
        .p_offset = offsetof(struct test_image, data),
        .p_vaddr = VIRT_BASE + 0x1000,
        .p_paddr = 0x1000,
        .p_filesz = DATA_FILE_SIZE,
        .p_memsz = DATA_MEM_SIZE,
        .p_align = 0x1000,
    };
    image.phdr[2] = (struct test_phdr){
        .p_type = 0x6474e551, /* PT_GNU_STACK: ignored by the loader */
        .p_flags = 6,
    };
    memset(image.text, 0xc3, sizeof(image.text));
    memset(image.data, 0x5a, sizeof(image.data));
}

static void setup(void)
{
    image_build();
    memset(target_mem, 0xee, sizeof(target_mem));
    target = (struct vmm_elf_target){
        .mem = target_mem,
        .phys_base = PHYS_BASE,
        .phys_size = TARGET_SIZE,
        .paddr_is_offset = 1,
    };
    memset(&info, 0, sizeof(info));
    err[0] = '\0';
}

/* Runs vmm_elf_check on the image and expects a rejection naming word. */
static void expect_reject(size_t size, const char *word)
{
    int rc = vmm_elf_check(&image, size, &target, &info, err, sizeof(err));

    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, word) != NULL,
                  "message \"%s\" does not contain \"%s\"", err, word);
}

START_TEST(elf_valid_check)
{
    int rc =
        vmm_elf_check(&image, sizeof(image), &target, &info, err, sizeof(err));

    ck_assert_msg(rc == 0, "rejected: %s", err);
    ck_assert_uint_eq(info.entry, VIRT_BASE + 0x10);
    ck_assert_uint_eq(info.phys_start, PHYS_BASE);
    ck_assert_uint_eq(info.phys_end, PHYS_BASE + 0x1000 + DATA_MEM_SIZE);
    ck_assert_uint_eq(info.virt_start, VIRT_BASE);
    ck_assert_uint_eq(info.virt_end, VIRT_BASE + 0x1000 + DATA_MEM_SIZE);
    ck_assert_int_eq(info.nr_segments, 2);
}
END_TEST

START_TEST(elf_valid_load_copies_and_zeroes)
{
    int rc =
        vmm_elf_load(&image, sizeof(image), &target, &info, err, sizeof(err));

    ck_assert_msg(rc == 0, "rejected: %s", err);
    for (size_t i = 0; i < TEXT_SIZE; i++)
        ck_assert_uint_eq(target_mem[i], 0xc3);
    /* The gap between the segments is not written. */
    ck_assert_uint_eq(target_mem[TEXT_SIZE], 0xee);
    ck_assert_uint_eq(target_mem[0xfff], 0xee);
    for (size_t i = 0; i < DATA_FILE_SIZE; i++)
        ck_assert_uint_eq(target_mem[0x1000 + i], 0x5a);
    for (size_t i = DATA_FILE_SIZE; i < DATA_MEM_SIZE; i++)
        ck_assert_uint_eq(target_mem[0x1000 + i], 0);
    ck_assert_uint_eq(target_mem[0x1000 + DATA_MEM_SIZE], 0xee);
}
END_TEST

START_TEST(elf_paddr_as_guest_physical)
{
    int rc;

    target.paddr_is_offset = 0;
    image.phdr[0].p_paddr = PHYS_BASE + 0x4000;
    image.phdr[1].p_paddr = PHYS_BASE + 0x8000;
    rc = vmm_elf_load(&image, sizeof(image), &target, &info, err, sizeof(err));
    ck_assert_msg(rc == 0, "rejected: %s", err);
    ck_assert_uint_eq(info.phys_start, PHYS_BASE + 0x4000);
    ck_assert_uint_eq(info.phys_end, PHYS_BASE + 0x8000 + DATA_MEM_SIZE);
    ck_assert_uint_eq(target_mem[0x4000], 0xc3);
    ck_assert_uint_eq(target_mem[0x8000], 0x5a);
    ck_assert_uint_eq(target_mem[0x8000 + DATA_FILE_SIZE], 0);
}
END_TEST

START_TEST(elf_physical_entry_accepted)
{
    int rc;

    /* A Linux vmlinux: the entry is the physical address of its text. */
    target.paddr_is_offset = 0;
    image.phdr[0].p_paddr = PHYS_BASE + 0x4000;
    image.phdr[1].p_paddr = PHYS_BASE + 0x8000;
    image.ehdr.e_entry = PHYS_BASE + 0x4010;
    rc = vmm_elf_check(&image, sizeof(image), &target, &info, err, sizeof(err));
    ck_assert_msg(rc == 0, "rejected: %s", err);
    ck_assert_uint_eq(info.entry, PHYS_BASE + 0x4010);
}
END_TEST

START_TEST(elf_physical_entry_needs_physical_target)
{
    /* With offsets, a physical-looking entry is just outside the text. */
    image.ehdr.e_entry = PHYS_BASE + 0x10;
    expect_reject(sizeof(image), "entry point");
}
END_TEST

START_TEST(elf_paddr_below_target)
{
    target.paddr_is_offset = 0;
    image.phdr[0].p_paddr = PHYS_BASE - 0x1000;
    image.phdr[1].p_paddr = PHYS_BASE + 0x8000;
    expect_reject(sizeof(image), "below the target region");
}
END_TEST

START_TEST(elf_paddr_above_target)
{
    target.paddr_is_offset = 0;
    image.phdr[0].p_paddr = PHYS_BASE;
    image.phdr[1].p_paddr = PHYS_BASE + TARGET_SIZE - 0x1000;
    expect_reject(sizeof(image), "outside the target region");
}
END_TEST

START_TEST(elf_short_file)
{
    expect_reject(sizeof(struct test_ehdr) - 1, "shorter than");
    expect_reject(0, "shorter than");
}
END_TEST

START_TEST(elf_bad_magic)
{
    image.ehdr.e_ident[3] = 'G';
    expect_reject(sizeof(image), "magic");
    ck_assert_ptr_nonnull(strstr(err, "7f 45 4c 47"));
}
END_TEST

START_TEST(elf_wrong_class)
{
    image.ehdr.e_ident[4] = 1; /* ELFCLASS32 */
    expect_reject(sizeof(image), "class");
    ck_assert_ptr_nonnull(strstr(err, "is 1"));
}
END_TEST

START_TEST(elf_wrong_data_encoding)
{
    image.ehdr.e_ident[5] = 2; /* ELFDATA2MSB */
    expect_reject(sizeof(image), "data encoding");
}
END_TEST

START_TEST(elf_wrong_machine)
{
    image.ehdr.e_machine = 3; /* EM_386 */
    expect_reject(sizeof(image), "machine");
    ck_assert_ptr_nonnull(strstr(err, "is 3"));
}
END_TEST

START_TEST(elf_wrong_type)
{
    image.ehdr.e_type = 3; /* ET_DYN */
    expect_reject(sizeof(image), "type");
    ck_assert_ptr_nonnull(strstr(err, "ET_EXEC"));
}
END_TEST

START_TEST(elf_phdr_table_outside_file)
{
    image.ehdr.e_phoff = sizeof(image) - sizeof(struct test_phdr);
    expect_reject(sizeof(image), "program header table");
    ck_assert_ptr_nonnull(strstr(err, "outside"));
}
END_TEST

START_TEST(elf_phdr_table_offset_overflow)
{
    image.ehdr.e_phoff = UINT64_MAX - 8;
    expect_reject(sizeof(image), "overflows");
}
END_TEST

START_TEST(elf_wrong_phentsize)
{
    image.ehdr.e_phentsize = 32;
    expect_reject(sizeof(image), "e_phentsize");
    ck_assert_ptr_nonnull(strstr(err, "32"));
}
END_TEST

START_TEST(elf_no_program_headers)
{
    image.ehdr.e_phnum = 0;
    expect_reject(sizeof(image), "no PT_LOAD");
}
END_TEST

START_TEST(elf_no_load_segment)
{
    image.phdr[0].p_type = 4; /* PT_NOTE */
    image.phdr[1].p_type = 4;
    expect_reject(sizeof(image), "no PT_LOAD");
}
END_TEST

START_TEST(elf_segment_outside_file)
{
    image.phdr[1].p_offset = sizeof(image) - 8;
    expect_reject(sizeof(image), "outside the");
    ck_assert_ptr_nonnull(strstr(err, "file"));
    ck_assert_ptr_nonnull(strstr(err, "segment 1"));
}
END_TEST

START_TEST(elf_truncated_segment)
{
    /* The headers are intact, but the data segment is cut off. */
    expect_reject(sizeof(image) - 1, "file range");
}
END_TEST

START_TEST(elf_segment_offset_overflow)
{
    image.phdr[1].p_offset = UINT64_MAX - 4;
    expect_reject(sizeof(image), "overflows");
    ck_assert_ptr_nonnull(strstr(err, "p_offset"));
}
END_TEST

START_TEST(elf_filesz_above_memsz)
{
    image.phdr[1].p_memsz = DATA_FILE_SIZE - 1;
    expect_reject(sizeof(image), "p_filesz");
    ck_assert_ptr_nonnull(strstr(err, "p_memsz"));
}
END_TEST

START_TEST(elf_segment_outside_target)
{
    image.phdr[1].p_paddr = TARGET_SIZE - 0x1000;
    expect_reject(sizeof(image), "outside the target region");
}
END_TEST

START_TEST(elf_paddr_overflow)
{
    image.phdr[1].p_paddr = UINT64_MAX - 0x10;
    expect_reject(sizeof(image), "overflows");
    ck_assert_ptr_nonnull(strstr(err, "p_paddr"));
}
END_TEST

START_TEST(elf_vaddr_overflow)
{
    image.phdr[1].p_vaddr = UINT64_MAX - 0x10;
    expect_reject(sizeof(image), "overflows");
    ck_assert_ptr_nonnull(strstr(err, "p_vaddr"));
}
END_TEST

START_TEST(elf_overlapping_segments)
{
    image.phdr[1].p_paddr = TEXT_SIZE - 1;
    expect_reject(sizeof(image), "overlap");
    ck_assert_ptr_nonnull(strstr(err, "segments 0 and 1"));
}
END_TEST

START_TEST(elf_adjacent_segments_accepted)
{
    int rc;

    image.phdr[1].p_paddr = TEXT_SIZE;
    rc = vmm_elf_check(&image, sizeof(image), &target, &info, err, sizeof(err));
    ck_assert_msg(rc == 0, "rejected: %s", err);
}
END_TEST

START_TEST(elf_entry_in_data_segment)
{
    image.ehdr.e_entry = VIRT_BASE + 0x1000;
    expect_reject(sizeof(image), "entry point");
    ck_assert_ptr_nonnull(strstr(err, "PF_X"));
}
END_TEST

START_TEST(elf_entry_past_text)
{
    image.ehdr.e_entry = VIRT_BASE + TEXT_SIZE;
    expect_reject(sizeof(image), "entry point");
}
END_TEST

START_TEST(elf_missing_target_memory)
{
    target.mem = NULL;
    expect_reject(sizeof(image), "target");
}
END_TEST

START_TEST(elf_rejected_load_writes_nothing)
{
    int rc;

    image.ehdr.e_entry = 0;
    rc = vmm_elf_load(&image, sizeof(image), &target, &info, err, sizeof(err));
    ck_assert_int_eq(rc, -1);
    for (size_t i = 0; i < sizeof(target_mem); i++)
        ck_assert_uint_eq(target_mem[i], 0xee);
}
END_TEST

START_TEST(file_read_whole_file)
{
    char path[] = "/tmp/test_elf_XXXXXX";
    int fd = mkstemp(path);
    uint8_t *data;
    size_t size = 0;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, &image, sizeof(image)), sizeof(image));
    close(fd);
    data = vmm_file_read(path, &size, err, sizeof(err));
    unlink(path);
    ck_assert_msg(data != NULL, "read failed: %s", err);
    ck_assert_uint_eq(size, sizeof(image));
    ck_assert_mem_eq(data, &image, sizeof(image));
    free(data);
}
END_TEST

START_TEST(file_read_missing_path)
{
    size_t size = 0;
    void *data = vmm_file_read("/nonexistent/hrt.elf", &size, err, sizeof(err));

    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/hrt.elf"));
    ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
}
END_TEST

static Suite *elf_suite(void)
{
    Suite *suite = suite_create("elf");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, elf_valid_check);
    tcase_add_test(tc, elf_valid_load_copies_and_zeroes);
    tcase_add_test(tc, elf_paddr_as_guest_physical);
    tcase_add_test(tc, elf_physical_entry_accepted);
    tcase_add_test(tc, elf_physical_entry_needs_physical_target);
    tcase_add_test(tc, elf_paddr_below_target);
    tcase_add_test(tc, elf_paddr_above_target);
    tcase_add_test(tc, elf_short_file);
    tcase_add_test(tc, elf_bad_magic);
    tcase_add_test(tc, elf_wrong_class);
    tcase_add_test(tc, elf_wrong_data_encoding);
    tcase_add_test(tc, elf_wrong_machine);
    tcase_add_test(tc, elf_wrong_type);
    tcase_add_test(tc, elf_phdr_table_outside_file);
    tcase_add_test(tc, elf_phdr_table_offset_overflow);
    tcase_add_test(tc, elf_wrong_phentsize);
    tcase_add_test(tc, elf_no_program_headers);
    tcase_add_test(tc, elf_no_load_segment);
    tcase_add_test(tc, elf_segment_outside_file);
    tcase_add_test(tc, elf_truncated_segment);
    tcase_add_test(tc, elf_segment_offset_overflow);
    tcase_add_test(tc, elf_filesz_above_memsz);
    tcase_add_test(tc, elf_segment_outside_target);
    tcase_add_test(tc, elf_paddr_overflow);
    tcase_add_test(tc, elf_vaddr_overflow);
    tcase_add_test(tc, elf_overlapping_segments);
    tcase_add_test(tc, elf_adjacent_segments_accepted);
    tcase_add_test(tc, elf_entry_in_data_segment);
    tcase_add_test(tc, elf_entry_past_text);
    tcase_add_test(tc, elf_missing_target_memory);
    tcase_add_test(tc, elf_rejected_load_writes_nothing);
    tcase_add_test(tc, file_read_whole_file);
    tcase_add_test(tc, file_read_missing_path);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(elf_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
