/*
 * tests/host/test_buddy.c - host tests for alloc/buddy.c. The allocator
 * never touches the memory it manages, so these tests hand it physical
 * ranges that don't exist and keep only its metadata in host memory.
 * Randomized tests print their seed; rerun one with HTEST_SEED=N.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "../rand.h"
#include "../../alloc/buddy.h"

#define PG BUDDY_PAGE_SIZE
#define NO BUDDY_NO_FRAME

/* One allocator under test, its metadata, and what its report callback saw. */
static struct buddy b;
static void *meta;
static struct {
	int calls, err;
	uint64_t pa;
	unsigned order;
	char line[256];
} rep;

static void on_report(void *ctx, int err, uint64_t pa, unsigned order, const char *line)
{
	(void)ctx;
	rep.calls++;
	rep.err = err;
	rep.pa = pa;
	rep.order = order;
	snprintf(rep.line, sizeof rep.line, "%s", line);
}

static void setup(uint64_t base_pa, uint64_t nframes)
{
	free(meta);
	meta = malloc(buddy_meta_bytes(nframes) + 1);
	REQUIRE(meta != NULL);
	memset(meta, 0xa5, buddy_meta_bytes(nframes)); /* buddy_init must not rely on zeroed memory */
	memset(&rep, 0, sizeof rep);
	buddy_init(&b, base_pa, nframes, meta, on_report, NULL);
}

static void check_ok(const char *file, int line)
{
	char why[256];

	if (buddy_check(&b, why, sizeof why) != 0)
		htest_fail(file, line, why);
}
#define CHECK_BUDDY() check_ok(__FILE__, __LINE__)

/*
 * The blocks a set of free frames must form: an aligned block of order o is
 * on a list iff all its frames are free and (o is the top order or) its
 * parent block is not all free. free_frame(pfn) says whether a frame is free.
 */
static void canonical_blocks(uint64_t base_pfn, uint64_t n, bool (*free_frame)(uint64_t pfn),
			     uint64_t out[BUDDY_NORDERS])
{
	uint64_t end = base_pfn + n;

	memset(out, 0, BUDDY_NORDERS * sizeof out[0]);
	/* all_free[o] for the block holding pfn, built bottom-up one top-order block at a time */
	for (uint64_t top = base_pfn & ~1023ull; top < end; top += 1024) {
		static bool full[BUDDY_NORDERS][1024];

		for (uint64_t k = 0; k < 1024; k++) {
			uint64_t pfn = top + k;
			full[0][k] = pfn >= base_pfn && pfn < end && free_frame(pfn);
		}
		for (unsigned o = 1; o <= BUDDY_MAX_ORDER; o++)
			for (uint64_t k = 0; k < 1024; k += 1ull << o)
				full[o][k] = full[o - 1][k] && full[o - 1][k + (1ull << (o - 1))];
		for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
			for (uint64_t k = 0; k < 1024; k += 1ull << o)
				if (full[o][k] && (o == BUDDY_MAX_ORDER || !full[o + 1][k & ~((2ull << o) - 1)]))
					out[o]++;
	}
}

/* ---- a span with holes, used by several tests ---- */

/* Span base 0x100000 + 3 pages: the span itself is not aligned to large orders. */
#define HBASE  0x103000ull
#define HN     9000ull
#define HEND (HBASE + HN * PG)
static const struct { uint64_t pa, len; } holes_map[] = {
	{ 0x103000, 0x9c000 },    /* starts at the span's first frame */
	{ 0x200000, 0x400000 },   /* 4 MiB aligned: one top-order block */
	{ 0x605000, 0x3000 },     /* odd and small */
	{ 0x700000, 0x100000 },   /* these two touch: must merge as one range */
	{ 0x800000, 0x1ff000 },
	{ 0xc00000, 0x1000 },     /* a single frame */
	{ 0xe00000, HEND - 0xe00000 }, /* reaches the span's end */
};

static bool in_holes_map(uint64_t pfn)
{
	for (unsigned i = 0; i < sizeof holes_map / sizeof holes_map[0]; i++)
		if (pfn >= holes_map[i].pa / PG && pfn < (holes_map[i].pa + holes_map[i].len) / PG)
			return true;
	return false;
}

