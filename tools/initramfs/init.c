/*
 * /init of the guest ROS initramfs, a static program. It mounts /proc,
 * /sys, /dev and /tmp, reports to the VMM that user space has started, then
 * runs the command that `hvm run` placed in /hvm/argv (or an interactive
 * shell when there is none) and reports its exit status to the VMM on
 * HVM_ROS_PORT_EXIT, which ends the VM.
 *
 * It is C rather than a shell script because every fork and exec in a
 * guest whose kernel is interpreted costs seconds: this init forks once.
 *
 * Consoles: ttyS0 is the kernel console and receives the command's
 * stderr; ttyS1 carries the command's stdout (and the shell's input and
 * output), so `hvm` can keep kernel messages out of its stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h> /* ioperm */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <hvm/ros_abi.h>

#define ARGV_PATH "/hvm/argv"
#define ARGV_MAX 256
#define ARGV_BYTES 65536
#define CONSOLE_TTY "/dev/ttyS0"
#define COMMAND_TTY "/dev/ttyS1"

/* Set by the signals that busybox's halt, poweroff and reboot send to init. */
static volatile sig_atomic_t power_off_requested;

/* Writes one byte to a VMM port; ioperm() has opened the ports. */
static void port_write(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static void say(const char *fmt, const char *arg, int err)
{
    dprintf(STDERR_FILENO, fmt, arg, strerror(err));
}

static void mount_or_warn(const char *source, const char *target,
                          const char *type)
{
    mkdir(target, 0755);
    if (mount(source, target, type, 0, NULL) < 0 && errno != EBUSY)
        say("hvm-init: mount %s failed: %s\n", target, errno);
}

/* Opens a console; raw mode keeps '\n' from becoming "\r\n" on the way. */
static int tty_open(const char *path, int raw)
{
    int fd = open(path, O_RDWR | O_NOCTTY);
    struct termios mode;

    if (fd < 0) {
        say("hvm-init: open %s failed: %s\n", path, errno);
        return -1;
    }
    if (raw && tcgetattr(fd, &mode) == 0) {
        cfmakeraw(&mode);
        tcsetattr(fd, TCSANOW, &mode);
    }
    return fd;
}

/* Reads /hvm/argv: arguments, each terminated by a NUL. */
static int argv_read(char *bytes, char **argv)
{
    int fd = open(ARGV_PATH, O_RDONLY);
    ssize_t size;
    int argc = 0;

    if (fd < 0)
        return 0;
    size = read(fd, bytes, ARGV_BYTES - 1);
    close(fd);
    if (size <= 0)
        return 0;
    bytes[size] = '\0';
    for (ssize_t i = 0; i < size && argc < ARGV_MAX - 1;) {
        argv[argc++] = bytes + i;
        i += (ssize_t)strlen(bytes + i) + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static void on_power_signal(int signo)
{
    (void)signo;
    power_off_requested = 1;
}

static void power_signals_catch(void)
{
    struct sigaction action = {.sa_handler = on_power_signal};

    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGUSR2, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

/* Starts the command, or an interactive shell on ttyS1 when argv is NULL. */
static pid_t child_start(char **argv, int out_fd, int err_fd)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    setsid();
    ioperm(HVM_ROS_PORT_INIT, HVM_ROS_PORT_COUNT, 0); /* keep them init's */
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (argv == NULL) {
        int tty = open(COMMAND_TTY, O_RDWR); /* becomes the controlling tty */

        ioctl(tty, TIOCSCTTY, 0);
        dup2(tty, 0);
        dup2(tty, 1);
        dup2(tty, 2);
        execl("/bin/sh", "-sh", (char *)NULL);
        _exit(127);
    }
    dup2(open("/dev/null", O_RDONLY), 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execvp(argv[0], argv);
    /* The initramfs links few busybox applets: run the others by name. */
    if (errno == ENOENT && strchr(argv[0], '/') == NULL)
        execv("/bin/busybox", argv);
    say("hvm-init: cannot run %s: %s\n", argv[0], errno);
    _exit(127);
}

/* Reaps children until the given one ends; returns its shell-style status. */
static int child_wait(pid_t child)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid < 0 && errno == EINTR && power_off_requested)
            return 0;
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            return 1;
        if (pid != child)
            continue;
        if (WIFSIGNALED(status))
            return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
    }
}

int main(void)
{
    static char bytes[ARGV_BYTES];
    char *argv[ARGV_MAX];
    int argc, out_fd, err_fd, status;
    pid_t child;

    /* The ports are opened first so that the start mark is the first act. */
    if (ioperm(HVM_ROS_PORT_INIT, HVM_ROS_PORT_COUNT, 1) < 0)
        say("hvm-init: ioperm %s failed: %s\n", "VMM ports", errno);
    port_write(HVM_ROS_PORT_INIT, HVM_ROS_INIT_STARTED);

    setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
    setenv("HOME", "/root", 1);
    mount_or_warn("proc", "/proc", "proc");
    mount_or_warn("sysfs", "/sys", "sysfs");
    mount_or_warn("devtmpfs", "/dev", "devtmpfs");
    mount_or_warn("tmpfs", "/tmp", "tmpfs");
    power_signals_catch();

    argc = argv_read(bytes, argv);
    err_fd = tty_open(CONSOLE_TTY, 1);
    out_fd = tty_open(COMMAND_TTY, argc > 0);
    if (err_fd >= 0)
        dup2(err_fd, STDERR_FILENO);
    /* Opening a UART clears its receive FIFO: only now may input come. */
    port_write(HVM_ROS_PORT_INIT, HVM_ROS_INIT_CONSOLES_READY);
    child = child_start(argc > 0 ? argv : NULL, out_fd, err_fd);
    status = child < 0 ? 127 : child_wait(child);

    /* The UART sends from a kernel buffer: wait until it is empty. */
    if (out_fd >= 0)
        tcdrain(out_fd);
    if (err_fd >= 0)
        tcdrain(err_fd);
    port_write(HVM_ROS_PORT_EXIT, (uint8_t)status);

    /* Only reached if the VMM ignored the exit port. */
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}
