/*
 * tests/host/test_heap.c - host tests of the kmalloc core (alloc/heap.c).
 *
 * The environment is as close to the kernel's as a process gets: the break
 * lives in a 1 GiB PROT_NONE reservation that sbrk opens page by page
 * (mprotect), so touching past the break faults under ASan and shrinking
 * really gives pages back (madvise); large runs come from mmap with PROT_NONE
 * guard pages on both sides. Caps on both simulate running out of memory.
 *
 * Usage: test_heap [seed]   (or HEAP_SEED=n; HEAP_OPS=n sizes the shadow run)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "../../alloc/heap.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define RESERVE GiB

/* ----- the test environment ----- */

struct run { void *p; size_t bytes; };

struct tenv {
	char *base;            /* the reservation */
	size_t page;
	size_t brk;            /* bytes open to read/write */
	size_t cap;            /* sbrk refuses to pass this many bytes */
	size_t large_cap;      /* map_pages refuses when mapped bytes would pass this */
	size_t mapped_bytes;
	struct run runs[4096]; /* live runs, to check unmap gets back exactly what map gave */
	size_t nruns, map_calls, unmap_calls, sbrk_calls;
	bool refuse_shrink;    /* sbrk refuses to move the break down */
	int env_errors;        /* callbacks misused by the heap */
	int reports, last_kind;
	uintptr_t last_addr;
	char last_line[256];
};

static struct tenv E;
static struct heap H;
static bool E_open;

static void *t_sbrk(void *ctx, intptr_t delta)
{
	struct tenv *e = ctx;
	char *old = e->base + e->brk;

	if (delta == 0)
		return old;
	if ((size_t)(delta < 0 ? -delta : delta) % e->page) {
		e->env_errors++;
		return (void *)-1;
	}
	if (delta > 0) {
		if ((size_t)delta > e->cap - e->brk)
			return (void *)-1;
		if (mprotect(old, (size_t)delta, PROT_READ | PROT_WRITE))
			return (void *)-1;
	} else {
		size_t d = (size_t)-delta;
		if (e->refuse_shrink)
			return (void *)-1;
		if (d > e->brk) {
			e->env_errors++;
			return (void *)-1;
		}
		madvise(old - d, d, MADV_DONTNEED);
		mprotect(old - d, d, PROT_NONE);
	}
	e->brk += (size_t)delta;
	e->sbrk_calls++;
	return old;
}

static void *t_map(void *ctx, size_t bytes)
{
	struct tenv *e = ctx;

	e->map_calls++;
	if (bytes % e->page || !bytes) {
		e->env_errors++;
		return NULL;
	}
	if (bytes > e->large_cap - e->mapped_bytes || e->nruns == sizeof e->runs / sizeof e->runs[0])
		return NULL;
	char *m = mmap(NULL, bytes + 2 * e->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + e->page, bytes, PROT_READ | PROT_WRITE)) {
		munmap(m, bytes + 2 * e->page);
		return NULL;
	}
	e->runs[e->nruns++] = (struct run){ m + e->page, bytes };
	e->mapped_bytes += bytes;
	return m + e->page;
}

static void t_unmap(void *ctx, void *p, size_t bytes)
{
	struct tenv *e = ctx;

	e->unmap_calls++;
	for (size_t i = 0; i < e->nruns; i++) {
		if (e->runs[i].p == p) {
			if (e->runs[i].bytes != bytes)
				e->env_errors++;
			munmap((char *)p - e->page, e->runs[i].bytes + 2 * e->page);
			e->mapped_bytes -= e->runs[i].bytes;
			e->runs[i] = e->runs[--e->nruns];
			return;
		}
	}
	e->env_errors++;
}

static void t_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	struct tenv *e = ctx;

	e->reports++;
	e->last_kind = kind;
	e->last_addr = addr;
	snprintf(e->last_line, sizeof e->last_line, "%s", line);
	printf("# report: %s\n", line);
}

static void env_close(void)
{
	if (!E_open)
		return;
	while (E.nruns) {
		E.nruns--;
		munmap((char *)E.runs[E.nruns].p - E.page, E.runs[E.nruns].bytes + 2 * E.page);
	}
	munmap(E.base, RESERVE);
	E_open = false;
}

static struct heap_env env_for(void)
{
	return (struct heap_env){
		.sbrk = t_sbrk, .map_pages = t_map, .unmap_pages = t_unmap, .report = t_report,
		.ctx = &E, .page_size = E.page,
	};
}

/* A fresh reservation and environment, no heap yet. */
static void env_open(void)
{
	env_close();
	memset(&E, 0, sizeof E);
	E.page = (size_t)sysconf(_SC_PAGESIZE);
	E.base = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	REQUIRE(E.base != MAP_FAILED);
	E.cap = RESERVE;
	E.large_cap = GiB;
	E_open = true;
}

/* A fresh environment and a heap on it with default tuning. */
static void setup(void)
{
	env_open();
	struct heap_env env = env_for();
	REQUIRE(heap_init(&H, &env) == 0);
}

#define HEAP_CLEAN()                                                          \
	do {                                                                  \
		char why_[256];                                               \
		if (heap_check(&H, why_, sizeof why_)) {                      \
			htest_fail(__FILE__, __LINE__, why_);                 \
			longjmp(htest.leave, 1);                              \
		}                                                             \
	} while (0)

static struct heap_stats stats(void)
{
	struct heap_stats s;
	heap_get_stats(&H, &s);
	return s;
}

