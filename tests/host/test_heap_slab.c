/*
 * tests/host/test_heap_slab.c - host tests of level 0's slabs (heap.h
 * "slabs"; alloc/heap_slab.c, alloc/heap_slab.h): with env.slabs set,
 * requests of 0..64 bytes are objects without a header in 4 KiB runs of one
 * class (16, 32, 48, 64 bytes). Checked here: which requests become
 * objects and where they sit, the counters, runs made and given back,
 * realloc/calloc/memalign on objects, the walker and the leak lister,
 * running out, the 256 MiB window, and the debug levels ignoring the option.
 * Misuse of objects, damaged runs and writes after free are
 * test_heap_slab_misuse.c; the seeded random run against a shadow table is
 * test_heap_slab_model.c; heap.slabs=auto is test_heap_slab_auto.c. The
 * environment is heap_host_env.c.
 *
 * Usage: test_heap_slab [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"
#include "slab_test_util.h"

/* ----- which requests are objects, and where ----- */

HTEST(slab_sizes_0_to_64_are_objects_of_their_class)
{
	static void *p[81];

	setup_slabs();
	size_t ordinary_bytes = 0;
	for (size_t n = 0; n <= 80; n++) {
		p[n] = heap_malloc(&H, n);
		REQUIRE(p[n]);
		CHECK(aligned(p[n], 16));
		CHECK(in_brk(p[n]));
		size_t u = heap_usable_size(&H, p[n]);
		if (n <= HEAP_SLAB_MAX) {
			CHECK_EQ_U(u, class_size(n));
			CHECK(on_run_page(p[n]));
			CHECK(placed_in_run(p[n], u));
		} else {
			CHECK_EQ_U(u, block_bytes(n) - HEAP_OVERHEAD);
			CHECK(!on_run_page(p[n]));
			ordinary_bytes += block_bytes(n);
		}
		memset(p[n], (int)n, u);
	}
	CHECK_EQ_U(heap_usable_size(&H, p[0]), 16);
	CHECK_EQ_U(heap_usable_size(&H, p[1]), 16);
	CHECK_EQ_U(heap_usable_size(&H, p[16]), 16);
	CHECK_EQ_U(heap_usable_size(&H, p[17]), 32);
	CHECK_EQ_U(heap_usable_size(&H, p[32]), 32);
	CHECK_EQ_U(heap_usable_size(&H, p[33]), 48);
	CHECK_EQ_U(heap_usable_size(&H, p[48]), 48);
	CHECK_EQ_U(heap_usable_size(&H, p[49]), 64);
	CHECK_EQ_U(heap_usable_size(&H, p[64]), 64);
	CHECK_EQ_U(heap_usable_size(&H, p[65]), 72);

	/* One run per class, each a used 4096-byte block whose payload is 16 past a 4 KiB boundary. */
	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++) {
		void *first = p[k == 0 ? 0 : k * 16 + 1];
		struct heap_slab *s = run_of(first);
		CHECK_EQ_U(((uintptr_t)s - (uintptr_t)E.base) % HEAP_SLAB_RUN, 16);
		CHECK_EQ_U(s->size, (k + 1) * 16);
		CHECK_EQ_U(s->cap, class_caps[k]);
		CHECK_EQ_U(s->cap, (HEAP_SLAB_RUN - 8 - HEAP_SLAB_HDR) / s->size);
		CHECK_EQ_U(run_block_bytes(s), HEAP_SLAB_RUN);
		CHECK((char *)first == (char *)s + HEAP_SLAB_HDR);   /* a fresh run: object 0 first */
	}
	/* The first run opens the break: its payload is the first one (base + 16). */
	CHECK((char *)run_of(p[0]) == E.base + 16);

	struct heap_stats s = stats();
	CHECK_EQ_U(s.slab_runs, 4);
	CHECK_EQ_U(s.slab_objects, 65);
	CHECK_EQ_U(s.slab_bytes, 17 * 16 + 16 * 32 + 16 * 48 + 16 * 64);
	CHECK_EQ_U(s.used_blocks, 4 + 16);   /* a run counts as one block */
	CHECK_EQ_U(s.in_use_bytes, 4 * HEAP_SLAB_RUN + ordinary_bytes);
	CHECK_EQ_U(H.slab_runs, 4);
	HEAP_CLEAN();

	for (size_t n = 0; n <= 80; n++) {
		unsigned char *c = p[n];
		size_t u = heap_usable_size(&H, p[n]);
		CHECK(c[0] == (unsigned char)n && c[u - 1] == (unsigned char)n);
		heap_free(&H, p[n]);
	}
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	CHECK_EQ_U(stats().slab_runs, 0);
	CHECK_EQ_U(stats().slab_objects, 0);
	CHECK_EQ_U(stats().slab_bytes, 0);
}

