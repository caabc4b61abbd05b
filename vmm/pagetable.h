/*
 * x86-64 four-level page-table builder. It works on a block of memory that
 * the caller owns and knows the guest physical address of, so the same
 * code builds tables for a guest from the host side and runs in unit tests.
 */
#ifndef VMM_PAGETABLE_H
#define VMM_PAGETABLE_H

#include <stddef.h>
#include <stdint.h>

#define VMM_PAGE_SIZE 4096ULL
#define VMM_HUGE_PAGE_SIZE (2ULL << 20)

/* Entry bits. */
#define VMM_PTE_PRESENT (1ULL << 0)
#define VMM_PTE_WRITE (1ULL << 1)
#define VMM_PTE_USER (1ULL << 2)
#define VMM_PTE_ACCESSED (1ULL << 5)
#define VMM_PTE_DIRTY (1ULL << 6)
#define VMM_PTE_HUGE (1ULL << 7)
#define VMM_PTE_GLOBAL (1ULL << 8)
#define VMM_PTE_NX (1ULL << 63)
#define VMM_PTE_ADDR_MASK 0x000ffffffffff000ULL

/*
 * Table pages are taken from [pool, pool + pool_size), whose first byte is
 * at guest physical address pool_phys. Pages come out zeroed.
 */
struct vmm_pt_builder {
    uint8_t *pool;
    uint64_t pool_phys;
    uint64_t pool_size;
    uint64_t used; /* bytes handed out, a multiple of 4 KiB */
    uint64_t pml4_phys;
};

/* Prepares the builder and allocates the PML4. Returns 0 or -1 if full. */
int vmm_pt_init(struct vmm_pt_builder *builder, void *pool,
                uint64_t pool_phys, uint64_t pool_size);

/*
 * Maps [virt, virt + size) to [phys, phys + size) with the given flags
 * (VMM_PTE_WRITE, VMM_PTE_USER, VMM_PTE_NX, VMM_PTE_GLOBAL). Uses 2 MiB
 * pages where virt, phys and the remaining size allow, 4 KiB otherwise.
 * Addresses must be 4 KiB aligned and virt canonical. Intermediate
 * entries get WRITE and USER so that the leaf decides. Returns 0, or -1
 * if the arguments are invalid, the pool is exhausted or the range
 * overlaps a mapping of a different page size.
 */
int vmm_pt_map(struct vmm_pt_builder *builder, uint64_t virt, uint64_t phys,
               uint64_t size, uint64_t flags);

/*
 * Walks the tables. Returns 0 and stores the physical address and the
 * leaf entry's flags, or -1 if virt is not mapped.
 */
int vmm_pt_translate(const struct vmm_pt_builder *builder, uint64_t virt,
                     uint64_t *phys, uint64_t *flags);

/* Returns the host address of a table page, or NULL if outside the pool. */
uint64_t *vmm_pt_table(const struct vmm_pt_builder *builder, uint64_t phys);

#endif
