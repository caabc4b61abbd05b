/*
 * KVM's binary statistics (KVM_GET_STATS_FD): the cumulative counters of
 * a VM or vCPU, summed by name, so that a benchmark can report how many
 * exits, emulated instructions and page faults an operation cost. Used by
 * `hvm bench` for its scratch VMs and by the programs in tools/bench for
 * the VM of their own hybridized process. Needs only the C library.
 */
#ifndef HVM_BENCH_KVM_STATS_H
#define HVM_BENCH_KVM_STATS_H

#include <stdint.h>

#define BENCH_KVM_STATS_MAX 96
#define BENCH_KVM_NAME_MAX 48

/* Counters by name; the order is that of first appearance. */
struct bench_kvm_stats {
    unsigned count;
    char name[BENCH_KVM_STATS_MAX][BENCH_KVM_NAME_MAX];
    uint64_t value[BENCH_KVM_STATS_MAX];
};

/*
 * Asks KVM for the statistics descriptor of a VM or vCPU fd. Must run in
 * the process that created the VM (KVM rejects other processes with EIO).
 * Returns the descriptor or -1 with errno set.
 */
int bench_kvm_stats_open(int kvm_object_fd);

/*
 * Reads every cumulative single-value counter of stats_fd and adds it to
 * sum under its name. Returns 0, or -1 if the descriptor could not be
 * read or its header is malformed.
 */
int bench_kvm_stats_add(int stats_fd, struct bench_kvm_stats *sum);

/* Subtracts before from after, name by name (after -= before). */
void bench_kvm_stats_subtract(struct bench_kvm_stats *after,
                              const struct bench_kvm_stats *before);

/* Returns the value of counter name, or 0 if it is absent. */
uint64_t bench_kvm_stats_get(const struct bench_kvm_stats *stats,
                             const char *name);

#endif
