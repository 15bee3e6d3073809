/*
 * alloc/heap_brk.c - the break itself: growing it when no free block will
 * do (heap_brk_grow) and giving back the pages at its top (trim_top, with
 * the hysteresis and retention of heap_core_maybe_trim, and heap_core_trim
 * for heap_trim). The slow paths of the core, apart from heap.c so that
 * file holds what a malloc or free runs every time; the free lists they
 * link the top block in and out of stay in heap.c (heap_core_list_*).
 */
#include "heap_impl.h"

/* The break grows in chunks of grow_bytes (or the pages needed, when a chunk is refused). */
bool heap_brk_grow(struct heap *h, size_t need)
{
	size_t page = h->env.page_size;

	if (need > HEAP_MAX_BRK)
		return false;
	size_t pages = (need + page - 1) & ~(page - 1), delta = pages;
	if (delta < h->env.grow_bytes)
		delta = h->env.grow_bytes;
	if (pages > HEAP_MAX_BRK - (h->brk - h->base))
		return false;
	if (delta > HEAP_MAX_BRK - (h->brk - h->base))
		delta = pages;
	void *old = h->env.sbrk(h->env.ctx, (intptr_t)delta);
	/* Short of memory, a whole growth chunk may be refused where the pages needed are not. */
	if (old == (void *)-1 && delta > pages) {
		delta = pages;
		old = h->env.sbrk(h->env.ctx, (intptr_t)delta);
	}
	if (old == (void *)-1)
		return false;
	ALLOC_ASSERT((uintptr_t)old == h->brk && "grow: the break moved behind the heap's back");
	h->sbrk_calls++;
	/* Mapping again what was just trimmed: keep that much from now on (see trim_keep). */
	size_t again = delta < h->trimmed_recent ? delta : h->trimmed_recent;
	h->trimmed_recent -= again;
	h->retain += again;
	if (h->retain > h->peak_in_use)
		h->retain = h->peak_in_use;

	/* The old epilogue's word becomes the new block's header. */
	blk_t b = heap_epilogue(h);
	bool prev_free = blk_prev_is_free(b);
	blk_t prev = prev_free ? blk_prev_phys(b) : 0;
	size_t size = delta;
	heap_set_brk(h, h->brk + delta);
	/* Fresh pages, and the old epilogue and foot if they end up inside a free block. */
	if (ALLOC_UNLIKELY(h->debug))
		poison_range(prev_free ? b - 8 : b + 8, heap_epilogue(h));
	blk_write(h, heap_epilogue(h), 0, HEAP_BLK_PREV_FREE);
	if (prev_free) {
		heap_core_list_remove(h, prev);
		size += blk_size(prev);
		b = prev;
	}
	blk_write(h, b, size, HEAP_BLK_FREE);
	blk_set_foot(b);
	heap_core_list_insert(h, b);
	return true;
}

/*
 * Gives back the whole pages at the top of the free block below the break,
 * keeping that block at least `keep` bytes and at least a minimum block (or
 * removing it when keep is 0 and the break can land exactly on its header),
 * and never going below floor_brk.
 * Returns the bytes given back (0 if sbrk refused: nothing changes then).
 */
static size_t trim_top(struct heap *h, size_t keep)
{
	size_t page = h->env.page_size;
	blk_t t = top_free_block(h);

	if (!t || keep >= blk_size(t))
		return 0;
	uintptr_t cut = (t + 8 + keep + page - 1) & ~(uintptr_t)(page - 1);
	if (cut - 8 != t && cut - 8 - t < HEAP_MIN_BLOCK)
		cut += page;
	if (cut < h->floor_brk)
		cut = h->floor_brk;
	if (cut >= h->brk)
		return 0;

	/* Its links may lie above the new break: unlink first, relink on failure. */
	size_t give = h->brk - cut;
	heap_core_list_remove(h, t);
	void *old = h->env.sbrk(h->env.ctx, -(intptr_t)give);
	if (old == (void *)-1) {
		heap_core_list_insert(h, t);
		return 0;
	}
	ALLOC_ASSERT((uintptr_t)old == h->brk && "trim_top: the break moved behind the heap's back");
	h->sbrk_calls++;
	heap_set_brk(h, cut);
	if (heap_epilogue(h) == t) {
		/* t's predecessor is used (t was free), so PREV_FREE stays clear. */
		blk_write(h, t, 0, 0);
	} else {
		if (ALLOC_UNLIKELY(h->debug))
			heap_dbg_heal_cut(h, t + 24, heap_epilogue(h));
		blk_write(h, t, heap_epilogue(h) - t, HEAP_BLK_FREE);
		blk_set_foot(t);
		blk_write(h, heap_epilogue(h), 0, HEAP_BLK_PREV_FREE);
		heap_core_list_insert(h, t);
	}
	return give;
}

/* Trims when the top free block is past trim_limit; the cache is flushed first. */
size_t heap_core_maybe_trim(struct heap *h)
{
	blk_t t = top_free_block(h);

	if (!t || blk_size(t) <= trim_limit(h))
		return 0;
	heap_cache_flush(h);
	size_t given = trim_top(h, trim_keep(h));
	h->trimmed_recent += given;
	return given;
}

size_t heap_core_trim(struct heap *h)
{
	h->retain = 0;
	h->trimmed_recent = 0;
	return trim_top(h, 0);
}