static bool stats_equal(struct heap_stats a, struct heap_stats b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static bool in_brk(const void *p)
{
	return (const char *)p >= E.base && (const char *)p < E.base + E.brk;
}

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* Nothing left allocated, no report, no callback misuse, no run left mapped. */
static void expect_empty(void)
{
	struct heap_stats s = stats();
	HEAP_CLEAN();
	CHECK_EQ_U(s.used_blocks, 0);
	CHECK_EQ_U(s.in_use_bytes, 0);
	CHECK_EQ_U(s.large_blocks, 0);
	CHECK_EQ_U(s.large_bytes, 0);
	CHECK_EQ_U(E.nruns, 0);
	CHECK_EQ_U(E.env_errors, 0);
	CHECK_EQ_U(s.brk_bytes, E.brk);
}

/* ----- a tiny deterministic generator ----- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t seed;

/* ----- sizes ----- */

HTEST(init_defaults)
{
	setup();
	struct heap_stats s = stats();
	CHECK_EQ_U(s.brk_bytes, HEAP_DEFAULT_GROW_BYTES);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
	CHECK_EQ_U(s.free_blocks, 1);
	CHECK_EQ_U(s.free_bytes, HEAP_DEFAULT_GROW_BYTES - 16);
	CHECK_EQ_U(s.largest_free, HEAP_DEFAULT_GROW_BYTES - 16);
	CHECK_EQ_U(H.env.large_threshold, HEAP_DEFAULT_LARGE_THRESHOLD);
	CHECK_EQ_U(H.env.trim_threshold, HEAP_DEFAULT_TRIM_THRESHOLD);
	CHECK_EQ_U(H.debug, 0);
	expect_empty();
}

HTEST(init_refuses_bad_env)
{
	struct heap_env env;

	env_open();
	env = env_for();
	env.page_size = 3000;
	CHECK(heap_init(&H, &env) == -1);
	env = env_for();
	env.sbrk = NULL;
	CHECK(heap_init(&H, &env) == -1);
	env = env_for();
	env.unmap_pages = NULL;
	CHECK(heap_init(&H, &env) == -1);
	CHECK(heap_init(&H, NULL) == -1);
	/* The first sbrk failing is running out, not a crash. */
	env = env_for();
	E.cap = E.page;
	CHECK(heap_init(&H, &env) == -1);
	CHECK_EQ_U(E.brk, 0);
	E.cap = RESERVE;
	CHECK(heap_init(&H, &env) == 0);
	expect_empty();
}

HTEST(sizes_around_powers_of_two)
{
	static void *p[80];
	static size_t n[80];
	size_t count = 0;

	setup();
	size_t base_brk = E.brk;
	n[count++] = 0;
	for (unsigned k = 0; k <= 24; k++) {
		n[count++] = ((size_t)1 << k) - 1;
		n[count++] = (size_t)1 << k;
		n[count++] = ((size_t)1 << k) + 1;
	}
	for (size_t i = 0; i < count; i++) {
		p[i] = heap_malloc(&H, n[i]);
		REQUIRE(p[i]);
		CHECK(aligned(p[i], 16));
		size_t u = heap_usable_size(&H, p[i]);
		CHECK(u >= n[i]);
		CHECK(u >= 1);
		CHECK(in_brk(p[i]) == (n[i] < HEAP_DEFAULT_LARGE_THRESHOLD));
		memset(p[i], (int)i, u);
	}
	HEAP_CLEAN();
	for (size_t i = 0; i < count; i++) {
		size_t u = heap_usable_size(&H, p[i]);
		unsigned char *c = p[i];
		CHECK(c[0] == (unsigned char)i && c[u - 1] == (unsigned char)i);
		heap_free(&H, p[i]);
	}
	expect_empty();
	CHECK_EQ_U(E.brk, base_brk);
}

HTEST(malloc_zero_is_unique_and_freeable)
{
	setup();
	void *a = heap_malloc(&H, 0), *b = heap_malloc(&H, 0);
	REQUIRE(a && b);
	CHECK(a != b);
	CHECK_EQ_U(heap_usable_size(&H, a), HEAP_MIN_BLOCK - HEAP_OVERHEAD);
	CHECK_EQ_U(stats().used_blocks, 2);
	heap_free(&H, a);
	heap_free(&H, b);
	heap_free(&H, NULL);
	CHECK_EQ_U(heap_usable_size(&H, NULL), 0);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(huge_sizes_fail_cleanly)
{
	static const size_t huge[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 7, SIZE_MAX - 8, SIZE_MAX - 15, SIZE_MAX - 16,
		SIZE_MAX - 4095, SIZE_MAX - 4096, SIZE_MAX - 65536, SIZE_MAX - (1 << 20),
		(size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 15,
		(size_t)PTRDIFF_MAX - 4096, (size_t)1 << 48, (size_t)1 << 40, 2 * GiB,
	};
	setup();
	void *keep = heap_malloc(&H, 100);
	REQUIRE(keep);
	memset(keep, 0x77, 100);
	struct heap_stats before = stats();
	size_t brk_before = E.brk;

	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		size_t n = huge[i];
		CHECK(heap_malloc(&H, n) == NULL);
		CHECK(heap_calloc(&H, 1, n) == NULL);
		CHECK(heap_calloc(&H, n, 1) == NULL);
		CHECK(heap_memalign(&H, 16, n) == NULL);
		CHECK(heap_memalign(&H, 4096, n) == NULL);
		CHECK(heap_memalign(&H, 2 * MiB, n) == NULL);
		CHECK(heap_realloc(&H, keep, n) == NULL);
		CHECK(stats_equal(stats(), before));
		CHECK_EQ_U(E.brk, brk_before);
	}
	/* Alignments too big for any region. */
	CHECK(heap_memalign(&H, (size_t)1 << 63, 1) == NULL);
	CHECK(heap_memalign(&H, (size_t)1 << 62, 1) == NULL);
	CHECK(heap_memalign(&H, (size_t)1 << 40, 1) == NULL);
	CHECK(stats_equal(stats(), before));
	for (int i = 0; i < 100; i++)
		CHECK(((unsigned char *)keep)[i] == 0x77);
	heap_free(&H, keep);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(calloc_overflow_pairs)
{
	static const size_t pairs[][2] = {
		{ SIZE_MAX / 2 + 1, 2 }, { 2, SIZE_MAX / 2 + 1 }, { SIZE_MAX, SIZE_MAX },
		{ (size_t)1 << 32, (size_t)1 << 32 }, { SIZE_MAX / 3 + 1, 3 }, { 3, SIZE_MAX / 3 + 1 },
		{ 65537, SIZE_MAX / 65536 }, { SIZE_MAX, 2 }, { (size_t)PTRDIFF_MAX, 3 },
		{ (size_t)1 << 33, (size_t)1 << 31 }, { SIZE_MAX / 16 + 1, 16 },
	};
	setup();
	struct heap_stats before = stats();
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		CHECK(heap_calloc(&H, pairs[i][0], pairs[i][1]) == NULL);
	CHECK(stats_equal(stats(), before));
	void *z = heap_calloc(&H, 0, SIZE_MAX);
	CHECK(z != NULL);
	heap_free(&H, z);
	z = heap_calloc(&H, SIZE_MAX, 0);
	CHECK(z != NULL);
	heap_free(&H, z);
	expect_empty();
}

HTEST(calloc_zeroes_reused_memory)
{
	static const size_t sizes[] = { 1, 24, 100, 1000, 5000, 40000, 200000 };
	enum { N = sizeof sizes / sizeof sizes[0] };
	void *p[N], *q[N];
	int reused = 0;

	setup();
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			p[i] = heap_malloc(&H, sizes[i]);
			REQUIRE(p[i]);
			memset(p[i], 0xff, heap_usable_size(&H, p[i]));
		}
		for (int i = 0; i < N; i++)
			heap_free(&H, p[i]);
		for (int i = 0; i < N; i++) {
			q[i] = heap_calloc(&H, sizes[i], 1);
			REQUIRE(q[i]);
			for (int j = 0; j < N; j++)
				reused += q[i] == p[j];
			unsigned char *c = q[i];
			for (size_t k = 0; k < sizes[i]; k++)
				if (c[k]) {
					CHECK(c[k] == 0);
					break;
				}
		}
		for (int i = 0; i < N; i++)
			heap_free(&H, q[i]);
	}
	CHECK(reused > 0);
	expect_empty();
}

/* ----- alignment ----- */

HTEST(memalign_every_power_of_two)
{
	static const size_t sizes[] = { 0, 1, 24, 100, 4096, 100000, 200000 };
	static const size_t bad[] = { 0, 3, 5, 6, 7, 12, 24, 48, 100, 4097, 3 * 4096,
				      (2 * MiB) + 1, SIZE_MAX, (size_t)PTRDIFF_MAX };
	void *live[8] = { 0 };

	setup();
	size_t base_brk = E.brk;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(heap_memalign(&H, bad[i], 16) == NULL);
	CHECK_EQ_U(stats().used_blocks, 0);

	for (unsigned k = 0; k <= 22; k++) {
		size_t a = (size_t)1 << k;
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			void *p = heap_memalign(&H, a, sizes[i]);
			REQUIRE(p);
			CHECK(aligned(p, a));
			CHECK(aligned(p, 16));
			size_t u = heap_usable_size(&H, p);
			CHECK(u >= sizes[i]);
			memset(p, 0xa5, u);
			/* Keep a few alive so later ones meet a fragmented heap. */
			size_t slot = (k * 7 + i) % 8;
			heap_free(&H, live[slot]);
			live[slot] = p;
		}
		HEAP_CLEAN();
	}
	for (int i = 0; i < 8; i++)
		heap_free(&H, live[i]);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	CHECK_EQ_U(E.brk, base_brk);
}

