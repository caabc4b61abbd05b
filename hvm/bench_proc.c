/*
 * Runs the benchmark programs of tools/bench natively and under
 * `hvm exec`, captures the number each prints and, for hybridized runs,
 * the KVM counters the program reports about its own VM; also runs
 * `hvm hrt-test --reboot K` for the HRT boot and reboot times.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "vmm.h"

#define OUTPUT_MAX 16384
#define ERROR_TAIL 150

struct run_result {
    int status; /* as waitpid reports it; -1 if not started */
    int timed_out;
    double wall_s;
    char output[OUTPUT_MAX];         /* stdout, NUL-terminated */
    char error_tail[ERROR_TAIL + 1]; /* last line of stderr */
};

/* Keeps the last non-empty line of the stderr capture in memfd. */
static void error_tail_read(int memfd, char *tail)
{
    char buffer[ERROR_TAIL * 4];
    off_t size = lseek(memfd, 0, SEEK_END);
    off_t start =
        size > (off_t)sizeof(buffer) - 1 ? size - (off_t)sizeof(buffer) + 1 : 0;
    ssize_t length = pread(memfd, buffer, sizeof(buffer) - 1, start);
    char *line;

    tail[0] = '\0';
    if (length <= 0)
        return;
    buffer[length] = '\0';
    while (length > 0 && buffer[length - 1] == '\n')
        buffer[--length] = '\0';
    line = strrchr(buffer, '\n');
    line = line != NULL ? line + 1 : buffer;
    strncpy(tail, line, ERROR_TAIL);
    tail[ERROR_TAIL] = '\0';
}

