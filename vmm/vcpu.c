/*
 * vCPUs: creation, the run loop with its table of exit handlers, hypercall
 * dispatch, stopping and kicking, and the report printed on an unexpected
 * exit.
 */
#include "vmm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/*
 * The signal that kicks a vCPU thread out of KVM_RUN. It is blocked on
 * vCPU threads except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so a kick sent
 * between two runs stays pending and ends the next KVM_RUN at once.
 */
#define VMM_KICK_SIGNAL (SIGRTMAX - 2)

static void kick_handler(int signo)
{
    (void)signo;
}

static int kick_install_result;

static void kick_signal_install_once(void)
{
    struct sigaction action = {.sa_handler = kick_handler};

    sigemptyset(&action.sa_mask);
    kick_install_result = sigaction(VMM_KICK_SIGNAL, &action, NULL);
}

static int kick_signal_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, kick_signal_install_once);
    return kick_install_result;
}

/*
 * Takes a pending kick off this thread. Without this, the kick that ended
 * one KVM_RUN stays pending (it is blocked outside KVM_RUN) and ends every
 * later KVM_RUN at once.
 */
static void kick_consume(void)
{
    static const struct timespec no_wait = {0, 0};
    sigset_t kick;

    sigemptyset(&kick);
    sigaddset(&kick, VMM_KICK_SIGNAL);
    while (sigtimedwait(&kick, NULL, &no_wait) == VMM_KICK_SIGNAL)
        ;
}

static int vcpu_signal_mask_set(struct vmm_vcpu *vcpu)
{
    struct {
        struct kvm_signal_mask header;
        uint8_t mask[8];
    } run_mask;
    sigset_t blocked;

    /* Inside KVM_RUN: the thread's mask minus the kick signal. */
    pthread_sigmask(SIG_BLOCK, NULL, &blocked);
    sigdelset(&blocked, VMM_KICK_SIGNAL);
    run_mask.header.len = 8;
    memcpy(run_mask.mask, &blocked, 8);
    if (ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &run_mask) < 0) {
        vmm_error_errno("KVM_SET_SIGNAL_MASK");
        return -1;
    }
    /* Outside KVM_RUN the kick stays pending. */
    sigemptyset(&blocked);
    sigaddset(&blocked, VMM_KICK_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &blocked, NULL);
    return 0;
}

struct vmm_vcpu *vmm_vcpu_create(struct vmm_vm *vm, unsigned index)
{
    struct vmm_vcpu *vcpu;

    if (index >= VMM_MAX_VCPUS || vm->vcpus[index] != NULL) {
        vmm_error("vCPU %u: invalid or already created", index);
        return NULL;
    }
    vcpu = calloc(1, sizeof(*vcpu));
    if (vcpu == NULL) {
        vmm_error_errno("allocate vCPU");
        return NULL;
    }
    vcpu->vm = vm;
    vcpu->index = index;
    vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
    if (vcpu->fd < 0) {
        vmm_error("KVM_CREATE_VCPU %u failed: %s", index, strerror(errno));
        free(vcpu);
        return NULL;
    }
    vcpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED, vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED) {
        vmm_error_errno("mmap kvm_run");
        close(vcpu->fd);
        free(vcpu);
        return NULL;
    }
    vmm_tsc_khz_from_vcpu(vcpu->fd);
    vm->vcpus[index] = vcpu;
    if (index >= vm->nr_vcpus)
        vm->nr_vcpus = index + 1;
    return vcpu;
}

static enum vmm_action handle_hypercall(struct vmm_vcpu *vcpu,
                                        const struct vmm_hypercall *call)
{
    struct vmm_vm *vm = vcpu->vm;
    struct kvm_regs regs;
    int64_t result = HVM_ERR_NOSYS;

    if (call->op < HVM_HC_COUNT && vm->hypercalls[call->op].fn != NULL)
        result = vm->hypercalls[call->op].fn(vcpu, call,
                                             vm->hypercalls[call->op].ctx);
    if (atomic_load(&vm->stopping) || vcpu->leave_loop)
        return VMM_STOP;
    if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0) {
        vmm_error_errno("KVM_GET_REGS");
        vmm_vm_stop(vm, 1);
        return VMM_STOP;
    }
    regs.rax = (uint64_t)result;
    if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0) {
        vmm_error_errno("KVM_SET_REGS");
        vmm_vm_stop(vm, 1);
        return VMM_STOP;
    }
    return VMM_RESUME;
}