HTEST(memalign_gap_is_reused)
{
	setup();
	void *p = heap_memalign(&H, 2 * MiB, 100);
	REQUIRE(p);
	CHECK(aligned(p, 2 * MiB));
	CHECK(in_brk(p));
	/* The leading part went back to the free lists: a big malloc fits in it. */
	struct heap_stats s = stats();
	CHECK(s.largest_free >= MiB);
	void *q = heap_malloc(&H, 100000);
	REQUIRE(q);
	CHECK((char *)q < (char *)p);
	heap_free(&H, q);
	heap_free(&H, p);
	expect_empty();
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

/* ----- realloc ----- */

static void fill(void *p, size_t n, unsigned seed8)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(seed8 + i * 31);
}

static bool filled(const void *p, size_t n, unsigned seed8)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed8 + i * 31))
			return false;
	return true;
}

HTEST(realloc_in_place_and_moving)
{
	setup();
	/* Grow into a free next block. */
	void *a = heap_malloc(&H, 100), *b = heap_malloc(&H, 100), *c = heap_malloc(&H, 100);
	REQUIRE(a && b && c);
	fill(a, 100, 1);
	heap_free(&H, b);
	void *r = heap_realloc(&H, a, 180);
	CHECK(r == a);
	CHECK(filled(r, 100, 1));
	CHECK(heap_usable_size(&H, r) >= 180);
	HEAP_CLEAN();

	/* Grow with a used neighbour: moves, keeps contents, neighbour untouched. */
	fill(c, 100, 2);
	void *d = heap_malloc(&H, 100);
	REQUIRE(d);
	fill(d, 100, 3);
	r = heap_realloc(&H, c, 1000);
	REQUIRE(r);
	CHECK(r != c);
	CHECK(filled(r, 100, 2));
	CHECK(filled(d, 100, 3));
	c = r;
	HEAP_CLEAN();

	/* Shrink in place: the tail goes back to the free lists. */
	fill(c, 1000, 4);
	size_t free_before = stats().free_bytes;
	r = heap_realloc(&H, c, 100);
	CHECK(r == c);
	CHECK(heap_usable_size(&H, r) < 200);
	CHECK(stats().free_bytes > free_before);
	CHECK(filled(r, 100, 4));
	HEAP_CLEAN();

	/* Same size, and the same usable size: nothing moves. */
	CHECK(heap_realloc(&H, r, 100) == r);
	CHECK(heap_realloc(&H, r, heap_usable_size(&H, r)) == r);
	CHECK(filled(r, 100, 4));

	/* Size 0 shrinks to a minimum block and keeps it allocated. */
	r = heap_realloc(&H, r, 0);
	REQUIRE(r == c);
	CHECK_EQ_U(heap_usable_size(&H, r), HEAP_MIN_BLOCK - HEAP_OVERHEAD);
	CHECK(filled(r, 24, 4));

	/* NULL is malloc. */
	void *n = heap_realloc(&H, NULL, 77);
	REQUIRE(n);
	CHECK(heap_usable_size(&H, n) >= 77);

	heap_free(&H, a);
	heap_free(&H, r);
	heap_free(&H, d);
	heap_free(&H, n);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(realloc_grows_the_break_in_place)
{
	setup();
	void *p = heap_malloc(&H, 40000);
	REQUIRE(p);
	fill(p, 40000, 5);
	size_t brk_before = E.brk;
	/* p is the last used block: the break grows under it. */
	void *r = heap_realloc(&H, p, 120000);
	CHECK(r == p);
	CHECK(E.brk > brk_before);
	CHECK(filled(r, 40000, 5));
	memset((char *)r + 40000, 0, 80000);
	HEAP_CLEAN();
	/* And with a used block at the very top, growing works by moving. */
	void *q = heap_malloc(&H, 100);
	REQUIRE(q);
	heap_free(&H, r);
	heap_free(&H, q);
	/* All free now, but below trim_threshold: only heap_trim takes it. */
	heap_trim(&H);
	expect_empty();
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

HTEST(realloc_across_the_large_threshold)
{
	setup();
	void *p = heap_malloc(&H, 1000);
	REQUIRE(p);
	fill(p, 1000, 6);
	void *r = heap_realloc(&H, p, 300000);
	REQUIRE(r);
	CHECK(!in_brk(r));
	CHECK_EQ_U(stats().large_blocks, 1);
	CHECK_EQ_U(stats().used_blocks, 0);
	CHECK(filled(r, 1000, 6));
	fill(r, 300000, 7);

	/* Large to larger, large shrinking a little (stays), large to small (moves). */
	r = heap_realloc(&H, r, 900000);
	REQUIRE(r);
	CHECK(filled(r, 300000, 7));
	void *s = heap_realloc(&H, r, 800000);
	CHECK(s == r);
	r = heap_realloc(&H, s, 500);
	REQUIRE(r);
	CHECK(in_brk(r));
	CHECK(filled(r, 500, 7));
	CHECK_EQ_U(stats().large_blocks, 0);
	CHECK_EQ_U(E.nruns, 0);
	heap_free(&H, r);
	expect_empty();
}

HTEST(realloc_failure_keeps_the_block)
{
	setup();
	void *p = heap_malloc(&H, 1000), *q = heap_malloc(&H, 1000);
	REQUIRE(p && q);
	fill(p, 1000, 8);
	E.cap = E.brk;               /* the break cannot grow */
	E.large_cap = E.mapped_bytes; /* nor can anything be mapped */
	struct heap_stats before = stats();
	CHECK(heap_realloc(&H, p, 200000) == NULL);   /* would go large */
	CHECK(heap_realloc(&H, q, 100000) == NULL);   /* top block, break cannot grow */
	CHECK(heap_realloc(&H, p, 100000) == NULL);   /* would move */
	CHECK(stats_equal(stats(), before));
	CHECK(filled(p, 1000, 8));
	CHECK_EQ_U(heap_usable_size(&H, p), 1000);
	HEAP_CLEAN();
	E.cap = RESERVE;
	void *r = heap_realloc(&H, p, 100000);
	REQUIRE(r);
	CHECK(filled(r, 1000, 8));
	heap_free(&H, r);
	heap_free(&H, q);
	expect_empty();
}

/* ----- coalescing and trimming ----- */

enum { NCO = 1500 };

static void alloc_many(void **p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = heap_malloc(&H, 16 + (i * 37) % 500);
		REQUIRE(p[i]);
	}
}

static void free_in_order(void **p, const size_t *order, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		heap_free(&H, p[order[i]]);
		if (i % 97 == 0)
			HEAP_CLEAN();
	}
	struct heap_stats s = stats();
	HEAP_CLEAN();
	CHECK_EQ_U(s.free_blocks, 1);
	CHECK_EQ_U(s.used_blocks, 0);
	CHECK_EQ_U(s.free_bytes, s.brk_bytes - 16);
	/* Trimmed as it went; at most trim_threshold may stay on top. */
	CHECK(s.brk_bytes == HEAP_DEFAULT_GROW_BYTES || s.free_bytes <= HEAP_DEFAULT_TRIM_THRESHOLD);
	heap_trim(&H);
	CHECK_EQ_U(stats().brk_bytes, HEAP_DEFAULT_GROW_BYTES);
}

