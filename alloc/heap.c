/*
 * alloc/heap.c - the kmalloc core: TLSF (two-level segregated fit) over one
 * brk region, immediate coalescing through boundary tags, and a break that
 * grows in chunks and gives back its top (page-mapped runs for large
 * requests are in heap_large.c).
 *
 * malloc and free are O(1) in the number of blocks: a size maps to a list by
 * two bit scans, a non-empty list at least that big is found with two more
 * (bitmaps), and merging touches only the two physical neighbours. The price
 * of never scanning a list: the request is rounded up to the next list
 * boundary (at most 1/32 more) before searching ("good fit", as in TLSF), so
 * a block in the request's own list that would have fit can be passed over
 * for a bigger one. The block found is split, so the rounding wastes nothing.
 *
 * This file is the core: it hands out and takes back whole blocks and knows
 * nothing of what callers asked for; only heap_malloc and heap_free, at its
 * end, are entry points. Its free lists are in heap_lists.h and its pointer
 * classifier in heap_classify.h (headers private to this file, for
 * reading; they inline here); growing and trimming the break, slow paths,
 * are heap_brk.c. The other entry points and the misuse reports are in
 * heap_api.c, large blocks in heap_large.c, the front cache's slow half in
 * heap_cache.c, the debug levels (canaries, records
 * of who allocated, the quarantine) in heap_debug.c, and heap_check,
 * heap_walk, heap_leaks and heap_get_stats in heap_check.c. At debug levels
 * the core keeps one promise for heap_debug.c: the body of every free block
 * is poison (HEAP_POISON_BYTE), apart from its header, links and foot and
 * the stale headers (with their debug records) that merging leaves inside,
 * and it verifies that poison for the bytes it hands out again.
 */
#include "heap_impl.h"
#include "heap_cache.h"
#include "heap_classify.h"
#include "heap_lists.h"
#include "heap_slab.h"

/* The free lists and their bitmaps: alloc/heap_lists.h. */

/* ----- carving and merging brk blocks ----- */

/*
 * Debug levels: a free header just written at r, inside free memory, may
 * have landed on the prev link of a stale header at r + 16 (see poison_scan
 * in heap_debug.c) and cut its two link words at r + 24 and r + 32 off
 * from it. Poison them again, but never r's own foot, nor a stale header
 * that sits at r + 32 itself.
 */
static void poison_cut(const struct heap *h, blk_t r, size_t size)
{
	if (size > 32)
		set_word_at(r + 24, POISON64);
	if (size > 40 && !(word_tag_ok(h, r + 32, word_at(r + 32)) && word_is_free(word_at(r + 32))))
		set_word_at(r + 32, POISON64);
}

/*
 * Turns free block b (already off its list; its predecessor is used, as for
 * every free block) into a used block of `size` bytes whose payload + off
 * is aligned to align (off is a multiple of 16: room the debug levels keep
 * before the caller's pointer). A leading gap becomes a free block of its
 * own and so does a trailing remainder of at least a minimum block. b must
 * hold size + align + HEAP_MIN_BLOCK bytes when align > HEAP_ALIGN, else size.
 * Compiled twice (alloc_block, alloc_block_debug), with debug constant, so
 * that level 0 pays nothing for the poison checks.
 */
