/*
 * tests/host/test_heap_misuse.c - host tests of the kmalloc core at debug
 * level 0 when things go wrong: running out of memory and coming back,
 * misuse (double, invalid, interior, misaligned frees, forged headers) that
 * must be reported with the right line and change nothing, corruption that
 * heap_check must find, and the walker and leak lister that the kernel's
 * shell, GDB helpers and leak checks build on. The debug levels' own misuse
 * tests are test_heap_debug.c.
 *
 * Usage: test_heap_misuse [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"

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
			CHECK(heap_malloc(&H, 500000) == NULL);   /* no run, no room in the break */
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
	/* The front cache may still hold (and pin) up to 32 KiB of small blocks. */
	heap_trim(&H);
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

/* ----- misuse ----- */

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

	/* Interior pointers, with user bytes that look like a header at p - 8: the report names the block. */
	char into_d[64];
	snprintf(into_d, sizeof into_d, "(interior pointer into %s size 264)", hex(d));
	memset(d, 0x5a, 256);
	EXPECT_REPORT(heap_free(&H, (char *)d + 32), HEAP_ERR_INVALID_FREE, (char *)d + 32,
		      "heap: invalid free of ");
	CHECK(strstr(E.last_line, into_d) != NULL);
	uint64_t fake = 64;   /* "a used block of 64 bytes" without the tag */
	memcpy((char *)d + 56, &fake, 8);
	EXPECT_REPORT(heap_free(&H, (char *)d + 64), HEAP_ERR_INVALID_FREE, (char *)d + 64,
		      "invalid free");
	CHECK(strstr(E.last_line, into_d) != NULL);

	char into_c[64];
	snprintf(into_c, sizeof into_c, "(interior pointer into %s size 56)", hex(c));
	EXPECT_REPORT(heap_free(&H, (char *)c + 1), HEAP_ERR_INVALID_FREE, (char *)c + 1, into_c);
	EXPECT_REPORT(heap_free(&H, (char *)c + 8), HEAP_ERR_INVALID_FREE, (char *)c + 8, into_c);
	/* Misaligned and not inside a live block: said as such. */
	EXPECT_REPORT(heap_free(&H, stack_buf + 1), HEAP_ERR_INVALID_FREE, stack_buf + 1, "misaligned");

	/* Never handed out: inside free memory, past the break, the region's first bytes. */
	char *spare = (char *)a + 256;
	EXPECT_REPORT(heap_free(&H, spare + 4096), HEAP_ERR_INVALID_FREE, spare + 4096,
		      "(not a block the heap returned: inside free memory)");
	char *beyond = E.base + E.brk + 4096;
	EXPECT_REPORT(heap_free(&H, beyond), HEAP_ERR_INVALID_FREE, beyond, "outside the heap");
	CHECK(strstr(E.last_line, "(above the break)") != NULL);   /* the environment's hint */
	EXPECT_REPORT(heap_free(&H, E.base), HEAP_ERR_INVALID_FREE, E.base, "invalid free");

	/* Large blocks: a freed one is unmapped, so it must not be read either. */
	void *big = heap_malloc(&H, 300000);
	REQUIRE(big);
	char into_big[80];
	snprintf(into_big, sizeof into_big, "(interior pointer into %s size %zu)", hex(big),
		 heap_usable_size(&H, big));
	EXPECT_REPORT(heap_free(&H, (char *)big + 4096), HEAP_ERR_INVALID_FREE, (char *)big + 4096,
		      into_big);
	heap_free(&H, big);
	EXPECT_REPORT(heap_free(&H, big), HEAP_ERR_INVALID_FREE, big, "outside the heap");

	/* realloc and usable_size refuse the same pointers. */
	void *r = (void *)1;
	EXPECT_REPORT(r = heap_realloc(&H, b, 100), HEAP_ERR_INVALID_PTR, b, "heap: realloc of ");
	CHECK(strstr(E.last_line, "(a freed block)") != NULL);
	CHECK(r == NULL);
	size_t u = 1;
	EXPECT_REPORT(u = heap_usable_size(&H, (char *)d + 32), HEAP_ERR_INVALID_PTR, (char *)d + 32,
		      "heap: usable_size of ");
	CHECK(strstr(E.last_line, into_d) != NULL);
	CHECK_EQ_U(u, 0);
	EXPECT_REPORT(u = heap_usable_size(&H, a), HEAP_ERR_INVALID_PTR, a, "(a freed block)");

	heap_free(&H, c);
	heap_free(&H, d);
	expect_empty();
}

