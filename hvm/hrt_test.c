/*
 * `hvm hrt-test`: boots only the HRT (an HRT-only VM), runs the kernel's
 * self-tests on every HRT CPU, prints one line per test and CPU and the
 * boot time, and optionally reboots the HRT K times in the same VMM. The
 * exit status is 0 only if every boot completed and every test on every
 * CPU passed or was skipped with a reason.
 */
#include "commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "elf.h"
#include "hrt_boot.h"
#include "partition.h"
#include "platform.h"
#include "vmm.h"

#define DEFAULT_HRT_MEM (32ULL << 20)
#define DEFAULT_TIMEOUT_S 60
#define MAX_REBOOTS 1000

/*
 * boot_info.selftest_mask: bits 16-23 ask the HRT to end boots 0 .. N-1
 * with HVM_HC_REBOOT (guest-kernel/kernel.h uses the same encoding).
 */
#define SELFTEST_REBOOTS_SHIFT 16
#define MAX_GUEST_REBOOTS 255

/* The self-tests the kernel runs on every CPU when selftest_mask is 0. */
static const char *const expected_tests[] = {
    "exceptions", "heap", "timer", "ipi", "threads", "ring3",
};
#define EXPECTED_TEST_COUNT (sizeof(expected_tests) / sizeof(expected_tests[0]))

struct hrt_test_options {
    unsigned hrt_cpus;
    unsigned reboots;
    int guest_reboot; /* the HRT requests each reboot itself */
    uint64_t hrt_mem;
    unsigned timeout_s;
    const char *image_path;
};

/* Results of one boot, written by vCPU threads while it runs. */
struct boot_results {
    int exit_seen;
    int exit_status;
    uint32_t reported[HVM_MAX_HRT_CPUS]; /* bit i: expected_tests[i] */
    unsigned failed;
};

struct hrt_test_state {
    struct hrt_boot boot;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint32_t nr_boots;
    struct boot_results *boots;       /* one per boot, by boot_count */
    unsigned passed, failed, skipped; /* over all boots */
};

/*
 * Returns the results of the boot the calling HRT vCPU runs, or NULL
 * past the last expected boot. boot_count changes only while every HRT
 * vCPU is parked, so it is stable during a hypercall.
 */
static struct boot_results *current_results(struct hrt_test_state *state)
{
    uint32_t boot = state->boot.boot_count;

    return boot < state->nr_boots ? &state->boots[boot] : NULL;
}

static const char usage[] =
    "usage: hvm hrt-test [OPTIONS]\n"
    "\n"
    "Boot only the HRT kernel and run its self-tests on every HRT CPU.\n"
    "\n"
    "  --hrt-cpus N       HRT vCPUs (default 1, at most 64)\n"
    "  --hrt-mem SIZE     HRT memory, e.g. 64M (default 32M)\n"
    "  --hrt-image FILE   HRT kernel ELF (default: guest-kernel/hrt.elf "
    "next to hvm)\n"
    "  --reboot K         reboot the HRT K times and test each boot\n"
    "  --guest-reboot     the HRT requests each reboot (HVM_HC_REBOOT), "
    "K <= 255\n"
    "  --timeout SEC      bound for each boot and its tests (default 60)\n"
    "  -v, -q, --trace FILE   more output, errors only, debug trace\n";

static const char *const exception_names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 floating point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating point",
    "#VE virtualization",
    "#CP control protection",
};

static const char *vector_name(uint32_t vector)
{
    if (vector == 0xffffffffu)
        return "software panic";
    if (vector < 32 && exception_names[vector] != NULL)
        return exception_names[vector];
    if (vector < 32)
        return "reserved exception";
    return "interrupt";
}

static int parse_unsigned(const char *text, unsigned max, unsigned *value)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);

    if (*text == '\0' || *end != '\0' || v > max)
        return -1;
    *value = (unsigned)v;
    return 0;
}

