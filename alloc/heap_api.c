/*
 * alloc/heap_api.c - the kmalloc core's entry points (see heap.h): heap_init,
 * and calloc, realloc, memalign, usable_size, trim with their *_at twins
 * (heap_malloc and heap_free live in heap.c, see there). Each either runs
 * the level-0 fast path over the core (heap.c) or, when the heap was made
 * with a debug level, hands over to heap_debug.c; one predictable branch is
 * all level 0 pays for the debug levels existing.
 *
 * Also the misuse reports both paths share: a pointer that is not a live
 * block is explained by walking the blocks (only then: it is the error path)
 * to say what it points into.
 */
#include "heap_slab.h"

static void check_init(const struct heap *h)
{
	ALLOC_ASSERT(h && HEAP_MAGIC_OK(h->magic) && "heap used before heap_init");
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
	if (!env || !env->sbrk || (env->map_pages && !env->unmap_pages) || (env->remap_pages && !env->map_pages) ||
	    env->debug > HEAP_DEBUG_MAX || env->slabs > HEAP_SLABS_OFF)
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
	if (!h->env.slab_after)
		h->env.slab_after = HEAP_SLAB_AUTO_BLOCKS;
	h->slab_auto_at = !env->debug && env->slabs == HEAP_SLABS_AUTO ? h->env.slab_after : SIZE_MAX;
	if (!h->env.quarantine_bytes)
		h->env.quarantine_bytes = HEAP_DEFAULT_QUARANTINE_BYTES;
	/* The front cache serves what would otherwise come from the break. */
	h->cache_max_req = HEAP_CACHE_MAX_BLOCK - HEAP_OVERHEAD;
	if (h->env.map_pages && h->env.large_threshold <= h->cache_max_req)
		h->cache_max_req = h->env.large_threshold - 1;
	h->cache_max_block = block_size_for(h->cache_max_req);
	/* Sampling needs pages of its own, and the debug levels guard every block their own way. */
	h->sample_left = h->env.map_pages && !h->env.debug ? h->env.sample_every : 0;
	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++)
		h->cache_limit[c] = cache_limit_for(c);

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

	h->debug = env->debug;
	h->base = (uintptr_t)base;
	/*
	 * Without slabs no page may ever look like a run: bit 0 of the map is
	 * put 2^40 run pages below the break, so slab_page fails its first
	 * compare and the map is never read (heap_slab_enable moves it).
	 */
	h->slab_pg0 = (h->base >> HEAP_SLAB_RUN_SHIFT) - (1ull << 40);
	heap_set_brk(h, h->base + h->env.grow_bytes);
	h->floor_brk = h->brk;
	h->secret = mix64((env->secret ? env->secret : (uint64_t)(uintptr_t)h ^ 0x6a09e667f3bcc909ull) ^
			  h->base);
	/* Derived from the secret (so as random), never 0 (what a pop leaves). */
	h->cache_key = mix64(h->secret ^ 0x636163686520b0b0ull) | 1ull << 63;
	h->sbrk_calls = 1;
	heap_core_setup(h);
	h->magic = HEAP_MAGIC;
	if (!env->debug && env->slabs == HEAP_SLABS_ON)
		heap_slab_enable(h);
	return 0;
}

/* ----- misuse reports ----- */

void heap_core_report(struct heap *h, int kind, uintptr_t addr, const char *line)
{
	if (h->env.report)
		h->env.report(h->env.ctx, kind, addr, line);
}

void heap_core_pc(uintptr_t pc, char *buf, size_t len)
{
	if (pc)
		alloc_describe_pc(pc, buf, len);
	else
		snprintf(buf, len, "?");
}

#define UL(x) ((unsigned long)(x))

/*
 * The brk block holding address a, walking the chain of headers from the
 * first block: 1 and *out = that block; 0 when the chain breaks first
 * (*out = the header that is not one) or a lies past the last block.
 * Range-checked and bounded like heap_check, so corruption cannot fault it.
 */
