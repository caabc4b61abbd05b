/*
 * The merge of guest-ROS hybridization: page-table roots, walks and the
 * lower-half copy (see ros_hybrid_merge.h). No KVM and no global state.
 */
#include "ros_hybrid_merge.h"

#include <stddef.h>

#include "pagetable.h"

#define CR3_ADDR_MASK 0x000ffffffffff000ULL
#define USER_TOP (1ULL << 47)
#define PAGE_BYTES (HVM_MERGE_ENTRIES * sizeof(uint64_t))
/* A PTI user root maps only the entry trampoline and the CPU entry area
 * in its upper half; a kernel root maps the direct map, vmalloc space and
 * the kernel image too. */
#define PTI_USER_UPPER_MAX 4

static const uint64_t *table_read(const struct hvm_merge_source *src,
                                  uint64_t gpa)
{
    if (gpa & (VMM_PAGE_SIZE - 1))
        return NULL;
    return src->read(src->ctx, gpa, PAGE_BYTES);
}

static unsigned upper_present(const uint64_t *table)
{
    unsigned count = 0;

    for (unsigned i = HVM_MERGE_LOWER; i < HVM_MERGE_ENTRIES; i++)
        count += (table[i] & VMM_PTE_PRESENT) != 0;
    return count;
}

/* Lower halves equal except for NX, which PTI sets on the kernel's copy. */
static int lower_match_but_nx(const uint64_t *kernel, const uint64_t *user)
{
    for (unsigned i = 0; i < HVM_MERGE_LOWER; i++)
        if ((kernel[i] & ~VMM_PTE_NX) != (user[i] & ~VMM_PTE_NX))
            return 0;
    return 1;
}

int hvm_merge_root_find(const struct hvm_merge_source *src, uint64_t cr3,
                        struct hvm_merge_root *root)
{
    uint64_t base = cr3 & CR3_ADDR_MASK;
    const uint64_t *user = table_read(src, base);
    const uint64_t *kernel;

    if (user == NULL)
        return -1;
    root->user_root = base;
    root->kernel_root = base;
    root->pti = 0;
    /* Linux allocates a PTI root pair as 8 KiB, user root on top. */
    if (!(base & VMM_PAGE_SIZE))
        return 0;
    kernel = table_read(src, base - VMM_PAGE_SIZE);
    if (kernel == NULL || upper_present(user) > PTI_USER_UPPER_MAX ||
        upper_present(kernel) <= upper_present(user) ||
        !lower_match_but_nx(kernel, user))
        return 0;
    root->kernel_root = base - VMM_PAGE_SIZE;
    root->pti = 1;
    return 0;
}

int hvm_merge_translate(const struct hvm_merge_source *src, uint64_t root,
                        uint64_t gva, uint64_t *gpa, uint64_t *rights)
{
    uint64_t table = root;
    uint64_t allowed = VMM_PTE_WRITE | VMM_PTE_USER, nx = 0;

    if (gva >= USER_TOP)
        return -1;
    for (int level = 3; level >= 0; level--) {
        const uint64_t *entries = table_read(src, table);
        unsigned index = (unsigned)(gva >> (12 + 9 * level)) & 511;
        uint64_t entry;

        if (entries == NULL)
            return -1;
        entry = entries[index];
        if (!(entry & VMM_PTE_PRESENT))
            return -1;
        allowed &= entry;
        nx |= entry & VMM_PTE_NX;
        /* A large page at level 2 (1 GiB) or 1 (2 MiB) ends the walk. */
        if (level > 0 && level < 3 && (entry & VMM_PTE_HUGE)) {
            uint64_t size = 1ULL << (12 + 9 * level);

            *gpa =
                (entry & VMM_PTE_ADDR_MASK & ~(size - 1)) | (gva & (size - 1));
            *rights = allowed | nx;
            return 0;
        }
        table = entry & VMM_PTE_ADDR_MASK;
    }
    *gpa = table | (gva & (VMM_PAGE_SIZE - 1));
    *rights = allowed | nx;
    return 0;
}

/* The entry the HRT PML4 gets for a guest lower-half entry. */
static uint64_t lower_entry_filter(const struct hvm_merge_source *src,
                                   uint64_t entry)
{
    if (!(entry & VMM_PTE_PRESENT))
        return 0;
    if (table_read(src, entry & VMM_PTE_ADDR_MASK) == NULL)
        return 0;
    return entry;
}

int hvm_merge_lower_changes(const struct hvm_merge_source *src,
                            uint64_t user_root, const uint64_t *pml4)
{
    const uint64_t *guest = table_read(src, user_root);
    int changes = 0;

    if (guest == NULL)
        return -1;
    for (unsigned i = 0; i < HVM_MERGE_LOWER; i++)
        changes += lower_entry_filter(src, guest[i]) != pml4[i];
    return changes;
}

int hvm_merge_build(const struct hvm_merge_source *src, uint64_t user_root,
                    const uint64_t *hrt_pml4, uint64_t *pml4)
{
    const uint64_t *guest = table_read(src, user_root);
    int changes = 0;

    if (guest == NULL)
        return -1;
    for (unsigned i = 0; i < HVM_MERGE_LOWER; i++) {
        uint64_t entry = lower_entry_filter(src, guest[i]);

        changes += entry != pml4[i];
        pml4[i] = entry;
    }
    for (unsigned i = HVM_MERGE_LOWER; i < HVM_MERGE_ENTRIES; i++)
        pml4[i] = hrt_pml4[i];
    return changes;
}
