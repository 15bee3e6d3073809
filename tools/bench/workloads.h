/*
 * tools/bench/workloads.h - the benchmark workloads, written once and
 * compiled twice: by the host harness (tools/bench/child.c, against glibc,
 * jemalloc, tcmalloc, mimalloc and the memkern core) and by the in-kernel
 * suite (tests/kernel/test_bench.c, against kmalloc). Freestanding: no libc,
 * no floating point (the kernel builds with -mno-sse).
 *
 * The includer defines, before including this file:
 *   static inline uint64_t wl_tsc(void);   a serialising read of the TSC
 *
 * Every op goes through the wl_* helpers below, which check what the
 * allocator returned and never trust it further than that:
 *   WL_TIME   alignment, a tag word written at the block's start and checked
 *             when it is freed (cheap, so it stays on while timing);
 *   WL_CHECK  alignment, and every requested byte filled with a pattern
 *             unique to the block, verified in full before the block is
 *             freed or resized: two live blocks that overlap, or an allocator
 *             that writes into a live block, break a pattern and are caught.
 *             Also samples the allocator's footprint (w->sample) so the
 *             host can find its peak;
 *   WL_LAT    WL_TIME plus a TSC read around every call into a log-linear
 *             histogram (w->hist, WL_HIST_BUCKETS counters) and the maximum.
 * A failure stops the workload with w->fail set; nothing is freed after a
 * failure (the allocator is not to be trusted any more).
 *
 * Alignment demanded of malloc(n): 16 for n >= 16, else the largest power of
 * two <= n (jemalloc, tcmalloc and mimalloc give 8-byte blocks 8-byte
 * alignment, which C11 allows for objects that small). posix_memalign: the
 * alignment asked for, always.
 */
#ifndef BENCH_WORKLOADS_H
#define BENCH_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

struct wl_ops {
	void *(*malloc)(size_t n);
	void (*free)(void *p);
	void *(*calloc)(size_t n, size_t size);
	void *(*realloc)(void *p, size_t n);
	int (*memalign)(void **out, size_t align, size_t n);   /* posix_memalign's shape */
};

enum wl_mode { WL_TIME, WL_CHECK, WL_LAT };

enum wl_fail {
	WL_OK = 0,
	WL_FAIL_NULL,        /* returned NULL (out of memory) */
	WL_FAIL_ALIGN,       /* misaligned pointer */
	WL_FAIL_CORRUPT,     /* a live block's contents changed (overlap or stray write) */
	WL_FAIL_TRACE,       /* the trace is malformed */
};

/* One live block the workload holds. */
struct wl_slot {
	unsigned char *p;
	uint64_t size;       /* requested bytes */
	uint64_t tag;        /* the block's pattern seed */
};

#define WL_HIST_SUB 16                     /* buckets per power of two */
#define WL_HIST_BUCKETS (64 * WL_HIST_SUB)

struct wl {
	struct wl_ops ops;
	int mode;                              /* enum wl_mode */
	uint64_t seed;

	/* Buffers the caller provides (sizes below, per workload). */
	uint32_t *ring;                        /* precomputed steps, WL_RING entries */
	struct wl_slot *slots;
	uint64_t nslots;                       /* capacity of slots */
	uint64_t *hist;                        /* WL_LAT: WL_HIST_BUCKETS counters, zeroed */

	/* WL_CHECK: called every sample_every ops and at phase ends. */
	void (*sample)(struct wl *w);
	void *sample_ctx;
	uint64_t sample_every, until_sample;

	/* Results. */
	uint64_t calls;                        /* allocator calls made */
	uint64_t live, peak_live;              /* requested bytes live, and the peak */
	uint64_t lat_max;                      /* WL_LAT: slowest call, TSC ticks */
	int fail;                              /* enum wl_fail */
	const char *fail_op;                   /* which call */
	uintptr_t fail_ptr;
	uint64_t fail_size, fail_align;
	uint64_t fail_call;                    /* w->calls when it failed */
	uint64_t fail_step;                    /* replay: the trace line (op index) */

	uint64_t tag_next;
};

#define WL_RING 65536u                     /* ring entries (a power of two) */

/* ----- randomness: splitmix64, deterministic from the seed ----- */

static inline uint64_t wl_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t wl_uniform(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + wl_rand(s) % (hi - lo + 1);
}

