/*
 * tests/fuzz/fuzz_heap_shadow.c - fuzz_heap's shadow model and its checks: the live
 * slots and their patterns, heap_get_stats / heap_check / heap_walk against
 * the shadow, "nothing changed" snapshots, and the checks on every new block.
 */
#include "fuzz_heap.h"

/* ----- the shadow ----- */

struct slot S[NSLOTS];
uint64_t next_id;
uintptr_t ring[RING];       /* recently freed pointers */
unsigned ring_n;
bool have_report;           /* a report callback was installed */
struct fcfg cfg;
static size_t last_peak;
static unsigned char snap[SNAP_MAX];

/* A fresh shadow for a new input: no slots, no ids, no freed pointers, no peak. */
void shadow_reset(void)
{
	memset(S, 0, sizeof S);
	next_id = 0;
	ring_n = 0;
	last_peak = 0;
}

/* Word k of block id's pattern: a sequence from a per-id start, so blocks differ everywhere. */
#define PAT_STEP 0x9e3779b97f4a7c15ull
static inline uint64_t pat(uint64_t id, size_t k)
{
	return (mix64(id) + k * PAT_STEP) | PAT_BIT;
}

NO_COVERAGE void fill(const struct slot *s)
{
	uint64_t *w = (uint64_t *)s->p, x = mix64(s->id);
	size_t n = s->usable / 8;

	for (size_t k = 0; k < n; k++, x += PAT_STEP)
		w[k] = x | PAT_BIT;
	for (size_t b = n * 8; b < s->usable; b++)
		s->p[b] = (char)(pat(s->id, n) >> (8 * (b % 8)));
}

/* Where the first `bytes` bytes at p differ from the pattern for id, or bytes if they don't. */
static NO_COVERAGE size_t pattern_mismatch(const char *p, uint64_t id, size_t bytes)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t x = mix64(id);
	size_t n = bytes / 8;

	for (size_t k = 0; k < n; k++, x += PAT_STEP)
		if (w[k] != (x | PAT_BIT))
			return k * 8;
	for (size_t b = n * 8; b < bytes; b++)
		if (p[b] != (char)(pat(id, n) >> (8 * (b % 8))))
			return b & ~(size_t)7;
	return bytes;
}

NO_COVERAGE size_t first_nonzero(const char *p, size_t bytes)
{
	for (size_t k = 0; k < bytes; k++)
		if (p[k])
			return k;
	return bytes;
}

/* Checks the first `bytes` bytes of slot i's pattern (as written for `id`). */
void verify_bytes(unsigned i, const char *p, uint64_t id, size_t bytes, const char *when)
{
	size_t off = pattern_mismatch(p, id, bytes);

	if (off < bytes) {
		uint64_t got = 0;
		memcpy(&got, p + off, bytes - off < 8 ? bytes - off : 8);
		FAIL("slot %u (%p, id %llu): %s: the word at offset %zu (of %zu) is 0x%016llx, wrote 0x%016llx", i,
		     (const void *)p, (unsigned long long)id, when, off, bytes, (unsigned long long)got,
		     (unsigned long long)pat(id, off / 8));
	}
}

void verify_slot(unsigned i, const char *when)
{
	if (S[i].p)
		verify_bytes(i, S[i].p, S[i].id, S[i].usable, when);
}

void ring_push(void *p)
{
	ring[ring_n++ % RING] = (uintptr_t)p;
}

bool is_live(uintptr_t p)
{
	for (unsigned i = 0; i < NSLOTS; i++)
		if ((uintptr_t)S[i].p == p)
			return true;
	return false;
}

struct heap_stats stats(void)
{
	struct heap_stats st;
	memset(&st, 0, sizeof st);
	heap_get_stats(&H, &st);
	return st;
}

/* Whole block bytes the heap uses for a brk request of n bytes (heap.c's block_size_for). */
size_t block_bytes(size_t n)
{
	size_t s = round_up(n + HEAP_OVERHEAD, HEAP_ALIGN);
	return s < HEAP_MIN_BLOCK ? HEAP_MIN_BLOCK : s;
}

bool goes_large(size_t size)
{
	return cfg.map && size >= cfg.lt;
}

