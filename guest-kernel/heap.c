/*
 * Kernel heap: boot_info.heap_* is split into one arena per CPU, so no CPU
 * ever waits for another. Each arena is a first-fit free list sorted by
 * address, with coalescing on free. Memory must be freed on the CPU that
 * allocated it (threads never migrate). Interrupts are disabled inside
 * the allocator because a preempting thread may use the same arena.
 */
#include "kernel.h"

#define HEAP_MAGIC 0x4852544845415021ULL
#define HEAP_HEADER 16u
#define HEAP_MIN_BLOCK 32u
#define HEAP_MAX_ALIGN 4096u

/* A free block; size counts the whole block, header included. */
struct hrt_heap_block {
    uint64_t size;
    struct hrt_heap_block *next;
};

/* Header before every allocated payload. */
struct heap_used {
    uint64_t size;
    uint64_t magic; /* HEAP_MAGIC ^ address of the header */
};

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

void hrt_heap_init(void)
{
    const struct hvm_boot_info *info = hrt_boot_info;
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t share = (info->heap_size / info->ncpus) & ~4095ULL;
    uint64_t base = (uint64_t)hrt_phys_to_virt(info->heap_phys);

    cpu->heap_base = base + cpu->cpu * share;
    cpu->heap_size = share;
    cpu->heap_free = NULL;
    if (share < HEAP_MIN_BLOCK)
        return;
    cpu->heap_free = (struct hrt_heap_block *)cpu->heap_base;
    cpu->heap_free->size = share;
    cpu->heap_free->next = NULL;
}

/*
 * Carves an allocation out of free block *link. Returns the payload, or
 * NULL if the block cannot hold size bytes at the alignment. A gap in
 * front of the payload stays free if it can hold a block; otherwise the
 * payload moves up by another alignment step.
 */
static void *block_carve(struct hrt_heap_block **link, uint64_t size,
                         uint64_t align)
{
    struct hrt_heap_block *block = *link;
    uint64_t start = (uint64_t)block;
    uint64_t end = start + block->size;
    uint64_t payload = align_up(start + HEAP_HEADER, align);
    uint64_t need, header, rest;

    while (payload - HEAP_HEADER != start &&
           payload - HEAP_HEADER - start < HEAP_MIN_BLOCK)
        payload += align;
    header = payload - HEAP_HEADER;
    need = align_up(HEAP_HEADER + size, 16);
    if (header + need > end)
        return NULL;
    rest = end - (header + need);
    if (rest < HEAP_MIN_BLOCK) {
        need += rest;
        rest = 0;
    }
    if (rest) {
        struct hrt_heap_block *tail = (void *)(header + need);
        tail->size = rest;
        tail->next = block->next;
        block->next = tail;
    }
    if (header == start)
        *link = block->next;
    else
        block->size = header - start;
    ((struct heap_used *)header)->size = need;
    ((struct heap_used *)header)->magic = HEAP_MAGIC ^ header;
    return (void *)payload;
}

void *hrt_malloc_aligned(size_t size, size_t align)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    struct hrt_heap_block **link;
    void *result = NULL;
    uint64_t flags;

    if (align < 16)
        align = 16;
    if (size == 0 || (align & (align - 1)) || align > HEAP_MAX_ALIGN ||
        size > cpu->heap_size)
        return NULL;
    flags = hrt_irq_save();
    for (link = &cpu->heap_free; *link; link = &(*link)->next) {
        result = block_carve(link, size, align);
        if (result)
            break;
    }
    hrt_irq_restore(flags);
    return result;
}

void *hrt_malloc(size_t size)
{
    return hrt_malloc_aligned(size, 16);
}

/* Inserts a block into the sorted free list and merges its neighbours. */
static void free_list_insert(struct hrt_percpu *cpu,
                             struct hrt_heap_block *block)
{
    struct hrt_heap_block *prev = NULL, *next = cpu->heap_free;

    while (next && next < block) {
        prev = next;
        next = next->next;
    }
    block->next = next;
    if (next && (uint64_t)block + block->size == (uint64_t)next) {
        block->size += next->size;
        block->next = next->next;
    }
    if (!prev) {
        cpu->heap_free = block;
        return;
    }
    prev->next = block;
    if ((uint64_t)prev + prev->size == (uint64_t)block) {
        prev->size += block->size;
        prev->next = block->next;
    }
}

void hrt_free(void *ptr)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    uint64_t header = (uint64_t)ptr - HEAP_HEADER;
    struct heap_used *used = (struct heap_used *)header;
    struct hrt_heap_block *block;
    uint64_t flags, size;

    if (!ptr)
        return;
    if (header < cpu->heap_base || header >= cpu->heap_base + cpu->heap_size ||
        used->magic != (HEAP_MAGIC ^ header))
        hrt_panic("heap: invalid free of %p", ptr);
    flags = hrt_irq_save();
    size = used->size;
    used->magic = 0;
    block = (struct hrt_heap_block *)header;
    block->size = size;
    free_list_insert(cpu, block);
    hrt_irq_restore(flags);
}

uint64_t hrt_heap_free_bytes(void)
{
    struct hrt_percpu *cpu = hrt_this_cpu();
    struct hrt_heap_block *block;
    uint64_t total = 0, flags = hrt_irq_save();

    for (block = cpu->heap_free; block; block = block->next)
        total += block->size;
    hrt_irq_restore(flags);
    return total;
}
