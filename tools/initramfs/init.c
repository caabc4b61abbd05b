/*
 * /init of the guest ROS initramfs, a static program without a C library.
 * It mounts /proc, /sys, /dev and /tmp and reports to the VMM that user
 * space has started. Then it runs the command that `hvm run` placed in
 * /hvm/argv, or an interactive shell when there is none, and reports the
 * exit status to the VMM on HVM_ROS_PORT_EXIT, which ends the VM.
 *
 * It is C rather than a shell script because every fork and exec in a
 * guest whose kernel is interpreted costs seconds: this init forks once.
 * It makes system calls directly because a static glibc program is
 * 680 KiB, and the interpreted kernel takes about 5 s per MiB to unpack
 * the initramfs.
 *
 * Consoles: ttyS0 is the kernel console and receives the command's
 * stderr; ttyS1 carries the command's stdout (and the shell's input and
 * output), so `hvm` can keep kernel messages out of its stdout.
 */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <asm/unistd.h>
#include <linux/reboot.h>
#include <stddef.h>
#include <stdint.h>

#include <hvm/ros_abi.h>

#define ARGV_PATH "/hvm/argv"
#define ARGV_MAX 256
#define ARGV_BYTES 65536
#define CONSOLE_TTY "/dev/ttyS0"
#define COMMAND_TTY "/dev/ttyS1"
#define BUSYBOX "/bin/busybox"
#define O_RDONLY 0
#define O_RDWR 2
#define O_NOCTTY 0400
#define ENOENT 2
#define EINTR 4
#define EBUSY 16
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGTERM 15
#define SA_RESTORER 0x04000000

static char *const child_env[] = {
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=linux", NULL,
};
static const char *const path_dirs[] = {"/usr/sbin", "/usr/bin", "/sbin",
                                        "/bin"};

/* Set by the signals that busybox's halt, poweroff and reboot send to init. */
static volatile int power_off_requested;

static long syscall6(long nr, long a1, long a2, long a3, long a4, long a5,
                     long a6)
{
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10),
                       "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define SYS(nr, a, b, c) syscall6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* The compiler may call these for structure copies and initializers. */
void *memset(void *dest, int value, size_t count)
{
    unsigned char *p = dest;

    while (count--)
        *p++ = (unsigned char)value;
    return dest;
}

void *memcpy(void *dest, const void *src, size_t count)
{
    unsigned char *d = dest;
    const unsigned char *s = src;

    while (count--)
        *d++ = *s++;
    return dest;
}

size_t strlen(const char *text)
{
    size_t n = 0;

    while (text[n] != '\0')
        n++;
    return n;
}

static int has_slash(const char *text)
{
    for (; *text != '\0'; text++)
        if (*text == '/')
            return 1;
    return 0;
}

static void put(int fd, const char *text)
{
    SYS(__NR_write, fd, text, strlen(text));
}

/* Writes "hvm-init: WHAT PATH failed: error N" to stderr. */
static void say(const char *what, const char *path, long error)
{
    char digits[24];
    int i = (int)sizeof(digits) - 1;
    unsigned long n = (unsigned long)(error < 0 ? -error : error);

    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0 && i > 0);
    put(2, "hvm-init: ");
    put(2, what);
    put(2, " ");
    put(2, path);
    put(2, " failed: error ");
    put(2, digits + i);
    put(2, "\n");
}

