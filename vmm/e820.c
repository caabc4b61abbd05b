/*
 * Builds the e820 memory map of the ROS: only the memory that the
 * partition plan gives to the ROS, with the low firmware areas reserved.
 */
#include "e820.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int vmm_e820_add(struct vmm_e820_map *map, uint64_t addr, uint64_t size,
                 uint32_t type, char *err, size_t errlen)
{
    uint64_t end;

    if (size == 0 || __builtin_add_overflow(addr, size, &end)) {
        snprintf(err, errlen, "e820: invalid range at 0x%" PRIx64
                 " of 0x%" PRIx64 " bytes", addr, size);
        return -1;
    }
    if (map->count >= VMM_E820_MAX) {
        snprintf(err, errlen, "e820: map full (%d entries)", VMM_E820_MAX);
        return -1;
    }
    if (map->count > 0) {
        const struct vmm_e820_entry *last = &map->entries[map->count - 1];

        if (addr < last->addr + last->size) {
            snprintf(err, errlen, "e820: range at 0x%" PRIx64
                     " overlaps or precedes the previous entry", addr);
            return -1;
        }
    }
    map->entries[map->count].addr = addr;
    map->entries[map->count].size = size;
    map->entries[map->count].type = type;
    map->count++;
    return 0;
}

static int ranges_overlap(const struct vmm_mem_range *a,
                          const struct vmm_mem_range *b)
{
    return a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size;
}

static int plan_check(const struct vmm_partition *plan, char *err,
                      size_t errlen)
{
    if (plan->nr_ros_ranges == 0 || plan->nr_ros_ranges > 2) {
        snprintf(err, errlen, "e820: the plan has %u ROS memory ranges, "
                 "expected 1 or 2", plan->nr_ros_ranges);
        return -1;
    }
    if (plan->ros_ranges[0].gpa != 0 ||
        plan->ros_ranges[0].size < 2 * VMM_E820_HIGH_START) {
        snprintf(err, errlen, "e820: the first ROS range must start at 0 "
                 "and hold at least 2 MiB");
        return -1;
    }
    for (unsigned i = 0; i < plan->nr_ros_ranges; i++) {
        if (plan->hrt_range.size != 0 &&
            ranges_overlap(&plan->ros_ranges[i], &plan->hrt_range)) {
            snprintf(err, errlen, "e820: ROS range %u overlaps the HRT "
                     "range at 0x%" PRIx64, i, plan->hrt_range.gpa);
            return -1;
        }
    }
    return 0;
}

int vmm_e820_build_ros(const struct vmm_partition *plan,
                       struct vmm_e820_map *map, char *err, size_t errlen)
{
    const struct vmm_mem_range *low = &plan->ros_ranges[0];

    memset(map, 0, sizeof(*map));
    if (plan_check(plan, err, errlen) < 0)
        return -1;
    if (vmm_e820_add(map, 0, VMM_E820_EBDA_START, VMM_E820_RAM, err,
                     errlen) < 0 ||
        vmm_e820_add(map, VMM_E820_EBDA_START,
                     0xa0000 - VMM_E820_EBDA_START, VMM_E820_RESERVED, err,
                     errlen) < 0 ||
        vmm_e820_add(map, VMM_E820_BIOS_START,
                     VMM_E820_HIGH_START - VMM_E820_BIOS_START,
                     VMM_E820_RESERVED, err, errlen) < 0 ||
        vmm_e820_add(map, VMM_E820_HIGH_START,
                     low->size - VMM_E820_HIGH_START, VMM_E820_RAM, err,
                     errlen) < 0)
        return -1;
    if (plan->nr_ros_ranges == 2 &&
        vmm_e820_add(map, plan->ros_ranges[1].gpa, plan->ros_ranges[1].size,
                     VMM_E820_RAM, err, errlen) < 0)
        return -1;
    return 0;
}
