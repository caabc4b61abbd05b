/*
 * Execution groups and their vCPU threads. Each application thread runs
 * on a vCPU owned by a hidden host thread, which serves the exits of that
 * vCPU: sleeping until the partner replies, waking the partner, applying
 * FS-base changes and thread exits, and turning faults into memory slots
 * or into the signal Linux would have sent.
 */
#include "mv.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EFAULT_RETRIES 3

static atomic_uint next_group_id;

/* vCPUs whose threads have exited, ready for new threads. */
static struct vmm_vcpu *free_vcpus[VMM_MAX_VCPUS];
static unsigned nr_free_vcpus;
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;

struct mv_group *mv_group_new(void)
{
    struct mv_group *group;
    uint8_t *channel;

    /* Raw mmap: partners call this with the application's TLS. */
    channel = (uint8_t *)mv_syscall6(
        SYS_mmap, 0, HVM_CH_SIZE + sizeof(*group), PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if ((long)channel < 0 && (long)channel > -4096)
        return NULL;
    mv_syscall6(SYS_mlock, (long)channel, HVM_CH_SIZE, 0, 0, 0, 0);
    group = (struct mv_group *)(channel + HVM_CH_SIZE);
    group->channel = channel;
    group->id = atomic_fetch_add(&next_group_id, 1);
    return group;
}

void mv_signal_self(struct mv_group *group, int signo)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } action = {.handler = SIG_DFL};
    uint64_t unblock = 1ULL << (signo - 1);
    long pid = mv_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);

    if (atomic_load(&mv.handled_signals) & unblock)
        vmm_print_raw("hvm: the program's handler for signal %d (%s) cannot "
                      "run for a fault in HRT code; the program ends with "
                      "the signal's default action\n",
                      signo, sigabbrev_np(signo));

    mv_syscall6(SYS_rt_sigaction, signo, (long)&action, 0, 8, 0, 0);
    mv_syscall6(SYS_tgkill, pid, group->partner_tid, signo, 0, 0, 0);
    mv_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&unblock, 0, 8, 0, 0);
    for (;;)
        pause();
}

static int64_t on_channel_wait(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    struct mv_group *group = vcpu->user;
    atomic_uint *rep = (atomic_uint *)(group->channel + HVM_CH_REP_SEQ);
    atomic_uint *req = (atomic_uint *)(group->channel + HVM_CH_REQ_SEQ);
    atomic_uint *waiting =
        (atomic_uint *)(group->channel + HVM_CH_GUEST_WAITING);
    uint64_t start = vmm_now_ns();

    (void)call;
    (void)ctx;
    atomic_store(waiting, 1);
    for (;;) {
        unsigned seen = atomic_load(rep);

        if (seen == atomic_load(req) || atomic_load(&mv.vm->stopping))
            break;
        mv_futex_wait(rep, seen);
    }
    atomic_store(waiting, 0);
    group->wait_ns += vmm_now_ns() - start;
    return HVM_OK;
}

static int64_t on_channel_wake(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    struct mv_group *group = vcpu->user;

    (void)call;
    (void)ctx;
    atomic_fetch_add(&mv.stats.wakeups, 1);
    mv_futex_wake((atomic_uint *)(group->channel + HVM_CH_REQ_SEQ));
    return HVM_OK;
}

static int64_t on_channel_action(struct vmm_vcpu *vcpu,
                                 const struct vmm_hypercall *call, void *ctx)
{
    struct mv_group *group = vcpu->user;
    struct kvm_sregs sregs;

    (void)call;
    (void)ctx;
    *(uint64_t *)(group->channel + HVM_CH_ACTION) = HVM_CH_ACTION_NONE;
    switch (group->action) {
    case MV_ACTION_SET_FS:
        if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
            return HVM_ERR_STATE;
        sregs.fs.base = group->action_arg;
        group->fs_base = group->action_arg;
        if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
            return HVM_ERR_STATE;
        break;
    case MV_ACTION_TERMINATE:
        vcpu->leave_loop = 1;
        break;
    case MV_ACTION_NONE:
        break;
    }
    group->action = MV_ACTION_NONE;
    return HVM_OK;
}

