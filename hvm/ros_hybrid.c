/*
 * Guest-ROS hybridization, ROS side of the VMM: the hypercalls a Linux
 * process makes (create an execution group, end its groups, status and
 * reboot for hvmctl), the per-process HRT PML4s and their pool in the
 * HRT memory that hrt_boot keeps out of the kernel's heap.
 *
 * KVM's shadow MMU does not see the VMM writing a page that a vCPU uses
 * as a page table, so a PML4 page is written only before it first
 * becomes a root. A changed lower half gets a fresh page. A page that was
 * a root becomes reusable only after all shadow pages are dropped, which
 * deleting and re-creating a memslot does.
 */
#include "ros_hybrid_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagetable.h"

/* A guest physical address no guest memory uses, for the zap memslot. */
#define ZAP_SLOT_GPA (1ULL << 40)
#define USER_TOP (1ULL << 47)
#define RFLAGS_USER_MASK 0xcd5ULL /* CF PF AF ZF SF DF OF */
#define HYBRID_REBOOT_WAIT_NS (60ULL * 1000000000ULL)

static const void *ros_read(void *ctx, uint64_t gpa, uint64_t len)
{
    struct hvm_ros_hybrid *hybrid = ctx;

    /* The ROS's page tables never lead into HRT memory. */
    if (gpa + len < gpa || (gpa < hybrid->hrt_gpa + hybrid->hrt_size &&
                            gpa + len > hybrid->hrt_gpa))
        return NULL;
    return vmm_gpa_to_hva(hybrid->vm, gpa, len);
}

struct hvm_merge_source hybrid_source(struct hvm_ros_hybrid *hybrid)
{
    struct hvm_merge_source src = {ros_read, hybrid};

    return src;
}

/* Drops every shadow page of the VM by deleting and re-creating a slot. */
int hybrid_shadow_zap(struct hvm_ros_hybrid *hybrid)
{
    if (vmm_memslot_set(hybrid->vm, hybrid->zap_slot, 0, ZAP_SLOT_GPA, 0,
                        hybrid->zap_page) < 0 ||
        vmm_memslot_set(hybrid->vm, hybrid->zap_slot, 0, ZAP_SLOT_GPA,
                        VMM_PAGE_SIZE, hybrid->zap_page) < 0)
        return -1;
    for (unsigned i = 0; i < HYBRID_POOL_PAGES; i++)
        if (hybrid->pool_state[i] == PAGE_DIRTY)
            hybrid->pool_state[i] = PAGE_CLEAN;
    vmm_debug("hybrid: dropped KVM's shadow pages to reuse PML4 pages");
    return 0;
}

static int pool_take(struct hvm_ros_hybrid *hybrid)
{
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < HYBRID_POOL_PAGES; i++) {
            if (hybrid->pool_state[i] != PAGE_CLEAN)
                continue;
            hybrid->pool_state[i] = PAGE_IN_USE;
            return (int)i;
        }
        if (pass == 0 && hybrid_shadow_zap(hybrid) < 0)
            return -1;
    }
    return -1;
}

static void pool_give_back(struct hvm_ros_hybrid *hybrid, int page)
{
    if (page >= 0)
        hybrid->pool_state[page] = PAGE_DIRTY;
}

/* Builds the PML4 of process on a fresh pool page (lock held). */
static int process_pml4_build(struct hvm_ros_hybrid *hybrid,
                              struct hybrid_process *process)
{
    struct hvm_merge_source src = hybrid_source(hybrid);
    const uint64_t *hrt_pml4 =
        vmm_gpa_to_hva(hybrid->vm, hybrid->boot->pml4_gpa, VMM_PAGE_SIZE);
    int page = pool_take(hybrid);
    uint64_t *pml4;

    if (page < 0 || hrt_pml4 == NULL) {
        vmm_error("hybrid: no free PML4 page for process %u", process->pid);
        pool_give_back(hybrid, page);
        return -1;
    }
    pml4 = (uint64_t *)(hybrid->pool_hva + (uint64_t)page * VMM_PAGE_SIZE);
    memset(pml4, 0, VMM_PAGE_SIZE);
    if (hvm_merge_build(&src, process->root.user_root, hrt_pml4, pml4) < 0) {
        pool_give_back(hybrid, page);
        return -1;
    }
    pool_give_back(hybrid, process->pml4_page);
    process->pml4_page = page;
    process->pml4_gpa = hybrid->pool_gpa + (uint64_t)page * VMM_PAGE_SIZE;
    process->generation++;
    process->merges++;
    return 0;
}

