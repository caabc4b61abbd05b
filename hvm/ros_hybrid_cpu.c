/*
 * Guest-ROS hybridization, HRT side of the VMM: an idle HRT vCPU lent by
 * hrt_boot runs one execution group in ring 3 on its process's merged
 * PML4, and the hypercalls it makes are served here (waiting for the
 * partner, applying channel actions, forwarding exceptions).
 *
 * The HRT thread runs with RFLAGS.IF clear: nothing interrupts it in the
 * guest, and the VMM reaches it by kicking its host thread out of
 * KVM_RUN. The partner in Linux cannot wake a host thread cheaply (each
 * exit of guest ring 3 costs tens of microseconds here), so a waiting
 * HRT thread sleeps in the VMM in short steps and polls the channel.
 */
#include "ros_hybrid_impl.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "pagetable.h"

#define CR3_PWT (1ULL << 3)
#define USER_TOP (1ULL << 47)
#define WAIT_STEP_NS 200000        /* sleep between channel polls */
#define HAND_OVER_NS 1000000000ULL /* CPU must take a group within 1 s */
#define FAULT_REPEAT_MAX 4
#define LIVENESS_POLLS 5000 /* about every 100 ms of waiting */
/* The HRT side polls this long before it sleeps in the VMM. A forwarded
 * call takes hundreds of microseconds in a guest whose ring 0 is
 * interpreted, and a poller holds a host CPU that the ROS vCPU serving
 * the call may need, so the HRT side polls only briefly. */
#define HRT_SPIN_US 100
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define IDLE_MSRS 4

/* The idle HRT kernel's vCPU state, saved while a group borrows the vCPU. */
struct idle_state {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct {
        struct kvm_msrs header;
        struct kvm_msr_entry entries[IDLE_MSRS];
    } msrs;
};

static void sleep_ns(long ns)
{
    struct timespec step = {0, ns};

    nanosleep(&step, NULL);
}

static int idle_save(struct vmm_vcpu *vcpu, struct idle_state *idle)
{
    static const uint32_t indices[IDLE_MSRS] = {MSR_STAR, MSR_LSTAR, MSR_SFMASK,
                                                MSR_KERNEL_GS_BASE};

    memset(idle, 0, sizeof(*idle));
    idle->msrs.header.nmsrs = IDLE_MSRS;
    for (unsigned i = 0; i < IDLE_MSRS; i++)
        idle->msrs.entries[i].index = indices[i];
    if (ioctl(vcpu->fd, KVM_GET_REGS, &idle->regs) < 0 ||
        ioctl(vcpu->fd, KVM_GET_SREGS, &idle->sregs) < 0 ||
        ioctl(vcpu->fd, KVM_GET_MSRS, &idle->msrs) != IDLE_MSRS) {
        vmm_error("hybrid: saving the idle state of vCPU %u failed: %s",
                  vcpu->index, strerror(errno));
        return -1;
    }
    return 0;
}

static void idle_restore(struct vmm_vcpu *vcpu, const struct idle_state *idle)
{
    struct kvm_mp_state runnable = {.mp_state = KVM_MP_STATE_RUNNABLE};

    if (ioctl(vcpu->fd, KVM_SET_SREGS, &idle->sregs) < 0 ||
        ioctl(vcpu->fd, KVM_SET_REGS, &idle->regs) < 0 ||
        ioctl(vcpu->fd, KVM_SET_MSRS, &idle->msrs) != IDLE_MSRS ||
        ioctl(vcpu->fd, KVM_SET_MP_STATE, &runnable) < 0) {
        vmm_error("hybrid: restoring the idle HRT on vCPU %u failed: %s",
                  vcpu->index, strerror(errno));
        vmm_vm_stop(vcpu->vm, 1);
    }
}

static uint64_t cr3_value(struct hybrid_group *group)
{
    return group->process->pml4_gpa | (group->cr3_toggle ? CR3_PWT : 0);
}

/*
 * Loads the process's current PML4 with a CR3 value that differs from
 * the last one, so that KVM drops its cached root and syncs the shadow
 * pages of the process: the HRT's TLB flush after mapping changes.
 */