HTEST(slab_objects_of_one_class_are_size_apart)
{
	static const size_t reqs[] = { 0, 1, 7, 16, 17, 30, 32, 33, 40, 48, 49, 60, 64 };
	enum { N = 40 };
	void *p[N];

	for (size_t r = 0; r < sizeof reqs / sizeof reqs[0]; r++) {
		setup_slabs();
		size_t size = class_size(reqs[r]);
		for (int i = 0; i < N; i++) {
			p[i] = heap_malloc(&H, reqs[r]);
			REQUIRE(p[i]);
			CHECK(aligned(p[i], 16));
			CHECK_EQ_U(heap_usable_size(&H, p[i]), size);
			if (i)
				CHECK_EQ_U((uintptr_t)p[i] - (uintptr_t)p[i - 1], size);
		}
		CHECK((char *)p[0] == E.base + 16 + HEAP_SLAB_HDR);
		struct heap_stats s = stats();
		CHECK_EQ_U(s.slab_runs, 1);
		CHECK_EQ_U(s.slab_objects, N);
		CHECK_EQ_U(s.slab_bytes, N * size);
		CHECK_EQ_U(s.used_blocks, 1);
		CHECK_EQ_U(s.in_use_bytes, HEAP_SLAB_RUN);
		HEAP_CLEAN();
		for (int i = 0; i < N; i++)
			heap_free(&H, p[i]);
		expect_empty();
	}
}

HTEST(slabs_off_at_first_by_default_and_sizes_above_64_are_blocks)
{
	setup();   /* no env.slabs: auto, off until many small blocks (test_heap_slab_auto.c) */
	CHECK(H.magic == HEAP_MAGIC);
	void *a = heap_malloc(&H, 10), *b = heap_malloc(&H, 0);
	REQUIRE(a && b);
	CHECK_EQ_U(heap_usable_size(&H, a), 24);
	CHECK_EQ_U(heap_usable_size(&H, b), 24);
	CHECK_EQ_U(H.slab_runs, 0);
	CHECK(!on_run_page(a));
	heap_free(&H, a);
	heap_free(&H, b);
	expect_empty();

	setup_slabs();
	static const size_t big[] = { 65, 72, 100, 1000, 5000, 100000, 200000 };
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
		void *q = heap_malloc(&H, big[i]);
		REQUIRE(q);
		CHECK(!on_run_page(q));
		CHECK(heap_usable_size(&H, q) >= big[i]);
		heap_free(&H, q);
	}
	CHECK_EQ_U(H.slab_runs, 0);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

/* ----- runs made and given back ----- */

HTEST(slab_class_past_one_run_makes_a_second)
{
	static void *p[260];

	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++) {
		size_t size = (k + 1) * 16, cap = class_caps[k];
		setup_slabs();
		for (size_t i = 0; i < cap; i++) {
			REQUIRE(p[i] = heap_malloc(&H, size));
			fill(p[i], size, (unsigned)i);
		}
		CHECK_EQ_U(H.slab_runs, 1);
		CHECK(H.slab_partial[k] == NULL);   /* full: off its class's list */
		CHECK((char *)p[cap - 1] + size <= (char *)run_of(p[0]) - 8 + HEAP_SLAB_RUN);
		HEAP_CLEAN();
		REQUIRE(p[cap] = heap_malloc(&H, size));
		fill(p[cap], size, (unsigned)cap);
		CHECK_EQ_U(H.slab_runs, 2);
		CHECK(run_of(p[cap]) != run_of(p[0]));
		CHECK(placed_in_run(p[cap], size));
		struct heap_stats s = stats();
		CHECK_EQ_U(s.slab_runs, 2);
		CHECK_EQ_U(s.slab_objects, cap + 1);
		CHECK_EQ_U(s.slab_bytes, (cap + 1) * size);
		CHECK_EQ_U(s.used_blocks, 2);
		HEAP_CLEAN();

		/* All freed: the first run empties while the second has room (given back), the second stays. */
		for (size_t i = 0; i <= cap; i++) {
			CHECK(filled(p[i], size, (unsigned)i));
			heap_free(&H, p[i]);
		}
		CHECK_EQ_U(H.slab_runs, 1);
		CHECK_EQ_U(live_objects(), 0);
		HEAP_CLEAN();
		CHECK_EQ_U(stats().slab_runs, 0);   /* stats gives back every empty run */
		CHECK_EQ_U(E.reports, 0);
		expect_empty();
	}
}

