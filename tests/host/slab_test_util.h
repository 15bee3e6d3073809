/*
 * tests/host/slab_test_util.h - what the slab tests share (test_heap_slab.c
 * and test_heap_slab_model.c): a heap with slabs on, where an object sits
 * and in which run, and a check that spans do not overlap. #included after
 * heap_host_env.c.
 */
#ifndef TESTS_HOST_SLAB_TEST_UTIL_H
#define TESTS_HOST_SLAB_TEST_UTIL_H

/*
 * A fresh environment and a heap on it with default tuning, level 0, slabs
 * as `slabs` says (HEAP_SLABS_AUTO, _ON, _OFF), auto switching at `after`
 * small blocks (0: the default).
 */
static inline void setup_slabs_as(uint32_t slabs, size_t after)
{
	env_open();
	struct heap_env env = env_for();
	env.slabs = slabs;
	env.slab_after = after;
	REQUIRE(heap_init(&H, &env) == 0);
}

/* The same with slabs on from the start. */
static inline void setup_slabs(void)
{
	setup_slabs_as(HEAP_SLABS_ON, 0);
	REQUIRE(H.magic == HEAP_MAGIC_SLABS);
}

/* The class size a request of n (<= HEAP_SLAB_MAX) bytes is served with. */
static inline size_t class_size(size_t n) { return n == 0 ? 16 : (n + 15) & ~(size_t)15; }

static const size_t class_caps[HEAP_SLAB_CLASSES] __attribute__((unused)) = { 251, 125, 83, 62 };

/* Whole block bytes of an ordinary block for n bytes (heap.h: 8-byte header, 16-byte steps, 32 minimum). */
static inline size_t block_bytes(size_t n)
{
	size_t s = (n + HEAP_OVERHEAD + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1);
	return s < HEAP_MIN_BLOCK ? HEAP_MIN_BLOCK : s;
}

/* The run (struct heap_slab) whose page holds p: runs start 16 bytes past a 4 KiB boundary. */
static inline struct heap_slab *run_of(const void *p)
{
	return (struct heap_slab *)((((uintptr_t)p - 16) & ~(uintptr_t)(HEAP_SLAB_RUN - 1)) + 16);
}

/* Whether p lies on a page heap.slab_map marks as a run (read from struct heap, as GDB would). */
static inline bool on_run_page(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (a < (uintptr_t)E.base + 16 || a >= (uintptr_t)E.base + E.brk)
		return false;
	size_t pg = ((a - 16) >> HEAP_SLAB_RUN_SHIFT) - H.slab_pg0;
	return pg < HEAP_SLAB_MAP_WORDS * 64 && ((H.slab_map[pg / 64] >> (pg % 64)) & 1);
}

/* The whole-block size in the header word before a run's head. */
static inline size_t run_block_bytes(const struct heap_slab *s)
{
	return (size_t)(*(const uint64_t *)((const char *)s - 8) & HEAP_BLK_SIZE_MASK);
}

/* Where object p sits in its run: a live slab object of class size u, exactly at an object's start. */
static inline bool placed_in_run(const void *p, size_t u)
{
	const struct heap_slab *s = run_of(p);
	uintptr_t a = (uintptr_t)p, r = (uintptr_t)s;
	return on_run_page(p) && s->size == u && a >= r + HEAP_SLAB_HDR && (a - r - HEAP_SLAB_HDR) % u == 0 &&
	       (a - r - HEAP_SLAB_HDR) / u < s->cap && a + u <= r - HEAP_OVERHEAD + HEAP_SLAB_RUN;
}

static inline size_t live_objects(void)
{
	size_t n = 0;
	for (unsigned k = 0; k < HEAP_SLAB_CLASSES; k++)
		n += H.slab_live[k];
	return n;
}

struct span { uintptr_t p; size_t n; };

static inline int span_cmp(const void *a, const void *b)
{
	uintptr_t x = ((const struct span *)a)->p, y = ((const struct span *)b)->p;
	return x < y ? -1 : x > y;
}

/* No two of the n spans overlap (sorts them). */
static inline bool spans_disjoint(struct span *sp, size_t n)
{
	qsort(sp, n, sizeof *sp, span_cmp);
	for (size_t i = 1; i < n; i++)
		if (sp[i - 1].p + sp[i - 1].n > sp[i].p)
			return false;
	return true;
}

#endif /* TESTS_HOST_SLAB_TEST_UTIL_H */
