/*
 * tests/host/test_heap_debug.c - the kmalloc core's debug levels on the host,
 * under ASan and UBSan: every misuse docs/hardening.md lists, provoked at
 * levels 1 and 2, its report line matched, and the heap left consistent
 * (heap_check clean) after each. The deliberate overflows and underflows
 * stay inside memory the heap owns (its canaries and headers), so ASan has
 * nothing to say about them; what it would catch is the heap itself going
 * outside its blocks while it checks, poisons and reports.
 *
 * Usage: test_heap_debug [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"

/* The line of the last report holds all of these. */
static bool line_has(const char *a, const char *b)
{
	return strstr(E.last_line, a) && (!b || strstr(E.last_line, b));
}

/* "0x... (size N" for p: how every debug report names a block. */
static const char *named(const void *p, size_t size)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "%s (size %zu", hex(p), size);
	return buf;
}

/* Whether a recorded code address lies in fn (tests are small: 8 KiB is plenty). */
static bool pc_in(uintptr_t pc, void (*fn)(void))
{
	return pc >= (uintptr_t)fn && pc < (uintptr_t)fn + 8192;
}

static struct heap_block_info one_leak;
static void keep_leak(void *ctx, const struct heap_block_info *b)
{
	(void)ctx;
	one_leak = *b;
}

/* heap_check fails, saying this; then the test goes on. */
#define EXPECT_CHECK_FINDS(text)                                              \
	do {                                                                  \
		char why_[256];                                               \
		CHECK(heap_check(&H, why_, sizeof why_) == -1);               \
		CHECK(strstr(why_, text) != NULL);                            \
		printf("# found: %s\n", why_);                                \
	} while (0)

HTEST(levels_are_chosen_at_init)
{
	env_open();
	struct heap_env env = env_for();
	env.debug = 3;
	CHECK(heap_init(&H, &env) == -1);
	for (unsigned level = 0; level <= HEAP_DEBUG_MAX; level++) {
		setup_level(level);
		CHECK_EQ_U(H.debug, level);
		void *p = heap_malloc(&H, 48);
		REQUIRE(p);
		CHECK(aligned(p, 16));
		CHECK_EQ_U(heap_usable_size(&H, p), level ? 48 : 56);
		/* Level 0 costs 8 bytes a block; the debug levels a record and a canary. */
		CHECK_EQ_U(stats().in_use_bytes, level ? 112 : 64);
		heap_free(&H, p);
		heap_trim(&H);
		expect_empty();
	}
}

HTEST(records_who_allocated)
{
	setup_level(1);
	uint64_t seq0 = H.alloc_seq;
	void *p = heap_malloc(&H, 40);
	REQUIRE(p);
	CHECK_EQ_U(heap_leaks(&H, keep_leak, NULL), 1);
	CHECK(one_leak.ptr == p);
	CHECK_EQ_U(one_leak.size, 40);
	CHECK_EQ_U(one_leak.seq, seq0 + 1);
	CHECK(pc_in(one_leak.alloc_pc, htest_records_who_allocated));
	/* The *_at entry points record whom they are told. */
	void *q = heap_malloc_at(&H, 10, 0x1234);
	REQUIRE(q);
	CHECK_EQ_U(heap_leaks(&H, keep_leak, NULL), 2);
	CHECK_EQ_U(one_leak.alloc_pc, 0x1234);
	CHECK_EQ_U(one_leak.seq, seq0 + 2);
	heap_free(&H, p);
	heap_free(&H, q);
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
}

static void double_free_case(unsigned level)
{
	setup_level(level);
	char *a = heap_malloc(&H, 48), *b = heap_malloc(&H, 48), *c = heap_malloc(&H, 48);
	REQUIRE(a && b && c);
	/* At once. */
	heap_free(&H, b);
	EXPECT_REPORT(heap_free(&H, b), HEAP_ERR_DOUBLE_FREE, b, "heap: double free of ");
	CHECK(line_has(named(b, 48), ", allocated at 0x"));
	CHECK(line_has(", freed at 0x", "); freed again at 0x"));
	/* Delayed: free b, free a (merges with b at level 1), free b. */
	heap_free(&H, a);
	EXPECT_REPORT(heap_free(&H, b), HEAP_ERR_DOUBLE_FREE, b, named(b, 48));
	EXPECT_REPORT(heap_free(&H, a), HEAP_ERR_DOUBLE_FREE, a, named(a, 48));
	heap_free(&H, c);
	heap_trim(&H);
	EXPECT_REPORT(heap_free(&H, c), HEAP_ERR_DOUBLE_FREE, c, "double free of");
	expect_empty();
}

HTEST(double_free_level_1) { double_free_case(1); }
HTEST(double_free_level_2) { double_free_case(2); }