static uint64_t setup_holes(void)
{
	uint64_t total = 0;

	setup(HBASE, HN);
	/* Add them out of order, so merges happen on both sides. */
	for (unsigned k = 0; k < 7; k++) {
		unsigned i = (k * 3) % 7;
		buddy_add_free(&b, holes_map[i].pa, holes_map[i].len);
		total += holes_map[i].len / PG;
	}
	return total;
}

HTEST(init_all_reserved)
{
	struct buddy_stats st;

	setup(0x100000, 1000);
	buddy_get_stats(&b, &st);
	CHECK_EQ_U(st.total_frames, 1000);
	CHECK_EQ_U(st.reserved_frames, 1000);
	CHECK_EQ_U(st.free_frames, 0);
	CHECK_EQ_U(st.allocated_frames, 0);
	CHECK_EQ_U(buddy_alloc(&b, 0), NO);
	CHECK_EQ_U(rep.calls, 0);
	CHECK_EQ_U(buddy_meta_bytes(1000), 12000);
	CHECK_BUDDY();
	/* An empty span is legal too. */
	buddy_init(&b, 0, 0, NULL, NULL, NULL);
	CHECK_EQ_U(buddy_alloc(&b, 0), NO);
	CHECK_BUDDY();
}

HTEST(map_with_holes)
{
	uint64_t total = setup_holes(), want[BUDDY_NORDERS];
	struct buddy_stats st;

	buddy_get_stats(&b, &st);
	CHECK_EQ_U(st.free_frames, total);
	CHECK_EQ_U(st.reserved_frames, HN - total);
	canonical_blocks(HBASE / PG, HN, in_holes_map, want);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		CHECK_EQ_U(st.free_blocks[o], want[o]);
	/* The touching ranges merged: 0x800000 is an order-10 head (4 MiB aligned, all free). */
	CHECK(want[BUDDY_MAX_ORDER] >= 2);
	CHECK_BUDDY();

	for (uint64_t pfn = HBASE / PG; pfn < HEND / PG; pfn++) {
		unsigned state, order;
		uint64_t block;

		REQUIRE(buddy_frame_info(&b, pfn * PG + 0x123, &state, &order, &block) == 0);
		if (!in_holes_map(pfn)) {
			CHECK_EQ_U(state, BUDDY_RESERVED);
			CHECK_EQ_U(block, pfn * PG);
			continue;
		}
		CHECK_EQ_U(state, BUDDY_FREE_HEAD);
		CHECK(block <= pfn * PG && pfn * PG < block + (PG << order));
		CHECK_EQ_U(block % (PG << order), 0);
	}
	CHECK(buddy_frame_info(&b, HBASE - 1, NULL, NULL, NULL) == BUDDY_E_OUTSIDE);
	CHECK(buddy_frame_info(&b, HEND, NULL, NULL, NULL) == BUDDY_E_OUTSIDE);
}

HTEST(exhaustion_and_merge_back)
{
	uint64_t total = setup_holes(), n = 0;
	struct buddy_stats before, st;
	static uint64_t got[HN];
	static uint8_t seen[HN];

	buddy_get_stats(&b, &before);
	memset(seen, 0, sizeof seen);
	for (uint64_t pa; (pa = buddy_alloc(&b, 0)) != NO; n++) {
		REQUIRE(n < HN);
		REQUIRE(pa >= HBASE && pa < HEND && pa % PG == 0);
		CHECK(in_holes_map(pa / PG));
		CHECK(!seen[(pa - HBASE) / PG]);
		seen[(pa - HBASE) / PG] = 1;
		got[n] = pa;
	}
	CHECK_EQ_U(n, total);
	buddy_get_stats(&b, &st);
	CHECK_EQ_U(st.free_frames, 0);
	CHECK_EQ_U(st.allocated_frames, total);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		CHECK_EQ_U(buddy_alloc(&b, o), NO);
	CHECK_EQ_U(rep.calls, 0);
	CHECK_BUDDY();
	REQUIRE(n % 7919 != 0); /* so k * 7919 % n visits every k */

	/* Free in an order unrelated to the allocation order, so merges come from both sides. */
	for (uint64_t k = 0; k < n; k++)
		CHECK_EQ_U(buddy_free(&b, got[(k * 7919) % n], 0), 0);
	buddy_get_stats(&b, &st);
	CHECK_EQ_U(st.free_frames, before.free_frames);
	CHECK_EQ_U(st.allocated_frames, 0);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		CHECK_EQ_U(st.free_blocks[o], before.free_blocks[o]);
	CHECK_BUDDY();
}