static inline __attribute__((always_inline)) void *take(struct heap *h, blk_t b, size_t size,
							 size_t align, size_t off, const bool debug)
{
	size_t total = blk_size(b);

	if (ALLOC_UNLIKELY(align > HEAP_ALIGN)) {
		uintptr_t p = blk_payload(b) + off;
		size_t gap = ((p + align - 1) & ~(uintptr_t)(align - 1)) - p;
		if (gap && gap < HEAP_MIN_BLOCK)
			gap += align;
		ALLOC_ASSERT(total >= gap + size && "take: block too small for the alignment");
		/*
		 * What is handed out must still be poison, or someone wrote to
		 * freed memory. Scanned from b's start, before any header is
		 * written: the stale headers inside are recognised only in order.
		 */
		if (debug)
			heap_dbg_verify_free(h, b, b + 24, total - gap - size >= HEAP_MIN_BLOCK ? b + gap + size
												: b + total - 8);
		if (gap) {
			blk_write(h, b, gap, HEAP_BLK_FREE);
			blk_set_foot(b);
			list_insert(h, b);
			if (debug)
				heap_dbg_heal_cut(h, b + 24, b + gap);
			b += gap;
			total -= gap;
			blk_write(h, b, total, HEAP_BLK_FREE | HEAP_BLK_PREV_FREE);
		}
	} else if (debug) {
		heap_dbg_verify_free(h, b, b + 24, total - size >= HEAP_MIN_BLOCK ? b + size : b + total - 8);
	}

	uint64_t prev_flag = word_at(b) & HEAP_BLK_PREV_FREE;
	ALLOC_ASSERT(total >= size && "take: block too small");
	if (total - size >= HEAP_MIN_BLOCK) {
		/* b was free, so the block after it already has PREV_FREE set. */
		blk_t rest = b + size;
		blk_write(h, rest, total - size, HEAP_BLK_FREE);
		if (debug)
			poison_cut(h, rest, total - size);
		blk_set_foot(rest);
		list_insert(h, rest);
		total = size;
	} else {
		blk_set_prev_free(h, b + total, false);
	}
	blk_write(h, b, total, prev_flag);
	h->small_blocks += small_block(total);
	/*
	 * heap.slabs=auto: a heap that holds this many small blocks has enough
	 * of them that their headers and rounding cost more than slabs would
	 * (see "slabs" in heap.h); from the next call on, small requests are
	 * slab objects. Only carving a block can get the count there (a shrink
	 * in place can too; the next carve then sees it), and one compare here
	 * is all the heaps that never get there pay (SIZE_MAX when not auto).
	 */
	if (ALLOC_UNLIKELY(h->small_blocks >= h->slab_auto_at))
		heap_slab_enable(h);
	note_used(h, total, 1);
	return (void *)blk_payload(b);
}

/*
 * A used block of `size` whole bytes (payload + off aligned to align) from
 * the front cache (level 0, size <= HEAP_CACHE_MAX_BLOCK, align 16), the free lists, else from the top of the break, else from a grown break.
 * NULL with nothing changed when the break cannot grow.
 */
static inline __attribute__((always_inline)) void *alloc_block_as(struct heap *h, size_t size, size_t align,
								   size_t off, const bool debug)
{
	size_t need = size;

	if (size >= HEAP_MAX_BRK || align >= HEAP_MAX_BRK)
		return NULL;
	if (align > HEAP_ALIGN)
		need += align + HEAP_MIN_BLOCK;
	if (need >= HEAP_MAX_BRK)
		return NULL;

	if (!debug && size <= HEAP_CACHE_MAX_BLOCK && align == HEAP_ALIGN) {
		unsigned c = cache_class(size);
		if (h->cache_head[c]) {
			void *p = cache_pop(h, c);
			if (ALLOC_LIKELY(p))
				return p;
			cache_pop_bad(h, c, size);
		}
	}
	blk_t b = find_free(h, need);
	if (!b && heap_cache_blocks(h)) {
		/* The cache must never make the break grow, nor an allocation fail. */
		heap_cache_flush(h);
		b = find_free(h, need);
	}
	if (!b)
		b = fit_in_own_list(h, need);
	if (!b && !debug && h->slab_runs && heap_slab_release_kept(h)) {
		/* Nor must an empty slab run kept for its class (heap_slab_edge). */
		b = find_free(h, need);
		if (!b)
			b = fit_in_own_list(h, need);
	}
	if (!b) {
		/* The rounding in find_free may pass over a top block that fits. */
		blk_t top = top_free_block(h);
		size_t have = top ? blk_size(top) : 0;
		if (have < need && !heap_brk_grow(h, need - have))
			return NULL;
		b = top_free_block(h);
		ALLOC_ASSERT(b && blk_size(b) >= need && "alloc_block: grow gave too little");
	}
	list_remove(h, b);
	return take(h, b, size, align, off, debug);
}

/* Level 0's copy has no trace of the debug levels; theirs is out of its way. */
static void *alloc_block(struct heap *h, size_t size, size_t align, size_t off)
{
	return alloc_block_as(h, size, align, off, false);
}