HTEST(double_free_of_a_large_block)
{
	setup_level(1);
	void *big = heap_malloc(&H, 300000);
	REQUIRE(big && !in_brk(big));
	heap_free(&H, big);
	EXPECT_REPORT(heap_free(&H, big), HEAP_ERR_DOUBLE_FREE, big, named(big, 300000));
	expect_empty();
}

HTEST(invalid_frees)
{
	_Alignas(16) static char static_buf[64];
	_Alignas(16) char stack_buf[64];

	setup_level(1);
	char *p = heap_malloc(&H, 64);
	REQUIRE(p);
	char into[96];
	snprintf(into, sizeof into, "(interior pointer into %s size 64, allocated at 0x", hex(p));
	EXPECT_REPORT(heap_free(&H, p + 16), HEAP_ERR_INVALID_FREE, p + 16, "heap: invalid free of ");
	CHECK(line_has(into, NULL));
	EXPECT_REPORT(heap_free(&H, p + 1), HEAP_ERR_INVALID_FREE, p + 1, into);
	EXPECT_REPORT(heap_free(&H, p - 48), HEAP_ERR_INVALID_FREE, p - 48, into);   /* its record */
	EXPECT_REPORT(heap_free(&H, stack_buf), HEAP_ERR_INVALID_FREE, stack_buf, "not a block the heap returned");
	EXPECT_REPORT(heap_free(&H, static_buf), HEAP_ERR_INVALID_FREE, static_buf, "outside the heap");
	char *never = p + 4096;   /* inside the break, never handed out */
	EXPECT_REPORT(heap_free(&H, never), HEAP_ERR_INVALID_FREE, never, "inside free memory");
	heap_free(&H, p);
	expect_empty();
}

static void overflow_case(unsigned level, size_t size, size_t by)
{
	setup_level(level);
	unsigned char *p = heap_malloc(&H, size), *q = heap_malloc(&H, 16);
	REQUIRE(p && q);
	memset(p, 0x11, size);
	HEAP_CLEAN();
	memset(p + size, 0, by);    /* the classic: one (or eight) past the end */
	char at[32];
	snprintf(at, sizeof at, "canary at +%zu overwritten", size);
	EXPECT_CHECK_FINDS("heap_check: overflow past ");
	EXPECT_CHECK_FINDS(at);
	int reports = E.reports;
	heap_free(&H, p);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_OVERFLOW);
	CHECK(line_has("heap: overflow past ", named(p, size)));
	CHECK(line_has(at, "(allocated at 0x"));
	HEAP_CLEAN();   /* freed all the same, and poisoned */
	heap_free(&H, q);
	heap_trim(&H);
	expect_empty();
}

HTEST(overflow_by_1_and_8)
{
	overflow_case(1, 48, 1);
	overflow_case(1, 48, 8);
	overflow_case(2, 37, 1);
	overflow_case(2, 37, 8);
	overflow_case(1, 300000, 8);   /* a large block */
}

HTEST(overflow_caught_by_realloc_and_rearmed)
{
	setup_level(1);
	unsigned char *p = heap_malloc(&H, 100);
	REQUIRE(p);
	p[100] = 1;
	unsigned char *r = heap_realloc(&H, p, 60);
	CHECK_EQ_U(E.reports, 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_OVERFLOW);
	CHECK(line_has(named(p, 100), "canary at +100 overwritten"));
	REQUIRE(r == p);
	HEAP_CLEAN();   /* shrunk in place: the canary now starts at +60 */
	p[60] = 1;
	EXPECT_CHECK_FINDS("canary at +60 overwritten");
	p[60] = HEAP_CANARY_BYTE;
	p = heap_realloc(&H, p, 2000);   /* grows (in place or not): still guarded */
	REQUIRE(p);
	CHECK_EQ_U(heap_usable_size(&H, p), 2000);
	p[2000] = 0;
	EXPECT_CHECK_FINDS("canary at +2000 overwritten");
	p[2000] = HEAP_CANARY_BYTE;
	heap_free(&H, p);
	CHECK_EQ_U(E.reports, 1);
	expect_empty();
}