int hybrid_process_refresh(struct hvm_ros_hybrid *hybrid,
                           struct hybrid_process *process)
{
    struct hvm_merge_source src = hybrid_source(hybrid);
    const uint64_t *pml4 =
        (const uint64_t *)(hybrid->pool_hva +
                           (uint64_t)process->pml4_page * VMM_PAGE_SIZE);
    int changes = hvm_merge_lower_changes(&src, process->root.user_root, pml4);

    if (changes <= 0)
        return changes;
    if (process_pml4_build(hybrid, process) < 0)
        return -1;
    vmm_debug("hybrid: process %u: %d new top-level entries merged",
              process->pid, changes);
    return 1;
}

void hybrid_process_release(struct hvm_ros_hybrid *hybrid,
                            struct hybrid_process *process)
{
    vmm_debug("hybrid: process %u left the HRT (%llu faults, %llu "
              "flushes)",
              process->pid, (unsigned long long)process->faults,
              (unsigned long long)process->flushes);
    pool_give_back(hybrid, process->pml4_page);
    memset(process, 0, sizeof(*process));
}

void hybrid_process_kick(struct hvm_ros_hybrid *hybrid,
                         struct hybrid_process *process,
                         const struct hybrid_group *except)
{
    for (unsigned i = 0; i < hybrid->boot->config.nr_cpus; i++) {
        struct hybrid_group *group = &hybrid->groups[i];

        if (group == except || group->process != process ||
            group->state == GROUP_FREE || group->state == GROUP_PENDING)
            continue;
        group->cpu->vcpu->leave_loop = 1;
        vmm_vcpu_kick(group->cpu->vcpu);
    }
}

/* Finds the process whose user root is root, or a new slot (lock held). */
static struct hybrid_process *process_find(struct hvm_ros_hybrid *hybrid,
                                           uint64_t user_root, int create)
{
    struct hybrid_process *free_slot = NULL;

    for (unsigned i = 0; i < HYBRID_MAX_PROCESSES; i++) {
        struct hybrid_process *process = &hybrid->processes[i];

        if (process->used && process->root.user_root == user_root)
            return process;
        if (!process->used && free_slot == NULL)
            free_slot = process;
    }
    return create ? free_slot : NULL;
}

/* Reads the caller's page-table root; only ring-3 callers are served. */
static int caller_root(struct hvm_ros_hybrid *hybrid, struct vmm_vcpu *vcpu,
                       struct hvm_merge_root *root)
{
    struct hvm_merge_source src = hybrid_source(hybrid);
    struct kvm_sregs sregs;

    if (hrt_boot_cpu_of(hybrid->boot, vcpu) >= 0)
        return HVM_ERR_STATE;
    if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
        vmm_error_errno("KVM_GET_SREGS of a ROS vCPU");
        return HVM_ERR_STATE;
    }
    if ((sregs.cs.selector & 3) != 3)
        return HVM_ERR_STATE;
    if (hvm_merge_root_find(&src, sregs.cr3, root) < 0)
        return HVM_ERR_FAULT;
    return HVM_OK;
}

/*
 * Copies len bytes between the VMM and the caller's virtual memory, page
 * by page; every page must be a present user page (and writable when
 * the VMM writes). Returns HVM_OK or HVM_ERR_FAULT.
 */
static int guest_copy(struct hvm_ros_hybrid *hybrid, uint64_t root,
                      uint64_t gva, void *buffer, uint64_t len, int to_guest)
{
    struct hvm_merge_source src = hybrid_source(hybrid);
    uint8_t *bytes = buffer;

    while (len > 0) {
        uint64_t chunk = VMM_PAGE_SIZE - (gva & (VMM_PAGE_SIZE - 1));
        uint64_t gpa, rights, need = VMM_PTE_USER;
        void *host;

        if (chunk > len)
            chunk = len;
        need |= to_guest ? VMM_PTE_WRITE : 0;
        if (hvm_merge_translate(&src, root, gva, &gpa, &rights) < 0 ||
            (rights & need) != need)
            return HVM_ERR_FAULT;
        host = (void *)ros_read(hybrid, gpa, chunk);
        if (host == NULL)
            return HVM_ERR_FAULT;
        if (to_guest)
            memcpy(host, bytes, chunk);
        else
            memcpy(bytes, host, chunk);
        gva += chunk, bytes += chunk, len -= chunk;
    }
    return HVM_OK;
}

