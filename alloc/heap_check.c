/*
 * alloc/heap_check.c - looking at a heap without changing it: the consistency
 * checker (tests, the serial shell and GDB helpers run it after anything
 * suspicious), the block walker, the leak lister and the statistics snapshot.
 * At debug levels the checker also verifies every canary and all the poison
 * (heap_debug.c says what was found).
 *
 * The checker trusts nothing it reads: every address is range-checked before
 * it is followed and every list walk is bounded, so a corrupted heap yields a
 * message instead of a fault or a hang.
 */
#include "heap_impl.h"

/* A debug finding (heap_debug.c writes it into a buffer of its own) into why. */
#define FAIL_DBG(call)                                              \
	do {                                                        \
		char msg_[256];                                     \
		if (call) {                                         \
			if (why && len)                             \
				snprintf(why, len, "%s", msg_);     \
			return -1;                                  \
		}                                                   \
	} while (0)

/* A plausible free-list entry: a header slot inside the region, tagged and free. */
static bool plausible_free(const struct heap *h, blk_t b)
{
	if (b < heap_first_blk(h) || b >= heap_epilogue(h) || (b & 15) != 8)
		return false;
	if (heap_epilogue(h) - b < HEAP_MIN_BLOCK)
		return false;
	uint64_t w = word_at(b);
	return word_tag_ok(h, b, w) && word_is_free(w) && !word_is_large(w);
}

/* Every list is sound on its own: entries plausible, links mutual, right list, bitmaps. */
static int check_lists(const struct heap *h, char *why, size_t len, size_t *listed)
{
	*listed = 0;
	for (unsigned fl = 0; fl < HEAP_FL_COUNT; fl++) {
		if (!!(h->fl_bitmap & (1u << fl)) != !!h->sl_bitmap[fl])
			CHECK_FAIL("heap_check: fl_bitmap bit %u disagrees with sl_bitmap[%u] = 0x%x", fl, fl,
			     h->sl_bitmap[fl]);
		for (unsigned sl = 0; sl < HEAP_SL_COUNT; sl++) {
			blk_t b = list_head(h, fl, sl), prev = 0;
			if (!!b != !!(h->sl_bitmap[fl] & (1u << sl)))
				CHECK_FAIL("heap_check: list [%u][%u] is %s but its bitmap bit is %s", fl, sl,
				     b ? "non-empty" : "empty", b ? "clear" : "set");
			for (; b; prev = b, b = blk_next_free(b)) {
				unsigned f, s;
				if (!plausible_free(h, b))
					CHECK_FAIL("heap_check: list [%u][%u] holds 0x%lx, not a free block", fl, sl,
					     UL(b));
				if (blk_prev_free(b) != prev)
					CHECK_FAIL("heap_check: free block 0x%lx: prev link 0x%lx, expected 0x%lx",
					     UL(b), UL(blk_prev_free(b)), UL(prev));
				if (blk_size(b) < HEAP_MIN_BLOCK || blk_size(b) > heap_epilogue(h) - b)
					CHECK_FAIL("heap_check: free block 0x%lx: size %zu does not fit", UL(b),
					     blk_size(b));
				size_to_list(blk_size(b), &f, &s);
				if (f != fl || s != sl)
					CHECK_FAIL("heap_check: free block 0x%lx (size %zu) on list [%u][%u], belongs on [%u][%u]",
					     UL(b), blk_size(b), fl, sl, f, s);
				if (++*listed > h->free_blocks)
					CHECK_FAIL("heap_check: free lists hold more than the %zu free blocks counted (a cycle?)",
					     h->free_blocks);
			}
		}
	}
	return 0;
}

/* Whether b is on the list its size maps to (lists already checked sound). */
static bool on_its_list(const struct heap *h, blk_t b)
{
	unsigned fl, sl;

	size_to_list(blk_size(b), &fl, &sl);
	for (blk_t e = list_head(h, fl, sl); e; e = blk_next_free(e))
		if (e == b)
			return true;
	return false;
}