static int locate(const struct heap *h, uintptr_t a, blk_t *out)
{
	blk_t end = heap_epilogue(h);
	size_t steps = 0, limit = h->used_blocks + h->free_blocks + h->quarantine_blocks + 1;

	*out = 0;
	for (blk_t b = heap_first_blk(h); b < end;) {
		uint64_t w = word_at(b);
		size_t size = word_size(w);
		if (!word_tag_ok(h, b, w) || size < HEAP_MIN_BLOCK || size > end - b || ++steps > limit) {
			*out = b;
			return 0;
		}
		if (a < b + size) {
			*out = b;
			return 1;
		}
		b += size;
	}
	return 0;
}

/* What a caller got for block b, and the size it asked for (level 0: usable bytes). */
static void user_view(const struct heap *h, uintptr_t cp, uintptr_t end, uintptr_t *user,
		      size_t *size, uintptr_t *alloc_pc)
{
	*user = cp;
	*size = end - cp;
	*alloc_pc = 0;
	if (h->debug) {
		const struct heap_dbg *d = (const struct heap_dbg *)cp;
		*user = cp + HEAP_DBG_HEAD;
		*size = d->size <= end - *user ? d->size : end - *user;
		*alloc_pc = d->alloc_pc;
	}
}

/* "(interior pointer into 0x... size N[, allocated at X])" */
static void say_interior(const struct heap *h, uintptr_t cp, uintptr_t end, char *buf, size_t len)
{
	uintptr_t user, pc;
	size_t size;
	char where[96];

	user_view(h, cp, end, &user, &size, &pc);
	if (h->debug) {
		heap_core_pc(pc, where, sizeof where);
		snprintf(buf, len, "(interior pointer into 0x%lx size %zu, allocated at %s)", UL(user), size,
			 where);
	} else {
		snprintf(buf, len, "(interior pointer into 0x%lx size %zu)", UL(user), size);
	}
}

void heap_core_report_bad(struct heap *h, const char *verb, int kind, uintptr_t p, uintptr_t cp,
			  const struct ptr_info *pi)
{
	char line[400], why[160], hint[96];
	const char *reason = pi->why;
	blk_t b;

	why[0] = hint[0] = '\0';
	if (p >= h->base + 16 && p < h->brk && slab_page(h, p)) {
		heap_slab_describe(h, p, why, sizeof why);
	} else if (p < h->base + 16 || p >= h->brk) {
		for (const struct heap_large *l = h->large_list; l && large_header_ok(h, l); l = l->next) {
			if (p >= l->run && p < l->run + l->run_bytes) {
				say_interior(h, (uintptr_t)(l + 1), l->run + l->run_bytes, why, sizeof why);
				break;
			}
		}
		if (pi->large && !large_header_ok(h, pi->large))
			snprintf(why, sizeof why, "(the header of large block 0x%lx is damaged (an underflow?); no large free is obeyed until it is mended)",
				 UL(pi->large + 1));
		if (!why[0] && h->env.describe_addr)
			h->env.describe_addr(h->env.ctx, p, hint, sizeof hint);
	} else {
		int found = locate(h, p, &b);
		uint64_t w = b ? word_at(b) : 0;
		if (found && !word_is_free(w) && blk_payload(b) != cp) {
			say_interior(h, blk_payload(b), b + word_size(w), why, sizeof why);
		} else if (found && word_is_free(w)) {
			reason = "inside free memory";
		} else if (!found && b && b == cp - HEAP_OVERHEAD) {
			snprintf(line, sizeof line,
				 "heap: underflow into the header of 0x%lx: header word 0x%lx overwritten (%s %s)",
				 UL(p), UL(w), kind == HEAP_ERR_INVALID_FREE ? "not" : verb,
				 kind == HEAP_ERR_INVALID_FREE ? "freed" : "refused");
			heap_core_report(h, HEAP_ERR_UNDERFLOW, p, line);
			return;
		}
	}
	if (!why[0])
		snprintf(why, sizeof why, "(not a block the heap returned: %s)", reason);
	snprintf(line, sizeof line, "heap: %s of 0x%lx %s%s%s%s", verb, UL(p), why, hint[0] ? " (" : "", hint,
		 hint[0] ? ")" : "");
	heap_core_report(h, kind, p, line);
}

