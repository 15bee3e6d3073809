/*
 * kernel/kheap.h - the kernel's malloc family: the portable core in
 * alloc/heap.c bound to kbrk (small and medium blocks) and to the large
 * window (klarge.c) for requests of 128 KiB and more.
 *
 * Every pointer is 16-byte aligned. kmalloc(0) returns a unique minimum
 * block that must be kfree'd. krealloc(p, 0) shrinks p to a minimum block
 * (it does not free it). Misuse (a double free, freeing a pointer the heap
 * never returned) prints one "heap: ..." line with the address and changes
 * nothing.
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
uint64_t kheap_reports(void);           /* misuse reports so far */

#endif