static int check_blocks(const struct heap *h, char *why, size_t len)
{
	size_t used = 0, used_bytes = 0, nfree = 0, free_bytes = 0, nq = 0, q_bytes = 0, nc = 0, c_bytes = 0, small = 0;
	/* SPARE means quarantined at level 2, nothing at levels 0 and 1. */
	uint64_t stray = HEAP_BLK_LARGE | (h->debug != 2 ? HEAP_BLK_SPARE : 0);
	blk_t end = heap_epilogue(h);
	bool prev_free = false;
	struct slab_tally tally = { 0 };

	for (blk_t b = heap_first_blk(h); b != end; b += blk_size(b)) {
		uint64_t w = word_at(b);
		size_t size = word_size(w);
		if (!word_tag_ok(h, b, w))
			CHECK_FAIL("heap_check: block 0x%lx: header 0x%lx has a bad check tag (overwritten?)",
			     UL(b), UL(w));
		if ((w & stray) || ((w & HEAP_BLK_QUARANTINED) && word_is_free(w)))
			CHECK_FAIL("heap_check: block 0x%lx: stray flag bits in header 0x%lx", UL(b), UL(w));
		if (size < HEAP_MIN_BLOCK || size > end - b)
			CHECK_FAIL("heap_check: block 0x%lx: size %zu runs past the break 0x%lx", UL(b), size,
			     UL(h->brk));
		if (word_prev_is_free(w) != prev_free)
			CHECK_FAIL("heap_check: block 0x%lx: PREV_FREE is %d but the block before is %s", UL(b),
			     (int)word_prev_is_free(w), prev_free ? "free" : "used");
		if (word_is_free(w)) {
			if (prev_free)
				CHECK_FAIL("heap_check: free blocks touch at 0x%lx (missed coalesce)", UL(b));
			if (word_at(b + size - 8) != b)
				CHECK_FAIL("heap_check: free block 0x%lx: foot says 0x%lx", UL(b),
				     UL(word_at(b + size - 8)));
			if (!on_its_list(h, b))
				CHECK_FAIL("heap_check: free block 0x%lx (size %zu) is not on its free list", UL(b),
				     size);
			if (h->debug)
				FAIL_DBG(heap_dbg_check_free(h, b, msg_, sizeof msg_));
			nfree++;
			free_bytes += size;
		} else if (!h->debug && cache_marked(h, b)) {
			if (size > HEAP_CACHE_MAX_BLOCK || !heap_cache_holds(h, b))
				CHECK_FAIL("heap_check: block 0x%lx (size %zu) carries the front cache's key but is not in the front cache (lost from a dropped LIFO, or a copy of freed bytes)",
				     UL(b), size);
			nc++;
			c_bytes += size;
			small += small_block(size);
		} else if (w & HEAP_BLK_QUARANTINED) {
			FAIL_DBG(heap_dbg_check_block(h, blk_payload(b), b + size, true, msg_, sizeof msg_));
			nq++;
			q_bytes += size;
		} else {
			if (h->debug)
				FAIL_DBG(heap_dbg_check_block(h, blk_payload(b), b + size, false, msg_,
							      sizeof msg_));
			else if (blk_is_slab(h, b) && heap_slab_check_run(h, b, &tally, why, len))
				return -1;
			used++;
			used_bytes += size;
			small += small_block(size);
		}
		prev_free = word_is_free(w);
	}

	uint64_t w = word_at(end);
	if (!word_tag_ok(h, end, w) || word_size(w) != 0 || word_is_free(w) ||
	    (w & (HEAP_BLK_LARGE | HEAP_BLK_SPARE)))
		CHECK_FAIL("heap_check: epilogue at 0x%lx is damaged (0x%lx)", UL(end), UL(w));
	if (word_prev_is_free(w) != prev_free)
		CHECK_FAIL("heap_check: epilogue PREV_FREE is %d but the last block is %s",
		     (int)word_prev_is_free(w), prev_free ? "free" : "used");

	if (nfree != h->free_blocks || free_bytes != h->free_bytes)
		CHECK_FAIL("heap_check: walk found %zu free blocks / %zu bytes, counters say %zu / %zu", nfree,
		     free_bytes, h->free_blocks, h->free_bytes);
	/* The counters hold cached blocks as in use (see struct heap). */
	if (used + nc != h->used_blocks || used_bytes + c_bytes != h->in_use_bytes)
		CHECK_FAIL("heap_check: walk found %zu used + %zu cached blocks / %zu + %zu bytes, counters say %zu / %zu",
		     used, nc, used_bytes, c_bytes, h->used_blocks, h->in_use_bytes);
	if (small != h->small_blocks)
		CHECK_FAIL("heap_check: walk found %zu used blocks of at most %u bytes, the counter says %zu", small,
		     HEAP_SMALL_BLOCK, h->small_blocks);
	if (nq != h->quarantine_blocks || q_bytes != h->quarantine_bytes)
		CHECK_FAIL("heap_check: walk found %zu quarantined blocks / %zu bytes, counters say %zu / %zu", nq,
		     q_bytes, h->quarantine_blocks, h->quarantine_bytes);
	if (nc != heap_cache_blocks(h) || c_bytes != heap_cache_bytes(h))
		CHECK_FAIL("heap_check: walk found %zu cached blocks / %zu bytes, counters say %zu / %zu", nc,
		     c_bytes, heap_cache_blocks(h), heap_cache_bytes(h));
	if (used_bytes + free_bytes + q_bytes + c_bytes + 16 != h->brk - h->base)
		CHECK_FAIL("heap_check: blocks cover %zu bytes, the region is %zu",
		     used_bytes + free_bytes + q_bytes + c_bytes + 16, (size_t)(h->brk - h->base));
	return heap_slab_check_lists(h, &tally, why, len);
}

