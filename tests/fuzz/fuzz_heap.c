/*
 * tests/fuzz/fuzz_heap.c - libFuzzer harness for the kmalloc core (alloc/heap.c).
 *
 * The input is a little program: a few bytes of configuration (page size,
 * growth chunk, thresholds, how much memory the environment will give), then
 * one operation after another until the bytes run out: malloc, calloc,
 * realloc, memalign and free of one of NSLOTS slots, with sizes and
 * alignments from the bytes (huge and nonsensical ones included); bogus frees,
 * reallocs and usable_size calls (double, delayed double, interior,
 * misaligned, stack, static, libc, unmapped, random addresses); trims;
 * injected sbrk/map failures; full verifications.
 *
 * Beside the heap runs a shadow model, and any disagreement aborts with a
 * message and the last operations (so libFuzzer saves the input):
 *   - every live block is filled with a pattern from its id over its whole
 *     usable size, checked before it is freed or resized and in every full
 *     verification; alignment, usable >= request, no overlap, brk blocks
 *     inside the break, large blocks exactly at the end of a mapped run;
 *   - heap_get_stats agrees with the shadow: used_blocks and large_blocks
 *     count the live slots, in_use_bytes is their whole size, brk_bytes and
 *     large_bytes are what the environment handed out, peak never falls;
 *   - heap_check after every operation; heap_walk lists exactly the live
 *     blocks and tiles the break;
 *   - a misuse is reported once, with the right kind and address, and
 *     changes nothing (stats, break, runs, and every byte of the break);
 *   - a NULL return changes nothing the same way, and happens only when the
 *     environment really refused the memory (caps, injected failures) or the
 *     request is impossible;
 *   - at the end everything is freed, the heap is empty and trims back to
 *     its initial break, and every mapped run was unmapped.
 *
 * The environment: the break lives in a private PROT_NONE reservation that
 * sbrk opens page by page (touching above the break faults), fresh break
 * memory is filled with junk (0xa5) so nothing relies on zeroed pages, large
 * runs are separate mappings with guard pages, and both have caps.
 *
 * The junk and the pattern never look like a plausible block header: every
 * word of them has bit 47 set, a size beyond any break here. So a bogus
 * pointer whose p - 8 lands in user data can never be believed by accident
 * (the 1-in-65536 tag match heap.h admits), and any mismatch is a real one.
 *
 * FUZZ_VERBOSE=1 in the environment prints every operation as it runs.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../alloc/heap.h"

#ifndef FUZZ_HEAP_DEBUG
#define FUZZ_HEAP_DEBUG 0   /* 1 when struct heap_env has .debug (fuzz.mk probes for it) */
#endif

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

#define NSLOTS   64
#define MAXRUNS  (NSLOTS + 16)
#define MAX_OPS  3000
#define RING     40          /* freed pointers remembered for delayed double frees */
#define SNAP_MAX (1 * MiB)   /* the break is compared byte for byte across misuse up to this size */
#define PAT_BIT  (1ull << 47)
#define JUNK     0xa5

/* ----- failing loudly, with the recent operations ----- */

#define TRACE_LINES 48
static char trace_ring[TRACE_LINES][160];
static unsigned trace_n;
static int verbose;
static unsigned op_index;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	va_list ap;
	char *line = trace_ring[trace_n++ % TRACE_LINES];

	va_start(ap, fmt);
	vsnprintf(line, sizeof trace_ring[0], fmt, ap);
	va_end(ap);
	if (verbose)
		fprintf(stderr, "  %s\n", line);
}

static void fail(int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_heap: MISMATCH at op %u (fuzz_heap.c:%d): ", op_index, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz_heap: the last operations, oldest first:\n");
	unsigned first = trace_n > TRACE_LINES ? trace_n - TRACE_LINES : 0;
	for (unsigned i = first; i < trace_n; i++)
		fprintf(stderr, "  %s\n", trace_ring[i % TRACE_LINES]);
	fflush(stderr);
	abort();
}
#define FAIL(...) fail(__LINE__, __VA_ARGS__)
#define ENSURE(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

/* ----- reading the input ----- */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in) { return (uint16_t)(u8(in) | u8(in) << 8); }
static uint32_t u32(struct in *in) { return (uint32_t)u16(in) | (uint32_t)u16(in) << 16; }
static uint64_t u64(struct in *in) { return (uint64_t)u32(in) | (uint64_t)u32(in) << 32; }

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static size_t round_up(size_t x, size_t a) { return (x + a - 1) & ~(a - 1); }

/* ----- the environment ----- */

struct frun {
	char *p;          /* what map_pages returned */
	size_t bytes;     /* what it was asked for */
	char *m;          /* the whole mapping, guards included */
	size_t mbytes;
};

