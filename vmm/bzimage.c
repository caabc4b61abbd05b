/*
 * Parses a bzImage's setup header (Documentation/arch/x86/boot.rst in the
 * Linux sources describes the fields and the protocol versions).
 *
 * Protocol 2.06 is the minimum because it is the first version whose
 * header states cmdline_size, the maximum command-line length, which the
 * zero-page builder checks. Before 2.06 the limit is a fixed 255 bytes.
 * The VMM also needs the 64-bit entry point (XLF_KERNEL_64, protocol
 * 2.12), checked separately so that the message names what is missing.
 */
#include "bzimage.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SECTOR 512
#define HEADER_END_MIN 0x268 /* through init_size (0x260) and handover */
#define MAX_SETUP_SECTS 64   /* the real-mode part is at most 32 KiB */
#define LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x0001
#define BOOT_FLAG 0xaa55
#define DEFAULT_LOAD_ADDRESS 0x100000ULL

static uint32_t get(const uint8_t *image, size_t offset, size_t width)
{
    uint32_t value = 0;

    memcpy(&value, image + offset, width);
    return value;
}

static int header_magic_check(const uint8_t *image, size_t size, char *err,
                              size_t errlen)
{
    if (size < HEADER_END_MIN) {
        snprintf(err, errlen, "bzImage truncated: %zu bytes, the setup "
                 "header alone needs %d", size, HEADER_END_MIN);
        return -1;
    }
    if (memcmp(image, "\177ELF", 4) == 0) {
        snprintf(err, errlen, "not a bzImage: this is an ELF file (load a "
                 "vmlinux ELF as such)");
        return -1;
    }
    if (get(image, 0x1fe, 2) != BOOT_FLAG) {
        snprintf(err, errlen, "not a bzImage: no boot sector signature "
                 "0xaa55 at offset 0x1fe");
        return -1;
    }
    if (memcmp(image + 0x202, "HdrS", 4) != 0) {
        snprintf(err, errlen, "not a bzImage: no \"HdrS\" magic at offset "
                 "0x202 (boot protocol older than 2.00)");
        return -1;
    }
    return 0;
}

static int header_version_check(const uint8_t *image, struct vmm_bzimage *info,
                                char *err, size_t errlen)
{
    info->version = (uint16_t)get(image, 0x206, 2);
    if (info->version < VMM_BZIMAGE_MIN_VERSION) {
        snprintf(err, errlen, "bzImage boot protocol %u.%02u is too old: "
                 "2.06 is the first that states cmdline_size",
                 info->version >> 8, info->version & 0xff);
        return -1;
    }
    info->loadflags = (uint8_t)get(image, 0x211, 1);
    if (!(info->loadflags & LOADED_HIGH)) {
        snprintf(err, errlen, "bzImage loadflags 0x%02x lack LOADED_HIGH: "
                 "a zImage loaded at 0x10000 is not supported",
                 info->loadflags);
        return -1;
    }
    info->xloadflags = info->version >= 0x020c
                           ? (uint16_t)get(image, 0x236, 2) : 0;
    if (!(info->xloadflags & XLF_KERNEL_64)) {
        snprintf(err, errlen, "bzImage has no 64-bit entry point "
                 "(xloadflags 0x%04x lack XLF_KERNEL_64, protocol %u.%02u)",
                 info->xloadflags, info->version >> 8,
                 info->version & 0xff);
        return -1;
    }
    return 0;
}

