/*
 * Reports of `hvm bench`: the machine description, the table on stdout,
 * the JSON file and the gnuplot plots.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "vmm.h"

/* Counters shown per operation in the table, in this order. */
static const char *const kvm_shown[] = {
    "exits",      "io_exits",       "mmio_exits", "halt_exits", "signal_exits",
    "irq_exits",  "insn_emulation", "pf_taken",   "pf_fixed",   "pf_guest",
    "pf_emulate", "tlb_flush",      "invlpg",
};
#define KVM_SHOWN_COUNT (sizeof(kvm_shown) / sizeof(kvm_shown[0]))

double bench_load_average(void)
{
    FILE *file = fopen("/proc/loadavg", "r");
    double load = -1;

    if (file != NULL) {
        if (fscanf(file, "%lf", &load) != 1)
            load = -1;
        fclose(file);
    }
    return load;
}

void bench_machine_read(struct bench_machine *machine)
{
    FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
    struct utsname name;
    char line[512];

    memset(machine, 0, sizeof(*machine));
    snprintf(machine->cpu_model, sizeof(machine->cpu_model), "unknown");
    while (cpuinfo != NULL && fgets(line, sizeof(line), cpuinfo) != NULL) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) != 0 || colon == NULL)
            continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(machine->cpu_model, sizeof(machine->cpu_model), "%s", colon);
        break;
    }
    if (cpuinfo != NULL)
        fclose(cpuinfo);
    machine->cores = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    machine->memory_bytes =
        (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    machine->load_start = bench_load_average();
    if (uname(&name) == 0)
        snprintf(machine->kernel, sizeof(machine->kernel), "%s %s %s",
                 name.sysname, name.release, name.machine);
}

/* Formats a value with about four significant digits. */
static const char *number_format(char *buffer, size_t size, double value)
{
    double magnitude = value < 0 ? -value : value;

    if (magnitude >= 100)
        snprintf(buffer, size, "%.0f", value);
    else if (magnitude >= 10)
        snprintf(buffer, size, "%.1f", value);
    else if (magnitude >= 1)
        snprintf(buffer, size, "%.2f", value);
    else
        snprintf(buffer, size, "%.3f", value);
    return buffer;
}

/* "median [min, max]" of a series, or "-" for none. */
static void stat_format(char *out, size_t size,
                        const struct bench_series *series)
{
    struct bench_stat stat;
    char a[32], b[32], c[32];

    if (bench_series_stat(series, &stat) < 0) {
        snprintf(out, size, "-");
        return;
    }
    snprintf(out, size, "%s [%s, %s]", number_format(a, sizeof(a), stat.median),
             number_format(b, sizeof(b), stat.min),
             number_format(c, sizeof(c), stat.max));
}

static int row_shown(const struct bench_context *ctx,
                     const struct bench_row *row)
{
    return bench_group_selected(ctx, row->group);
}

static void table_row_print(const struct bench_row *row)
{
    char native[64], hybrid[64], ratio[64];

    stat_format(native, sizeof(native), &row->native);
    stat_format(hybrid, sizeof(hybrid), &row->hybrid);
    stat_format(ratio, sizeof(ratio), &row->ratio);
    printf("%-38s %-4s %-26s %-28s %s\n", row->label, row->unit,
           row->has_native ? native : "-", hybrid,
           row->has_native ? ratio : "-");
    if (row->has_native)
        printf("    native: %s\n", row->native_label);
    if (row->error[0] != '\0')
        printf("    missing runs: %s\n", row->error);
}

static void kvm_counters_print(const struct bench_context *ctx)
{
    printf("\nKVM counters per operation of the last hybridized run "
           "(KVM_GET_STATS_FD,\nVM and vCPUs summed; whole programs: per "
           "run):\n");
    for (unsigned i = 0; i < ctx->nr_rows; i++) {
        const struct bench_row *row = &ctx->rows[i];
        char value[32];
        int any = 0;

        if (!row_shown(ctx, row) || !row->has_kvm || row->operations <= 0)
            continue;
        printf("  %-38s", row->label);
        for (size_t k = 0; k < KVM_SHOWN_COUNT; k++) {
            uint64_t total = bench_kvm_stats_get(&row->kvm, kvm_shown[k]);

            if (total == 0)
                continue;
            printf("%s%s %s", any ? ", " : " ", kvm_shown[k],
                   number_format(value, sizeof(value),
                                 (double)total / row->operations));
            any = 1;
        }
        printf("%s\n", any ? "" : " no exits");
    }
}