static struct fenv {
	char *map;             /* the reservation: guard page, region, guard */
	size_t map_bytes;
	char *base;            /* start of the break region */
	size_t hpage;          /* the heap's page_size */
	size_t hostpage;
	size_t brk;            /* bytes from base */
	size_t rw;             /* bytes from base currently readable and writable */
	size_t cap;            /* sbrk refuses to pass this */
	bool refuse_shrink;    /* sbrk refuses to move down */
	bool fail_sbrk;        /* the next growing sbrk fails (one shot) */
	bool fail_map;         /* the next map_pages fails (one shot) */
	size_t large_cap;      /* map_pages refuses beyond this many mapped bytes */
	size_t mapped;
	struct frun runs[MAXRUNS];
	unsigned nruns;
	unsigned reports;
	int last_kind;
	uintptr_t last_addr;
	char last_line[200];
} E;

static struct heap H;

static void *f_sbrk(void *ctx, intptr_t delta)
{
	struct fenv *e = ctx;
	char *old = e->base + e->brk;

	ENSURE(ctx == &E, "sbrk: wrong ctx %p", ctx);
	if (delta == 0)
		return old;
	size_t mag = delta < 0 ? (size_t)0 - (size_t)delta : (size_t)delta;
	ENSURE(mag % e->hpage == 0, "sbrk(%ld): not a multiple of page_size %zu", (long)delta, e->hpage);
	if (delta > 0) {
		if (e->fail_sbrk) {
			e->fail_sbrk = false;
			trace("    env: sbrk(+%zu) refused (injected)", mag);
			return (void *)-1;
		}
		if (mag > e->cap - e->brk) {
			trace("    env: sbrk(+%zu) refused (cap %zu, brk %zu)", mag, e->cap, e->brk);
			return (void *)-1;
		}
		size_t nb = e->brk + mag, need = round_up(nb, e->hostpage);
		if (need > e->rw) {
			if (mprotect(e->base + e->rw, need - e->rw, PROT_READ | PROT_WRITE))
				FAIL("sbrk: mprotect failed");
			e->rw = need;
		}
		memset(old, JUNK, mag);
		e->brk = nb;
	} else {
		ENSURE(mag <= e->brk, "sbrk(%ld): below the base (brk %zu)", (long)delta, e->brk);
		if (e->refuse_shrink) {
			trace("    env: sbrk(-%zu) refused (stubborn break)", mag);
			return (void *)-1;
		}
		size_t nb = e->brk - mag, keep = round_up(nb, e->hostpage);
		memset(e->base + nb, JUNK, (keep < e->brk ? keep : e->brk) - nb);
		if (keep < e->rw) {
			madvise(e->base + keep, e->rw - keep, MADV_DONTNEED);
			if (mprotect(e->base + keep, e->rw - keep, PROT_NONE))
				FAIL("sbrk: mprotect failed");
			e->rw = keep;
		}
		e->brk = nb;
	}
	trace("    env: sbrk(%+ld) -> brk %zu", (long)delta, e->brk);
	return old;
}

static void *f_map(void *ctx, size_t bytes)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "map_pages: wrong ctx %p", ctx);
	ENSURE(bytes && bytes % e->hpage == 0, "map_pages(%zu): not a multiple of page_size %zu", bytes,
	       e->hpage);
	if (e->fail_map) {
		e->fail_map = false;
		trace("    env: map_pages(%zu) refused (injected)", bytes);
		return NULL;
	}
	if (bytes > e->large_cap - e->mapped || e->nruns == MAXRUNS) {
		trace("    env: map_pages(%zu) refused (cap %zu, mapped %zu)", bytes, e->large_cap, e->mapped);
		return NULL;
	}
	size_t align = e->hpage > e->hostpage ? e->hpage : e->hostpage;
	size_t body = round_up(bytes, e->hostpage);
	size_t mbytes = body + 2 * e->hostpage + align;
	char *m = mmap(NULL, mbytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ENSURE(m != MAP_FAILED, "map_pages: host mmap of %zu failed", mbytes);
	char *p = (char *)round_up((uintptr_t)m + e->hostpage, align);
	if (mprotect(p, body, PROT_READ | PROT_WRITE))
		FAIL("map_pages: mprotect failed");
	e->runs[e->nruns++] = (struct frun){ p, bytes, m, mbytes };
	e->mapped += bytes;
	trace("    env: map_pages(%zu) -> %p", bytes, (void *)p);
	return p;
}

static void f_unmap(void *ctx, void *p, size_t bytes)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "unmap_pages: wrong ctx %p", ctx);
	for (unsigned i = 0; i < e->nruns; i++) {
		if (e->runs[i].p != p)
			continue;
		ENSURE(e->runs[i].bytes == bytes, "unmap_pages(%p, %zu): it was mapped with %zu bytes", p, bytes,
		       e->runs[i].bytes);
		munmap(e->runs[i].m, e->runs[i].mbytes);
		e->mapped -= bytes;
		e->runs[i] = e->runs[--e->nruns];
		trace("    env: unmap_pages(%p, %zu)", p, bytes);
		return;
	}
	FAIL("unmap_pages(%p, %zu): not a run map_pages returned", p, bytes);
}

