/*
 * The pure part of system-call site rewriting (see mv_patch.c): finding
 * `mov $NR, %eax; syscall` sites in a copy of code and writing their stubs.
 * It knows nothing of KVM, so unit tests run it on buffers.
 */
#include "mv_rewrite.h"

#include <string.h>

#define STUB_SIZE MV_REWRITE_STUB_SIZE
#define MAX_SYSCALL_NUMBER 512
#define SITE_LENGTH 7
#define REL32_LIMIT (1LL << 31)

static int site_matches(const uint8_t *code, size_t offset, size_t length)
{
    uint32_t number;

    if (offset + SITE_LENGTH > length || code[offset] != 0xb8 ||
        code[offset + 5] != 0x0f || code[offset + 6] != 0x05)
        return 0;
    memcpy(&number, code + offset + 1, 4);
    return number < MAX_SYSCALL_NUMBER;
}

/* Writes the stub of one site, as mv_rewrite_sites() describes it. */
static void stub_write(uint8_t *stub, const uint8_t *site, uint64_t resume,
                       uint64_t entry)
{
    static const uint8_t body[] = {
        0x48, 0x8d, 0x64, 0x24, 0x80,                   /* lea -128(%rsp) */
        0x9c,                                           /* pushfq */
        0x41, 0x5b,                                     /* pop %r11 */
        0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00, /* lea 128(%rsp) */
    };
    size_t at = 0;

    memcpy(stub + at, site, 5); /* mov $NR, %eax */
    at += 5;
    memcpy(stub + at, body, sizeof(body));
    at += sizeof(body);
    stub[at++] = 0x48; /* movabs $resume, %rcx */
    stub[at++] = 0xb9;
    memcpy(stub + at, &resume, 8);
    at += 8;
    stub[at++] = 0xff; /* jmp *0(%rip) */
    stub[at++] = 0x25;
    memset(stub + at, 0, 4);
    at += 4;
    memcpy(stub + at, &entry, 8);
}

unsigned mv_rewrite_sites(uint8_t *copy, uint64_t text_start, size_t length,
                          uint8_t *stubs, unsigned max_sites, uint64_t entry)
{
    unsigned count = 0;

    for (size_t offset = 0; offset < length && count < max_sites; offset++) {
        uint64_t site = text_start + offset;
        uint8_t *stub = stubs + (size_t)count * STUB_SIZE;
        int64_t rel;

        if (!site_matches(copy, offset, length))
            continue;
        rel = (int64_t)(uintptr_t)stub - (int64_t)(site + 5);
        if (rel >= REL32_LIMIT || rel < -REL32_LIMIT)
            continue;
        stub_write(stub, copy + offset, site + SITE_LENGTH, entry);
        copy[offset] = 0xe9; /* jmp rel32; the syscall bytes stay */
        memcpy(copy + offset + 1, &(int32_t){(int32_t)rel}, 4);
        count++;
        offset += SITE_LENGTH - 1;
    }
    return count;
}
