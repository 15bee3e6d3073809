/*
 * tests/host/test_heap_slab_model.c - level 0's slabs (heap.h "slabs")
 * under a seeded random run of malloc, calloc, memalign, realloc and free
 * against a shadow table: every object's bytes, where it sits (an object in
 * its run, or a block), no two live spans overlapping, the walker and the
 * leak lister agreeing with the table, and the heap back to its floor at
 * the end; with default and tight tuning and under a capped break. The
 * directed slab tests are test_heap_slab.c.
 *
 * Usage: test_heap_slab_model [seed]   (or HEAP_SEED=n)
 */
#include "heap_host_env.c"
#include "slab_test_util.h"

struct sobj {
	unsigned char *p;
	size_t n, usable;
	unsigned id;
	bool slab;
};

struct slab_cfg {
	const char *name;
	uint64_t ops;
	size_t cap;          /* 0: no cap on the break (no NULL allowed) */
	size_t grow, trim;   /* 0: defaults */
};

enum { SSLOTS = 3000 };
static struct sobj shadow[SSLOTS];
static struct span audit_sp[SSLOTS];
static struct heap_block_info audit_leaks[SSLOTS + 16];
static size_t audit_nleaks;
static uintptr_t audit_runs[SSLOTS];

static void audit_leak(void *ctx, const struct heap_block_info *b)
{
	(void)ctx;
	if (audit_nleaks < sizeof audit_leaks / sizeof audit_leaks[0])
		audit_leaks[audit_nleaks] = *b;
	audit_nleaks++;
}

static int leak_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct heap_block_info *)a)->ptr;
	uintptr_t y = (uintptr_t)((const struct heap_block_info *)b)->ptr;
	return x < y ? -1 : x > y;
}

static int uptr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* Live blocks disjoint; with full set: counters against the table, heap_leaks, heap_check. */
static void slab_audit(bool full, uint64_t op)
{
	size_t n = 0;

	for (int i = 0; i < SSLOTS; i++)
		if (shadow[i].p)
			audit_sp[n++] = (struct span){ (uintptr_t)shadow[i].p, shadow[i].usable };
	if (!spans_disjoint(audit_sp, n)) {
		char m[80];
		snprintf(m, sizeof m, "live blocks overlap at op %llu", (unsigned long long)op);
		htest_fail(__FILE__, __LINE__, m);
		longjmp(htest.leave, 1);
	}
	if (!full)
		return;
	struct heap_stats st = stats();   /* gives back empty runs: the rest each hold a live object */
	HEAP_CLEAN();
	size_t objs = 0, bytes = 0, per[HEAP_SLAB_CLASSES] = { 0 }, nruns = 0;
	for (int i = 0; i < SSLOTS; i++) {
		struct sobj *s = &shadow[i];
		if (!s->p)
			continue;
		REQUIRE(on_run_page(s->p) == s->slab);
		if (s->slab) {
			REQUIRE(placed_in_run(s->p, s->usable));
			objs++;
			bytes += s->usable;
			per[s->usable / 16 - 1]++;
			audit_runs[nruns++] = (uintptr_t)run_of(s->p);
		}
	}
	CHECK_EQ_U(st.slab_objects, objs);
	CHECK_EQ_U(st.slab_bytes, bytes);
	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++)
		CHECK_EQ_U(H.slab_live[k], per[k]);
	qsort(audit_runs, nruns, sizeof audit_runs[0], uptr_cmp);
	size_t distinct = 0;
	for (size_t i = 0; i < nruns; i++)
		distinct += i == 0 || audit_runs[i] != audit_runs[i - 1];
	CHECK_EQ_U(st.slab_runs, distinct);

	/* heap_leaks lists exactly the live pointers, with their usable sizes. */
	audit_nleaks = 0;
	size_t listed = heap_leaks(&H, audit_leak, NULL);
	CHECK_EQ_U(listed, n);
	REQUIRE(audit_nleaks == n);
	qsort(audit_leaks, n, sizeof audit_leaks[0], leak_cmp);   /* audit_sp is sorted already */
	size_t leak_objs = 0;
	for (size_t i = 0; i < n; i++) {
		REQUIRE((uintptr_t)audit_leaks[i].ptr == audit_sp[i].p);
		CHECK_EQ_U(audit_leaks[i].size, audit_sp[i].n);
		leak_objs += on_run_page(audit_leaks[i].ptr);
	}
	CHECK_EQ_U(leak_objs, st.slab_objects);
}

