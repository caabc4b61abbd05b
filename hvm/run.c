/*
 * `hvm run`: boots the hybrid VM with a Linux guest as the ROS. Linux and
 * the project's initramfs run on the ROS vCPUs. Their e820 map lists only
 * ROS memory and their ACPI and MP tables only ROS processors, while the
 * HRT kernel boots beside them on the remaining vCPUs and memory.
 *
 * With a COMMAND, the guest's /init runs it and reports its exit status,
 * which becomes hvm's; its stdout arrives on hvm's stdout and its stderr
 * (with kernel console messages) on hvm's stderr. Without one, the guest
 * shell is connected to the terminal.
 */
#include "commands.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hrt_boot.h"
#include "partition.h"
#include "platform.h"
#include "ros_boot.h"
#include "ros_console.h"
#include "ros_devices.h"
#include "ros_kernel.h"
#include "ros_hybrid.h"
#include "vmm.h"

#define MIB (1ULL << 20)
/* hvm's own failures, as `docker run` numbers them; 124 as timeout(1). */
#define RUN_EXIT_FAILURE 125
#define RUN_EXIT_TIMEOUT 124
#define RUN_EXIT_INTERRUPTED 130
#define RUN_DEFAULT_TIMEOUT 600 /* seconds, with a COMMAND */

/*
 * Kernel parameters for hosts where KVM interprets guest ring 0. They
 * disable what Linux would use and the emulator cannot run: XSAVE, SMAP's
 * stac/clac, FSGSBASE, rdtscp, rdpid, popcnt, invpcid, SSE4 and newer
 * extensions, cmpxchg16b. Clearing erms and fsrm keeps Linux from
 * choosing `rep movsb`, which the emulator runs 8 times slower. rodata=off
 * skips remapping the kernel's read-only data, about 5 s of interpreted
 * page-table work per boot.
 */
static const char ros_cmdline_emulated[] =
    " rodata=off tsc=reliable noxsave nosmap nofsgsbase"
    " clearcpuid=cx16,xsave,smap,rdtscp,rdpid,popcnt,invpcid,pku,ssse3,"
    "sse4_1,sse4_2,aes,pclmulqdq,sha_ni,fsgsbase,movbe,erms,fsrm";

static const char usage[] =
    "usage: hvm run [OPTIONS] [-- COMMAND [ARGS]]\n"
    "Boots Linux with the project's initramfs on the ROS vCPUs and the HRT\n"
    "on the others. COMMAND runs in the guest with an empty stdin, and its\n"
    "exit status becomes hvm's; without it the guest shell is connected to\n"
    "the terminal (Ctrl-] stops the VM).\n"
    "\n"
    "  --ros-cpus N      ROS vCPUs (default 1)\n"
    "  --ros-mem SIZE    ROS memory, e.g. 256M (default 128M for the\n"
    "                    minimal kernel, 512M for a bzImage)\n"
    "  --hrt-cpus N      HRT vCPUs (default 1)\n"
    "  --hrt-mem SIZE    HRT memory (default 64M)\n"
    "  --hrt-image FILE  HRT kernel ELF (default: guest-kernel/hrt.elf)\n"
    "  --kernel FILE     ROS kernel, a bzImage or a vmlinux ELF (default:\n"
    "                    the cached kernel for this host, see hvm info)\n"
    "  --initrd FILE     uncompressed initramfs (default: the one built\n"
    "                    next to hvm)\n"
    "  --append ARGS     extra kernel command-line parameters\n"
    "  --hybrid          run COMMAND hybridized: its threads in the HRT,\n"
    "                    its system calls served by Linux (guest mvrun)\n"
    "  --timeout SEC     stop the VM after SEC seconds, 0 for never\n"
    "                    (default 600 with a COMMAND, else 0)\n"
    "  -v, -q, --trace FILE  more output (-v also shows the kernel's boot\n"
    "                    messages), errors only, debug trace\n"
    "\n"
    "Exit status: the command's; 124 on timeout; 125 when the VM fails\n"
    "(kernel panic, reboot, emulation failure); 130 after Ctrl-].\n";

struct run_options {
    unsigned ros_cpus, hrt_cpus;
    uint64_t ros_mem, hrt_mem;
    const char *kernel_path, *initrd_path, *hrt_image_path, *append;
    long timeout_s; /* -1 until set */
    int hybrid;     /* prefix the command with the guest's mvrun */
    int argc;       /* the guest command, 0 for a shell */
    char **argv;
};

