/*
 * The partition plan of a hybrid VM: checks the requested vCPU and memory
 * split against the host's limits and lays out guest physical memory.
 */
#include "partition.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hvm/abi.h>

#define MIB (1ULL << 20)
/* Smallest ROS memory, an estimate of what Linux with an initramfs needs. */
#define PARTITION_MIN_ROS_MEM (32 * MIB)
/* Smallest HRT memory: the kernel image, page tables, stacks and a heap. */
#define PARTITION_MIN_HRT_MEM (4 * MIB)
/* Memory is handed out in 2 MiB units so both sides can use huge pages. */
#define PARTITION_ALIGN (2 * MIB)

__attribute__((format(printf, 3, 4))) static int
partition_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;

    if (err == NULL || errlen == 0)
        return -1;
    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
    return -1;
}

static int partition_cpus_check(const struct vmm_partition_request *request,
                                char *err, size_t errlen)
{
    /* 64-bit sum: two unsigned counts cannot overflow it. */
    uint64_t total = (uint64_t)request->ros_cpus + request->hrt_cpus;

    if (request->hrt_cpus == 0)
        return partition_fail(err, errlen,
                              "HRT CPU count is 0, but a hybrid VM needs at "
                              "least 1 HRT CPU");
    if (request->hrt_cpus > HVM_MAX_HRT_CPUS)
        return partition_fail(err, errlen,
                              "HRT CPU count %u exceeds the maximum of %u",
                              request->hrt_cpus, HVM_MAX_HRT_CPUS);
    if (total > request->max_vcpus)
        return partition_fail(err, errlen,
                              "total vCPU count %llu (%u ROS + %u HRT) "
                              "exceeds the host's maximum of %u vCPUs",
                              (unsigned long long)total, request->ros_cpus,
                              request->hrt_cpus, request->max_vcpus);
    return 0;
}

static int partition_mem_check(const struct vmm_partition_request *request,
                               char *err, size_t errlen)
{
    uint64_t ros = request->ros_mem, hrt = request->hrt_mem, total;

    if (request->ros_cpus > 0 && ros == 0)
        return partition_fail(err, errlen,
                              "ROS memory is 0 but %u ROS CPUs were "
                              "requested. Give the ROS at least %llu MiB",
                              request->ros_cpus, PARTITION_MIN_ROS_MEM / MIB);
    if (request->ros_cpus > 0 && ros < PARTITION_MIN_ROS_MEM)
        return partition_fail(err, errlen,
                              "ROS memory of %llu bytes is below the "
                              "minimum of %llu MiB",
                              (unsigned long long)ros,
                              PARTITION_MIN_ROS_MEM / MIB);
    if (request->ros_cpus == 0 && ros > 0)
        return partition_fail(err, errlen,
                              "ROS memory of %llu bytes was requested "
                              "without ROS CPUs. Set it to 0 or add ROS CPUs",
                              (unsigned long long)ros);
    if (hrt < PARTITION_MIN_HRT_MEM)
        return partition_fail(err, errlen,
                              "HRT memory of %llu bytes is below the "
                              "minimum of %llu MiB",
                              (unsigned long long)hrt,
                              PARTITION_MIN_HRT_MEM / MIB);
    if (ros % PARTITION_ALIGN != 0 || hrt % PARTITION_ALIGN != 0)
        return partition_fail(err, errlen,
                              "memory sizes must be multiples of 2 MiB, got "
                              "ROS %llu bytes and HRT %llu bytes",
                              (unsigned long long)ros, (unsigned long long)hrt);
    if (__builtin_add_overflow(ros, hrt, &total))
        return partition_fail(err, errlen,
                              "ROS memory %llu + HRT memory %llu bytes "
                              "overflows",
                              (unsigned long long)ros, (unsigned long long)hrt);
    if (total > request->host_mem)
        return partition_fail(err, errlen,
                              "total memory of %llu bytes exceeds the %llu "
                              "bytes available on the host",
                              (unsigned long long)total,
                              (unsigned long long)request->host_mem);
    return 0;
}

/*
 * Places ROS RAM from guest physical 0 and returns in *end the first
 * address after it. RAM above VMM_LOW_MEM_LIMIT moves to
 * VMM_HIGH_MEM_START, leaving the hole below 4 GiB to the APIC, the
 * IOAPIC and the firmware area.
 */