static void f_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "report: wrong ctx %p", ctx);
	ENSURE(line && line[0], "report: empty line");
	ENSURE(!strchr(line, '\n'), "report: line holds a newline: %s", line);
	e->reports++;
	e->last_kind = kind;
	e->last_addr = addr;
	snprintf(e->last_line, sizeof e->last_line, "%s", line);
	trace("    report %d: %s", kind, line);
}

static void env_close(void)
{
	while (E.nruns) {
		E.nruns--;
		munmap(E.runs[E.nruns].m, E.runs[E.nruns].mbytes);
	}
	if (E.map)
		munmap(E.map, E.map_bytes);
	E.map = NULL;
}

static bool in_brk(const void *p)
{
	return (const char *)p >= E.base && (const char *)p < E.base + E.brk;
}

/* ----- the shadow ----- */

struct slot {
	char *p;          /* NULL: empty */
	size_t req;       /* bytes asked for */
	size_t usable;    /* what heap_usable_size said */
	uint64_t id;      /* pattern seed */
	bool large;       /* a mapped run, not in the break */
};

static struct slot S[NSLOTS];
static uint64_t next_id;
static uintptr_t ring[RING];       /* recently freed pointers */
static unsigned ring_n;
static size_t last_peak;
static unsigned char snap[SNAP_MAX];
static unsigned verify_every;
static bool have_report;           /* a report callback was installed */

/* What the heap was configured with, with its documented defaults filled in. */
static struct {
	size_t lt, grow;
	bool map;
} cfg;

/*
 * The pattern loops are the harness's hottest code and tell libFuzzer
 * nothing: keep coverage instrumentation (comparison tracing) out of them.
 */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

/* Word k of block id's pattern: a sequence from a per-id start, so blocks differ everywhere. */
#define PAT_STEP 0x9e3779b97f4a7c15ull
static inline uint64_t pat(uint64_t id, size_t k)
{
	return (mix64(id) + k * PAT_STEP) | PAT_BIT;
}

static NO_COVERAGE void fill(const struct slot *s)
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

static NO_COVERAGE size_t first_nonzero(const char *p, size_t bytes)
{
	for (size_t k = 0; k < bytes; k++)
		if (p[k])
			return k;
	return bytes;
}

/* Checks the first `bytes` bytes of slot i's pattern (as written for `id`). */
static void verify_bytes(unsigned i, const char *p, uint64_t id, size_t bytes, const char *when)
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

static void verify_slot(unsigned i, const char *when)
{
	if (S[i].p)
		verify_bytes(i, S[i].p, S[i].id, S[i].usable, when);
}

static void ring_push(void *p)
{
	ring[ring_n++ % RING] = (uintptr_t)p;
}

static bool is_live(uintptr_t p)
{
	for (unsigned i = 0; i < NSLOTS; i++)
		if ((uintptr_t)S[i].p == p)
			return true;
	return false;
}

static struct heap_stats stats(void)
{
	struct heap_stats st;
	memset(&st, 0, sizeof st);
	heap_get_stats(&H, &st);
	return st;
}

/* Whole block bytes the heap uses for a brk request of n bytes (heap.c's block_size_for). */
static size_t block_bytes(size_t n)
{
	size_t s = round_up(n + HEAP_OVERHEAD, HEAP_ALIGN);
	return s < HEAP_MIN_BLOCK ? HEAP_MIN_BLOCK : s;
}

static bool goes_large(size_t size)
{
	return cfg.map && size >= cfg.lt;
}

/*
 * True when a request of size bytes aligned to align cannot fail: the
 * environment will give what the heap must ask for in the worst case (a
 * growth of the whole block plus the alignment slack, at least one chunk; or
 * one run), and no failure is armed. Allocation may still succeed otherwise.
 */
static bool must_succeed(size_t size, size_t align)
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

static void check_state(const char *after)
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
static void verify_all(const char *after)
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

struct snapshot {
	struct heap_stats st;
	size_t brk, mapped;
	unsigned nruns;
	bool bytes;
};

static void take_snapshot(struct snapshot *s)
{
	s->st = stats();
	s->brk = E.brk;
	s->mapped = E.mapped;
	s->nruns = E.nruns;
	s->bytes = E.brk <= SNAP_MAX;
	if (s->bytes)
		memcpy(snap, E.base, E.brk);
}

static void same_as_snapshot(const struct snapshot *s, const char *what)
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

static void adopt(unsigned i, char *p, size_t req, size_t align, const char *how)
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

/* ----- generators ----- */

