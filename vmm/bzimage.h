/*
 * Parser of Linux bzImage files (the x86 boot protocol, version 2.06 or
 * later, with the 64-bit entry point). It validates the setup header
 * before anything is copied, so a truncated or foreign file is rejected
 * with a message that names the field at fault.
 */
#ifndef VMM_BZIMAGE_H
#define VMM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* The oldest accepted boot protocol (2.06, see bzimage.c for the reason). */
#define VMM_BZIMAGE_MIN_VERSION 0x0206

/* The setup header starts here in the image and in the zero page. */
#define VMM_BZIMAGE_HEADER_OFFSET 0x1f1

/* The 64-bit entry point is this far past the protected-mode kernel. */
#define VMM_BZIMAGE_ENTRY64_OFFSET 0x200

struct vmm_bzimage {
    const uint8_t *setup_header; /* image + VMM_BZIMAGE_HEADER_OFFSET */
    size_t setup_header_size;    /* bytes to copy into the zero page */
    size_t setup_size;           /* real-mode part: (setup_sects + 1) * 512 */
    const uint8_t *kernel;       /* the protected-mode kernel */
    size_t kernel_size;
    uint16_t version;            /* 0x020f for 2.15 */
    uint8_t loadflags;
    uint16_t xloadflags;
    uint32_t kernel_alignment;
    int relocatable;
    uint64_t pref_address;
    uint32_t init_size;          /* bytes the kernel needs from its start */
    uint32_t cmdline_size;       /* maximum command line, without the NUL */
    uint32_t initrd_addr_max;    /* highest initrd byte below 4 GiB */
};

/*
 * Checks the image and fills info with pointers into it. Returns 0, or -1
 * with a message in err naming the check that failed: too short, no boot
 * sector signature, no "HdrS" magic, a protocol older than 2.06, a bad
 * setup_sects, no LOADED_HIGH, no 64-bit entry point, an invalid
 * kernel_alignment or init_size, or fewer bytes than the header promises.
 */
int vmm_bzimage_parse(const void *image, size_t size,
                      struct vmm_bzimage *info, char *err, size_t errlen);

/*
 * Chooses where the protected-mode kernel goes inside [ram_start,
 * ram_end): its preferred address, rounded up to kernel_alignment when it
 * is relocatable. Returns 0 and the address, or -1 with err set if the
 * kernel's init_size bytes do not fit there.
 */
int vmm_bzimage_load_address(const struct vmm_bzimage *info,
                             uint64_t ram_start, uint64_t ram_end,
                             uint64_t *address, char *err, size_t errlen);

#endif