/* Checks the start state and finds the channel's host address. */
static int start_check(struct hvm_ros_hybrid *hybrid, uint64_t root,
                       struct hvm_group_start *start, uint8_t **channel)
{
    struct hvm_merge_source src = hybrid_source(hybrid);
    uint64_t gpa, rights, need = VMM_PTE_USER | VMM_PTE_WRITE;

    if ((start->channel & (VMM_PAGE_SIZE - 1)) || start->channel == 0 ||
        start->channel >= USER_TOP || start->rip >= USER_TOP ||
        start->rsp >= USER_TOP || start->lstar >= USER_TOP ||
        start->fs_base >= USER_TOP)
        return HVM_ERR_INVAL;
    if (hvm_merge_translate(&src, root, start->channel, &gpa, &rights) < 0 ||
        (rights & need) != need)
        return HVM_ERR_FAULT;
    *channel = (uint8_t *)ros_read(hybrid, gpa, HVM_CH_SIZE);
    if (*channel == NULL)
        return HVM_ERR_FAULT;
    /* Only flags that ring-3 code may hold; IF stays clear, see below. */
    start->rflags &= RFLAGS_USER_MASK;
    return HVM_OK;
}

static int boot_ready(struct hvm_ros_hybrid *hybrid)
{
    struct hrt_boot *boot = hybrid->boot;
    int ready;

    pthread_mutex_lock(&boot->lock);
    ready = boot->complete && !boot->reboot_requested;
    pthread_mutex_unlock(&boot->lock);
    return ready && !hybrid->rebooting;
}

/* Assigns a free HRT CPU to a new group of process (lock held). */
static struct hybrid_group *group_assign(struct hvm_ros_hybrid *hybrid,
                                         struct hybrid_process *process,
                                         const struct hvm_group_start *start,
                                         uint8_t *channel)
{
    for (unsigned i = 0; i < hybrid->boot->config.nr_cpus; i++) {
        struct hybrid_group *group = &hybrid->groups[i];

        if (group->state != GROUP_FREE)
            continue;
        memset(group, 0, sizeof(*group));
        group->cpu = &hybrid->boot->cpus[i];
        group->state = GROUP_PENDING;
        group->process = process;
        group->start = *start;
        group->channel = channel;
        process->threads++;
        hybrid->groups_created++;
        return group;
    }
    return NULL;
}

static int64_t process_start(struct hvm_ros_hybrid *hybrid,
                             const struct hvm_merge_root *root,
                             struct hvm_group_start *start, uint8_t *channel)
{
    struct hybrid_process *process;
    struct hybrid_group *group;
    int created = 0;

    pthread_mutex_lock(&hybrid->lock);
    process = process_find(hybrid, root->user_root, 1);
    if (process == NULL || (process->used && process->exiting)) {
        pthread_mutex_unlock(&hybrid->lock);
        return HVM_ERR_BUSY;
    }
    if (!process->used) {
        process->used = 1;
        process->root = *root;
        process->pid = start->pid;
        process->pml4_page = -1;
        created = 1;
        if (process_pml4_build(hybrid, process) < 0) {
            memset(process, 0, sizeof(*process));
            pthread_mutex_unlock(&hybrid->lock);
            return HVM_ERR_BUSY;
        }
        vmm_debug("hybrid: process %u merged (root 0x%llx%s)", start->pid,
                  (unsigned long long)root->user_root,
                  root->pti ? ", page-table isolation" : "");
    }
    group = group_assign(hybrid, process, start, channel);
    if (group == NULL && created)
        hybrid_process_release(hybrid, process);
    pthread_mutex_unlock(&hybrid->lock);
    if (group == NULL)
        return HVM_ERR_BUSY;
    if (hybrid_group_hand_over(hybrid, group) < 0)
        return HVM_ERR_STATE;
    return (int64_t)(group - hybrid->groups);
}

