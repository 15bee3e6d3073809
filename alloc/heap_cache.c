/*
 * alloc/heap_cache.c - level 0's front cache, the slow half: flushing it
 * back into the TLSF lists and checking it for heap_check. The hot half
 * (push in heap_free, pop in the allocation path) is in heap.c, inlined.
 *
 * A cached block is a used block in the chain of headers (FREE clear, so its
 * neighbours do not merge with it and the next header's PREV_FREE is clear),
 * with the next block of its LIFO in its first payload word and its class's
 * mark (cache_mark: cache_key with the class mixed in) in its second. heap.h says when the cache is flushed and how it is counted.
 */
#include "heap_impl.h"

/* Whether b can be an entry of class c: inside the break, a tagged used block of that size, marked. */
static bool plausible_cached(const struct heap *h, blk_t b, unsigned c)
{
	size_t size = cache_class_size(c);

	if ((b & 15) != 8 || b < heap_first_blk(h) || b >= heap_epilogue(h) || size > heap_epilogue(h) - b)
		return false;
	uint64_t w = word_at(b);
	return word_tag_ok(h, b, w) && (w & (HDR_LOW & ~HEAP_BLK_PREV_FREE)) == size && cache_marked_c(h, b, c);
}

size_t heap_cache_flush(struct heap *h)
{
	size_t n = 0;

	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++) {
		blk_t b = h->cache_head[c];
		uint32_t left = h->cache_count[c];
		size_t size = cache_class_size(c);

		/* Detach the LIFO first: releasing a block may trim, which flushes. */
		h->cache_head[c] = 0;
		h->cache_count[c] = 0;
		for (; b && left; left--) {
			if (!plausible_cached(h, b, c)) {
				char line[160];
				snprintf(line, sizeof line,
					 "heap: write after free: front cache entry 0x%lx (class of %zu bytes) is not a cached block",
					 UL(b), size);
				heap_core_report(h, HEAP_ERR_WRITE_AFTER_FREE, b + 8, line);
				break;
			}
			blk_t next = cache_next(b);
			/* Unmarked (it may end inside a bigger free block), then freed the ordinary way. */
			set_word_at(b + 16, 0);
			/*
			 * Its neighbours are checked as a free's would be: the free
			 * that cached it read only the next header's flags, and an
			 * overflow may have hit either since. A damaged neighbour is
			 * reported, and b kept (in use, lost) rather than merged with it.
			 */
			struct ptr_info pi;
			if (heap_core_classify(h, blk_payload(b), &pi) != PTR_BLOCK) {
				char line[200];
				snprintf(line, sizeof line,
					 "heap: front cache entry 0x%lx (class of %zu bytes) cannot be merged: %s (an overflow?); it stays allocated",
					 UL(blk_payload(b)), size, pi.why ? pi.why : "?");
				heap_core_report(h, HEAP_ERR_UNDERFLOW, blk_payload(b), line);
				b = next;
				continue;
			}
			heap_core_release(h, b);
			n++;
			b = next;
		}
	}
	return n;
}

size_t heap_cache_blocks(const struct heap *h)
{
	size_t n = 0;

	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++)
		n += h->cache_count[c];
	return n;
}

size_t heap_cache_bytes(const struct heap *h)
{
	size_t n = 0;

	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++)
		n += h->cache_count[c] * cache_class_size(c);
	return n;
}

bool heap_cache_is_cached(const struct heap *h, blk_t b, uint64_t w)
{
	if (h->debug || (w & (HEAP_BLK_FREE | HEAP_BLK_LARGE | HEAP_BLK_SPARE)) || word_size(w) > HEAP_CACHE_MAX_BLOCK)
		return false;
	/* The newest entry counts even if a write after free wiped its key (free0 checks the head too). */
	return h->cache_head[cache_class(word_size(w))] == b || (cache_marked(h, b) && heap_cache_holds(h, b));
}

bool heap_cache_holds(const struct heap *h, blk_t b)
{
	unsigned c = cache_class(blk_size(b));
	uint32_t n = 0;

	for (blk_t e = h->cache_head[c]; e && n < h->cache_count[c]; n++) {
		if (e == b)
			return true;
		/*
		 * A link overwritten after its block was freed ends the walk
		 * before it is followed, and b cannot be ruled out: say yes, so
		 * that a free of b is refused (reported) rather than trusted.
		 */
		if (!blk_slot_ok(h, e) || !cache_marked_c(h, e, c))
			return true;
		e = cache_next(e);
	}
	return false;
}

int heap_cache_check(const struct heap *h, char *why, size_t len)
{
	size_t blocks = 0, bytes = 0;

	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++) {
		uint32_t n = 0;
		if (h->cache_limit[c] != cache_limit_for(c) || h->cache_count[c] > h->cache_limit[c])
			CHECK_FAIL("heap_check: front cache class %u (%zu bytes) counts %u blocks, limit %u (should be %u)",
			     c, cache_class_size(c), h->cache_count[c], h->cache_limit[c], cache_limit_for(c));
		for (blk_t b = h->cache_head[c]; b; b = cache_next(b)) {
			if (h->debug)
				CHECK_FAIL("heap_check: front cache holds 0x%lx at debug level %u", UL(b), h->debug);
			if (!plausible_cached(h, b, c))
				CHECK_FAIL("heap_check: front cache class %u (%zu bytes) holds 0x%lx, not a cached block of that size (header 0x%lx)",
				     c, cache_class_size(c), UL(b),
				     UL(b >= heap_first_blk(h) && b < heap_epilogue(h) && (b & 7) == 0 ? word_at(b) : 0));
			if (++n > h->cache_count[c])
				CHECK_FAIL("heap_check: front cache class %u holds more than the %u blocks counted (a cycle?)",
				     c, h->cache_count[c]);
		}
		if (n != h->cache_count[c])
			CHECK_FAIL("heap_check: front cache class %u holds %u blocks, counted %u", c, n, h->cache_count[c]);
		blocks += n;
		bytes += n * cache_class_size(c);
	}
	if (bytes > HEAP_CACHE_BYTES)
		CHECK_FAIL("heap_check: front cache holds %zu blocks / %zu bytes, more than its bound %u", blocks, bytes,
		     HEAP_CACHE_BYTES);
	return 0;
}
