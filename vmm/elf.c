/*
 * ELF64 x86-64 loader: validates the header, the program headers and the
 * placement of every PT_LOAD segment before it writes guest memory.
 */
#include "elf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The ELF structures are declared here because vmm/ is on the include
 * path and its elf.h hides the system <elf.h>. They have the layout of
 * Elf64_Ehdr and Elf64_Phdr.
 */
#define ELF_EI_NIDENT 16
#define ELF_EI_CLASS 4
#define ELF_EI_DATA 5
#define ELF_CLASS64 2
#define ELF_DATA2LSB 1
#define ELF_ET_EXEC 2
#define ELF_EM_X86_64 62
#define ELF_PT_LOAD 1
#define ELF_PF_X 1

struct elf64_ehdr {
    unsigned char e_ident[ELF_EI_NIDENT];
    uint16_t e_type;
    uint16_t e_machine;
    uint32_t e_version;
    uint64_t e_entry;
    uint64_t e_phoff;
    uint64_t e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize;
    uint16_t e_phentsize;
    uint16_t e_phnum;
    uint16_t e_shentsize;
    uint16_t e_shnum;
    uint16_t e_shstrndx;
};

struct elf64_phdr {
    uint32_t p_type;
    uint32_t p_flags;
    uint64_t p_offset;
    uint64_t p_vaddr;
    uint64_t p_paddr;
    uint64_t p_filesz;
    uint64_t p_memsz;
    uint64_t p_align;
};

/* A PT_LOAD segment after validation. */
struct elf_segment {
    int index;           /* program header number, for messages */
    uint64_t gpa;        /* guest physical address of the first byte */
    uint64_t mem_offset; /* offset of gpa inside target->mem */
    uint64_t vaddr;
    uint64_t memsz;
};

__attribute__((format(printf, 3, 4))) static int
elf_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;

    if (err == NULL || errlen == 0)
        return -1;
    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
    return -1;
}

static int elf_header_check(const uint8_t *image, size_t size,
                            struct elf64_ehdr *ehdr, char *err, size_t errlen)
{
    static const unsigned char magic[4] = {0x7f, 'E', 'L', 'F'};
    uint64_t table_size, table_end;

    if (size < sizeof(*ehdr))
        return elf_fail(err, errlen,
                        "ELF file is %zu bytes, shorter than the %zu-byte "
                        "ELF header",
                        size, sizeof(*ehdr));
    /* memcpy because the image need not be aligned. */
    memcpy(ehdr, image, sizeof(*ehdr));
    if (memcmp(ehdr->e_ident, magic, sizeof(magic)) != 0)
        return elf_fail(err, errlen,
                        "bad ELF magic %02x %02x %02x %02x, expected 7f 45 "
                        "4c 46",
                        ehdr->e_ident[0], ehdr->e_ident[1], ehdr->e_ident[2],
                        ehdr->e_ident[3]);
    if (ehdr->e_ident[ELF_EI_CLASS] != ELF_CLASS64)
        return elf_fail(err, errlen,
                        "ELF class is %u, expected %u (ELFCLASS64)",
                        ehdr->e_ident[ELF_EI_CLASS], ELF_CLASS64);
    if (ehdr->e_ident[ELF_EI_DATA] != ELF_DATA2LSB)
        return elf_fail(err, errlen,
                        "ELF data encoding is %u, expected %u (ELFDATA2LSB)",
                        ehdr->e_ident[ELF_EI_DATA], ELF_DATA2LSB);
    if (ehdr->e_machine != ELF_EM_X86_64)
        return elf_fail(err, errlen,
                        "ELF machine is %u, expected %u (EM_X86_64)",
                        ehdr->e_machine, ELF_EM_X86_64);
    if (ehdr->e_type != ELF_ET_EXEC)
        return elf_fail(err, errlen, "ELF type is %u, expected %u (ET_EXEC)",
                        ehdr->e_type, ELF_ET_EXEC);
    if (ehdr->e_phentsize != sizeof(struct elf64_phdr))
        return elf_fail(err, errlen,
                        "ELF program header entry size e_phentsize is %u, "
                        "expected %zu",
                        ehdr->e_phentsize, sizeof(struct elf64_phdr));
    if (ehdr->e_phnum == 0)
        return elf_fail(err, errlen,
                        "ELF file has no program headers, so no PT_LOAD "
                        "segment");