static enum vmm_action try_hypercall(struct vmm_vcpu *vcpu, uint16_t port,
                                     int is_write, int *handled)
{
    struct vmm_hypercall call;
    struct kvm_regs regs;
    int decoded;

    *handled = 0;
    if (port < HVM_HC_PORT_BASE || port >= HVM_HC_PORT_BASE + HVM_HC_PORT_COUNT)
        return VMM_RESUME;
    if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0) {
        vmm_error_errno("KVM_GET_REGS");
        vmm_vm_stop(vcpu->vm, 1);
        return VMM_STOP;
    }
    decoded = vmm_hypercall_decode(port, is_write, regs.rdi, regs.rsi, regs.r8,
                                   regs.r9, &call);
    if (decoded != 0)
        return VMM_RESUME; /* a read of a hypercall port: unknown port */
    *handled = 1;
    return handle_hypercall(vcpu, &call);
}

static enum vmm_action handle_io(struct vmm_vcpu *vcpu)
{
    struct vmm_vm *vm = vcpu->vm;
    struct kvm_run *run = vcpu->run;
    uint16_t port = run->io.port;
    int is_write = run->io.direction == KVM_EXIT_IO_OUT;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    enum vmm_action action;
    int handled;

    action = try_hypercall(vcpu, port, is_write, &handled);
    if (handled || action == VMM_STOP)
        return action;
    for (unsigned i = 0; i < vm->nr_io; i++) {
        struct vmm_io_handler *io = &vm->io[i];

        if (port < io->first_port || port - io->first_port >= io->count)
            continue;
        for (uint32_t n = 0; n < run->io.count; n++) {
            action = io->fn(vcpu, port, is_write, data + n * run->io.size,
                            run->io.size, io->ctx);
            if (action == VMM_STOP)
                return action;
        }
        return VMM_RESUME;
    }
    if (vm->ignore_unknown_ports) {
        if (!is_write)
            memset(data, 0xff, (size_t)run->io.size * run->io.count);
        return VMM_RESUME;
    }
    vmm_vcpu_dump(vcpu, is_write ? "write to a port without a handler"
                                 : "read from a port without a handler");
    vmm_vm_stop(vm, 1);
    return VMM_STOP;
}

static const char *exit_reason_name(uint32_t reason)
{
    switch (reason) {
    case KVM_EXIT_UNKNOWN:
        return "unknown";
    case KVM_EXIT_IO:
        return "port I/O";
    case KVM_EXIT_HLT:
        return "hlt";
    case KVM_EXIT_MMIO:
        return "MMIO";
    case KVM_EXIT_SHUTDOWN:
        return "shutdown (triple fault)";
    case KVM_EXIT_FAIL_ENTRY:
        return "failed entry";
    case KVM_EXIT_INTERNAL_ERROR:
        return "internal error";
    case KVM_EXIT_SYSTEM_EVENT:
        return "system event";
    default:
        return "unexpected";
    }
}

static enum vmm_action handle_exit(struct vmm_vcpu *vcpu)
{
    struct vmm_vm *vm = vcpu->vm;
    uint32_t reason = vcpu->run->exit_reason;
    char why[64];

    if (reason < 64 && vm->exit_handlers[reason] != NULL)
        return vm->exit_handlers[reason](vcpu, vm->exit_ctx);
    if (reason == KVM_EXIT_IO)
        return handle_io(vcpu);
    if (reason == KVM_EXIT_SYSTEM_EVENT) {
        vmm_info("vCPU %u: system event %u", vcpu->index,
                 vcpu->run->system_event.type);
        vmm_vm_stop(vm, 0);
        return VMM_STOP;
    }
    snprintf(why, sizeof(why), "%s exit (reason %u)", exit_reason_name(reason),
             reason);
    vmm_vcpu_dump(vcpu, why);
    vmm_vm_stop(vm, 1);
    return VMM_STOP;
}

