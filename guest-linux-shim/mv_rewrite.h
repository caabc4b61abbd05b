/*
 * Rewriting of `mov $NR, %eax; syscall` and `syscall; cmp $X, %rax` sites
 * into jumps to per-site stubs that enter the forwarding channel without
 * a trap. Pure logic on buffers.
 */
#ifndef MV_REWRITE_H
#define MV_REWRITE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of stub memory each rewritten site needs. */
#define MV_REWRITE_STUB_SIZE 64

/*
 * Rewrites the sites in copy, a copy of the code whose first byte runs at
 * text_start, and writes one stub per site at stubs (which runs at its
 * own address). Each stub sets RAX, RCX and R11 as `syscall` would and
 * jumps to entry, and the code continues after the site. Sites whose stub
 * would be out of rel32 reach are left alone. Returns the sites rewritten.
 */
unsigned mv_rewrite_sites(uint8_t *copy, uint64_t text_start, size_t length,
                          uint8_t *stubs, unsigned max_sites, uint64_t entry);

#endif
