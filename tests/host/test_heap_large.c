/*
 * tests/host/test_heap_large.c - host tests of the kmalloc core's large
 * blocks (alloc/heap_large.c) at debug level 0: requests past the large
 * threshold get page-mapped runs of their own, a large realloc moves pages
 * (remap) instead of copying bytes, sampled allocations end where their page
 * ends, and a heap without map_pages keeps everything in the break. The
 * rest of level 0 is test_heap.c; the environment is heap_host_env.c.
 *
 * Usage: test_heap_large [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"

static bool bytes_are(const unsigned char *p, size_t n, unsigned seed8)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed8))
			return false;
	return true;
}

static void fill_bytes(unsigned char *p, size_t n, unsigned seed8)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed8);
}

/* A large realloc moves the run's pages (env.remap_pages), its header and list links with it. */
HTEST(large_realloc_remaps_instead_of_copying)
{
	setup();
	unsigned char *a = heap_malloc(&H, 200 * KiB), *b = heap_malloc(&H, 300 * KiB), *c = heap_malloc(&H, 200 * KiB);
	REQUIRE(a && b && c);
	fill_bytes(b, 300 * KiB, 7);
	size_t maps = E.map_calls, remaps = E.remap_calls;

	unsigned char *b2 = heap_realloc(&H, b, 900 * KiB);   /* grow: a list neighbour on each side */
	REQUIRE(b2);
	CHECK_EQ_U(E.remap_calls, remaps + 1);
	CHECK_EQ_U(E.map_calls, maps);                        /* not malloc + copy + free */
	CHECK(bytes_are(b2, 300 * KiB, 7));
	CHECK(heap_usable_size(&H, b2) >= 900 * KiB);
	memset(b2 + 300 * KiB, 0x11, 600 * KiB);
	HEAP_CLEAN();                                         /* tags, links, counters */
	CHECK_EQ_U(stats().large_blocks, 3);
	CHECK_EQ_U(stats().large_bytes, E.mapped_bytes);

	unsigned char *b3 = heap_realloc(&H, b2, 200 * KiB);  /* less than half: shrink the run */
	REQUIRE(b3);
	CHECK_EQ_U(E.remap_calls, remaps + 2);
	CHECK(bytes_are(b3, 200 * KiB, 7));
	CHECK_EQ_U(stats().large_bytes, E.mapped_bytes);
	HEAP_CLEAN();

	/* Nothing can be mapped, and the break cannot grow: remap, the run and the break all fail. */
	E.large_cap = E.mapped_bytes;
	E.cap = E.brk;
	CHECK(heap_realloc(&H, b3, 5 * MiB) == NULL);
	CHECK(bytes_are(b3, 200 * KiB, 7));
	HEAP_CLEAN();
	E.cap = RESERVE;
	E.large_cap = GiB;

	/* A memaligned run keeps its payload's place in the page. */
	unsigned char *d = heap_memalign(&H, 4096, 200 * KiB);
	REQUIRE(d && aligned(d, 4096));
	fill_bytes(d, 200 * KiB, 9);
	unsigned char *d2 = heap_realloc(&H, d, 700 * KiB);
	REQUIRE(d2);
	CHECK(aligned(d2, 4096));
	CHECK(bytes_are(d2, 200 * KiB, 9));
	HEAP_CLEAN();

	heap_free(&H, a);
	heap_free(&H, b3);
	heap_free(&H, c);
	heap_free(&H, d2);
	CHECK_EQ_U(E.env_errors, 0);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

/* heap.h "sample": one carved allocation in N gets a page of its own, ending where the block ends. */
HTEST(sampled_allocations_end_at_a_page_end)
{
	static void *p[64];
	static size_t want[64];

	env_open();
	struct heap_env env = env_for();
	env.sample_every = 4;
	REQUIRE(heap_init(&H, &env) == 0);
	size_t sampled = 0;
	for (int i = 0; i < 64; i++) {
		want[i] = (size_t)(i * 37) % 300;   /* 0 .. 299: all misses, nothing freed yet */
		REQUIRE(p[i] = heap_malloc(&H, want[i]));
		if (in_brk(p[i]))
			continue;
		sampled++;
		size_t u = heap_usable_size(&H, p[i]);
		CHECK_EQ_U(u, want[i] ? (want[i] + 15) & ~(size_t)15 : 16);
		CHECK_EQ_U(((uintptr_t)p[i] + u) % E.page, 0);   /* the next byte is the guard page */
		memset(p[i], 0x5c, u);
	}
	CHECK_EQ_U(sampled, 16);
	CHECK_EQ_U(H.sampled_blocks, 16);
	CHECK_EQ_U(stats().large_blocks, 16);
	HEAP_CLEAN();
	/* Too big to sit beside its header in one page: carved as usual. */
	for (int i = 0; i < 8; i++) {
		void *q = heap_malloc(&H, E.page - 32);
		REQUIRE(q);
		CHECK(in_brk(q));
		heap_free(&H, q);
	}
	for (int i = 0; i < 64; i++)
		heap_free(&H, p[i]);
	CHECK_EQ_U(E.nruns, 0);                        /* every sampled page unmapped */
	heap_flush_quarantine(&H);
	heap_trim(&H);
	expect_empty();

	/* The debug levels guard blocks their own way: no sampling there. */
	env_open();
	env = env_for();
	env.sample_every = 1;
	env.debug = 1;
	REQUIRE(heap_init(&H, &env) == 0);
	void *d = heap_malloc(&H, 48);
	REQUIRE(d && in_brk(d));
	CHECK_EQ_U(H.sampled_blocks, 0);
	heap_free(&H, d);
	expect_empty();
}

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
	heap_walk(&H, walk_count, counts);
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
	env.remap_pages = NULL;
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

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_large");

	HRUN(large_realloc_remaps_instead_of_copying);
	HRUN(sampled_allocations_end_at_a_page_end);
	HRUN(large_blocks_are_page_mapped);
	HRUN(no_map_pages_means_everything_in_the_break);
	env_close();
	return htest_done();
}
