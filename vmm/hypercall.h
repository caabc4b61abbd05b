/*
 * Hypercall decoding and the one place where guest-provided addresses are
 * checked. The dispatch table lives in struct vmm_vm (vmm.h).
 */
#ifndef VMM_HYPERCALL_H
#define VMM_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#include <hvm/abi.h>

struct vmm_hypercall {
    unsigned op;      /* HVM_HC_* */
    uint64_t args[4]; /* RDI, RSI, R8, R9 */
};

/*
 * Decodes a port write. Returns 0 and fills call if port is a hypercall
 * port, 1 if the port is not a hypercall port, or -1 if the access is not
 * a write.
 */
int vmm_hypercall_decode(uint16_t port, int is_write, uint64_t rdi,
                         uint64_t rsi, uint64_t r8, uint64_t r9,
                         struct vmm_hypercall *call);

/* A guest memory map: ranges of guest physical addresses and their hosts. */
struct vmm_guest_range {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
};

/*
 * Translates [gpa, gpa + len) to a host pointer if the whole range lies
 * in one of the ranges and does not wrap. Returns NULL otherwise. Every
 * guest address the VMM dereferences goes through this function.
 */
void *vmm_guest_ptr(const struct vmm_guest_range *ranges, size_t count,
                    uint64_t gpa, uint64_t len);

/*
 * Copies a NUL-terminated string of at most max - 1 bytes out of a guest
 * buffer of max bytes, replacing bytes outside printable ASCII with '?'.
 */
void vmm_guest_string(char *dst, const char *guest, size_t max);

#endif