/*
 * Log-uniform in [lo, hi) for powers of two lo < hi: a uniform octave, then
 * uniform within it (each octave gets the same share of requests).
 */
static inline uint64_t wl_loguniform(uint64_t *s, unsigned lo_log2, unsigned hi_log2)
{
	uint64_t r = wl_rand(s);
	unsigned e = lo_log2 + (unsigned)(r % (hi_log2 - lo_log2));
	return ((uint64_t)1 << e) + ((r >> 16) & (((uint64_t)1 << e) - 1));
}

/* ----- checking what the allocator returns ----- */

static inline void wl_set_fail(struct wl *w, int why, const char *op, const void *p, uint64_t size,
			       uint64_t align)
{
	if (w->fail)
		return;
	w->fail = why;
	w->fail_op = op;
	w->fail_ptr = (uintptr_t)p;
	w->fail_size = size;
	w->fail_align = align;
	w->fail_call = w->calls;
}

static inline uint64_t wl_malloc_align(uint64_t n)
{
	if (n >= 16)
		return 16;
	uint64_t a = 1;
	while (a * 2 <= n)
		a *= 2;
	return a;
}

static inline uint64_t wl_pattern(uint64_t tag, uint64_t i)
{
	return (tag + i) * 0x9e3779b97f4a7c15ull ^ tag;
}

/* Byte i of the pattern: the same whether it was written as part of a word or alone. */
static inline unsigned char wl_pattern_byte(uint64_t tag, uint64_t i)
{
	return (unsigned char)(wl_pattern(tag, i & ~(uint64_t)7) >> (8 * (i & 7)));
}

static inline void wl_fill(unsigned char *p, uint64_t n, uint64_t tag)
{
	uint64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = wl_pattern(tag, i);
		__builtin_memcpy(p + i, &v, 8);
	}
	for (; i < n; i++)
		p[i] = wl_pattern_byte(tag, i);
}

/* The n bytes at p still hold tag's pattern: 0 if so, -1 if not. */
static inline int wl_verify(const unsigned char *p, uint64_t n, uint64_t tag)
{
	uint64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		__builtin_memcpy(&v, p + i, 8);
		if (v != wl_pattern(tag, i))
			return -1;
	}
	for (; i < n; i++)
		if (p[i] != wl_pattern_byte(tag, i))
			return -1;
	return 0;
}

/* Marks a block fresh from the allocator (its first n bytes are the caller's). */
static inline void wl_mark(struct wl *w, struct wl_slot *s)
{
	s->tag = w->tag_next++ * 0x2545f4914f6cdd1dull + 1;
	if (w->mode == WL_CHECK)
		wl_fill(s->p, s->size, s->tag);
	else if (s->size >= 8)
		__builtin_memcpy(s->p, &s->tag, 8);
}

/* Checks a live block before it is freed or resized; returns 0 if intact. */
static inline int wl_intact(struct wl *w, const struct wl_slot *s, const char *op)
{
	int bad;
	if (w->mode == WL_CHECK) {
		bad = wl_verify(s->p, s->size, s->tag);
	} else if (s->size >= 8) {
		uint64_t v;
		__builtin_memcpy(&v, s->p, 8);
		bad = v != s->tag;
	} else {
		bad = 0;
	}
	if (bad)
		wl_set_fail(w, WL_FAIL_CORRUPT, op, s->p, s->size, 0);
	return !bad;
}

static inline void wl_count(struct wl *w, uint64_t t0)
{
	w->calls++;
	if (w->mode == WL_LAT) {
		uint64_t d = wl_tsc() - t0;
		unsigned b;
		if (d < WL_HIST_SUB) {
			b = (unsigned)d;
		} else {
			unsigned e = 63u - (unsigned)__builtin_clzll(d);       /* >= 4 */
			b = (e - 3) * WL_HIST_SUB + (unsigned)((d >> (e - 4)) & (WL_HIST_SUB - 1));
		}
		w->hist[b]++;
		if (d > w->lat_max)
			w->lat_max = d;
	} else if (w->mode == WL_CHECK && w->sample && --w->until_sample == 0) {
		w->until_sample = w->sample_every;
		w->sample(w);
	}
}

/* Lower bound in ticks of histogram bucket b (the inverse of wl_count's mapping). */
static inline uint64_t wl_hist_floor(unsigned b)
{
	if (b < WL_HIST_SUB)
		return b;
	unsigned e = b / WL_HIST_SUB + 3, m = b % WL_HIST_SUB;
	return ((uint64_t)1 << e) | ((uint64_t)m << (e - 4));
}

