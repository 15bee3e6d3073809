/*
 * alloc/heap.c - the kmalloc core: TLSF (two-level segregated fit) over one
 * brk region, immediate coalescing through boundary tags, page-mapped runs
 * for large requests, and a break that grows in chunks and gives back its top.
 *
 * malloc and free are O(1) in the number of blocks: a size maps to a list by
 * two bit scans, a non-empty list at least that big is found with two more
 * (bitmaps), and merging touches only the two physical neighbours. The price
 * of never scanning a list: the request is rounded up to the next list
 * boundary (at most 1/32 more) before searching ("good fit", as in TLSF), so
 * a block in the request's own list that would have fit can be passed over
 * for a bigger one. The block found is split, so the rounding wastes nothing.
 *
 * heap_check, heap_walk and heap_get_stats live in heap_check.c.
 */
#include "heap_impl.h"

/* ----- the free lists and their bitmaps ----- */

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

/* ----- counters ----- */

static void note_used(struct heap *h, size_t bytes, size_t blocks)
{
	h->in_use_bytes += bytes;
	h->used_blocks += blocks;
	size_t now = h->in_use_bytes + h->large_bytes;
	if (now > h->peak_in_use)
		h->peak_in_use = now;
}

static void report(struct heap *h, int kind, uintptr_t addr, const char *line)
{
	if (h->env.report)
		h->env.report(h->env.ctx, kind, addr, line);
}

/* ----- the break ----- */

/* The free block just below the break, or 0 if the last block is used. */
static blk_t top_free_block(const struct heap *h)
{
	blk_t e = heap_epilogue(h);
	return blk_prev_is_free(e) ? blk_prev_phys(e) : 0;
}

/*
 * Grows the break so that the free block at its top gains at least `need`
 * bytes. Returns false with nothing changed when sbrk refuses or the region
 * would pass HEAP_MAX_BRK.
 */
static bool grow(struct heap *h, size_t need)
{
	size_t page = h->env.page_size;

	if (need > HEAP_MAX_BRK)
		return false;
	size_t delta = (need + page - 1) & ~(page - 1);
	if (delta < h->env.grow_bytes)
		delta = h->env.grow_bytes;
	if (delta > HEAP_MAX_BRK - (h->brk - h->base))
		return false;
	void *old = h->env.sbrk(h->env.ctx, (intptr_t)delta);
	if (old == (void *)-1)
		return false;
	ALLOC_ASSERT((uintptr_t)old == h->brk && "grow: the break moved behind the heap's back");
	h->sbrk_calls++;

	/* The old epilogue's word becomes the new block's header. */
	blk_t b = heap_epilogue(h);
	bool prev_free = blk_prev_is_free(b);
	size_t size = delta;
	h->brk += delta;
	blk_write(h, heap_epilogue(h), 0, HEAP_BLK_PREV_FREE);
	if (prev_free) {
		blk_t prev = blk_prev_phys(b);
		list_remove(h, prev);
		size += blk_size(prev);
		b = prev;
	}
	blk_write(h, b, size, HEAP_BLK_FREE);
	blk_set_foot(b);
	list_insert(h, b);
	return true;
}

/*
 * Gives back the whole pages at the top of the free block below the break,
 * keeping that block at least a minimum block (or removing it when the break
 * can land exactly on its header), and never going below floor_brk.
 * Returns the bytes given back (0 if sbrk refused: nothing changes then).
 */
static size_t trim_top(struct heap *h)
{
	size_t page = h->env.page_size;
	blk_t t = top_free_block(h);

	if (!t)
		return 0;
	uintptr_t cut = (t + 8 + page - 1) & ~(uintptr_t)(page - 1);
	if (cut - 8 != t && cut - 8 - t < HEAP_MIN_BLOCK)
		cut += page;
	if (cut < h->floor_brk)
		cut = h->floor_brk;
	if (cut >= h->brk)
		return 0;

	/* Its links may lie above the new break: unlink first, relink on failure. */
	size_t give = h->brk - cut;
	list_remove(h, t);
	void *old = h->env.sbrk(h->env.ctx, -(intptr_t)give);
	if (old == (void *)-1) {
		list_insert(h, t);
		return 0;
	}
	ALLOC_ASSERT((uintptr_t)old == h->brk && "trim_top: the break moved behind the heap's back");
	h->sbrk_calls++;
	h->brk = cut;
	if (heap_epilogue(h) == t) {
		/* t's predecessor is used (t was free), so PREV_FREE stays clear. */
		blk_write(h, t, 0, 0);
	} else {
		blk_write(h, t, heap_epilogue(h) - t, HEAP_BLK_FREE);
		blk_set_foot(t);
		blk_write(h, heap_epilogue(h), 0, HEAP_BLK_PREV_FREE);
		list_insert(h, t);
	}
	return give;
}

