/*
 * Builds the zero page. Field offsets follow the x86 boot protocol
 * (Documentation/arch/x86/zero-page.rst and boot.rst in the Linux
 * sources). The page is written field by field, so no kernel structure
 * definition is copied into this project.
 */
#include "bootparams.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bzimage.h"

/* Zero-page offsets. */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
/* Setup-header offsets, also zero-page offsets. */
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_END 0x268

#define LOADED_HIGH 0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x0002
#define LOADER_UNDEFINED 0xff /* no boot loader ID assigned */

static void put8(uint8_t *p, size_t off, uint8_t v)
{
    p[off] = v;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
    memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
    memcpy(p + off, &v, 4);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
    uint32_t v;

    memcpy(&v, p + off, 4);
    return v;
}

/* The header a vmlinux lacks: protocol 2.15 with the 64-bit kernel's limits. */
static void vmlinux_header_put(uint8_t *zp)
{
    put16(zp, HDR_BOOT_FLAG, 0xaa55);
    put8(zp, HDR_JUMP + 1, HDR_END - HDR_MAGIC);
    memcpy(zp + HDR_MAGIC, "HdrS", 4);
    put16(zp, HDR_VERSION, 0x020f);
    put8(zp, HDR_LOADFLAGS, LOADED_HIGH);
    put32(zp, HDR_INITRD_ADDR_MAX, 0x7fffffff);
    put32(zp, HDR_KERNEL_ALIGNMENT, 0x200000);
    put16(zp, HDR_XLOADFLAGS, XLF_CAN_BE_LOADED_ABOVE_4G);
    put32(zp, HDR_CMDLINE_SIZE, 2047); /* COMMAND_LINE_SIZE - 1 on x86 */
}

static int header_put(uint8_t *zp, const struct vmm_boot_params_config *c,
                      char *err, size_t errlen)
{
    if (c->setup_header == NULL) {
        vmlinux_header_put(zp);
        return 0;
    }
    if (c->setup_header_size < HDR_END - VMM_BZIMAGE_HEADER_OFFSET ||
        c->setup_header_size >
            VMM_ZERO_PAGE_SIZE - VMM_BZIMAGE_HEADER_OFFSET) {
        snprintf(err, errlen, "zero page: a %zu-byte setup header does not "
                 "fit", c->setup_header_size);
        return -1;
    }
    memcpy(zp + VMM_BZIMAGE_HEADER_OFFSET, c->setup_header,
           c->setup_header_size);
    return 0;
}

static int cmdline_initrd_put(uint8_t *zp,
                              const struct vmm_boot_params_config *c,
                              char *err, size_t errlen)
{
    uint32_t cmdline_size = get32(zp, HDR_CMDLINE_SIZE);
    uint64_t initrd_max = get32(zp, HDR_INITRD_ADDR_MAX);
    uint16_t xloadflags;

    memcpy(&xloadflags, zp + HDR_XLOADFLAGS, 2);
    if (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G)
        initrd_max = UINT64_MAX;
    if (c->cmdline_length > cmdline_size) {
        snprintf(err, errlen, "command line of %zu bytes is longer than "
                 "the kernel's limit of %u", c->cmdline_length,
                 cmdline_size);
        return -1;
    }
    if (c->initrd_size > 0 &&
        (c->initrd_gpa > initrd_max ||
         c->initrd_size - 1 > initrd_max - c->initrd_gpa)) {
        snprintf(err, errlen, "initrd at 0x%" PRIx64 " of %" PRIu64
                 " bytes ends above the kernel's limit 0x%" PRIx64,
                 c->initrd_gpa, c->initrd_size, initrd_max);
        return -1;
    }
    put32(zp, HDR_CMD_LINE_PTR, (uint32_t)c->cmdline_gpa);
    put32(zp, BP_EXT_CMD_LINE_PTR, (uint32_t)(c->cmdline_gpa >> 32));
    put32(zp, HDR_RAMDISK_IMAGE, (uint32_t)c->initrd_gpa);
    put32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(c->initrd_gpa >> 32));
    put32(zp, HDR_RAMDISK_SIZE, (uint32_t)c->initrd_size);
    put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)(c->initrd_size >> 32));
    return 0;
}

int vmm_boot_params_build(uint8_t *zero_page,
                          const struct vmm_boot_params_config *config,
                          char *err, size_t errlen)
{
    const struct vmm_e820_map *e820 = config->e820;

    memset(zero_page, 0, VMM_ZERO_PAGE_SIZE);
    if (header_put(zero_page, config, err, errlen) < 0 ||
        cmdline_initrd_put(zero_page, config, err, errlen) < 0)
        return -1;
    if (e820 == NULL || e820->count == 0 || e820->count > VMM_E820_MAX) {
        snprintf(err, errlen, "zero page: the e820 map is empty or has more "
                 "than %d entries", VMM_E820_MAX);
        return -1;
    }
    put8(zero_page, HDR_TYPE_OF_LOADER, LOADER_UNDEFINED);
    memcpy(zero_page + BP_ACPI_RSDP_ADDR, &config->rsdp_gpa, 8);
    put8(zero_page, BP_E820_ENTRIES, (uint8_t)e820->count);
    memcpy(zero_page + BP_E820_TABLE, e820->entries,
           e820->count * sizeof(e820->entries[0]));
    return 0;
}
