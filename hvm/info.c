/*
 * `hvm info`: what KVM offers on this host and how guest code runs here,
 * so that a user knows which numbers to expect before running anything.
 */
#include "commands.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "platform.h"
#include "ros_kernel.h"
#include "vmm.h"

static void print_capabilities(int kvm_fd)
{
    static const struct {
        const char *name;
        long cap;
    } caps[] = {
        {"recommended vCPUs (KVM_CAP_NR_VCPUS)", KVM_CAP_NR_VCPUS},
        {"maximum vCPUs (KVM_CAP_MAX_VCPUS)", KVM_CAP_MAX_VCPUS},
        {"memory slots (KVM_CAP_NR_MEMSLOTS)", KVM_CAP_NR_MEMSLOTS},
        {"in-kernel irqchip (KVM_CAP_IRQCHIP)", KVM_CAP_IRQCHIP},
        {"read-only memory (KVM_CAP_READONLY_MEM)", KVM_CAP_READONLY_MEM},
        {"ioeventfd (KVM_CAP_IOEVENTFD)", KVM_CAP_IOEVENTFD},
        {"binary stats (KVM_CAP_BINARY_STATS_FD)", KVM_CAP_BINARY_STATS_FD},
    };

    printf("KVM API version:    %d\n", ioctl(kvm_fd, KVM_GET_API_VERSION, 0));
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        printf("  %-42s %d\n", caps[i].name,
               ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap));
}

static void print_file_line(const char *label, const char *path)
{
    char line[256] = "";
    FILE *file = fopen(path, "r");

    if (file != NULL) {
        if (fgets(line, sizeof(line), file) == NULL)
            line[0] = '\0';
        fclose(file);
    }
    line[strcspn(line, "\n")] = '\0';
    printf("%-20s%s\n", label, line[0] ? line : "(not available)");
}

static void print_ros_kernel(int ring0_emulated)
{
    struct hvm_ros_kernel kernel;
    char err[256];

    if (hvm_ros_kernel_find(ring0_emulated, &kernel, err, sizeof(err)) < 0) {
        printf("ROS kernel:         none yet (%s)\n", err);
        return;
    }
    printf("ROS kernel:         %s %s (%s)\n", kernel.path, kernel.version,
           kernel.source);
}

static void print_platform(void)
{
    struct vmm_platform platform;

    vmm_platform_probe(&platform);
    printf("platform kind:      %s%s%s%s\n", platform.kind,
           platform.module[0] ? " (module " : "", platform.module,
           platform.module[0] ? ")" : "");
    printf("host is a VM:       %s\n", platform.nested ? "yes" : "no");
    if (platform.ring0_emulated < 0) {
        printf("guest ring 0:       probe failed (see the errors above)\n");
        return;
    }
    printf("guest ring 0:       %s (%.1f ns per loop iteration)\n",
           platform.ring0_emulated ? "interpreted by KVM's emulator" : "native",
           platform.ring0_ns_per_iteration);
    printf("guest ring 3:       native (%.2f ns per loop iteration, "
           "including one exit)\n",
           platform.ring3_ns_per_iteration);
    printf("default privilege:  %s\n",
           platform.ring0_emulated ? "user (ring 3)" : "kernel (ring 0)");
    print_ros_kernel(platform.ring0_emulated);
}

int hvm_cmd_info(int argc, char **argv)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"trace", required_argument, NULL, 'T'},
        {0},
    };
    int opt, kvm_fd;

    while ((opt = getopt_long(argc, argv, "vqh", options, NULL)) != -1) {
        if (opt == 'h') {
            printf("usage: hvm info [-v] [-q]\n"
                   "Prints the KVM API version and limits, the platform "
                   "kind, whether guest\nring 0 is interpreted (measured), "
                   "and huge-page availability.\n");
            return 0;
        }
        if (hvm_common_option(opt, optarg) <= 0)
            return 2;
    }
    kvm_fd = vmm_kvm_open();
    if (kvm_fd < 0)
        return 1;
    print_capabilities(kvm_fd);
    close(kvm_fd);
    print_platform();
    print_file_line("transparent huge:   ",
                    "/sys/kernel/mm/transparent_hugepage/enabled");
    print_file_line("huge pages (2 MiB): ", "/proc/sys/vm/nr_hugepages");
    printf("TSC frequency:      %llu kHz\n", (unsigned long long)vmm_tsc_khz());
    return 0;
}
