/*
 * tests/kernel/test_bench.c - suite "bench": the host benchmark's workloads
 * (tools/bench/workloads.h, the same code) on kmalloc/kfree/kcalloc/krealloc/
 * kmemalign, scaled down, printing TSC ticks per call. Run it by name:
 *
 *   tools/qemu-test --mem 512M -- ktest=bench
 *
 * ktest=all leaves these out (KTEST_EXPLICIT): they measure, they do not
 * judge speed. Each test still fails if the heap hands out a misaligned or
 * overlapping block (the WL_CHECK pass fills and verifies every byte), and,
 * like every test, if it leaves a heap block or a frame behind.
 *
 * Under QEMU's TCG the TSC follows the host's clock, so "ticks" are
 * nanoseconds-ish of *emulated* time: every guest instruction costs many host
 * instructions, so these figures compare kernel workloads with each other,
 * not with the host table in docs/performance.md. Under KVM they are cycles.
 *
 * The harness's own arrays (the step ring, the slots, the latency histogram)
 * are at least 128 KiB each, so they come from the large path and never
 * share the break with the blocks being measured.
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/cpu.h"
#include "../../kernel/arch/x86_64/tsc.h"
#include "../../kernel/kheap.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/printk.h"

static inline uint64_t wl_tsc(void) { return rdtsc(); }

#include "../../tools/bench/workloads.h"
#include "../../tools/bench/traces/python_head.h"

static void *b_malloc(size_t n) { return kmalloc(n); }
static void b_free(void *p) { kfree(p); }
static void *b_calloc(size_t n, size_t s) { return kcalloc(n, s); }
static void *b_realloc(void *p, size_t n) { return krealloc(p, n); }
static int b_memalign(void **out, size_t align, size_t n)
{
	void *p = kmemalign(align, n);
	if (!p)
		return 12;   /* ENOMEM */
	*out = p;
	return 0;
}

#define HARNESS_MIN (128 * 1024)    /* >= the large threshold: off the break */

static void *harness_alloc(size_t bytes)
{
	void *p = kmalloc(bytes < HARNESS_MIN ? HARNESS_MIN : bytes);
	KASSERT(p != NULL);
	memset(p, 0, bytes);
	return p;
}

/* The kernel heap's footprint (break + large runs) less the harness's own runs. */
static uint64_t harness_large;
static uint64_t foot_peak;

static uint64_t footprint(void)
{
	struct heap_stats st;
	kheap_stats(&st);
	return st.brk_bytes + st.large_bytes - harness_large;
}

static void sample(struct wl *w)
{
	(void)w;
	uint64_t f = footprint();
	if (f > foot_peak)
		foot_peak = f;
}

/*
 * Under TCG a physical page that once held code QEMU translated stays slow to
 * write (every store takes QEMU's self-modifying-code path, ~1 us) until
 * stores have covered all the stale translations on it. GRUB ran from frames
 * near the top of RAM, and the pmm hands exactly those to the heap first, so
 * a block at the heap's base measured QEMU, not kmalloc (pairs: 40x slower).
 * Filling a few MiB of heap blocks once drops those translations; a
 * hardware machine or KVM has no such pages and loses nothing by it.
 */
static void tcg_scrub(void)
{
	static void *blk[128];
	unsigned n = 0;
	while (n < 128 && (blk[n] = kmalloc(60 * 1024)) != NULL)
		memset(blk[n++], 0, 60 * 1024);
	while (n)
		kfree(blk[--n]);
}

enum { PAIRS, CHURN, REALLOC, FRAG, ALIGNED, REPLAY };

/* Scaled-down sizes: each test takes a few seconds under TCG. */
static void run(struct wl *w, int kind, int scale)
{
	switch (kind) {
	case PAIRS: wl_pairs(w, 100000u * scale); break;
	case CHURN: wl_churn(w, 10000, 50000u * scale); break;
	case REALLOC: wl_realloc(w, 1000, 16 * 1024, (uint64_t)scale); break;
	case FRAG: wl_frag(w, 20000, (uint64_t)scale); break;
	case ALIGNED: wl_aligned(w, 1000, 50000u * scale); break;
	case REPLAY: wl_replay(w, bench_trace_python, bench_trace_python_NOPS, bench_trace_python_NIDS, 2u * scale); break;
	}
}

static const char *const fail_why[] = { "ok", "returned NULL", "misaligned", "corrupted a live block",
					"bad trace" };

