/*
 * The schedule of `hvm bench`: which rows exist, the programs behind
 * them, and the runs, each measuring every selected operation natively
 * and hybridized with the order alternating from run to run.
 */
#include "bench.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "vmm.h"

/*
 * The programs of tools/bench. In argv, "@NAME" is tools/bench/NAME next
 * to hvm, "%count" is the size named by count_offset and "%data" is the
 * scratch file. Micro-benchmarks count operations; whole programs count
 * one operation per run, so their KVM counters are per run.
 */
struct program_spec {
    struct bench_program program;
    size_t count_offset; /* of an unsigned long in struct bench_sizes */
    int count_is_operations;
    const char *native_label;
};

#define PROGRAM(key_, group_, label_, unit_, size_, per_operation_, native_,   \
                ...)                                                           \
    {                                                                          \
        .program = {.key = key_,                                               \
                    .group = group_,                                           \
                    .label = label_,                                           \
                    .unit = unit_,                                             \
                    .argv = {__VA_ARGS__}},                                    \
        .count_offset = offsetof(struct bench_sizes, size_),                   \
        .count_is_operations = per_operation_, .native_label = native_         \
    }

static const struct program_spec program_specs[] = {
    PROGRAM("syscall_getppid", "syscall", "getppid system call", "ns", syscalls,
            1, "native getppid", "@bench_getppid", "%count"),
    PROGRAM("syscall_pread64", "syscall", "pread of 64 bytes", "ns", syscalls,
            1, "native pread", "@bench_pread", "%count", "%data"),
    PROGRAM("page_fault", "fault", "first-touch page fault (4 KiB)", "ns",
            faults, 1, "native fault", "@bench_fault", "%count"),
    PROGRAM("thread_create_join", "thread", "thread create + join", "ns",
            threads, 1, "native threads", "@bench_thread", "%count"),
    PROGRAM("nbody_c", "programs", "n-body in C (compute)", "s", nbody_steps, 0,
            "native run", "@bench_nbody", "%count"),
    PROGRAM("loop_lua", "programs", "Lua loop (compute, CPU s)", "s",
            lua_iterations, 0, "native run", "lua5.4", "@loop.lua", "%count"),
    PROGRAM("loop_python", "programs", "Python loop (compute)", "s",
            python_iterations, 0, "native run", "/usr/bin/python3", "@loop.py",
            "%count"),
    PROGRAM("read_4k", "programs", "read file in 4 KiB reads (syscalls)", "s",
            read_mib, 0, "native run", "@bench_read", "%data"),
    PROGRAM("touch_memory", "programs", "touch fresh memory (faults)", "s",
            touch_mib, 0, "native run", "@bench_touch", "%count"),
};

#define PROGRAM_COUNT (sizeof(program_specs) / sizeof(program_specs[0]))

/* The specs with their sizes and rows filled in for this context. */
static struct bench_program programs[PROGRAM_COUNT];
static struct bench_row *program_rows[PROGRAM_COUNT];

static void programs_define(struct bench_context *ctx)
{
    for (size_t i = 0; i < PROGRAM_COUNT; i++) {
        const struct program_spec *spec = &program_specs[i];
        unsigned long count;

        memcpy(&count, (const char *)&ctx->sizes + spec->count_offset,
               sizeof(count));
        programs[i] = spec->program;
        programs[i].count = count;
        programs[i].operations = spec->count_is_operations ? (double)count : 1;
        program_rows[i] = bench_row_add(
            ctx, spec->program.key, spec->program.group, spec->program.label,
            spec->program.unit, spec->native_label);
    }
}

/* Writes the scratch file of read_mib MiB that the read benchmarks use. */
static int data_file_create(struct bench_context *ctx)
{
    const char *dir = getenv("TMPDIR");
    static char block[1 << 20];
    int fd;

    snprintf(ctx->data_file, sizeof(ctx->data_file), "%s/hvm-bench-XXXXXX",
             dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    fd = mkstemp(ctx->data_file);
    if (fd < 0) {
        vmm_error_errno(ctx->data_file);
        ctx->data_file[0] = '\0';
        return -1;
    }
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (char)(i * 131 + (i >> 12));
    for (unsigned long i = 0; i < ctx->sizes.read_mib; i++) {
        if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
            vmm_error_errno("write the benchmark data file");
            close(fd);
            return -1;
        }
    }
    close(fd);
    return 0;
}