static __attribute__((noinline)) void *alloc_block_debug(struct heap *h, size_t size, size_t align,
							 size_t off)
{
	return alloc_block_as(h, size, align, off, true);
}

/*
 * Frees used block b: merges it with free neighbours and lists the result;
 * returns it (its size in *out). At debug levels the caller has poisoned
 * b's body.
 */
static blk_t merge_block(struct heap *h, blk_t b, size_t *out)
{
	size_t size = blk_size(b);

	h->used_blocks--;
	h->small_blocks -= small_block(size);
	h->in_use_bytes -= size;
	/*
	 * Mark the header free even if it is about to be swallowed: a stale
	 * header inside a bigger block then reads as "free" (a later free of it
	 * is a double free), never as a live block.
	 */
	blk_write(h, b, size, HEAP_BLK_FREE | (word_at(b) & HEAP_BLK_PREV_FREE));
	if (blk_prev_is_free(b)) {
		blk_t prev = blk_prev_phys(b);
		ALLOC_ASSERT(blk_is_free(prev) && blk_next(prev) == b &&
			     "free_block: foot word does not name a free neighbour");
		list_remove(h, prev);
		if (ALLOC_UNLIKELY(h->debug))
			set_word_at(b - 8, POISON64);   /* prev's foot is inside the merged block now */
		size += blk_size(prev);
		b = prev;
	}
	blk_t next = b + size;
	if (blk_is_free(next)) {
		list_remove(h, next);
		size += blk_size(next);
	}
	blk_write(h, b, size, HEAP_BLK_FREE);
	blk_set_foot(b);
	blk_set_prev_free(h, b + size, true);
	list_insert(h, b);
	/* Room for a slab run may have come back (heap_slab_refill stopped looking for a while). */
	if (ALLOC_UNLIKELY(h->slab_skip) && size >= 2 * HEAP_SLAB_RUN + HEAP_MIN_BLOCK)
		h->slab_skip = 0;
	*out = size;
	return b;
}

/*
 * Whether every block from n to the break is waiting in the front cache or
 * is an empty slab run (one kept for its class: heap_slab_edge), but for a
 * free block on top (at most HEAP_FIT_SCAN of them are looked at; a header
 * that is not the heap's ends the look with no).
 */
static bool only_cached_above(const struct heap *h, blk_t n)
{
	blk_t e = heap_epilogue(h);

	for (unsigned i = 0; n != e && i < HEAP_FIT_SCAN; i++) {
		uint64_t w = word_at(n);
		if (!word_tag_ok(h, n, w) || word_size(w) < HEAP_MIN_BLOCK || word_size(w) > e - n)
			return false;
		if (word_is_free(w))
			return n + word_size(w) == e;
		if (!heap_cache_is_cached(h, n, w) &&
		    !(blk_is_slab(h, n) && slab_run_kept_empty(h, (const struct heap_slab *)blk_payload(n))))
			return false;
		n += word_size(w);
	}
	return n == e;
}

/*
 * free_block's case of a free block big enough to trim that is not the top:
 * if only cached blocks and empty runs stand between it and the top, they
 * must not pin pages a plain free would give back, so they are let go
 * first (they merge into the top) and the top is trimmed.
 */
static __attribute__((noinline, cold)) void free_block_below_top(struct heap *h, blk_t end, size_t size)
{
	size_t limit = trim_limit(h);

	/* Near enough the top for cached blocks, empty runs and an untrimmed top to be all that lies between? */
	if (h->debug || size <= limit ||
	    heap_epilogue(h) - end > HEAP_CACHE_BYTES + HEAP_SLAB_CLASSES * HEAP_SLAB_RUN + limit ||
	    !only_cached_above(h, end))
		return;
	heap_cache_flush(h);
	heap_slab_release_kept(h);
	heap_core_maybe_trim(h);
}

/* Frees used block b (merge_block), then trims if it ended on top past the limit, or pinned below it. */
static void free_block(struct heap *h, blk_t b)
{
	size_t size;

	b = merge_block(h, b, &size);
	if (b + size == heap_epilogue(h)) {
		if (size > trim_limit(h))
			heap_core_maybe_trim(h);
	} else if (ALLOC_UNLIKELY(size > h->env.trim_threshold) && (cache_marked(h, b + size) || blk_is_slab(h, b + size))) {
		/* The block after it may be one that waits (checked in full there). */
		free_block_below_top(h, b + size, size);
	}
}