HTEST(each_order_aligned_and_marked)
{
	struct buddy_stats before, st;

	setup_holes();
	buddy_get_stats(&b, &before);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t pa = buddy_alloc(&b, o);
		const struct buddy_frame *f = b.frames;

		REQUIRE(pa != NO);
		CHECK_EQ_U(pa % (PG << o), 0);
		for (uint64_t k = 0; k < (1ull << o); k++) {
			uint64_t i = (pa - HBASE) / PG + k, block;
			unsigned state, order;

			CHECK(in_holes_map(pa / PG + k));
			CHECK_EQ_U(f[i].state, k ? BUDDY_ALLOC_TAIL : BUDDY_ALLOC_HEAD);
			REQUIRE(buddy_frame_info(&b, pa + k * PG, &state, &order, &block) == 0);
			CHECK_EQ_U(state, BUDDY_ALLOC_HEAD);
			CHECK_EQ_U(order, o);
			CHECK_EQ_U(block, pa);
		}
		buddy_get_stats(&b, &st);
		CHECK_EQ_U(st.allocated_frames, 1ull << o);
		CHECK_BUDDY();
		CHECK_EQ_U(buddy_free(&b, pa, o), 0);
		buddy_get_stats(&b, &st);
		CHECK(memcmp(&st, &before, sizeof st) == 0);
	}
	CHECK_EQ_U(buddy_alloc(&b, BUDDY_MAX_ORDER + 1), NO);
	CHECK_EQ_U(buddy_alloc(&b, 1000), NO);
	CHECK_EQ_U(rep.calls, 0);
}

/*
 * Frees (pa, order), expecting err: the report names the address, and
 * neither the allocator nor its metadata changed.
 */
static void expect_misuse(uint64_t pa, unsigned order, int err, const char *words, int line)
{
	static uint8_t meta_before[HN * sizeof(struct buddy_frame)];
	struct buddy before = b;
	char hex[40], msg[400];
	int rc;

	REQUIRE(b.nframes == HN);
	memcpy(meta_before, meta, sizeof meta_before);
	memset(&rep, 0, sizeof rep);
	rc = buddy_free(&b, pa, order);
	snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)pa);
	if (rc != err || rep.calls != 1 || rep.err != err || rep.pa != pa || rep.order != order ||
	    !strstr(rep.line, hex) || !strstr(rep.line, words) || strncmp(rep.line, "buddy: ", 7) != 0) {
		snprintf(msg, sizeof msg, "free(%s, %u) gave %d (%s), want %d, %d reports, line \"%s\"", hex,
			 order, rc, buddy_strerror(rc), err, rep.calls, rep.line);
		htest_fail(__FILE__, line, msg);
	}
	if (memcmp(&before, &b, sizeof b) != 0 || memcmp(meta_before, meta, sizeof meta_before) != 0)
		htest_fail(__FILE__, line, "a refused free changed the allocator");
	check_ok(__FILE__, line);
}
#define EXPECT_MISUSE(pa, order, err, words) expect_misuse((pa), (order), (err), (words), __LINE__)