static int64_t on_group_create(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hvm_merge_root root;
    struct hvm_group_start start;
    uint8_t *channel = NULL;
    int result = caller_root(hybrid, vcpu, &root);

    if (result != HVM_OK)
        return result;
    result = guest_copy(hybrid, root.user_root, call->args[0], &start,
                        sizeof(start), 0);
    if (result == HVM_OK)
        result = start_check(hybrid, root.user_root, &start, &channel);
    if (result != HVM_OK)
        return result;
    if (!boot_ready(hybrid))
        return HVM_ERR_STATE;
    return process_start(hybrid, &root, &start, channel);
}

/* Ends every group of the calling process and waits until they stopped. */
static int64_t on_process_exit(struct vmm_vcpu *vcpu,
                               const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hvm_merge_root root;
    struct hybrid_process *process;
    int result = caller_root(hybrid, vcpu, &root);
    uint64_t deadline = vmm_now_ns() + 2000000000ULL;

    (void)call;
    if (result != HVM_OK)
        return result;
    pthread_mutex_lock(&hybrid->lock);
    process = process_find(hybrid, root.user_root, 0);
    if (process == NULL) {
        pthread_mutex_unlock(&hybrid->lock);
        return HVM_ERR_STATE;
    }
    process->exiting = 1;
    for (unsigned i = 0; i < hybrid->boot->config.nr_cpus; i++)
        if (hybrid->groups[i].process == process &&
            hybrid->groups[i].state != GROUP_FREE)
            hybrid->groups[i].state = GROUP_ENDING;
    while (process->used && process->root.user_root == root.user_root &&
           vmm_now_ns() < deadline && !atomic_load(&hybrid->vm->stopping)) {
        hybrid_process_kick(hybrid, process, NULL);
        pthread_mutex_unlock(&hybrid->lock);
        usleep(1000);
        pthread_mutex_lock(&hybrid->lock);
    }
    result = process->used && process->root.user_root == root.user_root
                 ? HVM_ERR_STATE
                 : HVM_OK;
    pthread_mutex_unlock(&hybrid->lock);
    if (result != HVM_OK)
        vmm_warn("hybrid: an HRT thread did not stop within 2 s");
    return result;
}

static void status_fill(struct hvm_ros_hybrid *hybrid,
                        struct hvm_hrt_status *status)
{
    unsigned count = 0;

    memset(status, 0, sizeof(*status));
    status->hrt_cpus = hybrid->boot->config.nr_cpus;
    status->boot_count = hybrid->boot->boot_count;
    status->groups_created = hybrid->groups_created;
    for (unsigned i = 0; i < HYBRID_MAX_PROCESSES; i++) {
        struct hybrid_process *process = &hybrid->processes[i];
        struct hvm_hrt_process *out = &status->processes[count];

        if (!process->used)
            continue;
        out->pid = process->pid;
        out->threads = process->threads;
        out->calls = process->calls_done;
        out->faults = process->faults;
        out->flushes = process->flushes;
        out->merges = process->merges;
        for (unsigned c = 0; c < status->hrt_cpus; c++) {
            struct hybrid_group *group = &hybrid->groups[c];

            if (group->process == process && group->state == GROUP_RUNNING)
                out->calls +=
                    *(volatile uint64_t *)(group->channel + HVM_CH_CALLS);
        }
        count++;
    }
    for (unsigned c = 0; c < status->hrt_cpus; c++)
        status->busy_cpus += hybrid->groups[c].state != GROUP_FREE;
    status->nr_processes = count;
}

static int64_t on_hrt_status(struct vmm_vcpu *vcpu,
                             const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hvm_merge_root root;
    struct hvm_hrt_status *status = calloc(1, sizeof(*status));
    int result = caller_root(hybrid, vcpu, &root);

    if (status == NULL)
        return HVM_ERR_STATE;
    if (result == HVM_OK) {
        pthread_mutex_lock(&hybrid->lock);
        status_fill(hybrid, status);
        pthread_mutex_unlock(&hybrid->lock);
        result = guest_copy(hybrid, root.user_root, call->args[0], status,
                            sizeof(*status), 1);
    }
    free(status);
    return result;
}