/*
 * Cuts used block b down to `size` whole bytes, freeing the tail if it can
 * stand alone. poison_tail: the tail holds user bytes (not poison already).
 */
void heap_core_shrink(struct heap *h, blk_t b, size_t size, bool poison_tail)
{
	size_t total = blk_size(b);

	if (total - size < HEAP_MIN_BLOCK)
		return;
	blk_write(h, b, size, word_at(b) & HEAP_BLK_PREV_FREE);
	if (ALLOC_UNLIKELY(h->debug)) {
		if (poison_tail)
			poison_range(b + size + 8, b + total);
		else
			poison_cut(h, b + size, total - size);
	}
	/* Make the tail a used block and free it: that merges and trims it. */
	blk_write(h, b + size, total - size, 0);
	h->used_blocks++;
	h->small_blocks += small_block(size) - small_block(total) + small_block(total - size);
	free_block(h, b + size);
}

/*
 * Grows used block b to `size` whole bytes without moving it, using the free
 * block after it and, when that is the top of the break, growing the break.
 * Returns false with nothing changed when it cannot.
 */
bool heap_core_grow(struct heap *h, blk_t b, size_t size)
{
	size_t cur = blk_size(b);
	blk_t next = b + cur;
	size_t avail = cur + (blk_is_free(next) ? blk_size(next) : 0);

	if (avail < size && heap_cache_blocks(h)) {
		/* next may be a cached block, and the break must not grow past the cache. */
		heap_cache_flush(h);
		avail = cur + (blk_is_free(next) ? blk_size(next) : 0);
	}
	if (avail < size) {
		bool at_top = next == heap_epilogue(h) ||
			      (blk_is_free(next) && blk_next(next) == heap_epilogue(h));
		if (!at_top || !heap_brk_grow(h, size - avail))
			return false;
		/* heap_brk_grow merged the new space with next, or made it next. */
	}
	ALLOC_ASSERT(blk_is_free(next) && cur + blk_size(next) >= size &&
		     "grow_used: no room after growing");
	size_t total = cur + blk_size(next);
	/* The part of next that b takes must be poison; the rest stays free, untouched. */
	if (ALLOC_UNLIKELY(h->debug))
		heap_dbg_verify_free(h, next, next + 24, total - size < HEAP_MIN_BLOCK ? b + total - 8 : b + size);
	list_remove(h, next);
	h->in_use_bytes += total - cur;
	h->small_blocks += small_block(total) - small_block(cur);
	blk_write(h, b, total, word_at(b) & HEAP_BLK_PREV_FREE);
	blk_set_prev_free(h, b + total, false);
	heap_core_shrink(h, b, size, false);
	note_used(h, 0, 0);
	return true;
}

/* Level 0, a request the front cache did not serve: carved, or now and then sampled. */
static inline void *carve0(struct heap *h, size_t size, size_t bs)
{
	if (ALLOC_UNLIKELY(h->sample_left) && --h->sample_left == 0) {
		h->sample_left = h->env.sample_every;
		void *p = heap_core_sampled_alloc(h, size);
		if (p)
			return p;
	}
	return alloc_block(h, bs, HEAP_ALIGN, 0);
}

/* Telling a live pointer from anything else: alloc/heap_classify.h (classify_as). */

static enum ptr_kind classify(const struct heap *h, uintptr_t p, struct ptr_info *pi)
{
	return classify_as(h, p, pi, false);
}

/* ----- the same for heap_api.c and heap_debug.c (see heap_impl.h) ----- */

void *heap_core_carve0(struct heap *h, size_t n)
{
	return carve0(h, n, block_size_for(n));
}

void *heap_core_alloc(struct heap *h, size_t size, size_t align, size_t off)
{
	if (ALLOC_UNLIKELY(h->debug))
		return alloc_block_debug(h, size, align, off);
	return alloc_block(h, size, align, off);
}

/*
 * Level 0: like heap_core_alloc, from a free block that ends below limit
 * (slab runs must lie in the map's window, and the good fit may pick a
 * block past it). Looks at no more than 64 free blocks big enough; NULL
 * if none of them will do.
 */