static int parse_count(const char *name, const char *text, unsigned min,
                       unsigned max, unsigned *value)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);

    if (*text == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "hvm run: invalid %s '%s': give %u to %u\n", name,
                text, min, max);
        return -1;
    }
    *value = (unsigned)v;
    return 0;
}

static int parse_size(const char *name, const char *text, uint64_t *value)
{
    if (vmm_parse_size(text, value) < 0) {
        fprintf(stderr, "hvm run: invalid %s '%s': give a size such as "
                        "256M or 1G\n", name, text);
        return -1;
    }
    return 0;
}

static int parse_timeout(const char *text, long *value)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*text == '\0' || *end != '\0' || v < 0 || v > 86400) {
        fprintf(stderr, "hvm run: invalid --timeout '%s': give 0 to 86400 "
                        "seconds\n", text);
        return -1;
    }
    *value = v;
    return 0;
}

static int option_apply(struct run_options *opts, int opt, const char *arg)
{
    switch (opt) {
    case 'c': return parse_count("--ros-cpus", arg, 1, VMM_MAX_VCPUS,
                                 &opts->ros_cpus);
    case 'C': return parse_count("--hrt-cpus", arg, 1, HVM_MAX_HRT_CPUS,
                                 &opts->hrt_cpus);
    case 'm': return parse_size("--ros-mem", arg, &opts->ros_mem);
    case 'M': return parse_size("--hrt-mem", arg, &opts->hrt_mem);
    case 'k': opts->kernel_path = arg; return 0;
    case 'i': opts->initrd_path = arg; return 0;
    case 'I': opts->hrt_image_path = arg; return 0;
    case 'a': opts->append = arg; return 0;
    case 'H': opts->hybrid = 1; return 0;
    case 't': return parse_timeout(arg, &opts->timeout_s);
    case 'h': fputs(usage, stdout); exit(0);
    default: fputs(usage, stderr); return -1;
    }
}

