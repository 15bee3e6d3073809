/*
 * kernel/kstack.h - kernel stacks in their own window (KSTACK_BASE), each
 * with an unmapped guard page below it, so an overflow faults at once
 * instead of silently overwriting whatever lies below.
 */
#ifndef KERNEL_KSTACK_H
#define KERNEL_KSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KSTACK_SLOT_PAGES 16                    /* 64 KiB of VA per stack: guard + up to 15 pages */
#define KSTACK_SLOTS      64

struct kstack {
	uint64_t guard;         /* the unmapped page just below the stack */
	uint64_t bottom, top;   /* the mapped stack: [bottom, top) */
	unsigned slot;
};

/* Maps a stack of npages (1..15) pages; false when out of slots or frames. */
bool kstack_alloc(unsigned npages, struct kstack *out);
/* Unmaps it and frees its frames; panics (nothing changed) if s is not exactly what kstack_alloc gave. */
void kstack_free(const struct kstack *s);
/* Runs fn(arg) on the given stack and returns its result (switches RSP there and back). */
uint64_t kstack_call(const struct kstack *s, uint64_t (*fn)(uint64_t), uint64_t arg);
/* Describes va if it lies in the stack window ("guard page of kernel stack 2"); false otherwise. */
bool kstack_describe(uint64_t va, char *buf, size_t size);

#endif