/* The quarantine FIFO: every entry a quarantined block, as many as counted, ending at the tail. */
static int check_quarantine(const struct heap *h, char *why, size_t len)
{
	size_t n = 0;
	blk_t last = 0;

	for (blk_t b = h->quarantine_head; b; last = b, b = (blk_t)((const struct heap_dbg *)(b + 8))->seq) {
		if (b < heap_first_blk(h) || b >= heap_epilogue(h) || (b & 15) != 8 ||
		    !word_tag_ok(h, b, word_at(b)) || !(word_at(b) & HEAP_BLK_QUARANTINED))
			CHECK_FAIL("heap_check: quarantine holds 0x%lx, not a quarantined block", UL(b));
		if (++n > h->quarantine_blocks)
			CHECK_FAIL("heap_check: quarantine holds more than the %zu blocks counted (a cycle?)",
			     h->quarantine_blocks);
	}
	if (n != h->quarantine_blocks || last != h->quarantine_tail)
		CHECK_FAIL("heap_check: quarantine list has %zu blocks ending at 0x%lx, counters say %zu ending at 0x%lx",
		     n, UL(last), h->quarantine_blocks, UL(h->quarantine_tail));
	return 0;
}

static int check_large(const struct heap *h, char *why, size_t len)
{
	size_t n = 0, bytes = 0;
	const struct heap_large *prev = NULL;

	for (const struct heap_large *l = h->large_list; l; prev = l, l = l->next) {
		uintptr_t p = (uintptr_t)(l + 1);
		if (++n > h->large_blocks)
			CHECK_FAIL("heap_check: large list holds more than the %zu counted (a cycle?)",
			     h->large_blocks);
		if (l->prev != prev)
			CHECK_FAIL("heap_check: large block 0x%lx: prev link 0x%lx, expected 0x%lx", UL(p),
			     UL(l->prev), UL(prev));
		if (!large_fits_run(h, l))
			CHECK_FAIL("heap_check: large block 0x%lx: header does not fit its run 0x%lx+%zu", UL(p),
			     UL(l->run), l->run_bytes);
		if (!large_header_ok(h, l))
			CHECK_FAIL("heap_check: large block 0x%lx: header word 0x%lx is damaged", UL(p),
			     UL(l->word));
		if (h->debug)
			FAIL_DBG(heap_dbg_check_block(h, p, l->run + l->run_bytes, false, msg_, sizeof msg_));
		bytes += l->run_bytes;
	}
	if (n != h->large_blocks || bytes != h->large_bytes)
		CHECK_FAIL("heap_check: large list has %zu blocks / %zu bytes, counters say %zu / %zu", n, bytes,
		     h->large_blocks, h->large_bytes);
	return 0;
}

