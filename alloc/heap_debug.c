/*
 * alloc/heap_debug.c - the heap's debug levels (see the top of heap.h and
 * docs/hardening.md): the record of who allocated and freed each block, the
 * head and tail canaries, poisoned freed memory, and the level-2 quarantine.
 *
 * It sits on the core (heap.c) as a layer: a block of the core holds
 * struct heap_dbg, then the caller's bytes, then the tail canary, so the
 * core's own rules (headers, tags, merging) stay exactly as at level 0 and
 * its checks keep working. The core does one thing for this layer: it keeps
 * free memory poisoned and calls heap_dbg_verify_free on what it hands out.
 *
 * Reports are one line a kind, with the facts:
 *   heap: double free of 0x... (size 48, allocated at foo+0x1c, freed at bar+0x40); freed again at baz+0x9
 *   heap: overflow past 0x... (size 48): canary at +48 overwritten (allocated at foo+0x1c)
 *   heap: underflow below 0x... (size 48): canary at -1 overwritten (allocated at foo+0x1c)
 *   heap: write after free in 0x... (size 48, freed at bar+0x40): poison changed at +8
 *   heap: realloc of 0x... (a freed block: size 48, allocated at foo+0x1c, freed at bar+0x40)
 */
#include "heap_impl.h"

#define UL(x) ((unsigned long)(x))

/* A live (or freed) debug block: its record, the caller's bytes and its room. */
struct view {
	uintptr_t cp;              /* core payload: where struct heap_dbg is */
	uintptr_t user;            /* cp + HEAP_DBG_HEAD: what the caller got */
	uintptr_t end;             /* end of the block (brk) or of the run (large) */
	blk_t blk;                 /* the brk block, or 0 */
	struct heap_large *large;  /* the large block, or NULL */
	struct heap_dbg *d;
};

/* The head canary: from the address and the heap's secret, so a copied one does not fit. */
static uint64_t head_canary(const struct heap *h, uintptr_t cp)
{
	uint64_t x = h->secret ^ cp ^ 0x636e72796865616bull;
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 29);
}

/* Whether v's record is its own (canary intact) and its size fits the room. */
static bool record_ok(const struct heap *h, const struct view *v)
{
	return v->d->canary == head_canary(h, v->cp) &&
	       v->d->size <= v->end - v->user - HEAP_DBG_TAIL_MIN;
}

/* The first byte in [lo, hi) that is not b, or 0. */
static uintptr_t first_not(uintptr_t lo, uintptr_t hi, unsigned char b)
{
	uint64_t word = 0x0101010101010101ull * b;
	uintptr_t a = lo;

	for (; a < hi && (a & 7); a++)
		if (*(const unsigned char *)a != b)
			return a;
	for (; a + 8 <= hi; a += 8)
		if (word_at(a) != word)
			break;
	for (; a < hi; a++)
		if (*(const unsigned char *)a != b)
			return a;
	return 0;
}

/*
 * The first address in [lo, hi) (8-aligned) of free memory that is not
 * poison, or 0. Two kinds of words in free memory are not poison on
 * purpose, and are told apart from a stray write as follows:
 *   - a stale header (merging leaves them inside free blocks, so that a
 *     second free of one is a double free) and its two link words: a
 *     header is recognised by its tag;
 *   - what is left of a freed block's struct heap_dbg (kept for the report
 *     of a double free), even where a later split cut into it: the words up
 *     to 40 bytes below an intact head canary (which is made from its own
 *     address and the secret).
 * A stray write that forges either slips through with odds of 1 in 2^24
 * (a tag) or 2^-64 (a canary).
 */
static uintptr_t poison_walk(const struct heap *h, uintptr_t lo, uintptr_t hi, uintptr_t climit,
			     bool heal)
{
	uintptr_t a = lo;

	while (a < hi) {
		uint64_t w = word_at(a);
		if (ALLOC_LIKELY(w == POISON64)) {
			a += 8;
			continue;
		}
		if ((a & 15) == 8 && word_tag_ok(h, a, w) && word_is_free(w) &&
		    word_size(w) >= HEAP_MIN_BLOCK) {
			a += 24;
			continue;
		}
		uintptr_t c = (a & 15) == 8 ? a : a + 8;
		for (; c <= a + 40 && c + 8 <= climit; c += 16)
			if (word_at(c) == head_canary(h, c - 40))
				break;
		if (c <= a + 40 && c + 8 <= climit) {
			a = c + 8;
			continue;
		}
		if (!heal)
			return first_not(a, a + 8, HEAP_POISON_BYTE);
		set_word_at(a, POISON64);
		a += 8;
	}
	return 0;
}