static int options_parse(int argc, char **argv, struct run_options *opts)
{
    static const struct option long_options[] = {
        {"ros-cpus", required_argument, NULL, 'c'},
        {"hrt-cpus", required_argument, NULL, 'C'},
        {"ros-mem", required_argument, NULL, 'm'},
        {"hrt-mem", required_argument, NULL, 'M'},
        {"kernel", required_argument, NULL, 'k'},
        {"initrd", required_argument, NULL, 'i'},
        {"hrt-image", required_argument, NULL, 'I'},
        {"append", required_argument, NULL, 'a'},
        {"hybrid", no_argument, NULL, 'H'},
        {"timeout", required_argument, NULL, 't'},
        {"trace", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *opts = (struct run_options){.ros_cpus = 1, .hrt_cpus = 1,
                                 .hrt_mem = 64 * MIB, .timeout_s = -1};
    while ((opt = getopt_long(argc, argv, "+vqh", long_options, NULL)) !=
           -1) {
        int common = hvm_common_option(opt, optarg);

        if (common < 0 || (common == 0 && option_apply(opts, opt, optarg) < 0))
            return -1;
    }
    /* --hybrid: the guest launcher takes the slot before the command,
     * which held "--" or an option getopt has consumed. */
    if (opts->hybrid && optind < argc)
        argv[--optind] = (char *)HVM_ROS_HYBRID_LAUNCHER;
    opts->argc = argc - optind;
    opts->argv = argv + optind;
    if (opts->hybrid && (opts->argc == 0 || opts->hrt_cpus == 0)) {
        fprintf(stderr, "hvm run: --hybrid needs a COMMAND and at least one "
                        "HRT CPU\n");
        return -1;
    }
    if (opts->timeout_s < 0)
        opts->timeout_s = opts->argc > 0 ? RUN_DEFAULT_TIMEOUT : 0;
    return 0;
}

/* Everything one run owns, so that cleanup is one function. */
struct run_state {
    struct run_options opts;
    struct vmm_platform platform;
    struct hvm_ros_kernel kernel;
    struct vmm_partition plan;
    void *kernel_image, *initrd, *hrt_image;
    size_t kernel_size, initrd_size, hrt_image_size;
    char cmdline[2048];
    struct vmm_vm *vm;
    struct hvm_ros_events events;
    struct hvm_ros_console console;
    int console_started;
    struct hrt_boot hrt;
    int hrt_initialized;
    struct hvm_ros_hybrid *hybrid;
    int timed_out;
    pthread_mutex_t watchdog_lock;
    pthread_cond_t watchdog_cond;
    int watchdog_done;
};

static void *file_read_or_log(const char *what, const char *path,
                              size_t *size)
{
    char err[512];
    void *data = vmm_file_read(path, size, err, sizeof(err));

    if (data == NULL)
        vmm_error("reading the %s failed: %s", what, err);
    else
        vmm_debug("%s %s, %zu bytes", what, path, *size);
    return data;
}

/* Finds a file built next to hvm under one of the given names. */
static const char *built_file_find(const char *const *candidates,
                                   size_t count, char *buf, size_t size)
{
    for (size_t i = 0; i < count; i++)
        if (hvm_find_built_file(candidates[i], buf, size) == 0)
            return buf;
    return NULL;
}

static int kernel_choose(struct run_state *s)
{
    char err[512];
    int emulated = strcmp(s->platform.module, "kvm_pvm") == 0 ||
                   (strcmp(s->platform.kind, "VMX") != 0 &&
                    strcmp(s->platform.kind, "SVM") != 0);

    if (s->opts.kernel_path != NULL) {
        if (hvm_ros_kernel_describe(s->opts.kernel_path, &s->kernel, err,
                                    sizeof(err)) < 0) {
            vmm_error("invalid ROS kernel %s: %s", s->opts.kernel_path, err);
            return -1;
        }
        s->kernel.source = "--kernel";
    } else if (hvm_ros_kernel_find(emulated, &s->kernel, err,
                                   sizeof(err)) < 0) {
        vmm_error("%s", err);
        return -1;
    }
    vmm_info("ROS kernel: %s %s (%s)", s->kernel.path, s->kernel.version,
             s->kernel.source);
    if (s->opts.ros_mem == 0)
        s->opts.ros_mem = s->kernel.format == HVM_ROS_KERNEL_ELF ? 128 * MIB
                                                                 : 512 * MIB;
    return 0;
}

static int files_read(struct run_state *s)
{
    static const char *const initrds[] = {
        "tools/initramfs/ros-initramfs.cpio",
        "../libexec/hvm/ros-initramfs.cpio"};
    static const char *const hrts[] = {
        "guest-kernel/hrt.elf", "../guest-kernel/hrt.elf",
        "../libexec/hvm/hrt.elf"};
    char initrd[PATH_MAX], hrt[PATH_MAX];
    const char *initrd_path = s->opts.initrd_path;
    const char *hrt_path = s->opts.hrt_image_path;

    if (initrd_path == NULL)
        initrd_path = built_file_find(initrds, 2, initrd, sizeof(initrd));
    if (initrd_path == NULL) {
        vmm_error("the ROS initramfs was not found next to hvm "
                  "(tools/initramfs/ros-initramfs.cpio): build it (it needs "
                  "busybox-static) "
                  "or pass --initrd FILE");
        return -1;
    }
    if (s->plan.hrt_cpus > 0 && hrt_path == NULL)
        hrt_path = built_file_find(hrts, 3, hrt, sizeof(hrt));
    if (s->plan.hrt_cpus > 0 && hrt_path == NULL) {
        vmm_error("the HRT image was not found next to hvm "
                  "(guest-kernel/hrt.elf): build it or pass --hrt-image");
        return -1;
    }
    s->kernel_image = file_read_or_log("ROS kernel", s->kernel.path,
                                       &s->kernel_size);
    s->initrd = file_read_or_log("ROS initramfs", initrd_path,
                                 &s->initrd_size);
    if (s->plan.hrt_cpus > 0)
        s->hrt_image = file_read_or_log("HRT image", hrt_path,
                                        &s->hrt_image_size);
    if (s->kernel_image == NULL || s->initrd == NULL ||
        (s->plan.hrt_cpus > 0 && s->hrt_image == NULL))
        return -1;
    return 0;
}

static int plan_make(struct run_state *s)
{
    struct vmm_partition_request request = {
        .ros_cpus = s->opts.ros_cpus,
        .hrt_cpus = s->opts.hrt_cpus,
        .ros_mem = s->opts.ros_mem,
        .hrt_mem = s->opts.hrt_mem,
        .max_vcpus = VMM_MAX_VCPUS,
        .host_mem = (uint64_t)sysconf(_SC_PHYS_PAGES) *
                    (uint64_t)sysconf(_SC_PAGESIZE),
    };
    char err[256];
    int kvm = vmm_kvm_open();
    int max;

    if (kvm < 0)
        return -1;
    max = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    close(kvm);
    if (max > 0 && (unsigned)max < request.max_vcpus)
        request.max_vcpus = (unsigned)max;
    if (vmm_partition_plan(&request, &s->plan, err, sizeof(err)) < 0) {
        vmm_error("invalid partition: %s", err);
        return -1;
    }
    return 0;
}

static int cmdline_make(struct run_state *s)
{
    int emulated = s->kernel.format == HVM_ROS_KERNEL_ELF ||
                   strcmp(s->platform.module, "kvm_pvm") == 0;
    char tsc[48] = "";
    int n;

    /*
     * Linux cannot calibrate the TSC against the PIT here because the
     * speaker port that gates PIT channel 2 is a dummy, so the command
     * line gives it the host's TSC rate.
     */
    if (vmm_tsc_khz() != 0)
        snprintf(tsc, sizeof(tsc), " tsc_early_khz=%llu",
                 (unsigned long long)vmm_tsc_khz());
    n = snprintf(
        s->cmdline, sizeof(s->cmdline),
        "console=ttyS0 reboot=k panic=-1 io_delay=none%s%s%s%s%s%s",
        tsc, vmm_log_level >= VMM_LOG_INFO ? "" : " quiet loglevel=1",
        /* Broadcast IPIs would also reach the HRT's vCPUs. */
        s->plan.hrt_cpus > 0 ? " no_ipi_broadcast=1" : "",
        emulated ? ros_cmdline_emulated : "", s->opts.append ? " " : "",
        s->opts.append ? s->opts.append : "");

    if (n < 0 || (size_t)n >= sizeof(s->cmdline)) {
        vmm_error("the kernel command line is longer than %zu bytes",
                  sizeof(s->cmdline) - 1);
        return -1;
    }
    vmm_debug("kernel command line: %s", s->cmdline);
    return 0;
}

static int64_t hrt_console_write(struct vmm_vcpu *vcpu,
                                 const struct vmm_hypercall *call, void *ctx)
{
    const char *text;
    int length;

    (void)ctx;
    if (call->args[1] > HVM_CONSOLE_WRITE_MAX)
        return HVM_ERR_INVAL;
    text = vmm_gpa_to_hva(vcpu->vm, call->args[0], call->args[1]);
    if (text == NULL)
        return HVM_ERR_FAULT;
    length = (int)call->args[1];
    while (length > 0 && text[length - 1] == '\n')
        length--;
    vmm_info("hrt: %.*s", length, text);
    return HVM_OK;
}

static int64_t hrt_panic(struct vmm_vcpu *vcpu,
                         const struct vmm_hypercall *call, void *ctx)
{
    const struct hvm_panic_report *report;
    char message[sizeof(report->message)];

    (void)ctx;
    report = vmm_gpa_to_hva(vcpu->vm, call->args[0], sizeof(*report));
    if (report == NULL)
        return HVM_ERR_FAULT;
    vmm_guest_string(message, report->message, sizeof(message));
    vmm_error("HRT panic on vCPU %u: %s (vector %u, RIP 0x%llx); the ROS "
              "keeps running", vcpu->index, message, report->vector,
              (unsigned long long)report->rip);
    return HVM_OK;
}

static int64_t hrt_exit(struct vmm_vcpu *vcpu,
                        const struct vmm_hypercall *call, void *ctx)
{
    (void)ctx;
    vmm_warn("the HRT on vCPU %u exited with status %llu; the ROS keeps "
             "running", vcpu->index, (unsigned long long)call->args[0]);
    return HVM_OK;
}

static int hrt_start(struct run_state *s, uint64_t start_ns)
{
    struct hrt_boot_config config = {
        .vm = s->vm,
        .hrt_gpa = s->plan.hrt_range.gpa,
        .hrt_size = s->plan.hrt_range.size,
        .hrt_hva = vmm_gpa_to_hva(s->vm, s->plan.hrt_range.gpa,
                                  s->plan.hrt_range.size),
        .nr_cpus = s->plan.hrt_cpus,
        .flags = HVM_BOOT_GUEST_ROS,
        .user_region = 1,
        .image = s->hrt_image,
        .image_size = s->hrt_image_size,
        .vmm_start_ns = start_ns,
    };
    char err[512];

    if (s->plan.hrt_cpus == 0)
        return 0;
    for (unsigned i = 0; i < s->plan.hrt_cpus; i++) {
        struct vmm_vcpu *vcpu = vmm_vcpu_create(s->vm,
                                                s->plan.first_hrt_cpu + i);

        if (vcpu == NULL || vmm_x86_set_cpuid(vcpu, 1) < 0)
            return -1;
        config.vcpu_index[i] = vcpu->index;
    }
    vmm_hypercall_register(s->vm, HVM_HC_CONSOLE_WRITE, hrt_console_write,
                           s);
    vmm_hypercall_register(s->vm, HVM_HC_PANIC, hrt_panic, s);
    vmm_hypercall_register(s->vm, HVM_HC_EXIT, hrt_exit, s);
    s->hybrid = hvm_ros_hybrid_create(&config);
    if (s->hybrid == NULL)
        return -1;
    if (hrt_boot_init(&s->hrt, &config, err, sizeof(err)) < 0) {
        vmm_error("HRT boot: %s", err);
        return -1;
    }
    s->hrt_initialized = 1;
    if (hvm_ros_hybrid_start(s->hybrid, &s->hrt) < 0)
        return -1;
    return hrt_boot_start(&s->hrt);
}

static int vm_memory_add(struct run_state *s)
{
    static const char *const names[2] = {"ros-low", "ros-high"};

    for (unsigned i = 0; i < s->plan.nr_ros_ranges; i++)
        if (vmm_memory_add(s->vm, names[i], s->plan.ros_ranges[i].gpa,
                           s->plan.ros_ranges[i].size) == NULL)
            return -1;
    if (s->plan.hrt_cpus > 0 &&
        vmm_memory_add(s->vm, "hrt", s->plan.hrt_range.gpa,
                       s->plan.hrt_range.size) == NULL)
        return -1;
    return 0;
}

static int ros_load(struct run_state *s)
{
    struct hvm_ros_boot_config config = {
        .vm = s->vm,
        .plan = &s->plan,
        .format = s->kernel.format,
        .kernel = s->kernel_image,
        .kernel_size = s->kernel_size,
        .initrd = s->initrd,
        .initrd_size = s->initrd_size,
        .argc = s->opts.argc,
        .argv = s->opts.argv,
        .cmdline = s->cmdline,
    };
    struct hvm_ros_boot_layout layout;
    char err[512];

    if (hvm_ros_boot_load(&config, &layout, err, sizeof(err)) < 0) {
        vmm_error("loading the ROS failed: %s", err);
        return -1;
    }
    vmm_debug("ROS kernel 0x%llx-0x%llx, entry 0x%llx, initrd 0x%llx "
              "(%llu bytes)", (unsigned long long)layout.kernel_start,
              (unsigned long long)layout.kernel_end,
              (unsigned long long)layout.entry,
              (unsigned long long)layout.initrd_gpa,
              (unsigned long long)layout.initrd_size);
    return hvm_ros_vcpus_create(s->vm, &s->plan, &layout);
}

static int vm_build(struct run_state *s, uint64_t start_ns)
{
    /*
     * NOTE: no hugetlbfs: vmm_memory_add() maps MFD_HUGETLB memory with
     * MAP_NORESERVE, which faults with SIGBUS when the host's huge page
     * pool is empty (its default).
     */
    struct vmm_vm_options options = {.irqchip = 1, .pit = 1};

    s->vm = vmm_vm_create(&options);
    if (s->vm == NULL || vm_memory_add(s) < 0)
        return -1;
    s->events.ros_cpus = s->plan.ros_cpus;
    s->events.consoles_ready = &s->console.input_ready;
    s->events.start_ns = start_ns;
    if (hvm_ros_devices_register(s->vm, &s->events) < 0 || ros_load(s) < 0)
        return -1;
    if (hvm_ros_console_init(&s->console, s->vm, s->opts.argc == 0) < 0)
        return -1;
    s->console_started = 1;
    return hrt_start(s, start_ns);
}

/* Stops the VM when the timeout passes, unless the run ends first. */
static void *watchdog(void *arg)
{
    struct run_state *s = arg;
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += s->opts.timeout_s;
    pthread_mutex_lock(&s->watchdog_lock);
    while (!s->watchdog_done &&
           pthread_cond_timedwait(&s->watchdog_cond, &s->watchdog_lock,
                                  &deadline) == 0)
        ;
    if (!s->watchdog_done) {
        s->timed_out = 1;
        vmm_vm_stop(s->vm, RUN_EXIT_TIMEOUT);
    }
    pthread_mutex_unlock(&s->watchdog_lock);
    return NULL;
}

static void run_wait(struct run_state *s)
{
    pthread_t thread;
    int watching = s->opts.timeout_s > 0 &&
                   pthread_create(&thread, NULL, watchdog, s) == 0;

    vmm_vm_wait(s->vm);
    if (!watching)
        return;
    pthread_mutex_lock(&s->watchdog_lock);
    s->watchdog_done = 1;
    pthread_cond_signal(&s->watchdog_cond);
    pthread_mutex_unlock(&s->watchdog_lock);
    pthread_join(thread, NULL);
}

/* Turns what happened into hvm's exit status, with one line if it failed. */
static int run_result(struct run_state *s)
{
    struct hvm_ros_events *events = &s->events;
    int interactive = s->opts.argc == 0;

    if (atomic_load(&events->exit_reported))
        return atomic_load(&events->exit_status);
    if (s->timed_out) {
        if (vmm_log_level >= VMM_LOG_INFO)
            vmm_vcpu_dump(s->vm->vcpus[0], "ROS vCPU 0 at the timeout");
        vmm_error("the guest did not finish within %ld s%s%s",
                  s->opts.timeout_s,
                  atomic_load(&events->init_ns) ? ""
                      : " (the ROS never started /init)",
                  vmm_log_level >= VMM_LOG_INFO
                      ? "" : "; rerun with -v to see the kernel console");
        return RUN_EXIT_TIMEOUT;
    }
    if (atomic_load(&s->console.panic_seen)) {
        vmm_error("the ROS kernel panicked: %s", s->console.panic_line);
        return RUN_EXIT_FAILURE;
    }
    if (s->vm->exit_status == RUN_EXIT_INTERRUPTED)
        return RUN_EXIT_INTERRUPTED;
    if (interactive && (atomic_load(&events->power_off_seen) ||
                        atomic_load(&events->reset_seen)))
        return 0;
    if (atomic_load(&events->power_off_seen) ||
        atomic_load(&events->reset_seen)) {
        vmm_error("the ROS %s before reporting the command's exit status; "
                  "rerun with -v to see the kernel console",
                  atomic_load(&events->reset_seen) ? "rebooted"
                                                   : "powered off");
        return RUN_EXIT_FAILURE;
    }
    vmm_error("the VM stopped unexpectedly (see the report above)");
    return RUN_EXIT_FAILURE;
}

static void run_cleanup(struct run_state *s)
{
    if (s->vm != NULL) {
        vmm_vm_stop(s->vm, RUN_EXIT_FAILURE);
        vmm_vm_wait(s->vm);
    }
    if (s->console_started)
        hvm_ros_console_stop(&s->console);
    if (s->hrt_initialized)
        hrt_boot_destroy(&s->hrt);
    hvm_ros_hybrid_destroy(s->hybrid);
    vmm_vm_destroy(s->vm);
    free(s->kernel_image);
    free(s->initrd);
    free(s->hrt_image);
}

static int run_prepare(struct run_state *s, int argc, char **argv,
                       uint64_t start_ns)
{
    if (options_parse(argc, argv, &s->opts) < 0)
        return -1;
    vmm_platform_identify(&s->platform);
    vmm_info("platform: %s%s%s", s->platform.kind,
             s->platform.module[0] ? ", module " : "", s->platform.module);
    if (kernel_choose(s) < 0 || plan_make(s) < 0 || files_read(s) < 0 ||
        cmdline_make(s) < 0 || vm_build(s, start_ns) < 0)
        return -1;
    return 0;
}

int hvm_cmd_run(int argc, char **argv)
{
    uint64_t start_ns = vmm_now_ns();
    struct run_state *s = calloc(1, sizeof(*s));
    int status = RUN_EXIT_FAILURE;

    if (s == NULL) {
        vmm_error_errno("allocate the run state");
        return RUN_EXIT_FAILURE;
    }
    pthread_mutex_init(&s->watchdog_lock, NULL);
    pthread_cond_init(&s->watchdog_cond, NULL);
    if (run_prepare(s, argc, argv, start_ns) == 0 &&
        vmm_vm_start(s->vm) == 0) {
        run_wait(s);
        hvm_ros_console_stop(&s->console);
        status = run_result(s);
        vmm_info("ROS finished after %.2f s (int3 completed %u, fwait "
                 "completed %u)", (double)(vmm_now_ns() - start_ns) / 1e9,
                 atomic_load(&s->events.int3_completed),
                 atomic_load(&s->events.fwait_completed));
    }
    run_cleanup(s);
    free(s);
    return status;
}