void vmm_vcpu_run_loop(struct vmm_vcpu *vcpu)
{
    struct vmm_vm *vm = vcpu->vm;

    if (kick_signal_install() < 0 || vcpu_signal_mask_set(vcpu) < 0) {
        vmm_vm_stop(vm, 1);
        return;
    }
    if (vcpu->on_start != NULL && vcpu->on_start(vcpu) < 0) {
        vmm_vm_stop(vm, 1);
        return;
    }
    vcpu->leave_loop = 0;
    while (!atomic_load(&vm->stopping) && !vcpu->leave_loop) {
        if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR) {
                kick_consume();
                continue;
            }
            if (errno == EAGAIN)
                continue;
            if (vm->run_error_handler != NULL &&
                vm->run_error_handler(vcpu, errno) == VMM_RESUME)
                continue;
            vmm_error("vCPU %u: KVM_RUN failed: %s", vcpu->index,
                      strerror(errno));
            vmm_vcpu_dump(vcpu, "KVM_RUN failed");
            vmm_vm_stop(vm, 1);
            break;
        }
        vcpu->exits++;
        if (handle_exit(vcpu) == VMM_STOP)
            break;
    }
}

static void *vcpu_thread(void *arg)
{
    struct vmm_vcpu *vcpu = arg;
    struct vmm_vm *vm = vcpu->vm;

    vmm_vcpu_run_loop(vcpu);
    pthread_mutex_lock(&vm->lock);
    vm->running_threads--;
    pthread_cond_broadcast(&vm->stopped_cond);
    pthread_mutex_unlock(&vm->lock);
    return NULL;
}

int vmm_vm_start(struct vmm_vm *vm)
{
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmm_vcpu *vcpu = vm->vcpus[i];

        if (vcpu == NULL || vcpu->thread_started)
            continue;
        pthread_mutex_lock(&vm->lock);
        vm->running_threads++;
        pthread_mutex_unlock(&vm->lock);
        if (pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu) != 0) {
            vmm_error("vCPU %u: cannot create its thread", i);
            pthread_mutex_lock(&vm->lock);
            vm->running_threads--;
            pthread_mutex_unlock(&vm->lock);
            vmm_vm_stop(vm, 1);
            return -1;
        }
        vcpu->thread_started = 1;
    }
    return 0;
}

int vmm_vm_wait(struct vmm_vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    while (vm->running_threads > 0)
        pthread_cond_wait(&vm->stopped_cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmm_vcpu *vcpu = vm->vcpus[i];

        if (vcpu != NULL && vcpu->thread_started) {
            pthread_join(vcpu->thread, NULL);
            vcpu->thread_started = 0;
        }
    }
    return vm->exit_status;
}

void vmm_vcpu_kick(struct vmm_vcpu *vcpu)
{
    if (vcpu->thread_started)
        pthread_kill(vcpu->thread, VMM_KICK_SIGNAL);
}

void vmm_vm_stop(struct vmm_vm *vm, int status)
{
    int expected = 0;

    if (atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
        vm->exit_status = status;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmm_vcpu *vcpu = vm->vcpus[i];

        if (vcpu != NULL && !pthread_equal(vcpu->thread, pthread_self()))
            vmm_vcpu_kick(vcpu);
    }
}

int vmm_vcpu_translate(struct vmm_vcpu *vcpu, uint64_t gva, uint64_t *gpa)
{
    struct kvm_translation translation = {.linear_address = gva};

    if (ioctl(vcpu->fd, KVM_TRANSLATE, &translation) < 0 || !translation.valid)
        return -1;
    *gpa = translation.physical_address;
    return 0;
}