/* Stores the value of one command option. Returns 0, or -1 if invalid. */
static int option_store(int opt, const char *arg, struct hrt_test_options *opts)
{
    switch (opt) {
    case 'c':
        if (parse_unsigned(arg, HVM_MAX_HRT_CPUS, &opts->hrt_cpus) == 0 &&
            opts->hrt_cpus > 0)
            return 0;
        fprintf(stderr, "hvm hrt-test: invalid --hrt-cpus '%s': give 1 to %u\n",
                arg, HVM_MAX_HRT_CPUS);
        return -1;
    case 'r':
        if (parse_unsigned(arg, MAX_REBOOTS, &opts->reboots) == 0)
            return 0;
        fprintf(stderr, "hvm hrt-test: invalid --reboot '%s': give 0 to %u\n",
                arg, MAX_REBOOTS);
        return -1;
    case 'g':
        opts->guest_reboot = 1;
        return 0;
    case 'i':
        opts->image_path = arg;
        return 0;
    case 'm':
        if (vmm_parse_size(arg, &opts->hrt_mem) == 0)
            return 0;
        fprintf(stderr,
                "hvm hrt-test: invalid --hrt-mem '%s': give a size "
                "such as 64M\n",
                arg);
        return -1;
    case 't':
        if (parse_unsigned(arg, 86400, &opts->timeout_s) == 0 &&
            opts->timeout_s > 0)
            return 0;
        fprintf(stderr,
                "hvm hrt-test: invalid --timeout '%s': give 1 to "
                "86400 seconds\n",
                arg);
        return -1;
    default:
        fputs(usage, stderr);
        return -1;
    }
}

static int options_parse(int argc, char **argv, struct hrt_test_options *opts)
{
    static const struct option long_options[] = {
        {"hrt-cpus", required_argument, NULL, 'c'},
        {"reboot", required_argument, NULL, 'r'},
        {"guest-reboot", no_argument, NULL, 'g'},
        {"hrt-image", required_argument, NULL, 'i'},
        {"hrt-mem", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"trace", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "vqh", long_options, NULL)) != -1) {
        int common = hvm_common_option(opt, optarg);

        if (common < 0)
            return -1;
        if (common > 0)
            continue;
        if (opt == 'h') {
            fputs(usage, stdout);
            exit(0);
        }
        if (option_store(opt, optarg, opts) < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "hvm hrt-test: unexpected argument '%s'\n%s",
                argv[optind], usage);
        return -1;
    }
    if (opts->guest_reboot && opts->reboots > MAX_GUEST_REBOOTS) {
        fprintf(stderr,
                "hvm hrt-test: --guest-reboot allows at most %u "
                "reboots, got --reboot %u\n",
                MAX_GUEST_REBOOTS, opts->reboots);
        return -1;
    }
    return 0;
}

/* Copies a guest struct of len bytes at gpa, or returns -1. */
static int guest_copy(struct vmm_vcpu *vcpu, uint64_t gpa, void *dst,
                      size_t len)
{
    const void *src = vmm_gpa_to_hva(vcpu->vm, gpa, len);

    if (src == NULL)
        return -1;
    memcpy(dst, src, len);
    return 0;
}

static int64_t console_write_hypercall(struct vmm_vcpu *vcpu,
                                       const struct vmm_hypercall *call,
                                       void *ctx)
{
    uint64_t gpa = call->args[0], len = call->args[1];
    char text[HVM_CONSOLE_WRITE_MAX + 1];
    const char *src;

    (void)ctx;
    if (len > HVM_CONSOLE_WRITE_MAX)
        return HVM_ERR_INVAL;
    src = vmm_gpa_to_hva(vcpu->vm, gpa, len);
    if (src == NULL)
        return HVM_ERR_FAULT;
    for (uint64_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];

        text[i] = (c == '\n' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
    }
    text[len] = '\0';
    /* The guest console is not a log: shown with -v, to stderr. */
    if (vmm_log_level >= VMM_LOG_INFO)
        fprintf(stderr, "hrt console: %s%s", text,
                len && text[len - 1] == '\n' ? "" : "\n");
    return HVM_OK;
}

