/*
 * The ROS's devices besides the UARTs, and the emulation-failure exit
 * handler. Every handler stops the VM only through vmm_vm_stop(), so the
 * caller reads what happened from struct hvm_ros_events.
 */
#include "ros_devices.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <hvm/ros_abi.h>

#include "acpi.h"

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_RESET 0xfe
#define CMOS_INDEX_PORT 0x70
#define CMOS_DATA_PORT 0x71
#define OPCODE_INT3 0xcc
#define OPCODE_FWAIT 0x9b
#define VECTOR_BP 3

static int is_ros_vcpu(const struct hvm_ros_events *events,
                       const struct vmm_vcpu *vcpu)
{
    return vcpu->index < events->ros_cpus;
}

/* Status reads as "no data, ready for a command"; 0xfe resets the guest. */
static enum vmm_action i8042_io(struct vmm_vcpu *vcpu, uint16_t port,
                                int is_write, uint8_t *data, unsigned size,
                                void *ctx)
{
    struct hvm_ros_events *events = ctx;

    (void)size;
    if (!is_write) {
        data[0] = 0;
        return VMM_RESUME;
    }
    if (port == I8042_COMMAND_PORT && data[0] == I8042_RESET &&
        is_ros_vcpu(events, vcpu)) {
        vmm_debug("ROS vCPU %u: reset through the i8042", vcpu->index);
        atomic_store(&events->reset_seen, 1);
        vmm_vm_stop(vcpu->vm, 1);
        return VMM_STOP;
    }
    return VMM_RESUME;
}

static uint8_t bcd(int value)
{
    return (uint8_t)(((value / 10) << 4) | (value % 10));
}

/* The host's UTC time in BCD, with the update-in-progress bit clear. */
static uint8_t cmos_read(uint8_t index)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    switch (index) {
    case 0x00: return bcd(tm.tm_sec);
    case 0x02: return bcd(tm.tm_min);
    case 0x04: return bcd(tm.tm_hour);
    case 0x06: return bcd(tm.tm_wday + 1);
    case 0x07: return bcd(tm.tm_mday);
    case 0x08: return bcd(tm.tm_mon + 1);
    case 0x09: return bcd(tm.tm_year % 100);
    case 0x0a: return 0x26; /* 32.768 kHz base, 1024 Hz rate, no update */
    case 0x0b: return 0x02; /* 24-hour mode, BCD */
    case 0x0d: return 0x80; /* valid RAM and time */
    case 0x32: return bcd(19 + tm.tm_year / 100);
    default: return 0;
    }
}

static enum vmm_action cmos_io(struct vmm_vcpu *vcpu, uint16_t port,
                               int is_write, uint8_t *data, unsigned size,
                               void *ctx)
{
    struct hvm_ros_events *events = ctx;

    (void)vcpu;
    (void)size;
    if (port == CMOS_INDEX_PORT && is_write)
        events->cmos_index = data[0] & 0x7f; /* bit 7 masks NMIs */
    else if (port == CMOS_DATA_PORT && !is_write)
        data[0] = cmos_read(events->cmos_index);
    else if (!is_write)
        data[0] = 0xff;
    return VMM_RESUME;
}

/* Linux's acpi_power_off() writes SLP_TYP 5 with SLP_EN here. */
static enum vmm_action acpi_sleep_io(struct vmm_vcpu *vcpu, uint16_t port,
                                     int is_write, uint8_t *data,
                                     unsigned size, void *ctx)
{
    struct hvm_ros_events *events = ctx;
    uint8_t type = (data[0] & VMM_ACPI_SLEEP_TYPE_MASK) >> 2;

    (void)size;
    if (!is_write) {
        data[0] = 0;
        return VMM_RESUME;
    }
    if (port == VMM_ACPI_SLEEP_CONTROL_PORT &&
        (data[0] & VMM_ACPI_SLEEP_ENABLE) && type == VMM_ACPI_S5_TYPE &&
        is_ros_vcpu(events, vcpu)) {
        vmm_debug("ROS vCPU %u: ACPI power-off", vcpu->index);
        atomic_store(&events->power_off_seen, 1);
        vmm_vm_stop(vcpu->vm, 0);
        return VMM_STOP;
    }
    return VMM_RESUME;
}