static inline uint64_t wl_start(struct wl *w)
{
	return w->mode == WL_LAT ? wl_tsc() : 0;
}

static inline void wl_live_add(struct wl *w, uint64_t n)
{
	w->live += n;
	if (w->live > w->peak_live)
		w->peak_live = w->live;
}

/* Fills slot s with a new block of n bytes (align 0: malloc; else posix_memalign). */
static inline int wl_alloc(struct wl *w, struct wl_slot *s, uint64_t n, uint64_t align)
{
	void *p = 0;
	uint64_t t0 = wl_start(w);
	if (!align) {
		p = w->ops.malloc(n);
	} else if (w->ops.memalign(&p, align, n)) {
		p = 0;
	}
	wl_count(w, t0);
	const char *op = align ? "posix_memalign" : "malloc";
	if (!p) {
		wl_set_fail(w, WL_FAIL_NULL, op, 0, n, align);
		return 0;
	}
	uint64_t want = align ? align : wl_malloc_align(n);
	if ((uintptr_t)p & (want - 1)) {
		wl_set_fail(w, WL_FAIL_ALIGN, op, p, n, want);
		return 0;
	}
	s->p = p;
	s->size = n;
	wl_mark(w, s);
	wl_live_add(w, n);
	return 1;
}

static inline int wl_calloc(struct wl *w, struct wl_slot *s, uint64_t nmemb, uint64_t size)
{
	uint64_t t0 = wl_start(w);
	unsigned char *p = w->ops.calloc(nmemb, size);
	wl_count(w, t0);
	uint64_t n = nmemb * size;
	if (!p) {
		wl_set_fail(w, WL_FAIL_NULL, "calloc", 0, n, 0);
		return 0;
	}
	if ((uintptr_t)p & (wl_malloc_align(n) - 1)) {
		wl_set_fail(w, WL_FAIL_ALIGN, "calloc", p, n, wl_malloc_align(n));
		return 0;
	}
	if (w->mode == WL_CHECK)
		for (uint64_t i = 0; i < n; i++)
			if (p[i]) {
				wl_set_fail(w, WL_FAIL_CORRUPT, "calloc (not zeroed)", p, n, 0);
				return 0;
			}
	s->p = p;
	s->size = n;
	wl_mark(w, s);
	wl_live_add(w, n);
	return 1;
}

/* Frees slot s (which must hold a block). */
static inline int wl_release(struct wl *w, struct wl_slot *s)
{
	if (!wl_intact(w, s, "free"))
		return 0;
	uint64_t t0 = wl_start(w);
	w->ops.free(s->p);
	wl_count(w, t0);
	w->live -= s->size;
	s->p = 0;
	return 1;
}

/* Resizes slot s to n bytes (n > 0); the kept prefix must survive the move. */
static inline int wl_resize(struct wl *w, struct wl_slot *s, uint64_t n)
{
	if (s->p && !wl_intact(w, s, "realloc"))
		return 0;
	uint64_t t0 = wl_start(w);
	unsigned char *p = w->ops.realloc(s->p, n);
	wl_count(w, t0);
	if (!p) {
		wl_set_fail(w, WL_FAIL_NULL, "realloc", 0, n, 0);
		return 0;
	}
	if ((uintptr_t)p & (wl_malloc_align(n) - 1)) {
		wl_set_fail(w, WL_FAIL_ALIGN, "realloc", p, n, wl_malloc_align(n));
		return 0;
	}
	uint64_t keep = s->p ? (s->size < n ? s->size : n) : 0;
	if (w->mode == WL_CHECK) {
		if (wl_verify(p, keep, s->tag)) {
			wl_set_fail(w, WL_FAIL_CORRUPT, "realloc (contents not kept)", p, n, 0);
			return 0;
		}
	} else if (keep >= 8) {
		uint64_t v;
		__builtin_memcpy(&v, p, 8);
		if (v != s->tag) {
			wl_set_fail(w, WL_FAIL_CORRUPT, "realloc (contents not kept)", p, n, 0);
			return 0;
		}
	}
	w->live -= s->p ? s->size : 0;
	s->p = p;
	s->size = n;
	wl_mark(w, s);
	wl_live_add(w, n);
	return 1;
}

