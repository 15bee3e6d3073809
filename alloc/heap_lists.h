/*
 * alloc/heap_lists.h - private to alloc/heap.c: the TLSF free lists and
 * their two-level bitmaps (heap.h, "struct heap"): linking a free block in
 * and out, and finding one big enough in O(1). In a header of its own for
 * reading; compiled only into heap.c, where it inlines as before.
 */
#ifndef ALLOC_HEAP_LISTS_H
#define ALLOC_HEAP_LISTS_H

#include "heap_impl.h"

static void list_insert(struct heap *h, blk_t b)
{
	size_t size = blk_size(b);
	unsigned fl, sl;

	ALLOC_ASSERT(blk_is_free(b) && "list_insert: block is not marked free");
	size_to_list(size, &fl, &sl);
	blk_t head = list_head(h, fl, sl);
	blk_set_next_free(b, head);
	blk_set_prev_free_link(b, 0);
	if (head)
		blk_set_prev_free_link(head, b);
	h->free_lists[fl][sl] = (struct heap_free_block *)b;
	h->fl_bitmap |= 1u << fl;
	h->sl_bitmap[fl] |= 1u << sl;
	h->free_blocks++;
	h->free_bytes += size;
}

static void list_remove(struct heap *h, blk_t b)
{
	size_t size = blk_size(b);
	unsigned fl, sl;

	ALLOC_ASSERT(blk_is_free(b) && "list_remove: block is not marked free");
	size_to_list(size, &fl, &sl);
	blk_t next = blk_next_free(b), prev = blk_prev_free(b);
	if (next)
		blk_set_prev_free_link(next, prev);
	if (prev) {
		blk_set_next_free(prev, next);
	} else {
		ALLOC_ASSERT(list_head(h, fl, sl) == b && "list_remove: block not on its list");
		h->free_lists[fl][sl] = (struct heap_free_block *)next;
		if (!next) {
			h->sl_bitmap[fl] &= ~(1u << sl);
			if (!h->sl_bitmap[fl])
				h->fl_bitmap &= ~(1u << fl);
		}
	}
	h->free_blocks--;
	h->free_bytes -= size;
}

/*
 * A free block of at least size bytes in O(1), or 0. The size is first
 * rounded up to the next list boundary so that any block on the list found
 * is big enough without scanning it.
 */
static blk_t find_free(const struct heap *h, size_t size)
{
	unsigned fl, sl;

	if (size >= ((size_t)1 << HEAP_FL_SHIFT))
		size += ((size_t)1 << (fls_size(size) - HEAP_SL_LOG2)) - 1;
	if (size >= HEAP_MAX_BRK)
		return 0;
	size_to_list(size, &fl, &sl);
	uint32_t sl_map = h->sl_bitmap[fl] & (~0u << sl);
	if (!sl_map) {
		if (fl + 1 >= HEAP_FL_COUNT)
			return 0;
		uint32_t fl_map = h->fl_bitmap & (~0u << (fl + 1));
		if (!fl_map)
			return 0;
		fl = (unsigned)__builtin_ctz(fl_map);
		sl_map = h->sl_bitmap[fl];
		ALLOC_ASSERT(sl_map && "find_free: fl_bitmap names an empty class");
	}
	sl = (unsigned)__builtin_ctz(sl_map);
	return list_head(h, fl, sl);
}

/*
 * find_free's rounding skips the list that holds size itself, whose blocks
 * may or may not fit. Before the break grows or an allocation fails, the
 * first HEAP_FIT_SCAN blocks of that list are looked at too (a bound, so
 * that the slow path stays O(1)): a free block that fits is never passed
 * over for want of looking.
 */
#define HEAP_FIT_SCAN 64
static blk_t fit_in_own_list(const struct heap *h, size_t size)
{
	unsigned fl, sl, n = 0;

	if (size >= HEAP_MAX_BRK)
		return 0;
	size_to_list(size, &fl, &sl);
	for (blk_t b = list_head(h, fl, sl); b && n < HEAP_FIT_SCAN; b = blk_next_free(b), n++)
		if (blk_size(b) >= size)
			return b;
	return 0;
}

#endif /* ALLOC_HEAP_LISTS_H */
