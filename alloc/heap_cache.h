/*
 * alloc/heap_cache.h - private to alloc/heap.c: the hot half of level 0's
 * front cache (see "cache" in heap.h), inlined into heap_malloc and
 * heap_free. The slow half (flush, check) is heap_cache.c.
 */
#ifndef ALLOC_HEAP_CACHE_H
#define ALLOC_HEAP_CACHE_H

#include "heap_impl.h"

/* cache_pop's report, out of its way: class c's head is not a cached block of size bytes. */
static __attribute__((noinline, cold)) void cache_pop_bad(struct heap *h, unsigned c, size_t size)
{
	blk_t b = h->cache_head[c];
	char line[160];

	snprintf(line, sizeof line,
		 "heap: write after free: front cache entry 0x%lx (class of %zu bytes) is not a cached block",
		 (unsigned long)b, size);
	h->cache_head[c] = 0;
	h->cache_count[c] = 0;
	heap_core_report(h, HEAP_ERR_WRITE_AFTER_FREE, b + 8, line);
}

/*
 * Level 0: takes the newest block off class c's LIFO (size whole bytes; the
 * caller saw a non-empty head). The entry is checked first (inside the
 * break, 8 mod 16, its whole low word = size | CACHED apart from PREV_FREE,
 * tagged), so a write after free that overwrote a link is reported and the
 * LIFO dropped (heap_check then names the blocks lost), never handed out:
 * NULL then. Counters: only the cache's own (see struct heap).
 */
static inline __attribute__((always_inline)) void *cache_pop(struct heap *h, unsigned c, size_t size)
{
	blk_t b = h->cache_head[c];

	/*
	 * Only b and b + 8 are read: whether b + size fits the break is the tag's
	 * to say (a header the heap wrote there always fits).
	 */
	if (ALLOC_UNLIKELY(!blk_slot_ok(h, b)))
		goto bad;
	uint64_t w = word_at(b);
	/* PREV_FREE may have been set since the push (the block before it was freed). */
	if (ALLOC_UNLIKELY(w != make_word(h, b, size, HEAP_BLK_CACHED | (w & HEAP_BLK_PREV_FREE))))
		goto bad;
	h->cache_head[c] = cache_next(b);
	h->cache_count[c]--;
	set_word_at(b, w & ~HEAP_BLK_CACHED);   /* the tag leaves SPARE out: still valid */
	return (void *)blk_payload(b);
bad:
	cache_pop_bad(h, c, size);
	return NULL;
}

/*
 * Whether freeing used block b (size bytes) would leave a free block on top
 * of the break big enough to trim: such a free bypasses the front cache, so
 * that a cached block never pins pages a plain free would give back.
 */
static inline bool free_would_trim(const struct heap *h, blk_t b, size_t size)
{
	blk_t n = b + size, e = heap_epilogue(h);
	size_t top = size, q = (h->in_use_bytes - heap_cache_bytes(h) - size) / 4;

	if (n != e) {
		uint64_t wn = word_at(n);
		if (!word_is_free(wn) || n + word_size(wn) != e)
			return false;
		top += word_size(wn);
	}
	if (blk_prev_is_free(b))
		top += blk_size(blk_prev_phys(b));
	return top > h->env.trim_threshold && top > q;
}

/*
 * Whether b (size bytes) should rather be merged at once: it touches a free
 * block that is not the top of the break. Caching it would keep that free
 * extent cut in two, which is what costs footprint (churn: +0.02 when every
 * small free was cached); a block between used blocks, or below the top
 * free block (the malloc/free pair that splits and re-merges the top), is
 * cached.
 */
static inline bool free_would_merge_inside(const struct heap *h, blk_t b, size_t size)
{
	if (blk_prev_is_free(b))
		return true;
	blk_t n = b + size;
	uint64_t wn = word_at(n);
	return word_is_free(wn) && n + word_size(wn) != heap_epilogue(h);
}

/*
 * The bookkeeping of a push, once the caller has checked that used block b
 * (size bytes) may go on LIFO c: mark it CACHED (one OR: the tag leaves
 * SPARE out) and link it. Shared by cache_push and heap.c's inlined free.
 */
static inline __attribute__((always_inline)) void cache_link(struct heap *h, blk_t b, uint64_t w,
							      unsigned c)
{
	set_word_at(b, w | HEAP_BLK_CACHED);
	set_word_at(b + 8, h->cache_head[c]);
	h->cache_head[c] = b;
	h->cache_count[c]++;
}

/* Level 0: puts used block b on its class's LIFO if the cache has room; false if not. */
static inline bool cache_push(struct heap *h, blk_t b)
{
	uint64_t w = word_at(b);
	size_t size = word_size(w);

	if (size > block_size_for(h->cache_max_req))
		return false;
	unsigned c = cache_class(size);
	if (h->cache_count[c] >= h->cache_limit[c] ||
	    free_would_merge_inside(h, b, size) || free_would_trim(h, b, size))
		return false;
	cache_link(h, b, w, c);
	return true;
}

#endif /* ALLOC_HEAP_CACHE_H */