/* What a header the heap wrote at address b would hold (the formula in heap.h). */
static uint64_t forge_header(uintptr_t b, uint64_t size_flags)
{
	uint64_t tag = (((size_flags << (64 - HEAP_BLK_TAG_SHIFT)) ^ b ^ H.secret) * HEAP_TAG_MULT) >> HEAP_BLK_TAG_SHIFT;
	return size_flags | tag << HEAP_BLK_TAG_SHIFT;
}

HTEST(misuse_with_forged_tags_is_still_caught)
{
	setup();
	char *d = heap_malloc(&H, 1000), *e = heap_malloc(&H, 100);
	REQUIRE(d && e);
	/* The formula is the heap's: it gives e's real header. */
	uint64_t low = *(uint64_t *)(e - 8) & ((1ull << HEAP_BLK_TAG_SHIFT) - 1);
	CHECK_EQ_U(forge_header((uintptr_t)e - 8, low), *(uint64_t *)(e - 8));
	memset(d, 0x5a, 1000);
	/* A correctly tagged used header inside d, whose "next block" is user bytes. */
	uintptr_t b = (uintptr_t)d + 56;
	uint64_t w = forge_header(b, 64);
	memcpy((void *)b, &w, 8);
	char into_d[64];
	snprintf(into_d, sizeof into_d, "(interior pointer into %s size ", hex(d));
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8), into_d);
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

/*
 * Blocks too big for the front cache take their own way out of the fast
 * free (free0_other): the same misuse must be reported there as anywhere.
 */
HTEST(misuse_of_blocks_too_big_for_the_cache)
{
	setup();
	char *d = heap_malloc(&H, 8000), *x = heap_malloc(&H, 3000), *y = heap_malloc(&H, 3000), *e = heap_malloc(&H, 100);
	REQUIRE(d && x && y && e);
	REQUIRE(heap_usable_size(&H, x) > HEAP_CACHE_MAX_BLOCK);

	/* A double free, before and after the block merged with a free neighbour. */
	heap_free(&H, x);
	EXPECT_REPORT(heap_free(&H, x), HEAP_ERR_DOUBLE_FREE, x, "heap: double free of ");
	heap_free(&H, y);   /* its predecessor x is free: merged with it at once */
	EXPECT_REPORT(heap_free(&H, y), HEAP_ERR_DOUBLE_FREE, y, "double free");
	EXPECT_REPORT(heap_free(&H, x), HEAP_ERR_DOUBLE_FREE, x, "double free");

	/* Correctly tagged used headers of a big size inside d, whose neighbours do not agree. */
	memset(d, 0x5a, 8000);
	char into_d[64];
	snprintf(into_d, sizeof into_d, "(interior pointer into %s size ", hex(d));
	uintptr_t b = (uintptr_t)d + 56;
	uint64_t w = forge_header(b, 2048);
	memcpy((void *)b, &w, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8), into_d);
	uint64_t n = forge_header(b + 2048, 32 | HEAP_BLK_PREV_FREE);
	memcpy((void *)(b + 2048), &n, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8), "invalid free");
	n = forge_header(b + 2048, 32);
	memcpy((void *)(b + 2048), &n, 8);
	w = forge_header(b, 2048 | HEAP_BLK_PREV_FREE);
	memcpy((void *)b, &w, 8);
	uint64_t foot = (uint64_t)(b - 32);
	memcpy((void *)(b - 8), &foot, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8), "invalid free");
	foot = 0;
	memcpy((void *)(b - 8), &foot, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8), "invalid free");
	/* A size that runs past the break. */
	w = forge_header(b, (uint64_t)1 << 40);
	memcpy((void *)b, &w, 8);
	EXPECT_REPORT(heap_free(&H, (void *)(b + 8)), HEAP_ERR_INVALID_FREE, (void *)(b + 8), into_d);

	heap_free(&H, d);   /* its own header again: a good free */
	HEAP_CLEAN();

	/* An overflow from f into g's header: f's free is refused and changes nothing. */
	char *f = heap_malloc(&H, 3000), *g = heap_malloc(&H, 100);
	REQUIRE(f && g);
	uint64_t *gh = (uint64_t *)(g - 8), saved = *gh;
	*gh ^= 1ull << HEAP_BLK_TAG_SHIFT;
	int reports = E.reports;
	heap_free(&H, f);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_INVALID_FREE);
	CHECK(strstr(E.last_line, hex(f)) != NULL);
	*gh = saved;
	HEAP_CLEAN();
	heap_free(&H, f);
	heap_free(&H, g);
	heap_free(&H, e);
	heap_flush_quarantine(&H);
	heap_trim(&H);
	expect_empty();
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
	CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
	CHECK(strstr(E.last_line, "heap: underflow into the header of ") != NULL);
	CHECK(strstr(E.last_line, hex(c)) != NULL);
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
	struct heap_stats s = stats();   /* first: it flushes the front cache */
	struct walk_state w = { 0 };
	heap_walk(&H, walk_cb, &w);
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

