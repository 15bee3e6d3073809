/*
 * kernel/kbrk.c - ksbrk/kbrk over the heap window (see kbrk.h).
 *
 * The break may sit anywhere; the pages mapped are exactly those that hold
 * at least one byte below it: [base, round_up(break)). So the first byte
 * above the page that holds the break always faults.
 */
#include "kbrk.h"

#include "arch/x86_64/layout.h"
#include "panic.h"
#include "pmm.h"
#include "printk.h"
#include "vmm.h"

static uint64_t brk_cur = HEAP_BASE;
static uint64_t frames;
static uint64_t fail_countdown;

static uint64_t page_up(uint64_t a) { return (a + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

/* Unmaps [from, to) (page aligned) and frees the frames. */
static void unmap_pages(uint64_t from, uint64_t to)
{
	for (uint64_t va = from; va < to; va += PAGE_SIZE) {
		struct vmm_translation t;
		if (vmm_translate(va, &t) || vmm_unmap(va, 1))
			panic("kbrk: heap page 0x%lx below the break is not mapped", va);
		pmm_free_owned(t.pa, 0, PMM_OWNER_HEAP);
		frames--;
	}
}

void *ksbrk(intptr_t delta)
{
	uint64_t old = brk_cur;
	if (delta == 0)
		return (void *)old;
	if (delta < 0) {
		uint64_t shrink = (uint64_t)0 - (uint64_t)delta;
		if (shrink > old - HEAP_BASE)
			return (void *)-1;
		uint64_t new = old - shrink;
		unmap_pages(page_up(new), page_up(old));
		brk_cur = new;
		return (void *)old;
	}
	if ((uint64_t)delta > HEAP_BASE + HEAP_SIZE - old)
		return (void *)-1;              /* past the window */
	if (fail_countdown && --fail_countdown == 0)
		return (void *)-1;              /* injected (kbrk_fail_nth) */
	uint64_t new = old + (uint64_t)delta;
	if ((page_up(new) - page_up(old)) / PAGE_SIZE > pmm_free_frames())
		return (void *)-1;      /* cannot succeed: fail before mapping anything */
	for (uint64_t va = page_up(old); va < page_up(new); va += PAGE_SIZE) {
		uint64_t pa = pmm_alloc_owned(0, PMM_OWNER_HEAP);
		int r = pa ? vmm_map(va, pa, 1, VMM_WRITE) : -VMM_ENOMEM;
		if (r) {
			if (pa)
				pmm_free_owned(pa, 0, PMM_OWNER_HEAP);
			unmap_pages(page_up(old), va);  /* undo this call's pages */
			return (void *)-1;
		}
		frames++;
	}
	brk_cur = new;
	return (void *)old;
}

int kbrk(void *addr)
{
	uint64_t a = (uint64_t)addr;
	if (a < HEAP_BASE || a > HEAP_BASE + HEAP_SIZE)
		return -1;
	return ksbrk((intptr_t)(a - brk_cur)) == (void *)-1 ? -1 : 0;
}

uint64_t kbrk_base(void) { return HEAP_BASE; }
uint64_t kbrk_current(void) { return brk_cur; }
uint64_t kbrk_frames(void) { return frames; }
void kbrk_fail_nth(uint64_t n) { fail_countdown = n; }

/* For page-fault reports: what part of the heap window va is in. */
bool heap_describe_va(uint64_t va, char *buf, size_t size)
{
	if (va < HEAP_BASE || va >= HEAP_BASE + HEAP_SIZE)
		return false;
	if (va < brk_cur)
		snprintf(buf, size, "the heap, 0x%lx bytes below the break 0x%lx", brk_cur - va, brk_cur);
	else
		snprintf(buf, size, "the heap window, 0x%lx bytes above the break 0x%lx (nothing is mapped above it)",
			 va - brk_cur, brk_cur);
	return true;
}