HTEST(slab_run_that_empties_beside_another_with_room_is_given_back)
{
	static void *p[70];

	setup_slabs();
	for (int i = 0; i < 63; i++)
		REQUIRE(p[i] = heap_malloc(&H, 64));   /* run A full (62), run B holds one */
	struct heap_slab *a = run_of(p[0]), *b = run_of(p[62]);
	REQUIRE(a != b);
	CHECK_EQ_U(H.slab_runs, 2);
	heap_free(&H, p[5]);                           /* A has room again: both on the list */
	CHECK_EQ_U(H.slab_runs, 2);
	heap_free(&H, p[62]);                          /* B empties, A has room: B goes back at once */
	CHECK_EQ_U(H.slab_runs, 1);
	CHECK(!on_run_page(b));
	CHECK(on_run_page(a));
	HEAP_CLEAN();
	/* B's object is gone with its run: a second free of it is an invalid free, harmless. */
	EXPECT_REPORT(heap_free(&H, p[62]), HEAP_ERR_INVALID_FREE, p[62], "heap: invalid free of ");
	for (int i = 0; i < 62; i++)
		if (i != 5)
			heap_free(&H, p[i]);
	CHECK_EQ_U(H.slab_runs, 1);                    /* A: its class's only run with room */
	expect_empty();
}

HTEST(slab_malloc_free_pairs_keep_one_run)
{
	setup_slabs();
	size_t sbrk_calls = E.sbrk_calls, used = H.used_blocks;
	void *first = heap_malloc(&H, 24);
	REQUIRE(first);
	heap_free(&H, first);
	CHECK_EQ_U(H.slab_runs, 1);   /* its class's only run with room stays */
	for (int i = 0; i < 20000; i++) {
		void *p = heap_malloc(&H, (size_t)(17 + i % 16));   /* all class 32 */
		REQUIRE(p == first);
		*(volatile char *)p = (char)i;
		heap_free(&H, p);
		if (H.slab_runs != 1) {
			CHECK_EQ_U(H.slab_runs, 1);
			break;
		}
	}
	CHECK_EQ_U(H.used_blocks, used + 1);
	CHECK_EQ_U(E.sbrk_calls, sbrk_calls);
	/* Pairs in every class at once: one run each, no more. */
	for (int i = 0; i < 20000; i++) {
		void *q[4];
		for (unsigned k = 0; k < 4; k++)
			REQUIRE(q[k] = heap_malloc(&H, (k + 1) * 16 - (size_t)(i % 16)));
		for (unsigned k = 0; k < 4; k++)
			heap_free(&H, q[k]);
		if (H.slab_runs != 4) {
			CHECK_EQ_U(H.slab_runs, 4);
			break;
		}
	}
	CHECK_EQ_U(E.reports, 0);
	HEAP_CLEAN();
	expect_empty();
	CHECK_EQ_U(H.slab_runs, 0);
}

HTEST(slab_empty_runs_given_back_by_stats_trim_and_flush)
{
	void *p[4];

	setup_slabs();
	size_t base_brk = E.brk;
	for (int round = 0; round < 3; round++) {
		for (unsigned k = 0; k < 4; k++)
			REQUIRE(p[k] = heap_malloc(&H, (k + 1) * 16));
		for (unsigned k = 0; k < 4; k++)
			heap_free(&H, p[k]);
		CHECK_EQ_U(H.slab_runs, 4);
		CHECK(on_run_page(p[0]));
		if (round == 0) {
			CHECK(heap_flush_quarantine(&H) >= 4);
		} else if (round == 1) {
			heap_trim(&H);
			CHECK_EQ_U(E.brk, base_brk);
		} else {
			CHECK_EQ_U(stats().slab_runs, 0);
		}
		CHECK_EQ_U(H.slab_runs, 0);
		for (unsigned k = 0; k < 4; k++)
			CHECK(!on_run_page(p[k]));
		HEAP_CLEAN();
	}
	expect_empty();
}

/*
 * The empty run a class keeps (its only run with room) is let go when it
 * is in the way: before an allocation would fail or the break grow, and
 * when everything below it is freed (it must not pin the break).
 */
HTEST(slab_kept_empty_run_never_costs_memory)
{
	for (int capped = 0; capped < 2; capped++) {
		setup_slabs();
		if (capped)
			E.cap = 64 * KiB;                    /* the break may not pass its first 64 KiB */
		void *o = heap_malloc(&H, 16);
		REQUIRE(o);
		heap_free(&H, o);                        /* empty, kept */
		CHECK_EQ_U(H.slab_runs, 1);
		char *big = heap_malloc(&H, H.free_bytes - 8);   /* everything else */
		REQUIRE(big);
		size_t brk0 = E.brk;
		char *q = heap_malloc(&H, 4000);         /* only the run's 4 KiB can serve it */
		CHECK(q != NULL);
		CHECK_EQ_U(E.brk, brk0);
		CHECK_EQ_U(H.slab_runs, 0);
		heap_free(&H, q);
		heap_free(&H, big);
		E.cap = RESERVE;
		HEAP_CLEAN();
		expect_empty();
	}

	setup_slabs();
	char *b1 = heap_malloc(&H, 120 * KiB), *b2 = heap_malloc(&H, 120 * KiB);
	void *o = heap_malloc(&H, 16);                 /* the class's run, above them */
	REQUIRE(b1 && b2 && o);
	heap_free(&H, o);                              /* empty, kept */
	heap_free(&H, b1);
	heap_free(&H, b2);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);    /* all given back */
	CHECK_EQ_U(H.slab_runs, 0);
	HEAP_CLEAN();
	expect_empty();
}