static int cr3_reload(struct hvm_ros_hybrid *hybrid, struct hybrid_group *group)
{
    struct vmm_vcpu *vcpu = group->cpu->vcpu;
    struct kvm_sregs sregs;

    if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
        return -1;
    pthread_mutex_lock(&hybrid->lock);
    group->cr3_toggle ^= 1;
    sregs.cr3 = cr3_value(group);
    group->generation = group->process->generation;
    pthread_mutex_unlock(&hybrid->lock);
    if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0) {
        vmm_error_errno("KVM_SET_SREGS (HRT CR3 reload)");
        return -1;
    }
    return 0;
}

/* Puts the group's first state into the vCPU, ring 3. */
static int group_enter(struct hybrid_group *group,
                       const struct idle_state *idle)
{
    struct vmm_vcpu *vcpu = group->cpu->vcpu;
    const struct hvm_group_start *start = &group->start;
    struct vmm_long_mode state = group->cpu->state;
    const uint64_t *g = start->gprs;
    struct kvm_regs regs = {
        .rax = g[0],
        .rbx = g[1],
        .rcx = g[2],
        .rdx = g[3],
        .rsi = g[4],
        .rdi = g[5],
        .rbp = g[6],
        .r8 = g[7],
        .r9 = g[8],
        .r10 = g[9],
        .r11 = g[10],
        .r12 = g[11],
        .r13 = g[12],
        .r14 = g[13],
        .r15 = g[14],
        .rip = start->rip,
        .rsp = start->rsp,
        .rflags = start->rflags | 0x2,
    };

    state.cr3 = cr3_value(group);
    state.idt_base = idle->sregs.idt.base;
    state.idt_limit = idle->sregs.idt.limit;
    state.user = 1;
    state.fs_base = start->fs_base;
    state.gs_base = start->channel;
    state.rip = start->rip;
    state.rsp = start->rsp;
    state.rflags = regs.rflags;
    state.lstar = start->lstar;
    state.sse = 1;
    *(volatile uint64_t *)(group->channel + HVM_CH_SELF) = start->channel;
    *(volatile uint64_t *)(group->channel + HVM_CH_APP_RING) = 3;
    *(volatile uint64_t *)(group->channel + HVM_CH_SPIN_CYCLES) =
        group->cpu->boot->tsc_khz * HRT_SPIN_US / 1000;
    *(volatile uint64_t *)(group->channel + HVM_CH_ACTION) = 0;
    if (vmm_x86_set_long_mode(vcpu, &state) < 0)
        return -1;
    if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0) {
        vmm_error_errno("KVM_SET_REGS (HRT thread start)");
        return -1;
    }
    return 0;
}

static int reboot_pending(struct hrt_boot *boot)
{
    int pending;

    pthread_mutex_lock(&boot->lock);
    pending = boot->reboot_requested;
    pthread_mutex_unlock(&boot->lock);
    return pending;
}

/* Runs the group until it ends; the vCPU leaves its loop for each event. */
static void group_run(struct hvm_ros_hybrid *hybrid, struct hybrid_group *group)
{
    struct vmm_vcpu *vcpu = group->cpu->vcpu;

    for (;;) {
        int ending, stale;

        vmm_vcpu_run_loop(vcpu);
        if (atomic_load(&vcpu->vm->stopping))
            return;
        if (reboot_pending(hybrid->boot)) {
            vmm_warn("hybrid: HRT reboot while process %u runs there: its "
                     "HRT thread is lost",
                     group->process->pid);
            return;
        }
        pthread_mutex_lock(&hybrid->lock);
        ending = group->state == GROUP_ENDING;
        stale = group->generation != group->process->generation;
        pthread_mutex_unlock(&hybrid->lock);
        if (ending)
            return;
        if (stale && cr3_reload(hybrid, group) < 0)
            return;
    }
}

/* Frees the group's CPU and, with its last group, the process. */
static void group_finish(struct hvm_ros_hybrid *hybrid,
                         struct hybrid_group *group)
{
    struct hybrid_process *process = group->process;

    vmm_debug("hybrid: process %u: HRT CPU %u served %llu calls, %llu "
              "waits for the partner (%.1f ms)",
              process->pid, group->cpu->cpu,
              (unsigned long long)*(volatile uint64_t *)(group->channel +
                                                         HVM_CH_CALLS),
              (unsigned long long)group->waits, group->wait_ns / 1e6);
    pthread_mutex_lock(&hybrid->lock);
    if (group->thread_exited) {
        process->calls_done +=
            *(volatile uint64_t *)(group->channel + HVM_CH_CALLS);
        /* The partner waits for this before its Linux thread exits. */
        __atomic_store_n((uint32_t *)(group->channel + HVM_CH_STOPPED), 1,
                         __ATOMIC_RELEASE);
    }
    if (--process->threads == 0)
        hybrid_process_release(hybrid, process);
    memset(group, 0, sizeof(*group));
    group->state = GROUP_FREE;
    pthread_mutex_unlock(&hybrid->lock);
}