static enum vmm_action init_report_io(struct vmm_vcpu *vcpu, uint16_t port,
                                      int is_write, uint8_t *data,
                                      unsigned size, void *ctx)
{
    struct hvm_ros_events *events = ctx;
    uint_fast64_t none = 0;

    (void)size;
    if (!is_write || !is_ros_vcpu(events, vcpu)) {
        if (!is_write)
            data[0] = 0xff;
        return VMM_RESUME;
    }
    if (port == HVM_ROS_PORT_INIT && data[0] == HVM_ROS_INIT_CONSOLES_READY) {
        if (events->consoles_ready != NULL)
            atomic_store(events->consoles_ready, 1);
        return VMM_RESUME;
    }
    if (port == HVM_ROS_PORT_INIT) {
        uint64_t now = vmm_now_ns();

        if (atomic_compare_exchange_strong(&events->init_ns, &none, now))
            vmm_info("ROS /init started %.2f s after hvm started",
                     (double)(now - events->start_ns) / 1e9);
        return VMM_RESUME;
    }
    atomic_store(&events->exit_status, data[0]);
    atomic_store(&events->exit_reported, 1);
    vmm_debug("ROS command exited with status %u", data[0]);
    vmm_vm_stop(vcpu->vm, data[0]);
    return VMM_STOP;
}

/* Reads the first byte of the instruction KVM failed to emulate. */
static int failed_opcode(struct vmm_vcpu *vcpu, uint64_t rip, uint8_t *opcode)
{
    struct kvm_run *run = vcpu->run;
    uint64_t gpa;
    uint8_t *byte;

    if ((run->emulation_failure.flags &
         KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
        run->emulation_failure.insn_size > 0) {
        *opcode = run->emulation_failure.insn_bytes[0];
        return 0;
    }
    if (vmm_vcpu_translate(vcpu, rip, &gpa) < 0)
        return -1;
    byte = vmm_gpa_to_hva(vcpu->vm, gpa, 1);
    if (byte == NULL)
        return -1;
    *opcode = *byte;
    return 0;
}

/* Steps over the instruction and, for int3, raises #BP as the CPU would. */
static int instruction_complete(struct vmm_vcpu *vcpu, struct kvm_regs *regs,
                                int raise_breakpoint)
{
    struct kvm_vcpu_events events;

    regs->rip += 1;
    if (ioctl(vcpu->fd, KVM_SET_REGS, regs) < 0) {
        vmm_error_errno("KVM_SET_REGS");
        return -1;
    }
    if (!raise_breakpoint)
        return 0;
    if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &events) < 0) {
        vmm_error_errno("KVM_GET_VCPU_EVENTS");
        return -1;
    }
    events.flags = 0; /* change nothing but the exception */
    events.exception.injected = 1;
    events.exception.nr = VECTOR_BP;
    events.exception.has_error_code = 0;
    if (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &events) < 0) {
        vmm_error_errno("KVM_SET_VCPU_EVENTS");
        return -1;
    }
    return 0;
}

/*
 * Handles emulation failures. Where KVM interprets guest ring 0, its
 * emulator stops on `int3` (which Linux executes while it patches jump
 * labels) and on `fwait`. The VMM completes those two instructions, and
 * any other failure stops the VM.
 */
static enum vmm_action ros_internal_error(struct vmm_vcpu *vcpu, void *ctx)
{
    struct hvm_ros_events *events = ctx;
    struct kvm_regs regs;
    uint8_t opcode;

    if (!is_ros_vcpu(events, vcpu) ||
        vcpu->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
        ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
        failed_opcode(vcpu, regs.rip, &opcode) < 0 ||
        (opcode != OPCODE_INT3 && opcode != OPCODE_FWAIT)) {
        vmm_vcpu_dump(vcpu, "internal error exit");
        vmm_vm_stop(vcpu->vm, 1);
        return VMM_STOP;
    }
    if (instruction_complete(vcpu, &regs, opcode == OPCODE_INT3) < 0) {
        vmm_vm_stop(vcpu->vm, 1);
        return VMM_STOP;
    }
    atomic_fetch_add(opcode == OPCODE_INT3 ? &events->int3_completed
                                           : &events->fwait_completed,
                     1);
    return VMM_RESUME;
}

int hvm_ros_devices_register(struct vmm_vm *vm,
                             struct hvm_ros_events *events)
{
    events->vm = vm;
    /*
     * Linux probes legacy ports (POST code 0x80, COM3 and COM4, PCI
     * configuration, VGA): an absent device reads as all ones there.
     */
    vm->ignore_unknown_ports = 1;
    vm->exit_handlers[KVM_EXIT_INTERNAL_ERROR] = ros_internal_error;
    vm->exit_ctx = events;
    if (vmm_io_register(vm, I8042_DATA_PORT, 1, i8042_io, events) < 0 ||
        vmm_io_register(vm, I8042_COMMAND_PORT, 1, i8042_io, events) < 0 ||
        vmm_io_register(vm, CMOS_INDEX_PORT, 2, cmos_io, events) < 0 ||
        vmm_io_register(vm, VMM_ACPI_SLEEP_CONTROL_PORT, 2, acpi_sleep_io,
                        events) < 0 ||
        vmm_io_register(vm, HVM_ROS_PORT_INIT, HVM_ROS_PORT_COUNT,
                        init_report_io, events) < 0)
        return -1;
    return 0;
}
