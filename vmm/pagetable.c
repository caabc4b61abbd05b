/*
 * x86-64 four-level page-table builder over a caller-owned pool of table
 * pages. Functions that fail set errno: EINVAL for bad arguments, ENOMEM
 * when the pool is exhausted, EEXIST when a mapping of the other page size
 * is in the way.
 */
#include "pagetable.h"

#include <errno.h>
#include <string.h>

#define PT_ENTRIES 512
#define PT_LEAF_FLAGS                                                          \
    (VMM_PTE_WRITE | VMM_PTE_USER | VMM_PTE_ACCESSED | VMM_PTE_DIRTY |         \
     VMM_PTE_GLOBAL | VMM_PTE_NX)
/* Physical addresses must lie below 2^52, the limit of an entry. */
#define PT_PHYS_LIMIT (1ULL << 52)

/* Index of virt in the table of the given level (4 = PML4, 1 = PT). */
static unsigned pt_index(uint64_t virt, int level)
{
    return (unsigned)(virt >> (12 + 9 * (level - 1))) & (PT_ENTRIES - 1);
}

/* Canonical with 48-bit virtual addresses: bits 63..47 all equal. */
static int pt_canonical(uint64_t virt)
{
    uint64_t top = virt >> 47;

    return top == 0 || top == 0x1ffff;
}

uint64_t *vmm_pt_table(const struct vmm_pt_builder *builder, uint64_t phys)
{
    uint64_t offset;

    /* Only the allocated part of the pool contains tables. */
    if (phys < builder->pool_phys || (phys & (VMM_PAGE_SIZE - 1)) != 0)
        return NULL;
    offset = phys - builder->pool_phys;
    if (offset >= builder->used)
        return NULL;
    return (uint64_t *)(builder->pool + offset);
}

/* Takes a zeroed table page from the pool. Returns 0, or -1 if full. */
static int pt_alloc(struct vmm_pt_builder *builder, uint64_t *phys)
{
    if (builder->pool_size - builder->used < VMM_PAGE_SIZE) {
        errno = ENOMEM;
        return -1;
    }
    *phys = builder->pool_phys + builder->used;
    memset(builder->pool + builder->used, 0, VMM_PAGE_SIZE);
    builder->used += VMM_PAGE_SIZE;
    return 0;
}

int vmm_pt_init(struct vmm_pt_builder *builder, void *pool, uint64_t pool_phys,
                uint64_t pool_size)
{
    memset(builder, 0, sizeof(*builder));
    /* The host pool must be 8-byte aligned for the uint64_t entries. */
    if (pool == NULL || ((uintptr_t)pool & 7) != 0 ||
        (pool_phys & (VMM_PAGE_SIZE - 1)) != 0 ||
        pool_phys > PT_PHYS_LIMIT - VMM_PAGE_SIZE) {
        errno = EINVAL;
        return -1;
    }
    builder->pool = pool;
    builder->pool_phys = pool_phys;
    builder->pool_size = pool_size & ~(VMM_PAGE_SIZE - 1);
    if (builder->pool_size > PT_PHYS_LIMIT - pool_phys)
        builder->pool_size = PT_PHYS_LIMIT - pool_phys;
    return pt_alloc(builder, &builder->pml4_phys);
}

/*
 * Returns the table that the entry at table[index] points to, allocating
 * it if the entry is empty. Fails with EEXIST if the entry is a leaf.
 */
static uint64_t *pt_next_table(struct vmm_pt_builder *builder, uint64_t *table,
                               unsigned index)
{
    uint64_t entry = table[index];
    uint64_t *next;

    if (!(entry & VMM_PTE_PRESENT)) {
        uint64_t phys;

        if (pt_alloc(builder, &phys) < 0)
            return NULL;
        /* WRITE and USER here so that only the leaf restricts access. */
        table[index] = phys | VMM_PTE_PRESENT | VMM_PTE_WRITE | VMM_PTE_USER;
        return vmm_pt_table(builder, phys);
    }
    if (entry & VMM_PTE_HUGE) {
        errno = EEXIST;
        return NULL;
    }
    next = vmm_pt_table(builder, entry & VMM_PTE_ADDR_MASK);
    if (next == NULL)
        errno = EINVAL; /* the entry points outside the pool */
    return next;
}

