/* The `hvm` subcommands, one function each, called by hvm/main.c. */
#ifndef HVM_COMMANDS_H
#define HVM_COMMANDS_H

#include <stddef.h>

int hvm_cmd_info(int argc, char **argv);
int hvm_cmd_hrt_test(int argc, char **argv);
int hvm_cmd_exec(int argc, char **argv);
int hvm_cmd_run(int argc, char **argv);
int hvm_cmd_bench(int argc, char **argv);

/*
 * Handles the options every subcommand accepts: -v (more output, repeatable),
 * -q (errors only) and --trace FILE (every debug line to FILE). Returns 1
 * if opt was one of them, 0 otherwise, -1 on an error already reported.
 */
int hvm_common_option(int opt, const char *arg);

/*
 * Finds a file built next to the `hvm` binary (relative to the folder of
 * /proc/self/exe), such as "guest-kernel/hrt.elf". Returns 0 and the
 * absolute path in buf, or -1 if it does not exist.
 */
int hvm_find_built_file(const char *relative, char *buf, size_t size);

#endif