static int64_t exit_hypercall(struct vmm_vcpu *vcpu,
                              const struct vmm_hypercall *call, void *ctx)
{
    struct hrt_test_state *state = ctx;
    struct boot_results *results = current_results(state);

    if (hrt_boot_cpu_of(&state->boot, vcpu) < 0 || results == NULL)
        return HVM_ERR_STATE;
    if (call->args[0] > 255)
        return HVM_ERR_INVAL;
    pthread_mutex_lock(&state->lock);
    if (!results->exit_seen) {
        results->exit_seen = 1;
        results->exit_status = (int)call->args[0];
    }
    pthread_cond_broadcast(&state->cond);
    pthread_mutex_unlock(&state->lock);
    return HVM_OK;
}

static int64_t panic_hypercall(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    struct hrt_test_state *state = ctx;
    struct hvm_panic_report report;
    char message[sizeof(report.message)];
    int cpu = hrt_boot_cpu_of(&state->boot, vcpu);

    if (cpu < 0)
        return HVM_ERR_STATE;
    if (guest_copy(vcpu, call->args[0], &report, sizeof(report)) < 0) {
        vmm_error("HRT panic on cpu%d with an invalid report address "
                  "0x%llx",
                  cpu, (unsigned long long)call->args[0]);
        vmm_vm_stop(vcpu->vm, 1);
        return HVM_ERR_FAULT;
    }
    vmm_guest_string(message, report.message, sizeof(message));
    if (report.cpu != (uint32_t)cpu)
        vmm_warn("HRT panic report names cpu%u but came from cpu%d", report.cpu,
                 cpu);
    vmm_error("HRT panic on cpu%d: vector %u (%s), error code 0x%llx, "
              "RIP 0x%llx, CR2 0x%llx, RSP 0x%llx: %s",
              cpu, report.vector, vector_name(report.vector),
              (unsigned long long)report.error_code,
              (unsigned long long)report.rip, (unsigned long long)report.cr2,
              (unsigned long long)report.rsp, message);
    vmm_vm_stop(vcpu->vm, 1);
    return HVM_OK;
}

static int expected_test_index(const char *name)
{
    for (size_t i = 0; i < EXPECTED_TEST_COUNT; i++)
        if (strcmp(name, expected_tests[i]) == 0)
            return (int)i;
    return -1;
}

static int64_t test_result_hypercall(struct vmm_vcpu *vcpu,
                                     const struct vmm_hypercall *call,
                                     void *ctx)
{
    static const char *const labels[] = {"PASS", "FAIL", "SKIP"};
    struct hrt_test_state *state = ctx;
    struct boot_results *results = current_results(state);
    struct hvm_test_result result;
    char name[sizeof(result.name)], detail[sizeof(result.detail)];
    int cpu = hrt_boot_cpu_of(&state->boot, vcpu), index;

    if (cpu < 0 || results == NULL)
        return HVM_ERR_STATE;
    if (guest_copy(vcpu, call->args[0], &result, sizeof(result)) < 0)
        return HVM_ERR_FAULT;
    if (result.cpu != (uint32_t)cpu || result.status < HVM_TEST_PASS ||
        result.status > HVM_TEST_SKIP)
        return HVM_ERR_INVAL;
    vmm_guest_string(name, result.name, sizeof(name));
    vmm_guest_string(detail, result.detail, sizeof(detail));
    index = expected_test_index(name);
    pthread_mutex_lock(&state->lock);
    printf("%s  cpu%-2d %-11s %s\n", labels[result.status], cpu, name, detail);
    fflush(stdout);
    if (index >= 0)
        results->reported[cpu] |= 1u << index;
    if (result.status == HVM_TEST_PASS) {
        state->passed++;
    } else if (result.status == HVM_TEST_SKIP) {
        state->skipped++;
    } else {
        state->failed++;
        results->failed++;
    }
    pthread_mutex_unlock(&state->lock);
    return HVM_OK;
}

/*
 * Reads the image: --hrt-image, or guest-kernel/hrt.elf near `hvm`.
 * Stores the path it used in used_path.
 */
