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

/* Whether the heap serves this request (malloc, calloc, memalign, a moving realloc) from a slab. */
bool slab_sized(size_t size, size_t align)
{
	return cfg.slabs && size <= HEAP_SLAB_MAX && align <= HEAP_ALIGN;
}

/* The object size of a slab request of n bytes (0..HEAP_SLAB_MAX): 16, 32, 48 or 64. */
size_t slab_class_bytes(size_t n)
{
	return n ? round_up(n, 16) : 16;
}

/* Whether p is a slab object's address as the heap sees it: in the break, on a run's page. */
bool is_slab_ptr(uintptr_t p)
{
	return in_brk((const void *)p) && slab_page(&H, p);
}

/* The runs the live slab slots (but slot skip) are in, each once, with how many of them each holds. */
struct srun {
	uintptr_t s;      /* the run's payload: its struct heap_slab */
	size_t size;      /* its objects' size */
	unsigned live;    /* live slots in it */
};

static unsigned shadow_runs(struct srun *r, int skip)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NSLOTS; i++) {
		if (!S[i].p || !S[i].slab || (int)i == skip)
			continue;
		uintptr_t s = (uintptr_t)slab_of((uintptr_t)S[i].p);
		unsigned k;
		for (k = 0; k < n && r[k].s != s; k++)
			;
		if (k == n)
			r[n++] = (struct srun){ s, S[i].usable, 0 };
		ENSURE(r[k].size == S[i].usable, "slot %u (%p, %zu usable) shares run %#lx with objects of %zu bytes",
		       i, (void *)S[i].p, S[i].usable, (unsigned long)s, r[k].size);
		r[k].live++;
	}
	return n;
}

/*
 * Whether a run of objects of size bytes has a free object, by the shadow
 * (slot skip aside): the runs with live slots are all there are once
 * heap_get_stats gave the empty ones back, and a run with room is on its
 * class's list, so a request of that class takes an object without memory.
 */
bool slab_room(size_t size, int skip)
{
	struct srun r[NSLOTS];
	unsigned n = shadow_runs(r, skip);

	for (unsigned k = 0; k < n; k++)
		if (r[k].size == size && r[k].live < run_cap(size))
			return true;
	return false;
}

/* Whether a request goes to a mapped run: at or past the threshold, unless a slab serves it first. */
bool goes_large(size_t size, size_t align)
{
	return cfg.map && size >= cfg.lt && !slab_sized(size, align);
}

/*
 * True when a request of size bytes aligned to align cannot fail: the
 * environment will give what the heap must ask for in the worst case (a
 * growth of the whole block plus the alignment slack, at least one chunk; or
 * one run), and no failure is armed. Allocation may still succeed otherwise.
 */