void hybrid_cpu_lend(struct hrt_boot_cpu *cpu, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hybrid_group *group = &hybrid->groups[cpu->cpu];
    struct idle_state idle;
    int taken;

    pthread_mutex_lock(&hybrid->lock);
    taken = group->state == GROUP_PENDING;
    if (taken)
        group->state = GROUP_RUNNING;
    pthread_mutex_unlock(&hybrid->lock);
    if (!taken)
        return;
    if (idle_save(cpu->vcpu, &idle) == 0) {
        group->generation = group->process->generation;
        if (group_enter(group, &idle) == 0)
            group_run(hybrid, group);
        idle_restore(cpu->vcpu, &idle);
    }
    group_finish(hybrid, group);
}

int hybrid_group_hand_over(struct hvm_ros_hybrid *hybrid,
                           struct hybrid_group *group)
{
    struct vmm_vcpu *vcpu = group->cpu->vcpu;
    uint64_t deadline = vmm_now_ns() + HAND_OVER_NS;
    int pending = 1;

    /* The idle CPU sleeps in hlt inside KVM_RUN; the kick ends that. */
    while (pending && vmm_now_ns() < deadline &&
           !atomic_load(&hybrid->vm->stopping)) {
        vcpu->leave_loop = 1;
        vmm_vcpu_kick(vcpu);
        sleep_ns(200000);
        pthread_mutex_lock(&hybrid->lock);
        pending = group->state == GROUP_PENDING;
        pthread_mutex_unlock(&hybrid->lock);
    }
    if (!pending)
        return 0;
    pthread_mutex_lock(&hybrid->lock);
    if (group->state == GROUP_PENDING) {
        struct hybrid_process *process = group->process;

        vmm_error("hybrid: HRT CPU %u did not take a new thread within 1 s",
                  group->cpu->cpu);
        memset(group, 0, sizeof(*group));
        if (--process->threads == 0)
            hybrid_process_release(hybrid, process);
        pending = -1;
    }
    pthread_mutex_unlock(&hybrid->lock);
    return pending < 0 ? -1 : 0;
}

/* The group running on an HRT vCPU, or NULL. */
static struct hybrid_group *group_of(struct hvm_ros_hybrid *hybrid,
                                     struct vmm_vcpu *vcpu)
{
    int cpu = hrt_boot_cpu_of(hybrid->boot, vcpu);

    if (cpu < 0 || hybrid->groups[cpu].state == GROUP_FREE ||
        hybrid->groups[cpu].state == GROUP_PENDING)
        return NULL;
    return &hybrid->groups[cpu];
}

static int group_ending(struct hvm_ros_hybrid *hybrid,
                        struct hybrid_group *group)
{
    int ending;

    pthread_mutex_lock(&hybrid->lock);
    ending = group->state == GROUP_ENDING;
    pthread_mutex_unlock(&hybrid->lock);
    return ending || atomic_load(&hybrid->vm->stopping);
}

/*
 * Checks that the process still maps its channel where it did. A process
 * killed without HVM_HC_PROCESS_EXIT (SIGKILL, a fatal signal from
 * outside) fails this once Linux has freed or reused its page tables;
 * its groups then end.
 * NOTE: an HRT thread that never waits for its partner is not checked.
 */
static int process_alive(struct hvm_ros_hybrid *hybrid,
                         struct hybrid_group *group)
{
    struct hvm_merge_source src = hybrid_source(hybrid);
    uint64_t gpa, rights;
    const void *host;
    int alive;

    pthread_mutex_lock(&hybrid->lock);
    alive = hvm_merge_translate(&src, group->process->root.user_root,
                                group->start.channel, &gpa, &rights) == 0 &&
            (host = src.read(src.ctx, gpa, HVM_CH_SIZE)) != NULL &&
            host == group->channel;
    if (!alive) {
        vmm_warn("hybrid: process %u no longer maps its channel: ending "
                 "its HRT thread on CPU %u",
                 group->process->pid, group->cpu->cpu);
        group->state = GROUP_ENDING;
    }
    pthread_mutex_unlock(&hybrid->lock);
    return alive;
}

