/* `hvm`: command dispatch and the options shared by every subcommand. */
#include "commands.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "log.h"

static const char usage[] =
    "usage: hvm COMMAND [OPTIONS]\n"
    "\n"
    "Hybrid runtimes on stock KVM: a Linux ROS and the HRT kernel in one VM.\n"
    "\n"
    "commands:\n"
    "  exec [OPTIONS] -- PROGRAM [ARGS]  run PROGRAM hybridized (host ROS)\n"
    "  run [OPTIONS] [-- COMMAND]        boot the hybrid VM with a Linux ROS\n"
    "  hrt-test [OPTIONS]                boot only the HRT and run its "
    "self-tests\n"
    "  bench [OPTIONS]                   measure costs against native runs\n"
    "  info                              describe KVM and this platform\n"
    "\n"
    "options of every command:\n"
    "  -v            print more (repeat for debug lines)\n"
    "  -q            print errors only\n"
    "  --trace FILE  write every debug line, with timestamps, to FILE\n"
    "\n"
    "`hvm COMMAND --help` describes the options of one command.\n";

int hvm_common_option(int opt, const char *arg)
{
    switch (opt) {
    case 'v':
        vmm_log_level++;
        return 1;
    case 'q':
        vmm_log_level = VMM_LOG_ERROR;
        return 1;
    case 'T':
        if (vmm_log_open_trace(arg) < 0) {
            vmm_error("cannot open the trace file %s: %s", arg,
                      strerror(errno));
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int hvm_find_built_file(const char *relative, char *buf, size_t size)
{
    char self[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (length < 0)
        return -1;
    self[length] = '\0';
    slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    if ((size_t)snprintf(buf, size, "%s/%s", self, relative) >= size)
        return -1;
    return access(buf, R_OK) == 0 ? 0 : -1;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"exec", hvm_cmd_exec},         {"run", hvm_cmd_run},
    {"hrt-test", hvm_cmd_hrt_test}, {"bench", hvm_cmd_bench},
    {"info", hvm_cmd_info},
};

/* Takes -v, -q and --trace FILE given before the command. */
static int global_options(int argc, char **argv)
{
    int used = 1;

    while (used < argc) {
        const char *arg = argv[used];

        if (strcmp(arg, "-v") == 0 || strcmp(arg, "-q") == 0) {
            hvm_common_option(arg[1], NULL);
            used++;
        } else if (strcmp(arg, "--trace") == 0 && used + 1 < argc) {
            if (hvm_common_option('T', argv[used + 1]) < 0)
                return -1;
            used += 2;
        } else {
            break;
        }
    }
    return used - 1;
}

int main(int argc, char **argv)
{
    int skipped = global_options(argc, argv);

    if (skipped < 0)
        return 2;
    argc -= skipped;
    argv += skipped;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "hvm: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