HTEST(underflow_into_canary_and_header)
{
	setup_level(1);
	unsigned char *p = heap_malloc(&H, 48), *q = heap_malloc(&H, 48);
	REQUIRE(p && q);
	p[-1] ^= 0xff;   /* changed whatever the random canary held */
	EXPECT_CHECK_FINDS("heap_check: underflow below ");
	EXPECT_CHECK_FINDS("canary at -1 overwritten");
	heap_free(&H, p);   /* reported, and freed all the same */
	CHECK_EQ_U(E.reports, 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
	CHECK(line_has(named(p, 48), NULL));
	CHECK(line_has("heap: underflow below ", "canary at -1 overwritten (allocated at 0x"));
	HEAP_CLEAN();

	/* All the way into the header: the tag no longer fits, the block cannot be freed. */
	uint64_t *hdr = (uint64_t *)(q - HEAP_DBG_HEAD - HEAP_OVERHEAD), saved = *hdr;
	*hdr = 0x4141414141414141ull;
	EXPECT_CHECK_FINDS("bad check tag");
	int reports = E.reports;
	heap_free(&H, q);
	CHECK_EQ_U(E.reports, reports + 1);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_UNDERFLOW);
	CHECK(line_has("heap: underflow into the header of ", hex(q)));
	*hdr = saved;
	HEAP_CLEAN();
	heap_free(&H, q);
	expect_empty();
}

HTEST(write_after_free_caught_on_reuse_level_1)
{
	setup_level(1);
	char *a = heap_malloc(&H, 48), *b = heap_malloc(&H, 48), *c = heap_malloc(&H, 48);
	REQUIRE(a && b && c);
	heap_free(&H, b);   /* between two used blocks: it stays a block of its own */
	HEAP_CLEAN();
	b[8] = 'x';
	EXPECT_CHECK_FINDS("heap_check: write after free in ");
	EXPECT_CHECK_FINDS(named(b, 48));
	EXPECT_CHECK_FINDS("poison changed at +8");
	log_reset();
	char *again = heap_malloc(&H, 48);   /* the same size: b is handed out again */
	CHECK(again == b);
	CHECK_EQ_U(E.last_kind, HEAP_ERR_WRITE_AFTER_FREE);
	CHECK(logged("heap: write after free in "));
	CHECK(logged("poison changed at +8"));
	HEAP_CLEAN();
	heap_free(&H, a);
	heap_free(&H, again);
	heap_free(&H, c);
	expect_empty();
}

HTEST(write_after_free_caught_in_quarantine_level_2)
{
	setup_level(2);
	char *p = heap_malloc(&H, 200);
	REQUIRE(p);
	heap_free(&H, p);
	CHECK_EQ_U(stats().quarantine_blocks, 1);
	p[199] = 7;
	EXPECT_CHECK_FINDS("poison changed at +199");
	log_reset();
	CHECK_EQ_U(heap_flush_quarantine(&H), 1);   /* leaving the quarantine verifies it */
	CHECK_EQ_U(E.last_kind, HEAP_ERR_WRITE_AFTER_FREE);
	CHECK(logged(named(p, 200)));
	CHECK(logged("poison changed at +199"));
	HEAP_CLEAN();
	expect_empty();
}

HTEST(read_after_free_sees_poison)
{
	for (unsigned level = 1; level <= 2; level++) {
		setup_level(level);
		unsigned char *a = heap_malloc(&H, 100), *b = heap_malloc(&H, 100);
		REQUIRE(a && b);
		memset(a, 0x42, 100);
		heap_free(&H, a);
		size_t poisoned = 0;
		for (int i = 0; i < 100; i++)
			poisoned += a[i] == HEAP_POISON_BYTE;
		CHECK_EQ_U(poisoned, 100);
		heap_free(&H, b);
		heap_trim(&H);
		expect_empty();
	}
}

HTEST(realloc_and_usable_size_of_a_freed_block)
{
	setup_level(1);
	void *p = heap_malloc(&H, 48), *keep = heap_malloc(&H, 8);
	REQUIRE(p && keep);
	heap_free(&H, p);
	void *r = (void *)1;
	EXPECT_REPORT(r = heap_realloc(&H, p, 100), HEAP_ERR_INVALID_PTR, p, "heap: realloc of ");
	CHECK(r == NULL);
	CHECK(line_has("(a freed block: size 48, allocated at 0x", ", freed at 0x"));
	size_t u = 1;
	EXPECT_REPORT(u = heap_usable_size(&H, p), HEAP_ERR_INVALID_PTR, p, "heap: usable_size of ");
	CHECK_EQ_U(u, 0);
	CHECK(line_has("(a freed block: size 48", NULL));
	heap_free(&H, keep);
	expect_empty();
}

/* A fresh environment and a heap at debug level 2 with a quarantine of the given budget. */
static void setup_level2_quarantine(size_t budget)
{
	env_open();
	struct heap_env env = env_for();
	env.debug = 2;
	env.quarantine_bytes = budget;
	REQUIRE(heap_init(&H, &env) == 0);
}

