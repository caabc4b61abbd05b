/*
 * The merged address space of the host ROS. Guest physical address equals
 * host virtual address: each host mapping the application may use is a
 * memslot over itself, read-only when the mapping is, and the guest page
 * tables map the lower half identically with 2 MiB pages. KVM's MMU
 * notifiers then keep the HRT coherent with the host mappings; this file
 * only follows changes of extent and protection.
 *
 * Partners call the update functions while they serve mmap, munmap,
 * mprotect, mremap and brk, with the application's TLS, so nothing here
 * may use errno, malloc or stdio on those paths.
 */
#include "mv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MAX_SLOTS 32000
#define MAX_PRIVATE 16
#define USER_LIMIT (1ULL << 47)
#define HUGE (2ULL << 20)

struct slot {
    uint64_t start, end;
    uint32_t id;
    uint32_t flags;
    int64_t delta; /* host address = guest physical address + delta */
};

/*
 * Ranges whose guest view is backed by other host memory than the
 * identity: the C library's code with its system-call sites rewritten
 * (mv_patch.c). Every slot over such a range uses its delta.
 */
#define MAX_OVERLAYS 8

static struct {
    uint64_t start, end;
    int64_t delta;
} overlays[MAX_OVERLAYS];
static unsigned nr_overlays;

static struct slot slots[MAX_SLOTS];
static unsigned nr_slots;
static uint32_t free_ids[MAX_SLOTS];
static unsigned nr_free_ids;
static uint32_t next_id = 1; /* slot 0 is the HRT's own memory */
static struct {
    uint64_t start, end;
} private_ranges[MAX_PRIVATE];
static unsigned nr_private;

/* A three-state futex lock (0 free, 1 held, 2 held with waiters). */
static atomic_uint memory_lock_word;

void mv_memory_lock(void)
{
    unsigned expected = 0;

    if (atomic_compare_exchange_strong(&memory_lock_word, &expected, 1))
        return;
    while (atomic_exchange(&memory_lock_word, 2) != 0)
        mv_futex_wait(&memory_lock_word, 2);
}

void mv_memory_unlock(void)
{
    if (atomic_exchange(&memory_lock_word, 0) == 2)
        mv_futex_wake(&memory_lock_word);
}

void mv_memory_private(const void *start, size_t size)
{
    if (nr_private < MAX_PRIVATE) {
        private_ranges[nr_private].start = (uint64_t)(uintptr_t)start;
        private_ranges[nr_private].end = (uint64_t)(uintptr_t)start + size;
        nr_private++;
    }
}

static int is_private(uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < nr_private; i++) {
        if (start < private_ranges[i].end && private_ranges[i].start < end)
            return 1;
    }
    return 0;
}

static long slot_ioctl(uint32_t id, uint32_t flags, uint64_t start,
                       uint64_t size, int64_t delta)
{
    struct kvm_userspace_memory_region region = {
        .slot = id,
        .flags = flags,
        .guest_phys_addr = start,
        .memory_size = size,
        .userspace_addr = start + (uint64_t)delta,
    };

    return mv_syscall6(SYS_ioctl, mv.vm->vm_fd,
                       (long)KVM_SET_USER_MEMORY_REGION, (long)&region, 0, 0,
                       0);
}

static uint32_t id_alloc(void)
{
    if (nr_free_ids > 0)
        return free_ids[--nr_free_ids];
    return next_id++;
}

static void slot_insert_one(uint64_t start, uint64_t end, uint32_t flags,
                            int64_t delta)
{
    unsigned at = 0;
    uint32_t id;

    if (start >= end || nr_slots >= MAX_SLOTS)
        return;
    id = id_alloc();
    if (slot_ioctl(id, flags, start, end - start, delta) < 0) {
        free_ids[nr_free_ids++] = id;
        return;
    }
    while (at < nr_slots && slots[at].start < start)
        at++;
    memmove(&slots[at + 1], &slots[at], (nr_slots - at) * sizeof(slots[0]));
    slots[at] = (struct slot){start, end, id, flags, delta};
    nr_slots++;
}