/* A phase of a workload ended: take a footprint sample there too. */
static inline void wl_phase(struct wl *w)
{
	if (w->mode == WL_CHECK && w->sample)
		w->sample(w);
}

/* Frees every live slot in [0, n). */
static inline void wl_free_all(struct wl *w, uint64_t n)
{
	for (uint64_t i = 0; i < n && !w->fail; i++)
		if (w->slots[i].p)
			wl_release(w, &w->slots[i]);
}

static inline void wl_clear_slots(struct wl *w, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		w->slots[i].p = 0;
}

/* ----- the workloads ----- */

/*
 * pairs: malloc then free right away, sizes uniform 16..256 B: the fast path
 * and nothing else. 2 * npairs calls. Needs 1 slot.
 */
static inline void wl_pairs(struct wl *w, uint64_t npairs)
{
	uint64_t s = w->seed;
	for (uint32_t i = 0; i < WL_RING; i++)
		w->ring[i] = (uint32_t)wl_uniform(&s, 16, 256);
	struct wl_slot *sl = &w->slots[0];
	for (uint64_t i = 0; i < npairs; i++) {
		if (!wl_alloc(w, sl, w->ring[i & (WL_RING - 1)], 0) || !wl_release(w, sl))
			return;
	}
}

/*
 * churn: nlive slots filled, then `steps` times free a random slot and
 * allocate a new block into it; sizes log-uniform 8..4 KiB; then free all.
 * 2 * (nlive + steps) calls. Needs nlive slots (at most 1 << 18).
 */
static inline void wl_churn(struct wl *w, uint64_t nlive, uint64_t steps)
{
	uint64_t s = w->seed;
	for (uint32_t i = 0; i < WL_RING; i++)
		w->ring[i] = (uint32_t)((wl_rand(&s) % nlive) << 13 | (wl_loguniform(&s, 3, 12) - 1));
	wl_clear_slots(w, nlive);
	for (uint64_t i = 0; i < nlive; i++)
		if (!wl_alloc(w, &w->slots[i], wl_loguniform(&s, 3, 12), 0))
			return;
	wl_phase(w);
	for (uint64_t i = 0; i < steps; i++) {
		uint32_t r = w->ring[i & (WL_RING - 1)];
		struct wl_slot *sl = &w->slots[r >> 13];
		if (!wl_release(w, sl) || !wl_alloc(w, sl, (r & 8191) + 1, 0))
			return;
	}
	wl_phase(w);
	wl_free_all(w, nlive);
}

/*
 * realloc: nbuf buffers grow by doubling from 16 B to max_bytes, round robin
 * (every buffer takes one step before any takes the next), then all are
 * freed; `rounds` times. Needs nbuf slots.
 */
static inline void wl_realloc(struct wl *w, uint64_t nbuf, uint64_t max_bytes, uint64_t rounds)
{
	for (uint64_t r = 0; r < rounds; r++) {
		wl_clear_slots(w, nbuf);
		for (uint64_t n = 16; n <= max_bytes; n *= 2) {
			for (uint64_t b = 0; b < nbuf; b++)
				if (!wl_resize(w, &w->slots[b], n))
					return;
			if (n == max_bytes)
				wl_phase(w);
		}
		wl_free_all(w, nbuf);
	}
}

/*
 * frag: the classic fragmenter. n small blocks (16..64 B); free every other
 * one; n/8 large ones (512..2048 B) that cannot use those holes; free the
 * large ones; n*5/8 mid-size ones (64..512 B), which can reuse the large
 * ones' space but not the small holes; free all. The peak live bytes come in
 * the last phase, so the overhead says how well freed space was reused.
 * `rounds` times. Needs n + n/8 + n*5/8 slots (n*7/4).
 */
static inline void wl_frag(struct wl *w, uint64_t n, uint64_t rounds)
{
	uint64_t s = w->seed;
	uint64_t nl = n / 8, nm = n * 5 / 8;
	struct wl_slot *small = w->slots, *large = small + n, *mid = large + nl;

	for (uint64_t r = 0; r < rounds; r++) {
		wl_clear_slots(w, n + nl + nm);
		for (uint64_t i = 0; i < n; i++)
			if (!wl_alloc(w, &small[i], wl_uniform(&s, 16, 64), 0))
				return;
		wl_phase(w);
		for (uint64_t i = 0; i < n; i += 2)
			if (!wl_release(w, &small[i]))
				return;
		for (uint64_t i = 0; i < nl; i++)
			if (!wl_alloc(w, &large[i], wl_uniform(&s, 512, 2048), 0))
				return;
		wl_phase(w);
		for (uint64_t i = 0; i < nl; i++)
			if (!wl_release(w, &large[i]))
				return;
		for (uint64_t i = 0; i < nm; i++)
			if (!wl_alloc(w, &mid[i], wl_uniform(&s, 64, 512), 0))
				return;
		wl_phase(w);
		wl_free_all(w, n + nl + nm);
	}
}

