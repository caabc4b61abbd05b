/*
 * Writes the newc cpio archive that carries the guest command (the
 * "070701" format of the kernel's initramfs buffer format document).
 */
#include "ros_initrd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NEWC_HEADER_SIZE 110

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static size_t entry_size(const char *name, size_t data_size)
{
    return pad4(NEWC_HEADER_SIZE + strlen(name) + 1) + pad4(data_size);
}

static size_t argv_bytes(int argc, char *const *argv)
{
    size_t total = 0;

    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    return total;
}

size_t hvm_ros_argv_archive_size(int argc, char *const *argv)
{
    return entry_size("hvm", 0) + entry_size("hvm/argv",
                                             argv_bytes(argc, argv)) +
           entry_size("TRAILER!!!", 0);
}

/* Writes one entry owned by root, dated 0; returns the next write position. */
static uint8_t *entry_put(uint8_t *p, unsigned inode, unsigned mode,
                          const char *name, const void *data, size_t size)
{
    size_t name_size = strlen(name) + 1;
    size_t header = (size_t)sprintf(
        (char *)p, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X"
                   "%08zX%08X",
        inode, mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u, size, 0u, 0u, 0u,
        0u, name_size, 0u);

    memcpy(p + header, name, name_size);
    memset(p + header + name_size, 0,
           pad4(header + name_size) - header - name_size);
    p += pad4(header + name_size);
    if (size > 0)
        memcpy(p, data, size);
    memset(p + size, 0, pad4(size) - size);
    return p + pad4(size);
}

size_t hvm_ros_argv_archive_build(uint8_t *buf, size_t size, int argc,
                                  char *const *argv)
{
    size_t total = hvm_ros_argv_archive_size(argc, argv);
    size_t data_size = argv_bytes(argc, argv);
    uint8_t *args, *p = buf;
    size_t at = 0;

    /* One spare byte: sprintf writes a NUL after the last header. */
    if (size < total + 1)
        return 0;
    args = malloc(data_size > 0 ? data_size : 1);
    if (args == NULL)
        return 0;
    for (int i = 0; i < argc; i++) {
        size_t length = strlen(argv[i]) + 1;

        memcpy(args + at, argv[i], length);
        at += length;
    }
    p = entry_put(p, 1, S_IFDIR | 0755, "hvm", NULL, 0);
    p = entry_put(p, 2, S_IFREG | 0644, "hvm/argv", args, data_size);
    p = entry_put(p, 3, 0, "TRAILER!!!", NULL, 0);
    free(args);
    return (size_t)(p - buf);
}
