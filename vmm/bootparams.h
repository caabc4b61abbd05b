/*
 * The Linux zero page (struct boot_params in the kernel): the setup
 * header, the command line and initrd locations, the ACPI RSDP address and
 * the e820 map, as the 64-bit boot protocol passes them in RSI.
 */
#ifndef VMM_BOOTPARAMS_H
#define VMM_BOOTPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "e820.h"

#define VMM_ZERO_PAGE_SIZE 4096

struct vmm_boot_params_config {
    /* The bzImage's setup header, or NULL to write one for a vmlinux. */
    const uint8_t *setup_header;
    size_t setup_header_size;
    uint64_t cmdline_gpa;  /* NUL-terminated in guest memory */
    size_t cmdline_length; /* without the NUL */
    uint64_t initrd_gpa;   /* 0 with initrd_size 0 for none */
    uint64_t initrd_size;
    uint64_t rsdp_gpa;     /* 0 for a kernel without ACPI tables */
    const struct vmm_e820_map *e820;
};

/*
 * Fills zero_page (VMM_ZERO_PAGE_SIZE bytes). Returns 0, or -1 with a
 * message in err if the setup header does not fit, the command line is
 * longer than the header's cmdline_size, the initrd ends above the
 * header's initrd_addr_max, or the e820 map is empty.
 */
int vmm_boot_params_build(uint8_t *zero_page,
                          const struct vmm_boot_params_config *config,
                          char *err, size_t errlen);

#endif