/* ----- level 0: the fast path ----- */

static void *malloc0(struct heap *h, size_t size)
{
	if (size < h->slab_lim)
		return slab_alloc(h, size);
	if (size > PTRDIFF_MAX)
		return NULL;
	if (size >= h->env.large_threshold && h->env.map_pages)
		return heap_core_large_alloc(h, size, HEAP_ALIGN, 0);
	return heap_core_carve0(h, size);
}

/* Reports a pointer handed to realloc/usable_size that is not a live block. */
static void report_bad_ptr(struct heap *h, const char *fn, uintptr_t p, enum ptr_kind kind,
			   const struct ptr_info *pi)
{
	char line[160];

	if (kind == PTR_BAD) {
		heap_core_report_bad(h, fn, HEAP_ERR_INVALID_PTR, p, p, pi);
		return;
	}
	snprintf(line, sizeof line, "heap: %s of 0x%lx (a freed block)", fn, UL(p));
	heap_core_report(h, HEAP_ERR_INVALID_PTR, p, line);
}

/* realloc by malloc, copy, free; NULL (p untouched) when malloc fails. */
static void *realloc_move(struct heap *h, uintptr_t p, size_t old_usable, size_t size,
			  const struct ptr_info *pi, enum ptr_kind kind)
{
	void *q = malloc0(h, size);
	if (!q)
		return NULL;
	memcpy(q, (void *)p, old_usable < size ? old_usable : size);
	if (kind == PTR_LARGE)
		heap_core_large_free(h, pi->large);
	else if (kind == PTR_SLAB)
		heap_slab_free_obj(h, pi->slab, pi->idx);
	else
		heap_core_free(h, pi->blk);
	return q;
}

static void *realloc0(struct heap *h, uintptr_t p, size_t size)
{
	struct ptr_info pi;

	enum ptr_kind kind = heap_core_classify(h, p, &pi);
	if (kind == PTR_BAD || kind == PTR_FREED || kind == PTR_SLAB_FREED) {
		report_bad_ptr(h, "realloc", p, kind, &pi);
		return NULL;
	}
	if (size > PTRDIFF_MAX)
		return NULL;

	if (kind == PTR_SLAB) {
		/* Shrinking keeps its place (as a block's would), so it cannot fail. */
		if (size <= pi.slab->size)
			return (void *)p;
		return realloc_move(h, p, pi.slab->size, size, &pi, kind);
	}

	if (kind == PTR_LARGE) {
		size_t usable = large_usable(pi.large);
		/* Keep the run unless it would be more than half empty or belongs in the brk. */
		if (size <= usable && size >= h->env.large_threshold && size >= usable / 2)
			return (void *)p;
		/* Still large: move its pages rather than copy them, if the environment can. */
		if (size >= h->env.large_threshold) {
			void *q = heap_core_large_remap(h, pi.large, size);
			if (q)
				return q;
		}
		return realloc_move(h, p, usable, size, &pi, kind);
	}

	size_t cur = blk_size(pi.blk);
	size_t want = block_size_for(size);
	if (want <= cur) {
		heap_core_shrink(h, pi.blk, want, true);
		return (void *)p;
	}
	/* Growing past the threshold moves it to where heap_malloc would put it. */
	if (size >= h->env.large_threshold && h->env.map_pages)
		return realloc_move(h, p, cur - HEAP_OVERHEAD, size, &pi, kind);
	if (want < HEAP_MAX_BRK && heap_core_grow(h, pi.blk, want))
		return (void *)p;
	return realloc_move(h, p, cur - HEAP_OVERHEAD, size, &pi, kind);
}

