/*
 * kernel/klarge.c - the large-allocation window (see klarge.h). A bump
 * pointer hands out virtual space: run i starts one unmapped page after run
 * i-1 ends. 16 TiB of window is far more than any run of this kernel will
 * use, and never reusing an address turns every stale pointer into a fault.
 */
#include "klarge.h"

#include "arch/x86_64/layout.h"
#include "panic.h"
#include "pmm.h"
#include "vmm.h"

static uint64_t next_va = LARGE_BASE;
static uint64_t frames;

static void unmap_range(uint64_t va, uint64_t end)
{
	for (; va < end; va += PAGE_SIZE) {
		struct vmm_translation t;
		if (vmm_translate(va, &t) || vmm_unmap(va, 1))
			panic("klarge_unmap: page 0x%lx of a large run is not mapped", va);
		pmm_free_owned(t.pa, 0, PMM_OWNER_HEAP);
		frames--;
	}
}

void *klarge_map(size_t bytes)
{
	if (!bytes || (bytes & (PAGE_SIZE - 1)) || bytes > LARGE_SIZE / 4)
		return NULL;
	uint64_t va = next_va + PAGE_SIZE;              /* the guard page below */
	if (va + bytes + PAGE_SIZE > LARGE_BASE + LARGE_SIZE)
		return NULL;
	if (bytes / PAGE_SIZE > pmm_free_frames())
		return NULL;            /* cannot succeed: do not map gigabytes only to undo them */
	for (uint64_t p = va; p < va + bytes; p += PAGE_SIZE) {
		uint64_t pa = pmm_alloc_owned(0, PMM_OWNER_HEAP);
		if (!pa || vmm_map(p, pa, 1, VMM_WRITE)) {
			if (pa)
				pmm_free_owned(pa, 0, PMM_OWNER_HEAP);
			unmap_range(va, p);
			return NULL;
		}
		frames++;
	}
	next_va = va + bytes;                           /* the next run's guard is our upper guard */
	return (void *)va;
}

void klarge_unmap(void *p, size_t bytes)
{
	uint64_t va = (uint64_t)p;
	if (va < LARGE_BASE || va + bytes > next_va || (va & (PAGE_SIZE - 1)) || (bytes & (PAGE_SIZE - 1)))
		panic("klarge_unmap: 0x%lx (+0x%lx) is not a large run", va, (uint64_t)bytes);
	unmap_range(va, va + bytes);
}

uint64_t klarge_frames(void) { return frames; }