static size_t gen_size(struct in *in)
{
	static const size_t special[] = {
		SIZE_MAX, SIZE_MAX - 7, SIZE_MAX - 15, SIZE_MAX / 2, (size_t)PTRDIFF_MAX,
		(size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX - 8, (size_t)PTRDIFF_MAX - 64,
		HEAP_MAX_BRK, HEAP_MAX_BRK - 8, HEAP_MAX_BRK - 9, HEAP_MAX_BRK - 48, HEAP_MAX_BRK + 1,
		HEAP_BLK_SIZE_MASK, HEAP_BLK_SIZE_MASK - 4096, (size_t)1 << 40, (size_t)1 << 48,
		(size_t)1 << 62, 24, 25, 496, 497, 503, 504, 505, 512, 4096 - 8, 4096, 65536 - 8, 65536,
	};
	uint8_t c = u8(in);

	switch (c % 16) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		return u8(in) % 80;
	case 6: case 7: case 8:
		return u16(in) % 2048;
	case 9:
		return (size_t)u16(in) * 2;
	case 10: {
		size_t d = u8(in);
		return cfg.lt > 64 ? cfg.lt - 64 + d % 128 : d % 128;
	}
	case 11:
		return cfg.lt + u32(in) % (2 * MiB);
	case 12: {
		/* Around what the break can still give. */
		size_t room = E.cap - E.brk;
		size_t d = (size_t)u8(in) * 16;
		return (c & 0x80) ? room + d : (room > d ? room - d : 0);
	}
	case 13:
		return special[u8(in) % (sizeof special / sizeof special[0])];
	case 14:
		return u64(in);
	default: {
		unsigned sh = u8(in) % 64;
		int d = (int8_t)u8(in);
		return ((size_t)1 << sh) + (size_t)(intptr_t)d;
	}
	}
}

static size_t gen_align(struct in *in)
{
	uint8_t c = u8(in);

	switch (c % 8) {
	case 0: case 1: case 2: case 3:
		return (size_t)1 << (u8(in) % 14);             /* 1 .. 8 KiB */
	case 4:
		return (size_t)1 << (u8(in) % 64);             /* up to 2^63 */
	case 5:
		return 0;
	case 6: {
		static const size_t bad[] = { 3, 24, 48, 96, 4097, 12288, 65535, SIZE_MAX, SIZE_MAX - 1,
					      (size_t)PTRDIFF_MAX };
		return bad[u8(in) % (sizeof bad / sizeof bad[0])];
	}
	default:
		return u64(in);
	}
}

/* ----- operations ----- */

/* Frees slot i through heap_free (the caller has checked its pattern). */
static void do_free_slot(unsigned i, const char *why)
{
	struct slot *s = &S[i];
	unsigned reports = E.reports;

	trace("#%u free slot %u %p (%zu usable, %s) [%s]", op_index, i, (void *)s->p, s->usable,
	      s->large ? "large" : "brk", why);
	verify_slot(i, "before free");
	heap_free(&H, s->p);
	ENSURE(E.reports == reports, "free of live slot %u (%p) was reported as misuse: %s", i, (void *)s->p,
	       E.last_line);
	ring_push(s->p);
	s->p = NULL;
}

/* After an allocation call returned NULL: nothing may have changed, and it must have been allowed to fail. */
static void null_result(const struct snapshot *before, bool must, size_t size, size_t align, const char *what)
{
	same_as_snapshot(before, what);
	ENSURE(!must,
	       "%s(size %zu, align %zu) returned NULL though the environment had room (brk %zu of %zu, "
	       "mapped %zu of %zu)",
	       what, size, align, E.brk, E.cap, E.mapped, E.large_cap);
}

static void op_malloc(struct in *in, unsigned i)
{
	struct snapshot before;

	if (S[i].p) {
		do_free_slot(i, "malloc into a used slot");
		check_state("free");
	}
	size_t size = gen_size(in);
	take_snapshot(&before);
	bool must = must_succeed(size, HEAP_ALIGN);
	unsigned reports = E.reports;
	char *p = heap_malloc(&H, size);
	trace("#%u malloc(%zu) -> %p", op_index, size, (void *)p);
	ENSURE(E.reports == reports, "malloc(%zu) reported misuse: %s", size, E.last_line);
	if (!p) {
		null_result(&before, must, size, HEAP_ALIGN, "malloc");
		return;
	}
	adopt(i, p, size, HEAP_ALIGN, "malloc");
	fill(&S[i]);
}

static void op_calloc(struct in *in, unsigned i)
{
	static const size_t counts[] = { 0, 1, 2, 3, 7, 16, 100, 4096, SIZE_MAX, SIZE_MAX / 2 + 1,
					 (size_t)1 << 32, (size_t)1 << 33 };
	struct snapshot before;

	if (S[i].p) {
		do_free_slot(i, "calloc into a used slot");
		check_state("free");
	}
	uint8_t c = u8(in);
	size_t n = c & 1 ? counts[(c >> 1) % (sizeof counts / sizeof counts[0])] : (size_t)(c >> 1) + 1;
	size_t each = gen_size(in);
	if (n && each && c & 1 && u8(in) & 1)
		each /= n;      /* keep some products in range */
	bool overflow = each && n > SIZE_MAX / each;
	take_snapshot(&before);
	bool must = !overflow && must_succeed(n * each, HEAP_ALIGN);
	unsigned reports = E.reports;
	char *p = heap_calloc(&H, n, each);
	trace("#%u calloc(%zu, %zu) -> %p", op_index, n, each, (void *)p);
	ENSURE(E.reports == reports, "calloc reported misuse: %s", E.last_line);
	if (!p) {
		null_result(&before, must, overflow ? 0 : n * each, HEAP_ALIGN, "calloc");
		return;
	}
	ENSURE(!overflow, "calloc(%zu, %zu) overflows but returned %p", n, each, (void *)p);
	size_t size = n * each;
	adopt(i, p, size, HEAP_ALIGN, "calloc");
	size_t k = first_nonzero(p, size);
	ENSURE(k == size, "calloc(%zu, %zu) -> %p: byte %zu is 0x%02x, not zero", n, each, (void *)p, k,
	       (unsigned char)p[k]);
	fill(&S[i]);
}

