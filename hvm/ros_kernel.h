/*
 * Choosing the guest ROS kernel: Debian's cloud kernel (a bzImage) on
 * hosts with hardware virtualization, or the minimal kernel that
 * tools/ros-kernel/build.sh builds (a vmlinux ELF) where KVM interprets
 * guest ring 0. Both live in the per-machine cache.
 */
#ifndef HVM_ROS_KERNEL_H
#define HVM_ROS_KERNEL_H

#include <limits.h>
#include <stddef.h>

enum hvm_ros_kernel_format {
    HVM_ROS_KERNEL_BZIMAGE,
    HVM_ROS_KERNEL_ELF,
};

struct hvm_ros_kernel {
    char path[PATH_MAX];
    char version[128];  /* "6.1.192-hvm-ros", or "unknown" */
    enum hvm_ros_kernel_format format;
    const char *source; /* how it was chosen, for messages */
};

/*
 * Stores the cache folder in buf: $HVM_CACHE_DIR, else
 * $XDG_CACHE_HOME/hvm, else $HOME/.cache/hvm. Returns buf.
 */
char *hvm_cache_dir(char *buf, size_t size);

/*
 * Finds the kernel `hvm run` boots by default: the minimal kernel when
 * ring0_emulated is nonzero, Debian's cloud kernel otherwise. Returns 0,
 * or -1 with a message in err that names the set-up step to run.
 */
int hvm_ros_kernel_find(int ring0_emulated, struct hvm_ros_kernel *kernel,
                        char *err, size_t errlen);

/*
 * Describes the kernel file at path (format and version). Returns 0, or
 * -1 with err set if it is neither an ELF file nor a bzImage.
 */
int hvm_ros_kernel_describe(const char *path, struct hvm_ros_kernel *kernel,
                            char *err, size_t errlen);

#endif