HTEST(misuse_is_reported_and_changes_nothing)
{
	uint64_t a0, a2, a3, f2;

	setup_holes();
	a0 = buddy_alloc(&b, 0);
	a2 = buddy_alloc(&b, 2);
	a3 = buddy_alloc(&b, 3);
	f2 = buddy_alloc(&b, 2);
	REQUIRE(a0 != NO && a2 != NO && a3 != NO && f2 != NO);
	REQUIRE(buddy_free(&b, f2, 2) == 0);

	EXPECT_MISUSE(a0, BUDDY_MAX_ORDER + 1, BUDDY_E_BAD_ORDER, "order 11");
	EXPECT_MISUSE(HBASE - PG, 0, BUDDY_E_OUTSIDE, "outside RAM");
	EXPECT_MISUSE(HEND, 0, BUDDY_E_OUTSIDE, "outside RAM");
	EXPECT_MISUSE(0, 0, BUDDY_E_OUTSIDE, "outside RAM");
	EXPECT_MISUSE(UINT64_MAX & ~(PG - 1), 0, BUDDY_E_OUTSIDE, "outside RAM");
	EXPECT_MISUSE(a0 + 0x10, 0, BUDDY_E_MISALIGNED, "misaligned");
	EXPECT_MISUSE(a3 + PG, 3, BUDDY_E_MISALIGNED, "order 3 needs 0x8000 alignment");
	EXPECT_MISUSE(0x1a0000, 0, BUDDY_E_RESERVED, "free of reserved frame");
	EXPECT_MISUSE(0xa00000, 4, BUDDY_E_RESERVED, "free of reserved frame");
	EXPECT_MISUSE(f2, 2, BUDDY_E_DOUBLE_FREE, "double free of frame");
	EXPECT_MISUSE(f2 + PG, 0, BUDDY_E_DOUBLE_FREE, "double free of frame");   /* inside a free block */
	uint64_t tail = 0;
	for (uint64_t i = 0; i < HN && !tail; i++)
		if (b.frames[i].state == BUDDY_FREE_TAIL && (i & 1))
			tail = HBASE + i * PG;
	REQUIRE(tail != 0);
	EXPECT_MISUSE(tail, 0, BUDDY_E_DOUBLE_FREE, "in the free order-");
	EXPECT_MISUSE(a2, 1, BUDDY_E_WRONG_ORDER, "with order 1, but it was allocated with order 2");
	EXPECT_MISUSE(a2, 0, BUDDY_E_WRONG_ORDER, "allocated with order 2");
	EXPECT_MISUSE(a0, 1, a0 % (2 * PG) ? BUDDY_E_MISALIGNED : BUDDY_E_WRONG_ORDER, "0x");
	EXPECT_MISUSE(a2 + PG, 0, BUDDY_E_NOT_HEAD, "inside the order-2 block allocated at");
	EXPECT_MISUSE(a3 + 2 * PG, 1, BUDDY_E_NOT_HEAD, "inside");

	/* After all that, the real frees work and everything merges back. */
	CHECK_EQ_U(buddy_free(&b, a0, 0), 0);
	CHECK_EQ_U(buddy_free(&b, a2, 2), 0);
	CHECK_EQ_U(buddy_free(&b, a3, 3), 0);
	CHECK_EQ_U(b.free_frames, b.nframes - b.reserved_frames);
	CHECK_BUDDY();

	/* Without a report callback the error still comes back. */
	b.report = NULL;
	CHECK(buddy_free(&b, a0, 0) == BUDDY_E_DOUBLE_FREE);

	CHECK(strcmp(buddy_strerror(BUDDY_E_DOUBLE_FREE), "double free") == 0);
	for (int e = 0; e >= -8; e--)
		CHECK(buddy_strerror(e) != NULL);
}

HTEST(check_catches_corruption)
{
	char why[256];
	uint64_t pa, i;

	setup_holes();
	pa = buddy_alloc(&b, 3);
	i = (pa - HBASE) / PG;
	CHECK_BUDDY();

	b.free_frames++;
	CHECK(buddy_check(&b, why, sizeof why) == -1 && strstr(why, "counters"));
	b.free_frames--;

	b.frames[i + 2].state = BUDDY_FREE_TAIL;
	CHECK(buddy_check(&b, why, sizeof why) == -1 && strstr(why, "of the order-3 block"));
	b.frames[i + 2].state = BUDDY_ALLOC_TAIL;

	b.frames[i].state = BUDDY_ALLOC_TAIL;
	CHECK(buddy_check(&b, why, sizeof why) == -1 && strstr(why, "no head"));
	b.frames[i].state = BUDDY_ALLOC_HEAD;

	uint32_t h = b.free_head[0], saved;
	REQUIRE(h != BUDDY_NONE);
	saved = b.frames[h].prev;
	b.frames[h].prev = 5;
	CHECK(buddy_check(&b, why, sizeof why) == -1 && strstr(why, "back link"));
	b.frames[h].prev = saved;
	CHECK_BUDDY();

	/* Split the allocated order-3 block by hand into two free order-2 buddies: unmerged. */
	b.frames[i].state = BUDDY_FREE_HEAD;
	b.frames[i].order = 2;
	b.frames[i + 4].state = BUDDY_FREE_HEAD;
	b.frames[i + 4].order = 2;
	for (unsigned k = 1; k < 8; k++)
		if (k != 4)
			b.frames[i + k].state = BUDDY_FREE_TAIL;
	b.free_frames += 8;
	CHECK(buddy_check(&b, why, sizeof why) == -1 && strstr(why, "should have merged"));
	CHECK(buddy_check(&b, NULL, 0) == -1);
}

