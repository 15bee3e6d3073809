/*
 * tests/host/test_heap_slab_auto.c - host tests of heap.slabs=auto (heap.h
 * "slabs", HEAP_SLABS_AUTO, the default): a heap starts with every request
 * a block and turns slabs on with the carve that makes env.slab_after
 * small blocks (of at most HEAP_SMALL_BLOCK bytes) in use. Checked here:
 * the small_blocks counter through every path that makes, frees, splits or
 * grows a block (heap_check recounts it), when the switch happens and when
 * it must not (with the break growing or not), blocks from before it living
 * on beside objects, the front
 * cache's small blocks after it, the other settings (on, off, a value
 * heap_init refuses, the debug levels), and the shapes of the benchmark's
 * pairs and churn, which must stay without slabs.
 *
 * Usage: test_heap_slab_auto [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"
#include "slab_test_util.h"

HTEST(auto_is_the_default_and_starts_without_slabs)
{
	setup();
	CHECK(H.magic == HEAP_MAGIC);
	CHECK_EQ_U(H.slab_auto_at, HEAP_SLAB_AUTO_BLOCKS);
	CHECK_EQ_U(H.slab_lim, 0);
	CHECK_EQ_U(H.env.slab_after, HEAP_SLAB_AUTO_BLOCKS);
	void *a = heap_malloc(&H, 10);
	REQUIRE(a);
	CHECK_EQ_U(heap_usable_size(&H, a), 24);   /* a block */
	struct heap_stats st = stats();
	CHECK_EQ_U(st.slabs, 0);
	CHECK_EQ_U(st.small_blocks, 1);
	heap_free(&H, a);
	CHECK_EQ_U(stats().small_blocks, 0);
	expect_empty();
}

/* Every path that makes a block small or not: carve, split, cache, merge, realloc both ways, memalign. */
HTEST(small_block_count_follows_every_path)
{
	setup_slabs_as(HEAP_SLABS_OFF, 0);
	enum { N = 400 };
	static void *p[N];
	size_t small = 0;
	for (int i = 0; i < N; i++) {
		size_t n = 1 + rnd() % 200;
		REQUIRE(p[i] = heap_malloc(&H, n));
		small += block_bytes(n) <= HEAP_SMALL_BLOCK;
	}
	CHECK_EQ_U(H.small_blocks, small);   /* cached or not, they count (see struct heap) */
	HEAP_CLEAN();
	/* The block after each of the next loop's: its realloc can grow in place. */
	for (int i = 2; i < N; i += 3)
		heap_free(&H, p[i]), p[i] = NULL;
	HEAP_CLEAN();
	for (int i = 1; i < N; i += 3) {
		/* In place both ways where it can: small to big and back, and moving when it cannot. */
		REQUIRE(p[i] = heap_realloc(&H, p[i], 150 + rnd() % 100));
		HEAP_CLEAN();
		REQUIRE(p[i] = heap_realloc(&H, p[i], 1 + rnd() % 60));
		HEAP_CLEAN();
	}
	for (int i = 2; i < N; i += 3) {
		REQUIRE(p[i] = heap_memalign(&H, (size_t)16 << (rnd() % 6), 1 + rnd() % 100));
		HEAP_CLEAN();
	}
	heap_trim(&H);
	HEAP_CLEAN();
	size_t recount = 0;
	for (int i = 0; i < N; i++)
		recount += heap_usable_size(&H, p[i]) + HEAP_OVERHEAD <= HEAP_SMALL_BLOCK;
	CHECK_EQ_U(stats().small_blocks, recount);
	for (int i = 0; i < N; i++)
		heap_free(&H, p[i]);
	CHECK_EQ_U(stats().small_blocks, 0);
	CHECK_EQ_U(H.slab_lim, 0);   /* off stays off */
	expect_empty();
}

/*
 * The carve that makes slab_after small blocks in use turns slabs on, and
 * itself still gets a block; the next small request an object. The blocks
 * from before free as blocks, and everything checks.
 */