void *heap_core_alloc_below(struct heap *h, size_t size, size_t align, size_t off, uintptr_t limit)
{
	size_t need = size + align + HEAP_MIN_BLOCK;
	unsigned fl, sl, looked = 0;

	ALLOC_ASSERT(!h->debug && align > HEAP_ALIGN && "alloc_below: level 0, aligned requests only");
	if (need >= HEAP_MAX_BRK)
		return NULL;
	size_to_list(need, &fl, &sl);
	for (unsigned f = fl; f < HEAP_FL_COUNT; f++) {
		for (uint32_t map = h->sl_bitmap[f] & (f == fl ? ~0u << sl : ~0u); map; map &= map - 1) {
			for (blk_t b = list_head(h, f, (unsigned)__builtin_ctz(map)); b; b = blk_next_free(b)) {
				if (++looked > 64)
					return NULL;
				if (blk_size(b) >= need && b < limit && limit - b >= need) {
					list_remove(h, b);
					return take(h, b, size, align, off, false);
				}
			}
		}
	}
	return NULL;
}

void heap_core_free(struct heap *h, blk_t b) { free_block(h, b); }

/* For heap_brk.c, which links the top free block in and out (the lists are heap_lists.h, inlined here). */
void heap_core_list_insert(struct heap *h, blk_t b) { list_insert(h, b); }
void heap_core_list_remove(struct heap *h, blk_t b) { list_remove(h, b); }

void heap_core_release(struct heap *h, blk_t b)
{
	size_t size;
	merge_block(h, b, &size);
}

enum ptr_kind heap_core_classify(const struct heap *h, uintptr_t p, struct ptr_info *pi)
{
	return classify_as(h, p, pi, true);
}

/* Lays out the initial break [base, brk) as one free block (poisoned at debug levels). */
void heap_core_setup(struct heap *h)
{
	set_word_at(h->base, 0);
	blk_t first = heap_first_blk(h);
	if (ALLOC_UNLIKELY(h->debug))
		poison_range(first + 8, heap_epilogue(h));
	blk_write(h, first, heap_epilogue(h) - first, HEAP_BLK_FREE);
	blk_set_foot(first);
	blk_write(h, heap_epilogue(h), 0, HEAP_BLK_PREV_FREE);
	list_insert(h, first);
}

/*
 * ----- the hot pair, heap_malloc and heap_free -----
 *
 * Here rather than in heap_api.c with the other entry points so that at
 * level 0 the whole path (classify, carving, merging) is inlined into them,
 * as it was before the debug levels existed. Measured with callgrind on a
 * malloc/free churn (docs/hardening.md): calling the core across files cost
 * 32 instructions a pair more than the heap before the debug levels; this,
 * and level-0 copies of take and classify without the debug code, cut
 * that to 12 (a frame for reading the caller, a test of h->debug a call).
 */

static void check_init(const struct heap *h)
{
	ALLOC_ASSERT(h && HEAP_MAGIC_OK(h->magic) && "heap used before heap_init");
}

/* malloc0's way out when its LIFO's head is bad: report it, then carve as if it missed. */
static __attribute__((noinline, cold)) void *malloc0_bad_entry(struct heap *h, unsigned c, size_t bs)
{
	cache_pop_bad(h, c, bs);
	return alloc_block(h, bs, HEAP_ALIGN, 0);
}

/*
 * Level 0 (the caller checked h->debug): the whole path, inlined. A request
 * the front cache serves whose LIFO is not empty is a pop and nothing else.
 */
static inline __attribute__((always_inline)) void *malloc0(struct heap *h, size_t size, const bool slabs)
{
	if (slabs && size < HEAP_SLAB_MAX + 1)
		return slab_alloc(h, size);
	if (ALLOC_LIKELY(size <= h->cache_max_req)) {
		/* = block_size_for(size) and its class, in fewer steps. */
		size_t units = (size + HEAP_OVERHEAD + HEAP_ALIGN - 1) / HEAP_ALIGN;
		units = units < HEAP_MIN_BLOCK / HEAP_ALIGN ? HEAP_MIN_BLOCK / HEAP_ALIGN : units;
		unsigned c = (unsigned)units - HEAP_MIN_BLOCK / HEAP_ALIGN;
		if (h->cache_head[c]) {
			void *p = cache_pop(h, c);
			if (ALLOC_LIKELY(p))
				return p;
			return malloc0_bad_entry(h, c, cache_class_size(c));   /* a tail call: the hit path needs no frame */
		}
		return carve0(h, size, cache_class_size(c));
	}
	if (size > PTRDIFF_MAX)
		return NULL;
	if (size >= h->env.large_threshold && h->env.map_pages)
		return heap_core_large_alloc(h, size, HEAP_ALIGN, 0);
	return carve0(h, size, block_size_for(size));
}