static int exception_signal(uint64_t vector)
{
    switch (vector) {
    case 0:  /* #DE */
    case 16: /* #MF */
    case 19: /* #XM */
        return SIGFPE;
    case 1: /* #DB */
    case 3: /* #BP */
        return SIGTRAP;
    case 6: /* #UD */
        return SIGILL;
    case 17: /* #AC */
        return SIGBUS;
    default: /* #GP, #SS, #NP, #PF and anything unexpected */
        return SIGSEGV;
    }
}

static int64_t on_exception(struct vmm_vcpu *vcpu,
                            const struct vmm_hypercall *call, void *ctx)
{
    struct mv_group *group = vcpu->user;
    const struct hvm_exception *frame =
        vmm_gpa_to_hva(vcpu->vm, call->args[0], sizeof(*frame));
    struct hvm_exception copy;

    (void)ctx;
    if (frame == NULL || group == NULL)
        return HVM_ERR_FAULT;
    copy = *frame;
    if (copy.vector == 14 && copy.cr2 < (1ULL << 47) &&
        mv_memory_fault(copy.cr2, (copy.error_code >> 1) & 1,
                        (copy.error_code >> 4) & 1) == 0 &&
        mv_memory_map_range(copy.cr2, copy.cr2 + 1) == 0) {
        atomic_fetch_add(&mv.stats.page_faults, 1);
        return HVM_OK;
    }
    vmm_info("thread %u: exception %llu at RIP 0x%llx (error 0x%llx, "
             "CR2 0x%llx): sending signal %d",
             group->id, (unsigned long long)copy.vector,
             (unsigned long long)copy.rip, (unsigned long long)copy.error_code,
             (unsigned long long)copy.cr2, exception_signal(copy.vector));
    mv_signal_self(group, exception_signal(copy.vector));
}

static enum vmm_action on_mmio(struct vmm_vcpu *vcpu, void *ctx)
{
    struct kvm_run *run = vcpu->run;
    uint64_t address = run->mmio.phys_addr;
    unsigned length = run->mmio.len;

    (void)ctx;
    if (length <= sizeof(run->mmio.data) &&
        mv_memory_fault(address, run->mmio.is_write, 0) == 0) {
        /* Finish the access the emulator started; the slot serves the next. */
        if (run->mmio.is_write)
            memcpy((void *)(uintptr_t)address, run->mmio.data, length);
        else
            memcpy(run->mmio.data, (void *)(uintptr_t)address, length);
        atomic_fetch_add(&mv.stats.memory_faults, 1);
        return VMM_RESUME;
    }
    vmm_info("thread %u: %s of %u bytes at 0x%llx has no mapping: "
             "sending SIGSEGV",
             ((struct mv_group *)vcpu->user)->id,
             run->mmio.is_write ? "write" : "read", length,
             (unsigned long long)address);
    mv_signal_self(vcpu->user, SIGSEGV);
}

static enum vmm_action on_internal_error(struct vmm_vcpu *vcpu, void *ctx)
{
    struct kvm_regs regs;

    (void)ctx;
    /* An instruction fetch from memory without a slot ends up here. */
    if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0 && regs.rip < (1ULL << 47) &&
        mv_memory_fault(regs.rip, 0, 1) == 0 &&
        vcpu->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
        !(vcpu->run->emulation_failure.flags &
          KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
        atomic_fetch_add(&mv.stats.memory_faults, 1);
        return VMM_RESUME;
    }
    vmm_vcpu_dump(vcpu, "KVM cannot run an instruction of the program in "
                        "the HRT (sending SIGILL)");
    if (mv.options.privilege == MV_PRIVILEGE_KERNEL)
        vmm_print_raw("hvm: ring-0 code is interpreted by KVM on this "
                      "host and some instructions are not supported; "
                      "use --privilege user\n");
    mv_signal_self(vcpu->user, SIGILL);
}

static enum vmm_action on_run_error(struct vmm_vcpu *vcpu, int error)
{
    static _Thread_local unsigned retries;

    /* EFAULT: host memory under a slot changed; the slots are stale. */
    if (error == EFAULT && retries++ < EFAULT_RETRIES) {
        mv_memory_resync();
        return VMM_RESUME;
    }
    retries = 0;
    vmm_vcpu_dump(vcpu, "KVM_RUN failed on the program's memory");
    mv_signal_self(vcpu->user, SIGSEGV);
}

