/*
 * Connects the ROS's serial ports to hvm's standard streams, raises their
 * interrupt lines and notices a kernel panic on the console.
 */
#include "ros_console.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define STDIN_POLL_MS 100
#define PANIC_TEXT "Kernel panic"

static void port_set_irq(void *ctx, int level)
{
    struct hvm_ros_port *port = ctx;
    struct kvm_irq_level irq = {.irq = port->irq, .level = (uint32_t)level};

    if (ioctl(port->console->vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
        vmm_error("KVM_IRQ_LINE %u failed: %s", port->irq, strerror(errno));
}

static void fd_write_all(int fd, const void *data, size_t size)
{
    const char *bytes = data;

    while (size > 0) {
        ssize_t n = write(fd, bytes, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a closed stdout or stderr only loses output */
        bytes += n;
        size -= (size_t)n;
    }
}

/* Keeps the console's current line and remembers the first panic line. */
static void console_line_scan(struct hvm_ros_console *console, uint8_t byte)
{
    if (byte != '\n' && console->line_length + 1 < sizeof(console->line)) {
        console->line[console->line_length++] = (char)byte;
        return;
    }
    console->line[console->line_length] = '\0';
    if (!atomic_load(&console->panic_seen) &&
        strstr(console->line, PANIC_TEXT) != NULL) {
        snprintf(console->panic_line, sizeof(console->panic_line), "%s",
                 strstr(console->line, PANIC_TEXT));
        atomic_store(&console->panic_seen, 1);
    }
    console->line_length = 0;
}

static void port_output(void *ctx, uint8_t byte)
{
    struct hvm_ros_port *port = ctx;

    if (port == &port->console->ports[0]) {
        /* The kernel console ends its lines with "\r\n". */
        console_line_scan(port->console, byte);
        if (byte == '\r')
            return;
    }
    fd_write_all(port->fd, &byte, 1);
}

static enum vmm_action port_io(struct vmm_vcpu *vcpu, uint16_t port_number,
                               int is_write, uint8_t *data, unsigned size,
                               void *ctx)
{
    struct hvm_ros_port *port = ctx;
    unsigned offset = port_number & 7;

    (void)vcpu;
    pthread_mutex_lock(&port->lock);
    vmm_uart_access(&port->uart, offset, is_write, data);
    pthread_mutex_unlock(&port->lock);
    if (!is_write && size > 1)
        memset(data + 1, 0, size - 1);
    return VMM_RESUME;
}

/* Queues bytes for COM2, waiting while its receive queue is full. */
static void console_receive(struct hvm_ros_console *console,
                            const uint8_t *bytes, size_t count)
{
    struct hvm_ros_port *port = &console->ports[1];

    while (count > 0 && !atomic_load(&console->stopping)) {
        size_t queued;

        pthread_mutex_lock(&port->lock);
        queued = vmm_uart_receive(&port->uart, bytes, count);
        pthread_mutex_unlock(&port->lock);
        bytes += queued;
        count -= queued;
        if (count > 0)
            usleep(1000);
    }
}

/*
 * Reads stdin into pending (up to its size) and looks for Ctrl-]. Returns
 * the bytes read, 0 at the end of input, -1 when the VM is stopping or
 * Ctrl-] was pressed, or -2 when no input came within the poll interval.
 */
static ssize_t stdin_read(struct hvm_ros_console *console, uint8_t *bytes,
                          size_t size)
{
    struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN};
    ssize_t n;

    if (atomic_load(&console->stopping))
        return -1;
    if (size == 0 || poll(&input, 1, STDIN_POLL_MS) <= 0)
        return -2;
    n = read(STDIN_FILENO, bytes, size);
    if (n < 0)
        return errno == EINTR ? -2 : 0;
    if (n > 0 && memchr(bytes, HVM_ROS_ESCAPE, (size_t)n) != NULL) {
        vmm_info("Ctrl-] pressed, stopping the VM");
        vmm_vm_stop(console->vm, 130);
        return -1;
    }
    return n;
}

/*
 * Forwards stdin to COM2. Input that arrives before the guest's ttyS1
 * takes input waits here, because opening the UART clears its FIFO.
 */
static void *stdin_forward(void *arg)
{
    struct hvm_ros_console *console = arg;
    uint8_t pending[4096];
    size_t count = 0;
    int at_end = 0;

    while (!at_end && !atomic_load(&console->input_ready)) {
        ssize_t n = stdin_read(console, pending + count,
                               sizeof(pending) - count);

        if (n == -1)
            return NULL;
        if (n == 0)
            at_end = 1;
        if (n > 0)
            count += (size_t)n;
    }
    while (!atomic_load(&console->input_ready) &&
           !atomic_load(&console->stopping))
        usleep(STDIN_POLL_MS * 1000);
    console_receive(console, pending, count);
    while (!at_end) {
        ssize_t n = stdin_read(console, pending, sizeof(pending));

        if (n == -1)
            return NULL;
        if (n == 0)
            at_end = 1;
        if (n > 0)
            console_receive(console, pending, (size_t)n);
    }
    /* End of input: Ctrl-D ends the guest shell as on a terminal. */
    console_receive(console, (const uint8_t *)"\004", 1);
    return NULL;
}

static int console_terminal_raw(struct hvm_ros_console *console)
{
    struct termios raw;

    if (!isatty(STDIN_FILENO) ||
        tcgetattr(STDIN_FILENO, &console->saved_terminal) < 0)
        return 0;
    raw = console->saved_terminal;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
        vmm_error_errno("tcsetattr stdin");
        return -1;
    }
    console->terminal_raw = 1;
    return 0;
}

int hvm_ros_console_init(struct hvm_ros_console *console, struct vmm_vm *vm,
                         int interactive)
{
    static const uint16_t bases[2] = {VMM_UART_COM1_BASE,
                                      HVM_ROS_COM2_BASE};
    static const unsigned irqs[2] = {VMM_UART_COM1_IRQ, HVM_ROS_COM2_IRQ};
    static const int fds[2] = {STDERR_FILENO, STDOUT_FILENO};

    memset(console, 0, sizeof(*console));
    console->vm = vm;
    console->interactive = interactive;
    for (int i = 0; i < 2; i++) {
        struct hvm_ros_port *port = &console->ports[i];

        port->console = console;
        port->irq = irqs[i];
        port->fd = fds[i];
        pthread_mutex_init(&port->lock, NULL);
        vmm_uart_init(&port->uart, port_output, port_set_irq, port);
        if (vmm_io_register(vm, bases[i], 8, port_io, port) < 0)
            return -1;
    }
    if (!interactive)
        return 0;
    if (console_terminal_raw(console) < 0)
        return -1;
    if (pthread_create(&console->stdin_thread, NULL, stdin_forward,
                       console) != 0) {
        vmm_error("cannot create the stdin thread");
        return -1;
    }
    console->stdin_thread_started = 1;
    return 0;
}

void hvm_ros_console_stop(struct hvm_ros_console *console)
{
    atomic_store(&console->stopping, 1);
    if (console->stdin_thread_started) {
        pthread_join(console->stdin_thread, NULL);
        console->stdin_thread_started = 0;
    }
    if (console->terminal_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &console->saved_terminal);
        console->terminal_raw = 0;
    }
}