static char dump_lines[16][160];
static int dump_n;

static void collect(void *ctx, const char *line)
{
	(void)ctx;
	if (dump_n < 16)
		snprintf(dump_lines[dump_n], sizeof dump_lines[0], "%s", line);
	dump_n++;
}

HTEST(dump)
{
	char want[80];

	setup_holes();
	dump_n = 0;
	buddy_dump(&b, collect, NULL);
	REQUIRE(dump_n == BUDDY_NORDERS + 1);
	CHECK(strncmp(dump_lines[0], "order  0 (   4 KiB):", 20) == 0);
	CHECK(strncmp(dump_lines[10], "order 10 (   4 MiB):", 20) == 0);
	snprintf(want, sizeof want, "%u free blocks", (unsigned)b.free_blocks[10]);
	CHECK(strstr(dump_lines[10], want) != NULL);
	snprintf(want, sizeof want, "%u total, %u free", (unsigned)HN, (unsigned)b.free_frames);
	CHECK(strstr(dump_lines[11], want) != NULL);
	for (int k = 0; k < dump_n; k++)
		printf("# %s\n", dump_lines[k]);
}

/* ---- randomized stress against a shadow model ---- */

static struct rand rng;

static uint64_t rnd_below(uint64_t n) { return rand_below(&rng, n); }

enum { SH_HOLE, SH_FREE, SH_USED };
#define SBASE 0x10003000ull   /* not aligned to large orders */
#define SN    40000ull
static uint8_t shadow[SN];

static bool shadow_free(uint64_t pfn)
{
	return shadow[pfn - SBASE / PG] == SH_FREE;
}

HTEST(random_stress_against_shadow)
{
	static struct { uint64_t pa; unsigned order; } live[SN];
	uint64_t nlive = 0, shadow_nfree = 0, seed, want[BUDDY_NORDERS];
	struct buddy_stats base_st, st;
	const char *env = getenv("HTEST_SEED");
	unsigned long ops = 0, allocs = 0, fails = 0, misuse = 0;

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("# seed %" PRIu64 " (HTEST_SEED=%" PRIu64 " to rerun)\n", seed, seed);
	rng.s = seed;

	/* Random usable runs and holes. */
	setup(SBASE, SN);
	memset(shadow, SH_HOLE, sizeof shadow);
	for (uint64_t i = rnd_below(50); i < SN;) {
		uint64_t run = 1 + rnd_below(rnd_below(4) ? 6000 : 40);
		if (run > SN - i)
			run = SN - i;
		buddy_add_free(&b, SBASE + i * PG, run * PG);
		memset(&shadow[i], SH_FREE, run);
		shadow_nfree += run;
		i += run + 1 + rnd_below(300);
	}
	buddy_get_stats(&b, &base_st);
	CHECK_EQ_U(base_st.free_frames, shadow_nfree);
	canonical_blocks(SBASE / PG, SN, shadow_free, want);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		CHECK_EQ_U(base_st.free_blocks[o], want[o]);
	CHECK_BUDDY();

	for (ops = 1; ops <= 250000; ops++) {
		bool do_alloc = nlive == 0 || rnd_below(100) < 52;

		if (do_alloc) {
			unsigned o = (unsigned)(rnd_below(2) ? rnd_below(BUDDY_NORDERS) : rnd_below(3));
			uint64_t pa = buddy_alloc(&b, o), i;

			if (pa == NO) {
				/* Only when no free block of that order or above exists. */
				fails++;
				for (unsigned k = o; k <= BUDDY_MAX_ORDER; k++)
					REQUIRE(b.free_blocks[k] == 0);
				continue;
			}
			allocs++;
			REQUIRE(pa % (PG << o) == 0 && pa >= SBASE && pa + (PG << o) <= SBASE + SN * PG);
			i = (pa - SBASE) / PG;
			for (uint64_t k = 0; k < (1ull << o); k++) {
				REQUIRE(shadow[i + k] == SH_FREE); /* usable, and not handed out already */
				shadow[i + k] = SH_USED;
			}
			shadow_nfree -= 1ull << o;
			live[nlive].pa = pa;
			live[nlive++].order = o;
		} else {
			uint64_t k = rnd_below(nlive), pa = live[k].pa, i = (pa - SBASE) / PG;
			unsigned o = live[k].order;

			live[k] = live[--nlive];
			REQUIRE(buddy_free(&b, pa, o) == 0);
			for (uint64_t j = 0; j < (1ull << o); j++)
				shadow[i + j] = SH_FREE;
			shadow_nfree += 1ull << o;
			/* Now and then, free it again: refused, and nothing changes. */
			if (rnd_below(50) == 0) {
				uint64_t before = b.free_frames;
				misuse++;
				REQUIRE(buddy_free(&b, pa, o) == BUDDY_E_DOUBLE_FREE);
				REQUIRE(b.free_frames == before);
			}
		}
		REQUIRE(b.free_frames == shadow_nfree);
		if (ops % 1000 == 0) {
			char why[256];
			if (buddy_check(&b, why, sizeof why) != 0) {
				fprintf(stderr, "# after %lu ops: %s\n", ops, why);
				REQUIRE(!"buddy_check failed");
			}
			for (uint64_t i = 0; i < SN; i++) {
				unsigned s = b.frames[i].state;
				REQUIRE(shadow[i] == SH_HOLE ? s == BUDDY_RESERVED :
					shadow[i] == SH_FREE ? (s == BUDDY_FREE_HEAD || s == BUDDY_FREE_TAIL) :
					(s == BUDDY_ALLOC_HEAD || s == BUDDY_ALLOC_TAIL));
			}
		}
	}
	printf("# %lu ops: %lu allocations, %lu refused for lack of a block, %lu double frees caught\n",
	       ops - 1, allocs, fails, misuse);
	CHECK(fails > 0 && allocs > 100000);

	while (nlive) {
		nlive--;
		REQUIRE(buddy_free(&b, live[nlive].pa, live[nlive].order) == 0);
	}
	buddy_get_stats(&b, &st);
	CHECK_EQ_U(st.free_frames, base_st.free_frames);
	CHECK_EQ_U(st.allocated_frames, 0);
	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++)
		CHECK_EQ_U(st.free_blocks[o], base_st.free_blocks[o]);
	CHECK_BUDDY();
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