/*
 * True when a request of size bytes aligned to align cannot fail: the
 * environment will give what the heap must ask for in the worst case (a
 * growth of the whole block plus the alignment slack, at least one chunk; or
 * one run), and no failure is armed. Allocation may still succeed otherwise.
 */
bool must_succeed(size_t size, size_t align)
{
	if (E.fail_sbrk || E.fail_map || size > PTRDIFF_MAX || !align || (align & (align - 1)))
		return false;
	if (align < HEAP_ALIGN)
		align = HEAP_ALIGN;
	if (goes_large(size)) {
		size_t lead = align > 64 ? align : 64;
		if (lead > PTRDIFF_MAX || size + lead > HEAP_BLK_SIZE_MASK - E.hpage)
			return false;
		size_t run = round_up(size + lead, E.hpage);
		return run <= E.large_cap - E.mapped && E.nruns < MAXRUNS;
	}
	if (align >= HEAP_MAX_BRK / 4 || size >= HEAP_MAX_BRK / 4)
		return false;
	size_t need = block_bytes(size) + (align > HEAP_ALIGN ? align + HEAP_MIN_BLOCK : 0);
	size_t delta = round_up(need, E.hpage);
	if (delta < cfg.grow)
		delta = cfg.grow;
	return delta <= E.cap - E.brk;
}

/* ----- whole-state checks ----- */

void check_state(const char *after)
{
	char why[256];
	struct heap_stats st = stats();
	size_t nbrk = 0, nlarge = 0, in_use = 0;

	why[0] = 0;
	if (heap_check(&H, why, sizeof why))
		FAIL("heap_check after %s: %s", after, why);
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (!S[i].p)
			continue;
		if (S[i].large) {
			nlarge++;
		} else {
			nbrk++;
			in_use += S[i].usable + HEAP_OVERHEAD;
		}
	}
	ENSURE(st.used_blocks == nbrk, "after %s: used_blocks %zu, shadow has %zu live brk blocks", after,
	       st.used_blocks, nbrk);
	ENSURE(st.large_blocks == nlarge, "after %s: large_blocks %zu, shadow has %zu", after, st.large_blocks,
	       nlarge);
	ENSURE(st.large_blocks == E.nruns, "after %s: large_blocks %zu, environment has %u runs mapped", after,
	       st.large_blocks, E.nruns);
	ENSURE(st.large_bytes == E.mapped, "after %s: large_bytes %zu, environment mapped %zu", after,
	       st.large_bytes, E.mapped);
	ENSURE(st.brk_bytes == E.brk, "after %s: brk_bytes %zu, environment's break is at %zu", after,
	       st.brk_bytes, E.brk);
	ENSURE(st.in_use_bytes == in_use, "after %s: in_use_bytes %zu, shadow blocks add up to %zu", after,
	       st.in_use_bytes, in_use);
	ENSURE(st.in_use_bytes + st.free_bytes + 16 == st.brk_bytes,
	       "after %s: in_use %zu + free %zu + 16 != brk %zu", after, st.in_use_bytes, st.free_bytes,
	       st.brk_bytes);
	ENSURE(st.largest_free <= st.free_bytes, "after %s: largest_free %zu > free_bytes %zu", after,
	       st.largest_free, st.free_bytes);
	ENSURE((st.free_blocks == 0) == (st.free_bytes == 0) && (st.free_blocks == 0) == (st.largest_free == 0),
	       "after %s: free_blocks %zu, free_bytes %zu, largest_free %zu disagree", after, st.free_blocks,
	       st.free_bytes, st.largest_free);
	ENSURE(st.free_blocks * HEAP_MIN_BLOCK <= st.free_bytes, "after %s: %zu free blocks in %zu bytes", after,
	       st.free_blocks, st.free_bytes);
	ENSURE(st.peak_in_use >= st.in_use_bytes + st.large_bytes, "after %s: peak %zu below in_use %zu + large %zu",
	       after, st.peak_in_use, st.in_use_bytes, st.large_bytes);
	ENSURE(st.peak_in_use >= last_peak, "after %s: peak fell from %zu to %zu", after, last_peak,
	       st.peak_in_use);
	last_peak = st.peak_in_use;
}

struct walk_entry {
	uintptr_t p;
	size_t size;
	int used;
};
static struct walk_entry walked[4 * NSLOTS + 64];
static unsigned nwalked;

