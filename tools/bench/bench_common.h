/*
 * Helpers shared by the benchmark programs that `hvm bench` runs natively
 * and under `hvm exec`. Each program prints one number on the first line
 * of stdout: nanoseconds per operation for the micro-benchmarks, seconds
 * of the timed phase for the whole-program benchmarks.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>

/* Reads CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Parses a positive count argument, or exits with status 2. */
unsigned long bench_count_parse(const char *text, const char *name);

/*
 * Snapshots the KVM statistics of this process's own VM and vCPUs, when
 * the environment sets BENCH_KVM_STATS=1 and the process is hybridized
 * (it then has kvm-vm and kvm-vcpu descriptors open). Does nothing otherwise.
 */
void bench_kvm_begin(void);

/*
 * Prints "kvm NAME DELTA" lines for every counter that changed since
 * bench_kvm_begin(), summed over the VM and its vCPUs, including vCPUs
 * created in between (threads). The counts include the few forwarded
 * calls that read the statistics at the end.
 */
void bench_kvm_end(void);

#endif