static uintptr_t poison_scan(const struct heap *h, uintptr_t lo, uintptr_t hi)
{
	return poison_walk(h, lo, hi, h->brk, false);
}

/*
 * A header (or the epilogue) is about to be written at x, right after free
 * memory that starts at lo (past its header and links): a freed block's
 * record whose canary sat at x or after loses it, and what is left of the
 * record below x would read as a write after free. Poison that again.
 */
void heap_dbg_heal_cut(const struct heap *h, uintptr_t lo, uintptr_t x)
{
	if (lo + 48 < x)
		lo = x - 48;
	poison_walk(h, lo, x - 8, x, true);
}

/*
 * Whose freed memory is address bad, found changed in freed memory that
 * starts at block from: the last header at or below it whose record is
 * intact and whose block held it. Writes the report into line (prefixed by
 * who) and returns the address to report (the block's pointer, or bad).
 */
static uintptr_t say_uaf(const struct heap *h, blk_t from, uintptr_t bad, const char *who, char *line,
			 size_t len)
{
	const struct heap_dbg *owner = NULL;
	char pc[96];

	for (uintptr_t a = from; a + 8 <= bad; a += 16) {
		uint64_t w = word_at(a);
		const struct heap_dbg *d = (const struct heap_dbg *)(a + 8);
		if (!word_tag_ok(h, a, w) || word_size(w) < HEAP_OVERHEAD + HEAP_DBG_HEAD + HEAP_DBG_TAIL_MIN ||
		    a + word_size(w) > h->brk || d->canary != head_canary(h, a + 8))
			continue;
		/* A stale header may head a merged block: trust the extent its record gives. */
		size_t extent = word_size(w);
		if (word_is_free(w))
			extent = block_size_for(HEAP_DBG_HEAD + d->size + HEAP_DBG_TAIL_MIN);
		if (d->size <= word_size(w) && bad < a + extent)
			owner = d;
	}
	if (!owner) {
		snprintf(line, len, "%s: write after free at 0x%lx: poison changed in free memory (no record of "
			 "the block it belonged to)", who, UL(bad));
		return bad;
	}
	uintptr_t user = (uintptr_t)owner + HEAP_DBG_HEAD;
	heap_core_pc(owner->free_pc, pc, sizeof pc);
	snprintf(line, len, "%s: write after free in 0x%lx (size %zu, freed at %s): poison changed at %s%zu",
		 who, UL(user), (size_t)owner->size, pc, bad >= user ? "+" : "-",
		 (size_t)(bad >= user ? bad - user : user - bad));
	return user;
}

/*
 * Checks the canaries of live block v. 0 if both are intact; else the kind
 * (HEAP_ERR_UNDERFLOW / HEAP_ERR_OVERFLOW), with the finding in line.
 */
static int check_canaries(const struct heap *h, const struct view *v, const char *who, char *line,
			  size_t len)
{
	const struct heap_dbg *d = v->d;
	uint64_t want = head_canary(h, v->cp);
	char pc[96];

	heap_core_pc(d->alloc_pc, pc, sizeof pc);
	if (d->canary != want) {
		/* The damaged byte nearest the pointer: where the underflow began. */
		unsigned byte = (63u - (unsigned)__builtin_clzll(d->canary ^ want)) / 8;
		snprintf(line, len, "%s: underflow below 0x%lx (size %zu): canary at -%u overwritten (allocated at %s)",
			 who, UL(v->user), (size_t)d->size, 8 - byte, pc);
		return HEAP_ERR_UNDERFLOW;
	}
	if (d->size > v->end - v->user - HEAP_DBG_TAIL_MIN) {
		snprintf(line, len, "%s: underflow below 0x%lx: its debug record is overwritten (size field 0x%lx)",
			 who, UL(v->user), UL(d->size));
		return HEAP_ERR_UNDERFLOW;
	}
	uintptr_t bad = first_not(v->user + d->size, v->end, HEAP_CANARY_BYTE);
	if (bad) {
		snprintf(line, len, "%s: overflow past 0x%lx (size %zu): canary at +%zu overwritten (allocated at %s)",
			 who, UL(v->user), (size_t)d->size, (size_t)(bad - v->user), pc);
		return HEAP_ERR_OVERFLOW;
	}
	return 0;
}

static void check_and_report(struct heap *h, const struct view *v)
{
	char line[256];
	int kind = check_canaries(h, v, "heap", line, sizeof line);
	if (kind)
		heap_core_report(h, kind, v->user, line);
}

