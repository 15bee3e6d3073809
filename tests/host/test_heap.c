/*
 * tests/host/test_heap.c - host tests of the kmalloc core (alloc/heap*.c) at
 * debug level 0: sizes, alignment, realloc, coalescing, trimming, tuning
 * (large and sampled blocks are test_heap_large.c). Running out, misuse
 * reports, the checker, the walker and
 * the leak lister are in test_heap_misuse.c, the randomized run against a shadow
 * model in test_heap_shadow.c, the debug levels in test_heap_debug.c. The
 * environment (a break over mprotect'd pages, runs from mmap) is
 * heap_host_env.c.
 *
 * Usage: test_heap [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"

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
	env = env_for();
	env.map_pages = NULL;   /* remap_pages without map_pages: nothing to remap */
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
	/* What trimming keeps: the threshold, or what the heap learned to retain (heap.h "trim"). */
	size_t keep = H.retain > H.env.trim_threshold ? H.retain : H.env.trim_threshold;
	CHECK(E.brk - base_brk <= keep + H.env.page_size);
	heap_trim(&H);
	CHECK_EQ_U(E.brk, base_brk);
	CHECK_EQ_U(H.retain, 0);
}

/*
 * Trim retention (heap.h "trim"): a heap that drains and refills learns to
 * keep what it had to map again, and keeps it; heap_trim gives it back.
 */