static void *image_read(const char *path, size_t *size, char *used_path,
                        size_t used_size)
{
    static const char *const candidates[] = {
        "guest-kernel/hrt.elf",
        "../guest-kernel/hrt.elf",
        "../libexec/hvm/hrt.elf",
    };
    char found[4096], err[512];
    void *image;

    for (size_t i = 0; path == NULL && i < 3; i++)
        if (hvm_find_built_file(candidates[i], found, sizeof(found)) == 0)
            path = found;
    if (path == NULL) {
        vmm_error("HRT image not found next to hvm (guest-kernel/hrt.elf); "
                  "build it or pass --hrt-image FILE");
        return NULL;
    }
    snprintf(used_path, used_size, "%s", path);
    image = vmm_file_read(path, size, err, sizeof(err));
    if (image == NULL)
        vmm_error("reading the HRT image failed: %s", err);
    else
        vmm_debug("HRT image %s, %zu bytes", path, *size);
    return image;
}

static int partition_plan(const struct hrt_test_options *opts,
                          struct vmm_partition *plan)
{
    struct vmm_partition_request request = {
        .hrt_cpus = opts->hrt_cpus,
        .hrt_mem = opts->hrt_mem,
        .max_vcpus = VMM_MAX_VCPUS,
        .host_mem =
            (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE),
    };
    char err[256];
    int kvm = vmm_kvm_open();

    if (kvm < 0)
        return -1;
    int max = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    close(kvm);
    if (max > 0 && (unsigned)max < request.max_vcpus)
        request.max_vcpus = (unsigned)max;
    if (vmm_partition_plan(&request, plan, err, sizeof(err)) < 0) {
        vmm_error("invalid HRT partition: %s", err);
        return -1;
    }
    return 0;
}

/* Creates the HRT-only VM, its memory, vCPUs and hypercall handlers. */
static struct vmm_vm *vm_build(const struct vmm_partition *plan,
                               struct hrt_test_state *state,
                               struct hrt_boot_config *config)
{
    struct vmm_vm_options vm_options = {.irqchip = 1};
    struct vmm_mem_region *region;
    struct vmm_vm *vm = vmm_vm_create(&vm_options);

    if (vm == NULL)
        return NULL;
    region =
        vmm_memory_add(vm, "hrt", plan->hrt_range.gpa, plan->hrt_range.size);
    if (region == NULL)
        goto fail;
    for (unsigned i = 0; i < plan->hrt_cpus; i++) {
        struct vmm_vcpu *vcpu = vmm_vcpu_create(vm, plan->first_hrt_cpu + i);

        if (vcpu == NULL || vmm_x86_set_cpuid(vcpu, 1) < 0)
            goto fail;
        config->vcpu_index[i] = vcpu->index;
    }
    vmm_hypercall_register(vm, HVM_HC_CONSOLE_WRITE, console_write_hypercall,
                           state);
    vmm_hypercall_register(vm, HVM_HC_EXIT, exit_hypercall, state);
    vmm_hypercall_register(vm, HVM_HC_PANIC, panic_hypercall, state);
    vmm_hypercall_register(vm, HVM_HC_TEST_RESULT, test_result_hypercall,
                           state);
    config->vm = vm;
    config->hrt_gpa = region->gpa;
    config->hrt_size = region->size;
    config->hrt_hva = region->hva;
    config->nr_cpus = plan->hrt_cpus;
    config->flags = HVM_BOOT_SELFTEST;
    config->user_region = 1;
    return vm;

fail:
    vmm_vm_destroy(vm);
    return NULL;
}

/* Waits for the exit hypercall of the boot in progress. Returns 0 or -1. */
/* Waits for the exit hypercall of boot. Returns 0, or -1 on timeout. */
static int exit_wait(struct hrt_test_state *state, uint32_t boot,
                     uint64_t deadline_ns)
{
    struct vmm_vm *vm = state->boot.config.vm;
    int seen;

    pthread_mutex_lock(&state->lock);
    while (!state->boots[boot].exit_seen && !atomic_load(&vm->stopping) &&
           vmm_now_ns() < deadline_ns) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&state->cond, &state->lock, &ts);
    }
    seen = state->boots[boot].exit_seen;
    pthread_mutex_unlock(&state->lock);
    return seen ? 0 : -1;
}

/*
 * Checks that every CPU reported every test, none failed and the boot
 * ended as expected: with exit status 0, or with a reboot request.
 */