HTEST(coalesce_forward_reverse_random)
{
	static void *p[NCO];
	static size_t order[NCO];

	setup();
	rng_state = seed;
	for (int pattern = 0; pattern < 4; pattern++) {
		alloc_many(p, NCO);
		CHECK(stats().brk_bytes > HEAP_DEFAULT_TRIM_THRESHOLD);
		for (size_t i = 0; i < NCO; i++)
			order[i] = i;
		if (pattern == 1) {
			for (size_t i = 0; i < NCO; i++)
				order[i] = NCO - 1 - i;
		} else if (pattern == 2) {
			for (size_t i = NCO - 1; i > 0; i--) {
				size_t j = rnd() % (i + 1), t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		} else if (pattern == 3) {
			/* Odd ones first: every even free then merges on both sides. */
			for (size_t i = 0; i < NCO; i++)
				order[i] = i < NCO / 2 ? 2 * i + 1 : 2 * (i - NCO / 2);
		}
		free_in_order(p, order, NCO);
	}
	expect_empty();
}

static void count_walk(void *ctx, void *ptr, size_t size, int used)
{
	size_t *c = ctx;
	(void)ptr;
	(void)size;
	c[used]++;
}

HTEST(trim_gives_the_break_back)
{
	static void *p[4000];

	setup();
	size_t base_brk = E.brk;
	for (int i = 0; i < 4000; i++) {
		p[i] = heap_malloc(&H, 1000);
		REQUIRE(p[i]);
	}
	CHECK(E.brk >= 4000 * 1000);
	size_t shrinks_before = E.sbrk_calls;
	for (int i = 0; i < 4000; i++)
		heap_free(&H, p[i]);
	CHECK(E.sbrk_calls > shrinks_before);
	CHECK_EQ_U(E.brk, base_brk);
	expect_empty();

	/* A top block at or below the threshold stays; heap_trim takes it anyway. */
	int n = 0;
	while (E.brk < 2 * HEAP_DEFAULT_GROW_BYTES) {
		p[n] = heap_malloc(&H, 1000);
		REQUIRE(p[n]);
		n++;
	}
	CHECK_EQ_U(E.brk, 2 * HEAP_DEFAULT_GROW_BYTES);
	for (int i = 0; i < n; i++)
		heap_free(&H, p[i]);
	CHECK_EQ_U(E.brk, 2 * HEAP_DEFAULT_GROW_BYTES);
	CHECK_EQ_U(heap_trim(&H), HEAP_DEFAULT_GROW_BYTES);
	CHECK_EQ_U(E.brk, base_brk);
	CHECK_EQ_U(heap_trim(&H), 0);
	expect_empty();

	/* Trimming above a used block keeps a small page-aligned remainder. */
	void *a = heap_malloc(&H, 100000), *b = heap_malloc(&H, 100);
	void *c = heap_malloc(&H, 120000), *c2 = heap_malloc(&H, 120000);
	REQUIRE(a && b && c && c2);
	fill(a, 100000, 9);
	fill(b, 100, 10);
	heap_free(&H, c);
	heap_free(&H, c2);
	HEAP_CLEAN();
	struct heap_stats s = stats();
	CHECK(s.largest_free < 2 * E.page);
	CHECK(E.brk <= (size_t)((char *)b - E.base) + 100 + 2 * E.page);
	CHECK(filled(a, 100000, 9) && filled(b, 100, 10));
	size_t counts[3] = { 0 };
	heap_walk(&H, count_walk, counts);
	CHECK_EQ_U(counts[HEAP_WALK_USED], 2);
	CHECK_EQ_U(counts[HEAP_WALK_FREE], s.free_blocks);
	heap_free(&H, b);
	heap_free(&H, a);
	CHECK(heap_trim(&H) > 0);
	expect_empty();
	CHECK_EQ_U(E.brk, base_brk);
}

/* ----- large blocks ----- */

HTEST(large_blocks_are_page_mapped)
{
	setup();
	size_t t = HEAP_DEFAULT_LARGE_THRESHOLD;
	void *small = heap_malloc(&H, t - 1);
	REQUIRE(small);
	CHECK(in_brk(small));
	CHECK_EQ_U(E.map_calls, 0);

	void *p = heap_malloc(&H, t);
	REQUIRE(p);
	CHECK(!in_brk(p));
	CHECK_EQ_U(E.nruns, 1);
	size_t u = heap_usable_size(&H, p);
	CHECK(u >= t);
	CHECK((char *)p + u == (char *)E.runs[0].p + E.runs[0].bytes);
	memset(p, 0x3c, u);
	struct heap_stats s = stats();
	CHECK_EQ_U(s.large_blocks, 1);
	CHECK_EQ_U(s.large_bytes, E.mapped_bytes);
	CHECK(s.peak_in_use >= s.in_use_bytes + s.large_bytes);

	void *q = heap_memalign(&H, 2 * MiB, 300000);
	REQUIRE(q);
	CHECK(aligned(q, 2 * MiB));
	CHECK(!in_brk(q));
	memset(q, 0x3d, heap_usable_size(&H, q));
	CHECK_EQ_U(stats().large_blocks, 2);
	CHECK_EQ_U(stats().large_bytes, E.mapped_bytes);
	size_t counts[3] = { 0 };
	heap_walk(&H, count_walk, counts);
	CHECK_EQ_U(counts[HEAP_WALK_LARGE], 2);
	HEAP_CLEAN();

	heap_free(&H, p);
	CHECK_EQ_U(E.nruns, 1);
	CHECK_EQ_U(stats().large_blocks, 1);
	heap_free(&H, q);
	CHECK_EQ_U(E.unmap_calls, 2);
	heap_free(&H, small);
	expect_empty();
}

HTEST(no_map_pages_means_everything_in_the_break)
{
	env_open();
	struct heap_env env = env_for();
	env.map_pages = NULL;
	env.unmap_pages = NULL;
	REQUIRE(heap_init(&H, &env) == 0);
	void *p = heap_malloc(&H, 3 * MiB);
	REQUIRE(p);
	CHECK(in_brk(p));
	memset(p, 1, 3 * MiB);
	CHECK(heap_malloc(&H, 2 * GiB) == NULL);
	heap_free(&H, p);
	expect_empty();
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

/* ----- running out ----- */

static size_t fill_until_null(void **p, size_t max, uint64_t s)
{
	size_t n = 0;
	rng_state = s;
	for (;;) {
		size_t size = 1 + rnd() % 20000;
		struct heap_stats before = stats();
		size_t brk_before = E.brk;
		void *x = heap_malloc(&H, size);
		if (!x) {
			CHECK(stats_equal(stats(), before));
			CHECK_EQ_U(E.brk, brk_before);
			/* Every other entry point fails the same clean way. */
			CHECK(heap_calloc(&H, size, 1) == NULL);
			CHECK(heap_memalign(&H, 4096, size) == NULL);
			CHECK(heap_malloc(&H, 500000) == NULL);
			CHECK(stats_equal(stats(), before));
			return n;
		}
		REQUIRE(n < max);
		memset(x, 0x11, size);
		p[n++] = x;
	}
}

HTEST(out_of_memory_and_back)
{
	static void *p[4096];

	setup();
	E.cap = 4 * MiB;
	E.large_cap = 0;
	size_t n1 = fill_until_null(p, 4096, 42);
	CHECK(n1 > 100);
	HEAP_CLEAN();
	/* One free makes room for one more of that size. */
	size_t u = heap_usable_size(&H, p[n1 / 2]);
	heap_free(&H, p[n1 / 2]);
	p[n1 / 2] = heap_malloc(&H, u);
	CHECK(p[n1 / 2] != NULL);
	for (size_t i = 0; i < n1; i++)
		heap_free(&H, p[i]);
	expect_empty();
	size_t n2 = fill_until_null(p, 4096, 42);
	CHECK_EQ_U(n1, n2);
	for (size_t i = 0; i < n2; i++)
		heap_free(&H, p[i]);
	expect_empty();
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

/* ----- misuse ----- */

static char hexaddr[32];

static const char *hex(const void *p)
{
	snprintf(hexaddr, sizeof hexaddr, "0x%lx", (unsigned long)(uintptr_t)p);
	return hexaddr;
}

/* Runs one misuse and checks it was reported with kind and address, changing nothing. */
#define EXPECT_REPORT(call, kind, ptr, words)                                              \
	do {                                                                               \
		struct heap_stats before_ = stats();                                       \
		int reports_ = E.reports;                                                  \
		call;                                                                      \
		CHECK_EQ_U(E.reports, reports_ + 1);                                       \
		CHECK_EQ_U(E.last_kind, kind);                                             \
		CHECK_EQ_U(E.last_addr, (uintptr_t)(ptr));                                 \
		CHECK(strstr(E.last_line, hex(ptr)) != NULL);                              \
		CHECK(strstr(E.last_line, words) != NULL);                                 \
		CHECK(stats_equal(stats(), before_));                                      \
		HEAP_CLEAN();                                                              \
	} while (0)

HTEST(misuse_is_reported_not_obeyed)
{
	_Alignas(16) char stack_buf[64];

	setup();
	void *a = heap_malloc(&H, 48), *b = heap_malloc(&H, 48), *c = heap_malloc(&H, 48);
	void *d = heap_malloc(&H, 256);
	REQUIRE(a && b && c && d);

	heap_free(&H, b);
	EXPECT_REPORT(heap_free(&H, b), HEAP_ERR_DOUBLE_FREE, b, "heap: double free of ");
	CHECK(strstr(E.last_line, "(size 56)") != NULL);
	/* Still caught after b merged with a, and a itself too. */
	heap_free(&H, a);
	EXPECT_REPORT(heap_free(&H, b), HEAP_ERR_DOUBLE_FREE, b, "double free");
	EXPECT_REPORT(heap_free(&H, a), HEAP_ERR_DOUBLE_FREE, a, "double free");

	EXPECT_REPORT(heap_free(&H, stack_buf + 16), HEAP_ERR_INVALID_FREE, stack_buf + 16,
		      "heap: invalid free of ");
	CHECK(strstr(E.last_line, "not a block the heap returned") != NULL);

	/* Interior pointers, with user bytes that look like a header at p - 8. */
	memset(d, 0x5a, 256);
	EXPECT_REPORT(heap_free(&H, (char *)d + 32), HEAP_ERR_INVALID_FREE, (char *)d + 32,
		      "invalid free");
	uint64_t fake = 64;   /* "a used block of 64 bytes" without the tag */
	memcpy((char *)d + 56, &fake, 8);
	EXPECT_REPORT(heap_free(&H, (char *)d + 64), HEAP_ERR_INVALID_FREE, (char *)d + 64,
		      "invalid free");

	EXPECT_REPORT(heap_free(&H, (char *)c + 1), HEAP_ERR_INVALID_FREE, (char *)c + 1, "misaligned");
	EXPECT_REPORT(heap_free(&H, (char *)c + 8), HEAP_ERR_INVALID_FREE, (char *)c + 8, "misaligned");

	/* Past the break: must be refused without being read (it would fault). */
	char *beyond = E.base + E.brk + 4096;
	EXPECT_REPORT(heap_free(&H, beyond), HEAP_ERR_INVALID_FREE, beyond, "outside the heap");
	EXPECT_REPORT(heap_free(&H, E.base), HEAP_ERR_INVALID_FREE, E.base, "invalid free");

	/* Large blocks: a freed one is unmapped, so it must not be read either. */
	void *big = heap_malloc(&H, 300000);
	REQUIRE(big);
	EXPECT_REPORT(heap_free(&H, (char *)big + 4096), HEAP_ERR_INVALID_FREE, (char *)big + 4096,
		      "invalid free");
	heap_free(&H, big);
	EXPECT_REPORT(heap_free(&H, big), HEAP_ERR_INVALID_FREE, big, "invalid free");

	/* realloc and usable_size refuse the same pointers. */
	void *r = (void *)1;
	EXPECT_REPORT(r = heap_realloc(&H, b, 100), HEAP_ERR_INVALID_PTR, b, "realloc");
	CHECK(r == NULL);
	size_t u = 1;
	EXPECT_REPORT(u = heap_usable_size(&H, (char *)d + 32), HEAP_ERR_INVALID_PTR, (char *)d + 32,
		      "usable_size");
	CHECK_EQ_U(u, 0);

	heap_free(&H, c);
	heap_free(&H, d);
	expect_empty();
}

/* What a header the heap wrote at address b would hold (the formula in heap.h). */
static uint64_t forge_header(uintptr_t b, uint64_t size_flags)
{
	uint64_t tag = ((size_flags ^ b ^ H.secret) * HEAP_TAG_MULT) >> HEAP_BLK_TAG_SHIFT;
	return size_flags | tag << HEAP_BLK_TAG_SHIFT;
}

HTEST(misuse_with_forged_tags_is_still_caught)
{
	setup();
	char *d = heap_malloc(&H, 1000), *e = heap_malloc(&H, 100);
	REQUIRE(d && e);
	memset(d, 0x5a, 1000);
	/* A correctly tagged used header inside d, whose "next block" is user bytes. */
	uintptr_t b = (uintptr_t)d + 56;
	uint64_t w = forge_header(b, 64);
	memcpy((void *)b, &w, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8),
		      "disagrees with its neighbours");
	/* ... whose next header is good but says its predecessor is free. */
	uint64_t n = forge_header(b + 64, 32 | HEAP_BLK_PREV_FREE);
	memcpy((void *)(b + 64), &n, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8),
		      "invalid free");
	/* ... claiming a free predecessor whose foot does not check out. */
	n = forge_header(b + 64, 32);
	memcpy((void *)(b + 64), &n, 8);
	w = forge_header(b, 64 | HEAP_BLK_PREV_FREE);
	memcpy((void *)b, &w, 8);
	uint64_t foot = (uint64_t)(b - 32);
	memcpy((void *)(b - 8), &foot, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8),
		      "invalid free");
	foot = 0;
	memcpy((void *)(b - 8), &foot, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8),
		      "invalid free");
	heap_free(&H, d);
	heap_free(&H, e);
	expect_empty();
}