static size_t slab_rand_size(void)
{
	unsigned r = (unsigned)(rnd() % 100);
	if (r < 80)
		return rnd() % 129;
	if (r < 95)
		return 129 + rnd() % 872;
	return 1001 + rnd() % 4000;
}

/* A fresh object in slot s (what, align: how it was asked for), checked and filled; false on NULL. */
static bool slab_take(struct sobj *s, unsigned char *p, size_t n, size_t align, bool zeroed, unsigned id,
		      const struct slab_cfg *cfg)
{
	if (!p)
		return false;
	REQUIRE(aligned(p, align < 16 ? 16 : align));
	size_t u = heap_usable_size(&H, p);
	REQUIRE(u >= n);
	bool slab = on_run_page(p);
	if (slab) {
		REQUIRE(n <= HEAP_SLAB_MAX && align <= 16);
		REQUIRE(u == class_size(n));
		REQUIRE(placed_in_run(p, u));
	} else if (!cfg->cap && n <= HEAP_SLAB_MAX && align <= 16) {
		htest_fail(__FILE__, __LINE__, "a small request with room to spare was not served from a run");
		longjmp(htest.leave, 1);
	}
	if (zeroed)
		for (size_t k = 0; k < n; k++)
			REQUIRE(p[k] == 0);
	*s = (struct sobj){ p, n, u, id, slab };
	fill(p, u, id);
	return true;
}

