/* TEMPORARY while the other subcommands are being written. */
#include <stdio.h>
#include "commands.h"
#define PENDING(name) \
    __attribute__((weak)) int name(int argc, char **argv) \
    { (void)argc; (void)argv; fprintf(stderr, "hvm: not built yet\n"); return 2; }
PENDING(hvm_cmd_hrt_test)
PENDING(hvm_cmd_exec)
PENDING(hvm_cmd_run)