HTEST(tuning_and_a_stubborn_break)
{
	env_open();
	struct heap_env env = env_for();
	env.grow_bytes = 64 * KiB;
	env.trim_threshold = 4 * KiB;
	REQUIRE(heap_init(&H, &env) == 0);
	CHECK_EQ_U(H.env.trim_threshold, 64 * KiB);   /* raised to one growth chunk */
	env.grow_bytes = (size_t)1 << 60;
	struct heap h2;
	CHECK(heap_init(&h2, &env) == -1);

	/* sbrk refusing to shrink: the top stays free and usable, nothing breaks. */
	void *p[300];
	for (int i = 0; i < 300; i++) {
		p[i] = heap_malloc(&H, 1000);
		REQUIRE(p[i]);
	}
	size_t high = E.brk;
	E.refuse_shrink = true;
	for (int i = 0; i < 300; i++)
		heap_free(&H, p[i]);
	HEAP_CLEAN();
	CHECK_EQ_U(E.brk, high);
	CHECK_EQ_U(heap_trim(&H), 0);
	HEAP_CLEAN();
	void *q = heap_malloc(&H, 200 * 1000 - 100);
	REQUIRE(q);
	CHECK_EQ_U(E.brk, high);
	heap_free(&H, q);
	E.refuse_shrink = false;
	CHECK(heap_trim(&H) > 0);
	CHECK_EQ_U(E.brk, 64 * KiB);
	expect_empty();
}

