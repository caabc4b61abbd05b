/*
 * Entry of libmultiverse: it interposes the C library's start routine, so
 * that once the C library is initialized, and before main, the process
 * builds its VM, boots the HRT and moves its main thread into it. The
 * original thread becomes the partner of that HRT thread.
 *
 * Options come from the environment (set by `hvm exec` and `mvrun`) and
 * are removed from it before main, so the program sees the environment of
 * a native run:
 *   MV_HRT_IMAGE  HRT kernel image (default: next to this library)
 *   MV_HRT_CPUS   vCPUs booted with the HRT (threads add more on demand)
 *   MV_PRIVILEGE  user, kernel or auto
 *   MV_STATS_FD   descriptor that receives the statistics at exit
 *   MV_SPIN_NS    how long each side polls before it sleeps, in ns
 *   MV_VERBOSE    0-3, as -q/-v of hvm
 *   MV_REWRITE    0 keeps the C library's `syscall` sites (each traps)
 */
#include "mv.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <asm/prctl.h>

#include "platform.h"

#define GUEST_STACK_GAP (64 * 1024)
#define STACK_PREFAULT (256 * 1024)
#define DEFAULT_SPIN_NS 50000

struct mv_runtime mv;

/*
 * The environment is read and edited through environ directly: a program
 * such as bash defines its own getenv, setenv and unsetenv, which would
 * be called instead of the C library's before the program has set up
 * what they use.
 */
extern char **environ;

static const char *env_get(const char *name)
{
    size_t length = strlen(name);

    for (char **entry = environ; entry != NULL && *entry != NULL; entry++) {
        if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=')
            return *entry + length + 1;
    }
    return NULL;
}

/* Removes NAME from environ in place, as unsetenv would. */
static void env_remove(const char *name)
{
    size_t length = strlen(name);
    char **out = environ;

    if (environ == NULL)
        return;
    for (char **in = environ; *in != NULL; in++) {
        if (strncmp(*in, name, length) == 0 && (*in)[length] == '=')
            continue;
        *out++ = *in;
    }
    *out = NULL;
}

/* Points the existing NAME entry at "NAME=value"; entry must stay alive. */
static void env_replace(const char *name, char *entry)
{
    size_t length = strlen(name);

    for (char **slot = environ; slot != NULL && *slot != NULL; slot++) {
        if (strncmp(*slot, name, length) == 0 && (*slot)[length] == '=') {
            *slot = entry;
            return;
        }
    }
}

typedef int (*libc_start_main_fn)(int (*)(int, char **, char **), int, char **,
                                  void (*)(void), void (*)(void),
                                  void (*)(void), void *);

static const char *default_image(char *buf, size_t size)
{
    Dl_info info;
    char *slash;

    if (dladdr((void *)mv_syscall_entry, &info) == 0 || info.dli_fname == NULL)
        return NULL;
    snprintf(buf, size, "%s", info.dli_fname);
    slash = strrchr(buf, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';
    if (strlen(buf) + 32 >= size)
        return NULL;
    strcat(buf, "/../guest-kernel/hrt.elf");
    return buf;
}

static enum mv_privilege privilege_choose(const char *text)
{
    struct vmm_platform platform;

    if (text != NULL && strcmp(text, "kernel") == 0)
        return MV_PRIVILEGE_KERNEL;
    if (text != NULL && strcmp(text, "user") == 0)
        return MV_PRIVILEGE_USER;
    /* auto: ring 0 only where it runs natively. */
    if (vmm_platform_probe(&platform) < 0 || platform.ring0_emulated != 0)
        return MV_PRIVILEGE_USER;
    return MV_PRIVILEGE_KERNEL;
}

static void options_read(void)
{
    static char image[PATH_MAX];
    const char *value;

    value = env_get("MV_VERBOSE");
    if (value != NULL)
        vmm_log_level = atoi(value);
    value = env_get("MV_HRT_IMAGE");
    if (value != NULL)
        snprintf(image, sizeof(image), "%s", value);
    mv.options.hrt_image =
        value != NULL ? image : default_image(image, sizeof(image));
    value = env_get("MV_HRT_CPUS");
    mv.options.hrt_cpus = value != NULL ? (unsigned)atoi(value) : 1;
    value = env_get("MV_STATS_FD");
    mv.options.stats_fd = value != NULL ? atoi(value) : -1;
    value = env_get("MV_SPIN_NS");
    mv.options.spin_ns =
        value != NULL ? strtoull(value, NULL, 10) : DEFAULT_SPIN_NS;
    mv.options.privilege = privilege_choose(env_get("MV_PRIVILEGE"));
    value = env_get("MV_REWRITE");
    mv.options.rewrite = value == NULL || strcmp(value, "0") != 0;
}

/* Keeps the runtime's variables for the images this process execs. */
static void environment_save(void)
{
    static const char *const names[] = {
        "LD_PRELOAD",  "MV_HRT_IMAGE", "MV_HRT_CPUS", "MV_PRIVILEGE",
        "MV_STATS_FD", "MV_SPIN_NS",   "MV_VERBOSE",  "MV_REWRITE",
    };
    static char storage[sizeof(names) / sizeof(names[0])][PATH_MAX + 32];
    unsigned count = 0;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *value = env_get(names[i]);

        if (value == NULL)
            continue;
        snprintf(storage[count], sizeof(storage[count]), "%s=%s", names[i],
                 value);
        mv.exec_env[count] = storage[count];
        count++;
    }
    mv.exec_env[count] = NULL;
}

