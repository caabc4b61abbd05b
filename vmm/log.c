/* Operator-facing logging: stderr for levels in force, a trace file for all. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

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
        va_start(args, fmt);
        fprintf(stderr, "hvm: %s: ", level_names[level]);
        vfprintf(stderr, fmt, args);
        fputc('\n', stderr);
        va_end(args);
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

void vmm_error_errno(const char *operation)
{
    int saved = errno;

    vmm_error("%s failed: %s", operation, strerror(saved));
    errno = saved;
}
