/*
 * Entry of libmultiverse-guest: it interposes the C library's start
 * routine, and before main asks the VMM (hypercall HVM_HC_GROUP_CREATE)
 * to run the main thread on an HRT vCPU from main onwards. The VMM reads
 * this vCPU's CR3 to find the process's page tables. The original thread
 * becomes the partner that serves the HRT thread's system calls.
 *
 * The process must be allowed port I/O on the hypercall ports (root in
 * the guest, for ioperm()). Without a free HRT CPU the program does not
 * start: it exits with status 125 and one line on stderr.
 */
#include "mv_guest.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>

#define GUEST_STACK_GAP (64 * 1024)
#define STACK_PREFAULT (256 * 1024)
#define EXIT_NOT_HYBRIDIZED 125

const char *mv_guest_preload;
uint64_t mv_guest_wait_phases[3];
uint64_t mv_guest_service_cycles;
int mv_guest_stats;

static void number_write(const char *label, uint64_t value)
{
    char digits[24];
    int n = 0;

    mv_write_all(2, label, __builtin_strlen(label));
    do
        digits[sizeof(digits) - 1 - n++] = (char)('0' + value % 10);
    while ((value /= 10) != 0 && n < (int)sizeof(digits));
    mv_write_all(2, digits + sizeof(digits) - n, (size_t)n);
}

/* Raw writes only: partners call this with the application's TLS. */
void mv_guest_stats_print(void)
{
    if (!mv_guest_stats)
        return;
    number_write("mvrun: requests found polling ", mv_guest_wait_phases[0]);
    number_write(", yielding ", mv_guest_wait_phases[1]);
    number_write(", sleeping ", mv_guest_wait_phases[2]);
    number_write("; TSC cycles serving them ", mv_guest_service_cycles);
    mv_write_all(2, "\n", 1);
}

typedef int (*libc_start_main_fn)(int (*)(int, char **, char **), int, char **,
                                  void (*)(void), void (*)(void),
                                  void (*)(void), void *);

static int (*app_main)(int, char **, char **);

long mv_guest_hypercall(unsigned op, uint64_t rdi)
{
    long result;

    __asm__ volatile("outb %%al, %%dx"
                     : "=a"(result)
                     : "d"(HVM_HC_PORT_BASE + op), "D"(rdi), "a"(0)
                     : "memory");
    return result;
}

struct mv_guest_group *mv_guest_group_new(void)
{
    struct mv_guest_group *group;
    uint8_t *channel;
    long size = HVM_CH_SIZE + sizeof(*group);

    channel = (uint8_t *)mv_syscall6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                                     -1, 0);
    if ((long)channel < 0 && (long)channel > -4096)
        return NULL;
    /*
     * The VMM reads the channel by guest physical address, so it must
     * stay resident. NOTE: mlock does not stop page migration; the VMM
     * ends a group whose channel moved (ros_hybrid_cpu.c) rather than
     * follow it.
     */
    if (mv_syscall6(SYS_mlock, (long)channel, HVM_CH_SIZE, 0, 0, 0, 0) < 0) {
        mv_syscall6(SYS_munmap, (long)channel, size, 0, 0, 0, 0);
        return NULL;
    }
    group = (struct mv_guest_group *)(channel + HVM_CH_SIZE);
    group->channel = channel;
    group->partner_stack = (uint8_t *)mv_syscall6(
        SYS_mmap, 0, MV_GUEST_PARTNER_STACK, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if ((long)group->partner_stack < 0 && (long)group->partner_stack > -4096) {
        mv_syscall6(SYS_munmap, (long)channel, size, 0, 0, 0, 0);
        return NULL;
    }
    group->start.channel = (uint64_t)(uintptr_t)channel;
    group->start.lstar = (uint64_t)(uintptr_t)mv_syscall_entry;
    group->start.pid = (uint32_t)mv_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
    return group;
}

