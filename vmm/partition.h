/*
 * The partition plan of a hybrid VM: which vCPUs and which guest physical
 * memory belong to the ROS and which to the HRT. Pure logic, so impossible
 * requests are rejected before any KVM object exists.
 */
#ifndef VMM_PARTITION_H
#define VMM_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* Guest physical layout constants for the ROS view. */
#define VMM_LOW_MEM_LIMIT 0xc0000000ULL /* ROS RAM below the 3 GiB hole */
#define VMM_HIGH_MEM_START 0x100000000ULL

struct vmm_partition_request {
    unsigned ros_cpus;   /* 0 for an HRT-only VM */
    unsigned hrt_cpus;
    uint64_t ros_mem;    /* bytes; 0 when ros_cpus is 0 */
    uint64_t hrt_mem;    /* bytes */
    unsigned max_vcpus;  /* KVM_CAP_MAX_VCPUS (or NR_VCPUS) of this host */
    uint64_t host_mem;   /* bytes of host memory the VM may use */
};

struct vmm_mem_range {
    uint64_t gpa;
    uint64_t size;
};

struct vmm_partition {
    unsigned ros_cpus;
    unsigned hrt_cpus;
    unsigned first_hrt_cpu;   /* vCPU index of the first HRT CPU */
    /* ROS RAM, split around the 3 GiB hole when it is large. */
    struct vmm_mem_range ros_ranges[2];
    unsigned nr_ros_ranges;
    struct vmm_mem_range hrt_range; /* 2 MiB aligned, above all ROS RAM */
};

/*
 * Checks the request and computes the layout: ROS vCPUs first, then HRT
 * vCPUs; ROS memory from guest physical 0, HRT memory after it at a 2 MiB
 * boundary. Returns 0, or -1 with a message in err that names the value
 * and the limit it breaks.
 */
int vmm_partition_plan(const struct vmm_partition_request *request,
                       struct vmm_partition *plan, char *err, size_t errlen);

/*
 * Parses a size such as "512M", "2G", "65536" or "64K" into bytes.
 * Returns 0, or -1 if the text is not a size or overflows.
 */
int vmm_parse_size(const char *text, uint64_t *bytes);

#endif
