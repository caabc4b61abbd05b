/*
 * `hvm exec`: runs an unmodified, dynamically linked program hybridized,
 * with the host kernel as the ROS. The program starts with libmultiverse
 * preloaded. This process waits for it, forwards the signals that other
 * processes send, prints the statistics and exits with the program's
 * status as a shell reports it.
 */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform.h"
#include "vmm.h"

#define ELF_HEADER_SIZE 64
#define PT_INTERP 3

struct exec_options {
    unsigned hrt_cpus;
    const char *privilege;
    int stats;
    const char *hrt_image;
};

static pid_t child_pid;

/*
 * Passes a signal sent to hvm by another process on to the program. A
 * signal from the terminal (Ctrl-C) already reached the whole foreground
 * process group, the program included, so it is not sent twice.
 */
static void forward_signal(int signo, siginfo_t *info, void *context)
{
    (void)context;
    if (child_pid > 0 && info->si_code <= 0)
        kill(child_pid, signo);
}

static void forward_signals_install(void)
{
    struct sigaction action = {.sa_sigaction = forward_signal,
                               .sa_flags = SA_SIGINFO | SA_RESTART};

    sigemptyset(&action.sa_mask);
    /* Every signal that would end or stop hvm, so that none orphans the
     * program. SIGKILL cannot be caught, so the child requests SIGKILL
     * for itself when hvm dies (PR_SET_PDEATHSIG). */
    for (int signo = 1; signo < NSIG; signo++) {
        if (signo == SIGKILL || signo == SIGSTOP || signo == SIGCHLD ||
            signo == SIGCONT || signo == SIGWINCH || signo == SIGURG ||
            signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU ||
            (signo >= 32 && signo < SIGRTMIN))
            continue;
        sigaction(signo, &action, NULL);
    }
}

/* Looks PROGRAM up as execvp would. Returns 0, 127 or 126. */
static int program_resolve(const char *program, char *path, size_t size)
{
    const char *search = getenv("PATH");
    char candidate[PATH_MAX];

    if (strchr(program, '/') != NULL || search == NULL) {
        snprintf(path, size, "%s", program);
        return access(path, F_OK) == 0 ? 0 : 127;
    }
    while (*search != '\0') {
        size_t length = strcspn(search, ":");

        snprintf(candidate, sizeof(candidate), "%.*s/%s",
                 length ? (int)length : 1, length ? search : ".", program);
        if (access(candidate, X_OK) == 0) {
            snprintf(path, size, "%s", candidate);
            return 0;
        }
        search += length + (search[length] == ':');
    }
    return 127;
}

/*
 * Rejects what LD_PRELOAD cannot hybridize: a statically linked ELF has no
 * dynamic loader to load libmultiverse. Returns 0 if it looks dynamic or
 * is not ELF (a script: its interpreter is dynamic), -1 for a static ELF
 * and -2 for an ELF that is not x86-64.
 */