/* Fills in the record and the tail canary of a block the caller gets n bytes of. */
static void arm(struct heap *h, const struct view *v, size_t n, uintptr_t caller)
{
	struct heap_dbg *d = v->d;

	d->seq = ++h->alloc_seq;
	d->link = 0;
	d->size = n;
	d->alloc_pc = caller;
	d->free_pc = 0;
	d->canary = head_canary(h, v->cp);
	memset((void *)(v->user + n), HEAP_CANARY_BYTE, v->end - v->user - n);
}

/* The view of brk block b or large block l whose core payload is cp. */
static void view_of(struct view *v, uintptr_t cp, blk_t b, struct heap_large *l)
{
	v->cp = cp;
	v->user = cp + HEAP_DBG_HEAD;
	v->blk = b;
	v->large = l;
	v->end = l ? l->run + l->run_bytes : b + blk_size(b);
	v->d = (struct heap_dbg *)cp;
}

/* Classifies a caller's pointer: its core payload lies HEAP_DBG_HEAD below it. */
static enum ptr_kind classify(const struct heap *h, uintptr_t p, struct ptr_info *pi, struct view *v)
{
	if (p & (HEAP_ALIGN - 1)) {
		pi->why = "misaligned";
		return PTR_BAD;
	}
	if (p < HEAP_DBG_HEAD) {
		pi->why = "outside the heap";
		return PTR_BAD;
	}
	enum ptr_kind k = heap_core_classify(h, p - HEAP_DBG_HEAD, pi);
	if (k == PTR_BLOCK || k == PTR_FREED)
		view_of(v, p - HEAP_DBG_HEAD, pi->blk, NULL);
	else if (k == PTR_LARGE)
		view_of(v, p - HEAP_DBG_HEAD, 0, pi->large);
	return k;
}

/* ----- large blocks freed lately, so that freeing one again is a double free ----- */

static void remember_large(struct heap *h, const struct view *v, uintptr_t caller)
{
	struct heap_freed_large *f = &h->freed_large[h->freed_large_next++ % HEAP_FREED_LARGE_RING];
	*f = (struct heap_freed_large){ v->user, v->d->size, v->d->alloc_pc, caller };
}

static const struct heap_freed_large *freed_large(const struct heap *h, uintptr_t p)
{
	for (unsigned i = 1; i <= HEAP_FREED_LARGE_RING; i++) {
		const struct heap_freed_large *f =
			&h->freed_large[(h->freed_large_next - i) % HEAP_FREED_LARGE_RING];
		if (f->ptr == p)
			return f;
	}
	return NULL;
}

/* "size 48, allocated at foo+0x1c, freed at bar+0x40" */
static void say_facts(char *buf, size_t len, size_t size, uintptr_t alloc_pc, uintptr_t free_pc)
{
	char a[96], f[96];
	heap_core_pc(alloc_pc, a, sizeof a);
	heap_core_pc(free_pc, f, sizeof f);
	snprintf(buf, len, "size %zu, allocated at %s, freed at %s", size, a, f);
}

/*
 * Reports p, which is not a live block, to verb ("double free" is the free
 * of a freed one; "invalid free", "realloc", "usable_size" the rest).
 */
static void report_not_live(struct heap *h, const char *verb, int kind, uintptr_t p, enum ptr_kind k,
			    const struct ptr_info *pi, const struct view *v, uintptr_t caller)
{
	const struct heap_freed_large *f = k == PTR_BAD ? freed_large(h, p) : NULL;
	bool is_free = kind == HEAP_ERR_INVALID_FREE;
	char facts[240], again[96], line[400];

	if (k == PTR_BAD && !f) {
		heap_core_report_bad(h, verb, kind, p, p - HEAP_DBG_HEAD, pi);
		return;
	}
	if (f)
		say_facts(facts, sizeof facts, f->size, f->alloc_pc, f->free_pc);
	else if (record_ok(h, v))
		say_facts(facts, sizeof facts, v->d->size, v->d->alloc_pc, v->d->free_pc);
	else
		snprintf(facts, sizeof facts, "no record of it");
	heap_core_pc(caller, again, sizeof again);
	if (is_free) {
		snprintf(line, sizeof line, "heap: double free of 0x%lx (%s); freed again at %s", UL(p), facts,
			 again);
		heap_core_report(h, HEAP_ERR_DOUBLE_FREE, p, line);
	} else {
		snprintf(line, sizeof line, "heap: %s of 0x%lx (a freed block: %s); called at %s", verb, UL(p),
			 facts, again);
		heap_core_report(h, kind, p, line);
	}
}

/* ----- the quarantine (level 2) ----- */

