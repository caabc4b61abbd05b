/*
 * The pure part of system-call site rewriting (see mv_patch.c): finding
 * `mov $NR, %eax; syscall` and `syscall; cmp $X, %rax` sites in a copy of
 * code and writing their stubs.
 * It uses no KVM, so unit tests run it on buffers.
 */
#include "mv_rewrite.h"

#include <string.h>

#define STUB_SIZE MV_REWRITE_STUB_SIZE
#define MAX_SYSCALL_NUMBER 512
#define REL32_LIMIT (1LL << 31)

/* The two forms of system-call site this file rewrites. */
enum site_kind {
    SITE_NONE,
    SITE_MOV_SYSCALL, /* b8 NN NN 00 00  0f 05: mov $NR, %eax; syscall */
    SITE_SYSCALL_CMP, /* 0f 05  48 3d XX XX XX XX: syscall; cmp $X, %rax */
};

#define MOV_SITE_LENGTH 7
#define CMP_SITE_LENGTH 8
#define CMP_LENGTH 6

static enum site_kind site_kind_at(const uint8_t *code, size_t offset,
                                   size_t length)
{
    uint32_t number;

    if (offset + MOV_SITE_LENGTH <= length && code[offset] == 0xb8 &&
        code[offset + 5] == 0x0f && code[offset + 6] == 0x05) {
        memcpy(&number, code + offset + 1, 4);
        if (number < MAX_SYSCALL_NUMBER)
            return SITE_MOV_SYSCALL;
    }
    if (offset + CMP_SITE_LENGTH <= length && code[offset] == 0x0f &&
        code[offset + 1] == 0x05 && code[offset + 2] == 0x48 &&
        code[offset + 3] == 0x3d)
        return SITE_SYSCALL_CMP;
    return SITE_NONE;
}

static size_t site_length(enum site_kind kind)
{
    return kind == SITE_MOV_SYSCALL ? MOV_SITE_LENGTH : CMP_SITE_LENGTH;
}

/*
 * Writes the stub of one site: [mov $NR, %eax], then RSP drops below the
 * red zone, RFLAGS goes to R11, RSP comes back, RCX gets the resume
 * address, and an absolute jump enters the channel code. A `syscall; cmp`
 * site resumes at a tail in the stub that runs the cmp and jumps back.
 */
static void stub_write(uint8_t *stub, enum site_kind kind, const uint8_t *code,
                       uint64_t site, uint64_t entry)
{
    static const uint8_t body[] = {
        0x48, 0x8d, 0x64, 0x24, 0x80,                   /* lea -128(%rsp) */
        0x9c,                                           /* pushfq */
        0x41, 0x5b,                                     /* pop %r11 */
        0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00, /* lea 128(%rsp) */
    };
    uint64_t resume = site + MOV_SITE_LENGTH;
    size_t at = 0, tail;

    if (kind == SITE_MOV_SYSCALL) {
        memcpy(stub + at, code, 5); /* mov $NR, %eax */
        at += 5;
    }
    memcpy(stub + at, body, sizeof(body));
    at += sizeof(body);
    tail = at + 10 + 14;
    if (kind == SITE_SYSCALL_CMP)
        resume = (uint64_t)(uintptr_t)(stub + tail);
    stub[at++] = 0x48; /* movabs $resume, %rcx */
    stub[at++] = 0xb9;
    memcpy(stub + at, &resume, 8);
    at += 8;
    stub[at++] = 0xff; /* jmp *0(%rip) */
    stub[at++] = 0x25;
    memset(stub + at, 0, 4);
    at += 4;
    memcpy(stub + at, &entry, 8);
    at += 8;
    if (kind == SITE_SYSCALL_CMP) {
        int32_t back;

        memcpy(stub + at, code + 2, CMP_LENGTH); /* cmp $X, %rax */
        at += CMP_LENGTH;
        back = (int32_t)((int64_t)(site + CMP_SITE_LENGTH) -
                         (int64_t)(uintptr_t)(stub + at + 5));
        stub[at++] = 0xe9; /* jmp back after the site */
        memcpy(stub + at, &back, 4);
    }
}

unsigned mv_rewrite_sites(uint8_t *copy, uint64_t text_start, size_t length,
                          uint8_t *stubs, unsigned max_sites, uint64_t entry)
{
    unsigned count = 0;

    for (size_t offset = 0; offset < length && count < max_sites; offset++) {
        enum site_kind kind = site_kind_at(copy, offset, length);
        uint64_t site = text_start + offset;
        uint8_t *stub = stubs + (size_t)count * STUB_SIZE;
        int64_t rel;

        if (kind == SITE_NONE)
            continue;
        rel = (int64_t)(uintptr_t)stub - (int64_t)(site + 5);
        if (rel >= REL32_LIMIT || rel < -REL32_LIMIT)
            continue;
        stub_write(stub, kind, copy + offset, site, entry);
        copy[offset] = 0xe9; /* jmp rel32 */
        memcpy(copy + offset + 1, &(int32_t){(int32_t)rel}, 4);
        /* A mov site keeps its syscall bytes, so a branch to them still
         * works; a cmp site's leftover bytes trap if anything runs them. */
        if (kind == SITE_SYSCALL_CMP)
            memset(copy + offset + 5, 0xcc, CMP_SITE_LENGTH - 5);
        count++;
        offset += site_length(kind) - 1;
    }
    return count;
}