/* Level 0, anything but the front cache's fast case: classify, then act on it. */
static __attribute__((noinline)) void free0_slow(struct heap *h, uintptr_t p)
{
	struct ptr_info pi;
	char line[160];

	switch (classify(h, p, &pi)) {
	case PTR_BLOCK:
		if (!cache_push(h, pi.blk))
			free_block(h, pi.blk);
		return;
	case PTR_LARGE:
		heap_core_large_free(h, pi.large);
		return;
	case PTR_SLAB:
		heap_slab_free_obj(h, pi.slab, pi.idx);
		return;
	case PTR_SLAB_FREED:
		snprintf(line, sizeof line, "heap: double free of 0x%lx (size %u)", (unsigned long)p, pi.slab->size);
		heap_core_report(h, HEAP_ERR_DOUBLE_FREE, p, line);
		return;
	case PTR_FREED:
		snprintf(line, sizeof line, "heap: double free of 0x%lx (size %zu)", (unsigned long)p,
			 blk_size(pi.blk) - HEAP_OVERHEAD);
		heap_core_report(h, HEAP_ERR_DOUBLE_FREE, p, line);
		return;
	case PTR_BAD:
		heap_core_report_bad(h, "invalid free", HEAP_ERR_INVALID_FREE, p, p, &pi);
		return;
	}
}

/*
 * free0's way out for a block it has verified but the cache will not take
 * (its class is full, or it would merge with a free block that is not the
 * top): what free0_slow would conclude, without classifying b again. Left
 * to check: the next header's tag, and that b is not its class's newest
 * cached entry.
 */
static __attribute__((noinline)) void free0_merge(struct heap *h, blk_t b, blk_t n, uint64_t wn)
{
	/*
	 * A full class sends its frees here before free0 asks whether b is
	 * its newest entry (a class of 528..1024-byte blocks is full with
	 * one): a double free of that entry whose key a write after free
	 * wiped must still be reported, not merged while on the LIFO.
	 */
	if (ALLOC_UNLIKELY(!word_tag_ok(h, n, wn) || h->cache_head[cache_class(n - b)] == b)) {
		free0_slow(h, blk_payload(b));   /* it reports what is wrong */
		return;
	}
	free_block(h, b);
}

/*
 * The same for a block whose header free0 verified with PREV_FREE set
 * (size whole bytes, fits before the break): classify's remaining checks
 * (not cached, the free block before it and its foot, the next header),
 * then the merge. Anything odd goes to free0_slow, which reports it.
 */
static __attribute__((noinline)) void free0_merge_prev(struct heap *h, blk_t b, size_t size)
{
	unsigned c = cache_class(size);
	blk_t prev = blk_prev_phys(b), n = b + size;
	uint64_t wn = word_at(n);

	if (ALLOC_UNLIKELY(cache_marked_c(h, b, c) || h->cache_head[c] == b || prev < heap_first_blk(h) ||
			   prev + HEAP_MIN_BLOCK > b || (prev & 15) != 8))
		goto slow;
	uint64_t wp = word_at(prev);
	if (ALLOC_UNLIKELY(!word_tag_ok(h, prev, wp) || !word_is_free(wp) || prev + word_size(wp) != b ||
			   word_prev_is_free(wn) || !word_tag_ok(h, n, wn)))
		goto slow;
	free_block(h, b);
	return;
slow:
	free0_slow(h, blk_payload(b));
}

/*
 * free0's way out for a header it could not take as a used block of the
 * cache's sizes. The common case among them, a used block too big for the
 * cache, is checked here as classify would (tag, flags, fits, the next
 * header, the free block before it) and merged at once; anything else goes
 * to free0_slow, which classifies from scratch and reports.
 */
