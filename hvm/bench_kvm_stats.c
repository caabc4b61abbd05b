/* Reading KVM's binary statistics descriptors (KVM_GET_STATS_FD). */
#include "bench_kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Upper bounds that keep a malformed header from driving the reads. */
#define STATS_MAX_DESCRIPTORS 1024
#define STATS_MAX_NAME_SIZE 256

int bench_kvm_stats_open(int kvm_object_fd)
{
    return ioctl(kvm_object_fd, KVM_GET_STATS_FD, NULL);
}

static int stats_slot(struct bench_kvm_stats *sum, const char *name)
{
    for (unsigned i = 0; i < sum->count; i++)
        if (strcmp(sum->name[i], name) == 0)
            return (int)i;
    if (sum->count == BENCH_KVM_STATS_MAX)
        return -1;
    strncpy(sum->name[sum->count], name, BENCH_KVM_NAME_MAX - 1);
    sum->name[sum->count][BENCH_KVM_NAME_MAX - 1] = '\0';
    sum->value[sum->count] = 0;
    return (int)sum->count++;
}

/* Adds the counters described in descriptors (count entries of stride). */
static void stats_descriptors_add(int stats_fd, const uint8_t *descriptors,
                                  unsigned count, size_t stride,
                                  uint32_t data_offset,
                                  struct bench_kvm_stats *sum)
{
    for (unsigned i = 0; i < count; i++) {
        const struct kvm_stats_desc *desc =
            (const void *)(descriptors + i * stride);
        uint32_t type = desc->flags & KVM_STATS_TYPE_MASK;
        uint64_t value;
        int slot;

        /* Only counters that grow make sense as a delta. */
        if (type != KVM_STATS_TYPE_CUMULATIVE || desc->size != 1)
            continue;
        if (pread(stats_fd, &value, sizeof(value),
                  (off_t)data_offset + desc->offset) != sizeof(value))
            continue;
        slot = stats_slot(sum, desc->name);
        if (slot >= 0)
            sum->value[slot] += value;
    }
}

int bench_kvm_stats_add(int stats_fd, struct bench_kvm_stats *sum)
{
    struct kvm_stats_header header;
    uint8_t *descriptors;
    size_t stride, length;

    if (pread(stats_fd, &header, sizeof(header), 0) != sizeof(header))
        return -1;
    if (header.num_desc > STATS_MAX_DESCRIPTORS || header.name_size == 0 ||
        header.name_size > STATS_MAX_NAME_SIZE) {
        errno = EINVAL;
        return -1;
    }
    stride = sizeof(struct kvm_stats_desc) + header.name_size;
    length = stride * header.num_desc;
    descriptors = calloc(1, length + 1);
    if (descriptors == NULL)
        return -1;
    if (pread(stats_fd, descriptors, length, header.desc_offset) !=
        (ssize_t)length) {
        free(descriptors);
        return -1;
    }
    /* Each name is NUL-terminated within name_size bytes; enforce it. */
    for (unsigned i = 0; i < header.num_desc; i++)
        descriptors[i * stride + stride - 1] = '\0';
    stats_descriptors_add(stats_fd, descriptors, header.num_desc, stride,
                          header.data_offset, sum);
    free(descriptors);
    return 0;
}

void bench_kvm_stats_subtract(struct bench_kvm_stats *after,
                              const struct bench_kvm_stats *before)
{
    for (unsigned i = 0; i < after->count; i++) {
        uint64_t old = bench_kvm_stats_get(before, after->name[i]);

        after->value[i] = after->value[i] >= old ? after->value[i] - old : 0;
    }
}

uint64_t bench_kvm_stats_get(const struct bench_kvm_stats *stats,
                             const char *name)
{
    for (unsigned i = 0; i < stats->count; i++)
        if (strcmp(stats->name[i], name) == 0)
            return stats->value[i];
    return 0;
}