/* Inserts [start, end), using each overlay's delta where one applies. */
static void slot_insert(uint64_t start, uint64_t end, uint32_t flags)
{
    while (start < end) {
        uint64_t piece_end = end;
        int64_t delta = 0;

        for (unsigned i = 0; i < nr_overlays; i++) {
            if (start >= overlays[i].start && start < overlays[i].end) {
                delta = overlays[i].delta;
                piece_end = end < overlays[i].end ? end : overlays[i].end;
                break;
            }
            if (overlays[i].start > start && overlays[i].start < piece_end)
                piece_end = overlays[i].start;
        }
        slot_insert_one(start, piece_end, flags, delta);
        start = piece_end;
    }
}

static void slot_remove(unsigned at)
{
    slot_ioctl(slots[at].id, 0, slots[at].start, 0, 0);
    free_ids[nr_free_ids++] = slots[at].id;
    memmove(&slots[at], &slots[at + 1], (nr_slots - at - 1) * sizeof(slots[0]));
    nr_slots--;
}

/* Removes [start, end) from every slot, keeping the parts outside it. */
static void slots_cut(uint64_t start, uint64_t end)
{
    unsigned i = 0;

    while (i < nr_slots) {
        struct slot old = slots[i];

        if (old.end <= start || old.start >= end) {
            i++;
            continue;
        }
        slot_remove(i);
        if (old.start < start)
            slot_insert(old.start, start, old.flags);
        if (old.end > end)
            slot_insert(end, old.end, old.flags);
        i = 0; /* the array changed; rescan from the start */
    }
}

void mv_memory_overlay(uint64_t start, uint64_t end, const void *host)
{
    mv_memory_lock();
    if (nr_overlays < MAX_OVERLAYS) {
        struct slot *covering = NULL;

        overlays[nr_overlays].start = start;
        overlays[nr_overlays].end = end;
        overlays[nr_overlays].delta = (int64_t)((uintptr_t)host - start);
        nr_overlays++;
        for (unsigned i = 0; i < nr_slots; i++) {
            if (slots[i].start <= start && slots[i].end >= end)
                covering = &slots[i];
        }
        /* Rebuild the slots over the range so that they use the overlay. */
        if (covering != NULL) {
            uint32_t flags = covering->flags;

            slots_cut(start, end);
            slot_insert(start, end, flags);
        }
    }
    mv_memory_unlock();
}

int mv_memory_map_range(uint64_t start, uint64_t end)
{
    uint64_t first = start & ~(HUGE - 1);
    uint64_t last = (end + HUGE - 1) & ~(HUGE - 1);

    if (end > USER_LIMIT)
        return -1;
    for (uint64_t page = first; page < last; page += HUGE) {
        uint64_t phys, flags;

        if (vmm_pt_translate(&mv.tables, page, &phys, &flags) == 0)
            continue;
        if (vmm_pt_map(&mv.tables, page, page, HUGE,
                       VMM_PTE_WRITE | VMM_PTE_USER) < 0)
            return -1;
    }
    return 0;
}

static void update_locked(uint64_t start, uint64_t end, int prot)
{
    start &= ~4095ULL;
    end = (end + 4095) & ~4095ULL;
    if (start >= end || end > USER_LIMIT)
        return;
    slots_cut(start, end);
    if (prot < 0 || prot == PROT_NONE || is_private(start, end))
        return;
    slot_insert(start, end, (prot & PROT_WRITE) ? 0 : KVM_MEM_READONLY);
    mv_memory_map_range(start, end);
}

void mv_memory_update(uint64_t start, uint64_t end, int prot)
{
    mv_memory_lock();
    update_locked(start, end, prot);
    mv_memory_unlock();
}

struct vma {
    uint64_t start, end;
    int prot;
    char name[64];
};

static uint64_t parse_hex(const char **cursor)
{
    uint64_t value = 0;
    const char *p = *cursor;

    for (;; p++) {
        unsigned digit;

        if (*p >= '0' && *p <= '9')
            digit = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            digit = (unsigned)(*p - 'a' + 10);
        else
            break;
        value = value * 16 + digit;
    }
    *cursor = p;
    return value;
}