    /* e_phnum * e_phentsize fits easily: both are 16-bit values. */
    table_size = (uint64_t)ehdr->e_phnum * ehdr->e_phentsize;
    if (__builtin_add_overflow(ehdr->e_phoff, table_size, &table_end))
        return elf_fail(err, errlen,
                        "ELF program header table offset 0x%llx + size "
                        "0x%llx overflows",
                        (unsigned long long)ehdr->e_phoff,
                        (unsigned long long)table_size);
    if (table_end > size)
        return elf_fail(err, errlen,
                        "ELF program header table [0x%llx, 0x%llx) lies "
                        "outside the %zu-byte file",
                        (unsigned long long)ehdr->e_phoff,
                        (unsigned long long)table_end, size);
    return 0;
}

static void elf_phdr_read(const uint8_t *image, const struct elf64_ehdr *ehdr,
                          int index, struct elf64_phdr *phdr)
{
    memcpy(phdr, image + ehdr->e_phoff + (uint64_t)index * sizeof(*phdr),
           sizeof(*phdr));
}

/* Checks one segment's file range and sizes against the file. */
static int elf_segment_file_check(const struct elf64_phdr *phdr, int index,
                                  size_t size, char *err, size_t errlen)
{
    uint64_t file_end, virt_end;

    if (__builtin_add_overflow(phdr->p_offset, phdr->p_filesz, &file_end))
        return elf_fail(err, errlen,
                        "segment %d: p_offset 0x%llx + p_filesz 0x%llx "
                        "overflows",
                        index, (unsigned long long)phdr->p_offset,
                        (unsigned long long)phdr->p_filesz);
    if (file_end > size)
        return elf_fail(err, errlen,
                        "segment %d: file range [0x%llx, 0x%llx) lies "
                        "outside the %zu-byte file",
                        index, (unsigned long long)phdr->p_offset,
                        (unsigned long long)file_end, size);
    if (phdr->p_filesz > phdr->p_memsz)
        return elf_fail(err, errlen,
                        "segment %d: p_filesz 0x%llx is larger than p_memsz "
                        "0x%llx",
                        index, (unsigned long long)phdr->p_filesz,
                        (unsigned long long)phdr->p_memsz);
    if (__builtin_add_overflow(phdr->p_vaddr, phdr->p_memsz, &virt_end))
        return elf_fail(err, errlen,
                        "segment %d: p_vaddr 0x%llx + p_memsz 0x%llx "
                        "overflows",
                        index, (unsigned long long)phdr->p_vaddr,
                        (unsigned long long)phdr->p_memsz);
    return 0;
}

/*
 * Places one segment in the target region and fills seg. The target
 * itself has been checked, so phys_base + phys_size does not overflow.
 */
static int elf_segment_place(const struct elf64_phdr *phdr, int index,
                             const struct vmm_elf_target *target,
                             struct elf_segment *seg, char *err, size_t errlen)
{
    uint64_t offset, end;

    if (target->paddr_is_offset) {
        offset = phdr->p_paddr;
    } else {
        if (phdr->p_paddr < target->phys_base)
            return elf_fail(
                err, errlen,
                "segment %d: p_paddr 0x%llx lies below the "
                "target region [0x%llx, 0x%llx)",
                index, (unsigned long long)phdr->p_paddr,
                (unsigned long long)target->phys_base,
                (unsigned long long)(target->phys_base + target->phys_size));
        offset = phdr->p_paddr - target->phys_base;
    }
    if (__builtin_add_overflow(offset, phdr->p_memsz, &end))
        return elf_fail(err, errlen,
                        "segment %d: p_paddr 0x%llx + p_memsz 0x%llx "
                        "overflows",
                        index, (unsigned long long)phdr->p_paddr,
                        (unsigned long long)phdr->p_memsz);
    if (end > target->phys_size)
        return elf_fail(
            err, errlen,
            "segment %d: physical range [0x%llx, 0x%llx) lies "
            "outside the target region [0x%llx, 0x%llx)",
            index, (unsigned long long)(target->phys_base + offset),
            (unsigned long long)(target->phys_base + end),
            (unsigned long long)target->phys_base,
            (unsigned long long)(target->phys_base + target->phys_size));