HTEST(slabs_turn_on_with_the_small_block_that_reaches_slab_after)
{
	enum { AFTER = 3000, N = 6000 };
	static void *p[N];

	setup_slabs_as(HEAP_SLABS_AUTO, AFTER);
	size_t on_at = 0;
	for (size_t i = 0; i < N && !on_at; i++) {
		REQUIRE(p[i] = heap_malloc(&H, 40));
		fill(p[i], 40, (unsigned)i);
		/* A block (48 bytes whole, or 64 when the rest of a chunk was too small to split off). */
		CHECK(!on_run_page(p[i]));
		CHECK(heap_usable_size(&H, p[i]) == 40 || heap_usable_size(&H, p[i]) == 56);
		if (H.slab_lim)
			on_at = i + 1;
	}
	CHECK_EQ_U(on_at, AFTER);
	CHECK(H.magic == HEAP_MAGIC_SLABS);
	CHECK_EQ_U(H.slab_auto_at, SIZE_MAX);
	HEAP_CLEAN();
	/* From now on a small request is an object of its class; bigger ones are blocks as before. */
	void *o = heap_malloc(&H, 40), *big = heap_malloc(&H, 100);
	REQUIRE(o && big);
	CHECK(placed_in_run(o, 48));
	CHECK(!on_run_page(big));
	struct heap_stats st = stats();
	CHECK_EQ_U(st.slabs, 1);
	CHECK_EQ_U(st.slab_objects, 1);
	CHECK_EQ_U(st.small_blocks, on_at);
	/* Blocks from before are blocks still: contents kept, usable size, double free reported as a block's. */
	for (size_t i = 0; i < on_at; i++) {
		CHECK(!on_run_page(p[i]));
		CHECK(filled(p[i], 40, (unsigned)i));
	}
	heap_free(&H, p[5]);
	heap_free(&H, p[5]);
	CHECK_EQ_U(E.reports, 1);
	CHECK(E.last_kind == HEAP_ERR_DOUBLE_FREE);
	for (size_t i = 0; i < on_at; i++)
		if (i != 5)
			heap_free(&H, p[i]);
	heap_free(&H, o);
	heap_free(&H, big);
	HEAP_CLEAN();
	CHECK_EQ_U(stats().small_blocks, 0);
	E.reports = 0;
	expect_empty();
}

/*
 * A heap that keeps its pages (retain, learnt from giving back and mapping
 * again the same megabytes) can reach the count without growing its break:
 * the switch must not wait for a growth.
 */
HTEST(slabs_turn_on_without_the_break_growing)
{
	enum { AFTER = 4000, BIG = 64 };
	static void *big[BIG];

	setup_slabs_as(HEAP_SLABS_AUTO, AFTER);
	/* 4 MiB in 64 KiB blocks, freed and taken again: the break learns to keep it. */
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < BIG; i++)
			REQUIRE(big[i] = heap_malloc(&H, 64 * KiB - 64));
		for (int i = 0; i < BIG; i++)
			heap_free(&H, big[i]);
	}
	size_t brk = E.brk, calls = E.sbrk_calls;
	REQUIRE(brk >= 2 * MiB);
	static void *p[AFTER];
	for (int i = 0; i < AFTER; i++)
		REQUIRE(p[i] = heap_malloc(&H, 24));
	CHECK_EQ_U(E.sbrk_calls, calls);   /* no growth */
	CHECK(H.slab_lim != 0);
	void *o = heap_malloc(&H, 24);
	REQUIRE(o);
	CHECK(on_run_page(o));
	heap_free(&H, o);
	for (int i = 0; i < AFTER; i++)
		heap_free(&H, p[i]);
	HEAP_CLEAN();
	expect_empty();
}

/* A heap that never holds enough small blocks at once never switches, however many it made. */
HTEST(many_small_blocks_made_and_freed_do_not_turn_slabs_on)
{
	enum { AFTER = 500 };
	static void *p[AFTER - 1];

	setup_slabs_as(HEAP_SLABS_AUTO, AFTER);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < AFTER - 1; i++)
			REQUIRE(p[i] = heap_malloc(&H, 1 + (size_t)(rnd() % 64)));
		/* A growth while fewer than AFTER are in use. */
		void *big = heap_malloc(&H, 100 * KiB);
		REQUIRE(big);
		heap_free(&H, big);
		for (int i = 0; i < AFTER - 1; i++)
			heap_free(&H, p[i]);
	}
	CHECK_EQ_U(H.slab_lim, 0);
	CHECK_EQ_U(H.slab_auto_at, AFTER);
	expect_empty();
}

/*
 * At the switch the front cache may hold blocks of the small classes,
 * which no small request pops any more: they are flushed like any other
 * before the break grows again, so they cost nothing for long.
 */
