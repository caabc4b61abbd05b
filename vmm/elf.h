/*
 * ELF64 loader for x86-64 images. It validates everything before it
 * copies a byte, so a truncated or foreign file is rejected with a message
 * that names the problem.
 */
#ifndef VMM_ELF_H
#define VMM_ELF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where segments go. A segment's p_paddr is an offset from phys_base
 * when paddr_is_offset is set, and a guest physical address otherwise.
 * Every byte must land inside [phys_base, phys_base + phys_size).
 */
struct vmm_elf_target {
    uint8_t *mem;        /* host address of phys_base */
    uint64_t phys_base;  /* guest physical address of mem[0] */
    uint64_t phys_size;
    int paddr_is_offset;
};

struct vmm_elf_info {
    uint64_t entry;      /* e_entry, virtual */
    uint64_t phys_start; /* lowest loaded guest physical address */
    uint64_t phys_end;   /* one past the highest, including .bss */
    uint64_t virt_start;
    uint64_t virt_end;
    int nr_segments;
};

/*
 * Checks that image is a loadable ELF64 x86-64 executable whose segments
 * fit the target and do not overlap, and whose entry lies inside an
 * executable segment. Returns 0, or -1 with a message in err.
 */
int vmm_elf_check(const void *image, size_t size,
                  const struct vmm_elf_target *target,
                  struct vmm_elf_info *info, char *err, size_t errlen);

/*
 * Checks the image as vmm_elf_check does, then copies each PT_LOAD
 * segment and zeroes its .bss part. Returns 0 or -1 with err set.
 */
int vmm_elf_load(const void *image, size_t size,
                 const struct vmm_elf_target *target,
                 struct vmm_elf_info *info, char *err, size_t errlen);

/*
 * Reads a whole file into a new buffer. Returns it (free with free()),
 * or NULL with a message in err naming the path and the error.
 */
void *vmm_file_read(const char *path, size_t *size, char *err, size_t errlen);

#endif