static void wall_times_print(const struct bench_context *ctx)
{
    int header = 0;

    for (unsigned i = 0; i < ctx->nr_rows; i++) {
        const struct bench_row *row = &ctx->rows[i];
        char native[64], hybrid[64];

        if (!row_shown(ctx, row) || row->wall_hybrid.count == 0 ||
            strcmp(row->unit, "s") != 0)
            continue;
        if (!header)
            printf("\nWhole-process wall time in s, process start and HRT "
                   "boot included:\n");
        header = 1;
        stat_format(native, sizeof(native), &row->wall_native);
        stat_format(hybrid, sizeof(hybrid), &row->wall_hybrid);
        printf("  %-38s native %-24s hybridized %s\n", row->label, native,
               hybrid);
    }
}

struct bench_target {
    const char *row_key;
    const char *description;
    double limit; /* on the median ratio */
};

static const struct bench_target targets[] = {
    {"nbody_c", "compute-bound C n-body: hybridized/native <= 1.02", 1.02},
    {"loop_lua", "compute-bound Lua loop: hybridized/native <= 1.02", 1.02},
    {"loop_python", "compute-bound Python loop: hybridized/native <= 1.02",
     1.02},
    {"syscall_getppid_vs_floor",
     "forwarded getppid <= 2x the ring-3 vCPU round trip", 2.0},
    {"touch_memory", "fault-heavy program: hybridized/native <= 2", 2.0},
};
#define TARGET_COUNT (sizeof(targets) / sizeof(targets[0]))

/* Returns 1 met, 0 missed, -1 not measured; *ratio gets the median. */
static int target_status(const struct bench_context *ctx,
                         const struct bench_target *target, double *ratio)
{
    struct bench_stat stat;

    for (unsigned i = 0; i < ctx->nr_rows; i++) {
        const struct bench_row *row = &ctx->rows[i];

        if (strcmp(row->key, target->row_key) != 0)
            continue;
        if (!row_shown(ctx, row) || bench_series_stat(&row->ratio, &stat) < 0)
            return -1;
        *ratio = stat.median;
        return stat.median <= target->limit;
    }
    return -1;
}

static void targets_print(const struct bench_context *ctx)
{
    static const char *const labels[] = {"not measured", "MISSED", "met"};

    printf("\nTargets (median ratio):\n");
    for (size_t i = 0; i < TARGET_COUNT; i++) {
        double ratio = 0;
        int status = target_status(ctx, &targets[i], &ratio);
        char value[32];

        printf("  %-54s %-12s", targets[i].description, labels[status + 1]);
        if (status >= 0)
            printf(" %s", number_format(value, sizeof(value), ratio));
        printf("\n");
    }
}

void bench_table_print(const struct bench_context *ctx)
{
    printf("\n%-38s %-4s %-26s %-28s %s\n", "operation", "unit",
           "native median [min, max]", "hybridized median [min, max]",
           "ratio median [min, max]");
    for (unsigned i = 0; i < ctx->nr_rows; i++)
        if (row_shown(ctx, &ctx->rows[i]))
            table_row_print(&ctx->rows[i]);
    wall_times_print(ctx);
    kvm_counters_print(ctx);
    targets_print(ctx);
    printf("\n%u run%s in %.0f s%s; load average (1 min) at the end "
           "%.2f\n",
           ctx->runs, ctx->runs > 1 ? "s" : "", ctx->elapsed_s,
           ctx->quick ? " (quick: fewer runs, smaller sizes)" : "",
           ctx->machine.load_end);
}

static void json_string(FILE *out, const char *text)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_series(FILE *out, const char *name,
                        const struct bench_series *series)
{
    struct bench_stat stat;

    fprintf(out, "      \"%s\": ", name);
    if (bench_series_stat(series, &stat) < 0) {
        fprintf(out, "null");
        return;
    }
    fprintf(out,
            "{\"min\": %.6g, \"median\": %.6g, \"max\": %.6g, "
            "\"values\": [",
            stat.min, stat.median, stat.max);
    for (unsigned i = 0; i < series->count; i++)
        fprintf(out, "%s%.6g", i ? ", " : "", series->value[i]);
    fprintf(out, "]}");
}

static void json_kvm(FILE *out, const struct bench_row *row)
{
    fprintf(out, "      \"kvm_per_operation\": ");
    if (!row->has_kvm || row->operations <= 0) {
        fprintf(out, "null");
        return;
    }
    fprintf(out, "{");
    for (unsigned i = 0; i < row->kvm.count; i++) {
        fprintf(out, "%s", i ? ", " : "");
        json_string(out, row->kvm.name[i]);
        fprintf(out, ": %.6g", (double)row->kvm.value[i] / row->operations);
    }
    fprintf(out, "}");
}

