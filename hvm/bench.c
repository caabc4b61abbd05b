/*
 * `hvm bench`: measures the costs of hybridization against the native
 * operations, side by side in one run. Each run measures every selected
 * operation natively and hybridized, alternating which goes first, and
 * the report gives min, median and max over the runs and the ratio of
 * each hybridized run to the native run made beside it.
 */
#include "bench.h"
#include "commands.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

#define DEFAULT_RUNS 7
#define QUICK_RUNS 3

static const struct bench_sizes full_sizes = {
    .pingpong_round_trips = 200000,
    .hypercalls_ring0 = 2000,
    .hypercalls_ring3 = 2000,
    .syscalls = 10000,
    .faults = 20000,
    .threads = 200,
    .nbody_steps = 40000000,
    .lua_iterations = 200000000,
    .python_iterations = 20000000,
    .read_mib = 100,
    .touch_mib = 1024,
    .reboots = 3,
    .hrt_timeout_s = 20,
    .run_timeout_s = 300,
};

static const struct bench_sizes quick_sizes = {
    .pingpong_round_trips = 50000,
    .hypercalls_ring0 = 300,
    .hypercalls_ring3 = 300,
    .syscalls = 2000,
    .faults = 2000,
    .threads = 20,
    .nbody_steps = 10000000,
    .lua_iterations = 40000000,
    .python_iterations = 4000000,
    .read_mib = 20,
    .touch_mib = 128,
    .reboots = 1,
    .hrt_timeout_s = 10,
    .run_timeout_s = 60,
};

static const char *const all_groups = "floor,hypercall,syscall,fault,thread,"
                                      "boot,programs";

static const char usage[] =
    "usage: hvm bench [OPTIONS]\n"
    "\n"
    "Measure hybridized operations against native ones, side by side:\n"
    "cache-line round trips between vCPUs, null hypercalls, forwarded\n"
    "system calls and page faults, threads, HRT boot and reboot, and\n"
    "whole programs run natively and under `hvm exec`.\n"
    "\n"
    "  --quick          fewer runs and smaller sizes (under two minutes)\n"
    "  --runs N         runs of every measurement (default 7, quick 3)\n"
    "  --json FILE      write every figure, the platform and the machine\n"
    "  --plot DIR       write PNG plots with gnuplot into DIR\n"
    "  --only GROUPS    comma-separated subset of: floor, hypercall,\n"
    "                   syscall, fault, thread, boot, programs\n"
    "  --spin-ns NS     MV_SPIN_NS for hybridized runs: how long the\n"
    "                   forwarding partner polls before it sleeps, in ns\n"
    "  --privilege RING user or kernel for every hybridized run (default:\n"
    "                   kernel only where this run's probe finds guest\n"
    "                   ring 0 native)\n"
    "  -v, -q, --trace FILE   as for every command\n";

struct bench_row *bench_row_add(struct bench_context *ctx, const char *key,
                                const char *group, const char *label,
                                const char *unit, const char *native_label)
{
    struct bench_row *row;

    if (ctx->nr_rows == BENCH_MAX_ROWS) {
        vmm_error("bench: more than %d result rows; raise BENCH_MAX_ROWS",
                  BENCH_MAX_ROWS);
        abort();
    }
    row = &ctx->rows[ctx->nr_rows++];
    memset(row, 0, sizeof(*row));
    row->key = key;
    row->group = group;
    row->label = label;
    row->unit = unit;
    row->native_label = native_label;
    row->has_native = native_label != NULL;
    return row;
}

struct bench_row *bench_row_find(struct bench_context *ctx, const char *key)
{
    for (unsigned i = 0; i < ctx->nr_rows; i++)
        if (strcmp(ctx->rows[i].key, key) == 0)
            return &ctx->rows[i];
    return NULL;
}

void bench_series_add(struct bench_series *series, double value)
{
    if (series->count < BENCH_MAX_RUNS)
        series->value[series->count++] = value;
}

static int double_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int bench_series_stat(const struct bench_series *series,
                      struct bench_stat *stat)
{
    double sorted[BENCH_MAX_RUNS];
    unsigned n = series->count;

    if (n == 0)
        return -1;
    memcpy(sorted, series->value, n * sizeof(double));
    qsort(sorted, n, sizeof(double), double_compare);
    stat->min = sorted[0];
    stat->max = sorted[n - 1];
    stat->median =
        n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    return 0;
}

void bench_row_error(struct bench_row *row, const char *format, ...)
{
    va_list args;

    if (row->error[0] != '\0')
        return;
    va_start(args, format);
    vsnprintf(row->error, sizeof(row->error), format, args);
    va_end(args);
    vmm_warn("bench %s: %s", row->key, row->error);
}

int bench_group_selected(const struct bench_context *ctx, const char *group)
{
    size_t length = strlen(group);
    const char *list = ctx->only;

    if (list == NULL)
        return 1;
    while (*list != '\0') {
        size_t item = strcspn(list, ",");

        if (item == length && strncmp(list, group, length) == 0)
            return 1;
        list += item + (list[item] == ',');
    }
    return 0;
}

static int only_validate(const char *list)
{
    struct bench_context probe = {.only = all_groups};
    char item[32];

    while (*list != '\0') {
        size_t length = strcspn(list, ",");

        if (length == 0 || length >= sizeof(item))
            return -1;
        memcpy(item, list, length);
        item[length] = '\0';
        if (!bench_group_selected(&probe, item))
            return -1;
        list += length + (list[length] == ',');
    }
    return 0;
}

/*
 * Applies an option that takes a validated value. Returns 1 if opt was
 * one of them, 0 if not, -1 after reporting an invalid value.
 */