HTEST(large_span_init)
{
	/* 8 GiB from 0: a QEMU-like map with the PCI hole below 4 GiB. */
	const uint64_t n = 2ull << 20;
	struct buddy_stats st;
	double t0, t1, t2;

	t0 = now_ms();
	setup(0, n);
	buddy_add_free(&b, 0x100000, 0xbff00000);             /* 1 MiB .. 3 GiB */
	buddy_add_free(&b, 0x100000000, 0x100000000);         /* 4 GiB .. 8 GiB */
	t1 = now_ms();
	buddy_get_stats(&b, &st);
	CHECK_EQ_U(st.free_frames, (0xbff00000 + 0x100000000ull) / PG);
	CHECK_EQ_U(st.free_blocks[BUDDY_MAX_ORDER], (0xc0000000 - 0x400000 + 0x100000000ull) / (4 << 20));
	CHECK_BUDDY();
	t2 = now_ms();
	printf("# 2M frames: init + add_free %.1f ms, buddy_check %.1f ms (host, sanitizers on)\n",
	       t1 - t0, t2 - t1);

	for (unsigned o = 0; o <= BUDDY_MAX_ORDER; o++) {
		uint64_t pa = buddy_alloc(&b, o);
		CHECK(pa != NO && pa % (PG << o) == 0);
		CHECK_EQ_U(buddy_free(&b, pa, o), 0);
	}
	CHECK_EQ_U(b.free_frames, st.free_frames);
	CHECK_BUDDY();
	free(meta);
	meta = NULL;
}

int main(void)
{
	HRUN(init_all_reserved);
	HRUN(map_with_holes);
	HRUN(exhaustion_and_merge_back);
	HRUN(each_order_aligned_and_marked);
	HRUN(misuse_is_reported_and_changes_nothing);
	HRUN(check_catches_corruption);
	HRUN(dump);
	HRUN(random_stress_against_shadow);
	HRUN(large_span_init);
	free(meta);
	return htest_done();
}