struct leak_state {
	size_t n, bytes;
	void *seen[8];
};

static void leak_cb(void *ctx, const struct heap_block_info *b)
{
	struct leak_state *l = ctx;
	if (l->n < 8)
		l->seen[l->n] = b->ptr;
	l->n++;
	l->bytes += b->size;
	CHECK(b->alloc_pc == 0 && b->seq == 0);   /* level 0 records neither */
}

HTEST(leaks_lists_live_blocks)
{
	setup();
	struct leak_state l = { 0 };
	CHECK_EQ_U(heap_leaks(&H, leak_cb, &l), 0);
	void *a = heap_malloc(&H, 100), *b = heap_malloc(&H, 200), *big = heap_malloc(&H, 300000);
	REQUIRE(a && b && big);
	heap_free(&H, heap_malloc(&H, 50));
	CHECK_EQ_U(heap_leaks(&H, leak_cb, &l), 3);
	CHECK_EQ_U(l.n, 3);
	CHECK(l.seen[0] == a && l.seen[1] == b && l.seen[2] == big);
	CHECK_EQ_U(l.bytes, heap_usable_size(&H, a) + heap_usable_size(&H, b) + heap_usable_size(&H, big));
	heap_free(&H, a);
	heap_free(&H, b);
	heap_free(&H, big);
	expect_empty();
}

/* ----- level 0's front cache ----- */

/* The bytes of the blocks on the front cache's LIFOs (cached_blocks, their count: heap_host_env.c). */
static size_t cached_bytes(void)
{
	size_t n = 0;

	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++)
		n += H.cache_count[c] * (c + 2) * HEAP_ALIGN;
	return n;
}