/* Pairs two series run by run: ratio[i] = hybrid[i] / native[i]. */
static void ratio_fill(struct bench_row *row)
{
    unsigned n = row->native.count < row->hybrid.count ? row->native.count
                                                       : row->hybrid.count;

    row->ratio.count = 0;
    for (unsigned i = 0; i < n; i++)
        if (row->native.value[i] > 0)
            bench_series_add(&row->ratio,
                             row->hybrid.value[i] / row->native.value[i]);
}

static void derived_rows_add(struct bench_context *ctx)
{
    struct bench_row *getppid = bench_row_find(ctx, "syscall_getppid");
    struct bench_row *pread = bench_row_find(ctx, "syscall_pread64");
    struct bench_row *floor = bench_row_find(ctx, "floor_cacheline_ring3");
    struct bench_row *row;

    if (bench_group_selected(ctx, "syscall")) {
        row = bench_row_add(ctx, "syscall_getppid_vs_native_pread", "syscall",
                            "forwarded getppid vs native pread", "ns",
                            "native pread64");
        row->native = pread->native;
        row->hybrid = getppid->hybrid;
        ratio_fill(row);
    }
    if (bench_group_selected(ctx, "syscall") &&
        bench_group_selected(ctx, "floor")) {
        row = bench_row_add(ctx, "syscall_getppid_vs_floor", "syscall",
                            "forwarded getppid vs vCPU round trip", "ns",
                            "ring-3 vCPU round trip");
        row->native = floor->hybrid;
        row->hybrid = getppid->hybrid;
        ratio_fill(row);
    }
}

static void scratch_rows_add(struct bench_context *ctx)
{
    bench_row_add(ctx, "floor_cacheline_ring3", "floor",
                  "cache-line round trip, 2 vCPUs ring 3", "ns",
                  "2 host threads");
    bench_row_add(ctx, "hypercall_null_ring0", "hypercall",
                  "null hypercall from ring 0", "ns", "native getppid");
    bench_row_add(ctx, "hypercall_null_ring3", "hypercall",
                  "null hypercall from ring 3", "ns", "native getppid");
    bench_row_add(ctx, "hrt_boot", "boot", "HRT boot (VMM start to ready)",
                  "ms", NULL);
    bench_row_add(ctx, "hrt_reboot", "boot", "HRT reboot (request to ready)",
                  "ms", NULL);
}

static void scratch_run_once(struct bench_context *ctx)
{
    struct bench_row *floor = bench_row_find(ctx, "floor_cacheline_ring3");
    struct bench_row *ring0 = bench_row_find(ctx, "hypercall_null_ring0");
    struct bench_row *ring3 = bench_row_find(ctx, "hypercall_null_ring3");

    if (bench_group_selected(ctx, "floor")) {
        double host = bench_host_pingpong(ctx->sizes.pingpong_round_trips);

        if (host > 0)
            bench_series_add(&floor->native, host);
        bench_vm_pingpong(ctx, floor);
    }
    if (bench_group_selected(ctx, "hypercall")) {
        double native = bench_host_getppid(ctx->sizes.syscalls);

        bench_series_add(&ring0->native, native);
        bench_series_add(&ring3->native, native);
        bench_vm_hypercalls(ctx, ring0, ring3);
    }
    if (bench_group_selected(ctx, "boot"))
        bench_hrt_boot(ctx, bench_row_find(ctx, "hrt_boot"),
                       bench_row_find(ctx, "hrt_reboot"));
}

int bench_run_all(struct bench_context *ctx)
{
    uint64_t start = vmm_now_ns();

    scratch_rows_add(ctx);
    programs_define(ctx);
    if (data_file_create(ctx) < 0)
        return -1;
    for (unsigned run = 0; run < ctx->runs; run++) {
        if (vmm_log_level >= VMM_LOG_WARN)
            fprintf(stderr, "hvm bench: run %u of %u (%.0f s so far)\n",
                    run + 1, ctx->runs, (vmm_now_ns() - start) / 1e9);
        scratch_run_once(ctx);
        for (size_t i = 0; i < PROGRAM_COUNT; i++)
            if (bench_group_selected(ctx, programs[i].group))
                bench_program_pair(ctx, program_rows[i], &programs[i], run % 2);
    }
    for (unsigned i = 0; i < ctx->nr_rows; i++)
        if (ctx->rows[i].has_native && ctx->rows[i].ratio.count == 0)
            ratio_fill(&ctx->rows[i]);
    derived_rows_add(ctx);
    unlink(ctx->data_file);
    ctx->elapsed_s = (vmm_now_ns() - start) / 1e9;
    return 0;
}
