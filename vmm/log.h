/*
 * Operator-facing logging for the VMM and its tools: one line per event on
 * stderr, quiet by default, with an optional trace file for debug lines.
 */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum vmm_log_level {
    VMM_LOG_ERROR = 0,
    VMM_LOG_WARN = 1,
    VMM_LOG_INFO = 2,
    VMM_LOG_DEBUG = 3,
};

/* Lines above this level are dropped; -q lowers it, each -v raises it. */
extern int vmm_log_level;

/* Sets the file that receives every line up to VMM_LOG_DEBUG, or NULL. */
int vmm_log_open_trace(const char *path);
void vmm_log_close_trace(void);

void vmm_log(enum vmm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define vmm_error(...) vmm_log(VMM_LOG_ERROR, __VA_ARGS__)
#define vmm_warn(...) vmm_log(VMM_LOG_WARN, __VA_ARGS__)
#define vmm_info(...) vmm_log(VMM_LOG_INFO, __VA_ARGS__)
#define vmm_debug(...) vmm_log(VMM_LOG_DEBUG, __VA_ARGS__)

/*
 * Writes all of text to fd with write(2), without stdio: safe where
 * another thread may hold the stdio locks.
 */
void vmm_write_all(int fd, const char *text, size_t length);

/* Prints to stderr like fprintf, through vmm_write_all (no stdio lock). */
void vmm_print_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Logs "OPERATION failed: strerror(errno)" at error level. The one idiom
 * for a failed system call or ioctl during set-up.
 */
void vmm_error_errno(const char *operation);

#endif