/* Keeps LD_PRELOAD for exec and gives main the user's environment. */
static void environment_prepare(void)
{
    static char preload[4096];
    const char *value = getenv("LD_PRELOAD");
    const char *saved = getenv("MV_SAVED_LD_PRELOAD");

    if (value != NULL) {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", value);
        mv_guest_preload = preload;
    }
    if (saved != NULL && saved[0] != '\0')
        setenv("LD_PRELOAD", saved, 1);
    else
        unsetenv("LD_PRELOAD");
    unsetenv("MV_SAVED_LD_PRELOAD");
}

/* Grows the main stack now, so the HRT thread starts on mapped pages. */
static void __attribute__((noinline)) stack_prefault(void)
{
    volatile char *here = (volatile char *)__builtin_frame_address(0);

    for (size_t offset = 4096; offset < STACK_PREFAULT; offset += 4096)
        (void)here[-(long)offset];
}

static const char *create_error(long result)
{
    switch (result) {
    case HVM_ERR_BUSY:
        return "every HRT CPU is busy";
    case HVM_ERR_STATE:
        return "the HRT is not booted or is rebooting";
    case HVM_ERR_NOSYS:
        return "this VMM does not hybridize guest processes";
    default:
        return "the VMM rejected the request";
    }
}

static int hybrid_main(int argc, char **argv, char **envp)
{
    uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    struct mv_guest_group *group;
    uint64_t fs_base = 0;
    long result;

    mv_guest_stats = getenv("MV_GUEST_STATS") != NULL;
    environment_prepare();
    if (ioperm(HVM_HC_PORT_BASE, HVM_HC_PORT_COUNT, 1) < 0) {
        perror("mvrun: ioperm of the hypercall ports (run as root in the "
               "hvm guest)");
        exit(EXIT_NOT_HYBRIDIZED);
    }
    stack_prefault();
    group = mv_guest_group_new();
    if (group == NULL) {
        fprintf(stderr, "mvrun: cannot allocate a locked channel page\n");
        exit(EXIT_NOT_HYBRIDIZED);
    }
    mv_syscall6(SYS_arch_prctl, ARCH_GET_FS, (long)&fs_base, 0, 0, 0, 0);
    group->start.rip = (uint64_t)(uintptr_t)mv_guest_main;
    group->start.rsp = (here - GUEST_STACK_GAP) & ~15ULL;
    group->start.rflags = 0x202;
    group->start.fs_base = fs_base;
    group->start.gprs[5] = (uint64_t)(uintptr_t)app_main; /* RDI */
    group->start.gprs[4] = (uint64_t)argc;                /* RSI */
    group->start.gprs[3] = (uint64_t)(uintptr_t)argv;     /* RDX */
    group->start.gprs[2] = (uint64_t)(uintptr_t)envp;     /* RCX */
    group->start.tid = (uint32_t)mv_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    fflush(NULL);
    result = mv_guest_hypercall(HVM_HC_GROUP_CREATE,
                                (uint64_t)(uintptr_t)&group->start);
    if (result < 0) {
        fprintf(stderr, "mvrun: cannot hybridize %s: %s (error %ld)\n", argv[0],
                create_error(result), result);
        exit(EXIT_NOT_HYBRIDIZED);
    }
    mv_switch_stack(group->partner_stack + MV_GUEST_PARTNER_STACK,
                    mv_guest_partner_main, group);
}

/*
 * First code of a new thread's partner (a Linux thread created with the
 * application's clone flags). Without a free HRT CPU the application
 * thread runs natively here instead, from the instruction after its
 * clone, so that the program still works.
 */
void mv_guest_thread_start(void *arg)
{
    struct mv_guest_group *group = arg;

    group->start.tid = (uint32_t)mv_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    if (mv_guest_hypercall(HVM_HC_GROUP_CREATE,
                           (uint64_t)(uintptr_t)&group->start) < 0)
        mv_native_resume(&group->native);
    mv_guest_partner_main(group);
}

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                      void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    libc_start_main_fn next =
        (libc_start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");

    if (next == NULL)
        mv_die("cannot find the C library's __libc_start_main");
    app_main = main;
    return next(hybrid_main, argc, argv, init, fini, rtld_fini, stack_end);
}