static int boot_results_check(struct hrt_test_state *state, uint32_t boot,
                              int ends_with_reboot)
{
    const struct boot_results *results = &state->boots[boot];
    int ok = results->failed == 0;

    pthread_mutex_lock(&state->lock);
    if (ends_with_reboot && results->exit_seen) {
        vmm_error("boot %u: the HRT exited with status %d instead of "
                  "requesting a reboot",
                  boot, results->exit_status);
        ok = 0;
    } else if (!ends_with_reboot && results->exit_status != 0) {
        vmm_error("boot %u: the HRT exited with status %d", boot,
                  results->exit_status);
        ok = 0;
    }
    for (unsigned cpu = 0; cpu < state->boot.config.nr_cpus; cpu++) {
        for (size_t i = 0; i < EXPECTED_TEST_COUNT; i++) {
            if (results->reported[cpu] & (1u << i))
                continue;
            vmm_error("boot %u: cpu%u did not report the '%s' test", boot, cpu,
                      expected_tests[i]);
            ok = 0;
        }
    }
    pthread_mutex_unlock(&state->lock);
    return ok;
}

static void boot_time_print(const struct hrt_test_state *state, uint32_t boot,
                            const struct hrt_boot_times *t)
{
    double total_ms = (double)(t->complete_ns - t->request_ns) / 1e6;
    double guest_ms = (double)hrt_boot_tsc_to_us(
                          &state->boot, t->complete_tsc - t->entry_tsc) /
                      1e3;

    vmm_info("boot %u: %.1f ms to prepare and release the HRT CPUs, %.1f ms "
             "from release to boot-complete",
             boot, (double)(t->release_ns - t->request_ns) / 1e6,
             (double)(t->complete_ns - t->release_ns) / 1e6);
    if (boot == 0)
        printf("boot time: VMM start -> boot-complete %.1f ms, "
               "HRT entry -> boot-complete %.1f ms\n",
               total_ms, guest_ms);
    else
        printf("reboot %u time: request -> boot-complete %.1f ms, "
               "HRT entry -> boot-complete %.1f ms\n",
               boot, total_ms, guest_ms);
    fflush(stdout);
}

/*
 * Waits for the end of boot: its exit hypercall, or with guest_reboot
 * the boot-complete of the reboot the HRT requested. Returns 0 or -1.
 */
static int boot_end_wait(struct hrt_test_state *state, uint32_t boot,
                         int guest_reboot, uint64_t deadline_ns)
{
    if (guest_reboot)
        return hrt_boot_wait_complete(&state->boot, boot + 1, deadline_ns,
                                      NULL);
    return exit_wait(state, boot, deadline_ns);
}

/* Runs one boot's tests to their end. Returns 0 if all passed. */
static int boot_run(struct hrt_test_state *state,
                    const struct hrt_test_options *opts, uint32_t boot)
{
    uint64_t deadline =
        vmm_now_ns() + (uint64_t)opts->timeout_s * 1000000000ULL;
    int guest_reboot = opts->guest_reboot && boot < opts->reboots;
    struct vmm_vm *vm = state->boot.config.vm;
    struct hrt_boot_times times;
    const char *awaited = "boot-complete";
    int ok = hrt_boot_wait_complete(&state->boot, boot, deadline, &times) == 0;

    if (ok) {
        boot_time_print(state, boot, &times);
        awaited = guest_reboot ? "the reboot the HRT requests"
                               : "the self-tests to finish";
        ok = boot_end_wait(state, boot, guest_reboot, deadline) == 0;
    }
    if (!ok) {
        if (!atomic_load(&vm->stopping)) {
            vmm_error("timed out after %u s waiting for %s of boot %u; "
                      "--timeout SEC changes the bound",
                      opts->timeout_s, awaited, boot);
            hrt_boot_dump(&state->boot, "HRT CPU state at the timeout");
        }
        vmm_vm_stop(vm, 1);
        return -1;
    }
    return boot_results_check(state, boot, guest_reboot) ? 0 : -1;
}