static __attribute__((noinline)) void free0_other(struct heap *h, blk_t b, uint64_t w)
{
	size_t size = word_size(w);

	if (ALLOC_UNLIKELY((w & (HEAP_BLK_FREE | HEAP_BLK_LARGE | HEAP_BLK_QUARANTINED)) || size <= h->cache_max_block ||
			   size > heap_epilogue(h) - b || !word_tag_ok(h, b, w)))
		goto slow;
	blk_t n = b + size;
	uint64_t wn = word_at(n);
	if (ALLOC_UNLIKELY(!word_tag_ok(h, n, wn) || word_prev_is_free(wn)))
		goto slow;
	if (word_prev_is_free(w)) {
		blk_t prev = blk_prev_phys(b);
		if (ALLOC_UNLIKELY(prev < heap_first_blk(h) || prev + HEAP_MIN_BLOCK > b || (prev & 15) != 8))
			goto slow;
		uint64_t wp = word_at(prev);
		if (ALLOC_UNLIKELY(!word_tag_ok(h, prev, wp) || !word_is_free(wp) || prev + word_size(wp) != b))
			goto slow;
	}
	free_block(h, b);
	return;
slow:
	free0_slow(h, blk_payload(b));
}

/*
 * Level 0. The fast case is a used block of the front cache's sizes whose
 * predecessor is not free, that does not carry the cache's key, and that
 * cache_push would take: the case in which classify answers PTR_BLOCK (the
 * same checks: inside the break, aligned, tagged, used, not LARGE or
 * QUARANTINED, fits before the break, not cached, the next header without
 * PREV_FREE; all but the next header's tag) and cache_push succeeds (same
 * conditions, from the headers already read). Anything else, misuse
 * included, goes to free0_slow, which decides from scratch (a block with
 * the key: is it on its LIFO?).
 */
static inline __attribute__((always_inline)) void free0(struct heap *h, uintptr_t p, const bool slabs)
{
	blk_t b = blk_from_payload(p), e = heap_epilogue(h);

	if (ALLOC_UNLIKELY(!blk_slot_ok(h, b)))   /* p aligned, base + 16 <= p < brk */
		goto slow;
	/* A slab object has no header at p - 8 to read: the map says which p are objects. */
	if (slabs && slab_page(h, p)) {
		if (ALLOC_UNLIKELY(!slab_free(h, p)))
			goto slow;
		return;
	}
	uint64_t w = word_at(b);
	/*
	 * The size if the header is that of a used block of the cache's sizes
	 * with no flag set; then w must be exactly the word make_word writes for
	 * it, which one compare checks (flags, the size's other bits, the tag).
	 * size - MIN wraps for a size below the minimum (a stale epilogue's 0).
	 */
	size_t size = w & (2 * HEAP_CACHE_MAX_BLOCK - HEAP_ALIGN);
	if (ALLOC_UNLIKELY(size - HEAP_MIN_BLOCK > h->cache_max_block - HEAP_MIN_BLOCK || size > e - b)) {
		free0_other(h, b, w);
		return;
	}
	if (ALLOC_UNLIKELY(w != make_word(h, b, size, 0))) {
		/* The block before it is free: the cache will not take it; merge it at once. */
		if (w == make_word(h, b, size, HEAP_BLK_PREV_FREE))
			free0_merge_prev(h, b, size);
		else
			free0_other(h, b, w);
		return;
	}
	unsigned c = cache_class(size);
	if (ALLOC_UNLIKELY(cache_marked_c(h, b, c)))
		goto slow;
	/*
	 * The next header's flags decide, but its tag is not verified here (it
	 * was, on this path, until it cost pairs 1 instruction in 7): a wrong
	 * one only sends this free to the slow path, or lets b be cached
	 * without touching that header, which is reported when its own block
	 * is freed, reallocated or checked (docs/hardening.md).
	 */
	blk_t n = b + size;
	uint64_t wn = word_at(n);
	if (ALLOC_UNLIKELY(word_prev_is_free(wn)))
		goto slow;
	/* classify would say PTR_BLOCK (but for that tag); now cache_push's conditions. */
	if (ALLOC_UNLIKELY(h->cache_count[c] >= h->cache_limit[c]))
		goto merge;
	/* A double free right after the free, even if a write after free wiped the key: classify says so. */
	if (ALLOC_UNLIKELY(h->cache_head[c] == b))
		goto slow;
	/*
	 * free_would_merge_inside; then free_would_trim's first half (the rest,
	 * which needs the bytes in use, is the slow path's: a top block that
	 * big is rare).
	 */
	if (word_is_free(wn)) {
		/* The top free block: its low word is exactly e - n and FREE (n is not e: e is used). */
		if (((wn ^ (e - n)) << (64 - HEAP_BLK_TAG_SHIFT)) == HEAP_BLK_FREE << (64 - HEAP_BLK_TAG_SHIFT)) {
			if (e - b > h->env.trim_threshold)
				goto slow;
		} else if (word_size(wn) >= h->cache_hole) {
			goto merge;
		}
	} else if (n == e && size > h->env.trim_threshold) {
		goto slow;
	}
	cache_link(h, b, c);
	return;
merge:
	free0_merge(h, b, n, wn);
	return;
slow:
	free0_slow(h, p);
}