static void op_memalign(struct in *in, unsigned i)
{
	struct snapshot before;

	if (S[i].p) {
		do_free_slot(i, "memalign into a used slot");
		check_state("free");
	}
	size_t align = gen_align(in), size = gen_size(in);
	bool bad = !align || (align & (align - 1));
	take_snapshot(&before);
	bool must = !bad && must_succeed(size, align);
	unsigned reports = E.reports;
	char *p = heap_memalign(&H, align, size);
	trace("#%u memalign(%zu, %zu) -> %p", op_index, align, size, (void *)p);
	ENSURE(E.reports == reports, "memalign reported misuse: %s", E.last_line);
	if (!p) {
		null_result(&before, must, size, align, "memalign");
		return;
	}
	ENSURE(!bad, "memalign(%zu, %zu): a bad alignment returned %p", align, size, (void *)p);
	adopt(i, p, size, align, "memalign");
	fill(&S[i]);
}

static void op_realloc(struct in *in, unsigned i)
{
	struct snapshot before;
	struct slot old = S[i];
	size_t size = gen_size(in);

	if (old.p)
		verify_slot(i, "before realloc");
	take_snapshot(&before);
	bool must = must_succeed(size, HEAP_ALIGN);
	unsigned reports = E.reports;
	char *p = heap_realloc(&H, old.p, size);
	trace("#%u realloc(slot %u %p, %zu) -> %p", op_index, i, (void *)old.p, size, (void *)p);
	ENSURE(E.reports == reports, "realloc of live slot %u (%p) reported misuse: %s", i, (void *)old.p,
	       E.last_line);
	if (!p) {
		/* The old block stays, untouched. */
		null_result(&before, must, size, HEAP_ALIGN, "realloc");
		if (old.p)
			verify_slot(i, "after a failed realloc");
		return;
	}
	if (old.p) {
		size_t keep = old.usable < size ? old.usable : size;
		verify_bytes(i, p, old.id, keep, "contents kept by realloc");
		if (p != old.p)
			ring_push(old.p);
	}
	S[i].p = NULL;
	bool in_place = old.p && p == old.p;
	adopt(i, p, size, HEAP_ALIGN, in_place && !old.large ? "realloc in place" : "realloc");
	if (in_place && !old.large && goes_large(size))
		ENSURE(block_bytes(size) <= old.usable + HEAP_OVERHEAD,
		       "realloc(%p, %zu) grew a brk block in place past the large threshold", (void *)p, size);
	if (old.p && p == old.p && old.large && S[i].large) {
		/* A run kept in place: it must not be more than half empty. */
		ENSURE(size >= S[i].usable / 2, "realloc kept a run of %zu usable bytes for %zu", S[i].usable, size);
	}
	fill(&S[i]);
}

/* A pointer the heap must not accept: what it is, and which report kinds are right for it. */
struct bogus {
	uintptr_t p;
	unsigned kinds;   /* bit (1 << HEAP_ERR_*) */
	const char *what;
};

#define KIND(k) (1u << (k))

static int pick_live(struct in *in, int want_large)
{
	unsigned start = u8(in) % NSLOTS;

	for (unsigned k = 0; k < NSLOTS; k++) {
		unsigned i = (start + k) % NSLOTS;
		if (S[i].p && (want_large < 0 || S[i].large == (bool)want_large))
			return (int)i;
	}
	return -1;
}

static char static_target[256] __attribute__((aligned(64)));