HTEST(quarantine_delays_reuse_within_its_budget)
{
	setup_level2_quarantine(16 * KiB);
	void *first = heap_malloc(&H, 1000);
	REQUIRE(first);
	heap_free(&H, first);
	/* Not reused while it waits: 16 KiB / 1072-byte blocks is 15 more frees. */
	int reused_at = -1;
	for (int i = 0; i < 40 && reused_at < 0; i++) {
		void *p = heap_malloc(&H, 1000);
		REQUIRE(p);
		if (p == first)
			reused_at = i;
		heap_free(&H, p);
		struct heap_stats s = stats();
		CHECK(s.quarantine_bytes <= 16 * KiB);
		CHECK_EQ_U(s.brk_bytes, s.in_use_bytes + s.free_bytes + s.quarantine_bytes + 16);
		HEAP_CLEAN();
	}
	printf("# the first block came back after %d more frees\n", reused_at);
	CHECK(reused_at >= 14);
	/* A double free of a waiting block is still one. */
	void *w = heap_malloc(&H, 64);
	REQUIRE(w);
	heap_free(&H, w);
	EXPECT_REPORT(heap_free(&H, w), HEAP_ERR_DOUBLE_FREE, w, named(w, 64));
	/* The walker says which blocks wait. */
	size_t counts[4] = { 0 };
	heap_walk(&H, walk_count, counts);
	CHECK_EQ_U(counts[HEAP_WALK_QUARANTINED], stats().quarantine_blocks);
	heap_trim(&H);   /* empties the quarantine first */
	CHECK_EQ_U(stats().quarantine_blocks, 0);
	expect_empty();
	CHECK_EQ_U(E.brk, HEAP_DEFAULT_GROW_BYTES);
}

/*
 * A quarantine bigger than the memory there is: when the break cannot grow,
 * an allocation empties the quarantine and tries again, rather than fail
 * with the memory sitting in freed blocks.
 */
HTEST(quarantine_given_back_when_memory_runs_out)
{
	setup_level2_quarantine(64 * MiB);
	E.cap = 1 * MiB;                         /* the break may not pass 1 MiB */
	size_t waited = 0;
	for (int i = 0; i < 4000; i++) {         /* 4000 blocks of 1000 bytes: about 4 MiB in all */
		void *p = heap_malloc(&H, 1000);
		CHECK(p != NULL);
		if (!p)
			break;
		heap_free(&H, p);
		size_t q = stats().quarantine_bytes;
		waited = q > waited ? q : waited;
	}
	printf("# the quarantine held up to %zu KiB under a 1 MiB break\n", waited / KiB);
	CHECK(waited > 512 * KiB);               /* it did fill up before it was emptied */
	CHECK(E.brk <= 1 * MiB);
	CHECK_EQ_U(E.reports, 0);
	heap_trim(&H);
	expect_empty();
}

HTEST(debug_blocks_keep_every_contract)
{
	for (unsigned level = 1; level <= 2; level++) {
		setup_level(level);
		for (unsigned k = 0; k <= 21; k++) {
			size_t a = (size_t)1 << k;
			unsigned char *p = heap_memalign(&H, a, 100 + k);
			REQUIRE(p);
			CHECK(aligned(p, a < 16 ? 16 : a));
			CHECK_EQ_U(heap_usable_size(&H, p), 100 + k);
			memset(p, 0x5a, 100 + k);
			HEAP_CLEAN();
			heap_free(&H, p);
		}
		unsigned char *z = heap_calloc(&H, 10, 30);
		REQUIRE(z);
		for (int i = 0; i < 300; i++)
			CHECK(z[i] == 0);
		unsigned char *r = heap_realloc(&H, NULL, 10);
		REQUIRE(r);
		fill(r, 10, 3);
		r = heap_realloc(&H, r, 500000);   /* into a large run */
		REQUIRE(r && !in_brk(r));
		CHECK(filled(r, 10, 3));
		r = heap_realloc(&H, r, 20);        /* and back */
		REQUIRE(r && in_brk(r));
		CHECK(filled(r, 10, 3));
		heap_free(&H, r);
		heap_free(&H, z);
		CHECK_EQ_U(E.reports, 0);
		heap_trim(&H);
		expect_empty();
	}
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_debug");
	HRUN(levels_are_chosen_at_init);
	HRUN(records_who_allocated);
	HRUN(double_free_level_1);
	HRUN(double_free_level_2);
	HRUN(double_free_of_a_large_block);
	HRUN(invalid_frees);
	HRUN(overflow_by_1_and_8);
	HRUN(overflow_caught_by_realloc_and_rearmed);
	HRUN(underflow_into_canary_and_header);
	HRUN(write_after_free_caught_on_reuse_level_1);
	HRUN(write_after_free_caught_in_quarantine_level_2);
	HRUN(read_after_free_sees_poison);
	HRUN(realloc_and_usable_size_of_a_freed_block);
	HRUN(quarantine_delays_reuse_within_its_budget);
	HRUN(quarantine_given_back_when_memory_runs_out);
	HRUN(debug_blocks_keep_every_contract);
	env_close();
	return htest_done();
}