static void child_exec(char *const argv[], int out_fd, int err_fd,
                       const char *spin_ns, int hybrid)
{
    setpgid(0, 0);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    if (hybrid) {
        setenv("BENCH_KVM_STATS", "1", 1);
        if (spin_ns != NULL)
            setenv("MV_SPIN_NS", spin_ns, 1);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Reads the child's stdout until EOF or the deadline. Returns 0 or -1. */
static int output_collect(int fd, char *output, uint64_t deadline_ns)
{
    size_t used = 0;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        uint64_t now = vmm_now_ns();
        ssize_t length;

        if (now >= deadline_ns)
            return -1;
        if (poll(&pfd, 1, (int)((deadline_ns - now) / 1000000 + 1)) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        length = read(fd, output + used, OUTPUT_MAX - 1 - used);
        if (length < 0 && errno == EINTR)
            continue;
        if (length <= 0)
            break;
        used += (size_t)length;
        if (used == OUTPUT_MAX - 1)
            break;
    }
    output[used] = '\0';
    return 0;
}

static void process_run(char *const argv[], const char *spin_ns, int hybrid,
                        unsigned timeout_s, struct run_result *result)
{
    int pipe_fds[2], err_fd = memfd_create("bench-stderr", MFD_CLOEXEC);
    uint64_t start = vmm_now_ns();
    pid_t pid;

    memset(result, 0, sizeof(*result));
    result->status = -1;
    if (err_fd < 0 || pipe2(pipe_fds, O_CLOEXEC) < 0) {
        snprintf(result->error_tail, sizeof(result->error_tail), "pipe: %s",
                 strerror(errno));
        if (err_fd >= 0)
            close(err_fd);
        return;
    }
    pid = fork();
    if (pid == 0)
        child_exec(argv, pipe_fds[1], err_fd, spin_ns, hybrid);
    close(pipe_fds[1]);
    if (pid > 0) {
        if (output_collect(pipe_fds[0], result->output,
                           start + timeout_s * 1000000000ULL) < 0) {
            result->timed_out = 1;
            kill(-pid, SIGKILL);
        }
        while (waitpid(pid, &result->status, 0) < 0 && errno == EINTR)
            ;
        result->wall_s = (double)(vmm_now_ns() - start) / 1e9;
        error_tail_read(err_fd, result->error_tail);
    } else {
        snprintf(result->error_tail, sizeof(result->error_tail), "fork: %s",
                 strerror(errno));
    }
    close(pipe_fds[0]);
    close(err_fd);
}

/*
 * Builds argv, hybridized through `hvm exec --`. Arguments "@NAME" become
 * tools/bench/NAME next to hvm, "%count" the count and "%data" the
 * scratch file. Returns 0, or -1 if a tools/bench file is missing.
 */
static int argv_build(struct bench_context *ctx,
                      const struct bench_program *program, int hybrid,
                      char paths[2][4096], char count[32], char *argv[16])
{
    unsigned n = 0, found = 0;

    if (hybrid) {
        argv[n++] = ctx->self;
        argv[n++] = "exec";
        argv[n++] = "--privilege";
        argv[n++] = (char *)ctx->privilege;
        argv[n++] = "--";
    }
    snprintf(count, 32, "%lu", program->count);
    for (unsigned i = 0; i < 8 && program->argv[i] != NULL; i++) {
        const char *arg = program->argv[i];
        char relative[256];

        if (arg[0] == '@' && found < 2) {
            snprintf(relative, sizeof(relative), "tools/bench/%s", arg + 1);
            if (hvm_find_built_file(relative, paths[found], 4096) < 0)
                return -1;
            argv[n++] = paths[found++];
        } else if (strcmp(arg, "%count") == 0) {
            argv[n++] = count;
        } else if (strcmp(arg, "%data") == 0) {
            argv[n++] = ctx->data_file;
        } else {
            argv[n++] = (char *)arg;
        }
    }
    argv[n] = NULL;
    return 0;
}

/* Returns the first "@NAME" argument, for messages. */
static const char *program_file(const struct bench_program *program)
{
    for (unsigned i = 0; i < 8 && program->argv[i] != NULL; i++)
        if (program->argv[i][0] == '@')
            return program->argv[i] + 1;
    return program->argv[0];
}

/* Parses "kvm NAME VALUE" lines after the first line into row->kvm. */
static void kvm_lines_parse(const char *output, struct bench_row *row)
{
    const char *line = strchr(output, '\n');
    struct bench_kvm_stats stats = {0};

    while (line != NULL && *++line != '\0') {
        char name[BENCH_KVM_NAME_MAX];
        unsigned long long value;

        if (sscanf(line, "kvm %47s %llu", name, &value) == 2 &&
            stats.count < BENCH_KVM_STATS_MAX) {
            snprintf(stats.name[stats.count], BENCH_KVM_NAME_MAX, "%s", name);
            stats.value[stats.count++] = value;
        }
        line = strchr(line, '\n');
    }
    if (stats.count > 0) {
        row->kvm = stats;
        row->has_kvm = 1;
    }
}

/* Runs one side. Returns the printed number, or -1 after recording why. */
static double program_run_once(struct bench_context *ctx, struct bench_row *row,
                               const struct bench_program *program, int hybrid,
                               double *wall_s)
{
    static struct run_result result;
    char paths[2][4096], count[32], *argv[16];
    char *end;
    double value;

    if (argv_build(ctx, program, hybrid, paths, count, argv) < 0) {
        bench_row_error(row,
                        "tools/bench/%s not found next to hvm; build "
                        "it with ninja",
                        program_file(program));
        return -1;
    }
    process_run(argv, ctx->spin_ns, hybrid, ctx->sizes.run_timeout_s, &result);
    *wall_s = result.wall_s;
    value = strtod(result.output, &end);
    if (result.timed_out || !WIFEXITED(result.status) ||
        WEXITSTATUS(result.status) != 0 || end == result.output || value < 0) {
        bench_row_error(row, "%s run %s: %s", hybrid ? "hybridized" : "native",
                        result.timed_out ? "timed out" : "failed",
                        result.error_tail[0] ? result.error_tail : "no output");
        return -1;
    }
    if (hybrid)
        kvm_lines_parse(result.output, row);
    return value;
}

void bench_program_pair(struct bench_context *ctx, struct bench_row *row,
                        const struct bench_program *program, int hybrid_first)
{
    double value[2], wall[2] = {0, 0};

    for (int i = 0; i < 2; i++) {
        int hybrid = hybrid_first ? i == 0 : i == 1;

        value[hybrid] =
            program_run_once(ctx, row, program, hybrid, &wall[hybrid]);
    }
    row->operations = program->operations;
    if (value[0] >= 0)
        bench_series_add(&row->native, value[0]);
    if (value[1] >= 0)
        bench_series_add(&row->hybrid, value[1]);
    if (value[0] > 0 && value[1] >= 0)
        bench_series_add(&row->ratio, value[1] / value[0]);
    if (value[0] >= 0)
        bench_series_add(&row->wall_native, wall[0]);
    if (value[1] >= 0)
        bench_series_add(&row->wall_hybrid, wall[1]);
}

/* Parses hrt-test's "boot time" and "reboot N time" lines (ms). */
static void hrt_output_parse(const char *output, struct bench_row *boot,
                             struct bench_row *reboot, unsigned *reboots)
{
    const char *line = output;

    *reboots = 0;
    while (line != NULL && *line != '\0') {
        unsigned number;
        double ms;

        if (sscanf(line, "boot time: VMM start -> boot-complete %lf ms", &ms) ==
            1)
            bench_series_add(&boot->hybrid, ms);
        else if (sscanf(line,
                        "reboot %u time: request -> boot-complete "
                        "%lf ms",
                        &number, &ms) == 2) {
            bench_series_add(&reboot->hybrid, ms);
            (*reboots)++;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
}

void bench_hrt_boot(struct bench_context *ctx, struct bench_row *boot,
                    struct bench_row *reboot)
{
    static struct run_result result;
    char reboots[16], timeout[16];
    char *argv[] = {ctx->self,   "hrt-test", "--reboot", reboots,
                    "--timeout", timeout,    NULL};
    unsigned boots_before = boot->hybrid.count, seen;
    /* After a failed reboot, later runs measure the first boot only. */
    unsigned requested = reboot->error[0] == '\0' ? ctx->sizes.reboots : 0;

    snprintf(reboots, sizeof(reboots), "%u", requested);
    snprintf(timeout, sizeof(timeout), "%u", ctx->sizes.hrt_timeout_s);
    process_run(argv, NULL, 0, ctx->sizes.run_timeout_s, &result);
    hrt_output_parse(result.output, boot, reboot, &seen);
    if (boot->hybrid.count == boots_before)
        bench_row_error(boot, "hvm hrt-test printed no boot time: %s",
                        result.error_tail[0] ? result.error_tail : "no output");
    if (seen < requested)
        bench_row_error(reboot,
                        "hvm hrt-test --reboot %u completed %u "
                        "reboots: %s",
                        requested, seen,
                        result.error_tail[0] ? result.error_tail : "no output");
}