static void walk_cb(void *ctx, void *p, size_t size, int used)
{
	ENSURE(ctx == &walked, "heap_walk: wrong ctx");
	ENSURE(nwalked < sizeof walked / sizeof walked[0], "heap_walk: more blocks than can exist here");
	walked[nwalked++] = (struct walk_entry){ (uintptr_t)p, size, used };
}

/* Every pattern, and heap_walk against the shadow. */
void verify_all(const char *after)
{
	struct heap_stats st = stats();
	size_t nused = 0, nlarge = 0, nfree = 0, free_bytes = 0;
	uintptr_t expect = (uintptr_t)E.base + 16;
	bool prev_free = false;

	for (unsigned i = 0; i < NSLOTS; i++)
		verify_slot(i, after);
	nwalked = 0;
	heap_walk(&H, walk_cb, &walked);
	for (unsigned k = 0; k < nwalked; k++) {
		struct walk_entry *w = &walked[k];
		unsigned i;

		if (w->used == HEAP_WALK_LARGE) {
			nlarge++;
			for (i = 0; i < NSLOTS; i++)
				if ((uintptr_t)S[i].p == w->p && S[i].large)
					break;
			ENSURE(i < NSLOTS && S[i].usable == w->size,
			       "heap_walk (after %s): large block %#lx (%zu bytes) is not a live large slot", after,
			       (unsigned long)w->p, w->size);
			continue;
		}
		ENSURE(w->p == expect, "heap_walk (after %s): block at %#lx, expected the next at %#lx", after,
		       (unsigned long)w->p, (unsigned long)expect);
		expect = w->p + w->size + HEAP_OVERHEAD;
		if (w->used == HEAP_WALK_FREE) {
			ENSURE(!prev_free, "heap_walk (after %s): free blocks touch at %#lx", after,
			       (unsigned long)w->p);
			ENSURE(!is_live(w->p), "heap_walk (after %s): live slot %#lx listed free", after,
			       (unsigned long)w->p);
			nfree++;
			free_bytes += w->size + HEAP_OVERHEAD;
			prev_free = true;
			continue;
		}
		ENSURE(w->used == HEAP_WALK_USED, "heap_walk: kind %d", w->used);
		prev_free = false;
		nused++;
		for (i = 0; i < NSLOTS; i++)
			if ((uintptr_t)S[i].p == w->p && !S[i].large)
				break;
		ENSURE(i < NSLOTS && S[i].usable == w->size,
		       "heap_walk (after %s): used block %#lx (%zu bytes) is not a live slot of that size", after,
		       (unsigned long)w->p, w->size);
	}
	ENSURE(expect == (uintptr_t)E.base + E.brk, "heap_walk (after %s): blocks end at %#lx, the break at %#lx",
	       after, (unsigned long)expect, (unsigned long)(E.base + E.brk));
	ENSURE(nused == st.used_blocks && nlarge == st.large_blocks && nfree == st.free_blocks &&
		       free_bytes == st.free_bytes,
	       "heap_walk (after %s): %zu used, %zu large, %zu free (%zu bytes); stats say %zu, %zu, %zu (%zu)",
	       after, nused, nlarge, nfree, free_bytes, st.used_blocks, st.large_blocks, st.free_blocks,
	       st.free_bytes);
}

/* ----- "nothing changed": stats, environment and every byte of the break ----- */

void take_snapshot(struct snapshot *s)
{
	s->st = stats();
	s->brk = E.brk;
	s->mapped = E.mapped;
	s->nruns = E.nruns;
	s->bytes = E.brk <= SNAP_MAX;
	if (s->bytes)
		memcpy(snap, E.base, E.brk);
}

void same_as_snapshot(const struct snapshot *s, const char *what)
{
	struct heap_stats st = stats();

	ENSURE(memcmp(&st, &s->st, sizeof st) == 0,
	       "%s changed the stats: used %zu->%zu free %zu->%zu in_use %zu->%zu free_bytes %zu->%zu "
	       "large %zu->%zu brk %zu->%zu",
	       what, s->st.used_blocks, st.used_blocks, s->st.free_blocks, st.free_blocks, s->st.in_use_bytes,
	       st.in_use_bytes, s->st.free_bytes, st.free_bytes, s->st.large_blocks, st.large_blocks,
	       s->st.brk_bytes, st.brk_bytes);
	ENSURE(E.brk == s->brk && E.mapped == s->mapped && E.nruns == s->nruns,
	       "%s moved the break or mapped/unmapped a run", what);
	if (s->bytes && memcmp(snap, E.base, E.brk) != 0) {
		size_t k = 0;
		while (snap[k] == ((unsigned char *)E.base)[k])
			k++;
		FAIL("%s changed the break's memory at offset %zu (%p)", what, k, (void *)(E.base + k));
	}
}

