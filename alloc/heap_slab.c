/*
 * alloc/heap_slab.c - level 0's slabs (see "slabs" in heap.h): objects of
 * up to 64 bytes without a header, in 4 KiB runs of one class each. The hot
 * pair (take an object from a run's bitmap, give one back) is inlined into
 * heap_malloc and heap_free from heap_slab.h; here is everything else:
 * making a run, a run that fills or empties, telling what a pointer into a
 * run is, and checking runs for heap_check.
 *
 * A run is an ordinary used block of the break (so the TLSF core, trimming
 * and heap_check's walk of the chain see a block like any other) whose
 * payload starts 16 bytes past a 4 KiB boundary (HEAP_SLAB_OFF: where a
 * fresh break's first payload is). Nothing about a run is kept in the
 * memory callers own: the free objects are bits in its head, not links in
 * the objects, so a write after free cannot make the heap hand out a wild
 * pointer, and a double free is known exactly.
 */
#include "heap_slab.h"

/* Set bits; by hand, as the kernel links no libgcc (__builtin_popcountll may call it). */
static unsigned popcount64(uint64_t x)
{
	unsigned n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

static size_t map_bit(const struct heap *h, const void *s)
{
	return (((uintptr_t)s - HEAP_SLAB_OFF) >> HEAP_SLAB_RUN_SHIFT) - h->slab_pg0;
}

/* The head's fields agree with each other and with where it is. */
static bool head_ok(const struct heap *h, const struct heap_slab *s)
{
	return s->check == slab_check_word(h, s) && s->cls < HEAP_SLAB_CLASSES &&
	       s->size == (s->cls + 1u) * 16 && s->cap == slab_cap(s->cls) && s->words < 16 && s->live <= s->cap;
}

static void push(struct heap *h, struct heap_slab *s)
{
	struct heap_slab *head = h->slab_partial[s->cls];
	s->prev = NULL;
	s->next = head;
	if (head)
		head->prev = s;
	h->slab_partial[s->cls] = s;
}

static void unlink_run(struct heap *h, struct heap_slab *s)
{
	if (s->next)
		s->next->prev = s->prev;
	if (s->prev)
		s->prev->next = s->next;
	else
		h->slab_partial[s->cls] = s->next;
	s->next = s->prev = NULL;
}

/*
 * Gives run s (on its list, no object live) back to the break: merged, and
 * trimmed if may_trim. No slab path reads the run's block header or its
 * neighbours', so they are checked here as a free of that block would check
 * them (an overflow of a few bytes from the block below lands in the
 * run's header): a damaged one is reported, and the run's block stays
 * allocated (lost, as heap_check then says) rather than merged by a size
 * nobody can trust.
 */
static void release(struct heap *h, struct heap_slab *s, bool may_trim)
{
	size_t bit = map_bit(h, s);
	struct ptr_info pi;

	unlink_run(h, s);
	h->slab_map[bit / 64] &= ~(1ull << (bit % 64));
	s->check = 0;   /* a stale head must never pass for a run */
	h->slab_runs--;
	blk_t b = blk_from_payload((uintptr_t)s);
	enum ptr_kind kind = heap_core_classify(h, (uintptr_t)s, &pi);
	if (kind != PTR_BLOCK) {
		char line[200];
		snprintf(line, sizeof line,
			 "heap: empty slab run 0x%lx (objects of %u bytes) cannot be given back: %s (an overflow?); it stays allocated",
			 UL(s), s->size, kind == PTR_BAD && pi.why ? pi.why : "its block header says free");
		heap_core_report(h, HEAP_ERR_UNDERFLOW, (uintptr_t)s, line);
		return;
	}
	if (may_trim)
		heap_core_free(h, b);
	else
		heap_core_release(h, b);
}

void heap_slab_enable(struct heap *h)
{
	h->slab_lim = HEAP_SLAB_MAX + 1;
	h->slab_pg0 = h->base >> HEAP_SLAB_RUN_SHIFT;   /* the map is all clear: no page is a run yet */
	h->cache_hole = HEAP_CACHE_HOLE;
	h->slab_auto_at = SIZE_MAX;
	h->magic = HEAP_MAGIC_SLABS;   /* the entry points take the slab copy of level 0 from the next call */
}

void heap_slab_full(struct heap *h, struct heap_slab *s) { unlink_run(h, s); }

void heap_slab_edge(struct heap *h, struct heap_slab *s)
{
	if (s->live == 0) {
		/* Its class's only run with room stays, so a malloc/free pair does not make and drop runs. */
		if (h->slab_partial[s->cls] == s && !s->next)
			return;
		release(h, s, true);
		return;
	}
	push(h, s);   /* it was full: it has room again */
}

void heap_slab_free_obj(struct heap *h, struct heap_slab *s, unsigned i)
{
	unsigned was = s->words;

	s->free_bits[i / 64] |= 1ull << (i % 64);
	s->words = (uint8_t)(was | 1u << (i / 64));
	h->slab_live[s->cls]--;
	s->live--;
	if (s->live == 0 || was == 0)
		heap_slab_edge(h, s);
}

/*
 * The first run on class k's list cannot give an object out (heap_slab.h's
 * slab_alloc saw why). It stays where it is, reported at every malloc of
 * its class that meets it (each served as a block), so repairing it, as a
 * debugger might, brings it back; heap_check names it meanwhile.
 */
static __attribute__((noinline, cold)) void report_bad_run(struct heap *h, struct heap_slab *s)
{
	char line[200];
	const char *why = s->check != slab_check_word(h, s) ? "its head's check word is wrong"
							    : "its head names no free object inside it";

	snprintf(line, sizeof line, "heap: slab run 0x%lx (objects of %u bytes) is damaged: %s (overwritten?)", UL(s),
		 (s->cls + 1u) * 16, why);
	heap_core_report(h, HEAP_ERR_UNDERFLOW, (uintptr_t)s, line);
}

void *heap_slab_refill(struct heap *h, unsigned k, size_t n)
{
	struct heap_slab *s = h->slab_partial[k];

	if (s) {
		/* Damaged: say so and serve this request as a block; the run stays where it is. */
		report_bad_run(h, s);
		return heap_core_carve0(h, n);
	}
	if (h->slab_skip) {
		/* The last refill found no room in the window: a block, and look again later. */
		h->slab_skip--;
		return heap_core_carve0(h, n);
	}
	void *r = heap_core_alloc(h, HEAP_SLAB_RUN, HEAP_SLAB_RUN, HEAP_SLAB_RUN - HEAP_SLAB_OFF);
	if (r && map_bit(h, r) >= HEAP_SLAB_MAP_WORDS * 64) {
		/* Past the window the map covers: give it back and look below the window. */
		heap_core_free(h, blk_from_payload((uintptr_t)r));
		uintptr_t end = (h->slab_pg0 + HEAP_SLAB_MAP_WORDS * 64) << HEAP_SLAB_RUN_SHIFT;
		r = heap_core_alloc_below(h, HEAP_SLAB_RUN, HEAP_SLAB_RUN, HEAP_SLAB_RUN - HEAP_SLAB_OFF, end);
		if (!r)
			h->slab_skip = 64;
	}
	if (!r)
		return heap_core_carve0(h, n);
	s = (struct heap_slab *)r;
	size_t bit = map_bit(h, s);
	ALLOC_ASSERT(bit < HEAP_SLAB_MAP_WORDS * 64 && "slab_refill: a run past the window");
	unsigned cap = slab_cap(k);
	*s = (struct heap_slab){
		.check = slab_check_word(h, s), .size = (uint16_t)((k + 1) * 16), .cap = (uint16_t)cap,
		.cls = (uint8_t)k, .live = 1,
	};
	for (unsigned w = 0; w < 4; w++) {
		s->free_bits[w] = cap >= (w + 1) * 64 ? ~0ull : cap > w * 64 ? (1ull << (cap - w * 64)) - 1 : 0;
		s->words |= (uint8_t)((s->free_bits[w] != 0) << w);
	}
	s->free_bits[0] &= ~1ull;   /* object 0 is this request's (every class holds more than 64) */
	h->slab_map[bit / 64] |= 1ull << (bit % 64);
	h->slab_runs++;
	h->slab_live[k]++;
	push(h, s);
	return (void *)slab_obj(s, 0);
}

enum ptr_kind heap_slab_classify(const struct heap *h, uintptr_t p, struct ptr_info *pi)
{
	struct heap_slab *s = slab_of(p);

	pi->slab = s;
	if (!head_ok(h, s)) {
		pi->why = "its slab run's head is damaged";
		return PTR_BAD;
	}
	if (p < (uintptr_t)s + HEAP_SLAB_HDR) {
		pi->why = "inside a slab run's head";
		return PTR_BAD;
	}
	size_t off = p - (uintptr_t)s - HEAP_SLAB_HDR;
	if (off % s->size || off / s->size >= s->cap) {
		pi->why = off / s->size >= s->cap ? "past a slab run's last object" : "inside a slab object";
		return PTR_BAD;
	}
	pi->idx = (unsigned)(off / s->size);
	return slab_obj_free(s, pi->idx) ? PTR_SLAB_FREED : PTR_SLAB;
}

void heap_slab_describe(const struct heap *h, uintptr_t p, char *buf, size_t len)
{
	const struct heap_slab *s = slab_of(p);

	buf[0] = '\0';
	if (!head_ok(h, s) || p < (uintptr_t)s + HEAP_SLAB_HDR)
		return;
	size_t i = (p - (uintptr_t)s - HEAP_SLAB_HDR) / s->size;
	if (i >= s->cap)
		return;
	if (slab_obj_free(s, (unsigned)i))
		snprintf(buf, len, "(not a block the heap returned: inside a free slab object 0x%lx size %u)",
			 UL(slab_obj(s, (unsigned)i)), s->size);
	else
		snprintf(buf, len, "(interior pointer into 0x%lx size %u)", UL(slab_obj(s, (unsigned)i)), s->size);
}

size_t heap_slab_release_empty(struct heap *h)
{
	size_t n = 0;

	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++) {
		size_t steps = 0, limit = h->slab_runs;   /* bounds the walk, as releasing lowers slab_runs */
		for (struct heap_slab *s = h->slab_partial[k], *next; s && steps++ <= limit; s = next) {
			next = s->next;
			if (head_ok(h, s) && s->live == 0) {
				release(h, s, false);
				n++;
			}
		}
	}
	return n;
}