/* Maps one page of VMM_HUGE_PAGE_SIZE if huge is set, else of 4 KiB. */
static int pt_map_page(struct vmm_pt_builder *builder, uint64_t virt,
                       uint64_t phys, uint64_t flags, int huge)
{
    uint64_t *table = vmm_pt_table(builder, builder->pml4_phys);
    int leaf_level = huge ? 2 : 1;

    for (int level = 4; level > leaf_level && table != NULL; level--)
        table = pt_next_table(builder, table, pt_index(virt, level));
    if (table == NULL)
        return -1;

    if (huge) {
        uint64_t entry = table[pt_index(virt, 2)];

        /* A present non-huge entry points to a table of 4 KiB pages. */
        if ((entry & VMM_PTE_PRESENT) && !(entry & VMM_PTE_HUGE)) {
            errno = EEXIST;
            return -1;
        }
        table[pt_index(virt, 2)] =
            phys | flags | VMM_PTE_PRESENT | VMM_PTE_HUGE;
    } else {
        table[pt_index(virt, 1)] = phys | flags | VMM_PTE_PRESENT;
    }
    return 0;
}

static int pt_map_check(const struct vmm_pt_builder *builder, uint64_t virt,
                        uint64_t phys, uint64_t size, uint64_t flags)
{
    uint64_t last_virt;

    if (builder->used == 0 || size == 0 || (flags & ~PT_LEAF_FLAGS))
        return -1;
    if (((virt | phys | size) & (VMM_PAGE_SIZE - 1)) != 0)
        return -1;
    if (phys >= PT_PHYS_LIMIT || size > PT_PHYS_LIMIT - phys)
        return -1;
    /* The range must not wrap, nor cross the non-canonical hole. */
    if (__builtin_add_overflow(virt, size - 1, &last_virt))
        return -1;
    if (!pt_canonical(virt) || !pt_canonical(last_virt) ||
        (virt >> 63) != (last_virt >> 63))
        return -1;
    return 0;
}

int vmm_pt_map(struct vmm_pt_builder *builder, uint64_t virt, uint64_t phys,
               uint64_t size, uint64_t flags)
{
    if (pt_map_check(builder, virt, phys, size, flags) < 0) {
        errno = EINVAL;
        return -1;
    }

    /*
     * NOTE: a failure part-way leaves the pages before it mapped, so the
     * caller should treat the tables as unusable after an error.
     */
    while (size > 0) {
        int huge = ((virt | phys) & (VMM_HUGE_PAGE_SIZE - 1)) == 0 &&
                   size >= VMM_HUGE_PAGE_SIZE;
        uint64_t step = huge ? VMM_HUGE_PAGE_SIZE : VMM_PAGE_SIZE;

        if (pt_map_page(builder, virt, phys, flags, huge) < 0)
            return -1;
        virt += step;
        phys += step;
        size -= step;
    }
    return 0;
}

int vmm_pt_translate(const struct vmm_pt_builder *builder, uint64_t virt,
                     uint64_t *phys, uint64_t *flags)
{
    const uint64_t *table = vmm_pt_table(builder, builder->pml4_phys);

    if (!pt_canonical(virt))
        return -1;
    for (int level = 4; level >= 1 && table != NULL; level--) {
        uint64_t entry = table[pt_index(virt, level)];
        uint64_t page_size = 1ULL << (12 + 9 * (level - 1));

        if (!(entry & VMM_PTE_PRESENT))
            return -1;
        /* A leaf: a 4 KiB entry, or a 2 MiB or 1 GiB page. */
        if (level == 1 || (level <= 3 && (entry & VMM_PTE_HUGE))) {
            uint64_t base = entry & VMM_PTE_ADDR_MASK & ~(page_size - 1);

            *phys = base | (virt & (page_size - 1));
            *flags = entry & ~VMM_PTE_ADDR_MASK;
            return 0;
        }
        table = vmm_pt_table(builder, entry & VMM_PTE_ADDR_MASK);
    }
    return -1;
}
