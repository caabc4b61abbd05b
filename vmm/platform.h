/*
 * Platform detection, measured rather than assumed: the module that
 * provides KVM, and whether guest ring-0 code runs natively or is
 * interpreted by KVM's instruction emulator.
 */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

#include <stdint.h>

struct vmm_platform {
    const char *kind;   /* "VMX", "SVM", "PVM-nested" or "unknown" */
    const char *module; /* kvm_intel, kvm_amd, kvm_pvm or "" */
    int nested;         /* the host itself runs under a hypervisor */
    int ring0_emulated; /* measured: 1, 0, or -1 if the probe failed */
    double ring0_ns_per_iteration; /* dec/jnz loop in guest ring 0 */
    double ring3_ns_per_iteration; /* the same loop in guest ring 3 */
};

/* Reads the module and CPU flags; no VM is created. */
void vmm_platform_identify(struct vmm_platform *platform);

/*
 * Identifies the platform and times a short loop in guest ring 0 and ring
 * 3 in a scratch VM, keeping the fastest of three trials of each. Takes
 * about 100 ms where ring 0 is interpreted.
 * Returns 0, or -1 if the probe VM could not run (ring0_emulated is -1).
 */
int vmm_platform_probe(struct vmm_platform *platform);

#endif
