/* Timing, argument parsing and KVM statistics for the benchmark programs. */
#include "bench_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_kvm_stats.h"

#define BENCH_MAX_KVM_FDS 64

/* The process's KVM VM and vCPU fds and a statistics fd for each. */
static int kvm_object_fds[BENCH_MAX_KVM_FDS];
static int kvm_stats_fds[BENCH_MAX_KVM_FDS];
static unsigned kvm_stats_count;
static struct bench_kvm_stats kvm_before;

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

unsigned long bench_count_parse(const char *text, const char *name)
{
    char *end;
    unsigned long value = strtoul(text, &end, 10);

    if (*text == '\0' || *end != '\0' || value == 0) {
        fprintf(stderr, "invalid %s '%s': give a positive integer\n", name,
                text);
        exit(2);
    }
    return value;
}

static int kvm_fd_known(int fd)
{
    for (unsigned i = 0; i < kvm_stats_count; i++)
        if (kvm_object_fds[i] == fd)
            return 1;
    return 0;
}

/*
 * Opens a statistics fd for every KVM VM and vCPU fd of this process not
 * seen before. vCPUs created for new threads appear in a later scan.
 */
static void kvm_fds_collect(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;

    if (dir == NULL)
        return;
    while ((entry = readdir(dir)) != NULL &&
           kvm_stats_count < BENCH_MAX_KVM_FDS) {
        char link[300], target[64];
        ssize_t length;
        int fd, stats_fd;

        snprintf(link, sizeof(link), "/proc/self/fd/%s", entry->d_name);
        length = readlink(link, target, sizeof(target) - 1);
        if (length <= 0)
            continue;
        target[length] = '\0';
        /* vCPU fds are "kvm-vcpu:N"; statistics fds do not match. */
        if (strcmp(target, "anon_inode:kvm-vm") != 0 &&
            strncmp(target, "anon_inode:kvm-vcpu:", 20) != 0)
            continue;
        fd = atoi(entry->d_name);
        if (kvm_fd_known(fd))
            continue;
        stats_fd = bench_kvm_stats_open(fd);
        if (stats_fd < 0)
            continue;
        kvm_object_fds[kvm_stats_count] = fd;
        kvm_stats_fds[kvm_stats_count++] = stats_fd;
    }
    closedir(dir);
}

static void kvm_stats_sum(struct bench_kvm_stats *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < kvm_stats_count; i++)
        bench_kvm_stats_add(kvm_stats_fds[i], sum);
}

void bench_kvm_begin(void)
{
    const char *enabled = getenv("BENCH_KVM_STATS");

    if (enabled == NULL || strcmp(enabled, "1") != 0)
        return;
    kvm_fds_collect();
    kvm_stats_sum(&kvm_before);
}

void bench_kvm_end(void)
{
    struct bench_kvm_stats after;

    if (kvm_stats_count == 0)
        return;
    /* vCPUs created since the start count in full: they are all new. */
    kvm_fds_collect();
    kvm_stats_sum(&after);
    bench_kvm_stats_subtract(&after, &kvm_before);
    for (unsigned i = 0; i < after.count; i++)
        if (after.value[i] != 0)
            printf("kvm %s %llu\n", after.name[i],
                   (unsigned long long)after.value[i]);
}