static int boots_run(struct hrt_test_state *state,
                     const struct hrt_test_options *opts)
{
    int failed = 0;

    for (uint32_t boot = 0; boot <= opts->reboots; boot++) {
        if (boot > 0 && !opts->guest_reboot)
            hrt_boot_reboot_request(&state->boot);
        if (boot_run(state, opts, boot) < 0) {
            failed = 1;
            if (atomic_load(&state->boot.config.vm->stopping))
                break;
        }
    }
    return failed;
}

static struct hrt_test_state *state_create(unsigned nr_boots)
{
    struct hrt_test_state *state = calloc(1, sizeof(*state));

    if (state != NULL) {
        state->nr_boots = nr_boots;
        state->boots = calloc(nr_boots, sizeof(*state->boots));
    }
    if (state == NULL || state->boots == NULL) {
        vmm_error("hrt-test: out of memory for %u boots", nr_boots);
        free(state);
        return NULL;
    }
    pthread_mutex_init(&state->lock, NULL);
    pthread_cond_init(&state->cond, NULL);
    return state;
}

static void state_destroy(struct hrt_test_state *state)
{
    pthread_cond_destroy(&state->cond);
    pthread_mutex_destroy(&state->lock);
    free(state->boots);
    free(state);
}

static int hrt_test_run(const struct hrt_test_options *opts, void *image,
                        size_t image_size, const char *image_path,
                        uint64_t start_ns)
{
    struct hrt_test_state *state = state_create(opts->reboots + 1);
    struct hrt_boot_config config = {0};
    struct vmm_partition plan;
    struct vmm_vm *vm = NULL;
    char err[512];
    int failed, status;

    if (state == NULL)
        return 1;
    if (partition_plan(opts, &plan) < 0 ||
        (vm = vm_build(&plan, state, &config)) == NULL) {
        state_destroy(state);
        return 1;
    }
    config.image = image;
    config.image_size = image_size;
    config.vmm_start_ns = start_ns;
    if (opts->guest_reboot)
        config.selftest_mask = opts->reboots << SELFTEST_REBOOTS_SHIFT;
    if (hrt_boot_init(&state->boot, &config, err, sizeof(err)) < 0) {
        vmm_error("%s (image %s)", err, image_path);
        vmm_vm_destroy(vm);
        state_destroy(state);
        return 1;
    }
    failed = hrt_boot_start(&state->boot) < 0 || boots_run(state, opts);
    vmm_vm_stop(vm, failed ? 1 : 0);
    status = vmm_vm_wait(vm);
    printf("hrt-test: %u passed, %u failed, %u skipped over %u boot%s on "
           "%u HRT CPU%s\n",
           state->passed, state->failed, state->skipped, opts->reboots + 1,
           opts->reboots ? "s" : "", opts->hrt_cpus,
           opts->hrt_cpus > 1 ? "s" : "");
    vmm_vm_destroy(vm);
    hrt_boot_destroy(&state->boot);
    state_destroy(state);
    return failed || status != 0 ? 1 : 0;
}

int hvm_cmd_hrt_test(int argc, char **argv)
{
    struct hrt_test_options opts = {
        .hrt_cpus = 1,
        .hrt_mem = DEFAULT_HRT_MEM,
        .timeout_s = DEFAULT_TIMEOUT_S,
    };
    uint64_t start_ns = vmm_now_ns();
    struct vmm_platform platform;
    char image_path[4096];
    size_t image_size;
    void *image;
    int status;

    if (options_parse(argc, argv, &opts) < 0)
        return 2;
    image = image_read(opts.image_path, &image_size, image_path,
                       sizeof(image_path));
    if (image == NULL)
        return 1;
    vmm_platform_identify(&platform);
    printf("platform: %s%s%s%s, %u HRT CPU%s, %llu MiB HRT memory\n",
           platform.kind, platform.module[0] ? " (" : "", platform.module,
           platform.module[0] ? ")" : "", opts.hrt_cpus,
           opts.hrt_cpus > 1 ? "s" : "",
           (unsigned long long)(opts.hrt_mem >> 20));
    fflush(stdout);
    status = hrt_test_run(&opts, image, image_size, image_path, start_ns);
    free(image);
    return status;
}