size_t heap_slab_release_kept(struct heap *h)
{
	size_t n = 0;

	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++) {
		struct heap_slab *s = h->slab_partial[k];
		if (s && head_ok(h, s) && slab_run_kept_empty(h, s)) {
			release(h, s, false);
			n++;
		}
	}
	return n;
}

int heap_slab_check_run(const struct heap *h, blk_t b, struct slab_tally *t, char *why, size_t len)
{
	const struct heap_slab *s = (const struct heap_slab *)blk_payload(b);

	if (blk_size(b) < HEAP_SLAB_RUN)
		CHECK_FAIL("heap_check: slab run 0x%lx: its block is only %zu bytes", UL(s), blk_size(b));
	if (!head_ok(h, s))
		CHECK_FAIL("heap_check: slab run 0x%lx: head damaged (check 0x%lx, objects of %u bytes, cap %u, live %u, words 0x%x)",
			   UL(s), UL(s->check), s->size, s->cap, s->live, s->words);
	unsigned nfree = 0, words = 0;
	for (unsigned w = 0; w < 4; w++) {
		uint64_t inside = s->cap >= (w + 1) * 64 ? ~0ull : s->cap > w * 64 ? (1ull << (s->cap - w * 64)) - 1 : 0;
		if (s->free_bits[w] & ~inside)
			CHECK_FAIL("heap_check: slab run 0x%lx: free bits past its %u objects (word %u: 0x%lx)", UL(s),
				   s->cap, w, UL(s->free_bits[w]));
		nfree += popcount64(s->free_bits[w]);
		words |= (unsigned)(s->free_bits[w] != 0) << w;
	}
	if (s->live + nfree != s->cap)
		CHECK_FAIL("heap_check: slab run 0x%lx: %u objects live by its count, %u by its bitmap", UL(s),
			   s->live, s->cap - nfree);
	if (words != s->words)
		CHECK_FAIL("heap_check: slab run 0x%lx: its word mask 0x%x disagrees with its bitmap (0x%x)", UL(s),
			   s->words, words);
	t->runs++;
	t->live[s->cls] += s->live;
	if (nfree)
		t->partial[s->cls]++;
	return 0;
}