/* Reboots the HRT unless a process is hybridized; returns the new count. */
static int64_t on_hrt_reboot(struct vmm_vcpu *vcpu,
                             const struct vmm_hypercall *call, void *ctx)
{
    struct hvm_ros_hybrid *hybrid = ctx;
    struct hvm_merge_root root;
    int result = caller_root(hybrid, vcpu, &root);
    uint32_t next;

    (void)call;
    if (result != HVM_OK)
        return result;
    pthread_mutex_lock(&hybrid->lock);
    for (unsigned i = 0; i < HYBRID_MAX_PROCESSES; i++)
        if (hybrid->processes[i].used)
            result = HVM_ERR_BUSY;
    if (result == HVM_OK && hybrid->rebooting)
        result = HVM_ERR_BUSY;
    hybrid->rebooting = result == HVM_OK;
    pthread_mutex_unlock(&hybrid->lock);
    if (result != HVM_OK)
        return result;
    next = hybrid->boot->boot_count + 1;
    vmm_info("hybrid: HRT reboot %u requested from the ROS", next);
    hrt_boot_reboot_request(hybrid->boot);
    if (hrt_boot_wait_complete(hybrid->boot, next,
                               vmm_now_ns() + HYBRID_REBOOT_WAIT_NS, NULL) < 0)
        result = HVM_ERR_STATE;
    pthread_mutex_lock(&hybrid->lock);
    hybrid->rebooting = 0;
    pthread_mutex_unlock(&hybrid->lock);
    return result == HVM_OK ? (int64_t)next : result;
}

struct hvm_ros_hybrid *hvm_ros_hybrid_create(struct hrt_boot_config *config)
{
    struct hvm_ros_hybrid *hybrid = calloc(1, sizeof(*hybrid));

    if (hybrid == NULL) {
        vmm_error_errno("allocate the hybridization state");
        return NULL;
    }
    if (config->hrt_size < 2 * HVM_ROS_HYBRID_RESERVE) {
        vmm_error("hybrid: HRT memory of %llu bytes is too small",
                  (unsigned long long)config->hrt_size);
        free(hybrid);
        return NULL;
    }
    hybrid->vm = config->vm;
    hybrid->hrt_gpa = config->hrt_gpa;
    hybrid->hrt_size = config->hrt_size;
    hybrid->pool_gpa =
        config->hrt_gpa + config->hrt_size - HVM_ROS_HYBRID_RESERVE;
    hybrid->pool_hva = config->hrt_hva + (hybrid->pool_gpa - config->hrt_gpa);
    pthread_mutex_init(&hybrid->lock, NULL);
    config->vmm_reserve = HVM_ROS_HYBRID_RESERVE;
    config->lend = hybrid_cpu_lend;
    config->lend_ctx = hybrid;
    return hybrid;
}

int hvm_ros_hybrid_start(struct hvm_ros_hybrid *hybrid, struct hrt_boot *boot)
{
    struct vmm_vm *vm = hybrid->vm;

    hybrid->boot = boot;
    hybrid->zap_page = mmap(NULL, VMM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (hybrid->zap_page == MAP_FAILED) {
        vmm_error_errno("mmap the shadow-zap page");
        hybrid->zap_page = NULL;
        return -1;
    }
    hybrid->zap_slot = vm->next_slot++;
    if (vmm_memslot_set(vm, hybrid->zap_slot, 0, ZAP_SLOT_GPA, VMM_PAGE_SIZE,
                        hybrid->zap_page) < 0)
        return -1;
    vmm_hypercall_register(vm, HVM_HC_GROUP_CREATE, on_group_create, hybrid);
    vmm_hypercall_register(vm, HVM_HC_PROCESS_EXIT, on_process_exit, hybrid);
    vmm_hypercall_register(vm, HVM_HC_HRT_STATUS, on_hrt_status, hybrid);
    vmm_hypercall_register(vm, HVM_HC_HRT_REBOOT, on_hrt_reboot, hybrid);
    hybrid_cpu_hypercalls_register(hybrid);
    return 0;
}

void hvm_ros_hybrid_destroy(struct hvm_ros_hybrid *hybrid)
{
    if (hybrid == NULL)
        return;
    if (hybrid->zap_page != NULL)
        munmap(hybrid->zap_page, VMM_PAGE_SIZE);
    pthread_mutex_destroy(&hybrid->lock);
    free(hybrid);
}