static int option_value_apply(struct bench_context *ctx, int opt,
                              const char *arg)
{
    char *end;

    switch (opt) {
    case 'n':
        ctx->runs = (unsigned)strtoul(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || ctx->runs < 1 ||
            ctx->runs > BENCH_MAX_RUNS) {
            fprintf(stderr, "hvm bench: invalid --runs '%s': give 1 to %d\n",
                    arg, BENCH_MAX_RUNS);
            return -1;
        }
        return 1;
    case 'o':
        if (only_validate(arg) < 0) {
            fprintf(stderr,
                    "hvm bench: invalid --only '%s': give a "
                    "comma-separated subset of %s\n",
                    arg, all_groups);
            return -1;
        }
        ctx->only = arg;
        return 1;
    case 's':
        strtoull(arg, &end, 10);
        if (*arg == '\0' || *end != '\0') {
            fprintf(stderr,
                    "hvm bench: invalid --spin-ns '%s': give "
                    "nanoseconds as an integer\n",
                    arg);
            return -1;
        }
        ctx->spin_ns = arg;
        return 1;
    case 'P':
        if (strcmp(arg, "user") != 0 && strcmp(arg, "kernel") != 0) {
            fprintf(stderr,
                    "hvm bench: invalid --privilege '%s': give user or "
                    "kernel\n",
                    arg);
            return -1;
        }
        ctx->privilege = arg;
        return 1;
    default:
        return 0;
    }
}

static int options_parse(int argc, char **argv, struct bench_context *ctx,
                         const char **json, const char **plot_dir)
{
    static const struct option long_options[] = {
        {"quick", no_argument, NULL, 'Q'},
        {"runs", required_argument, NULL, 'n'},
        {"json", required_argument, NULL, 'j'},
        {"plot", required_argument, NULL, 'p'},
        {"only", required_argument, NULL, 'o'},
        {"spin-ns", required_argument, NULL, 's'},
        {"privilege", required_argument, NULL, 'P'},
        {"trace", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, applied;

    while ((opt = getopt_long(argc, argv, "vqh", long_options, NULL)) != -1) {
        if (opt == 'Q') {
            ctx->quick = 1;
        } else if (opt == 'j') {
            *json = optarg;
        } else if (opt == 'p') {
            *plot_dir = optarg;
        } else if (opt == 'h') {
            fputs(usage, stdout);
            exit(0);
        } else if ((applied = option_value_apply(ctx, opt, optarg)) != 0) {
            if (applied < 0)
                return -1;
        } else if (hvm_common_option(opt, optarg) <= 0) {
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hvm bench: unexpected argument '%s'\n%s", argv[optind],
                usage);
        return -1;
    }
    return 0;
}

static void header_print(struct bench_context *ctx)
{
    const struct vmm_platform *p = &ctx->platform;
    const struct bench_machine *m = &ctx->machine;

    printf("hvm bench%s\n", ctx->quick ? " --quick: fewer runs and smaller "
                                         "sizes, figures are rough"
                                       : "");
    printf("platform: %s%s%s%s%s", p->kind, p->module[0] ? " (" : "", p->module,
           p->module[0] ? ")" : "", p->nested ? ", host is itself a VM" : "");
    if (ctx->platform_probed)
        printf(", guest ring 0 %s (%.1f ns vs %.2f ns per loop iteration "
               "in ring 3)",
               p->ring0_emulated ? "interpreted" : "native",
               p->ring0_ns_per_iteration, p->ring3_ns_per_iteration);
    printf("\nmachine: %s, %u cores, %.1f GiB, %s\n", m->cpu_model, m->cores,
           (double)m->memory_bytes / (1ULL << 30), m->kernel);
    printf("load average (1 min) at start: %.2f\n", m->load_start);
    printf("runs: %u of each, native and hybridized alternating first; "
           "hvm exec --privilege %s; MV_SPIN_NS %s\n",
           ctx->runs, ctx->privilege,
           ctx->spin_ns != NULL ? ctx->spin_ns : "default");
    fflush(stdout);
}

int hvm_cmd_bench(int argc, char **argv)
{
    static struct bench_context ctx;
    const char *json = NULL, *plot_dir = NULL;
    ssize_t length;
    int status = 0;

    if (options_parse(argc, argv, &ctx, &json, &plot_dir) < 0)
        return 2;
    ctx.sizes = ctx.quick ? quick_sizes : full_sizes;
    if (ctx.runs == 0)
        ctx.runs = ctx.quick ? QUICK_RUNS : DEFAULT_RUNS;
    length = readlink("/proc/self/exe", ctx.self, sizeof(ctx.self) - 1);
    if (length <= 0) {
        vmm_error_errno("readlink /proc/self/exe");
        return 1;
    }
    ctx.self[length] = '\0';
    ctx.platform_probed = vmm_platform_probe(&ctx.platform) == 0;
    if (!ctx.platform_probed)
        vmm_warn("the platform probe VM failed; is /dev/kvm usable?");
    /*
     * One probe decides the ring for every run: `hvm exec --privilege
     * auto` probes anew each time, and a probe disturbed by other load can
     * pick ring 0 where it is interpreted.
     */
    if (ctx.privilege == NULL)
        ctx.privilege = ctx.platform_probed && !ctx.platform.ring0_emulated
                            ? "kernel"
                            : "user";
    bench_machine_read(&ctx.machine);
    header_print(&ctx);
    if (bench_run_all(&ctx) < 0)
        return 1;
    ctx.machine.load_end = bench_load_average();
    bench_table_print(&ctx);
    if (json != NULL && bench_json_write(&ctx, json) < 0)
        status = 1;
    if (plot_dir != NULL && bench_plots_write(&ctx, plot_dir) < 0)
        status = 1;
    return status;
}
