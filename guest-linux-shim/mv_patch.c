/*
 * Trap-free system calls for the C library. A `syscall` executed by guest
 * ring-3 code leaves the guest, which costs tens of microseconds where KVM
 * runs without hardware support. This file rewrites the C library's
 * system-call sites in the HRT's view of its code only: the host keeps
 * the original pages, and the guest runs a patched copy through the
 * memslots. Each site of the form
 *
 *     b8 NN NN 00 00     mov $NR, %eax
 *     0f 05              syscall
 *
 * or
 *
 *     0f 05              syscall
 *     48 3d XX XX XX XX  cmp $X, %rax
 *
 * becomes a `jmp` to a stub of its own that puts the return address and
 * flags where `syscall` would (RCX, R11) and enters the same code as the
 * LSTAR fallback (mv_rewrite.c). Other `syscall` instructions take the
 * fallback, which costs one exit.
 */
#include "mv.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

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
        void *area =
            mmap((void *)(uintptr_t)hint, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

        if (area != MAP_FAILED)
            return area;
    }
    return NULL;
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
    stub_bytes =
        ((size_t)max_sites * MV_REWRITE_STUB_SIZE + 4095) & ~(size_t)4095;
    copy = mmap(NULL, length, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stubs = stubs_allocate(&text, stub_bytes);
    if (copy == MAP_FAILED || stubs == NULL) {
        vmm_warn("no memory for rewritten system-call sites; system calls "
                 "will trap");
        return;
    }
    memcpy(copy, (const void *)(uintptr_t)text.start, length);
    count = mv_rewrite_sites(copy, text.start, length, stubs, max_sites,
                             (uint64_t)(uintptr_t)mv_syscall_entry);
    mv_memory_private(copy, length);
    /* The stubs are guest code: they need a slot but no identity alias. */
    mv_memory_update((uint64_t)(uintptr_t)stubs,
                     (uint64_t)(uintptr_t)stubs + stub_bytes,
                     PROT_READ | PROT_EXEC);
    mv_memory_overlay(text.start, text.end, copy);
    vmm_info("rewrote %u system-call sites of the C library", count);
}