int heap_check(struct heap *h, char *why, size_t len)
{
	size_t listed, page;

	if (!h || !HEAP_MAGIC_OK(h->magic))
		CHECK_FAIL("heap_check: heap not initialised");
	page = h->env.page_size;
	if ((h->base & (page - 1)) || (h->brk & (page - 1)) || h->floor_brk < h->base ||
	    h->brk < h->floor_brk || h->brk - h->base > HEAP_MAX_BRK)
		CHECK_FAIL("heap_check: region base 0x%lx floor 0x%lx brk 0x%lx is not sane", UL(h->base),
		     UL(h->floor_brk), UL(h->brk));
	if (check_lists(h, why, len, &listed) || heap_cache_check(h, why, len) || check_blocks(h, why, len) ||
	    check_quarantine(h, why, len) || check_large(h, why, len))
		return -1;
	if (listed != h->free_blocks)
		CHECK_FAIL("heap_check: lists hold %zu blocks, %zu are free", listed, h->free_blocks);
	if (h->peak_in_use < h->in_use_bytes + h->large_bytes)
		CHECK_FAIL("heap_check: peak %zu below current use %zu", h->peak_in_use,
		     h->in_use_bytes + h->large_bytes);
	if (why && len)
		why[0] = '\0';
	return 0;
}

/* A run's objects for the walkers, never past the run even if its head is damaged. */
static unsigned slab_walk_cap(const struct heap_slab *s)
{
	return s->cap <= slab_cap(s->cls & 3) ? s->cap : slab_cap(s->cls & 3);
}

/* What the caller got for the block whose core payload is cp and room ends at end. */
static void user_block(const struct heap *h, uintptr_t cp, uintptr_t end, void **ptr, size_t *size)
{
	*ptr = (void *)cp;
	*size = end - cp;
	if (h->debug) {
		const struct heap_dbg *d = (const struct heap_dbg *)cp;
		*ptr = (void *)(cp + HEAP_DBG_HEAD);
		*size = d->size <= end - cp - HEAP_DBG_HEAD ? d->size : end - cp - HEAP_DBG_HEAD;
	}
}

void heap_walk(struct heap *h, void (*cb)(void *ctx, void *block_ptr, size_t size, int used),
	       void *ctx)
{
	void *p;
	size_t n;

	ALLOC_ASSERT(h && HEAP_MAGIC_OK(h->magic) && "heap_walk: heap used before heap_init");
	blk_t end = heap_epilogue(h);
	for (blk_t b = heap_first_blk(h); b != end; b = blk_next(b)) {
		ALLOC_ASSERT(blk_size(b) >= HEAP_MIN_BLOCK && "heap_walk: corrupt block size");
		if (blk_is_free(b) || heap_cache_is_cached(h, b, word_at(b))) {
			cb(ctx, (void *)blk_payload(b), blk_size(b) - HEAP_OVERHEAD, HEAP_WALK_FREE);
			continue;
		}
		if (blk_is_slab(h, b)) {
			/* A run: its objects, as what a caller got or would get. */
			const struct heap_slab *s = (const struct heap_slab *)blk_payload(b);
			for (unsigned i = 0; i < slab_walk_cap(s); i++)
				cb(ctx, (void *)slab_obj(s, i), s->size,
				   slab_obj_free(s, i) ? HEAP_WALK_FREE : HEAP_WALK_USED);
			continue;
		}
		user_block(h, blk_payload(b), blk_next(b), &p, &n);
		cb(ctx, p, n, word_at(b) & HEAP_BLK_QUARANTINED ? HEAP_WALK_QUARANTINED : HEAP_WALK_USED);
	}
	for (struct heap_large *l = h->large_list; l; l = l->next) {
		user_block(h, (uintptr_t)(l + 1), l->run + l->run_bytes, &p, &n);
		cb(ctx, p, n, HEAP_WALK_LARGE);
	}
}