static void slab_model_run(const struct slab_cfg *cfg)
{
	uint64_t counts[8] = { 0 };
	unsigned next_id = 1;

	env_open();
	struct heap_env env = env_for();
	env.slabs = HEAP_SLABS_ON;
	env.grow_bytes = cfg->grow;
	env.trim_threshold = cfg->trim;
	REQUIRE(heap_init(&H, &env) == 0);
	if (cfg->cap)
		E.cap = cfg->cap;
	memset(shadow, 0, sizeof shadow);
	size_t base_brk = E.brk;
	rng_state = seed;
	printf("# slab model %s: seed %llu, %llu ops\n", cfg->name, (unsigned long long)seed,
	       (unsigned long long)cfg->ops);

	for (uint64_t op = 0; op < cfg->ops; op++) {
		struct sobj *s = &shadow[rnd() % SSLOTS];
		unsigned kind = (unsigned)(rnd() % 100);
		/* With a cap NULL is allowed, but must change nothing: compare the stats around each call. */
		struct heap_stats before = { 0 };
		if (cfg->cap)
			before = stats();
		if (!s->p) {
			size_t n = slab_rand_size(), align = 16;
			unsigned char *p;
			bool zeroed = false;
			if (kind < 55) {
				p = heap_malloc(&H, n);
				counts[0]++;
			} else if (kind < 70) {
				size_t m = 1 + rnd() % 4;
				n = (n + m - 1) / m;
				p = heap_calloc(&H, m, n);
				n *= m;
				zeroed = true;
				counts[1]++;
			} else if (kind < 85) {
				align = (size_t)1 << (rnd() % 9);   /* 1 .. 256 */
				p = heap_memalign(&H, align, n);
				counts[2]++;
			} else {
				p = heap_realloc(&H, NULL, n);
				counts[3]++;
			}
			if (!slab_take(s, p, n, align, zeroed, next_id++, cfg)) {
				REQUIRE(cfg->cap);
				REQUIRE(stats_equal(stats(), before));
				counts[6]++;
			}
		} else if (kind < 55) {
			REQUIRE(filled(s->p, s->usable, s->id));
			heap_free(&H, s->p);
			s->p = NULL;
			counts[4]++;
		} else {
			REQUIRE(filled(s->p, s->usable, s->id));
			size_t n = rnd() % 10 == 0 ? 0 : slab_rand_size();
			unsigned char *q = heap_realloc(&H, s->p, n);
			counts[5]++;
			if (!q) {
				REQUIRE(cfg->cap);
				REQUIRE(stats_equal(stats(), before));
				REQUIRE(filled(s->p, s->usable, s->id));
				counts[6]++;
				continue;
			}
			REQUIRE(aligned(q, 16));
			if (n <= s->usable)
				REQUIRE(q == s->p);   /* shrinking (objects and blocks alike) keeps the place */
			size_t keep = n < s->usable ? n : s->usable;
			REQUIRE(filled(q, keep, s->id));
			size_t u = heap_usable_size(&H, q);
			REQUIRE(u >= n);
			bool slab = on_run_page(q);
			if (q == s->p) {
				REQUIRE(slab == s->slab);
				if (slab)
					REQUIRE(u == s->usable);
			} else if (slab) {
				REQUIRE(n <= HEAP_SLAB_MAX && u == class_size(n));
				REQUIRE(placed_in_run(q, u));
			} else if (!cfg->cap && n <= HEAP_SLAB_MAX) {
				htest_fail(__FILE__, __LINE__, "realloc moved to a small size, not into a run");
				longjmp(htest.leave, 1);
			}
			*s = (struct sobj){ q, n, u, next_id++, slab };
			fill(q, u, s->id);
		}
		if (op % 1000 == 999)
			slab_audit((op + 1) % 10000 == 0, op);
	}
	slab_audit(true, cfg->ops);
	struct heap_stats st = stats();
	printf("# slab model %s: malloc %llu calloc %llu memalign %llu realloc(NULL) %llu free %llu realloc %llu"
	       " NULL %llu; %zu runs, %zu objects, brk %zu KiB, peak %zu KiB\n", cfg->name,
	       (unsigned long long)counts[0], (unsigned long long)counts[1], (unsigned long long)counts[2],
	       (unsigned long long)counts[3], (unsigned long long)counts[4], (unsigned long long)counts[5],
	       (unsigned long long)counts[6], st.slab_runs, st.slab_objects, st.brk_bytes / KiB,
	       st.peak_in_use / KiB);
	if (!cfg->cap)
		CHECK_EQ_U(counts[6], 0);
	for (int i = 0; i < SSLOTS; i++) {
		if (shadow[i].p) {
			REQUIRE(filled(shadow[i].p, shadow[i].usable, shadow[i].id));
			heap_free(&H, shadow[i].p);
			shadow[i].p = NULL;
		}
	}
	CHECK_EQ_U(E.reports, 0);
	expect_empty();
	CHECK_EQ_U(stats().slab_runs, 0);
	heap_trim(&H);
	CHECK_EQ_U(E.brk, base_brk);
	expect_empty();
}

HTEST(slab_random_model)
{
	static const struct slab_cfg cfg = { "default", 200000, 0, 0, 0 };
	slab_model_run(&cfg);
}

/* Every free at the top trims, every miss grows: runs made and given back at the break's edge. */
HTEST(slab_random_model_tight_tuning)
{
	static const struct slab_cfg cfg = { "tight", 100000, 0, 4096, 4096 };
	slab_model_run(&cfg);
}

/* The break capped: runs cannot always be had, small requests fall back to blocks or fail cleanly. */
HTEST(slab_random_model_capped)
{
	static const struct slab_cfg cfg = { "capped", 100000, 512 * KiB, 0, 0 };
	slab_model_run(&cfg);
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_slab_model");

	HRUN(slab_random_model);
	HRUN(slab_random_model_tight_tuning);
	HRUN(slab_random_model_capped);
	env_close();
	return htest_done();
}