/* Gives the oldest waiting block back to the core, verifying its poison first. */
static void evict(struct heap *h)
{
	blk_t b = h->quarantine_head;
	struct heap_dbg *d = (struct heap_dbg *)blk_payload(b);
	size_t size = blk_size(b);
	uintptr_t user = (uintptr_t)d + HEAP_DBG_HEAD;
	char line[256];

	ALLOC_ASSERT((word_at(b) & HEAP_BLK_QUARANTINED) && "evict: a block in the quarantine is not marked");
	h->quarantine_head = d->seq;
	if (!h->quarantine_head)
		h->quarantine_tail = 0;
	h->quarantine_blocks--;
	h->quarantine_bytes -= size;
	uintptr_t bad = first_not(user, b + size, HEAP_POISON_BYTE);
	if (bad) {
		uintptr_t at = say_uaf(h, b, bad, "heap", line, sizeof line);
		heap_core_report(h, HEAP_ERR_WRITE_AFTER_FREE, at, line);
		poison_range(user, b + size);
	}
	/* Back to a used block, which the core frees (merging, trimming) like any other. */
	blk_write(h, b, size, word_at(b) & HEAP_BLK_PREV_FREE);
	h->used_blocks++;
	h->small_blocks += small_block(size);
	h->in_use_bytes += size;
	heap_core_free(h, b);
}

static void quarantine(struct heap *h, blk_t b)
{
	size_t size = blk_size(b);
	struct heap_dbg *d = (struct heap_dbg *)blk_payload(b);

	blk_write(h, b, size, (word_at(b) & HEAP_BLK_PREV_FREE) | HEAP_BLK_QUARANTINED);
	h->used_blocks--;
	h->small_blocks -= small_block(size);
	h->in_use_bytes -= size;
	d->seq = 0;   /* the FIFO link from now on */
	if (h->quarantine_tail)
		((struct heap_dbg *)blk_payload(h->quarantine_tail))->seq = b;
	else
		h->quarantine_head = b;
	h->quarantine_tail = b;
	h->quarantine_blocks++;
	h->quarantine_bytes += size;
	while (h->quarantine_bytes > h->env.quarantine_bytes)
		evict(h);
}

size_t heap_dbg_flush(struct heap *h)
{
	size_t n = 0;
	for (; h->quarantine_head; n++)
		evict(h);
	return n;
}

/* ----- the entry points at levels >= 1 ----- */

/* Frees live block v: records who, poisons it, and releases or quarantines it. */
static void release(struct heap *h, const struct view *v, uintptr_t caller)
{
	v->d->free_pc = caller;
	/* An underflow was reported already: mend the canary so the record reads as one again. */
	v->d->canary = head_canary(h, v->cp);
	if (v->large) {
		/* Its run is unmapped: nothing to poison, and a touch faults (in the kernel). */
		remember_large(h, v, caller);
		heap_core_large_free(h, v->large);
		return;
	}
	poison_range(v->user, v->end);
	if (h->debug >= 2)
		quarantine(h, v->blk);
	else
		heap_core_free(h, v->blk);
}

/*
 * Out of memory at a debug level: gives back what the level holds back
 * (the quarantine, then the free pages at the top of the break) so that
 * the caller may try once more; false when there was nothing to give. At
 * level 0 the environment's own reclaim (the kernel's pmm hook) does the
 * trimming, but at the debug levels it may not call back into the heap
 * (an operation may be half done when the pmm runs short), so an
 * allocation that fails does it here, where nothing is half done.
 */
static bool give_back(struct heap *h)
{
	size_t n = h->debug >= 2 ? heap_dbg_flush(h) : 0;
	return n + heap_core_trim(h) != 0;
}

void *heap_dbg_alloc(struct heap *h, size_t n, size_t align, uintptr_t caller)
{
	struct view v;

	if (n > PTRDIFF_MAX)
		return NULL;
	size_t need = HEAP_DBG_HEAD + n + HEAP_DBG_TAIL_MIN;
	for (bool retried = false;; retried = true) {
		if (n >= h->env.large_threshold && h->env.map_pages) {
			uintptr_t cp = (uintptr_t)heap_core_large_alloc(h, need, align, HEAP_DBG_HEAD);
			if (cp) {
				view_of(&v, cp, 0, (struct heap_large *)cp - 1);
				break;
			}
		} else {
			uintptr_t cp = (uintptr_t)heap_core_alloc(h, block_size_for(need), align, HEAP_DBG_HEAD);
			if (cp) {
				view_of(&v, cp, blk_from_payload(cp), NULL);
				break;
			}
		}
		if (retried || !give_back(h))
			return NULL;
	}
	arm(h, &v, n, caller);
	return (void *)v.user;
}