/* Leaves the environment as the user gave it to `hvm exec` or `mvrun`. */
static void environment_restore(void)
{
    static const char *const names[] = {
        "MV_HRT_IMAGE", "MV_HRT_CPUS", "MV_PRIVILEGE", "MV_STATS_FD",
        "MV_SPIN_NS",   "MV_VERBOSE",  "MV_REWRITE",
    };
    static char preload[PATH_MAX + 16];
    const char *saved = env_get("MV_SAVED_LD_PRELOAD");

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        env_remove(names[i]);
    if (saved != NULL && saved[0] != '\0') {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", saved);
        env_replace("LD_PRELOAD", preload);
    } else {
        env_remove("LD_PRELOAD");
    }
    env_remove("MV_SAVED_LD_PRELOAD");
}

/* Grows the main stack now, so the HRT thread starts on mapped pages. */
static void __attribute__((noinline)) stack_prefault(void)
{
    volatile char *here = (volatile char *)__builtin_frame_address(0);

    for (size_t offset = 4096; offset < STACK_PREFAULT; offset += 4096)
        (void)here[-(long)offset];
}

static void main_group_start(struct mv_group *group, int argc, char **argv,
                             char **envp)
{
    uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    uint64_t fs_base = 0;

    mv_syscall6(SYS_arch_prctl, ARCH_GET_FS, (long)&fs_base, 0, 0, 0, 0);
    group->start.rip = (uint64_t)(uintptr_t)mv_guest_main;
    group->start.rsp = (here - GUEST_STACK_GAP) & ~15ULL;
    group->start.rflags = 0x202;
    group->start.fs_base = fs_base;
    group->start.rdi = (uint64_t)(uintptr_t)mv.main;
    group->start.rsi = (uint64_t)argc;
    group->start.rdx = (uint64_t)(uintptr_t)argv;
    group->start.rcx = (uint64_t)(uintptr_t)envp;
    group->partner_tid = (pid_t)mv_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

static int hybrid_main(int argc, char **argv, char **envp)
{
    struct mv_group *group;
    uint8_t *stack;

    options_read();
    environment_save();
    environment_restore();
    mv.start_ns = vmm_now_ns();
    if (mv.options.hrt_image == NULL)
        mv_die("cannot locate the HRT image; set MV_HRT_IMAGE");
    stack_prefault();
    mv_fd_hide(&mv.options.stats_fd);
    if (mv_hrt_start() < 0)
        mv_die("cannot start the HRT (see the messages above)");
    mv_group_handlers_register();
    if (mv_memory_init() < 0)
        mv_die("cannot read /proc/self/maps");
    if (mv.options.rewrite)
        mv_patch_libc();
    group = mv_group_new();
    stack = mmap(NULL, MV_PARTNER_STACK_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (group == NULL || stack == MAP_FAILED)
        mv_die("cannot allocate the main execution group");
    mv_memory_private(stack, MV_PARTNER_STACK_SIZE);
    group->partner_stack = stack;
    main_group_start(group, argc, argv, envp);
    /* The vCPU of the HRT boot is free now and serves the main thread. */
    if (mv_spawner_start() < 0 || mv_group_start_vcpu(group) < 0)
        mv_die("cannot start the HRT thread of main");
    mv_switch_stack(stack + MV_PARTNER_STACK_SIZE, mv_partner_main, group);
}

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                      void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    libc_start_main_fn next =
        (libc_start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");

    if (next == NULL)
        mv_die("cannot find the C library's __libc_start_main");
    mv.main = main;
    return next(hybrid_main, argc, argv, init, fini, rtld_fini, stack_end);
}