static bool gen_bogus_any(struct in *in, struct bogus *b, char *stack_buf)
{
	uint8_t c = u8(in);
	int i;

	b->kinds = KIND(HEAP_ERR_INVALID_FREE);
	switch (c % 12) {
	case 0: /* interior of a live brk block: p - 8 is our pattern */
		if ((i = pick_live(in, 0)) < 0 || S[i].usable <= 16)
			return false;
		b->p = (uintptr_t)S[i].p + 16 * (1 + u16(in) % ((S[i].usable - 1) / 16));
		b->what = "interior of a brk block";
		return true;
	case 1: /* misaligned */
		if ((i = pick_live(in, -1)) < 0)
			return false;
		b->p = (uintptr_t)S[i].p + 1 + u8(in) % 15;
		b->what = "misaligned";
		return true;
	case 2: /* inside or just before a large block */
		if ((i = pick_live(in, 1)) < 0)
			return false;
		switch (u8(in) % 3) {
		case 0: b->p = (uintptr_t)S[i].p + 16 * (1 + u16(in) % (S[i].usable / 16)); break;
		case 1: b->p = (uintptr_t)S[i].p - 16 * (1 + u8(in) % 3); break;
		default: b->p = (uintptr_t)S[i].p & ~(uintptr_t)(E.hpage - 1); break;
		}
		b->what = "interior of a large block";
		return true;
	case 3:
		b->p = ((uintptr_t)stack_buf + 15 + 16 * (u8(in) % 8)) & ~(uintptr_t)15;
		b->what = "stack";
		return true;
	case 4:
		b->p = (uintptr_t)static_target + 16 * (u8(in) % 16);
		b->what = "static";
		return true;
	case 5:
		b->p = (uintptr_t)&H;
		b->what = "the heap's own struct";
		return true;
	case 6: { /* something freed before (maybe long ago) that is not live again */
		if (!ring_n)
			return false;
		unsigned n = ring_n < RING ? ring_n : RING;
		b->p = ring[(ring_n - 1 - u8(in) % n) % RING];
		if (is_live(b->p))
			return false;
		b->kinds |= KIND(HEAP_ERR_DOUBLE_FREE);
		b->what = "freed earlier (delayed double free)";
		return true;
	}
	case 7: case 8: { /* anywhere in and around the break, 16-aligned, not a live block */
		size_t span = E.brk + 512;
		b->p = ((uintptr_t)E.base - 256 + (uintptr_t)(u32(in) % span)) & ~(uintptr_t)15;
		if (is_live(b->p))
			return false;
		b->kinds |= KIND(HEAP_ERR_DOUBLE_FREE);
		b->what = "somewhere in the break";
		return true;
	}
	case 9: { /* unmapped or absurd addresses: must be rejected without being read */
		static const uintptr_t odd[] = { 0x10, 0x1000, 0x7ff0, UINTPTR_MAX & ~(uintptr_t)15,
						 (uintptr_t)1 << 47, ((uintptr_t)1 << 47) - 16, 0xdead0000 };
		uint8_t k = u8(in);
		if (k & 1)
			b->p = odd[(k >> 1) % (sizeof odd / sizeof odd[0])];
		else
			b->p = (uintptr_t)E.base + E.cap + 16 * (k >> 1); /* reserved, PROT_NONE */
		b->what = "unmapped";
		return true;
	}
	case 10: { /* a pointer libc's malloc returned */
		b->p = 0;
		b->what = "libc malloc";
		return true;
	}
	default:
		b->p = u64(in) & ~(uintptr_t)15;
		if (in_brk((void *)b->p) || is_live(b->p))
			return false;
		b->what = "random";
		return true;
	}
}

/* A bogus pointer, never a live block's (a large block's page-rounded address can be its own). */
static bool gen_bogus(struct in *in, struct bogus *b, char *stack_buf)
{
	return gen_bogus_any(in, b, stack_buf) && !(b->p && is_live(b->p));
}

/* One misuse: heap_free, heap_realloc or heap_usable_size of a bogus pointer. */
static void op_bogus(struct in *in, int fn)
{
	char stack_buf[160];
	struct bogus b;
	struct snapshot before;
	void *libc = NULL;

	memset(stack_buf, 0x5a, sizeof stack_buf);
	if (!gen_bogus(in, &b, stack_buf))
		return;
	if (!b.p) {
		libc = malloc(48);
		b.p = (uintptr_t)libc;
	}
	if (fn != 0)
		b.kinds = KIND(HEAP_ERR_INVALID_PTR);
	check_state("bogus pointer chosen");
	take_snapshot(&before);
	unsigned reports = E.reports;
	const char *name = fn == 0 ? "free" : fn == 1 ? "realloc" : "usable_size";
	trace("#%u bogus %s(%#lx) [%s]", op_index, name, (unsigned long)b.p, b.what);
	if (fn == 0) {
		heap_free(&H, (void *)b.p);
	} else if (fn == 1) {
		size_t size = gen_size(in);
		void *r = heap_realloc(&H, (void *)b.p, size);
		ENSURE(!r, "realloc(%#lx, %zu) of a bogus pointer (%s) returned %p", (unsigned long)b.p, size, b.what,
		       r);
	} else {
		size_t n = heap_usable_size(&H, (void *)b.p);
		ENSURE(n == 0, "usable_size(%#lx) of a bogus pointer (%s) returned %zu", (unsigned long)b.p, b.what,
		       n);
	}
	if (have_report) {
		ENSURE(E.reports == reports + 1, "bogus %s(%#lx) [%s]: %u reports, expected 1", name,
		       (unsigned long)b.p, b.what, E.reports - reports);
		ENSURE(b.kinds & KIND(E.last_kind), "bogus %s(%#lx) [%s]: reported kind %d (%s)", name,
		       (unsigned long)b.p, b.what, E.last_kind, E.last_line);
		ENSURE(E.last_addr == b.p, "bogus %s(%#lx) [%s]: report names %#lx", name, (unsigned long)b.p, b.what,
		       (unsigned long)E.last_addr);
	} else {
		ENSURE(E.reports == reports, "report called though none was installed");
	}
	same_as_snapshot(&before, "a reported misuse");
	free(libc);
}

