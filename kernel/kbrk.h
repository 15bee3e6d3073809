/*
 * kernel/kbrk.h - the kernel's program break: a brk-style region in the heap
 * window of the memory map (HEAP_BASE), mapped from its base up to the
 * break and unmapped above it, so running off the end faults.
 */
#ifndef KERNEL_KBRK_H
#define KERNEL_KBRK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Moves the break by delta bytes and returns the old break, like sbrk.
 * Growing maps fresh frames for every page the region newly covers;
 * shrinking unmaps them and gives them back to the pmm. When frames or the
 * window run out it returns (void *)-1 with nothing half-mapped and no frame
 * lost.
 */
void *ksbrk(intptr_t delta);
/* Sets the break to addr (HEAP_BASE <= addr <= end of window). 0, or -1 like brk. */
int kbrk(void *addr);

uint64_t kbrk_base(void);
uint64_t kbrk_current(void);
uint64_t kbrk_frames(void);             /* frames mapped under the break now */

/* Fault injection: the nth growing ksbrk from now fails (1 = the next); 0 = off. */
void kbrk_fail_nth(uint64_t n);

#endif