static int header_layout_check(const uint8_t *image, size_t size,
                               struct vmm_bzimage *info, char *err,
                               size_t errlen)
{
    unsigned setup_sects = get(image, 0x1f1, 1);
    uint64_t syssize = (uint64_t)get(image, 0x1f4, 4) * 16;
    size_t header_end = 0x202 + get(image, 0x201, 1);

    if (setup_sects == 0)
        setup_sects = 4; /* the protocol's meaning of 0 */
    if (setup_sects > MAX_SETUP_SECTS) {
        snprintf(err, errlen, "bzImage setup_sects %u is larger than %d "
                 "(32 KiB of real-mode code)", setup_sects, MAX_SETUP_SECTS);
        return -1;
    }
    info->setup_size = (size_t)(setup_sects + 1) * SECTOR;
    if (header_end < HEADER_END_MIN || header_end > info->setup_size) {
        snprintf(err, errlen, "bzImage setup header ends at 0x%zx, outside "
                 "[0x%x, 0x%zx]", header_end, HEADER_END_MIN,
                 info->setup_size);
        return -1;
    }
    if (info->setup_size >= size || syssize > size - info->setup_size) {
        snprintf(err, errlen, "bzImage truncated: the header promises %zu "
                 "bytes of setup code and %" PRIu64 " bytes of kernel, the "
                 "file has %zu bytes", info->setup_size, syssize, size);
        return -1;
    }
    info->setup_header = image + VMM_BZIMAGE_HEADER_OFFSET;
    info->setup_header_size = header_end - VMM_BZIMAGE_HEADER_OFFSET;
    info->kernel = image + info->setup_size;
    info->kernel_size = size - info->setup_size;
    return 0;
}

static int header_memory_check(const uint8_t *image, struct vmm_bzimage *info,
                               char *err, size_t errlen)
{
    uint32_t align = get(image, 0x230, 4);

    info->relocatable = get(image, 0x234, 1) != 0;
    info->kernel_alignment = align;
    if (info->relocatable &&
        (align < 4096 || align > (1u << 30) || (align & (align - 1)) != 0)) {
        snprintf(err, errlen, "bzImage kernel_alignment 0x%x is not a power "
                 "of two between 4 KiB and 1 GiB", align);
        return -1;
    }
    info->cmdline_size = get(image, 0x238, 4);
    info->initrd_addr_max = get(image, 0x22c, 4);
    info->pref_address = info->version >= 0x020a
                             ? (uint64_t)get(image, 0x258, 4) |
                                   (uint64_t)get(image, 0x25c, 4) << 32
                             : 0;
    info->init_size = info->version >= 0x020a ? get(image, 0x260, 4) : 0;
    if (info->init_size < info->kernel_size) {
        snprintf(err, errlen, "bzImage init_size %u is smaller than its "
                 "%zu-byte kernel", info->init_size, info->kernel_size);
        return -1;
    }
    return 0;
}

int vmm_bzimage_parse(const void *image, size_t size,
                      struct vmm_bzimage *info, char *err, size_t errlen)
{
    const uint8_t *bytes = image;

    memset(info, 0, sizeof(*info));
    if (header_magic_check(bytes, size, err, errlen) < 0 ||
        header_version_check(bytes, info, err, errlen) < 0 ||
        header_layout_check(bytes, size, info, err, errlen) < 0 ||
        header_memory_check(bytes, info, err, errlen) < 0)
        return -1;
    return 0;
}

int vmm_bzimage_load_address(const struct vmm_bzimage *info,
                             uint64_t ram_start, uint64_t ram_end,
                             uint64_t *address, char *err, size_t errlen)
{
    uint64_t addr = info->pref_address ? info->pref_address
                                       : DEFAULT_LOAD_ADDRESS;

    if (info->relocatable) {
        uint64_t mask = (uint64_t)info->kernel_alignment - 1;

        if (addr < ram_start)
            addr = ram_start;
        addr = (addr + mask) & ~mask;
    }
    if (addr < ram_start || addr >= ram_end ||
        info->init_size > ram_end - addr) {
        snprintf(err, errlen, "bzImage needs %u bytes at 0x%" PRIx64
                 "%s, outside ROS memory [0x%" PRIx64 ", 0x%" PRIx64 ")",
                 info->init_size, addr,
                 info->relocatable ? "" : " (not relocatable)", ram_start,
                 ram_end);
        return -1;
    }
    *address = addr;
    return 0;
}