bool must_succeed(size_t size, size_t align)
{
	if (size > PTRDIFF_MAX || !align || (align & (align - 1)))
		return false;
	if (align < HEAP_ALIGN)
		align = HEAP_ALIGN;
	/* A run with a free object of its class serves a slab request without asking for memory. */
	if (slab_sized(size, align) && slab_room(slab_class_bytes(size), -1))
		return true;
	if (E.fail_sbrk || E.fail_map)
		return false;
	/* Otherwise a new run, or when none can be had an ordinary block: that much break. */
	if (goes_large(size, align)) {
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
	size_t nbrk = 0, nlarge = 0, in_use = 0, nslab = 0, slab_bytes = 0;
	struct srun runs[NSLOTS];

	why[0] = 0;
	if (heap_check(&H, why, sizeof why))
		FAIL("heap_check after %s: %s", after, why);
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (!S[i].p)
			continue;
		if (S[i].large) {
			nlarge++;
		} else if (S[i].slab) {
			ENSURE(slab_page(&H, (uintptr_t)S[i].p), "after %s: live slab object %p (slot %u) is on no run",
			       after, (void *)S[i].p, i);
			nslab++;
			slab_bytes += S[i].usable;
		} else {
			nbrk++;
			in_use += S[i].usable + HEAP_OVERHEAD;
		}
	}
	/*
	 * heap_get_stats gave every empty run back, so the runs are exactly
	 * those holding live slots; each is one used block of the break, of
	 * 4096 whole bytes (or 4112: a sliver too small to split stays with it).
	 */
	unsigned nruns = shadow_runs(runs, -1);
	for (unsigned k = 0; k < nruns; k++) {
		const struct heap_slab *hd = (const struct heap_slab *)runs[k].s;
		blk_t b = blk_from_payload(runs[k].s);
		size_t bytes = blk_size(b);
		ENSURE(!blk_is_free(b) && bytes >= HEAP_SLAB_RUN && bytes < HEAP_SLAB_RUN + HEAP_MIN_BLOCK,
		       "after %s: slab run %#lx is a %s block of %zu bytes", after, (unsigned long)runs[k].s,
		       blk_is_free(b) ? "free" : "used", bytes);
		ENSURE(hd->size == runs[k].size && hd->live == runs[k].live,
		       "after %s: slab run %#lx says %u live objects of %u bytes; the shadow has %u of %zu", after,
		       (unsigned long)runs[k].s, hd->live, hd->size, runs[k].live, runs[k].size);
		in_use += bytes;
	}
	ENSURE(st.used_blocks == nbrk + nruns,
	       "after %s: used_blocks %zu, shadow has %zu live brk blocks and %u slab runs", after, st.used_blocks,
	       nbrk, nruns);
	ENSURE(st.slab_runs == nruns && st.slab_objects == nslab && st.slab_bytes == slab_bytes,
	       "after %s: slab_runs %zu, slab_objects %zu, slab_bytes %zu; shadow has %u runs, %zu objects of %zu "
	       "bytes",
	       after, st.slab_runs, st.slab_objects, st.slab_bytes, nruns, nslab, slab_bytes);
	ENSURE(cfg.slabs || st.slab_runs == 0, "after %s: %zu slab runs in a heap without slabs", after,
	       st.slab_runs);
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
/* Every object of every run (at most one run per live slot), plus the blocks. */
static struct walk_entry walked[NSLOTS * (HEAP_SLAB_RUN / 16) + 4 * NSLOTS + 64];
static unsigned nwalked;

static void walk_cb(void *ctx, void *p, size_t size, int used)
{
	ENSURE(ctx == &walked, "heap_walk: wrong ctx");
	ENSURE(nwalked < sizeof walked / sizeof walked[0], "heap_walk: more blocks than can exist here");
	walked[nwalked++] = (struct walk_entry){ (uintptr_t)p, size, used };
}

/* The slab run heap_walk is inside of: its objects come one by one, in order, all of them. */
struct walk_run {
	uintptr_t s;      /* its payload (struct heap_slab), 0: not in a run */
	uintptr_t next;   /* where its next object must be */
	size_t size;      /* object bytes */
	unsigned seen;    /* objects listed so far */
};

static void walk_run_end(struct walk_run *r, const char *after)
{
	if (!r->s)
		return;
	ENSURE(r->seen == run_cap(r->size), "heap_walk (after %s): slab run %#lx listed %u objects of %zu bytes, "
	       "it holds %u", after, (unsigned long)r->s, r->seen, r->size, run_cap(r->size));
	r->s = 0;
}

/* Every pattern, and heap_walk against the shadow. */
void verify_all(const char *after)
{
	struct heap_stats st = stats();
	size_t nused = 0, nlarge = 0, nfree = 0, free_bytes = 0, nruns = 0, nobjects = 0;
	uintptr_t expect = (uintptr_t)E.base + 16;
	bool prev_free = false;
	struct walk_run run = { 0 };

	for (unsigned i = 0; i < NSLOTS; i++)
		verify_slot(i, after);
	nwalked = 0;
	heap_walk(&H, walk_cb, &walked);
	for (unsigned k = 0; k < nwalked; k++) {
		struct walk_entry *w = &walked[k];
		unsigned i;

		if (w->used == HEAP_WALK_LARGE) {
			walk_run_end(&run, after);
			nlarge++;
			for (i = 0; i < NSLOTS; i++)
				if ((uintptr_t)S[i].p == w->p && S[i].large)
					break;
			ENSURE(i < NSLOTS && S[i].usable == w->size,
			       "heap_walk (after %s): large block %#lx (%zu bytes) is not a live large slot", after,
			       (unsigned long)w->p, w->size);
			continue;
		}
		if (is_slab_ptr(w->p)) {
			/* An object of a run: the run is one used block, listed as its objects. */
			uintptr_t s = (uintptr_t)slab_of(w->p);
			if (s != run.s) {
				walk_run_end(&run, after);
				ENSURE(s == expect, "heap_walk (after %s): slab run %#lx, expected the next block at %#lx",
				       after, (unsigned long)s, (unsigned long)expect);
				size_t bytes = blk_size(blk_from_payload(s));
				ENSURE(bytes >= HEAP_SLAB_RUN && bytes < HEAP_SLAB_RUN + HEAP_MIN_BLOCK,
				       "heap_walk (after %s): slab run %#lx is a block of %zu bytes", after,
				       (unsigned long)s, bytes);
				ENSURE(w->size == 16 || w->size == 32 || w->size == 48 || w->size == 64,
				       "heap_walk (after %s): slab run %#lx has objects of %zu bytes", after,
				       (unsigned long)s, w->size);
				run = (struct walk_run){ s, s + HEAP_SLAB_HDR, w->size, 0 };
				expect = s + bytes;
				prev_free = false;
				nused++;
				nruns++;
			}
			ENSURE(w->p == run.next && w->size == run.size,
			       "heap_walk (after %s): object %#lx (%zu bytes) of run %#lx, expected %#lx (%zu bytes)", after,
			       (unsigned long)w->p, w->size, (unsigned long)s, (unsigned long)run.next, run.size);
			run.next += run.size;
			run.seen++;
			/*
			 * A free one is not looked up (a run lists up to 251): every
			 * live slab slot must be listed used (counted below), and
			 * the objects' addresses all differ, so none is listed free.
			 */
			if (w->used == HEAP_WALK_FREE)
				continue;
			ENSURE(w->used == HEAP_WALK_USED, "heap_walk: kind %d for a slab object", w->used);
			nobjects++;
			for (i = 0; i < NSLOTS; i++)
				if ((uintptr_t)S[i].p == w->p && S[i].slab)
					break;
			ENSURE(i < NSLOTS && S[i].usable == w->size,
			       "heap_walk (after %s): used object %#lx (%zu bytes) is not a live slab slot of that size",
			       after, (unsigned long)w->p, w->size);
			continue;
		}
		walk_run_end(&run, after);
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
			if ((uintptr_t)S[i].p == w->p && !S[i].large && !S[i].slab)
				break;
		ENSURE(i < NSLOTS && S[i].usable == w->size,
		       "heap_walk (after %s): used block %#lx (%zu bytes) is not a live slot of that size", after,
		       (unsigned long)w->p, w->size);
	}
	walk_run_end(&run, after);
	ENSURE(expect == (uintptr_t)E.base + E.brk, "heap_walk (after %s): blocks end at %#lx, the break at %#lx",
	       after, (unsigned long)expect, (unsigned long)(E.base + E.brk));
	ENSURE(nused == st.used_blocks && nlarge == st.large_blocks && nfree == st.free_blocks &&
		       free_bytes == st.free_bytes,
	       "heap_walk (after %s): %zu used, %zu large, %zu free (%zu bytes); stats say %zu, %zu, %zu (%zu)",
	       after, nused, nlarge, nfree, free_bytes, st.used_blocks, st.large_blocks, st.free_blocks,
	       st.free_bytes);
	size_t nslab = 0;
	for (unsigned i = 0; i < NSLOTS; i++)
		nslab += S[i].p && S[i].slab;
	ENSURE(nruns == st.slab_runs && nobjects == st.slab_objects && nobjects == nslab,
	       "heap_walk (after %s): %zu slab runs with %zu live objects; stats say %zu, %zu; the shadow has %zu "
	       "objects",
	       after, nruns, nobjects, st.slab_runs, st.slab_objects, nslab);
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
	s->slab = is_slab_ptr((uintptr_t)p);
	bool in_place = strcmp(how, "realloc in place") == 0;
	if (s->slab) {
		/* An object: no header, the class size usable, inside a run of its class. */
		uintptr_t r = (uintptr_t)slab_of((uintptr_t)p);
		const struct heap_slab *hd = (const struct heap_slab *)r;
		ENSURE(cfg.slabs, "%s(%zu) returned %p, a slab object, from a heap without slabs", how, req, (void *)p);
		ENSURE(in_place || slab_sized(req, align), "%s(%zu, align %zu) returned %p, a slab object", how, req,
		       align, (void *)p);
		ENSURE(in_place ? usable % 16 == 0 && usable <= HEAP_SLAB_MAX : usable == slab_class_bytes(req),
		       "%s(%zu): slab object %p has %zu usable bytes", how, req, (void *)p, usable);
		ENSURE(hd->size == usable, "%s(%zu): slab object %p of %zu usable bytes in a run of %u-byte objects", how,
		       req, (void *)p, usable, hd->size);
		size_t off = (uintptr_t)p - r - HEAP_SLAB_HDR;
		ENSURE((uintptr_t)p >= r + HEAP_SLAB_HDR && off % usable == 0 && off / usable < run_cap(usable),
		       "%s(%zu): slab object %p is not an object of its run %#lx", how, req, (void *)p,
		       (unsigned long)r);
		size_t bytes = blk_size(blk_from_payload(r));
		ENSURE(r - HEAP_OVERHEAD >= (uintptr_t)E.base + 8 && r + bytes <= (uintptr_t)E.base + E.brk,
		       "%s(%zu): slab run %#lx (%zu bytes) does not fit in the break [%p, %p)", how, req,
		       (unsigned long)r, bytes, (void *)E.base, (void *)(E.base + E.brk));
	} else if (!s->large) {
		ENSURE(p >= E.base + 16 && usable <= (size_t)(E.base + E.brk - 8 - p),
		       "%s(%zu): block %p + %zu does not fit in the break [%p, %p)", how, req, (void *)p, usable,
		       (void *)E.base, (void *)(E.base + E.brk));
		/* realloc shrinks in place whatever the size (op_realloc checks that it was a shrink). */
		ENSURE(!goes_large(req, align) || in_place, "%s(%zu): a large request served from the break", how, req);
		/* The block found is split; at most a sliver (< a minimum block) stays with it. */
		ENSURE(usable <= block_bytes(req) + 8, "%s(%zu): %zu usable bytes, more than the split allows", how,
		       req, usable);
		/* A slab request is a block only when no run could be had: never while its class has room. */
		ENSURE(in_place || !slab_sized(req, align) || !slab_room(slab_class_bytes(req), (int)i),
		       "%s(%zu): an ordinary block though a run of %zu-byte objects has room", how, req,
		       slab_class_bytes(req));
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
		/*
		 * A large block resized (kept, or remapped) stays large for any size
		 * at or past the threshold, slab sizes too: only a move goes to malloc.
		 */
		bool from_large = strcmp(how, "realloc of a large block") == 0;
		ENSURE(goes_large(req, align) || (from_large && cfg.map && req >= cfg.lt),
		       "%s(%zu): a small request got a mapped run", how, req);
		/* A fresh run is the request, the header and alignment lead, rounded to pages. */
		size_t lead = align > 64 ? align : 64;
		ENSURE(strncmp(how, "realloc", 7) == 0 || usable < req + lead + E.hpage,
		       "%s(%zu): %zu usable bytes in a fresh run of %zu", how, req, usable, E.runs[r].bytes);
	}
	/* No overlap with any live block, headers of brk blocks included (slab objects have none). */
	uintptr_t lo = (uintptr_t)p - (s->large || s->slab ? 0 : HEAP_OVERHEAD), hi = (uintptr_t)p + usable;
	for (unsigned j = 0; j < NSLOTS; j++) {
		if (j == i || !S[j].p)
			continue;
		uintptr_t jlo = (uintptr_t)S[j].p - (S[j].large || S[j].slab ? 0 : HEAP_OVERHEAD);
		uintptr_t jhi = (uintptr_t)S[j].p + S[j].usable;
		ENSURE(hi <= jlo || jhi <= lo, "%s(%zu) returned %p + %zu, overlapping slot %u (%p + %zu)", how, req,
		       (void *)p, usable, j, (void *)S[j].p, S[j].usable);
	}
}