/* Parses "start-end perms offset dev inode name" of /proc/self/maps. */
static int parse_maps_line(const char *line, struct vma *vma)
{
    const char *p = line;
    unsigned fields = 0;
    size_t length = 0;

    vma->start = parse_hex(&p);
    if (*p++ != '-')
        return -1;
    vma->end = parse_hex(&p);
    if (*p++ != ' ' || p[0] == '\0' || p[1] == '\0' || p[2] == '\0')
        return -1;
    vma->prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
                (p[2] == 'x' ? PROT_EXEC : 0);
    /* Skip perms, offset, device and inode to reach the name. */
    while (*p != '\0' && fields < 4) {
        while (*p != '\0' && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        fields++;
    }
    while (p[length] != '\0' && length < sizeof(vma->name) - 1) {
        vma->name[length] = p[length];
        length++;
    }
    vma->name[length] = '\0';
    return 0;
}

/*
 * Calls visit for every mapping of the process. vCPU threads call this
 * while application code in the guest may hold C-library locks (malloc,
 * stdio), so it reads the file with raw system calls into a stack buffer.
 */
static int maps_for_each(int (*visit)(const struct vma *vma, void *ctx),
                         void *ctx)
{
    char buffer[8192];
    size_t filled = 0;
    int result = 0;
    long fd = mv_syscall6(SYS_openat, AT_FDCWD, (long)"/proc/self/maps",
                          O_RDONLY | O_CLOEXEC, 0, 0, 0);

    if (fd < 0)
        return -1;
    while (result == 0) {
        long got = mv_syscall6(SYS_read, fd, (long)(buffer + filled),
                               (long)(sizeof(buffer) - 1 - filled), 0, 0, 0);
        char *line = buffer, *newline;
        struct vma vma;

        if (got <= 0)
            break;
        filled += (size_t)got;
        buffer[filled] = '\0';
        while (result == 0 && (newline = strchr(line, '\n')) != NULL) {
            *newline = '\0';
            if (parse_maps_line(line, &vma) == 0)
                result = visit(&vma, ctx);
            line = newline + 1;
        }
        filled -= (size_t)(line - buffer);
        memmove(buffer, line, filled);
    }
    mv_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
    return result;
}

static int add_vma(const struct vma *vma, void *ctx)
{
    (void)ctx;
    /* The vsyscall page is in the upper half and never reached by code
     * linked against a current C library. */
    if (vma->end > USER_LIMIT)
        return 0;
    update_locked(vma->start, vma->end, vma->prot);
    return 0;
}

int mv_memory_init(void)
{
    int result;

    mv_memory_lock();
    result = maps_for_each(add_vma, NULL);
    mv_memory_unlock();
    return result;
}

void mv_memory_resync(void)
{
    mv_memory_lock();
    while (nr_slots > 0)
        slot_remove(nr_slots - 1);
    maps_for_each(add_vma, NULL);
    mv_memory_unlock();
}

struct vma_query {
    uint64_t address;
    struct vma found;
    int hit;
};

static int match_vma(const struct vma *vma, void *ctx)
{
    struct vma_query *query = ctx;

    if (query->address >= vma->start && query->address < vma->end) {
        query->found = *vma;
        query->hit = 1;
        return 1;
    }
    return 0;
}

static int slot_covers(uint64_t address, int is_write)
{
    for (unsigned i = 0; i < nr_slots; i++) {
        if (address >= slots[i].start && address < slots[i].end)
            return !is_write || !(slots[i].flags & KVM_MEM_READONLY);
    }
    return 0;
}

int mv_memory_fault(uint64_t address, int is_write, int is_exec)
{
    struct vma_query query = {.address = address};
    int result = -1;

    mv_memory_lock();
    maps_for_each(match_vma, &query);
    if (query.hit && !is_private(address, address + 1) &&
        query.found.prot != PROT_NONE &&
        (!is_write || (query.found.prot & PROT_WRITE)) &&
        (!is_exec || (query.found.prot & PROT_EXEC))) {
        if (!slot_covers(address, is_write))
            update_locked(query.found.start, query.found.end, query.found.prot);
        result = 0;
    }
    mv_memory_unlock();
    return result;
}