/* ----- carving and merging brk blocks ----- */

/* Whole block bytes for a request of n bytes; n <= PTRDIFF_MAX so no wrap. */
static size_t block_size_for(size_t n)
{
	size_t s = (n + HEAP_OVERHEAD + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1);
	return s < HEAP_MIN_BLOCK ? HEAP_MIN_BLOCK : s;
}

/*
 * Turns free block b (already off its list; its predecessor is used, as for
 * every free block) into a used block of `size` bytes whose payload is
 * aligned to align. A leading gap becomes a free block of its own and so
 * does a trailing remainder of at least a minimum block. b must hold
 * size + align + HEAP_MIN_BLOCK bytes when align > HEAP_ALIGN, else size.
 */
static void *take(struct heap *h, blk_t b, size_t size, size_t align)
{
	if (align > HEAP_ALIGN) {
		uintptr_t p = blk_payload(b);
		size_t gap = ((p + align - 1) & ~(uintptr_t)(align - 1)) - p;
		if (gap && gap < HEAP_MIN_BLOCK)
			gap += align;
		if (gap) {
			size_t total = blk_size(b);
			ALLOC_ASSERT(total >= gap + size && "take: block too small for the alignment");
			blk_write(h, b, gap, HEAP_BLK_FREE);
			blk_set_foot(b);
			list_insert(h, b);
			b += gap;
			blk_write(h, b, total - gap, HEAP_BLK_FREE | HEAP_BLK_PREV_FREE);
		}
	}

	size_t total = blk_size(b);
	uint64_t prev_flag = word_at(b) & HEAP_BLK_PREV_FREE;
	ALLOC_ASSERT(total >= size && "take: block too small");
	if (total - size >= HEAP_MIN_BLOCK) {
		/* b was free, so the block after it already has PREV_FREE set. */
		blk_t rest = b + size;
		blk_write(h, rest, total - size, HEAP_BLK_FREE);
		blk_set_foot(rest);
		list_insert(h, rest);
		total = size;
	} else {
		blk_set_prev_free(h, b + total, false);
	}
	blk_write(h, b, total, prev_flag);
	note_used(h, total, 1);
	return (void *)blk_payload(b);
}

/*
 * A used block of `size` whole bytes aligned to align from the free lists,
 * else from the top of the break, else from a grown break. NULL with nothing
 * changed when the break cannot grow.
 */
static void *alloc_block(struct heap *h, size_t size, size_t align)
{
	size_t need = size;

	if (size >= HEAP_MAX_BRK || align >= HEAP_MAX_BRK)
		return NULL;
	if (align > HEAP_ALIGN)
		need += align + HEAP_MIN_BLOCK;
	if (need >= HEAP_MAX_BRK)
		return NULL;

	blk_t b = find_free(h, need);
	if (!b) {
		/* The rounding in find_free may pass over a top block that fits. */
		blk_t top = top_free_block(h);
		size_t have = top ? blk_size(top) : 0;
		if (have < need && !grow(h, need - have))
			return NULL;
		b = top_free_block(h);
		ALLOC_ASSERT(b && blk_size(b) >= need && "alloc_block: grow gave too little");
	}
	list_remove(h, b);
	return take(h, b, size, align);
}

/*
 * Frees used block b: merges it with free neighbours, lists the result and
 * trims the break if it is the top block and has grown past trim_threshold.
 */
static void free_block(struct heap *h, blk_t b)
{
	size_t size = blk_size(b);

	h->used_blocks--;
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
	if (b + size == heap_epilogue(h) && size > h->env.trim_threshold)
		trim_top(h);
}

/* Cuts used block b down to `size` whole bytes, freeing the tail if it can stand alone. */
static void shrink_used(struct heap *h, blk_t b, size_t size)
{
	size_t total = blk_size(b);

	if (total - size < HEAP_MIN_BLOCK)
		return;
	blk_write(h, b, size, word_at(b) & HEAP_BLK_PREV_FREE);
	/* Make the tail a used block and free it: that merges and trims it. */
	blk_write(h, b + size, total - size, 0);
	h->used_blocks++;
	free_block(h, b + size);
}