static int partition_ros_layout(uint64_t ros_mem, struct vmm_partition *plan,
                                uint64_t *end, char *err, size_t errlen)
{
    uint64_t high;

    plan->ros_ranges[0].gpa = 0;
    if (ros_mem <= VMM_LOW_MEM_LIMIT) {
        plan->ros_ranges[0].size = ros_mem;
        plan->nr_ros_ranges = 1;
        *end = ros_mem;
        return 0;
    }

    high = ros_mem - VMM_LOW_MEM_LIMIT;
    if (__builtin_add_overflow(VMM_HIGH_MEM_START, high, end))
        return partition_fail(err, errlen,
                              "ROS memory of %llu bytes overflows the guest "
                              "physical address space",
                              (unsigned long long)ros_mem);
    plan->ros_ranges[0].size = VMM_LOW_MEM_LIMIT;
    plan->ros_ranges[1].gpa = VMM_HIGH_MEM_START;
    plan->ros_ranges[1].size = high;
    plan->nr_ros_ranges = 2;
    return 0;
}

/*
 * Places HRT memory at start (2 MiB aligned), or at VMM_HIGH_MEM_START if
 * it would otherwise reach into the hole below 4 GiB.
 */
static int partition_hrt_layout(uint64_t start, uint64_t hrt_mem,
                                struct vmm_partition *plan, char *err,
                                size_t errlen)
{
    uint64_t end;

    start = (start + PARTITION_ALIGN - 1) & ~(PARTITION_ALIGN - 1);
    if (start < VMM_HIGH_MEM_START &&
        (start >= VMM_LOW_MEM_LIMIT || hrt_mem > VMM_LOW_MEM_LIMIT - start))
        start = VMM_HIGH_MEM_START;
    if (__builtin_add_overflow(start, hrt_mem, &end))
        return partition_fail(err, errlen,
                              "HRT memory of %llu bytes at 0x%llx overflows "
                              "the guest physical address space",
                              (unsigned long long)hrt_mem,
                              (unsigned long long)start);
    plan->hrt_range.gpa = start;
    plan->hrt_range.size = hrt_mem;
    return 0;
}

int vmm_partition_plan(const struct vmm_partition_request *request,
                       struct vmm_partition *plan, char *err, size_t errlen)
{
    uint64_t ros_end = 0;

    memset(plan, 0, sizeof(*plan));
    if (partition_cpus_check(request, err, errlen) < 0 ||
        partition_mem_check(request, err, errlen) < 0)
        return -1;

    plan->ros_cpus = request->ros_cpus;
    plan->hrt_cpus = request->hrt_cpus;
    plan->first_hrt_cpu = request->ros_cpus;
    /*
     * An HRT-only VM puts HRT memory at guest physical 0. It still moves
     * to VMM_HIGH_MEM_START when larger than VMM_LOW_MEM_LIMIT, so that
     * no RAM covers the APIC and IOAPIC pages.
     */
    if (request->ros_cpus > 0 &&
        partition_ros_layout(request->ros_mem, plan, &ros_end, err, errlen) < 0)
        return -1;
    return partition_hrt_layout(ros_end, request->hrt_mem, plan, err, errlen);
}

/* Returns the multiplier of a size suffix, or 0 if the suffix is unknown. */
static uint64_t size_suffix_multiplier(const char *suffix)
{
    static const char units[] = "KMGT";
    const char *unit;

    if (suffix[0] == '\0')
        return 1;
    if (suffix[1] != '\0' && strcmp(suffix + 1, "B") != 0 &&
        strcmp(suffix + 1, "iB") != 0)
        return 0;
    unit = strchr(units, toupper((unsigned char)suffix[0]));
    if (unit == NULL || *unit == '\0')
        return 0;
    return 1ULL << (10 * (unit - units + 1));
}

int vmm_parse_size(const char *text, uint64_t *bytes)
{
    uint64_t value = 0, multiplier;
    const char *p = text;

    if (text == NULL || !isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
            return -1;
    }
    multiplier = size_suffix_multiplier(p);
    if (multiplier == 0 || __builtin_mul_overflow(value, multiplier, &value))
        return -1;
    *bytes = value;
    return 0;
}
