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
static inline __attribute__((always_inline)) void *cache_pop(struct heap *h, unsigned c, size_t size)
{
	blk_t b = h->cache_head[c];

	if (ALLOC_UNLIKELY(!blk_slot_ok(h, b)))
		goto bad;
	/*
	 * The key (64 random bits) is what proves b a cached block: a link
	 * overwritten with any other address, or a block popped twice (the key
	 * is cleared), fails it. The header must say used, this size (PREV_FREE
	 * may have been set since the push), so a link to a cached block of
	 * another class fails too. Its tag is not checked again: the key is the
	 * stronger proof, and the free that pushed b verified it.
	 */
	uint64_t w = word_at(b);
	if (ALLOC_UNLIKELY(!cache_marked(h, b) || ((w & ~HEAP_BLK_PREV_FREE) << (64 - HEAP_BLK_TAG_SHIFT)) !=
						  (uint64_t)size << (64 - HEAP_BLK_TAG_SHIFT)))
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
 * A push, once the caller has checked that used block b may go on LIFO c:
 * link it and mark it (its header is left as it is). Shared by cache_push
 * and heap.c's inlined free.
 */
static inline __attribute__((always_inline)) void cache_link(struct heap *h, blk_t b, unsigned c)
{
	set_word_at(b + 8, h->cache_head[c]);
	set_word_at(b + 16, h->cache_key);
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
