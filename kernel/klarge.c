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

/* Maps fresh frames at [va, end); on failure undoes what it mapped and returns -1. */
static int map_fresh(uint64_t va, uint64_t end)
{
	for (uint64_t p = va; p < end; p += PAGE_SIZE) {
		uint64_t pa = pmm_alloc_owned(0, PMM_OWNER_HEAP);
		if (!pa || vmm_map(p, pa, 1, VMM_WRITE)) {
			if (pa)
				pmm_free_owned(pa, 0, PMM_OWNER_HEAP);
			unmap_range(va, p);
			return -1;
		}
		frames++;
	}
	return 0;
}

/* Whether a run of bytes can start at va (a guard page above it stays inside the window). */
static bool fits(uint64_t va, size_t bytes)
{
	return bytes && !(bytes & (PAGE_SIZE - 1)) && bytes <= LARGE_SIZE / 4 &&
	       va + bytes + PAGE_SIZE <= LARGE_BASE + LARGE_SIZE;
}

void *klarge_map(size_t bytes)
{
	uint64_t va = next_va + PAGE_SIZE;              /* the guard page below */
	if (!fits(va, bytes))
		return NULL;
	if (!pmm_ensure_free(bytes / PAGE_SIZE))
		return NULL;            /* cannot succeed: do not map gigabytes only to undo them */
	if (map_fresh(va, va + bytes))
		return NULL;
	next_va = va + bytes;                           /* the next run's guard is our upper guard */
	return (void *)va;
}

static void check_run(const char *fn, uint64_t va, size_t bytes)
{
	if (va < LARGE_BASE || va + bytes > next_va || (va & (PAGE_SIZE - 1)) || (bytes & (PAGE_SIZE - 1)) ||
	    !bytes)
		panic("%s: 0x%lx (+0x%lx) is not a large run", fn, va, (uint64_t)bytes);
}

void *klarge_remap(void *p, size_t old_bytes, size_t new_bytes)
{
	uint64_t va = (uint64_t)p;
	check_run("klarge_remap", va, old_bytes);
	if (new_bytes <= old_bytes) {
		if (!new_bytes || (new_bytes & (PAGE_SIZE - 1)))
			return NULL;
		unmap_range(va + new_bytes, va + old_bytes);    /* the hole joins the guard above */
		return p;
	}
	if (!pmm_ensure_free((new_bytes - old_bytes) / PAGE_SIZE))
		return NULL;
	if (va + old_bytes == next_va) {
		/* The newest run: nothing above it yet, so it grows where it is. */
		if (!fits(va, new_bytes) || map_fresh(va + old_bytes, va + new_bytes))
			return NULL;
		next_va = va + new_bytes;
		return p;
	}
	uint64_t nva = next_va + PAGE_SIZE;
	if (!fits(nva, new_bytes) || map_fresh(nva + old_bytes, nva + new_bytes))
		return NULL;
	/* The same frames at the new address (mapped twice for a moment), then gone from the old. */
	for (uint64_t off = 0; off < old_bytes; off += PAGE_SIZE) {
		struct vmm_translation t;
		if (vmm_translate(va + off, &t))
			panic("klarge_remap: page 0x%lx of a large run is not mapped", va + off);
		if (vmm_map(nva + off, t.pa, 1, VMM_WRITE)) {
			if (off && vmm_unmap(nva, off / PAGE_SIZE))
				panic("klarge_remap: cannot undo the aliases at 0x%lx", nva);
			unmap_range(nva + old_bytes, nva + new_bytes);
			return NULL;
		}
	}
	if (vmm_unmap(va, old_bytes / PAGE_SIZE))
		panic("klarge_remap: cannot unmap the old run at 0x%lx", va);
	next_va = nva + new_bytes;
	return (void *)nva;
}

void klarge_unmap(void *p, size_t bytes)
{
	uint64_t va = (uint64_t)p;
	check_run("klarge_unmap", va, bytes);
	unmap_range(va, va + bytes);
}

uint64_t klarge_frames(void) { return frames; }