int heap_slab_check_lists(const struct heap *h, const struct slab_tally *t, char *why, size_t len)
{
	size_t mapped = 0;

	for (size_t w = 0; w < HEAP_SLAB_MAP_WORDS; w++)
		mapped += popcount64(h->slab_map[w]);
	if (mapped != t->runs || h->slab_runs != t->runs)
		CHECK_FAIL("heap_check: the walk found %zu slab runs, the map marks %zu pages, the counter says %zu",
			   t->runs, mapped, h->slab_runs);
	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++) {
		size_t n = 0;
		const struct heap_slab *prev = NULL;
		for (const struct heap_slab *s = h->slab_partial[k]; s; prev = s, s = s->next) {
			uintptr_t a = (uintptr_t)s;
			if (!slab_start_ok(a) || a < h->base || a >= h->brk || !slab_page(h, a) ||
			    !head_ok(h, s) || s->cls != k)
				CHECK_FAIL("heap_check: slab list %u (objects of %u bytes) holds 0x%lx, not a run of its class",
					   k, (k + 1) * 16, UL(a));
			if (s->prev != prev)
				CHECK_FAIL("heap_check: slab run 0x%lx: prev link 0x%lx, expected 0x%lx", UL(a),
					   UL(s->prev), UL(prev));
			if (s->live == s->cap)
				CHECK_FAIL("heap_check: slab run 0x%lx is full but on its class's list", UL(a));
			if (++n > t->partial[k])
				break;
		}
		if (n != t->partial[k])
			CHECK_FAIL("heap_check: slab list %u (objects of %u bytes) holds %s%zu runs, %zu runs of that class have room",
				   k, (k + 1) * 16, n > t->partial[k] ? "more than " : "", n > t->partial[k] ? t->partial[k] : n,
				   t->partial[k]);
		if (h->slab_live[k] != t->live[k])
			CHECK_FAIL("heap_check: %zu live objects of %u bytes in the runs, the counter says %zu", t->live[k],
				   (k + 1) * 16, h->slab_live[k]);
	}
	return 0;
}
