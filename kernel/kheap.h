/*
 * kernel/kheap.h - the kernel's malloc family: the portable core in
 * alloc/heap*.c bound to kbrk (small and medium blocks) and to the large
 * window (klarge.c) for requests of 128 KiB and more.
 *
 * Every pointer is 16-byte aligned. kmalloc(0) returns a unique minimum
 * block that must be kfree'd. krealloc(p, 0) shrinks p to a minimum block
 * (it does not free it). Misuse (a double free, freeing a pointer the heap
 * never returned) prints one "heap: ..." line with the address and changes
 * nothing.
 *
 * heap.debug=1 or 2 on the command line turns on the debug levels (see
 * alloc/heap.h and docs/hardening.md): canaries, poison, records of who
 * allocated and freed each block (reports say "allocated at foo+0x1c"),
 * and at 2 a quarantine of heap.quarantine=SIZE bytes (default 256 KiB).
 */
#ifndef KERNEL_KHEAP_H
#define KERNEL_KHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "../alloc/heap.h"

void kheap_init(void);

void *kmalloc(size_t size);
void kfree(void *p);
void *kcalloc(size_t n, size_t size);
void *krealloc(void *p, size_t size);
void *kmemalign(size_t align, size_t size);
size_t kmalloc_usable_size(void *p);

struct heap *kheap(void);                /* the instance, for tests, the shell and GDB */
void kheap_stats(struct heap_stats *st);
int kheap_check(char *why, size_t len);
size_t kheap_trim(void);
/*
 * The pmm's reclaim hook (pmm_set_reclaim): kheap_trim (which at
 * heap.debug=2 empties the quarantine first) when the heap may be
 * re-entered, else 0. Inside the heap's own calls at the debug levels it
 * may not; there an allocation that runs out gives back the quarantine and
 * the break's free top itself, and tries once more (alloc/heap_debug.c).
 */
size_t kheap_reclaim(void);
uint64_t kheap_reports(void);           /* misuse reports so far */
unsigned kheap_debug(void);             /* the debug level, 0..2 */
/* Level 2: lets every block waiting in the quarantine go (verifying it). Returns how many. */
size_t kheap_flush_quarantine(void);
/*
 * Prints "    # leak: 0x... (size 48, allocated at foo+0x1c)" for every live
 * block allocated after allocation number since (kheap()->alloc_seq read
 * earlier; 0 for all), at most max lines. Returns how many such blocks
 * live. At level 0 nothing is recorded: returns 0.
 */
size_t kheap_print_leaks(uint64_t since, size_t max);

#endif
