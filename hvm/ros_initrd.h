/*
 * The command that `hvm run -- COMMAND` passes to the guest: a small newc
 * cpio archive with /hvm/argv (the arguments, each ending in a NUL),
 * appended to the initramfs. The kernel unpacks concatenated archives in
 * order, and the project's /init reads the file, so no argument needs
 * quoting on the kernel command line.
 */
#ifndef HVM_ROS_INITRD_H
#define HVM_ROS_INITRD_H

#include <stddef.h>
#include <stdint.h>

/* Bytes hvm_ros_argv_archive_build() writes for these arguments. */
size_t hvm_ros_argv_archive_size(int argc, char *const *argv);

/*
 * Writes the archive into buf. Returns the bytes written, or 0 if buf is
 * smaller than hvm_ros_argv_archive_size().
 */
size_t hvm_ros_argv_archive_build(uint8_t *buf, size_t size, int argc,
                                  char *const *argv);

#endif