HTEST(front_cache_reuses_checks_and_reports)
{
	char why[256];

	setup();
	struct heap_stats base = stats();
	void *keep = heap_malloc(&H, 5000);
	void *a = heap_malloc(&H, 100), *b = heap_malloc(&H, 100), *c = heap_malloc(&H, 2000);
	REQUIRE(keep && a && b && c);
	size_t ua = heap_usable_size(&H, a);

	/*
	 * A small free goes to the cache: a walk says free; struct heap still
	 * counts it in use (the core's view), the stats (after a flush) do not.
	 */
	size_t free_before = H.free_blocks;
	heap_free(&H, a);
	HEAP_CLEAN();
	CHECK_EQ_U(cached_blocks(), 1);
	CHECK_EQ_U(cached_bytes(), ua + HEAP_OVERHEAD);
	CHECK_EQ_U(H.used_blocks, 4);
	CHECK_EQ_U(H.free_blocks, free_before);
	size_t kinds[4] = { 0 };
	heap_walk(&H, walk_count, kinds);
	CHECK_EQ_U(kinds[HEAP_WALK_USED], 3);
	CHECK_EQ_U(kinds[HEAP_WALK_FREE], H.free_blocks + 1);

	/* A second free of a cached block is a double free, and changes nothing. */
	int reports = E.reports;
	heap_free(&H, a);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_DOUBLE_FREE);
	CHECK_EQ_U(E.last_addr, (uintptr_t)a);
	CHECK(strstr(E.last_line, "heap: double free of ") != NULL && strstr(E.last_line, hex(a)) != NULL);
	CHECK(heap_realloc(&H, a, 10) == NULL);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_INVALID_PTR);
	CHECK(strstr(E.last_line, "(a freed block)") != NULL);
	CHECK_EQ_U(heap_usable_size(&H, a), 0);
	CHECK_EQ_U(E.reports, reports + 3);
	CHECK_EQ_U(cached_blocks(), 1);
	HEAP_CLEAN();

	/* The same class hands the same block back (LIFO), no split, no merge. */
	void *a2 = heap_malloc(&H, 90);
	CHECK(a2 == a);
	CHECK_EQ_U(cached_blocks(), 0);
	HEAP_CLEAN();

	/* heap_check verifies the cache: a link overwritten after free is found. */
	heap_free(&H, a2);
	heap_free(&H, b);
	HEAP_CLEAN();
	uint64_t *link = (uint64_t *)b, saved = *link;
	*link = (uint64_t)(uintptr_t)c - 8;   /* a used block of another class */
	CHECK(heap_check(&H, why, sizeof why) == -1);
	CHECK(strstr(why, "front cache") != NULL);
	printf("# found: %s\n", why);
	*link = 0;                            /* a truncated LIFO: counts disagree */
	CHECK(heap_check(&H, why, sizeof why) == -1);
	CHECK(strstr(why, "front cache class") != NULL);
	printf("# found: %s\n", why);
	*link = saved;
	HEAP_CLEAN();
	/* A cached block's header flipped to another class: not on its LIFO. */
	uint64_t *hdr = (uint64_t *)((char *)b - 8), hsaved = *hdr;
	*hdr ^= 0x10;
	CHECK(heap_check(&H, why, sizeof why) == -1);
	printf("# found: %s\n", why);
	*hdr = hsaved;
	HEAP_CLEAN();

	/* malloc never hands out a corrupted entry: it reports and goes on. */
	*link = (uint64_t)(uintptr_t)c - 8;
	void *x = heap_malloc(&H, 100);   /* b, whose link is bad */
	CHECK(x == b);
	reports = E.reports;
	void *y = heap_malloc(&H, 100);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_WRITE_AFTER_FREE);
	CHECK(strstr(E.last_line, "front cache entry") != NULL);
	CHECK(y && y != c);
	CHECK(heap_check(&H, why, sizeof why) == -1);   /* a2 is lost: still marked cached */
	printf("# found: %s\n", why);
	/* Repair by hand what the report left: a2 back on its LIFO, counters as they were. */
	H.cache_head[(ua + HEAP_OVERHEAD) / HEAP_ALIGN - 2] = (uintptr_t)a2 - 8;
	*(uint64_t *)a2 = 0;
	H.cache_count[(ua + HEAP_OVERHEAD) / HEAP_ALIGN - 2] = 1;
	HEAP_CLEAN();

	/* Bytes in use come back exactly; heap_trim empties the cache first. */
	heap_free(&H, x);
	heap_free(&H, y);
	heap_free(&H, c);
	heap_free(&H, keep);
	CHECK(cached_blocks() > 0);
	CHECK_EQ_U(H.used_blocks - cached_blocks(), base.used_blocks);
	CHECK_EQ_U(H.in_use_bytes - cached_bytes(), base.in_use_bytes);
	/* heap_get_stats flushes: the numbers are those of the merged heap. */
	struct heap_stats s = stats();
	CHECK_EQ_U(cached_blocks(), 0);
	CHECK_EQ_U(s.free_blocks, 1);
	CHECK_EQ_U(s.brk_bytes, s.in_use_bytes + s.free_bytes + 16);
	CHECK(stats_equal(stats(), s));
	heap_trim(&H);
	CHECK_EQ_U(stats().brk_bytes, base.brk_bytes);
	expect_empty();

	/*
	 * Bounded per class: HEAP_CACHE_DEPTH blocks and HEAP_CACHE_CLASS_BYTES
	 * (but one block), so HEAP_CACHE_BYTES in all. Each freed block sits
	 * between two live separators, so only the bound keeps it out.
	 */
	size_t bound = 0;
	for (unsigned k = 0; k < HEAP_CACHE_CLASSES; k++) {
		size_t size = (k + 2) * HEAP_ALIGN, want = HEAP_CACHE_CLASS_BYTES / size;
		want = want < 1 ? 1 : want > HEAP_CACHE_DEPTH ? HEAP_CACHE_DEPTH : want;
		CHECK_EQ_U(H.cache_limit[k], want);
		bound += want * size;
	}
	CHECK_EQ_U(bound, HEAP_CACHE_BYTES);
	static void *p[100], *sep[101];
	REQUIRE(sep[100] = heap_malloc(&H, 16));
	for (int i = 0; i < 100; i++) {
		REQUIRE(p[i] = heap_malloc(&H, i < 50 ? 40 : 1000));
		REQUIRE(sep[i] = heap_malloc(&H, 16));
	}
	for (int i = 0; i < 100; i++)
		heap_free(&H, p[i]);
	HEAP_CLEAN();
	unsigned c48 = 48 / HEAP_ALIGN - 2, c1008 = 1008 / HEAP_ALIGN - 2;
	CHECK_EQ_U(H.cache_count[c48], HEAP_CACHE_CLASS_BYTES / 48);   /* 21 */
	CHECK_EQ_U(H.cache_count[c1008], 1);
	size_t held = cached_blocks();
	CHECK_EQ_U(held, HEAP_CACHE_CLASS_BYTES / 48 + 1);
	CHECK_EQ_U(heap_flush_quarantine(&H), held);
	CHECK_EQ_U(cached_blocks(), 0);
	HEAP_CLEAN();
	for (int i = 0; i <= 100; i++)
		heap_free(&H, sep[i]);
	heap_flush_quarantine(&H);
	HEAP_CLEAN();
	heap_trim(&H);
	expect_empty();
}