/* ----- realloc, calloc, memalign ----- */

HTEST(slab_realloc_grows_shrinks_and_keeps_contents)
{
	setup_slabs();
	void *keep = heap_malloc(&H, 16);   /* holds class 16's run while objects move */
	REQUIRE(keep);

	/* Grow through the classes, then into an ordinary block, then a large one. */
	void *p = heap_malloc(&H, 10);
	REQUIRE(p);
	fill(p, 16, 1);
	void *old = p;
	p = heap_realloc(&H, p, 30);
	REQUIRE(p && p != old);
	CHECK_EQ_U(heap_usable_size(&H, p), 32);
	CHECK(filled(p, 16, 1));
	CHECK_EQ_U(H.slab_live[0], 1);   /* the old object was freed */
	CHECK_EQ_U(H.slab_live[1], 1);
	fill(p, 32, 2);
	old = p;
	p = heap_realloc(&H, p, 64);
	REQUIRE(p && p != old);
	CHECK_EQ_U(heap_usable_size(&H, p), 64);
	CHECK(filled(p, 32, 2));
	CHECK_EQ_U(H.slab_live[1], 0);
	fill(p, 64, 3);
	old = p;
	p = heap_realloc(&H, p, 65);
	REQUIRE(p && p != old);
	CHECK(!on_run_page(p));
	CHECK_EQ_U(heap_usable_size(&H, p), 72);
	CHECK(filled(p, 64, 3));
	CHECK_EQ_U(H.slab_live[3], 0);
	HEAP_CLEAN();
	/* An ordinary block realloc'd small stays a block (shrinking keeps the place). */
	void *q = heap_realloc(&H, p, 10);
	CHECK(q == p);
	CHECK(filled(q, 10, 3));
	heap_free(&H, q);

	void *a = heap_malloc(&H, 48);
	REQUIRE(a);
	fill(a, 48, 4);
	void *big = heap_realloc(&H, a, 300000);
	REQUIRE(big && big != a);
	CHECK(!in_brk(big));
	CHECK(filled(big, 48, 4));
	CHECK_EQ_U(H.slab_live[2], 0);
	heap_free(&H, big);
	HEAP_CLEAN();

	/* Shrinking, or the same class: the same object. */
	void *b = heap_malloc(&H, 64);
	REQUIRE(b);
	fill(b, 64, 5);
	CHECK(heap_realloc(&H, b, 64) == b);
	CHECK(heap_realloc(&H, b, 50) == b);
	CHECK(heap_realloc(&H, b, 1) == b);
	CHECK_EQ_U(heap_usable_size(&H, b), 64);
	CHECK(filled(b, 64, 5));
	/* Size 0 keeps it allocated (heap.h: it does not free p). */
	CHECK(heap_realloc(&H, b, 0) == b);
	CHECK_EQ_U(heap_usable_size(&H, b), 64);
	CHECK(filled(b, 64, 5));
	CHECK_EQ_U(H.slab_live[3], 1);
	heap_free(&H, b);

	/* NULL is malloc: an object of its class. */
	void *n = heap_realloc(&H, NULL, 10);
	REQUIRE(n);
	CHECK(on_run_page(n));
	CHECK_EQ_U(heap_usable_size(&H, n), 16);
	void *z = heap_realloc(&H, NULL, 0);
	REQUIRE(z);
	CHECK_EQ_U(heap_usable_size(&H, z), 16);
	CHECK(z != n && z != keep);

	/* Grown in a fresh heap's run: the run, the new object and the block all still consistent. */
	static void *many[300];
	for (int i = 0; i < 300; i++) {
		REQUIRE(many[i] = heap_malloc(&H, 16));
		fill(many[i], 16, (unsigned)i);
	}
	for (int i = 0; i < 300; i += 2) {
		void *g = heap_realloc(&H, many[i], (size_t)(17 + i % 200));
		REQUIRE(g);
		CHECK(filled(g, 16, (unsigned)i));
		many[i] = g;
	}
	HEAP_CLEAN();
	for (int i = 0; i < 300; i++)
		heap_free(&H, many[i]);
	heap_free(&H, n);
	heap_free(&H, z);
	heap_free(&H, keep);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(slab_realloc_failure_keeps_the_object)
{
	setup_slabs();
	void *o = heap_malloc(&H, 30);
	REQUIRE(o);
	fill(o, 32, 6);
	E.cap = E.brk;                  /* nothing more from the break */
	E.large_cap = E.mapped_bytes;   /* nor from map_pages */
	/* Use the rest of the break so that a bigger class cannot get a run. */
	static void *fillers[2000];
	size_t nf = 0;
	while (nf < 2000 && (fillers[nf] = heap_malloc(&H, 2000)) != NULL)
		nf++;
	REQUIRE(nf < 2000);
	struct heap_stats before = stats();
	CHECK(heap_realloc(&H, o, 500000) == NULL);   /* would go large: nothing can be mapped */
	CHECK(heap_realloc(&H, o, 5000) == NULL);     /* no room left in the break */
	CHECK(stats_equal(stats(), before));
	CHECK(filled(o, 32, 6));
	CHECK_EQ_U(heap_usable_size(&H, o), 32);
	CHECK_EQ_U(H.slab_live[1], 1);
	HEAP_CLEAN();
	void *r;
	E.cap = RESERVE;
	E.large_cap = GiB;
	r = heap_realloc(&H, o, 500);
	REQUIRE(r);
	CHECK(filled(r, 32, 6));
	heap_free(&H, r);
	for (size_t i = 0; i < nf; i++)
		heap_free(&H, fillers[i]);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(slab_calloc_zeroes_and_memalign_places)
{
	static void *p[200];

	setup_slabs();
	/* Dirty objects of every class, freed, then calloc'd back (same runs, same places). */
	for (int i = 0; i < 200; i++) {
		REQUIRE(p[i] = heap_malloc(&H, (size_t)(1 + i % 64)));
		memset(p[i], 0xff, heap_usable_size(&H, p[i]));
	}
	for (int i = 0; i < 200; i++)
		heap_free(&H, p[i]);
	int reused = 0;
	for (int i = 0; i < 200; i++) {
		size_t n = (size_t)(1 + i % 64);
		void *c = heap_calloc(&H, n, 1);
		REQUIRE(c);
		CHECK(on_run_page(c));
		CHECK_EQ_U(heap_usable_size(&H, c), class_size(n));
		unsigned char *b = c;
		for (size_t k = 0; k < n; k++)
			if (b[k]) {
				CHECK(b[k] == 0);
				break;
			}
		for (int j = 0; j < 200; j++)
			reused += c == p[j];
		p[i] = c;
	}
	CHECK(reused > 0);
	void *c4 = heap_calloc(&H, 4, 16);   /* 64 bytes: an object */
	REQUIRE(c4);
	CHECK(on_run_page(c4));
	CHECK_EQ_U(heap_usable_size(&H, c4), 64);
	void *c0 = heap_calloc(&H, 0, 8);
	REQUIRE(c0);
	CHECK_EQ_U(heap_usable_size(&H, c0), 16);
	void *c65 = heap_calloc(&H, 5, 13);
	REQUIRE(c65);
	CHECK(!on_run_page(c65));
	for (int i = 0; i < 200; i++)
		heap_free(&H, p[i]);
	heap_free(&H, c4);
	heap_free(&H, c0);
	heap_free(&H, c65);
	HEAP_CLEAN();

	/* memalign: up to 16 it is a plain request (an object); above, a 64-aligned ordinary block. */
	void *m16 = heap_memalign(&H, 16, 40), *m8 = heap_memalign(&H, 8, 40), *m1 = heap_memalign(&H, 1, 64);
	REQUIRE(m16 && m8 && m1);
	CHECK(on_run_page(m16) && on_run_page(m8) && on_run_page(m1));
	CHECK_EQ_U(heap_usable_size(&H, m16), 48);
	CHECK_EQ_U(heap_usable_size(&H, m1), 64);
	void *m64 = heap_memalign(&H, 64, 40), *m32 = heap_memalign(&H, 32, 10), *m4k = heap_memalign(&H, 4096, 16);
	REQUIRE(m64 && m32 && m4k);
	CHECK(aligned(m64, 64) && aligned(m32, 32) && aligned(m4k, 4096));
	CHECK(!on_run_page(m64) && !on_run_page(m32) && !on_run_page(m4k));
	CHECK(heap_usable_size(&H, m64) >= 40);
	memset(m64, 1, heap_usable_size(&H, m64));
	memset(m4k, 2, heap_usable_size(&H, m4k));
	HEAP_CLEAN();
	heap_free(&H, m16);
	heap_free(&H, m8);
	heap_free(&H, m1);
	heap_free(&H, m64);
	heap_free(&H, m32);
	heap_free(&H, m4k);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

/* ----- the walker and the leak lister ----- */

struct walk_entry { uintptr_t p; size_t size; int used; };
static struct walk_entry walked[1200];
static size_t nwalked;

static void walk_rec(void *ctx, void *ptr, size_t size, int used)
{
	(void)ctx;
	if (nwalked < sizeof walked / sizeof walked[0])
		walked[nwalked] = (struct walk_entry){ (uintptr_t)ptr, size, used };
	nwalked++;
}

static struct heap_block_info leaked[600];
static size_t nleaked;

static void leak_rec(void *ctx, const struct heap_block_info *b)
{
	(void)ctx;
	if (nleaked < sizeof leaked / sizeof leaked[0])
		leaked[nleaked] = *b;
	nleaked++;
}

HTEST(slab_walk_and_leaks_see_each_object)
{
	void *o32[6], *o64[3];

	setup_slabs();
	for (int i = 0; i < 6; i++)
		REQUIRE(o32[i] = heap_malloc(&H, 32));
	void *blk = heap_malloc(&H, 100);
	for (int i = 0; i < 3; i++)
		REQUIRE(o64[i] = heap_malloc(&H, 64));
	REQUIRE(blk);
	heap_free(&H, o32[1]);
	heap_free(&H, o32[3]);
	heap_free(&H, o64[0]);
	struct heap_slab *r32 = run_of(o32[0]), *r64 = run_of(o64[1]);
	REQUIRE(r32 != r64);
	CHECK((char *)r32 == E.base + 16);
	struct heap_stats s = stats();

	nwalked = 0;
	heap_walk(&H, walk_rec, NULL);
	REQUIRE(nwalked <= sizeof walked / sizeof walked[0]);
	/* In address order: run 32 (125 objects), the block, run 64 (62 objects), the free top. */
	size_t i = 0, used = 0;
	for (unsigned k = 0; k < 125; k++, i++) {
		REQUIRE(i < nwalked);
		CHECK_EQ_U(walked[i].p, (uintptr_t)r32 + HEAP_SLAB_HDR + k * 32);
		CHECK_EQ_U(walked[i].size, 32);
		bool live = k == 0 || k == 2 || k == 4 || k == 5;
		CHECK_EQ_U(walked[i].used, live ? HEAP_WALK_USED : HEAP_WALK_FREE);
	}
	REQUIRE(i < nwalked);
	CHECK_EQ_U(walked[i].p, (uintptr_t)blk);
	CHECK_EQ_U(walked[i].used, HEAP_WALK_USED);
	CHECK_EQ_U(walked[i].size, heap_usable_size(&H, blk));
	i++;
	/* Whatever lies between the block and run 64 (an alignment gap) is free. */
	while (i < nwalked && walked[i].p != (uintptr_t)r64 + HEAP_SLAB_HDR) {
		CHECK_EQ_U(walked[i].used, HEAP_WALK_FREE);
		i++;
	}
	for (unsigned k = 0; k < 62; k++, i++) {
		REQUIRE(i < nwalked);
		CHECK_EQ_U(walked[i].p, (uintptr_t)r64 + HEAP_SLAB_HDR + k * 64);
		CHECK_EQ_U(walked[i].size, 64);
		CHECK_EQ_U(walked[i].used, k == 1 || k == 2 ? HEAP_WALK_USED : HEAP_WALK_FREE);
	}
	for (; i < nwalked; i++)
		CHECK_EQ_U(walked[i].used, HEAP_WALK_FREE);
	for (size_t j = 0; j < nwalked; j++)
		used += walked[j].used == HEAP_WALK_USED;
	CHECK_EQ_U(used, 4 + 1 + 2);
	CHECK_EQ_U(used, s.slab_objects + s.used_blocks - s.slab_runs);

	nleaked = 0;
	CHECK_EQ_U(heap_leaks(&H, leak_rec, NULL), 7);
	REQUIRE(nleaked == 7);
	void *want[7] = { o32[0], o32[2], o32[4], o32[5], blk, o64[1], o64[2] };
	size_t want_size[7] = { 32, 32, 32, 32, heap_usable_size(&H, blk), 64, 64 };
	for (int j = 0; j < 7; j++) {
		CHECK(leaked[j].ptr == want[j]);
		CHECK_EQ_U(leaked[j].size, want_size[j]);
		CHECK(!leaked[j].large);
		CHECK(leaked[j].alloc_pc == 0 && leaked[j].seq == 0);
	}
	heap_free(&H, o32[0]);
	heap_free(&H, o32[2]);
	heap_free(&H, o32[4]);
	heap_free(&H, o32[5]);
	nleaked = 0;
	CHECK_EQ_U(heap_leaks(&H, leak_rec, NULL), 3);
	CHECK(nleaked == 3 && leaked[0].ptr == blk && leaked[1].ptr == o64[1] && leaked[2].ptr == o64[2]);
	heap_free(&H, blk);
	heap_free(&H, o64[1]);
	heap_free(&H, o64[2]);
	CHECK_EQ_U(heap_leaks(&H, leak_rec, NULL), 0);
	expect_empty();
}

/* ----- running out, the window, the debug levels ----- */

HTEST(slab_out_of_memory_fails_cleanly)
{
	static void *p[20000];
	size_t n = 0, objects = 0, blocks = 0, sizes_failed = 0;
	bool failed[HEAP_SLAB_MAX + 1] = { false };

	setup_slabs();
	E.cap = 256 * KiB;
	E.large_cap = 0;
	rng_state = seed ^ 0x0badull;
	/* Until every size 0..64 has failed: more small requests than fit. */
	while (sizes_failed < HEAP_SLAB_MAX + 1) {
		size_t size = rnd() % (HEAP_SLAB_MAX + 1);
		struct heap_stats before = stats();
		size_t brk_before = E.brk;
		void *x = heap_malloc(&H, size);
		if (!x) {
			CHECK(stats_equal(stats(), before));
			CHECK_EQ_U(E.brk, brk_before);
			CHECK(heap_calloc(&H, size, 1) == NULL);
			CHECK(heap_memalign(&H, 16, size) == NULL);
			CHECK(heap_realloc(&H, NULL, size) == NULL);
			CHECK(stats_equal(stats(), before));
			sizes_failed += !failed[size];
			failed[size] = true;
			continue;
		}
		REQUIRE(!failed[size]);   /* nothing was freed: a size that ran out stays out */
		REQUIRE(n < sizeof p / sizeof p[0]);
		size_t u = heap_usable_size(&H, x);
		CHECK(u >= size);
		if (on_run_page(x)) {
			CHECK_EQ_U(u, class_size(size));
			objects++;
		} else {
			blocks++;   /* no run could be had: an ordinary block */
		}
		memset(x, 0x11, u);
		p[n++] = x;
	}
	printf("# out of memory after %zu objects and %zu fallback blocks, %zu runs, break %zu KiB\n", objects,
	       blocks, H.slab_runs, E.brk / KiB);
	CHECK(objects > 1000);
	CHECK_EQ_U(E.brk, 256 * KiB);
	HEAP_CLEAN();
	struct heap_stats s = stats();
	CHECK_EQ_U(s.slab_objects, objects);
	CHECK_EQ_U(s.used_blocks, s.slab_runs + blocks);
	/* One freed object makes room for one more of its class. */
	size_t i = 0;
	while (!on_run_page(p[i]))
		i++;
	size_t u = heap_usable_size(&H, p[i]);
	heap_free(&H, p[i]);
	p[i] = heap_malloc(&H, u);
	CHECK(p[i] != NULL);
	for (size_t j = 0; j < n; j++)
		heap_free(&H, p[j]);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	heap_trim(&H);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
	expect_empty();
}

/* A heap over the break only (map_pages NULL), slabs on. */
static void setup_slabs_brk_only(void)
{
	env_open();
	struct heap_env env = env_for();
	env.map_pages = NULL;
	env.unmap_pages = NULL;
	env.remap_pages = NULL;
	env.slabs = HEAP_SLABS_ON;
	REQUIRE(heap_init(&H, &env) == 0);
}

HTEST(slab_window_past_256_mib_falls_back_to_blocks)
{
	enum { N = 300 };
	static void *p[N];

	setup_slabs_brk_only();
	REQUIRE(E.cap >= 512 * MiB);   /* the reservation holds the big block and more */
	void *big = heap_malloc(&H, 300 * MiB);
	REQUIRE(big);
	CHECK(in_brk(big));
	CHECK(E.brk > HEAP_SLAB_WINDOW);
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i % 65);
		REQUIRE(p[i] = heap_malloc(&H, n));
		CHECK(!on_run_page(p[i]));
		CHECK((char *)p[i] >= E.base + HEAP_SLAB_WINDOW);
		CHECK_EQ_U(heap_usable_size(&H, p[i]), block_bytes(n) - HEAP_OVERHEAD);
		memset(p[i], i, heap_usable_size(&H, p[i]));
	}
	CHECK_EQ_U(heap_usable_size(&H, p[1]), 24);
	CHECK_EQ_U(H.slab_runs, 0);
	CHECK_EQ_U(stats().slab_objects, 0);
	void *c = heap_calloc(&H, 1, 10), *m = heap_memalign(&H, 16, 30);
	REQUIRE(c && m);
	CHECK(!on_run_page(c) && !on_run_page(m));
	HEAP_CLEAN();
	/* Free one, realloc one: blocks as ever. */
	heap_free(&H, p[7]);
	p[7] = heap_realloc(&H, p[8], 40);
	REQUIRE(p[7]);
	p[8] = NULL;
	HEAP_CLEAN();
	for (int i = 0; i < N; i++)
		heap_free(&H, p[i]);
	heap_free(&H, c);
	heap_free(&H, m);
	HEAP_CLEAN();
	heap_free(&H, big);
	CHECK_EQ_U(H.slab_runs, 0);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	heap_trim(&H);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
	expect_empty();
}

/*
 * heap.h: "Past the window, or when no aligned run can be had, small
 * requests are ordinary blocks." Once the window is free again (here: the
 * first 300 MiB of the break, from base + 16, already aligned for a run),
 * a run can be had there, so small requests must be objects again, even
 * while some free block past the window exists too.
 */
HTEST(slab_runs_return_to_the_window_when_it_has_room)
{
	/* (a) A small block past the window stays live; the big block below it is freed. */
	setup_slabs_brk_only();
	void *big = heap_malloc(&H, 300 * MiB);
	REQUIRE(big);
	void *q = heap_malloc(&H, 1);   /* past the window: an ordinary block (the window is full) */
	REQUIRE(q);
	CHECK(!on_run_page(q));
	CHECK_EQ_U(heap_usable_size(&H, q), 24);
	heap_free(&H, big);
	HEAP_CLEAN();
	struct heap_stats s = stats();
	CHECK(s.largest_free >= 300 * MiB);   /* the whole window but 16 bytes is one free block */
	void *o = heap_malloc(&H, 1);
	REQUIRE(o);
	if (!on_run_page(o))
		printf("# malloc(1) = base + %#lx (usable %zu): an ordinary block past the window, with the window free\n",
		       (unsigned long)((char *)o - E.base), heap_usable_size(&H, o));
	CHECK(on_run_page(o));
	CHECK_EQ_U(heap_usable_size(&H, o), 16);
	CHECK((char *)o < E.base + HEAP_SLAB_WINDOW);
	CHECK_EQ_U(H.slab_runs, 1);
	heap_free(&H, o);
	heap_free(&H, q);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();

	/* (b) Everything freed, the last small block still in the front cache (so nothing merged yet). */
	setup_slabs_brk_only();
	REQUIRE(big = heap_malloc(&H, 300 * MiB));
	REQUIRE(q = heap_malloc(&H, 1));
	heap_free(&H, q);
	heap_free(&H, big);
	HEAP_CLEAN();
	REQUIRE(o = heap_malloc(&H, 1));
	CHECK(on_run_page(o));
	CHECK_EQ_U(heap_usable_size(&H, o), 16);
	heap_free(&H, o);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	heap_trim(&H);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

HTEST(slab_option_ignored_at_debug_levels)
{
	for (unsigned level = 1; level <= HEAP_DEBUG_MAX; level++) {
		env_open();
		struct heap_env env = env_for();
		env.slabs = HEAP_SLABS_ON;
		env.debug = level;
		REQUIRE(heap_init(&H, &env) == 0);
		CHECK(H.magic == HEAP_MAGIC);
		CHECK_EQ_U(H.slab_lim, 0);
		void *p = heap_malloc(&H, 10), *z = heap_malloc(&H, 0), *c = heap_calloc(&H, 3, 5);
		REQUIRE(p && z && c);
		CHECK_EQ_U(heap_usable_size(&H, p), 10);
		CHECK_EQ_U(heap_usable_size(&H, z), 0);
		CHECK_EQ_U(heap_usable_size(&H, c), 15);
		CHECK(!on_run_page(p) && !on_run_page(z) && !on_run_page(c));
		CHECK_EQ_U(H.slab_runs, 0);
		CHECK_EQ_U(stats().slab_objects, 0);
		memset(p, 1, 10);
		heap_free(&H, p);
		heap_free(&H, z);
		heap_free(&H, c);
		heap_flush_quarantine(&H);
		CHECK_EQ_U(E.reports, 0);
		expect_empty();
	}
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_slab");

	HRUN(slab_sizes_0_to_64_are_objects_of_their_class);
	HRUN(slab_objects_of_one_class_are_size_apart);
	HRUN(slabs_off_at_first_by_default_and_sizes_above_64_are_blocks);
	HRUN(slab_class_past_one_run_makes_a_second);
	HRUN(slab_run_that_empties_beside_another_with_room_is_given_back);
	HRUN(slab_malloc_free_pairs_keep_one_run);
	HRUN(slab_empty_runs_given_back_by_stats_trim_and_flush);
	HRUN(slab_kept_empty_run_never_costs_memory);
	HRUN(slab_realloc_grows_shrinks_and_keeps_contents);
	HRUN(slab_realloc_failure_keeps_the_object);
	HRUN(slab_calloc_zeroes_and_memalign_places);
	HRUN(slab_walk_and_leaks_see_each_object);
	HRUN(slab_out_of_memory_fails_cleanly);
	HRUN(slab_window_past_256_mib_falls_back_to_blocks);
	HRUN(slab_runs_return_to_the_window_when_it_has_room);
	HRUN(slab_option_ignored_at_debug_levels);
	env_close();
	return htest_done();
}