/*
 * Grows used block b to `size` whole bytes without moving it, using the free
 * block after it and, when that is the top of the break, growing the break.
 * Returns false with nothing changed when it cannot.
 */
static bool grow_used(struct heap *h, blk_t b, size_t size)
{
	size_t cur = blk_size(b);
	blk_t next = b + cur;
	size_t avail = cur + (blk_is_free(next) ? blk_size(next) : 0);

	if (avail < size) {
		bool at_top = next == heap_epilogue(h) ||
			      (blk_is_free(next) && blk_next(next) == heap_epilogue(h));
		if (!at_top || !grow(h, size - avail))
			return false;
		/* grow() merged the new space with next, or made it next. */
	}
	ALLOC_ASSERT(blk_is_free(next) && cur + blk_size(next) >= size &&
		     "grow_used: no room after growing");
	list_remove(h, next);
	size_t total = cur + blk_size(next);
	h->in_use_bytes += total - cur;
	blk_write(h, b, total, word_at(b) & HEAP_BLK_PREV_FREE);
	blk_set_prev_free(h, b + total, false);
	shrink_used(h, b, size);
	note_used(h, 0, 0);
	return true;
}

/* ----- large blocks: one mapped run each ----- */

static size_t large_usable(const struct heap_large *l)
{
	return l->run + l->run_bytes - (uintptr_t)(l + 1);
}

/* A run holding size bytes aligned to align (>= 16), or NULL. */
static void *large_alloc(struct heap *h, size_t size, size_t align)
{
	size_t page = h->env.page_size;
	/*
	 * The header needs 48 bytes before the payload; a run starts page
	 * aligned, so rounding run + 48 up to align lands at most
	 * max(64, align) bytes in.
	 */
	size_t lead = align > 64 ? align : 64;

	if (size > PTRDIFF_MAX || lead > PTRDIFF_MAX || size + lead > HEAP_BLK_SIZE_MASK - page)
		return NULL;
	size_t run_bytes = (size + lead + page - 1) & ~(page - 1);
	void *run = h->env.map_pages(h->env.ctx, run_bytes);
	if (!run)
		return NULL;
	uintptr_t r = (uintptr_t)run;
	ALLOC_ASSERT((r & (page - 1)) == 0 && "large_alloc: map_pages returned an unaligned run");
	uintptr_t p = (r + sizeof(struct heap_large) + align - 1) & ~(uintptr_t)(align - 1);
	ALLOC_ASSERT(p + size <= r + run_bytes && "large_alloc: payload overruns its run");

	struct heap_large *l = (struct heap_large *)p - 1;
	l->run = r;
	l->run_bytes = run_bytes;
	l->spare = 0;
	l->word = make_word(h, (uintptr_t)&l->word, large_usable(l), HEAP_BLK_LARGE);
	l->prev = NULL;
	l->next = h->large_list;
	if (l->next)
		l->next->prev = l;
	h->large_list = l;
	h->large_blocks++;
	h->large_bytes += run_bytes;
	note_used(h, 0, 0);
	return (void *)p;
}

static void large_free(struct heap *h, struct heap_large *l)
{
	if (l->next)
		l->next->prev = l->prev;
	if (l->prev)
		l->prev->next = l->next;
	else
		h->large_list = l->next;
	h->large_blocks--;
	h->large_bytes -= l->run_bytes;
	h->env.unmap_pages(h->env.ctx, (void *)l->run, l->run_bytes);
}

/* ----- telling a live pointer from anything else ----- */

enum ptr_kind { PTR_BAD, PTR_BLOCK, PTR_FREED, PTR_LARGE };

struct ptr_info {
	blk_t blk;                 /* PTR_BLOCK, PTR_FREED */
	struct heap_large *large;  /* PTR_LARGE */
	const char *why;           /* PTR_BAD */
};

/*
 * Classifies p cheaply and without reading outside the brk region: a pointer
 * outside it is only compared against the large list, never dereferenced.
 * Inside, the header at p - 8 must carry its tag, fit before the break, and
 * agree with its neighbours (next header's PREV_FREE, prev block's foot).
 */