/* Free slot i, then free it again at once: a double free the heap must see as such. */
static void op_double_free(unsigned i)
{
	struct snapshot before;

	if (!S[i].p)
		return;
	uintptr_t p = (uintptr_t)S[i].p;
	bool large = S[i].large;
	size_t brk_before_free = E.brk;
	do_free_slot(i, "then again");
	check_state("free before a double free");
	bool trimmed = E.brk != brk_before_free;
	take_snapshot(&before);
	unsigned reports = E.reports;
	trace("#%u double free %#lx", op_index, (unsigned long)p);
	heap_free(&H, (void *)p);
	if (have_report) {
		/*
		 * A brk block's header stays, marked free, and still fits below
		 * the break unless the free trimmed the break: then either kind.
		 */
		int want = large ? HEAP_ERR_INVALID_FREE : HEAP_ERR_DOUBLE_FREE;
		bool kind_ok = E.last_kind == want || (trimmed && E.last_kind == HEAP_ERR_INVALID_FREE);
		ENSURE(E.reports == reports + 1 && kind_ok && E.last_addr == p,
		       "immediate double free of %#lx (%s): %u reports, kind %d (wanted %d): %s", (unsigned long)p,
		       large ? "large" : "brk", E.reports - reports, E.last_kind, want, E.last_line);
	}
	same_as_snapshot(&before, "a double free");
}

static void op_trim(void)
{
	struct heap_stats a = stats();
	size_t brk = E.brk;
	unsigned reports = E.reports;
	size_t r = heap_trim(&H);
	struct heap_stats b = stats();

	trace("#%u trim -> %zu", op_index, r);
	ENSURE(E.reports == reports, "trim reported misuse");
	ENSURE(brk - E.brk == r, "trim returned %zu but the break moved by %zu", r, brk - E.brk);
	ENSURE(a.used_blocks == b.used_blocks && a.in_use_bytes == b.in_use_bytes,
	       "trim changed the used blocks");
	ENSURE(!r || !E.refuse_shrink, "trim gave back %zu bytes through a refusing sbrk", r);
}

static void op_usable(unsigned i)
{
	if (!S[i].p) {
		ENSURE(heap_usable_size(&H, NULL) == 0, "usable_size(NULL) != 0");
		return;
	}
	unsigned reports = E.reports;
	size_t n = heap_usable_size(&H, S[i].p);
	trace("#%u usable_size(slot %u %p) -> %zu", op_index, i, (void *)S[i].p, n);
	ENSURE(E.reports == reports && n == S[i].usable, "usable_size of slot %u changed: %zu, was %zu", i, n,
	       S[i].usable);
	/* Use it: a fresh pattern over every usable byte. */
	verify_slot(i, "before rewrite");
	S[i].id = ++next_id;
	fill(&S[i]);
}

/* ----- one input ----- */

