/*
 * Trap-free system calls for the C library. A `syscall` executed by guest
 * ring-3 code leaves the guest, which costs tens of microseconds where KVM
 * runs without hardware support. This file rewrites the C library's
 * system-call sites in the HRT's view of its code only: the host keeps
 * the original pages, and the guest sees a patched copy through the
 * memslots. Each site of the form
 *
 *     b8 NN NN 00 00     mov $NR, %eax
 *     0f 05              syscall
 *
 * becomes a `jmp` to a stub of its own that loads NR, puts the return
 * address and flags where `syscall` would (RCX, R11), and enters the same
 * code as the LSTAR fallback. A branch to the `syscall` byte itself still
 * finds the original instruction, which then takes the fallback.
 */
#include "mv.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define STUB_SIZE 64
#define MAX_SYSCALL_NUMBER 512
#define SITE_LENGTH 7
#define REL32_LIMIT (1LL << 31)
#define STUB_SEARCH_STEP (16ULL << 20)

struct text_range {
    uint64_t start, end;
};

static int libc_text_find(struct text_range *text)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    char line[512];
    unsigned long long start, end;
    char perms[8];
    int found = 0;

    if (maps == NULL)
        return -1;
    while (!found && fgets(line, sizeof(line), maps) != NULL) {
        if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) == 3 &&
            strcmp(perms, "r-xp") == 0 && strstr(line, "/libc.so.6\n")) {
            text->start = start;
            text->end = end;
            found = 1;
        }
    }
    fclose(maps);
    return found ? 0 : -1;
}

/* Maps stub memory within a rel32 jump of the whole text. */
static uint8_t *stubs_allocate(const struct text_range *text, size_t size)
{
    for (uint64_t distance = STUB_SEARCH_STEP; distance < REL32_LIMIT / 2;
         distance += STUB_SEARCH_STEP) {
        uint64_t hint = text->start - distance - size;
        void *area = mmap((void *)(uintptr_t)hint, size,
                          PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                          -1, 0);

        if (area != MAP_FAILED)
            return area;
    }
    return NULL;
}

static int site_matches(const uint8_t *code, size_t offset, size_t length)
{
    uint32_t number;

    if (offset + SITE_LENGTH > length || code[offset] != 0xb8 ||
        code[offset + 5] != 0x0f || code[offset + 6] != 0x05)
        return 0;
    memcpy(&number, code + offset + 1, 4);
    return number < MAX_SYSCALL_NUMBER;
}

/* Writes the stub of one site; see the file comment for what it does. */
static void stub_write(uint8_t *stub, const uint8_t *site, uint64_t resume)
{
    static const uint8_t body[] = {
        0x48, 0x8d, 0x64, 0x24, 0x80,                   /* lea -128(%rsp) */
        0x9c,                                           /* pushfq */
        0x41, 0x5b,                                     /* pop %r11 */
        0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00, /* lea 128(%rsp) */
    };
    uint64_t entry = (uint64_t)(uintptr_t)mv_syscall_entry;
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

static unsigned sites_patch(uint8_t *copy, const struct text_range *text,
                            uint8_t *stubs, unsigned max_sites)
{
    size_t length = text->end - text->start;
    unsigned count = 0;

    for (size_t offset = 0; offset < length && count < max_sites; offset++) {
        uint64_t site = text->start + offset;
        uint8_t *stub = stubs + (size_t)count * STUB_SIZE;
        int64_t rel;

        if (!site_matches(copy, offset, length))
            continue;
        rel = (int64_t)(uintptr_t)stub - (int64_t)(site + 5);
        if (rel >= REL32_LIMIT || rel < -REL32_LIMIT)
            continue;
        stub_write(stub, copy + offset, site + SITE_LENGTH);
        copy[offset] = 0xe9; /* jmp rel32; the syscall bytes stay */
        memcpy(copy + offset + 1, &(int32_t){(int32_t)rel}, 4);
        count++;
        offset += SITE_LENGTH - 1;
    }
    return count;
}

void mv_patch_libc(void)
{
    struct text_range text;
    size_t length, stub_bytes;
    unsigned max_sites, count;
    uint8_t *copy, *stubs;

    if (libc_text_find(&text) < 0) {
        vmm_info("C library code not found; system calls will trap");
        return;
    }
    length = text.end - text.start;
    max_sites = (unsigned)(length / 64 + 1);
    stub_bytes = ((size_t)max_sites * STUB_SIZE + 4095) & ~(size_t)4095;
    copy = mmap(NULL, length, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stubs = stubs_allocate(&text, stub_bytes);
    if (copy == MAP_FAILED || stubs == NULL) {
        vmm_warn("no memory for rewritten system-call sites; system calls "
                 "will trap");
        return;
    }
    memcpy(copy, (const void *)(uintptr_t)text.start, length);
    count = sites_patch(copy, &text, stubs, max_sites);
    mv_memory_private(copy, length);
    /* The stubs are guest code: they need a slot but no identity alias. */
    mv_memory_update((uint64_t)(uintptr_t)stubs,
                     (uint64_t)(uintptr_t)stubs + stub_bytes,
                     PROT_READ | PROT_EXEC);
    mv_memory_overlay(text.start, text.end, copy);
    vmm_info("rewrote %u system-call sites of the C library", count);
}
