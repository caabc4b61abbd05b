/*
 * The schedule of `hvm bench`: which rows exist, the programs behind
 * them, and the runs, each measuring every selected operation natively
 * and hybridized with the order alternating from run to run.
 */
#include "bench.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "vmm.h"

/* Row keys of the programs; the argv strings are filled per context. */
enum program_index {
    PROGRAM_GETPPID,
    PROGRAM_PREAD,
    PROGRAM_FAULT,
    PROGRAM_THREAD,
    PROGRAM_NBODY,
    PROGRAM_LUA,
    PROGRAM_PYTHON,
    PROGRAM_READ,
    PROGRAM_TOUCH,
    PROGRAM_COUNT,
};

struct program_slot {
    struct bench_program program;
    char count[32];
    char script[4096];
    struct bench_row *row;
};

static struct program_slot slots[PROGRAM_COUNT];

static void slot_set(struct bench_context *ctx, enum program_index index,
                     const struct bench_program *program, unsigned long count,
                     const char *native_label)
{
    struct program_slot *slot = &slots[index];

    slot->program = *program;
    snprintf(slot->count, sizeof(slot->count), "%lu", count);
    for (unsigned i = 0; i < 8; i++)
        if (slot->program.argv[i] != NULL &&
            strcmp(slot->program.argv[i], "%count") == 0)
            slot->program.argv[i] = slot->count;
    slot->row = bench_row_add(ctx, program->key, program->group,
                              program->label, program->unit, native_label);
}

/* Finds a script copied next to the programs, for lua5.4 and python3. */
static const char *script_path(struct program_slot *slot, const char *name)
{
    char relative[64];

    snprintf(relative, sizeof(relative), "tools/bench/%s", name);
    if (hvm_find_built_file(relative, slot->script, sizeof(slot->script)) < 0)
        snprintf(slot->script, sizeof(slot->script), "%s", relative);
    return slot->script;
}

static void programs_define(struct bench_context *ctx)
{
    const struct bench_sizes *s = &ctx->sizes;
    struct bench_program p;

    p = (struct bench_program){"syscall_getppid", "syscall",
        "getppid system call", "ns", {"@bench_getppid", "%count"},
        (double)s->syscalls};
    slot_set(ctx, PROGRAM_GETPPID, &p, s->syscalls, "native getppid");
    p = (struct bench_program){"syscall_pread64", "syscall",
        "pread of 64 bytes", "ns", {"@bench_pread", "%count", "%data"},
        (double)s->syscalls};
    slot_set(ctx, PROGRAM_PREAD, &p, s->syscalls, "native pread");
    p = (struct bench_program){"page_fault", "fault",
        "first-touch page fault (4 KiB)", "ns",
        {"@bench_fault", "%count"}, (double)s->faults};
    slot_set(ctx, PROGRAM_FAULT, &p, s->faults, "native fault");
    p = (struct bench_program){"thread_create_join", "thread",
        "thread create + join", "ns", {"@bench_thread", "%count"},
        (double)s->threads};
    slot_set(ctx, PROGRAM_THREAD, &p, s->threads, "native threads");
    p = (struct bench_program){"nbody_c", "programs",
        "n-body in C (compute)", "s", {"@bench_nbody", "%count"}, 1};
    slot_set(ctx, PROGRAM_NBODY, &p, s->nbody_steps, "native run");
    p = (struct bench_program){"loop_lua", "programs",
        "Lua loop (compute, CPU s)", "s",
        {"lua5.4", script_path(&slots[PROGRAM_LUA], "loop.lua"), "%count"},
        1};
    slot_set(ctx, PROGRAM_LUA, &p, s->lua_iterations, "native run");
    p = (struct bench_program){"loop_python", "programs",
        "Python loop (compute)", "s",
        {"/usr/bin/python3", script_path(&slots[PROGRAM_PYTHON], "loop.py"),
         "%count"},
        1};
    slot_set(ctx, PROGRAM_PYTHON, &p, s->python_iterations, "native run");
    p = (struct bench_program){"read_4k", "programs",
        "read file in 4 KiB reads (syscalls)", "s",
        {"@bench_read", "%data"}, 1};
    slot_set(ctx, PROGRAM_READ, &p, s->read_mib, "native run");
    p = (struct bench_program){"touch_memory", "programs",
        "touch fresh memory (faults)", "s", {"@bench_touch", "%count"}, 1};
    slot_set(ctx, PROGRAM_TOUCH, &p, s->touch_mib, "native run");
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
    struct bench_row *getppid = slots[PROGRAM_GETPPID].row;
    struct bench_row *pread = slots[PROGRAM_PREAD].row;
    struct bench_row *floor = bench_row_find(ctx, "floor_cacheline_ring3");
    struct bench_row *row;

    if (bench_group_selected(ctx, "syscall")) {
        row = bench_row_add(ctx, "syscall_getppid_vs_native_pread",
                            "syscall", "forwarded getppid vs native pread",
                            "ns", "native pread64");
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
        for (unsigned i = 0; i < PROGRAM_COUNT; i++) {
            struct program_slot *slot = &slots[i];

            if (bench_group_selected(ctx, slot->program.group))
                bench_program_pair(ctx, slot->row, &slot->program, run % 2);
        }
    }
    for (unsigned i = 0; i < ctx->nr_rows; i++)
        if (ctx->rows[i].has_native && ctx->rows[i].ratio.count == 0)
            ratio_fill(&ctx->rows[i]);
    derived_rows_add(ctx);
    unlink(ctx->data_file);
    ctx->elapsed_s = (vmm_now_ns() - start) / 1e9;
    return 0;
}