/*
 * Polls until the partner has replied to the last request. Returns 0, or
 * -1 when the group ends first (the vCPU then leaves its loop) or after
 * timeout_ns (0: none).
 */
static int reply_wait(struct hvm_ros_hybrid *hybrid, struct hybrid_group *group,
                      uint64_t timeout_ns)
{
    volatile uint32_t *req = (uint32_t *)(group->channel + HVM_CH_REQ_SEQ);
    volatile uint32_t *rep = (uint32_t *)(group->channel + HVM_CH_REP_SEQ);
    uint64_t deadline = timeout_ns ? vmm_now_ns() + timeout_ns : UINT64_MAX;

    group->waits++;
    for (unsigned polls = 1; *rep != *req; polls++) {
        if (group_ending(hybrid, group) || vmm_now_ns() > deadline ||
            (polls % LIVENESS_POLLS == 0 && !process_alive(hybrid, group))) {
            group->cpu->vcpu->leave_loop = 1;
            return -1;
        }
        sleep_ns(WAIT_STEP_NS);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return 0;
}

static int64_t on_channel_wait(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hybrid_group *group = group_of(hybrid, vcpu);
    uint64_t start = vmm_now_ns();

    (void)call;
    if (group == NULL)
        return HVM_ERR_STATE;
    reply_wait(hybrid, group, 0);
    group->wait_ns += vmm_now_ns() - start;
    return HVM_OK;
}

/* The guest partner polls and never sleeps on a futex of the VMM. */
static int64_t on_channel_wake(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    (void)vcpu, (void)call, (void)ctx;
    return HVM_OK;
}

/* Flushes this CPU now and makes the process's other CPUs flush. */
static void process_flush(struct hvm_ros_hybrid *hybrid,
                          struct hybrid_group *group)
{
    pthread_mutex_lock(&hybrid->lock);
    group->process->generation++;
    group->process->flushes++;
    hybrid_process_kick(hybrid, group->process, group);
    pthread_mutex_unlock(&hybrid->lock);
    cr3_reload(hybrid, group);
}

static int fs_base_set(struct vmm_vcpu *vcpu, uint64_t base)
{
    struct kvm_sregs sregs;

    if (base >= USER_TOP || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
        return HVM_ERR_INVAL;
    sregs.fs.base = base;
    if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
        return HVM_ERR_STATE;
    return HVM_OK;
}

static int64_t on_channel_action(struct vmm_vcpu *vcpu,
                                 const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hybrid_group *group = group_of(hybrid, vcpu);
    volatile uint64_t *action;
    uint64_t bits, arg;
    int64_t result = HVM_OK;

    (void)call;
    if (group == NULL)
        return HVM_ERR_STATE;
    action = (uint64_t *)(group->channel + HVM_CH_ACTION);
    bits = *action;
    arg = *(volatile uint64_t *)(group->channel + HVM_CH_ACTION_ARG);
    *action = HVM_CH_ACTION_NONE;
    if (bits & HVM_CH_ACTION_FLUSH)
        process_flush(hybrid, group);
    if (bits & HVM_CH_ACTION_SET_FS)
        result = fs_base_set(vcpu, arg);
    if (bits & HVM_CH_ACTION_EXIT) {
        pthread_mutex_lock(&hybrid->lock);
        group->state = GROUP_ENDING;
        group->thread_exited = 1;
        pthread_mutex_unlock(&hybrid->lock);
        vcpu->leave_loop = 1;
    }
    return result;
}

/* Writes an exception request into the request line for the partner. */
static void exception_request(struct hybrid_group *group,
                              const struct hvm_exception *exc)
{
    uint8_t *ch = group->channel;
    uint32_t *req = (uint32_t *)(ch + HVM_CH_REQ_SEQ);

    *(volatile uint64_t *)(ch + HVM_CH_NR) = HVM_CH_NR_EXCEPTION;
    *(volatile uint64_t *)(ch + HVM_CH_ARGS + 0) = exc->vector;
    *(volatile uint64_t *)(ch + HVM_CH_ARGS + 8) = exc->error_code;
    *(volatile uint64_t *)(ch + HVM_CH_ARGS + 16) = exc->cr2;
    *(volatile uint64_t *)(ch + HVM_CH_ARGS + 24) = exc->rip;
    __atomic_fetch_add(req, 1, __ATOMIC_SEQ_CST);
}

/* A user-half page fault the merge itself can fix. Returns 1 if fixed. */
static int fault_merge_fix(struct hvm_ros_hybrid *hybrid,
                           struct hybrid_group *group)
{
    int refreshed;

    pthread_mutex_lock(&hybrid->lock);
    refreshed = hybrid_process_refresh(hybrid, group->process);
    if (refreshed > 0)
        hybrid_process_kick(hybrid, group->process, group);
    pthread_mutex_unlock(&hybrid->lock);
    if (refreshed <= 0)
        return 0;
    cr3_reload(hybrid, group);
    return 1;
}

static int64_t on_exception(struct vmm_vcpu *vcpu,
                            const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hybrid_group *group = group_of(hybrid, vcpu);
    const struct hvm_exception *frame;
    struct hvm_exception exc;

    if (group == NULL)
        return HVM_ERR_STATE;
    if (call->args[0] < hybrid->hrt_gpa ||
        call->args[0] + sizeof(exc) > hybrid->hrt_gpa + hybrid->hrt_size)
        return HVM_ERR_FAULT;
    frame = vmm_gpa_to_hva(hybrid->vm, call->args[0], sizeof(exc));
    if (frame == NULL)
        return HVM_ERR_FAULT;
    exc = *frame;
    if (exc.vector == 14 && exc.cr2 < USER_TOP &&
        fault_merge_fix(hybrid, group))
        return HVM_OK;
    exception_request(group, &exc);
    if (reply_wait(hybrid, group, 0) < 0)
        return HVM_ERR_STATE;
    vmm_debug("hybrid: process %u: exception %llu at RIP 0x%llx (error "
              "0x%llx, CR2 0x%llx): partner returned %lld",
              group->process->pid, (unsigned long long)exc.vector,
              (unsigned long long)exc.rip, (unsigned long long)exc.error_code,
              (unsigned long long)exc.cr2,
              (long long)*(volatile int64_t *)(group->channel + HVM_CH_RET));
    if (*(volatile int64_t *)(group->channel + HVM_CH_RET) != 0) {
        /* The partner is ending the process with a signal. */
        pthread_mutex_lock(&hybrid->lock);
        group->state = GROUP_ENDING;
        pthread_mutex_unlock(&hybrid->lock);
        vcpu->leave_loop = 1;
        return HVM_ERR_STATE;
    }
    pthread_mutex_lock(&hybrid->lock);
    group->process->faults++;
    pthread_mutex_unlock(&hybrid->lock);
    /*
     * KVM fills its shadow entry from Linux's on the retry. The same
     * address faulting again means a stale shadow: reload CR3 (KVM syncs
     * the process's shadow pages), and if that is not enough, drop them.
     */
    group->fault_repeats =
        exc.cr2 == group->last_fault ? group->fault_repeats + 1 : 0;
    group->last_fault = exc.cr2;
    if (group->fault_repeats >= FAULT_REPEAT_MAX) {
        vmm_warn("hybrid: process %u faults at 0x%llx again after %u "
                 "repairs: dropping KVM's shadow pages",
                 group->process->pid, (unsigned long long)exc.cr2,
                 group->fault_repeats);
        group->fault_repeats = 0;
        pthread_mutex_lock(&hybrid->lock);
        hybrid_shadow_zap(hybrid);
        pthread_mutex_unlock(&hybrid->lock);
    } else if (group->fault_repeats > 0) {
        cr3_reload(hybrid, group);
    }
    return HVM_OK;
}

void hybrid_cpu_hypercalls_register(struct hvm_ros_hybrid *hybrid)
{
    struct vmm_vm *vm = hybrid->vm;

    vmm_hypercall_register(vm, HVM_HC_CHANNEL_WAIT, on_channel_wait, hybrid);
    vmm_hypercall_register(vm, HVM_HC_CHANNEL_WAKE, on_channel_wake, hybrid);
    vmm_hypercall_register(vm, HVM_HC_CHANNEL_ACTION, on_channel_action,
                           hybrid);
    vmm_hypercall_register(vm, HVM_HC_EXCEPTION, on_exception, hybrid);
}
