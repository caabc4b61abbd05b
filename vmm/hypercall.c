/*
 * Hypercall decoding and guest-address checks. vmm_guest_ptr rejects
 * guest physical ranges that leave guest memory, wrap at 2^64 or span two
 * regions, and vmm_guest_string copies guest text safely.
 */
#include "hypercall.h"

int vmm_hypercall_decode(uint16_t port, int is_write, uint64_t rdi,
                         uint64_t rsi, uint64_t r8, uint64_t r9,
                         struct vmm_hypercall *call)
{
    if (port < HVM_HC_PORT_BASE || port - HVM_HC_PORT_BASE >= HVM_HC_PORT_COUNT)
        return 1;
    if (!is_write)
        return -1;
    /*
     * Ports past HVM_HC_COUNT decode too, and the dispatcher returns
     * HVM_ERR_NOSYS for them, so a guest can probe for an operation.
     */
    call->op = (unsigned)(port - HVM_HC_PORT_BASE);
    call->args[0] = rdi;
    call->args[1] = rsi;
    call->args[2] = r8;
    call->args[3] = r9;
    return 0;
}

void *vmm_guest_ptr(const struct vmm_guest_range *ranges, size_t count,
                    uint64_t gpa, uint64_t len)
{
    /* [gpa, gpa + len) must not wrap: its last byte is gpa + len - 1. */
    if (len > 0 && len - 1 > UINT64_MAX - gpa)
        return NULL;

    for (size_t i = 0; i < count; i++) {
        const struct vmm_guest_range *range = &ranges[i];
        uint64_t offset;

        if (range->hva == NULL || gpa < range->gpa)
            continue;
        offset = gpa - range->gpa;
        /*
         * A zero-length range still needs gpa inside the region, so the
         * returned pointer always points at guest memory.
         */
        if (offset >= range->size || len > range->size - offset)
            continue;
        return range->hva + offset;
    }
    return NULL;
}

void vmm_guest_string(char *dst, const char *guest, size_t max)
{
    /* volatile: the guest may change its memory while this copies it. */
    const volatile char *src = guest;
    size_t i;

    if (max == 0)
        return;
    for (i = 0; i + 1 < max; i++) {
        unsigned char c = (unsigned char)src[i];

        if (c == '\0')
            break;
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[i] = '\0';
}
