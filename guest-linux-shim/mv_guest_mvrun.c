/*
 * mvrun inside the guest ROS of `hvm run`: runs PROGRAM hybridized by
 * preloading libmultiverse-guest.so, installed beside it in the guest's
 * initramfs (/usr/bin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUEST_LIBRARY "/usr/bin/libmultiverse-guest.so"

int main(int argc, char **argv)
{
    const char *preload = getenv("LD_PRELOAD");

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: mvrun PROGRAM [ARGS]\n"
                "Runs PROGRAM with its threads on the HRT's CPUs and its "
                "system calls served by this Linux.\n");
        return argc < 2 ? 2 : 0;
    }
    if (access(GUEST_LIBRARY, R_OK) != 0) {
        fprintf(stderr, "mvrun: %s: %s\n", GUEST_LIBRARY, strerror(errno));
        return 125;
    }
    if (preload != NULL && preload[0] != '\0')
        setenv("MV_SAVED_LD_PRELOAD", preload, 1);
    setenv("LD_PRELOAD", GUEST_LIBRARY, 1);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "mvrun: %s: %s\n", argv[1], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