/*
 * Writes after free into cached blocks, then misuse of them: reported, and
 * nothing read outside the heap, nothing corrupted.
 */
HTEST(front_cache_survives_writes_after_free)
{
	char why[256];
	int reports;

	setup();
	char *a = heap_malloc(&H, 100), *b = heap_malloc(&H, 100), *g = heap_malloc(&H, 100);
	REQUIRE(a && b && g);
	heap_free(&H, a);
	heap_free(&H, b);                       /* the LIFO: b, then a */
	/* b's link overwritten, then a freed again: the walk that would prove a cached stops at b. */
	uint64_t *link = (uint64_t *)b, saved = *link;
	*link = 0x4141414141414140ull;
	reports = E.reports;
	heap_free(&H, a);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_DOUBLE_FREE);
	CHECK_EQ_U(heap_usable_size(&H, a), 0);
	size_t kinds[4] = { 0 };
	heap_walk(&H, walk_count, kinds); /* walks past a and b without following the link */
	CHECK(heap_check(&H, why, sizeof why) == -1);
	printf("# found: %s\n", why);
	*link = saved;
	HEAP_CLEAN();

	/* The newest entry's key wiped (its second word), then a double free. */
	uint64_t *key = (uint64_t *)b + 1;
	*key = 42;
	reports = E.reports;
	heap_free(&H, b);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_DOUBLE_FREE);
	CHECK(heap_check(&H, why, sizeof why) == -1);   /* the entry without its key: a write after free */
	printf("# found: %s\n", why);
	*key = H.cache_key ^ ((((uint64_t *)b)[-1] & HEAP_BLK_SIZE_MASK) / HEAP_ALIGN - 2);   /* its class's mark */
	HEAP_CLEAN();
	heap_flush_quarantine(&H);              /* level 0: empties the cache */
	HEAP_CLEAN();

	/* An overflow into the next header after a cached free: the flush finds it, keeps the block. */
	char *c = heap_malloc(&H, 100), *n = heap_malloc(&H, 100);
	REQUIRE(c && n);
	heap_free(&H, c);                       /* cached: its fast path reads only n's flags */
	uint64_t *hdr = (uint64_t *)(n - 8), hsaved = *hdr;
	*hdr &= (1ull << HEAP_BLK_TAG_SHIFT) - 1;   /* the tag gone, size and flags kept */
	reports = E.reports;
	stats();                                /* flushes the cache */
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
	CHECK(strstr(E.last_line, "front cache entry ") != NULL && strstr(E.last_line, "cannot be merged") != NULL);
	CHECK(heap_check(&H, why, sizeof why) == -1);   /* n's header is still found bad */
	printf("# found: %s\n", why);
	*hdr = hsaved;
	HEAP_CLEAN();                           /* c stayed allocated: the heap lost it, nothing else */
	heap_free(&H, c);
	heap_free(&H, n);
	heap_free(&H, g);
	heap_flush_quarantine(&H);
	heap_trim(&H);
	expect_empty();
}

