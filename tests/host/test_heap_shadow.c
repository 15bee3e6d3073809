/*
 * tests/host/test_heap_shadow.c - the kmalloc core (alloc/heap*.c) under
 * random malloc / calloc / memalign / realloc / free against a shadow model
 * of what must be where (patterns in every live block, no overlap, counters
 * that agree, NULL only when a cap says so and then nothing changed: at the
 * debug levels nothing live, as a failing allocation first gives back the
 * quarantine and the break's free top to make room), with default and
 * tight tuning, under memory caps, and at debug levels 1 and 2.
 *
 * Usage: test_heap_shadow [seed]   (or HEAP_SEED=n; HEAP_OPS=n scales the runs:
 * n per million of each run's default)
 */
#include "heap_host_env.c"

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
	unsigned debug;                                      /* heap debug level */
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

/*
 * After an allocation that failed: nothing changed, or at the debug levels
 * nothing live (give_back may have emptied the quarantine and trimmed).
 */
static bool failure_changed_nothing(struct heap_stats a, struct heap_stats b, unsigned debug)
{
	if (!debug)
		return stats_equal(a, b);
	return a.in_use_bytes == b.in_use_bytes && a.used_blocks == b.used_blocks && a.large_blocks == b.large_blocks &&
	       a.large_bytes == b.large_bytes && a.peak_in_use == b.peak_in_use && a.brk_bytes <= b.brk_bytes &&
	       a.quarantine_bytes <= b.quarantine_bytes;
}
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
	env.debug = cfg->debug;
	REQUIRE(heap_init(&H, &env) == 0);
	if (cfg->cap)
		E.cap = cfg->cap;
	if (cfg->large_cap)
		E.large_cap = cfg->large_cap;
	memset(live, 0, sizeof live);
	size_t base_brk = E.brk;
	rng_state = seed;
	printf("# shadow %s: debug level %u, seed %llu, %llu ops\n", cfg->name, cfg->debug,
	       (unsigned long long)seed, (unsigned long long)ops);

	for (uint64_t op = 0; op < ops; op++) {
		struct shadow *s = &live[rnd() % SLOTS];
		unsigned kind = (unsigned)(rnd() % 100);
		struct heap_stats before = stats();
		if (!s->p) {
			if (!shadow_alloc(s, kind, counts, next_id++)) {
				REQUIRE(cfg->cap);
				REQUIRE(failure_changed_nothing(stats(), before, cfg->debug));
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
				REQUIRE(failure_changed_nothing(stats(), before, cfg->debug));
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
	/* Level 2: what waits in the quarantine is freed memory too; let it go first. */
	heap_flush_quarantine(&H);
	CHECK_EQ_U(stats().quarantine_blocks, 0);
	HEAP_CLEAN();
	/*
	 * Frees in random order trim as they go, so what is left on top is at
	 * most trim_threshold (the hysteresis that keeps a malloc/free cycle
	 * from calling sbrk twice) or what the heap learned to retain (heap.h
	 * "trim"); heap_trim gives that back too.
	 */
	CHECK(E.brk == base_brk || stats().free_bytes <= H.env.trim_threshold ||
	      stats().free_bytes <= H.retain + H.env.page_size);
	heap_trim(&H);
	CHECK_EQ_U(E.brk, base_brk);
	expect_empty();
}

HTEST(shadow_model_random_ops)
{
	static const struct shadow_cfg cfg = { "default", 0, 1000000, 0, 0, 0, 0, 0 };
	shadow_run(&cfg);
}

/* Every free at the top trims, every miss grows, most sizes go large. */
HTEST(shadow_model_tight_tuning)
{
	const struct shadow_cfg cfg = { "tight", 0, 200000, 4096, 4096, 16 * KiB, 0, 0 };
	shadow_run(&cfg);
}

/* Both caps hit over and over: every NULL must leave everything as it was. */
HTEST(shadow_model_out_of_memory)
{
	static const struct shadow_cfg cfg = { "capped", 0, 300000, 0, 0, 0, 6 * MiB, 3 * MiB };
	shadow_run(&cfg);
}

/*
 * The debug levels under the same model: records, canaries, poison and the
 * quarantine must never change what the caller sees, and no correct program
 * may draw a single report (every 4096 ops heap_check verifies all of it).
 */
HTEST(shadow_model_debug_level_1)
{
	static const struct shadow_cfg cfg = { "debug1", 1, 300000, 0, 0, 0, 0, 0 };
	shadow_run(&cfg);
}

HTEST(shadow_model_debug_level_2)
{
	static const struct shadow_cfg cfg = { "debug2", 2, 300000, 0, 0, 0, 0, 0 };
	shadow_run(&cfg);
}

HTEST(shadow_model_debug_level_2_tight_and_capped)
{
	const struct shadow_cfg cfg = { "debug2-tight", 2, 150000, 4096, 4096, 16 * KiB, 6 * MiB, 3 * MiB };
	shadow_run(&cfg);
}

int main(int argc, char **argv)
{
	seed_from(argc, argv, "test_heap_shadow");
	HRUN(shadow_model_random_ops);
	HRUN(shadow_model_tight_tuning);
	HRUN(shadow_model_out_of_memory);
	HRUN(shadow_model_debug_level_1);
	HRUN(shadow_model_debug_level_2);
	HRUN(shadow_model_debug_level_2_tight_and_capped);
	env_close();
	return htest_done();
}