    seg->index = index;
    seg->mem_offset = offset;
    seg->gpa = target->phys_base + offset;
    seg->vaddr = phdr->p_vaddr;
    seg->memsz = phdr->p_memsz;
    return 0;
}

static int elf_segment_compare(const void *a, const void *b)
{
    const struct elf_segment *left = a, *right = b;

    if (left->gpa != right->gpa)
        return left->gpa < right->gpa ? -1 : 1;
    return left->index - right->index;
}

/* Sorts the segments by physical address and rejects any overlap. */
static int elf_overlap_check(struct elf_segment *segs, int count, char *err,
                             size_t errlen)
{
    const struct elf_segment *prev = NULL;

    qsort(segs, (size_t)count, sizeof(*segs), elf_segment_compare);
    for (int i = 0; i < count; i++) {
        /* An empty segment occupies no memory and cannot overlap. */
        if (segs[i].memsz == 0)
            continue;
        if (prev != NULL && segs[i].gpa < prev->gpa + prev->memsz)
            return elf_fail(
                err, errlen,
                "segments %d and %d overlap in physical memory: [0x%llx, "
                "0x%llx) and [0x%llx, 0x%llx)",
                prev->index, segs[i].index, (unsigned long long)prev->gpa,
                (unsigned long long)(prev->gpa + prev->memsz),
                (unsigned long long)segs[i].gpa,
                (unsigned long long)(segs[i].gpa + segs[i].memsz));
        prev = &segs[i];
    }
    return 0;
}

static void elf_info_add(struct vmm_elf_info *info,
                         const struct elf_segment *seg)
{
    if (info->nr_segments == 0 || seg->gpa < info->phys_start)
        info->phys_start = seg->gpa;
    if (info->nr_segments == 0 || seg->gpa + seg->memsz > info->phys_end)
        info->phys_end = seg->gpa + seg->memsz;
    if (info->nr_segments == 0 || seg->vaddr < info->virt_start)
        info->virt_start = seg->vaddr;
    if (info->nr_segments == 0 || seg->vaddr + seg->memsz > info->virt_end)
        info->virt_end = seg->vaddr + seg->memsz;
    info->nr_segments++;
}

static int elf_target_check(const struct vmm_elf_target *target, char *err,
                            size_t errlen)
{
    uint64_t end;

    if (target == NULL || target->mem == NULL)
        return elf_fail(err, errlen, "ELF target region has no memory");
    if (__builtin_add_overflow(target->phys_base, target->phys_size, &end))
        return elf_fail(err, errlen,
                        "ELF target region base 0x%llx + size 0x%llx "
                        "overflows",
                        (unsigned long long)target->phys_base,
                        (unsigned long long)target->phys_size);
    return 0;
}

/*
 * Validates every PT_LOAD segment, storing them in segs (e_phnum entries)
 * and their count in *count. Also checks the entry point.
 */
static int elf_segments_check(const uint8_t *image, size_t size,
                              const struct elf64_ehdr *ehdr,
                              const struct vmm_elf_target *target,
                              struct elf_segment *segs, int *count, char *err,
                              size_t errlen)
{
    struct elf64_phdr phdr;
    int entry_ok = 0;

    *count = 0;
    for (int i = 0; i < ehdr->e_phnum; i++) {
        elf_phdr_read(image, ehdr, i, &phdr);
        if (phdr.p_type != ELF_PT_LOAD)
            continue;
        if (elf_segment_file_check(&phdr, i, size, err, errlen) < 0)
            return -1;
        if (elf_segment_place(&phdr, i, target, &segs[*count], err, errlen) < 0)
            return -1;
        (*count)++;
        if ((phdr.p_flags & ELF_PF_X) && ehdr->e_entry >= phdr.p_vaddr &&
            ehdr->e_entry - phdr.p_vaddr < phdr.p_memsz)
            entry_ok = 1;
        /* A Linux vmlinux gives a physical entry, entered with paging off
         * or identity-mapped. */
        if ((phdr.p_flags & ELF_PF_X) && !target->paddr_is_offset &&
            ehdr->e_entry >= phdr.p_paddr &&
            ehdr->e_entry - phdr.p_paddr < phdr.p_memsz)
            entry_ok = 1;
    }
    if (*count == 0)
        return elf_fail(err, errlen, "ELF file has no PT_LOAD segment");
    if (!entry_ok)
        return elf_fail(err, errlen,
                        "ELF entry point 0x%llx is not inside an executable "
                        "(PF_X) PT_LOAD segment",
                        (unsigned long long)ehdr->e_entry);
    return 0;
}

