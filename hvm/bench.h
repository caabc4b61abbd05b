/*
 * `hvm bench`: shared types of the benchmark harness. A result row contains
 * the series of one operation measured natively and hybridized, run for
 * run, so that ratios compare runs made side by side.
 */
#ifndef HVM_BENCH_H
#define HVM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench_kvm_stats.h"
#include "platform.h"

#define BENCH_MAX_RUNS 50
#define BENCH_MAX_ROWS 32

/* One value per run; a run that failed leaves no value. */
struct bench_series {
    unsigned count;
    double value[BENCH_MAX_RUNS];
};

struct bench_stat {
    double min, median, max;
};

struct bench_row {
    const char *key;          /* JSON name, e.g. "syscall_getppid" */
    const char *group;        /* --only selects groups */
    const char *label;        /* the table's operation column */
    const char *unit;         /* of native and hybrid: "ns", "ms" or "s" */
    const char *native_label; /* what the native column measures */
    struct bench_series native, hybrid;
    /* ratio[i] = hybrid[i] / native[i] of the same run */
    struct bench_series ratio;
    int has_native;
    double operations;          /* per run, for the KVM counters */
    struct bench_kvm_stats kvm; /* deltas of the last hybridized run */
    int has_kvm;
    /* whole-process wall seconds of program runs, HRT boot included */
    struct bench_series wall_native, wall_hybrid;
    char error[160]; /* why values are missing, "" if none */
};

/* Sizes of one benchmark run: --quick picks the small set. */
struct bench_sizes {
    unsigned long pingpong_round_trips;
    unsigned long hypercalls_ring0, hypercalls_ring3;
    unsigned long syscalls, faults, threads;
    unsigned long nbody_steps, lua_iterations, python_iterations;
    unsigned long read_mib, touch_mib;
    unsigned reboots, hrt_timeout_s;
    unsigned run_timeout_s; /* bound of one program run */
};

struct bench_machine {
    char cpu_model[128];
    unsigned cores;
    uint64_t memory_bytes;
    char kernel[256];
    /* 1-minute load average: other work on the machine skews figures */
    double load_start, load_end;
};

struct bench_context {
    int quick;
    unsigned runs;
    const char *only;      /* comma-separated groups, NULL for all */
    const char *spin_ns;   /* MV_SPIN_NS for hybridized runs, or NULL */
    const char *privilege; /* --privilege of every `hvm exec` */
    struct bench_sizes sizes;
    struct vmm_platform platform;
    int platform_probed; /* vmm_platform_probe() succeeded */
    struct bench_machine machine;
    char self[4096];      /* this `hvm` binary */
    char data_file[4096]; /* scratch file read by the read benchmarks */
    struct bench_row rows[BENCH_MAX_ROWS];
    unsigned nr_rows;
    double elapsed_s;
};

/* Adds a row and returns it. Aborts if BENCH_MAX_ROWS rows exist. */
struct bench_row *bench_row_add(struct bench_context *ctx, const char *key,
                                const char *group, const char *label,
                                const char *unit, const char *native_label);

/* Returns the row named key, or NULL. */
struct bench_row *bench_row_find(struct bench_context *ctx, const char *key);

/* Appends a value to a series, ignoring values past BENCH_MAX_RUNS. */
void bench_series_add(struct bench_series *series, double value);

/* Minimum, median and maximum. Returns -1 for an empty series. */
int bench_series_stat(const struct bench_series *series,
                      struct bench_stat *stat);

/* Records the error of a row once (the first error is kept). */
void bench_row_error(struct bench_row *row, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether --only selects this group. */
int bench_group_selected(const struct bench_context *ctx, const char *group);

/* Measurements in scratch VMs (bench_vm.c), one run each. */
int bench_vm_pingpong(struct bench_context *ctx, struct bench_row *row);
int bench_vm_hypercalls(struct bench_context *ctx, struct bench_row *ring0,
                        struct bench_row *ring3);
/* Host threads ping-ponging a cache line: ns per round trip, or < 0. */
double bench_host_pingpong(unsigned long round_trips);
/* Native getppid in this process: ns per call. */
double bench_host_getppid(unsigned long calls);

/* Programs run natively and under `hvm exec` (bench_proc.c). */
struct bench_program {
    const char *key;
    const char *group;
    const char *label;
    const char *unit;    /* of the number the program prints */
    const char *argv[8]; /* "@NAME": tools/bench/NAME, "%count", "%data" */
    unsigned long count; /* replaces "%count" */
    double operations;   /* per run, to scale the KVM counters */
};

/*
 * Runs the program once natively and once hybridized (in that order, or
 * reversed when hybrid_first), and appends the results to row.
 */
void bench_program_pair(struct bench_context *ctx, struct bench_row *row,
                        const struct bench_program *program, int hybrid_first);

/* Runs `hvm hrt-test --reboot K` once and appends boot and reboot times. */
void bench_hrt_boot(struct bench_context *ctx, struct bench_row *boot,
                    struct bench_row *reboot);

/* Defines the rows and runs every selected measurement (bench_run.c). */
int bench_run_all(struct bench_context *ctx);

/* Reports (bench_report.c). */
void bench_table_print(const struct bench_context *ctx);
int bench_json_write(const struct bench_context *ctx, const char *path);
int bench_plots_write(const struct bench_context *ctx, const char *dir);

/* Machine description from /proc and uname (bench_report.c). */
void bench_machine_read(struct bench_machine *machine);

/* The 1-minute load average from /proc/loadavg, or -1. */
double bench_load_average(void);

#endif
