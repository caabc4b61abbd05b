/*
 * Finds the guest ROS kernel in the cache and reads its version: from the
 * bzImage's kernel_version string, or from the "Linux version" banner of
 * a vmlinux.
 */
#include "ros_kernel.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bzimage.h"
#include "elf.h"

#define BANNER "Linux version "

char *hvm_cache_dir(char *buf, size_t size)
{
    const char *dir = getenv("HVM_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");

    if (dir != NULL && dir[0] != '\0')
        snprintf(buf, size, "%s", dir);
    else if (xdg != NULL && xdg[0] != '\0')
        snprintf(buf, size, "%s/hvm", xdg);
    else
        snprintf(buf, size, "%s/.cache/hvm", home ? home : "/root");
    return buf;
}

/* Copies the first word of text (at most end - text bytes) into out. */
static void version_copy(const char *text, const char *end, char *out,
                         size_t size)
{
    size_t n = 0;

    while (text + n < end && n + 1 < size && text[n] > ' ' && text[n] < 127)
        n++;
    memcpy(out, text, n);
    out[n] = '\0';
}

static void version_from_bzimage(const uint8_t *image, size_t len,
                                 char *out, size_t size)
{
    uint16_t offset;

    memcpy(&offset, image + 0x20e, 2);
    if (offset != 0 && (size_t)offset + 0x200 < len)
        version_copy((const char *)image + offset + 0x200,
                     (const char *)image + len, out, size);
}

static void version_from_elf(const uint8_t *image, size_t len, char *out,
                             size_t size)
{
    const uint8_t *at = memmem(image, len, BANNER, strlen(BANNER));

    if (at != NULL)
        version_copy((const char *)at + strlen(BANNER),
                     (const char *)image + len, out, size);
}

int hvm_ros_kernel_describe(const char *path, struct hvm_ros_kernel *kernel,
                            char *err, size_t errlen)
{
    struct vmm_bzimage bz;
    size_t size;
    uint8_t *image = vmm_file_read(path, &size, err, errlen);

    if (image == NULL)
        return -1;
    snprintf(kernel->path, sizeof(kernel->path), "%s", path);
    snprintf(kernel->version, sizeof(kernel->version), "unknown");
    if (size >= 4 && memcmp(image, "\177ELF", 4) == 0) {
        kernel->format = HVM_ROS_KERNEL_ELF;
        version_from_elf(image, size, kernel->version,
                         sizeof(kernel->version));
    } else if (vmm_bzimage_parse(image, size, &bz, err, errlen) == 0) {
        kernel->format = HVM_ROS_KERNEL_BZIMAGE;
        version_from_bzimage(image, size, kernel->version,
                             sizeof(kernel->version));
    } else {
        free(image);
        return -1; /* err names the failed bzImage check */
    }
    if (kernel->version[0] == '\0')
        snprintf(kernel->version, sizeof(kernel->version), "unknown");
    free(image);
    return 0;
}

int hvm_ros_kernel_find(int ring0_emulated, struct hvm_ros_kernel *kernel,
                        char *err, size_t errlen)
{
    char cache[PATH_MAX], path[PATH_MAX + 64];

    hvm_cache_dir(cache, sizeof(cache));
    if (ring0_emulated)
        snprintf(path, sizeof(path), "%s/ros-kernel/current/vmlinux", cache);
    else
        snprintf(path, sizeof(path), "%s/debian-cloud/current/vmlinuz",
                 cache);
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "ROS kernel %s not found: run %s", path,
                 ring0_emulated ? "tools/ros-kernel/build.sh"
                                : "tools/ros-kernel/fetch-debian.sh");
        return -1;
    }
    if (hvm_ros_kernel_describe(path, kernel, err, errlen) < 0)
        return -1;
    kernel->source = ring0_emulated
                         ? "minimal kernel (guest ring 0 is interpreted)"
                         : "Debian cloud kernel";
    return 0;
}