/* Runs kind once per mode (check, time, latency) and prints what it measured. */
static void bench(int kind, uint64_t nslots, const char *what)
{
	size_t ring_b = WL_RING * sizeof(uint32_t), slots_b = nslots * sizeof(struct wl_slot),
	       hist_b = WL_HIST_BUCKETS * sizeof(uint64_t);
	uint32_t *ring = harness_alloc(ring_b);
	struct wl_slot *slots = harness_alloc(slots_b);
	uint64_t *hist = harness_alloc(hist_b);
	struct heap_stats st;
	tcg_scrub();
	kheap_trim();
	kheap_stats(&st);
	harness_large = st.large_bytes;

	const struct wl_ops ops = { b_malloc, b_free, b_calloc, b_realloc, b_memalign };
	uint64_t hz = tsc_hz_get();
	printk("    # bench: %s\n", what);

	for (int mode = WL_CHECK; ; mode = mode == WL_CHECK ? WL_TIME : WL_LAT) {
		struct wl w = { .ops = ops, .mode = mode, .seed = 42, .ring = ring, .slots = slots,
				.nslots = nslots, .hist = hist };
		memset(hist, 0, hist_b);
		if (mode == WL_CHECK) {
			w.sample = sample;
			w.sample_every = w.until_sample = 1000;
			foot_peak = footprint();
		}
		uint64_t t0 = rdtsc();
		run(&w, kind, mode == WL_CHECK ? 1 : 2);
		uint64_t ticks = rdtsc() - t0;
		if (w.fail) {
			ktest_fail_at(__FILE__, __LINE__, "%s(size %lu, align %lu) %s: %p at call %lu", w.fail_op,
				      w.fail_size, w.fail_align, fail_why[w.fail], (void *)w.fail_ptr, w.fail_call);
			/* The heap is not to be trusted now: leave its blocks, the leak check will say so too. */
			break;
		}
		uint64_t per10 = w.calls ? ticks * 10 / w.calls : 0;
		if (mode == WL_CHECK) {
			uint64_t ovh100 = w.peak_live ? foot_peak * 100 / w.peak_live : 0;
			if (w.peak_live < 64 * 1024)   /* a ratio to a few live bytes says nothing */
				printk("    #   check: %lu calls, every byte verified\n", w.calls);
			else
				printk("    #   check: %lu calls, every byte verified; peak live %lu KiB, heap footprint "
				       "%lu KiB (break + large runs): overhead %lu.%02lu\n",
				       w.calls, w.peak_live >> 10, foot_peak >> 10, ovh100 / 100, ovh100 % 100);
		} else if (mode == WL_TIME) {
			printk("    #   time:  %lu calls, %lu.%lu TSC ticks/call (%lu ns/call of guest time at %lu MHz)\n",
			       w.calls, per10 / 10, per10 % 10, hz >= 1000000 ? ticks * 1000 / (hz / 1000000) / w.calls : 0,
			       hz / 1000000);
		} else {
			uint64_t total = 0, q[3] = { 0 };
			static const uint64_t permille[3] = { 500, 999, 9999 };
			for (unsigned b = 0; b < WL_HIST_BUCKETS; b++)
				total += hist[b];
			for (int k = 0; k < 3; k++) {
				uint64_t want = total * permille[k] / (k == 2 ? 10000 : 1000), seen = 0;
				for (unsigned b = 0; b < WL_HIST_BUCKETS; b++) {
					seen += hist[b];
					if (seen > want) {
						q[k] = wl_hist_floor(b);
						break;
					}
				}
			}
			printk("    #   latency ticks/call: p50 %lu, p99.9 %lu, p99.99 %lu, max %lu (rdtsc per call included)\n",
			       q[0], q[1], q[2], w.lat_max);
			break;
		}
	}
	kfree(hist);
	kfree(slots);
	kfree(ring);
	kheap_trim();
	char why[200];
	KEXPECT_MSG(kheap_check(why, sizeof why) == 0, "heap_check: %s", why);
}

#define TCG_NOTE "(under TCG these are TSC ticks of emulated time, not hardware cycles)"

KTEST_F(bench, pairs, KTEST_EXPLICIT)
{
	bench(PAIRS, 1, "pairs: kmalloc+kfree at once, 16..256 B " TCG_NOTE);
}

KTEST_F(bench, churn, KTEST_EXPLICIT)
{
	bench(CHURN, 10000, "churn: 10,000 live, free a random one and refill, 8..4096 B log-uniform");
}

KTEST_F(bench, realloc, KTEST_EXPLICIT)
{
	bench(REALLOC, 1000, "realloc: 1,000 buffers doubling 16 B -> 16 KiB, round robin");
}

KTEST_F(bench, frag, KTEST_EXPLICIT)
{
	bench(FRAG, 20000 * 7 / 4 + 8, "frag: 20k small, free every other, 2.5k large, free, 12.5k mid");
}

KTEST_F(bench, aligned, KTEST_EXPLICIT)
{
	bench(ALIGNED, 1000, "aligned: kmemalign, align 16..4096, size 8..4096, 1,000 live");
}

KTEST_F(bench, replay, KTEST_EXPLICIT)
{
	bench(REPLAY, bench_trace_python_NIDS, "replay: the first 5,000 calls of tools/bench/traces/python.trace");
}