/*
 * ----- the API: the *_at functions do the work, the plain ones name their caller -----
 * (heap_malloc and heap_free are in heap.c, where the core inlines into them)
 */

void *heap_memalign_at(struct heap *h, size_t align, size_t size, uintptr_t caller)
{
	check_init(h);
	if (!align || (align & (align - 1)) || size > PTRDIFF_MAX)
		return NULL;
	if (align < HEAP_ALIGN)
		align = HEAP_ALIGN;
	if (ALLOC_UNLIKELY(h->debug))
		return heap_dbg_alloc(h, size, align, caller);
	if (align == HEAP_ALIGN)
		return malloc0(h, size);
	if (size >= h->env.large_threshold && h->env.map_pages)
		return heap_core_large_alloc(h, size, align, 0);
	return heap_core_alloc(h, block_size_for(size), align, 0);
}

void *heap_calloc_at(struct heap *h, size_t n, size_t size, uintptr_t caller)
{
	check_init(h);
	if (size && n > SIZE_MAX / size)
		return NULL;
	/* Always zero: reused blocks are dirty, and fresh break pages need not be zero. */
	void *p = ALLOC_UNLIKELY(h->debug) ? heap_dbg_alloc(h, n * size, HEAP_ALIGN, caller)
					   : malloc0(h, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *heap_realloc_at(struct heap *h, void *ptr, size_t size, uintptr_t caller)
{
	check_init(h);
	if (ALLOC_UNLIKELY(h->debug))
		return heap_dbg_realloc(h, (uintptr_t)ptr, size, caller);
	if (!ptr)
		return malloc0(h, size);
	return realloc0(h, (uintptr_t)ptr, size);
}

size_t heap_usable_size_at(struct heap *h, void *ptr, uintptr_t caller)
{
	struct ptr_info pi;

	check_init(h);
	if (!ptr)
		return 0;
	if (ALLOC_UNLIKELY(h->debug))
		return heap_dbg_usable(h, (uintptr_t)ptr, caller);
	enum ptr_kind kind = heap_core_classify(h, (uintptr_t)ptr, &pi);
	if (kind == PTR_BLOCK)
		return blk_size(pi.blk) - HEAP_OVERHEAD;
	if (kind == PTR_LARGE)
		return large_usable(pi.large);
	if (kind == PTR_SLAB)
		return pi.slab->size;
	report_bad_ptr(h, "usable_size", (uintptr_t)ptr, kind, &pi);
	return 0;
}

void *heap_calloc(struct heap *h, size_t n, size_t size) { return heap_calloc_at(h, n, size, HEAP_CALLER()); }
void *heap_realloc(struct heap *h, void *p, size_t size) { return heap_realloc_at(h, p, size, HEAP_CALLER()); }
void *heap_memalign(struct heap *h, size_t align, size_t size)
{
	return heap_memalign_at(h, align, size, HEAP_CALLER());
}
size_t heap_usable_size(struct heap *h, void *p) { return heap_usable_size_at(h, p, HEAP_CALLER()); }

size_t heap_flush_quarantine(struct heap *h)
{
	check_init(h);
	if (h->debug >= 2)
		return heap_dbg_flush(h);
	if (h->debug)
		return 0;
	size_t n = heap_cache_flush(h) + heap_slab_release_empty(h);
	heap_core_maybe_trim(h);
	return n;
}

size_t heap_trim(struct heap *h)
{
	check_init(h);
	/* What the break gave back in all: the frees of the flushes below may trim on their way. */
	uintptr_t brk = h->brk;
	if (h->debug >= 2)
		heap_dbg_flush(h);
	else if (!h->debug) {
		heap_cache_flush(h);
		heap_slab_release_empty(h);
	}
	heap_core_trim(h);
	return brk - h->brk;
}