/*
 * aligned: nlive slots of posix_memalign blocks, alignment 16..4096 (a
 * uniform power of two) and size log-uniform 8..4 KiB; `steps` times replace
 * a random one; then free all. Needs nlive slots (at most 1 << 14).
 */
static inline void wl_aligned(struct wl *w, uint64_t nlive, uint64_t steps)
{
	uint64_t s = w->seed;
	for (uint32_t i = 0; i < WL_RING; i++)
		w->ring[i] = (uint32_t)(wl_uniform(&s, 4, 12) << 27 | (wl_rand(&s) % nlive) << 13 |
					(wl_loguniform(&s, 3, 12) - 1));
	wl_clear_slots(w, nlive);
	for (uint64_t i = 0; i < nlive; i++)
		if (!wl_alloc(w, &w->slots[i], wl_loguniform(&s, 3, 12), (uint64_t)1 << wl_uniform(&s, 4, 12)))
			return;
	wl_phase(w);
	for (uint64_t i = 0; i < steps; i++) {
		uint32_t r = w->ring[i & (WL_RING - 1)];
		struct wl_slot *sl = &w->slots[(r >> 13) & 16383];
		if (!wl_release(w, sl) || !wl_alloc(w, sl, (r & 8191) + 1, (uint64_t)1 << (r >> 27)))
			return;
	}
	wl_phase(w);
	wl_free_all(w, nlive);
}

/* ----- replay of a recorded trace ----- */

enum { WL_OP_MALLOC = 'm', WL_OP_CALLOC = 'c', WL_OP_ALIGN = 'a', WL_OP_REALLOC = 'r', WL_OP_FREE = 'f' };

/* One parsed trace line (the text form is described in tools/bench/trace-record.c). */
struct wl_op {
	uint32_t kind;       /* WL_OP_* */
	uint32_t id;         /* slot */
	uint64_t a, b;       /* m: size | c: nmemb, size | a: align, size | r: size */
};

/*
 * Replays ops[0..nops) `rounds` times, freeing whatever is left live after
 * each round. Ops on ids that are not live (a forked child's trace starts
 * mid-stream) are taken as fresh: a free of one is skipped, a realloc of one
 * is a malloc. Sizes of 0 are raised to 1, so every block is a real one.
 * Needs max id + 1 slots.
 */
static inline void wl_replay(struct wl *w, const struct wl_op *ops, uint64_t nops, uint64_t nids,
			     uint64_t rounds)
{
	for (uint64_t r = 0; r < rounds; r++) {
		wl_clear_slots(w, nids);
		for (uint64_t i = 0; i < nops && !w->fail; i++) {
			const struct wl_op *o = &ops[i];
			struct wl_slot *sl = &w->slots[o->id];
			switch (o->kind) {
			case WL_OP_MALLOC:
			case WL_OP_CALLOC:
			case WL_OP_ALIGN:
				if (sl->p && !wl_release(w, sl))
					return;
				if (o->kind == WL_OP_MALLOC)
					wl_alloc(w, sl, o->a ? o->a : 1, 0);
				else if (o->kind == WL_OP_CALLOC)
					wl_calloc(w, sl, o->a ? o->a : 1, o->b ? o->b : 1);
				else
					wl_alloc(w, sl, o->b ? o->b : 1, o->a < 16 ? 16 : o->a);
				break;
			case WL_OP_REALLOC:
				wl_resize(w, sl, o->a ? o->a : 1);
				break;
			case WL_OP_FREE:
				if (sl->p)
					wl_release(w, sl);
				break;
			default:
				wl_set_fail(w, WL_FAIL_TRACE, "replay", 0, i, 0);
				break;
			}
			if (w->fail) {
				w->fail_step = i;
				return;
			}
		}
		wl_phase(w);
		wl_free_all(w, nids);
	}
}

#endif /* BENCH_WORKLOADS_H */
