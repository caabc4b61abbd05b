/*
 * `hvm bench --plot DIR`: PNG plots drawn by gnuplot (a separate program,
 * Debian package gnuplot-nox): the ratios with their run-to-run spread,
 * the per-operation latencies and the whole-program times.
 */
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"

/* Whether an executable named gnuplot is on PATH. */
static int gnuplot_found(void)
{
    const char *path = getenv("PATH");
    char candidate[PATH_MAX];

    while (path != NULL && *path != '\0') {
        size_t length = strcspn(path, ":");

        snprintf(candidate, sizeof(candidate), "%.*s/gnuplot", (int)length,
                 path);
        if (length > 0 && access(candidate, X_OK) == 0)
            return 1;
        path += length + (path[length] == ':');
    }
    return 0;
}

static void plot_common(FILE *gp, const char *dir, const char *file,
                        const char *title, const char *ylabel)
{
    fprintf(gp, "set terminal pngcairo size 1100,620 font 'sans,10'\n");
    fprintf(gp, "set output '%s/%s'\n", dir, file);
    fprintf(gp, "set title '%s' noenhanced\n", title);
    fprintf(gp, "set ylabel '%s' noenhanced\n", ylabel);
    fprintf(gp, "set logscale y\nset grid ytics\n");
    fprintf(gp, "set style data histograms\n");
    fprintf(gp, "set style histogram errorbars gap 1 lw 1\n");
    fprintf(gp, "set style fill solid 0.7 border -1\n");
    fprintf(gp, "set xtics rotate by -35 left noenhanced\n");
    fprintf(gp, "set bmargin 10\nset rmargin 12\nset key top left\n");
}

/* Writes "label median min max" for a series, if it has values. */
static int data_line(FILE *gp, const char *label,
                     const struct bench_series *series)
{
    struct bench_stat stat;

    if (bench_series_stat(series, &stat) < 0 || stat.min <= 0)
        return 0;
    fprintf(gp, "\"%s\" %g %g %g", label, stat.median, stat.min, stat.max);
    return 1;
}

static void ratios_plot(FILE *gp, const struct bench_context *ctx,
                        const char *dir)
{
    plot_common(gp, dir, "bench-ratios.png",
                "hybridized / native: median, bars from min to max",
                "ratio (log scale)");
    fprintf(gp, "$ratios << EOD\n");
    for (unsigned i = 0; i < ctx->nr_rows; i++) {
        const struct bench_row *row = &ctx->rows[i];

        if (bench_group_selected(ctx, row->group) &&
            data_line(gp, row->key, &row->ratio))
            fprintf(gp, "\n");
    }
    fprintf(gp, "EOD\n");
    fprintf(gp, "set arrow 1 from graph 0, first 1 to graph 1, first 1 "
                "nohead dt 2 lc 'black'\n");
    fprintf(gp, "plot $ratios using 2:3:4:xtic(1) title 'hybridized / "
                "native (dashed: 1)'\n");
    fprintf(gp, "unset arrow 1\n");
}

/* Native and hybridized medians of the rows whose unit matches. */
static void pairs_plot(FILE *gp, const struct bench_context *ctx,
                       const char *dir, const char *file, const char *unit,
                       const char *title, const char *ylabel)
{
    plot_common(gp, dir, file, title, ylabel);
    fprintf(gp, "$pairs << EOD\n");
    for (unsigned i = 0; i < ctx->nr_rows; i++) {
        const struct bench_row *row = &ctx->rows[i];
        struct bench_stat n, h;

        if (!bench_group_selected(ctx, row->group) || !row->has_native ||
            strcmp(row->unit, unit) != 0 ||
            bench_series_stat(&row->native, &n) < 0 ||
            bench_series_stat(&row->hybrid, &h) < 0 || n.min <= 0)
            continue;
        fprintf(gp, "\"%s\" %g %g %g %g %g %g\n", row->key, n.median, n.min,
                n.max, h.median, h.min, h.max);
    }
    fprintf(gp, "EOD\n");
    fprintf(gp, "plot $pairs using 2:3:4:xtic(1) title 'native', "
                "'' using 5:6:7 title 'hybridized'\n");
}

int bench_plots_write(const struct bench_context *ctx, const char *dir)
{
    FILE *gp;
    int status;

    if (!gnuplot_found()) {
        fprintf(stderr,
                "hvm bench: gnuplot is not installed (not found on "
                "PATH), so no plots were written to %s; install "
                "it (Debian: apt-get install gnuplot-nox)\n",
                dir);
        return 0;
    }
    if (strchr(dir, '\'') != NULL || strchr(dir, '\n') != NULL) {
        vmm_error("--plot %s: the folder name must not contain a quote or "
                  "a newline (gnuplot reads it quoted)",
                  dir);
        return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        vmm_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    gp = popen("gnuplot", "w");
    if (gp == NULL) {
        vmm_error_errno("popen gnuplot");
        return -1;
    }
    ratios_plot(gp, ctx, dir);
    pairs_plot(gp, ctx, dir, "bench-latency.png", "ns",
               "per-operation cost: median, bars from min to max", "ns");
    pairs_plot(gp, ctx, dir, "bench-programs.png", "s",
               "whole programs, timed phase: median, bars from min to max",
               "seconds");
    status = pclose(gp);
    if (status != 0) {
        vmm_error("gnuplot failed (status %d); the plots in %s may be "
                  "incomplete",
                  status, dir);
        return -1;
    }
    printf("plots: %s/bench-ratios.png, bench-latency.png, "
           "bench-programs.png\n",
           dir);
    return 0;
}
