/* Operator-facing logging: stderr for levels in force, a trace file for all. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int vmm_log_level = VMM_LOG_WARN;

static FILE *trace_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int vmm_log_open_trace(const char *path)
{
    FILE *file = fopen(path, "w");

    if (file == NULL)
        return -1;
    setvbuf(file, NULL, _IOLBF, 0);
    trace_file = file;
    return 0;
}

void vmm_log_close_trace(void)
{
    if (trace_file != NULL)
        fclose(trace_file);
    trace_file = NULL;
}

void vmm_log(enum vmm_log_level level, const char *fmt, ...)
{
    va_list args;

    if ((int)level > vmm_log_level && trace_file == NULL)
        return;

    pthread_mutex_lock(&log_lock);
    if ((int)level <= vmm_log_level) {
        /*
         * Format on the stack and write(2) directly: in a hybridized
         * process, application code shares this C library and may hold
         * the lock of stderr while the VMM handles its exit.
         */
        char line[1024];
        int length =
            snprintf(line, sizeof(line), "hvm: %s: ", level_names[level]);

        va_start(args, fmt);
        length +=
            vsnprintf(line + length, sizeof(line) - (size_t)length, fmt, args);
        va_end(args);
        if (length > (int)sizeof(line) - 2)
            length = (int)sizeof(line) - 2;
        line[length++] = '\n';
        vmm_write_all(2, line, (size_t)length);
    }
    if (trace_file != NULL) {
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        va_start(args, fmt);
        fprintf(trace_file, "%ld.%06ld %s: ", (long)now.tv_sec,
                now.tv_nsec / 1000, level_names[level]);
        vfprintf(trace_file, fmt, args);
        fputc('\n', trace_file);
        va_end(args);
    }
    pthread_mutex_unlock(&log_lock);
}

void vmm_write_all(int fd, const char *text, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, text, length);

        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return;
        text += written;
        length -= (size_t)written;
    }
}

void vmm_print_raw(const char *fmt, ...)
{
    char text[1024];
    va_list args;
    int length;

    va_start(args, fmt);
    length = vsnprintf(text, sizeof(text), fmt, args);
    va_end(args);
    if (length < 0)
        return;
    if (length >= (int)sizeof(text))
        length = (int)sizeof(text) - 1;
    vmm_write_all(2, text, (size_t)length);
}

void vmm_error_errno(const char *operation)
{
    int saved = errno;

    vmm_error("%s failed: %s", operation, strerror(saved));
    errno = saved;
}