static enum ptr_kind classify(const struct heap *h, uintptr_t p, struct ptr_info *pi)
{
	if (p & (HEAP_ALIGN - 1)) {
		pi->why = "misaligned";
		return PTR_BAD;
	}
	if (p < h->base + 16 || p >= h->brk) {
		for (struct heap_large *l = h->large_list; l; l = l->next) {
			if ((uintptr_t)(l + 1) == p) {
				pi->large = l;
				return PTR_LARGE;
			}
		}
		pi->why = "outside the heap";
		return PTR_BAD;
	}

	blk_t b = blk_from_payload(p);
	uint64_t w = word_at(b);
	size_t size = word_size(w);
	pi->blk = b;
	pi->why = "no block header there";
	if (!word_tag_ok(h, b, w) || (w & (HEAP_BLK_LARGE | HEAP_BLK_SPARE)) ||
	    size < HEAP_MIN_BLOCK || size > heap_epilogue(h) - b)
		return PTR_BAD;
	if (word_is_free(w))
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

/* ----- the API ----- */

static void check_init(const struct heap *h)
{
	ALLOC_ASSERT(h && h->magic == HEAP_MAGIC && "heap used before heap_init");
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int heap_init(struct heap *h, const struct heap_env *env)
{
	memset(h, 0, sizeof *h);
	if (!env || !env->sbrk || (env->map_pages && !env->unmap_pages))
		return -1;
	size_t page = env->page_size;
	if (page < 64 || (page & (page - 1)) || page > HEAP_MAX_BRK / 4)
		return -1;

	h->env = *env;
	if (!h->env.large_threshold)
		h->env.large_threshold = HEAP_DEFAULT_LARGE_THRESHOLD;
	if (!h->env.grow_bytes)
		h->env.grow_bytes = HEAP_DEFAULT_GROW_BYTES;
	if (h->env.grow_bytes > HEAP_MAX_BRK / 2)
		return -1;
	h->env.grow_bytes = (h->env.grow_bytes + page - 1) & ~(page - 1);
	if (!h->env.trim_threshold)
		h->env.trim_threshold = HEAP_DEFAULT_TRIM_THRESHOLD;
	/* Trimming below one growth chunk would hand back what the next malloc regrows. */
	if (h->env.trim_threshold < h->env.grow_bytes)
		h->env.trim_threshold = h->env.grow_bytes;

	void *base = env->sbrk(env->ctx, 0);
	if (base == (void *)-1 || ((uintptr_t)base & (page - 1)))
		return -1;
	void *old = env->sbrk(env->ctx, (intptr_t)h->env.grow_bytes);
	if (old == (void *)-1)
		return -1;
	if (old != base) {
		/* Someone else moved it between the two calls: give it back and refuse. */
		env->sbrk(env->ctx, -(intptr_t)h->env.grow_bytes);
		return -1;
	}

	h->base = (uintptr_t)base;
	h->brk = h->base + h->env.grow_bytes;
	h->floor_brk = h->brk;
	h->secret = mix64((env->secret ? env->secret : (uint64_t)(uintptr_t)h ^ 0x6a09e667f3bcc909ull) ^
			  h->base);
	h->sbrk_calls = 1;
	set_word_at(h->base, 0);
	blk_t first = heap_first_blk(h);
	blk_write(h, first, heap_epilogue(h) - first, HEAP_BLK_FREE);
	blk_set_foot(first);
	blk_write(h, heap_epilogue(h), 0, HEAP_BLK_PREV_FREE);
	list_insert(h, first);
	h->magic = HEAP_MAGIC;
	return 0;
}

void *heap_malloc(struct heap *h, size_t size)
{
	check_init(h);
	if (size > PTRDIFF_MAX)
		return NULL;
	if (size >= h->env.large_threshold && h->env.map_pages)
		return large_alloc(h, size, HEAP_ALIGN);
	return alloc_block(h, block_size_for(size), HEAP_ALIGN);
}

void *heap_memalign(struct heap *h, size_t align, size_t size)
{
	check_init(h);
	if (!align || (align & (align - 1)) || size > PTRDIFF_MAX)
		return NULL;
	if (align <= HEAP_ALIGN)
		return heap_malloc(h, size);
	if (size >= h->env.large_threshold && h->env.map_pages)
		return large_alloc(h, size, align);
	return alloc_block(h, block_size_for(size), align);
}

void *heap_calloc(struct heap *h, size_t n, size_t size)
{
	check_init(h);
	if (size && n > SIZE_MAX / size)
		return NULL;
	/* Always zero: reused blocks are dirty, and fresh break pages need not be zero. */
	void *p = heap_malloc(h, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void heap_free(struct heap *h, void *ptr)
{
	struct ptr_info pi;
	char line[160];

	check_init(h);
	if (!ptr)
		return;
	uintptr_t p = (uintptr_t)ptr;
	switch (classify(h, p, &pi)) {
	case PTR_BLOCK:
		free_block(h, pi.blk);
		return;
	case PTR_LARGE:
		large_free(h, pi.large);
		return;
	case PTR_FREED:
		snprintf(line, sizeof line, "heap: double free of 0x%lx (size %zu)", (unsigned long)p,
			 blk_size(pi.blk) - HEAP_OVERHEAD);
		report(h, HEAP_ERR_DOUBLE_FREE, p, line);
		return;
	case PTR_BAD:
		snprintf(line, sizeof line, "heap: invalid free of 0x%lx (not a block the heap returned: %s)",
			 (unsigned long)p, pi.why);
		report(h, HEAP_ERR_INVALID_FREE, p, line);
		return;
	}
}

/* Reports a pointer handed to realloc/usable_size that is not a live block. */
static void report_bad_ptr(struct heap *h, const char *fn, uintptr_t p, enum ptr_kind kind,
			   const struct ptr_info *pi)
{
	char line[160];

	snprintf(line, sizeof line, "heap: %s of 0x%lx (%s)", fn, (unsigned long)p,
		 kind == PTR_FREED ? "a freed block" : pi->why);
	report(h, HEAP_ERR_INVALID_PTR, p, line);
}

/* realloc by malloc, copy, free; NULL (p untouched) when malloc fails. */
static void *realloc_move(struct heap *h, void *p, size_t old_usable, size_t size,
			  const struct ptr_info *pi, enum ptr_kind kind)
{
	void *q = heap_malloc(h, size);
	if (!q)
		return NULL;
	memcpy(q, p, old_usable < size ? old_usable : size);
	if (kind == PTR_LARGE)
		large_free(h, pi->large);
	else
		free_block(h, pi->blk);
	return q;
}

void *heap_realloc(struct heap *h, void *ptr, size_t size)
{
	struct ptr_info pi;

	check_init(h);
	if (!ptr)
		return heap_malloc(h, size);
	enum ptr_kind kind = classify(h, (uintptr_t)ptr, &pi);
	if (kind == PTR_BAD || kind == PTR_FREED) {
		report_bad_ptr(h, "realloc", (uintptr_t)ptr, kind, &pi);
		return NULL;
	}
	if (size > PTRDIFF_MAX)
		return NULL;

	if (kind == PTR_LARGE) {
		size_t usable = large_usable(pi.large);
		/* Keep the run unless it would be more than half empty or belongs in the brk. */
		if (size <= usable && size >= h->env.large_threshold && size >= usable / 2)
			return ptr;
		return realloc_move(h, ptr, usable, size, &pi, kind);
	}

	size_t cur = blk_size(pi.blk);
	size_t want = block_size_for(size);
	if (want <= cur) {
		shrink_used(h, pi.blk, want);
		return ptr;
	}
	/* Growing past the threshold moves it to where heap_malloc would put it. */
	if (size >= h->env.large_threshold && h->env.map_pages)
		return realloc_move(h, ptr, cur - HEAP_OVERHEAD, size, &pi, kind);
	if (want < HEAP_MAX_BRK && grow_used(h, pi.blk, want))
		return ptr;
	return realloc_move(h, ptr, cur - HEAP_OVERHEAD, size, &pi, kind);
}

size_t heap_usable_size(struct heap *h, void *ptr)
{
	struct ptr_info pi;

	check_init(h);
	if (!ptr)
		return 0;
	enum ptr_kind kind = classify(h, (uintptr_t)ptr, &pi);
	if (kind == PTR_BLOCK)
		return blk_size(pi.blk) - HEAP_OVERHEAD;
	if (kind == PTR_LARGE)
		return large_usable(pi.large);
	report_bad_ptr(h, "usable_size", (uintptr_t)ptr, kind, &pi);
	return 0;
}

size_t heap_trim(struct heap *h)
{
	check_init(h);
	return trim_top(h);
}
