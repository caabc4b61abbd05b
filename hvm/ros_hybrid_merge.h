/*
 * The merge of guest-ROS hybridization as pure functions over page
 * tables: find a Linux process's user page-table root from a CR3 value,
 * walk those tables, and copy their lower half (PML4 entries 0-255) into
 * an HRT PML4 whose upper half is the HRT's own. Guest memory is reached
 * only through a read callback, so the unit tests run on synthetic tables.
 */
#ifndef HVM_ROS_HYBRID_MERGE_H
#define HVM_ROS_HYBRID_MERGE_H

#include <stdint.h>

#define HVM_MERGE_ENTRIES 512
#define HVM_MERGE_LOWER 256 /* PML4 entries 0-255 map the user half */

/* Returns a host pointer to guest physical [gpa, gpa + len), or NULL when
 * the range is not readable guest memory of the ROS. */
typedef const void *(*hvm_merge_read_fn)(void *ctx, uint64_t gpa, uint64_t len);

struct hvm_merge_source {
    hvm_merge_read_fn read;
    void *ctx;
};

/* The page-table root of a process, as found from its CR3. */
struct hvm_merge_root {
    uint64_t user_root;   /* PML4 whose lower half user code runs on */
    uint64_t kernel_root; /* equal to user_root without PTI */
    int pti;              /* 1: page-table isolation, two roots */
};

/*
 * Finds the roots from a CR3 read while the process ran in ring 3. The
 * PCID (bits 0-11) and the no-flush bit 63 are masked off. With PTI,
 * Linux runs user code on the root 4 KiB above the kernel's, whose upper
 * half is nearly empty while the kernel root's is full: that is the test
 * used here. Returns 0, or -1 if the root is not readable ROS memory.
 */
int hvm_merge_root_find(const struct hvm_merge_source *src, uint64_t cr3,
                        struct hvm_merge_root *root);

/*
 * Translates a user virtual address through the tables at root. Stores
 * the guest physical address and the effective rights (VMM_PTE_WRITE and
 * VMM_PTE_USER only when every level grants them, VMM_PTE_NX when any
 * level sets it). Returns 0, or -1 if it is not mapped or not canonical
 * lower half.
 */
int hvm_merge_translate(const struct hvm_merge_source *src, uint64_t root,
                        uint64_t gva, uint64_t *gpa, uint64_t *rights);

/*
 * Copies the lower half of the guest root into pml4 and the upper half
 * from hrt_pml4. A lower-half entry whose next table is not readable ROS
 * memory is left empty, so the HRT never follows a guest entry into HRT
 * memory at the top level. Returns the number of lower-half entries that
 * differ from what pml4 held before, or -1 if the guest root is not
 * readable.
 */
int hvm_merge_build(const struct hvm_merge_source *src, uint64_t user_root,
                    const uint64_t *hrt_pml4, uint64_t *pml4);

/*
 * Returns the number of lower-half entries of the guest root that differ
 * from pml4 after the same filtering as hvm_merge_build, or -1 if the
 * root is not readable. Does not change pml4.
 */
int hvm_merge_lower_changes(const struct hvm_merge_source *src,
                            uint64_t user_root, const uint64_t *pml4);

#endif