/*
 * The entry points test h->magic and h->debug with one compare: they are
 * the first two 32-bit fields of struct heap, and "initialised, level 0"
 * is the case to make fast. A heap with slabs has its own magic, so it
 * takes a second compare and a copy of the level-0 path with the slab
 * checks, and a heap without pays nothing for them.
 */
static inline uint64_t first_word(const struct heap *h)
{
	uint64_t first;

	memcpy(&first, h, sizeof first);
	return first;
}
_Static_assert(offsetof(struct heap, magic) == 0 && offsetof(struct heap, debug) == 4 &&
		       sizeof(((struct heap *)0)->debug) == 4 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "first_word reads magic and debug as one little-endian word");

/*
 * A heap with slabs takes its own out-of-line copy of the level-0 path: inlined
 * beside the plain one, it cost the plain path two more saved registers.
 */
static __attribute__((noinline)) void *malloc0_slabs(struct heap *h, size_t size) { return malloc0(h, size, true); }
static __attribute__((noinline)) void free0_slabs(struct heap *h, uintptr_t p) { free0(h, p, true); }

/* Level 0 (with slabs or without): the whole call, true; false for the debug levels (or no heap). */
static inline __attribute__((always_inline)) bool malloc_level0(struct heap *h, size_t size, void **out)
{
	if (h) {
		uint64_t first = first_word(h);
		if (ALLOC_LIKELY(first == HEAP_MAGIC)) {
			*out = malloc0(h, size, false);
			return true;
		}
		if (first == HEAP_MAGIC_SLABS) {
			*out = malloc0_slabs(h, size);
			return true;
		}
	}
	return false;
}

static inline __attribute__((always_inline)) bool free_level0(struct heap *h, void *p)
{
	if (h) {
		uint64_t first = first_word(h);
		if (ALLOC_LIKELY(first == HEAP_MAGIC)) {
			if (p)
				free0(h, (uintptr_t)p, false);
			return true;
		}
		if (first == HEAP_MAGIC_SLABS) {
			if (p)
				free0_slabs(h, (uintptr_t)p);
			return true;
		}
	}
	return false;
}

void *heap_malloc_at(struct heap *h, size_t size, uintptr_t caller)
{
	void *p;

	if (malloc_level0(h, size, &p))
		return p;
	check_init(h);
	return heap_dbg_alloc(h, size, HEAP_ALIGN, caller);
}

void *heap_malloc(struct heap *h, size_t size)
{
	void *p;

	if (malloc_level0(h, size, &p))
		return p;
	check_init(h);
	return heap_dbg_alloc(h, size, HEAP_ALIGN, HEAP_CALLER());
}

void heap_free_at(struct heap *h, void *p, uintptr_t caller)
{
	if (free_level0(h, p))
		return;
	check_init(h);
	if (p)
		heap_dbg_free(h, (uintptr_t)p, caller);
}

void heap_free(struct heap *h, void *p)
{
	if (free_level0(h, p))
		return;
	check_init(h);
	if (p)
		heap_dbg_free(h, (uintptr_t)p, HEAP_CALLER());
}