HTEST(cached_small_blocks_after_the_switch_are_flushed)
{
	enum { AFTER = 2000, N = 4000 };
	static void *p[N];

	setup_slabs_as(HEAP_SLABS_AUTO, AFTER);
	size_t n = 0;
	while (!H.slab_lim && n < N)
		REQUIRE(p[n++] = heap_malloc(&H, 24));
	REQUIRE(H.slab_lim);
	/* Free some blocks into the cache (every other one: neighbours used, so they are cached). */
	for (size_t i = 0; i + 1 < n; i += 2)
		heap_free(&H, p[i]), p[i] = NULL;
	CHECK(cached_blocks() > 0);
	HEAP_CLEAN();
	/* Objects now; then a growth of the break flushes the cache. */
	static void *o[1000];
	for (int i = 0; i < 1000; i++) {
		REQUIRE(o[i] = heap_malloc(&H, 24));
		CHECK(on_run_page(o[i]));
	}
	void *big = heap_malloc(&H, 120 * KiB);
	REQUIRE(big);
	CHECK_EQ_U(cached_blocks(), 0);
	HEAP_CLEAN();
	heap_free(&H, big);
	for (int i = 0; i < 1000; i++)
		heap_free(&H, o[i]);
	for (size_t i = 0; i < n; i++)
		heap_free(&H, p[i]);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

HTEST(on_off_and_bad_settings)
{
	setup_slabs_as(HEAP_SLABS_ON, 0);
	CHECK(H.magic == HEAP_MAGIC_SLABS);
	CHECK_EQ_U(H.slab_auto_at, SIZE_MAX);
	void *o = heap_malloc(&H, 8);
	REQUIRE(o);
	CHECK(on_run_page(o));
	heap_free(&H, o);
	expect_empty();

	setup_slabs_as(HEAP_SLABS_OFF, 1);
	CHECK_EQ_U(H.slab_auto_at, SIZE_MAX);
	static void *p[3000];
	for (int i = 0; i < 3000; i++)
		REQUIRE(p[i] = heap_malloc(&H, 16));
	CHECK_EQ_U(H.slab_lim, 0);   /* grown many times with thousands in use: still off */
	for (int i = 0; i < 3000; i++)
		heap_free(&H, p[i]);
	expect_empty();

	/* Not one of the three: refused, as any other bad setting. */
	env_open();
	struct heap_env env = env_for();
	env.slabs = HEAP_SLABS_OFF + 1;
	CHECK(heap_init(&H, &env) == -1);
	env_close();
}

HTEST(auto_never_switches_at_debug_levels)
{
	static void *p[600];

	for (unsigned level = 1; level <= HEAP_DEBUG_MAX; level++) {
		env_open();
		struct heap_env env = env_for();
		env.debug = level;
		env.slab_after = 10;
		REQUIRE(heap_init(&H, &env) == 0);
		CHECK_EQ_U(H.slab_auto_at, SIZE_MAX);
		for (int i = 0; i < 600; i++)
			REQUIRE(p[i] = heap_malloc(&H, 16));
		CHECK_EQ_U(H.slab_lim, 0);
		CHECK_EQ_U(heap_usable_size(&H, p[0]), 16);
		HEAP_CLEAN();
		for (int i = 0; i < 600; i++)
			heap_free(&H, p[i]);
		heap_flush_quarantine(&H);
		CHECK_EQ_U(E.reports, 0);
		expect_empty();
	}
}

/*
 * The benchmark's pairs and churn at the default threshold (tools/bench):
 * malloc/free pairs of 16..256 bytes, and 10,000 live slots of 8..4096
 * bytes log-uniform, refilled at random. Neither holds 16,384 small blocks,
 * so neither pays for slabs; the frag workload (100,000 small blocks) does
 * switch, which bench checks by its footprint.
 */
HTEST(pairs_and_churn_shapes_stay_without_slabs)
{
	setup();
	for (int i = 0; i < 200000; i++) {
		void *q = heap_malloc(&H, 16 + rnd() % 241);
		REQUIRE(q);
		heap_free(&H, q);
	}
	CHECK_EQ_U(H.slab_lim, 0);

	enum { SLOTS = 10000 };
	static void *slot[SLOTS];
	for (int i = 0; i < 300000; i++) {
		unsigned s = (unsigned)(rnd() % SLOTS);
		heap_free(&H, slot[s]);
		/* 8 << (0..9 in 1/64 steps): log-uniform 8..4096. */
		unsigned e = (unsigned)(rnd() % (9 * 64));
		size_t n = (size_t)8 << (e / 64);
		n += n * (e % 64) / 64;
		REQUIRE(slot[s] = heap_malloc(&H, n));
	}
	CHECK_EQ_U(H.slab_lim, 0);
	CHECK(stats().small_blocks < HEAP_SLAB_AUTO_BLOCKS / 2);
	for (int i = 0; i < SLOTS; i++)
		heap_free(&H, slot[i]);
	expect_empty();
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_slab_auto");

	HRUN(auto_is_the_default_and_starts_without_slabs);
	HRUN(small_block_count_follows_every_path);
	HRUN(slabs_turn_on_with_the_small_block_that_reaches_slab_after);
	HRUN(slabs_turn_on_without_the_break_growing);
	HRUN(many_small_blocks_made_and_freed_do_not_turn_slabs_on);
	HRUN(cached_small_blocks_after_the_switch_are_flushed);
	HRUN(on_off_and_bad_settings);
	HRUN(auto_never_switches_at_debug_levels);
	HRUN(pairs_and_churn_shapes_stay_without_slabs);
	env_close();
	return htest_done();
}