/*
 * A double free of a class's newest entry after a write after free wiped
 * its mark, when the class is full: a class of 528..1024-byte blocks is
 * full with one block, a class of 112-byte blocks with 9. The fast free
 * must ask "is it the head?" before "is there room?", or the block is
 * merged while still on its LIFO and nothing is reported.
 */
HTEST(front_cache_full_class_double_free_of_its_head)
{
	static const size_t sizes[2] = { 1000, 100 };
	char *p[10];

	for (int t = 0; t < 2; t++) {
		size_t n = sizes[t];
		unsigned c = (unsigned)((n + HEAP_OVERHEAD + HEAP_ALIGN - 1) / HEAP_ALIGN - 2);
		setup();
		uint32_t limit = H.cache_limit[c];
		REQUIRE(limit < 10);
		for (uint32_t i = 0; i <= limit; i++)
			REQUIRE(p[i] = heap_malloc(&H, n));   /* p[limit] keeps the last one off the top */
		for (uint32_t i = 0; i < limit; i++)
			heap_free(&H, p[i]);
		char *head = p[limit - 1];
		CHECK_EQ_U(H.cache_count[c], limit);    /* full, head the newest */
		CHECK(H.cache_head[c] == (uintptr_t)head - 8);
		uint64_t *mark = (uint64_t *)head + 1, saved = *mark;
		*mark = 0x4141414141414141ull;          /* a write after free over the mark */
		int reports = E.reports;
		heap_free(&H, head);
		CHECK_EQ_U(E.reports, reports + 1);
		CHECK_EQ_U(E.last_kind, HEAP_ERR_DOUBLE_FREE);
		CHECK_EQ_U(E.last_addr, (uintptr_t)head);
		CHECK_EQ_U(H.cache_count[c], limit);    /* nothing changed */
		*mark = saved;
		HEAP_CLEAN();
		/* The heap still serves a correct program at that address. */
		char *x = heap_malloc(&H, n);
		CHECK(x == head);                       /* the pop */
		memset(x, 0x5a, n);
		CHECK_EQ_U(heap_usable_size(&H, x), ((n + HEAP_OVERHEAD + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1)) - HEAP_OVERHEAD);
		for (uint32_t i = 0; i < limit - 1; i++)
			REQUIRE(heap_malloc(&H, n) == p[limit - 2 - i]);
		for (uint32_t i = 0; i <= limit; i++)
			heap_free(&H, p[i]);
		CHECK_EQ_U(E.reports, reports + 1);
		HEAP_CLEAN();
		expect_empty();
	}
}

