/*
 * mvrun PROGRAM [ARGS]: runs PROGRAM hybridized by preloading
 * libmultiverse.so from the folder of this binary. Options reach the
 * runtime through the MV_* environment variables (see mv_start.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char self[PATH_MAX], library[PATH_MAX + 32];
    const char *preload = getenv("LD_PRELOAD");
    ssize_t length;
    char *slash;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: mvrun PROGRAM [ARGS]\n"
                "Runs PROGRAM with its threads in the HRT and its system "
                "calls served by Linux.\n");
        return argc < 2 ? 2 : 0;
    }
    length = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (length < 0) {
        perror("mvrun: readlink /proc/self/exe");
        return 1;
    }
    self[length] = '\0';
    slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(library, sizeof(library), "%s/libmultiverse.so", self);
    if (access(library, R_OK) != 0) {
        fprintf(stderr, "mvrun: %s: %s\n", library, strerror(errno));
        return 1;
    }
    /* The user's own preloads still load, after the runtime. */
    if (preload != NULL && preload[0] != '\0') {
        char combined[2 * PATH_MAX + 64];

        setenv("MV_SAVED_LD_PRELOAD", preload, 1);
        snprintf(combined, sizeof(combined), "%s:%s", library, preload);
        setenv("LD_PRELOAD", combined, 1);
    } else {
        setenv("LD_PRELOAD", library, 1);
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "mvrun: %s: %s\n", argv[1], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