static int64_t on_console_write(struct vmm_vcpu *vcpu,
                                const struct vmm_hypercall *call, void *ctx)
{
    uint64_t length = call->args[1];
    const char *text;

    (void)ctx;
    if (length > HVM_CONSOLE_WRITE_MAX)
        return HVM_ERR_INVAL;
    text = vmm_gpa_to_hva(vcpu->vm, call->args[0], length);
    if (text == NULL)
        return HVM_ERR_FAULT;
    vmm_print_raw("hrt: %.*s", (int)length, text);
    return (int64_t)length;
}

static int64_t on_panic(struct vmm_vcpu *vcpu, const struct vmm_hypercall *call,
                        void *ctx)
{
    const struct hvm_panic_report *report =
        vmm_gpa_to_hva(vcpu->vm, call->args[0], sizeof(*report));
    char message[sizeof(report->message)];

    (void)ctx;
    if (report == NULL)
        mv_die("the HRT panicked with an invalid report address");
    vmm_guest_string(message, report->message, sizeof(message));
    vmm_print_raw("hvm: HRT panic on vCPU %u: %s (vector %u, error 0x%llx, RIP "
                  "0x%llx, CR2 0x%llx)\n",
                  vcpu->index, message, report->vector,
                  (unsigned long long)report->error_code,
                  (unsigned long long)report->rip,
                  (unsigned long long)report->cr2);
    mv_die("the HRT kernel failed");
}

void mv_group_handlers_register(void)
{
    struct vmm_vm *vm = mv.vm;

    vmm_hypercall_register(vm, HVM_HC_CHANNEL_WAIT, on_channel_wait, NULL);
    vmm_hypercall_register(vm, HVM_HC_CHANNEL_WAKE, on_channel_wake, NULL);
    vmm_hypercall_register(vm, HVM_HC_CHANNEL_ACTION, on_channel_action, NULL);
    vmm_hypercall_register(vm, HVM_HC_EXCEPTION, on_exception, NULL);
    vmm_hypercall_register(vm, HVM_HC_CONSOLE_WRITE, on_console_write, NULL);
    vmm_hypercall_register(vm, HVM_HC_PANIC, on_panic, NULL);
    vm->exit_handlers[KVM_EXIT_MMIO] = on_mmio;
    vm->exit_handlers[KVM_EXIT_INTERNAL_ERROR] = on_internal_error;
    vm->run_error_handler = on_run_error;
}

static struct vmm_vcpu *vcpu_take(void)
{
    struct vmm_vcpu *vcpu = NULL;

    pthread_mutex_lock(&free_lock);
    if (nr_free_vcpus > 0)
        vcpu = free_vcpus[--nr_free_vcpus];
    pthread_mutex_unlock(&free_lock);
    return vcpu != NULL ? vcpu : mv_vcpu_new();
}

void mv_vcpu_release(struct vmm_vcpu *vcpu)
{
    vcpu->user = NULL;
    pthread_mutex_lock(&free_lock);
    free_vcpus[nr_free_vcpus++] = vcpu;
    pthread_mutex_unlock(&free_lock);
}

/*
 * A vCPU thread whose application thread has ended waits for the next
 * group instead of exiting, so a new thread costs no pthread_create.
 */
struct idle_worker {
    atomic_uint ready; /* futex word: 1 once group is set */
    struct mv_group *group;
};

static struct idle_worker *idle_workers[VMM_MAX_VCPUS];
static unsigned nr_idle_workers;

/* Groups whose HRT thread runs now, for the statistics. */
static struct mv_group *live_groups[VMM_MAX_VCPUS];

uint64_t mv_thread_time_ns(void)
{
    uint64_t total = atomic_load(&mv.stats.ended_thread_ns);
    uint64_t now = vmm_now_ns();

    pthread_mutex_lock(&free_lock);
    for (unsigned i = 0; i < VMM_MAX_VCPUS; i++) {
        if (live_groups[i] != NULL)
            total += now - live_groups[i]->run_start_ns;
    }
    pthread_mutex_unlock(&free_lock);
    return total;
}

