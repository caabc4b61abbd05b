/*
 * The guest ROS's two serial ports. COM1 (ttyS0) is the kernel console and
 * carries the command's stderr: it goes to hvm's stderr. COM2 (ttyS1)
 * carries the command's stdout, or the interactive shell, and is connected
 * to hvm's stdout and stdin. Keeping them apart keeps kernel messages out
 * of the command's output.
 */
#ifndef HVM_ROS_CONSOLE_H
#define HVM_ROS_CONSOLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <termios.h>

#include "vmm.h"

#define HVM_ROS_COM2_BASE 0x2f8
#define HVM_ROS_COM2_IRQ 3

/* The byte that ends an interactive session from the host: Ctrl-]. */
#define HVM_ROS_ESCAPE 0x1d

struct hvm_ros_port {
    struct vmm_uart uart;
    pthread_mutex_t lock; /* vCPU threads and the stdin thread share it */
    struct hvm_ros_console *console;
    unsigned irq;
    int fd; /* host file descriptor that receives the output */
};

struct hvm_ros_console {
    struct vmm_vm *vm;
    struct hvm_ros_port ports[2]; /* COM1, COM2 */
    /* The current console line, scanned for a kernel panic. */
    char line[256];
    size_t line_length;
    atomic_int panic_seen;
    char panic_line[160];
    /* Interactive sessions: stdin is forwarded to COM2. */
    int interactive;
    int terminal_raw;
    struct termios saved_terminal;
    atomic_int input_ready; /* set once the guest's ttyS1 takes input */
    pthread_t stdin_thread;
    int stdin_thread_started;
    atomic_int stopping;
};

/*
 * Registers both ports on vm. When interactive is set, a thread forwards
 * stdin to COM2 and puts a terminal in raw mode. The end of input sends
 * Ctrl-D, and Ctrl-] stops the VM. Returns 0 or -1.
 */
int hvm_ros_console_init(struct hvm_ros_console *console, struct vmm_vm *vm,
                         int interactive);

/* Stops the stdin thread and restores the terminal. */
void hvm_ros_console_stop(struct hvm_ros_console *console);

#endif