/* Writes one byte to a VMM port; ioperm has opened the ports. */
static void port_write(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static void ports_allow(int on)
{
    long rc = SYS(__NR_ioperm, HVM_ROS_PORT_INIT, HVM_ROS_PORT_COUNT, on);

    if (rc < 0 && on)
        say("ioperm", "for the VMM ports", rc);
}

static void mount_or_warn(const char *source, const char *target,
                          const char *type)
{
    long rc;

    SYS(__NR_mkdir, target, 0755, 0);
    rc = syscall6(__NR_mount, (long)source, (long)target, (long)type, 0, 0,
                  0);
    if (rc < 0 && rc != -EBUSY)
        say("mount", target, rc);
}

/* Opens a console; raw mode keeps '\n' from becoming "\r\n" on the way. */
static int tty_open(const char *path, int raw)
{
    long fd = SYS(__NR_open, path, O_RDWR | O_NOCTTY, 0);
    struct termios mode;

    if (fd < 0) {
        say("open", path, fd);
        return -1;
    }
    if (raw && SYS(__NR_ioctl, fd, TCGETS, &mode) == 0) {
        mode.c_iflag &= ~(unsigned)(IGNBRK | BRKINT | PARMRK | ISTRIP |
                                    INLCR | IGNCR | ICRNL | IXON);
        mode.c_oflag &= ~(unsigned)OPOST;
        mode.c_lflag &= ~(unsigned)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        mode.c_cflag &= ~(unsigned)(CSIZE | PARENB);
        mode.c_cflag |= CS8;
        mode.c_cc[VMIN] = 1;
        mode.c_cc[VTIME] = 0;
        SYS(__NR_ioctl, fd, TCSETS, &mode);
    }
    return (int)fd;
}

/* Reads /hvm/argv: arguments, each terminated by a NUL. */
static int argv_read(char *bytes, char **argv)
{
    long fd = SYS(__NR_open, ARGV_PATH, O_RDONLY, 0);
    long size;
    int argc = 0;

    if (fd < 0)
        return 0;
    size = SYS(__NR_read, fd, bytes, ARGV_BYTES - 1);
    SYS(__NR_close, fd, 0, 0);
    if (size <= 0)
        return 0;
    bytes[size] = '\0';
    for (long i = 0; i < size && argc < ARGV_MAX - 1;) {
        argv[argc++] = bytes + i;
        i += (long)strlen(bytes + i) + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static void on_power_signal(int signo)
{
    (void)signo;
    power_off_requested = 1;
}

/* Returns from a signal handler: the kernel calls it as sa_restorer. */
__asm__(".text\n"
        "signal_return:\n"
        "    mov $" "15" ", %eax\n" /* __NR_rt_sigreturn */
        "    syscall\n");
void signal_return(void);

static void power_signals_catch(void)
{
    static const int signals[] = {SIGUSR1, SIGUSR2, SIGTERM};
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask;
    } action = {on_power_signal, SA_RESTORER, signal_return, 0};

    for (int i = 0; i < 3; i++)
        syscall6(__NR_rt_sigaction, signals[i], (long)&action, 0, 8, 0, 0);
}

/* Runs argv[0] as execvp would, then as a busybox applet by name. */
static void command_exec(char **argv)
{
    char path[512];
    long rc = -ENOENT;

    if (has_slash(argv[0])) {
        rc = SYS(__NR_execve, argv[0], argv, child_env);
        say("exec", argv[0], rc);
        return;
    }
    for (size_t i = 0; i < sizeof(path_dirs) / sizeof(path_dirs[0]); i++) {
        size_t dir = strlen(path_dirs[i]), name = strlen(argv[0]);

        if (dir + 1 + name + 1 > sizeof(path))
            break;
        memcpy(path, path_dirs[i], dir);
        path[dir] = '/';
        memcpy(path + dir + 1, argv[0], name + 1);
        rc = SYS(__NR_execve, path, argv, child_env);
    }
    /* The initramfs links few busybox applets: run the others by name. */
    SYS(__NR_execve, BUSYBOX, argv, child_env);
    say("exec", argv[0], rc);
}

/* Starts the command, or an interactive shell on ttyS1 when argv is NULL. */
static long child_start(char **argv, int out_fd, int err_fd)
{
    long pid = SYS(__NR_fork, 0, 0, 0);

    if (pid != 0)
        return pid;
    SYS(__NR_setsid, 0, 0, 0);
    ports_allow(0); /* the ports stay init's */
    if (argv == NULL) {
        static char *const shell[] = {"-sh", NULL};
        long tty = SYS(__NR_open, COMMAND_TTY, O_RDWR, 0); /* controlling */

        SYS(__NR_ioctl, tty, TIOCSCTTY, 0);
        SYS(__NR_dup2, tty, 0, 0);
        SYS(__NR_dup2, tty, 1, 0);
        SYS(__NR_dup2, tty, 2, 0);
        SYS(__NR_execve, "/bin/sh", shell, child_env);
        SYS(__NR_exit, 127, 0, 0);
    }
    SYS(__NR_dup2, SYS(__NR_open, "/dev/null", O_RDONLY, 0), 0, 0);
    SYS(__NR_dup2, out_fd, 1, 0);
    SYS(__NR_dup2, err_fd, 2, 0);
    command_exec(argv);
    SYS(__NR_exit, 127, 0, 0);
    return -1;
}

/* Reaps children until the given one ends; returns its shell-style status. */
static int child_wait(long child)
{
    for (;;) {
        int status = 0;
        long pid = syscall6(__NR_wait4, -1, (long)&status, 0, 0, 0, 0);

        if (pid == -EINTR && power_off_requested)
            return 0;
        if (pid == -EINTR)
            continue;
        if (pid < 0)
            return 1;
        if (pid != child)
            continue;
        if ((status & 0x7f) != 0) /* killed by the signal status & 0x7f */
            return 128 + (status & 0x7f);
        return (status >> 8) & 0xff;
    }
}

static int init_main(void)
{
    static char bytes[ARGV_BYTES];
    static char *argv[ARGV_MAX];
    int argc, out_fd, err_fd, status;
    long child;

    /* The ports are opened first so that the start mark is the first act. */
    ports_allow(1);
    port_write(HVM_ROS_PORT_INIT, HVM_ROS_INIT_STARTED);

    mount_or_warn("proc", "/proc", "proc");
    mount_or_warn("sysfs", "/sys", "sysfs");
    mount_or_warn("devtmpfs", "/dev", "devtmpfs");
    mount_or_warn("tmpfs", "/tmp", "tmpfs");
    power_signals_catch();

    argc = argv_read(bytes, argv);
    err_fd = tty_open(CONSOLE_TTY, 1);
    out_fd = tty_open(COMMAND_TTY, argc > 0);
    if (err_fd >= 0)
        SYS(__NR_dup2, err_fd, 2, 0);
    /* Opening a UART clears its receive FIFO: only now may input come. */
    port_write(HVM_ROS_PORT_INIT, HVM_ROS_INIT_CONSOLES_READY);
    child = child_start(argc > 0 ? argv : NULL, out_fd, err_fd);
    status = child < 0 ? 127 : child_wait(child);

    /* The UART sends from a kernel buffer: wait until it is empty. */
    if (out_fd >= 0)
        SYS(__NR_ioctl, out_fd, TCSBRK, 1);
    if (err_fd >= 0)
        SYS(__NR_ioctl, err_fd, TCSBRK, 1);
    port_write(HVM_ROS_PORT_EXIT, (uint8_t)status);

    /* Only reached if the VMM ignored the exit port. */
    SYS(__NR_sync, 0, 0, 0);
    syscall6(__NR_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
             LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0);
    for (;;)
        SYS(__NR_pause, 0, 0, 0);
    return 0;
}

/* The entry point: the kernel leaves argc, argv and envp on the stack. */
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    and $-16, %rsp\n"
        "    call init_start\n"
        "    hlt\n");

__attribute__((used)) static void init_start(void)
{
    SYS(__NR_exit, init_main(), 0, 0);
}
