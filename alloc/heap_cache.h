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
 * caller saw a non-empty head). The entry is checked first (8 mod 16 below
 * the break, the cache's key in its second payload word, its header's low
 * bits those of a used block of this size), so a write after free that
 * overwrote a link is never handed out: NULL then, and the caller reports it
 * with cache_pop_bad (which drops the LIFO; heap_check then names the
 * blocks lost) out of the hot path. Only b's first 24 bytes are read: that
 * b + size fits the break follows from the key (a block the heap cached
 * always fits). Counters: only the class's own (see struct heap).
 */
static inline __attribute__((always_inline)) void *cache_pop(struct heap *h, unsigned c)
{
	blk_t b = h->cache_head[c];

	if (ALLOC_UNLIKELY(!blk_slot_ok(h, b)))
		goto bad;
	/*
	 * The mark (64 random bits with the class in them) is what proves b a
	 * block cached in this class: a link overwritten with any other
	 * address, a link to a block cached in another class, or a block
	 * popped twice (the mark is cleared) fails it. The header is not read:
	 * the free that pushed b verified it, and one damaged since (an
	 * overflow from the block before) is reported when b is next freed,
	 * reallocated or checked.
	 */
	if (ALLOC_UNLIKELY(!cache_marked_c(h, b, c)))
		goto bad;
	h->cache_head[c] = cache_next(b);
	h->cache_count[c]--;
	set_word_at(b + 16, 0);   /* unmarked: a live block */
	return (void *)blk_payload(b);
bad:
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
	size_t top = size, q = (h->in_use_bytes - heap_cache_bytes(h) - size) / 4 + h->retain;

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
 * cached. With slabs, a free block of less than h->cache_hole (4 KiB) after
 * it does not count: the gaps that aligning runs leaves are that small, and
 * a malloc/free pair that splits and re-merges one must stay a cache hit.
 */
static inline bool free_would_merge_inside(const struct heap *h, blk_t b, size_t size)
{
	if (blk_prev_is_free(b))
		return true;
	blk_t n = b + size;
	uint64_t wn = word_at(n);
	return word_is_free(wn) && n + word_size(wn) != heap_epilogue(h) && word_size(wn) >= h->cache_hole;
}

/*
 * A push, once the caller has checked that used block b may go on LIFO c:
 * link it and mark it (its header is left as it is). Shared by cache_push
 * and heap.c's inlined free.
 */
static inline __attribute__((always_inline)) void cache_link(struct heap *h, blk_t b, unsigned c)
{
	set_word_at(b + 8, h->cache_head[c]);
	set_word_at(b + 16, cache_mark(h, c));
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
	cache_link(h, b, c);
	return true;
}

#endif /* ALLOC_HEAP_CACHE_H */