/*
 * An underflow from a large block's payload reaches its header: the word
 * first, then the run's fields and the list links. A free of any pointer
 * outside the break walks that list and a free unmaps the run it names, so
 * the headers are checked on the way: every such free is refused and
 * reported, naming the damaged block, until the header is mended.
 */
HTEST(large_header_underflow_refuses_large_frees)
{
	setup();
	char *a = heap_malloc(&H, 300 * KiB), *b = heap_malloc(&H, 300 * KiB);   /* b is the newest: the list's head */
	REQUIRE(a && b && !in_brk(a) && !in_brk(b));
	size_t unmaps = E.unmap_calls;
	uint64_t saved[3];
	memcpy(saved, b - 24, sizeof saved);
	memset(b - 24, 0x41, 24);                /* b's word, spare and run_bytes */
	int reports = E.reports;
	heap_free(&H, a);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_INVALID_FREE);
	CHECK(strstr(E.last_line, hex(a)) != NULL && strstr(E.last_line, "is damaged") != NULL &&
	      strstr(E.last_line, hex(b)) != NULL);
	heap_free(&H, b);
	CHECK_EQ_U(E.reports, reports + 2);
	CHECK(heap_realloc(&H, a, 400 * KiB) == NULL);
	CHECK_EQ_U(E.reports, reports + 3);
	CHECK_EQ_U(E.unmap_calls, unmaps);       /* nothing unmapped on a damaged header's word */
	CHECK_EQ_U(stats().large_blocks, 2);
	memcpy(b - 24, saved, sizeof saved);     /* mended: frees are obeyed again */
	HEAP_CLEAN();
	heap_free(&H, a);
	heap_free(&H, b);
	CHECK_EQ_U(E.reports, reports + 3);
	expect_empty();
}

/* A cached block whose predecessor is freed after it: PREV_FREE changes, the pop still takes it. */
HTEST(front_cache_entry_whose_predecessor_is_freed)
{
	setup();
	void *x = heap_malloc(&H, 2000), *a = heap_malloc(&H, 100), *g = heap_malloc(&H, 100);
	REQUIRE(x && a && g);
	heap_free(&H, a);   /* cached: both neighbours are used */
	CHECK_EQ_U(cached_blocks(), 1);
	heap_free(&H, x);   /* too big to cache: a free block now, so a's header gains PREV_FREE */
	HEAP_CLEAN();
	CHECK(*(uint64_t *)((char *)a - 8) & HEAP_BLK_PREV_FREE);
	int reports = E.reports;
	void *a2 = heap_malloc(&H, 100);
	CHECK(a2 == a);
	CHECK_EQ_U(E.reports, reports);
	CHECK_EQ_U(cached_blocks(), 0);
	HEAP_CLEAN();
	heap_free(&H, a2);
	heap_free(&H, g);
	heap_flush_quarantine(&H);
	heap_trim(&H);
	expect_empty();
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_misuse");
	HRUN(out_of_memory_and_back);
	HRUN(misuse_is_reported_not_obeyed);
	HRUN(misuse_with_forged_tags_is_still_caught);
	HRUN(misuse_of_blocks_too_big_for_the_cache);
	HRUN(misuse_silent_without_report_callback);
	HRUN(front_cache_entry_whose_predecessor_is_freed);
	HRUN(front_cache_survives_writes_after_free);
	HRUN(front_cache_full_class_double_free_of_its_head);
	HRUN(large_header_underflow_refuses_large_frees);
	HRUN(check_finds_corruption);
	HRUN(walk_visits_blocks_in_order);
	HRUN(leaks_lists_live_blocks);
	HRUN(front_cache_reuses_checks_and_reports);
	env_close();
	return htest_done();
}