/* One live block's facts for heap_leaks. */
static void leak_info(const struct heap *h, uintptr_t cp, uintptr_t end, bool large,
		      struct heap_block_info *bi)
{
	void *p;
	size_t n;

	user_block(h, cp, end, &p, &n);
	*bi = (struct heap_block_info){ p, n, 0, 0, large };
	if (h->debug) {
		bi->alloc_pc = ((const struct heap_dbg *)cp)->alloc_pc;
		bi->seq = ((const struct heap_dbg *)cp)->seq;
	}
}

size_t heap_leaks(struct heap *h, void (*cb)(void *ctx, const struct heap_block_info *b), void *ctx)
{
	struct heap_block_info bi;
	size_t n = 0;

	ALLOC_ASSERT(h && HEAP_MAGIC_OK(h->magic) && "heap_leaks: heap used before heap_init");
	blk_t end = heap_epilogue(h);
	for (blk_t b = heap_first_blk(h); b != end; b = blk_next(b)) {
		ALLOC_ASSERT(blk_size(b) >= HEAP_MIN_BLOCK && "heap_leaks: corrupt block size");
		if ((word_at(b) & (HEAP_BLK_FREE | HEAP_BLK_QUARANTINED)) || heap_cache_is_cached(h, b, word_at(b)))
			continue;
		if (blk_is_slab(h, b)) {
			const struct heap_slab *s = (const struct heap_slab *)blk_payload(b);
			for (unsigned i = 0; i < slab_walk_cap(s); i++) {
				if (slab_obj_free(s, i))
					continue;
				bi = (struct heap_block_info){ (void *)slab_obj(s, i), s->size, 0, 0, false };
				cb(ctx, &bi);
				n++;
			}
			continue;
		}
		leak_info(h, blk_payload(b), blk_next(b), false, &bi);
		cb(ctx, &bi);
		n++;
	}
	for (struct heap_large *l = h->large_list; l; l = l->next) {
		leak_info(h, (uintptr_t)(l + 1), l->run + l->run_bytes, true, &bi);
		cb(ctx, &bi);
		n++;
	}
	return n;
}

void heap_get_stats(struct heap *h, struct heap_stats *st)
{
	ALLOC_ASSERT(h && HEAP_MAGIC_OK(h->magic) && "heap_get_stats: heap used before heap_init");
	/* Level 0: the front cache is flushed and empty slab runs given back first (merged, never trimmed). */
	heap_cache_flush(h);
	heap_slab_release_empty(h);
	st->brk_bytes = h->brk - h->base;
	/*
	 * The cache is empty now. Blocks a damaged entry cut off from it (and
	 * reported) stay counted in use: lost, as heap_check says.
	 */
	st->in_use_bytes = h->in_use_bytes;
	st->free_bytes = h->free_bytes;
	st->used_blocks = h->used_blocks;
	st->free_blocks = h->free_blocks;
	st->peak_in_use = h->peak_in_use;
	st->large_blocks = h->large_blocks;
	st->large_bytes = h->large_bytes;
	st->quarantine_blocks = h->quarantine_blocks;
	st->quarantine_bytes = h->quarantine_bytes;
	st->small_blocks = h->small_blocks;
	st->slabs = h->slab_lim != 0;
	st->slab_runs = h->slab_runs;
	st->slab_objects = st->slab_bytes = 0;
	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++) {
		st->slab_objects += h->slab_live[k];
		st->slab_bytes += h->slab_live[k] * (k + 1) * 16;
	}
	st->largest_free = 0;
	if (h->fl_bitmap) {
		/* The biggest block is on the highest non-empty list, somewhere. */
		unsigned fl = 31u - (unsigned)__builtin_clz(h->fl_bitmap);
		unsigned sl = 31u - (unsigned)__builtin_clz(h->sl_bitmap[fl]);
		for (blk_t b = list_head(h, fl, sl); b; b = blk_next_free(b))
			if (blk_size(b) > st->largest_free)
				st->largest_free = blk_size(b);
	}
}