void heap_dbg_free(struct heap *h, uintptr_t p, uintptr_t caller)
{
	struct ptr_info pi;
	struct view v;

	enum ptr_kind k = classify(h, p, &pi, &v);
	if (k == PTR_BLOCK || k == PTR_LARGE) {
		check_and_report(h, &v);
		release(h, &v, caller);
		return;
	}
	report_not_live(h, "invalid free", HEAP_ERR_INVALID_FREE, p, k, &pi, &v, caller);
}

void *heap_dbg_realloc(struct heap *h, uintptr_t p, size_t n, uintptr_t caller)
{
	struct ptr_info pi;
	struct view v;

	if (!p)
		return heap_dbg_alloc(h, n, HEAP_ALIGN, caller);
	enum ptr_kind k = classify(h, p, &pi, &v);
	if (k != PTR_BLOCK && k != PTR_LARGE) {
		report_not_live(h, "realloc", HEAP_ERR_INVALID_PTR, p, k, &pi, &v, caller);
		return NULL;
	}
	if (n > PTRDIFF_MAX)
		return NULL;
	check_and_report(h, &v);
	size_t old = v.d->size <= v.end - v.user ? v.d->size : v.end - v.user;
	size_t need = HEAP_DBG_HEAD + n + HEAP_DBG_TAIL_MIN;
	bool goes_large = n >= h->env.large_threshold && h->env.map_pages;

	if (v.large) {
		/* Keep the run unless it would be more than half empty or belongs in the brk. */
		size_t room = v.end - v.cp;
		if (need <= room && goes_large && need >= room / 2) {
			arm(h, &v, n, caller);
			return (void *)p;
		}
	} else {
		size_t want = block_size_for(need);
		bool in_place = false;
		if (want <= blk_size(v.blk)) {
			heap_core_shrink(h, v.blk, want, true);
			in_place = true;
		} else if (!goes_large && want < HEAP_MAX_BRK) {
			in_place = heap_core_grow(h, v.blk, want);
		}
		if (in_place) {
			view_of(&v, v.cp, v.blk, NULL);
			arm(h, &v, n, caller);
			return (void *)p;
		}
	}
	void *q = heap_dbg_alloc(h, n, HEAP_ALIGN, caller);
	if (!q)
		return NULL;
	memcpy(q, (void *)p, old < n ? old : n);
	release(h, &v, caller);
	return q;
}

size_t heap_dbg_usable(struct heap *h, uintptr_t p, uintptr_t caller)
{
	struct ptr_info pi;
	struct view v;

	enum ptr_kind k = classify(h, p, &pi, &v);
	if (k == PTR_BLOCK || k == PTR_LARGE)
		return v.d->size <= v.end - v.user ? v.d->size : v.end - v.user;
	report_not_live(h, "usable_size", HEAP_ERR_INVALID_PTR, p, k, &pi, &v, caller);
	return 0;
}

/* ----- for the core and heap_check ----- */

void heap_dbg_verify_free(struct heap *h, blk_t from, uintptr_t lo, uintptr_t hi)
{
	char line[256];
	uintptr_t bad = poison_scan(h, lo, hi);

	if (ALLOC_UNLIKELY(bad)) {
		uintptr_t at = say_uaf(h, from, bad, "heap", line, sizeof line);
		heap_core_report(h, HEAP_ERR_WRITE_AFTER_FREE, at, line);
	}
}

int heap_dbg_check_block(const struct heap *h, uintptr_t cp, uintptr_t end, bool freed, char *why,
			 size_t len)
{
	struct view v;

	v.cp = cp;
	v.user = cp + HEAP_DBG_HEAD;
	v.end = end;
	v.d = (struct heap_dbg *)cp;
	if (end < v.user + HEAP_DBG_TAIL_MIN) {
		snprintf(why, len, "heap_check: block at 0x%lx is too small for its debug record", UL(cp));
		return -1;
	}
	if (!freed)
		return check_canaries(h, &v, "heap_check", why, len) ? -1 : 0;
	uintptr_t bad = first_not(v.user, end, HEAP_POISON_BYTE);
	if (bad) {
		say_uaf(h, blk_from_payload(cp), bad, "heap_check", why, len);
		return -1;
	}
	return 0;
}

int heap_dbg_check_free(const struct heap *h, blk_t b, char *why, size_t len)
{
	/* After its header and links; its foot ends it. */
	uintptr_t bad = poison_scan(h, b + 24, b + blk_size(b) - 8);

	if (bad) {
		say_uaf(h, b, bad, "heap_check", why, len);
		return -1;
	}
	return 0;
}