/*
 * Runs every check and returns the validated segments in *segs_out
 * (malloc'd, freed by the caller) when segs_out is not NULL.
 */
static int elf_validate(const void *image, size_t size,
                        const struct vmm_elf_target *target,
                        struct vmm_elf_info *info,
                        struct elf_segment **segs_out, int *count_out,
                        char *err, size_t errlen)
{
    struct elf64_ehdr ehdr = {0};
    struct elf_segment *segs;
    int count = 0;

    if (image == NULL)
        return elf_fail(err, errlen, "ELF image is missing (NULL)");
    if (elf_header_check(image, size, &ehdr, err, errlen) < 0 ||
        elf_target_check(target, err, errlen) < 0)
        return -1;

    segs = calloc(ehdr.e_phnum, sizeof(*segs));
    if (segs == NULL)
        return elf_fail(err, errlen, "ELF segment table allocation failed: %s",
                        strerror(errno));
    if (elf_segments_check(image, size, &ehdr, target, segs, &count, err,
                           errlen) < 0 ||
        elf_overlap_check(segs, count, err, errlen) < 0) {
        free(segs);
        return -1;
    }

    if (info != NULL) {
        memset(info, 0, sizeof(*info));
        info->entry = ehdr.e_entry;
        for (int i = 0; i < count; i++)
            elf_info_add(info, &segs[i]);
    }
    if (segs_out != NULL) {
        *segs_out = segs;
        *count_out = count;
    } else {
        free(segs);
    }
    return 0;
}

int vmm_elf_check(const void *image, size_t size,
                  const struct vmm_elf_target *target,
                  struct vmm_elf_info *info, char *err, size_t errlen)
{
    return elf_validate(image, size, target, info, NULL, NULL, err, errlen);
}

int vmm_elf_load(const void *image, size_t size,
                 const struct vmm_elf_target *target, struct vmm_elf_info *info,
                 char *err, size_t errlen)
{
    const uint8_t *bytes = image;
    struct elf64_ehdr ehdr;
    struct elf64_phdr phdr;
    struct elf_segment *segs = NULL;
    int count = 0;

    if (elf_validate(image, size, target, info, &segs, &count, err, errlen) < 0)
        return -1;

    /* segs is sorted by address now, so reread the headers by index. */
    memcpy(&ehdr, bytes, sizeof(ehdr));
    for (int i = 0; i < count; i++) {
        uint8_t *dst = target->mem + segs[i].mem_offset;

        elf_phdr_read(bytes, &ehdr, segs[i].index, &phdr);
        memcpy(dst, bytes + phdr.p_offset, phdr.p_filesz);
        memset(dst + phdr.p_filesz, 0, phdr.p_memsz - phdr.p_filesz);
    }
    free(segs);
    return 0;
}

void *vmm_file_read(const char *path, size_t *size, char *err, size_t errlen)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t capacity, used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        elf_fail(err, errlen, "%s: open failed: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        elf_fail(err, errlen, "%s: fstat failed: %s", path, strerror(errno));
        goto fail;
    }
    /* st_size is a hint: the loop also reads pipes and growing files. */
    capacity = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    buf = malloc(capacity);
    if (buf == NULL) {
        elf_fail(err, errlen, "%s: allocating %zu bytes failed: %s", path,
                 capacity, strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t n;

        if (used == capacity) {
            uint8_t *bigger = realloc(buf, capacity * 2);

            if (bigger == NULL) {
                elf_fail(err, errlen, "%s: allocating %zu bytes failed: %s",
                         path, capacity * 2, strerror(errno));
                goto fail;
            }
            buf = bigger;
            capacity *= 2;
        }
        n = read(fd, buf + used, capacity - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            elf_fail(err, errlen, "%s: read failed: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    *size = used;
    return buf;

fail:
    free(buf);
    close(fd);
    return NULL;
}