/* ----- taking a new block into the shadow ----- */

void adopt(unsigned i, char *p, size_t req, size_t align, const char *how)
{
	struct slot *s = &S[i];
	unsigned reports = E.reports;

	ENSURE(p, "adopt: NULL");
	ENSURE(((uintptr_t)p & (HEAP_ALIGN - 1)) == 0, "%s(%zu) returned %p, not 16-aligned", how, req, (void *)p);
	if (align > HEAP_ALIGN)
		ENSURE(((uintptr_t)p & (align - 1)) == 0, "%s(align %zu, %zu) returned %p, misaligned", how, align,
		       req, (void *)p);
	size_t usable = heap_usable_size(&H, p);
	ENSURE(E.reports == reports, "usable_size of a fresh block %p was reported", (void *)p);
	ENSURE(usable >= req, "%s(%zu) returned %p with only %zu usable bytes", how, req, (void *)p, usable);
	ENSURE(usable % 8 == 0, "%s(%zu): usable size %zu not a multiple of 8", how, req, usable);
	s->p = p;
	s->req = req;
	s->usable = usable;
	s->id = ++next_id;
	s->large = !in_brk(p);
	if (!s->large) {
		ENSURE(p >= E.base + 16 && usable <= (size_t)(E.base + E.brk - 8 - p),
		       "%s(%zu): block %p + %zu does not fit in the break [%p, %p)", how, req, (void *)p, usable,
		       (void *)E.base, (void *)(E.base + E.brk));
		/* realloc shrinks in place whatever the size (op_realloc checks that it was a shrink). */
		ENSURE(!goes_large(req) || strcmp(how, "realloc in place") == 0,
		       "%s(%zu): a large request served from the break", how, req);
		/* The block found is split; at most a sliver (< a minimum block) stays with it. */
		ENSURE(usable <= block_bytes(req) + 8, "%s(%zu): %zu usable bytes, more than the split allows", how,
		       req, usable);
	} else {
		unsigned r;
		for (r = 0; r < E.nruns; r++)
			if (p > E.runs[r].p && p < E.runs[r].p + E.runs[r].bytes)
				break;
		ENSURE(r < E.nruns, "%s(%zu) returned %p: neither in the break nor in a mapped run", how, req,
		       (void *)p);
		ENSURE(p + usable == E.runs[r].p + E.runs[r].bytes && p - E.runs[r].p >= 48,
		       "%s(%zu): large block %p + %zu does not end its run %p + %zu", how, req, (void *)p, usable,
		       (void *)E.runs[r].p, E.runs[r].bytes);
		ENSURE(goes_large(req), "%s(%zu): a small request got a mapped run", how, req);
		/* A fresh run is the request, the header and alignment lead, rounded to pages. */
		size_t lead = align > 64 ? align : 64;
		ENSURE(strncmp(how, "realloc", 7) == 0 || usable < req + lead + E.hpage,
		       "%s(%zu): %zu usable bytes in a fresh run of %zu", how, req, usable, E.runs[r].bytes);
	}
	/* No overlap with any live block, headers of brk blocks included. */
	uintptr_t lo = (uintptr_t)p - (s->large ? 0 : HEAP_OVERHEAD), hi = (uintptr_t)p + usable;
	for (unsigned j = 0; j < NSLOTS; j++) {
		if (j == i || !S[j].p)
			continue;
		uintptr_t jlo = (uintptr_t)S[j].p - (S[j].large ? 0 : HEAP_OVERHEAD);
		uintptr_t jhi = (uintptr_t)S[j].p + S[j].usable;
		ENSURE(hi <= jlo || jhi <= lo, "%s(%zu) returned %p + %zu, overlapping slot %u (%p + %zu)", how, req,
		       (void *)p, usable, j, (void *)S[j].p, S[j].usable);
	}
}

