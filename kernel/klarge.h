/*
 * kernel/klarge.h - page runs for large allocations, in their own window
 * (LARGE_BASE): each run is mapped page by page with an unmapped guard page
 * on each side, and virtual addresses are never reused, so an overflow or a
 * use after free of a large block faults at once.
 */
#ifndef KERNEL_KLARGE_H
#define KERNEL_KLARGE_H

#include <stddef.h>
#include <stdint.h>

/* A fresh run of bytes (a multiple of the page size), or NULL. */
void *klarge_map(size_t bytes);
/* Unmaps a run klarge_map returned (same length) and frees its frames. */
void klarge_unmap(void *p, size_t bytes);
/*
 * Resizes a run from old_bytes to new_bytes without copying it: a shrink
 * unmaps the tail; the newest run grows in place; any other run gets a new
 * address range (with its guard pages), its frames mapped there and fresh
 * frames after them, and the old range unmapped, so a stale pointer into
 * it faults. Returns the run's start, or NULL with nothing changed.
 */
void *klarge_remap(void *p, size_t old_bytes, size_t new_bytes);
uint64_t klarge_frames(void);

#endif