static void group_run(struct mv_group *group)
{
    struct vmm_vcpu *vcpu = group->vcpu;

    vcpu->user = group;
    vcpu->thread = pthread_self();
    vcpu->thread_started = 1;
    group->run_start_ns = vmm_now_ns();
    pthread_mutex_lock(&free_lock);
    live_groups[vcpu->index % VMM_MAX_VCPUS] = group;
    pthread_mutex_unlock(&free_lock);
    if (mv_vcpu_enter_state(vcpu, group) < 0)
        mv_die("cannot set the HRT state of a new thread");
    vmm_vcpu_run_loop(vcpu);
    if (atomic_load(&mv.vm->stopping))
        mv_die("the HRT stopped unexpectedly");
    vcpu->thread_started = 0;
    pthread_mutex_lock(&free_lock);
    live_groups[vcpu->index % VMM_MAX_VCPUS] = NULL;
    pthread_mutex_unlock(&free_lock);
    atomic_fetch_add(&mv.stats.ended_thread_ns,
                     vmm_now_ns() - group->run_start_ns);
    mv_vcpu_release(vcpu);
    atomic_store(&group->vcpu_released, 1);
    mv_futex_wake(&group->vcpu_released);
}

static void *vcpu_thread_main(void *arg)
{
    struct mv_group *group = arg;
    struct idle_worker self;

    for (;;) {
        group_run(group);
        atomic_store(&self.ready, 0);
        self.group = NULL;
        pthread_mutex_lock(&free_lock);
        idle_workers[nr_idle_workers++] = &self;
        pthread_mutex_unlock(&free_lock);
        while (atomic_load(&self.ready) == 0)
            mv_futex_wait(&self.ready, 0);
        group = self.group;
    }
    return NULL;
}

/* Hands group to a waiting vCPU thread. Returns 0, or -1 if none waits. */
static int idle_worker_take(struct mv_group *group)
{
    struct idle_worker *worker = NULL;

    pthread_mutex_lock(&free_lock);
    if (nr_idle_workers > 0)
        worker = idle_workers[--nr_idle_workers];
    pthread_mutex_unlock(&free_lock);
    if (worker == NULL)
        return -1;
    worker->group = group;
    atomic_store(&worker->ready, 1);
    mv_futex_wake(&worker->ready);
    return 0;
}

/* vCPU threads never take the application's signals. */
static void block_all_signals(sigset_t *saved)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, saved);
}

int mv_group_start_vcpu(struct mv_group *group)
{
    pthread_attr_t attr;
    sigset_t saved;
    int result;

    group->vcpu = vcpu_take();
    if (group->vcpu == NULL)
        return -1;
    atomic_fetch_add(&mv.stats.threads, 1);
    if (idle_worker_take(group) == 0)
        return 0;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    block_all_signals(&saved);
    result =
        pthread_create(&group->vcpu_thread, &attr, vcpu_thread_main, group);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
    return result == 0 ? 0 : -1;
}

/*
 * The spawner: partners cannot create vCPU threads themselves, because
 * they run with an application thread's TLS and pthread_create would use
 * it. They queue new groups here instead.
 */
#define SPAWN_QUEUE 1024

static struct mv_group *spawn_queue[SPAWN_QUEUE];
static atomic_uint spawn_head, spawn_tail;

void mv_spawn_request(struct mv_group *group)
{
    unsigned tail = atomic_fetch_add(&spawn_tail, 1);

    /* Wait for room rather than drop a thread. */
    while (tail - atomic_load(&spawn_head) >= SPAWN_QUEUE)
        __builtin_ia32_pause();
    __atomic_store_n(&spawn_queue[tail % SPAWN_QUEUE], group, __ATOMIC_RELEASE);
    mv_futex_wake(&spawn_tail);
}

static void *spawner_main(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned head = atomic_load(&spawn_head);
        unsigned tail = atomic_load(&spawn_tail);
        struct mv_group *group;

        if (head == tail) {
            mv_futex_wait(&spawn_tail, tail);
            continue;
        }
        while ((group = __atomic_load_n(&spawn_queue[head % SPAWN_QUEUE],
                                        __ATOMIC_ACQUIRE)) == NULL)
            __builtin_ia32_pause();
        spawn_queue[head % SPAWN_QUEUE] = NULL;
        atomic_store(&spawn_head, head + 1);
        if (mv_group_start_vcpu(group) < 0)
            mv_die("cannot start the vCPU thread of a new thread");
    }
    return NULL;
}

int mv_spawner_start(void)
{
    pthread_t thread;
    sigset_t saved;
    int result;

    block_all_signals(&saved);
    result = pthread_create(&thread, NULL, spawner_main, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (result != 0)
        return -1;
    pthread_detach(thread);
    return 0;
}