/* A top block just below a page boundary: trimming keeps one more page, not a sliver. */
HTEST(trim_never_leaves_a_sliver)
{
	setup();
	size_t pg = E.page;
	uintptr_t base = (uintptr_t)E.base;
	/* Put the top free block's header 24 bytes below a page boundary past the floor. */
	uintptr_t t = base + HEAP_DEFAULT_GROW_BYTES + pg - 24;
	void *a = heap_malloc(&H, t - (base + 8) - HEAP_OVERHEAD);
	REQUIRE(a);
	void *c = heap_malloc(&H, 130000);
	REQUIRE(c);
	CHECK_EQ_U((uintptr_t)c, t + 8);
	heap_free(&H, c);
	HEAP_CLEAN();
	/* The boundary right after t would leave 16 bytes: it goes one page further. */
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES + 2 * pg);
	CHECK_EQ_U(stats().free_bytes, base + E.brk - 8 - t);
	CHECK_EQ_U(stats().free_blocks, 1);
	heap_free(&H, a);
	heap_trim(&H);
	expect_empty();
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

HTEST(misuse_silent_without_report_callback)
{
	env_open();
	struct heap_env env = env_for();
	env.report = NULL;
	REQUIRE(heap_init(&H, &env) == 0);
	void *a = heap_malloc(&H, 10);
	REQUIRE(a);
	heap_free(&H, a);
	heap_free(&H, a);
	heap_free(&H, (char *)a + 1);
	expect_empty();
}

