/*
 * alloc/heap_classify.h - private to alloc/heap.c: telling a live pointer
 * from anything else (heap_impl.h's enum ptr_kind), for free's slow path,
 * realloc, usable_size and the checkers (heap_core_classify). In a header of
 * its own for reading; compiled only into heap.c, where its level-0 copy
 * inlines into the slow path.
 */
#ifndef ALLOC_HEAP_CLASSIFY_H
#define ALLOC_HEAP_CLASSIFY_H

#include "heap_impl.h"
#include "heap_slab.h"

/*
 * Classifies core payload address p cheaply and without reading outside the
 * brk region: a pointer outside it is only compared against the large list,
 * never dereferenced. Inside, the header at p - 8 must carry its tag, fit
 * before the break, and agree with its neighbours (next header's PREV_FREE,
 * prev block's foot). A quarantined block (level 2) counts as freed.
 */
static inline __attribute__((always_inline)) enum ptr_kind classify_as(const struct heap *h, uintptr_t p,
									struct ptr_info *pi, const bool debug)
{
	pi->large = NULL;   /* set for PTR_LARGE, and for a damaged large header (the report names it) */
	if (p & (HEAP_ALIGN - 1)) {
		pi->why = "misaligned";
		return PTR_BAD;
	}
	if (p < h->base + 16 || p >= h->brk) {
		/*
		 * Each header is checked before its link is followed or its run
		 * trusted (a free unmaps l->run): an underflow from a large
		 * block's payload refuses every free outside the break, with the
		 * damaged block named, rather than unmap what it says.
		 */
		for (struct heap_large *l = h->large_list; l; l = l->next) {
			/* The block found's successor too: freeing it relinks that one. */
			struct heap_large *bad = !large_header_ok(h, l) ? l
						 : (uintptr_t)(l + 1) == p && l->next && !large_header_ok(h, l->next) ? l->next
						 : NULL;
			if (bad) {
				pi->large = bad;
				pi->why = "a large block's header is damaged (an underflow?)";
				return PTR_BAD;
			}
			if ((uintptr_t)(l + 1) == p) {
				pi->large = l;
				return PTR_LARGE;
			}
		}
		pi->why = "outside the heap";
		return PTR_BAD;
	}

	if (slab_page(h, p))
		return heap_slab_classify(h, p, pi);

	blk_t b = blk_from_payload(p);
	uint64_t w = word_at(b);
	size_t size = word_size(w);
	pi->blk = b;
	pi->why = "no block header there";
	if (!word_tag_ok(h, b, w) || (w & (HEAP_BLK_LARGE | HEAP_BLK_QUARANTINED)) ||
	    size < HEAP_MIN_BLOCK || size > heap_epilogue(h) - b) {
		/* A block waiting in the quarantine (level 2) was freed already. */
		(void)debug;
		bool waits = h->debug == 2 && word_tag_ok(h, b, w) &&
			     (w & (HEAP_BLK_FREE | HEAP_BLK_LARGE | HEAP_BLK_QUARANTINED)) == HEAP_BLK_QUARANTINED &&
			     size >= HEAP_MIN_BLOCK && size <= heap_epilogue(h) - b;
		return waits ? PTR_FREED : PTR_BAD;
	}
	if (word_is_free(w) || heap_cache_is_cached(h, b, w))
		return PTR_FREED;

	pi->why = "its header disagrees with its neighbours";
	blk_t next = b + size;
	uint64_t wn = word_at(next);
	if (!word_tag_ok(h, next, wn) || word_prev_is_free(wn))
		return PTR_BAD;
	if (word_prev_is_free(w)) {
		blk_t prev = blk_prev_phys(b);
		if (prev < heap_first_blk(h) || prev + HEAP_MIN_BLOCK > b || (prev & 15) != 8)
			return PTR_BAD;
		uint64_t wp = word_at(prev);
		if (!word_tag_ok(h, prev, wp) || !word_is_free(wp) || prev + word_size(wp) != b)
			return PTR_BAD;
	}
	return PTR_BLOCK;
}

#endif /* ALLOC_HEAP_CLASSIFY_H */