static void json_row(FILE *out, const struct bench_row *row)
{
    fprintf(out, "    {\n      \"key\": ");
    json_string(out, row->key);
    fprintf(out, ",\n      \"group\": ");
    json_string(out, row->group);
    fprintf(out, ",\n      \"label\": ");
    json_string(out, row->label);
    fprintf(out, ",\n      \"unit\": ");
    json_string(out, row->unit);
    fprintf(out, ",\n      \"native_label\": ");
    if (row->has_native)
        json_string(out, row->native_label);
    else
        fprintf(out, "null");
    fprintf(out, ",\n");
    json_series(out, "native", &row->native);
    fprintf(out, ",\n");
    json_series(out, "hybridized", &row->hybrid);
    fprintf(out, ",\n");
    json_series(out, "ratio", &row->ratio);
    fprintf(out, ",\n");
    json_series(out, "wall_native_s", &row->wall_native);
    fprintf(out, ",\n");
    json_series(out, "wall_hybridized_s", &row->wall_hybrid);
    fprintf(out, ",\n      \"operations_per_run\": %.6g,\n", row->operations);
    json_kvm(out, row);
    fprintf(out, ",\n      \"error\": ");
    if (row->error[0] != '\0')
        json_string(out, row->error);
    else
        fprintf(out, "null");
    fprintf(out, "\n    }");
}

static void json_header(FILE *out, const struct bench_context *ctx)
{
    const struct vmm_platform *p = &ctx->platform;

    fprintf(out, "{\n  \"schema\": \"hvm-bench/1\",\n");
    fprintf(out, "  \"quick\": %s,\n  \"runs\": %u,\n  \"elapsed_s\": %.1f,\n",
            ctx->quick ? "true" : "false", ctx->runs, ctx->elapsed_s);
    fprintf(out, "  \"spin_ns\": %s,\n", ctx->spin_ns ? ctx->spin_ns : "null");
    fprintf(out, "  \"privilege\": \"%s\",\n", ctx->privilege);
    fprintf(out, "  \"platform\": {\"kind\": ");
    json_string(out, p->kind);
    fprintf(out, ", \"module\": ");
    json_string(out, p->module);
    fprintf(out,
            ", \"nested\": %s, \"ring0_emulated\": %s, "
            "\"ring0_ns_per_iteration\": %.4g, "
            "\"ring3_ns_per_iteration\": %.4g},\n",
            p->nested ? "true" : "false",
            p->ring0_emulated < 0 ? "null"
                                  : (p->ring0_emulated ? "true" : "false"),
            p->ring0_ns_per_iteration, p->ring3_ns_per_iteration);
    fprintf(out, "  \"machine\": {\"cpu_model\": ");
    json_string(out, ctx->machine.cpu_model);
    fprintf(out, ", \"cores\": %u, \"memory_bytes\": %llu, \"kernel\": ",
            ctx->machine.cores, (unsigned long long)ctx->machine.memory_bytes);
    json_string(out, ctx->machine.kernel);
    fprintf(out,
            ", \"load_average_start\": %.2f, "
            "\"load_average_end\": %.2f},\n",
            ctx->machine.load_start, ctx->machine.load_end);
}

static void json_targets(FILE *out, const struct bench_context *ctx)
{
    fprintf(out, "  \"targets\": [\n");
    for (size_t i = 0; i < TARGET_COUNT; i++) {
        double ratio = 0;
        int status = target_status(ctx, &targets[i], &ratio);

        fprintf(out, "    {\"row\": ");
        json_string(out, targets[i].row_key);
        fprintf(out, ", \"description\": ");
        json_string(out, targets[i].description);
        fprintf(out, ", \"limit\": %.4g, \"measured\": ", targets[i].limit);
        if (status < 0)
            fprintf(out, "null, \"met\": null}");
        else
            fprintf(out, "%.6g, \"met\": %s}", ratio,
                    status ? "true" : "false");
        fprintf(out, "%s\n", i + 1 < TARGET_COUNT ? "," : "");
    }
    fprintf(out, "  ]\n}\n");
}

int bench_json_write(const struct bench_context *ctx, const char *path)
{
    FILE *out = fopen(path, "w");
    int first = 1;

    if (out == NULL) {
        vmm_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    json_header(out, ctx);
    fprintf(out, "  \"results\": [\n");
    for (unsigned i = 0; i < ctx->nr_rows; i++) {
        if (!row_shown(ctx, &ctx->rows[i]))
            continue;
        fprintf(out, "%s", first ? "" : ",\n");
        json_row(out, &ctx->rows[i]);
        first = 0;
    }
    fprintf(out, "\n  ],\n");
    json_targets(out, ctx);
    if (fclose(out) != 0) {
        vmm_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