HTEST(check_finds_corruption)
{
	char why[256];

	setup();
	void *a = heap_malloc(&H, 100), *b = heap_malloc(&H, 100), *c = heap_malloc(&H, 100);
	REQUIRE(a && b && c);
	heap_free(&H, b);
	HEAP_CLEAN();

	/* An overflow from a into b's header (b is free). */
	uint64_t *hdr = (uint64_t *)((char *)b - 8), saved = *hdr;
	*hdr ^= 0x100;
	CHECK(heap_check(&H, why, sizeof why) == -1);
	CHECK(strstr(why, "heap_check:") == why);
	printf("# found: %s\n", why);
	*hdr = saved;
	HEAP_CLEAN();

	/* A used block's header: free refuses it instead of trusting it. */
	uint64_t *chdr = (uint64_t *)((char *)c - 8), csaved = *chdr;
	*chdr = 0x4141414141414141ull;
	CHECK(heap_check(&H, why, sizeof why) == -1);
	printf("# found: %s\n", why);
	int reports = E.reports;
	heap_free(&H, c);
	CHECK_EQ_U(E.reports, reports + 1);
	*chdr = csaved;
	HEAP_CLEAN();

	/* A free-list link. */
	uint64_t *link = (uint64_t *)b, lsaved = *link;
	*link = (uint64_t)(uintptr_t)a - 8;
	CHECK(heap_check(&H, why, sizeof why) == -1);
	printf("# found: %s\n", why);
	*link = lsaved;

	/* A counter. */
	H.used_blocks++;
	CHECK(heap_check(&H, why, sizeof why) == -1);
	printf("# found: %s\n", why);
	H.used_blocks--;
	HEAP_CLEAN();

	heap_free(&H, a);
	heap_free(&H, c);
	expect_empty();
}

struct walk_state {
	uintptr_t next_payload;
	size_t used, free, large, bytes, errors;
	bool in_large;
};

static void walk_cb(void *ctx, void *ptr, size_t size, int used)
{
	struct walk_state *w = ctx;
	uintptr_t p = (uintptr_t)ptr;

	if (used == HEAP_WALK_LARGE) {
		w->in_large = true;
		w->large++;
		return;
	}
	if (w->in_large || (w->next_payload && p != w->next_payload))
		w->errors++;
	w->next_payload = p + size + HEAP_OVERHEAD;
	w->bytes += size + HEAP_OVERHEAD;
	if (used)
		w->used++;
	else
		w->free++;
}

HTEST(walk_visits_blocks_in_order)
{
	void *p[200];

	setup();
	for (int i = 0; i < 200; i++)
		p[i] = heap_malloc(&H, (size_t)(i % 3 == 0 ? 200000 : 10 + i * 13));
	for (int i = 0; i < 200; i += 5)
		heap_free(&H, p[i]);
	struct walk_state w = { 0 };
	heap_walk(&H, walk_cb, &w);
	struct heap_stats s = stats();
	CHECK_EQ_U(w.errors, 0);
	CHECK_EQ_U(w.used, s.used_blocks);
	CHECK_EQ_U(w.free, s.free_blocks);
	CHECK_EQ_U(w.large, s.large_blocks);
	CHECK_EQ_U(w.bytes, s.brk_bytes - 16);
	CHECK_EQ_U(w.bytes, s.in_use_bytes + s.free_bytes);
	CHECK_EQ_U(w.next_payload, (uintptr_t)E.base + E.brk);
	for (int i = 0; i < 200; i++)
		if (i % 5)
			heap_free(&H, p[i]);
	expect_empty();
}

/* ----- the shadow model ----- */

enum { SLOTS = 4096 };

struct shadow {
	unsigned char *p;
	size_t size, usable;
	uint64_t id;
};

static struct shadow live[SLOTS];

static unsigned char pat_byte(uint64_t id) { return (unsigned char)(id * 0x9d + 0x5b); }

static void pat_fill(struct shadow *s)
{
	memset(s->p, pat_byte(s->id), s->size);
	if (s->size >= 8)
		memcpy(s->p, &s->id, 8);
}

/* Whether the first n bytes still carry s's pattern. */
static bool pat_ok(const struct shadow *s, size_t n)
{
	unsigned char b = pat_byte(s->id);
	size_t i = 0;
	if (s->size >= 8 && n >= 8) {
		if (memcmp(s->p, &s->id, 8))
			return false;
		i = 8;
	} else if (s->size >= 8) {
		return !memcmp(s->p, &s->id, n);
	}
	uint64_t word = b * 0x0101010101010101ull;
	for (; i < n && ((uintptr_t)(s->p + i) & 7); i++)
		if (s->p[i] != b)
			return false;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, s->p + i, 8);
		if (v != word)
			return false;
	}
	for (; i < n; i++)
		if (s->p[i] != b)
			return false;
	return true;
}

static size_t shadow_size(void)
{
	if (rnd() % 2000 == 0)
		return HEAP_DEFAULT_LARGE_THRESHOLD + rnd() % (900 * KiB);
	unsigned e = (unsigned)(rnd() % 17);
	return (size_t)(rnd() & (((uint64_t)1 << e) - 1));
}

static int cmp_shadow(const void *a, const void *b)
{
	const struct shadow *x = *(struct shadow *const *)a, *y = *(struct shadow *const *)b;
	return x->p < y->p ? -1 : x->p > y->p;
}

static void shadow_audit(void)
{
	static struct shadow *sorted[SLOTS];
	size_t n = 0, large = 0;

	HEAP_CLEAN();
	for (int i = 0; i < SLOTS; i++)
		if (live[i].p) {
			sorted[n++] = &live[i];
			large += !in_brk(live[i].p);
		}
	qsort(sorted, n, sizeof sorted[0], cmp_shadow);
	for (size_t i = 1; i < n; i++)
		REQUIRE(sorted[i - 1]->p + sorted[i - 1]->usable <= sorted[i]->p);
	struct heap_stats s = stats();
	CHECK_EQ_U(s.used_blocks + s.large_blocks, n);
	CHECK_EQ_U(s.large_blocks, large);
}

struct shadow_cfg {
	const char *name;
	uint64_t ops;
	size_t grow_bytes, trim_threshold, large_threshold; /* 0: defaults */
	size_t cap, large_cap;                               /* 0: no cap */
};

/* Allocates into s by one of the four entry points; false if it returned NULL. */
static bool shadow_alloc(struct shadow *s, unsigned kind, size_t *counts, uint64_t id)
{
	size_t size = shadow_size(), align = 16;
	unsigned char *p;

	if (kind < 55) {
		p = heap_malloc(&H, size);
		counts[0]++;
	} else if (kind < 70) {
		p = heap_calloc(&H, 1 + size / 64, size ? 64 : 0);
		size = size ? (1 + size / 64) * 64 : 0;
		for (size_t i = 0; p && i < size; i++)
			REQUIRE(p[i] == 0);
		counts[1]++;
	} else if (kind < 90) {
		align = (size_t)1 << (rnd() % (rnd() % 16 ? 13 : 22));
		p = heap_memalign(&H, align, size);
		counts[2]++;
	} else {
		p = heap_realloc(&H, NULL, size);
		counts[3]++;
	}
	if (!p)
		return false;
	REQUIRE(aligned(p, align) && aligned(p, 16));
	*s = (struct shadow){ p, size, heap_usable_size(&H, p), id };
	REQUIRE(s->usable >= size);
	pat_fill(s);
	return true;
}