static void finish(void)
{
	struct heap_stats st;

	E.fail_sbrk = E.fail_map = false;
	E.refuse_shrink = false;
	verify_all("the last op");
	for (unsigned i = 0; i < NSLOTS; i++)
		if (S[i].p) {
			do_free_slot(i, "teardown");
			check_state("teardown free");
		}
	verify_all("teardown");
	st = stats();
	ENSURE(st.used_blocks == 0 && st.in_use_bytes == 0 && st.large_blocks == 0 && st.large_bytes == 0 &&
		       E.nruns == 0 && E.mapped == 0,
	       "teardown: blocks left: used %zu (%zu bytes), large %zu (%zu bytes), runs %u", st.used_blocks,
	       st.in_use_bytes, st.large_blocks, st.large_bytes, E.nruns);
	ENSURE(st.free_blocks == 1 && st.free_bytes == st.brk_bytes - 16,
	       "teardown: the empty break is %zu free blocks of %zu bytes in %zu", st.free_blocks, st.free_bytes,
	       st.brk_bytes);
	heap_trim(&H);
	check_state("final trim");
	ENSURE(E.brk == cfg.grow, "an empty heap trims to %zu, not to its initial break %zu", E.brk, cfg.grow);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t pages[] = { 4096, 4096, 4096, 64, 128, 512, 1024, 8192 };
	static const size_t grows[] = { 0, 4096, 16384, 65536, 262144, 1, 100000, 8192 };
	static const size_t trims[] = { 0, 1, 4096, 65536, 131072, MiB, 8192, SIZE_MAX };
	static const size_t lts[] = { 0, 0, 1, 512, 4096, 32768, MiB, SIZE_MAX };
	static const size_t caps[] = { 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * KiB, 128 * KiB, 2 * MiB, 512 * KiB };
	static const size_t lcaps[] = { 0, 512 * KiB, 4 * MiB, 32 * MiB, MiB, 64 * KiB, 16 * MiB, 8 * MiB };
	static const unsigned every[] = { 1, 2, 4, 8, 16, 32, 64, 100000 };
	struct in in = { data, size };

	memset(&E, 0, sizeof E);
	memset(S, 0, sizeof S);
	memset(&H, 0, sizeof H);
	next_id = 0;
	ring_n = 0;
	last_peak = 0;
	trace_n = 0;
	op_index = 0;

	uint8_t c0 = u8(&in), c1 = u8(&in), c2 = u8(&in), c3 = u8(&in), flags = u8(&in);
	E.hostpage = (size_t)sysconf(_SC_PAGESIZE);
	E.hpage = pages[c0 % 8];
	E.cap = caps[c1 % 8];
	E.large_cap = lcaps[(c1 >> 3) % 8];
	E.refuse_shrink = flags & 4;
	have_report = !(flags & 8) || !(flags & 16);
	verify_every = every[(c0 >> 3) % 8];

	struct heap_env env = {
		.sbrk = f_sbrk,
		.map_pages = (flags & 3) == 3 ? NULL : f_map,
		.unmap_pages = (flags & 3) == 3 ? NULL : f_unmap,
		.report = have_report ? f_report : NULL,
		.ctx = &E,
		.page_size = E.hpage,
		.grow_bytes = grows[c2 % 8],
		.trim_threshold = trims[(c2 >> 3) % 8],
		.large_threshold = lts[c3 % 8],
		.secret = (flags & 32) ? u64(&in) : 0,
	};
#if FUZZ_HEAP_DEBUG
	env.debug = 0;
#endif
	cfg.map = env.map_pages != NULL;
	cfg.lt = env.large_threshold ? env.large_threshold : HEAP_DEFAULT_LARGE_THRESHOLD;
	cfg.grow = round_up(env.grow_bytes ? env.grow_bytes : HEAP_DEFAULT_GROW_BYTES, E.hpage);

	/* The reservation: a guard page, the region (aligned for the heap's page), a guard page. */
	size_t align = E.hpage > E.hostpage ? E.hpage : E.hostpage;
	E.map_bytes = E.cap + 2 * E.hostpage + align + 64 * KiB;
	E.map = mmap(NULL, E.map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ENSURE(E.map != MAP_FAILED, "host mmap failed");
	E.base = (char *)round_up((uintptr_t)E.map + E.hostpage, align);

	trace("config: page %zu grow %zu trim %zu lt %zu cap %zu large_cap %zu map %d report %d stubborn %d every %u",
	      E.hpage, env.grow_bytes, env.trim_threshold, env.large_threshold, E.cap, E.large_cap, cfg.map,
	      have_report, E.refuse_shrink, verify_every);
	int rc = heap_init(&H, &env);
	if (cfg.grow > E.cap) {
		ENSURE(rc == -1, "heap_init succeeded though its first chunk (%zu) exceeds the cap %zu", cfg.grow, E.cap);
		env_close();
		return 0;
	}
	ENSURE(rc == 0, "heap_init failed (page %zu grow %zu cap %zu)", E.hpage, cfg.grow, E.cap);
	ENSURE(E.brk == cfg.grow, "heap_init took %zu bytes of break, expected one chunk of %zu", E.brk, cfg.grow);
	check_state("heap_init");
	verify_all("heap_init");

	while (in.n && op_index < MAX_OPS) {
		uint8_t op = u8(&in);
		unsigned i = u8(&in) % NSLOTS;

		op_index++;
		switch (op % 20) {
		case 0: case 1: case 2: case 3:
			op_malloc(&in, i);
			break;
		case 4:
			op_calloc(&in, i);
			break;
		case 5: case 6: case 7:
			op_realloc(&in, i);
			break;
		case 8:
			op_memalign(&in, i);
			break;
		case 9: case 10: case 11:
			if (S[i].p) {
				do_free_slot(i, "free");
			} else {
				unsigned reports = E.reports;
				heap_free(&H, NULL);
				ENSURE(E.reports == reports, "free(NULL) was reported");
			}
			break;
		case 12:
			op_bogus(&in, 0);
			break;
		case 13:
			op_bogus(&in, 1 + (op >> 7));
			break;
		case 14:
			op_double_free(i);
			break;
		case 15:
			op_usable(i);
			break;
		case 16:
			op_trim();
			break;
		case 17:
			verify_all("a verify op");
			break;
		case 18:
			switch (i % 4) {
			case 0: E.fail_sbrk = true; trace("#%u arm: next sbrk fails", op_index); break;
			case 1: E.fail_map = true; trace("#%u arm: next map_pages fails", op_index); break;
			default:
				E.refuse_shrink = !E.refuse_shrink;
				trace("#%u sbrk %s shrinking", op_index, E.refuse_shrink ? "refuses" : "allows");
				break;
			}
			break;
		default: {
			/* Free a run of slots, as a program leaving a phase would. */
			unsigned n = 1 + u8(&in) % 16;
			for (unsigned k = 0; k < n; k++)
				if (S[(i + k) % NSLOTS].p) {
					do_free_slot((i + k) % NSLOTS, "burst");
					check_state("burst free");
				}
			break;
		}
		}
		check_state("the op");
		if (op_index % verify_every == 0)
			verify_all("the op");
	}
	finish();
	env_close();
	return 0;
}
