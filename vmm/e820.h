/*
 * The BIOS e820 memory map that a Linux guest reads from its zero page.
 * The ROS view lists only ROS memory: the HRT's range is absent, so Linux
 * never allocates from it.
 */
#ifndef VMM_E820_H
#define VMM_E820_H

#include <stddef.h>
#include <stdint.h>

#include "partition.h"

/* Entry types, as the ACPI specification numbers them. */
#define VMM_E820_RAM 1
#define VMM_E820_RESERVED 2

/* The zero page has room for 128 entries. */
#define VMM_E820_MAX 128

/* Low-memory areas the ROS map reserves for firmware tables. */
#define VMM_E820_EBDA_START 0x9fc00ULL /* MP table, last KiB below 640 KiB */
#define VMM_E820_BIOS_START 0xe0000ULL /* ACPI RSDP and tables */
#define VMM_E820_HIGH_START 0x100000ULL /* first byte above 1 MiB */

/* One entry in the zero-page layout: 20 bytes, packed. */
struct vmm_e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct vmm_e820_entry) == 20, "zero-page e820 layout");

struct vmm_e820_map {
    struct vmm_e820_entry entries[VMM_E820_MAX];
    unsigned count;
};

/*
 * Appends [addr, addr + size) with the given type. Entries must be added
 * in increasing address order without overlap. Returns 0, or -1 with a
 * message in err if the range is empty, wraps, overlaps or the map is full.
 */
int vmm_e820_add(struct vmm_e820_map *map, uint64_t addr, uint64_t size,
                 uint32_t type, char *err, size_t errlen);

/*
 * Builds the ROS view of the plan: RAM below the EBDA, the EBDA and BIOS
 * area reserved, RAM from 1 MiB to the end of the first ROS range, and the
 * second ROS range if any. Returns 0, or -1 with a message in err if the
 * plan has no ROS memory, its first range does not start at 0 or is
 * smaller than 2 MiB, or a ROS range overlaps the HRT range.
 */
int vmm_e820_build_ros(const struct vmm_partition *plan,
                       struct vmm_e820_map *map, char *err, size_t errlen);

#endif