/*
 * Random malloc/calloc/memalign/realloc/free against a shadow of what must
 * be where. With caps, NULL is allowed but must change nothing.
 */
static void shadow_run(const struct shadow_cfg *cfg)
{
	uint64_t ops = cfg->ops, next_id = 1;
	const char *env_ops = getenv("HEAP_OPS");
	size_t counts[7] = { 0 };

	if (env_ops)
		ops = strtoull(env_ops, NULL, 0) * cfg->ops / 1000000;
	env_open();
	struct heap_env env = env_for();
	env.grow_bytes = cfg->grow_bytes;
	env.trim_threshold = cfg->trim_threshold;
	env.large_threshold = cfg->large_threshold;
	REQUIRE(heap_init(&H, &env) == 0);
	if (cfg->cap)
		E.cap = cfg->cap;
	if (cfg->large_cap)
		E.large_cap = cfg->large_cap;
	memset(live, 0, sizeof live);
	size_t base_brk = E.brk;
	rng_state = seed;
	printf("# shadow %s: seed %llu, %llu ops\n", cfg->name, (unsigned long long)seed,
	       (unsigned long long)ops);

	for (uint64_t op = 0; op < ops; op++) {
		struct shadow *s = &live[rnd() % SLOTS];
		unsigned kind = (unsigned)(rnd() % 100);
		struct heap_stats before = stats();
		if (!s->p) {
			if (!shadow_alloc(s, kind, counts, next_id++)) {
				REQUIRE(cfg->cap);
				REQUIRE(stats_equal(stats(), before));
				counts[6]++;
			}
		} else if (kind < 70) {
			REQUIRE(pat_ok(s, s->size));
			heap_free(&H, s->p);
			s->p = NULL;
			counts[4]++;
		} else {
			REQUIRE(pat_ok(s, s->size));
			size_t size = shadow_size();
			unsigned char *p = heap_realloc(&H, s->p, size);
			counts[5]++;
			if (!p) {
				REQUIRE(cfg->cap);
				REQUIRE(stats_equal(stats(), before));
				REQUIRE(pat_ok(s, s->size));
				counts[6]++;
				continue;
			}
			REQUIRE(aligned(p, 16));
			s->p = p;
			REQUIRE(pat_ok(s, size < s->size ? size : s->size));
			s->size = size;
			s->usable = heap_usable_size(&H, p);
			REQUIRE(s->usable >= size);
			s->id = next_id++;
			pat_fill(s);
		}
		if (op % 4096 == 0)
			shadow_audit();
	}
	shadow_audit();
	struct heap_stats st = stats();
	printf("# shadow %s: malloc %zu calloc %zu memalign %zu realloc(NULL) %zu free %zu realloc %zu"
	       " NULL %zu; peak %zu, brk %zu, sbrk calls %zu, maps %zu\n", cfg->name, counts[0],
	       counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], st.peak_in_use,
	       st.brk_bytes, E.sbrk_calls, E.map_calls);
	for (int i = 0; i < SLOTS; i++) {
		if (live[i].p) {
			REQUIRE(pat_ok(&live[i], live[i].size));
			heap_free(&H, live[i].p);
			live[i].p = NULL;
		}
	}
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	/*
	 * Frees in random order trim as they go, so what is left on top is at
	 * most trim_threshold (the hysteresis that keeps a malloc/free cycle
	 * from calling sbrk twice); heap_trim gives that back too.
	 */
	CHECK(E.brk == base_brk || stats().free_bytes <= H.env.trim_threshold);
	heap_trim(&H);
	CHECK_EQ_U(E.brk, base_brk);
	expect_empty();
}

HTEST(shadow_model_random_ops)
{
	static const struct shadow_cfg cfg = { "default", 1000000, 0, 0, 0, 0, 0 };
	shadow_run(&cfg);
}

/* Every free at the top trims, every miss grows, most sizes go large. */
HTEST(shadow_model_tight_tuning)
{
	const struct shadow_cfg cfg = { "tight", 200000, 4096, 4096, 16 * KiB, 0, 0 };
	shadow_run(&cfg);
}

/* Both caps hit over and over: every NULL must leave everything as it was. */
HTEST(shadow_model_out_of_memory)
{
	static const struct shadow_cfg cfg = { "capped", 300000, 0, 0, 0, 6 * MiB, 3 * MiB };
	shadow_run(&cfg);
}

int main(int argc, char **argv)
{
	const char *s = argc > 1 ? argv[1] : getenv("HEAP_SEED");
	seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("# test_heap: seed %llu (rerun with: test_heap %llu)\n", (unsigned long long)seed,
	       (unsigned long long)seed);

	HRUN(init_defaults);
	HRUN(init_refuses_bad_env);
	HRUN(sizes_around_powers_of_two);
	HRUN(malloc_zero_is_unique_and_freeable);
	HRUN(huge_sizes_fail_cleanly);
	HRUN(calloc_overflow_pairs);
	HRUN(calloc_zeroes_reused_memory);
	HRUN(memalign_every_power_of_two);
	HRUN(memalign_gap_is_reused);
	HRUN(realloc_in_place_and_moving);
	HRUN(realloc_grows_the_break_in_place);
	HRUN(realloc_across_the_large_threshold);
	HRUN(realloc_failure_keeps_the_block);
	HRUN(coalesce_forward_reverse_random);
	HRUN(trim_gives_the_break_back);
	HRUN(large_blocks_are_page_mapped);
	HRUN(no_map_pages_means_everything_in_the_break);
	HRUN(out_of_memory_and_back);
	HRUN(misuse_is_reported_not_obeyed);
	HRUN(misuse_with_forged_tags_is_still_caught);
	HRUN(misuse_silent_without_report_callback);
	HRUN(tuning_and_a_stubborn_break);
	HRUN(trim_never_leaves_a_sliver);
	HRUN(check_finds_corruption);
	HRUN(walk_visits_blocks_in_order);
	HRUN(shadow_model_random_ops);
	HRUN(shadow_model_tight_tuning);
	HRUN(shadow_model_out_of_memory);
	env_close();
	return htest_done();
}