static int program_check_dynamic(const char *path)
{
    unsigned char header[ELF_HEADER_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int dynamic = 0;

    if (fd < 0)
        return 0;
    if (read(fd, header, sizeof(header)) != (ssize_t)sizeof(header) ||
        memcmp(header, "\177ELF", 4) != 0) {
        close(fd);
        return 0;
    }
    if (header[4] != 2 || header[18] != 62) { /* ELFCLASS64, EM_X86_64 */
        close(fd);
        return -2;
    }
    uint64_t phoff;
    uint16_t phentsize, phnum;

    memcpy(&phoff, header + 32, 8);
    memcpy(&phentsize, header + 54, 2);
    memcpy(&phnum, header + 56, 2);
    for (uint16_t i = 0; i < phnum && phentsize >= 4; i++) {
        uint32_t type;

        if (pread(fd, &type, 4, (off_t)(phoff + (uint64_t)i * phentsize)) != 4)
            break;
        dynamic |= type == PT_INTERP;
    }
    close(fd);
    return dynamic ? 0 : -1;
}

static const char *privilege_resolve(const char *requested)
{
    struct vmm_platform platform;

    if (strcmp(requested, "auto") != 0)
        return requested;
    if (vmm_platform_probe(&platform) < 0) {
        vmm_warn("platform probe failed; using user privilege");
        return "user";
    }
    vmm_info("privilege auto: %s, because guest ring 0 is %s here "
             "(%.1f ns vs %.2f ns per loop iteration in ring 3)",
             platform.ring0_emulated ? "user" : "kernel",
             platform.ring0_emulated ? "interpreted" : "native",
             platform.ring0_ns_per_iteration, platform.ring3_ns_per_iteration);
    return platform.ring0_emulated ? "user" : "kernel";
}

static int environment_prepare(const struct exec_options *options, int stats_fd)
{
    char library[PATH_MAX], image[PATH_MAX], number[32];
    const char *preload = getenv("LD_PRELOAD");

    if (hvm_find_built_file("guest-linux-shim/libmultiverse.so", library,
                            sizeof(library)) < 0) {
        vmm_error("libmultiverse.so not found next to hvm (%s); "
                  "rebuild with ninja -C build",
                  library);
        return -1;
    }
    if (options->hrt_image != NULL)
        snprintf(image, sizeof(image), "%s", options->hrt_image);
    else if (hvm_find_built_file("guest-kernel/hrt.elf", image, sizeof(image)) <
             0) {
        vmm_error("HRT image not found (%s); rebuild or use --hrt-image",
                  image);
        return -1;
    }
    /* The user's own preloads still load, after the runtime. */
    if (preload != NULL && preload[0] != '\0') {
        char combined[2 * PATH_MAX];

        setenv("MV_SAVED_LD_PRELOAD", preload, 1);
        snprintf(combined, sizeof(combined), "%s:%s", library, preload);
        setenv("LD_PRELOAD", combined, 1);
    } else {
        setenv("LD_PRELOAD", library, 1);
    }
    setenv("MV_HRT_IMAGE", image, 1);
    snprintf(number, sizeof(number), "%u", options->hrt_cpus);
    setenv("MV_HRT_CPUS", number, 1);
    setenv("MV_PRIVILEGE", privilege_resolve(options->privilege), 1);
    snprintf(number, sizeof(number), "%d", vmm_log_level);
    setenv("MV_VERBOSE", number, 1);
    if (stats_fd >= 0) {
        snprintf(number, sizeof(number), "%d", stats_fd);
        setenv("MV_STATS_FD", number, 1);
    }
    return 0;
}

static void stats_print(int fd)
{
    char buffer[4096];
    ssize_t length;
    int any = 0;

    fcntl(fd, F_SETFL, O_NONBLOCK);
    while ((length = read(fd, buffer, sizeof(buffer))) > 0) {
        fwrite(buffer, 1, (size_t)length, stderr);
        any = 1;
    }
    if (!any)
        fprintf(stderr, "hvm: stats: none (the program did not reach "
                        "exit_group in the HRT)\n");
}

static int wait_child(void)
{
    int status;

    while (waitpid(child_pid, &status, 0) < 0) {
        if (errno != EINTR) {
            vmm_error_errno("waitpid");
            return 1;
        }
    }
    if (WIFSIGNALED(status)) {
        vmm_info("program killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

static int exec_run(const struct exec_options *options, char **argv)
{
    char path[PATH_MAX];
    int pipe_fds[2] = {-1, -1};
    int status;

    status = argv[0][0] == '\0' ? 127
                                : program_resolve(argv[0], path, sizeof(path));
    if (status != 0) {
        fprintf(stderr, "hvm: %s: command not found\n", argv[0]);
        return status;
    }
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "hvm: %s: %s\n", path, strerror(errno));
        return 126;
    }
    struct stat info;

    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        fprintf(stderr, "hvm: %s: Is a directory\n", path);
        return 126;
    }
    status = program_check_dynamic(path);
    if (status == -2) {
        fprintf(stderr,
                "hvm: %s is not a 64-bit x86 program; the HRT runs x86-64 "
                "code only\n",
                path);
        return 126;
    }
    if (status < 0) {
        fprintf(stderr,
                "hvm: %s is statically linked; hvm exec hybridizes "
                "programs through the dynamic loader, so it needs a "
                "dynamically linked program\n",
                path);
        return 126;
    }
    if (options->stats && pipe(pipe_fds) < 0) {
        vmm_error_errno("pipe");
        return 1;
    }
    if (environment_prepare(options, pipe_fds[1]) < 0)
        return 1;
    forward_signals_install();
    child_pid = fork();
    if (child_pid < 0) {
        vmm_error_errno("fork");
        return 1;
    }
    if (child_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1); /* hvm died before prctl took effect */
        if (pipe_fds[0] >= 0)
            close(pipe_fds[0]);
        execv(path, argv);
        fprintf(stderr, "hvm: %s: %s\n", path, strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    if (pipe_fds[1] >= 0)
        close(pipe_fds[1]);
    status = wait_child();
    if (options->stats)
        stats_print(pipe_fds[0]);
    return status;
}

static void exec_usage(FILE *out)
{
    fprintf(out, "usage: hvm exec [OPTIONS] -- PROGRAM [ARGS]\n"
                 "Runs PROGRAM with its threads in the HRT; Linux (this host) "
                 "serves its\nsystem calls. Exits with PROGRAM's status, or "
                 "128+N if signal N killed it.\n\n"
                 "  --hrt-cpus N      HRT vCPUs booted up front (default 1; "
                 "each further\n"
                 "                    thread gets its own vCPU)\n"
                 "  --privilege RING  user (ring 3), kernel (ring 0) or auto "
                 "(default:\n"
                 "                    ring 0 only where it runs natively)\n"
                 "  --stats           print forwarded calls, faults and times "
                 "at exit\n"
                 "  --hrt-image FILE  HRT kernel image (default: the built "
                 "one)\n"
                 "  -v, -q, --trace FILE   as for every command\n");
}

int hvm_cmd_exec(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"hrt-cpus", required_argument, NULL, 'c'},
        {"privilege", required_argument, NULL, 'p'},
        {"stats", no_argument, NULL, 's'},
        {"hrt-image", required_argument, NULL, 'i'},
        {"trace", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct exec_options options = {.hrt_cpus = 1, .privilege = "auto"};
    int opt;

    while ((opt = getopt_long(argc, argv, "+vqh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            options.hrt_cpus = (unsigned)strtoul(optarg, NULL, 10);
            if (options.hrt_cpus < 1 || options.hrt_cpus > 64) {
                fprintf(stderr,
                        "hvm exec: --hrt-cpus must be 1-64, got "
                        "'%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'p':
            if (strcmp(optarg, "user") && strcmp(optarg, "kernel") &&
                strcmp(optarg, "auto")) {
                fprintf(stderr,
                        "hvm exec: --privilege must be user, "
                        "kernel or auto, got '%s'\n",
                        optarg);
                return 2;
            }
            options.privilege = optarg;
            break;
        case 's':
            options.stats = 1;
            break;
        case 'i':
            options.hrt_image = optarg;
            break;
        case 'h':
            exec_usage(stdout);
            return 0;
        default:
            if (hvm_common_option(opt, optarg) <= 0) {
                exec_usage(stderr);
                return 2;
            }
        }
    }
    if (optind >= argc) {
        exec_usage(stderr);
        return 2;
    }
    return exec_run(&options, argv + optind);
}