HTEST(trim_retains_what_it_had_to_map_again)
{
	static void *p[1024];
	size_t grows[5];

	setup();
	size_t base_brk = E.brk;
	for (int round = 0; round < 5; round++) {
		int n = round == 4 ? 1024 : 512;   /* the last round twice as big */
		size_t calls = H.sbrk_calls;
		for (int i = 0; i < n; i++) {
			REQUIRE(p[i] = heap_malloc(&H, 4000));
			memset(p[i], round, 4000);
		}
		grows[round] = H.sbrk_calls - calls;
		size_t learned = H.retain;
		for (int i = n - 1; i >= 0; i--)
			heap_free(&H, p[i]);
		HEAP_CLEAN();
		printf("# round %d: %zu sbrk calls to grow, retain %zu -> %zu, break %zu KiB above the start\n",
		       round, grows[round], learned, H.retain, (size_t)(E.brk - base_brk) >> 10);
		if (round == 0)
			CHECK(H.trimmed_recent >= 1500000);   /* ~2 MB given back: nothing learned yet */
		if (round == 1)
			CHECK(learned >= 1500000 && learned <= H.peak_in_use);   /* it mapped that again */
		if (round >= 1)
			CHECK(E.brk - base_brk <= H.retain + H.env.page_size);   /* kept, no more */
		if (round == 4)
			CHECK_EQ_U(H.retain, learned);   /* a trim of the excess does not forget it */
	}
	CHECK(grows[0] > 0 && grows[1] > 0);
	/* The third round may grow once more (the initial break was never given back, so not learned). */
	CHECK(grows[2] <= 1);
	CHECK_EQ_U(grows[3], 0);   /* from then on the pages stay mapped */
	CHECK(grows[4] > 0);
	expect_empty();
	heap_trim(&H);
	CHECK_EQ_U(E.brk, base_brk);
	CHECK_EQ_U(H.retain, 0);
	CHECK_EQ_U(H.trimmed_recent, 0);
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
	/*
	 * The front cache defers merging the small blocks it holds; once it
	 * lets them go (as it does before any growth or trim) all is one block.
	 */
	HEAP_CLEAN();
	heap_flush_quarantine(&H);
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

	/*
	 * Trimming above a used block keeps a page-aligned remainder of a
	 * quarter of the bytes in use (the hysteresis), and heap_trim the
	 * smallest one.
	 */
	void *a = heap_malloc(&H, 100000), *b = heap_malloc(&H, 100);
	void *c = heap_malloc(&H, 120000), *c2 = heap_malloc(&H, 120000);
	REQUIRE(a && b && c && c2);
	fill(a, 100000, 9);
	fill(b, 100, 10);
	size_t high = E.brk;
	heap_free(&H, c);
	heap_free(&H, c2);
	HEAP_CLEAN();
	struct heap_stats s = stats();
	CHECK(E.brk < high);
	CHECK(s.largest_free >= s.in_use_bytes / 4);
	CHECK(s.largest_free < s.in_use_bytes / 4 + 2 * E.page);
	CHECK(E.brk <= (size_t)((char *)b - E.base) + 100 + s.in_use_bytes / 4 + 2 * E.page);
	CHECK(heap_trim(&H) > 0);
	s = stats();
	CHECK(s.largest_free < 2 * E.page);
	CHECK(E.brk <= (size_t)((char *)b - E.base) + 100 + 2 * E.page);
	CHECK(filled(a, 100000, 9) && filled(b, 100, 10));
	size_t counts[3] = { 0 };
	heap_walk(&H, walk_count, counts);
	CHECK_EQ_U(counts[HEAP_WALK_USED], 2);
	CHECK_EQ_U(counts[HEAP_WALK_FREE], s.free_blocks);
	heap_free(&H, b);
	heap_free(&H, a);
	CHECK(heap_trim(&H) > 0);
	expect_empty();
	CHECK_EQ_U(E.brk, base_brk);
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
	/* The free trimmed, keeping a quarter of a's bytes; heap_trim cuts to the minimum. */
	heap_trim(&H);
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

/*
 * Memory that exists is found before the break grows or an allocation
 * fails: a free block that fits but sits on the list find_free's rounding
 * skips; the pages a request needs when a whole growth chunk is refused;
 * and a free of everything below a block that waits in the front cache
 * gives the break back all the same. (Each of these once failed.)
 */
HTEST(memory_that_exists_is_found_before_growing_or_failing)
{
	for (int capped = 0; capped < 2; capped++) {
		setup();
		if (capped)
			E.cap = 64 * KiB;
		char *a = heap_malloc(&H, 1096), *g = heap_malloc(&H, 100);   /* a: a 1104-byte block */
		REQUIRE(a && g);
		char *fill = heap_malloc(&H, H.free_bytes - 8);              /* the top, exactly */
		REQUIRE(fill);
		heap_free(&H, a);                     /* over 1 KiB: not cached, listed */
		size_t brk0 = E.brk;
		char *b = heap_malloc(&H, 1096);      /* on the list find_free rounds past */
		CHECK(b == a);
		CHECK_EQ_U(E.brk, brk0);
		heap_free(&H, b);
		heap_free(&H, g);
		heap_free(&H, fill);
		expect_empty();
	}

	setup();
	char *fill = heap_malloc(&H, H.free_bytes - 8);   /* the initial 64 KiB, all in use */
	REQUIRE(fill);
	E.cap = 64 * KiB + 16 * KiB;           /* 16 KiB more, not a whole 64 KiB chunk */
	char *p = heap_malloc(&H, 4000), *q = heap_malloc(&H, 100);
	CHECK(p && q);
	CHECK(E.brk <= E.cap);
	heap_free(&H, p);
	heap_free(&H, q);
	heap_free(&H, fill);
	E.cap = RESERVE;
	expect_empty();

	/* The small block freed first (cached), then 240 KiB below it: the break comes back all the same. */
	setup();
	char *b1 = heap_malloc(&H, 120 * KiB), *b2 = heap_malloc(&H, 120 * KiB), *c = heap_malloc(&H, 16);
	REQUIRE(b1 && b2 && c && in_brk(b1) && in_brk(b2));
	heap_free(&H, c);
	CHECK_EQ_U(H.cache_count[0], 1);
	heap_free(&H, b1);
	heap_free(&H, b2);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
	expect_empty();
}

/* heap_trim says what the break gave back, at every level (level 2's quarantine frees trim on their way). */
HTEST(trim_returns_what_the_break_gave_back)
{
	static void *p[4000];

	for (unsigned level = 0; level <= 2; level++) {
		env_open();
		struct heap_env env = env_for();
		env.debug = level;
		REQUIRE(heap_init(&H, &env) == 0);
		for (int i = 0; i < 4000; i++)
			REQUIRE(p[i] = heap_malloc(&H, 100 + (size_t)(i % 7) * 16));
		for (int i = 0; i < 4000; i++)
			heap_free(&H, p[i]);
		size_t before = E.brk, r = heap_trim(&H);
		printf("# level %u: heap_trim gave back %zu bytes\n", level, r);
		CHECK_EQ_U(r, before - E.brk);
		CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
		expect_empty();
	}
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap");

	HRUN(init_defaults);
	HRUN(init_refuses_bad_env);
	HRUN(sizes_around_powers_of_two);
	HRUN(malloc_zero_is_unique_and_freeable);
	HRUN(huge_sizes_fail_cleanly);
	HRUN(calloc_overflow_pairs);
	HRUN(calloc_zeroes_reused_memory);
	HRUN(memalign_every_power_of_two);
	HRUN(trim_retains_what_it_had_to_map_again);
	HRUN(memalign_gap_is_reused);
	HRUN(realloc_in_place_and_moving);
	HRUN(realloc_grows_the_break_in_place);
	HRUN(realloc_across_the_large_threshold);
	HRUN(realloc_failure_keeps_the_block);
	HRUN(coalesce_forward_reverse_random);
	HRUN(trim_gives_the_break_back);
	HRUN(tuning_and_a_stubborn_break);
	HRUN(trim_never_leaves_a_sliver);
	HRUN(memory_that_exists_is_found_before_growing_or_failing);
	HRUN(trim_returns_what_the_break_gave_back);
	env_close();
	return htest_done();
}
