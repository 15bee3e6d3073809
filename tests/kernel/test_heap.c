/*
 * tests/kernel/test_heap.c - suite "heap": kmalloc and friends in the
 * kernel, over kbrk and the large window: edge sizes, overflow, alignment,
 * realloc, coalescing, trimming, the large path and its guard pages, the
 * page above the break, out of memory, and a randomized run against a shadow
 * model (heap.ops=N on the command line changes its length).
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/layout.h"
#include "../../kernel/cmdline.h"
#include "../../kernel/kbrk.h"
#include "../../kernel/kheap.h"
#include "../rand.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/pmm.h"
#include "../../kernel/printk.h"
#include "../../kernel/vmm.h"

static void expect_heap_clean(void)
{
	char why[200];
	KEXPECT_MSG(kheap_check(why, sizeof why) == 0, "heap_check: %s", why);
}

static struct heap_stats stats(void)
{
	struct heap_stats st;
	kheap_stats(&st);
	return st;
}

/* Allocates size bytes, checks the pointer and that both ends are writable, frees. */
static void try_size(size_t size)
{
	uint8_t *p = kmalloc(size);
	if (!p && size > (pmm_free_frames() * PAGE_SIZE) / 2)
		return;                 /* a small guest may not have it: that is NULL, correctly */
	KEXPECT_MSG(p != NULL, "kmalloc(%zu) gave NULL", size);
	if (!p)
		return;
	KEXPECT_EQ((uintptr_t)p % 16, 0);
	KEXPECT_GE(kmalloc_usable_size(p), size);
	if (size) {                     /* kmalloc(0) has no byte to write */
		p[0] = 0x5a;
		p[size - 1] = 0xa5;
	}
	kfree(p);
}

KTEST(heap, edge_sizes)
{
	try_size(0);
	try_size(1);
	for (unsigned k = 1; k <= 24; k++) {
		try_size((1UL << k) - 1);
		try_size(1UL << k);
		try_size((1UL << k) + 1);
	}
	expect_heap_clean();
}

KTEST(heap, zero_size_is_unique_and_freeable)
{
	void *a = kmalloc(0), *b = kmalloc(0);
	KASSERT(a && b);
	KEXPECT_NE(a, b);
	kfree(a);
	kfree(b);
}

KTEST(heap, huge_sizes_never_wrap)
{
	struct heap_stats before = stats();
	size_t huge[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 16, SIZE_MAX - 4096,
			  (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX, SIZE_MAX / 2 };
	for (unsigned i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		KEXPECT_NULL(kmalloc(huge[i]));
		KEXPECT_NULL(kmemalign(4096, huge[i]));
		KEXPECT_NULL(kcalloc(1, huge[i]));
	}
	struct heap_stats after = stats();
	KEXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
	KEXPECT_EQ(after.used_blocks, before.used_blocks);
	expect_heap_clean();
}

KTEST(heap, calloc_overflow_and_zeroing)
{
	KEXPECT_NULL(kcalloc(SIZE_MAX / 2 + 1, 2));
	KEXPECT_NULL(kcalloc(2, SIZE_MAX / 2 + 1));
	KEXPECT_NULL(kcalloc(SIZE_MAX, SIZE_MAX));
	KEXPECT_NULL(kcalloc((size_t)1 << 32, (size_t)1 << 32));
	/* Dirty a block, free it, calloc the same size: the reused memory is zero. */
	uint8_t *d = kmalloc(1000);
	KASSERT(d);
	memset(d, 0xff, 1000);
	kfree(d);
	kheap_flush_quarantine();       /* heap.debug=2 would keep d from reuse a while */
	uint8_t *z = kcalloc(10, 100);
	KASSERT(z);
	KEXPECT_EQ(z, d);               /* the same block came back ... */
	size_t nonzero = 0;
	for (int i = 0; i < 1000; i++)
		nonzero += z[i] != 0;
	KEXPECT_EQ(nonzero, 0);         /* ... and it is zero */
	kfree(z);
}

KTEST(heap, every_alignment)
{
	for (size_t a = 1; a <= (2UL << 20); a <<= 1) {
		for (size_t size = 1; size <= 300000; size *= 37) {
			uint8_t *p = kmemalign(a, size);
			KEXPECT_MSG(p != NULL, "kmemalign(%zu, %zu) gave NULL", a, size);
			if (!p)
				continue;
			KEXPECT_MSG((uintptr_t)p % (a < 16 ? 16 : a) == 0, "kmemalign(%zu, %zu) = %p", a, size, p);
			KEXPECT_GE(kmalloc_usable_size(p), size);
			p[size - 1] = 1;
			kfree(p);
		}
	}
	KEXPECT_NULL(kmemalign(0, 16));
	KEXPECT_NULL(kmemalign(3, 16));
	KEXPECT_NULL(kmemalign(24, 16));
	KEXPECT_NULL(kmemalign(4097, 16));
	expect_heap_clean();
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31);
}

static bool same(const uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seed + i * 31))
			return false;
	return true;
}

KTEST(heap, realloc_keeps_contents)
{
	uint8_t *p = krealloc(NULL, 100);       /* NULL acts as kmalloc */
	KASSERT(p);
	fill(p, 100, 7);
	uint8_t *q = krealloc(p, 100);          /* same size: same block */
	KEXPECT_EQ(q, p);
	q = krealloc(p, 40);                    /* shrink in place */
	KEXPECT_EQ(q, p);
	KEXPECT(same(q, 40, 7));
	/* Grow in place when the next block is free. */
	uint8_t *next = kmalloc(400);
	KASSERT(next);
	kfree(next);
	kheap_flush_quarantine();       /* (heap.debug=2: next must really be free) */
	uint8_t *r = krealloc(q, 300);
	KEXPECT_EQ(r, q);
	KEXPECT(same(r, 40, 7));
	fill(r, 300, 9);
	/* Grow by moving: a used block behind it. */
	uint8_t *wall = kmalloc(16);
	uint8_t *s = krealloc(r, 5000);
	KASSERT(s);
	KEXPECT(same(s, 300, 9));
	/* Across the large threshold and back. */
	uint8_t *t = krealloc(s, 300 * 1024);
	KASSERT(t);
	KEXPECT(same(t, 300, 9));
	KEXPECT_GE((uint64_t)t, LARGE_BASE);
	uint8_t *u = krealloc(t, 200);
	KASSERT(u);
	KEXPECT(same(u, 200, 9));
	/* size 0 shrinks to a minimum block (documented: it does not free). */
	uint8_t *v = krealloc(u, 0);
	KEXPECT_NOT_NULL(v);
	kfree(v);
	kfree(wall);
	expect_heap_clean();
}

KTEST(heap, failed_realloc_keeps_block)
{
	uint8_t *p = kmalloc(256);
	KASSERT(p);
	fill(p, 256, 3);
	KEXPECT_NULL(krealloc(p, SIZE_MAX - 8));
	KEXPECT_NULL(krealloc(p, (size_t)1 << 44));     /* no frames for 16 TiB */
	kbrk_fail_nth(1);                               /* and a growth that fails */
	pmm_fail_nth(1);
	uint8_t *big = krealloc(p, 64 * 1024);
	kbrk_fail_nth(0);
	pmm_fail_nth(0);
	if (big)                                        /* it fitted without growing */
		p = big;
	KEXPECT(same(p, 256, 3));
	KEXPECT_GE(kmalloc_usable_size(p), 256);
	kfree(p);
	expect_heap_clean();
}

enum { NCOAL = 96 };

static void coalesce_case(int order)
{
	static void *p[NCOAL];
	struct heap_stats base = stats();
	for (int i = 0; i < NCOAL; i++) {
		p[i] = kmalloc(16 + (size_t)i * 40);
		KASSERT(p[i]);
	}
	int idx[NCOAL];
	for (int i = 0; i < NCOAL; i++)
		idx[i] = order == 0 ? i : order == 1 ? NCOAL - 1 - i : i;
	if (order == 2) {
		struct rand r = { ktest_seed() };
		for (int i = NCOAL - 1; i > 0; i--) {
			int j = (int)rand_below(&r, (uint64_t)i + 1), t = idx[i];
			idx[i] = idx[j];
			idx[j] = t;
		}
	}
	for (int i = 0; i < NCOAL; i++) {
		kfree(p[idx[i]]);
		if (i % 16 == 0)
			expect_heap_clean();
	}
	struct heap_stats st = stats();
	KEXPECT_EQ(st.used_blocks, base.used_blocks);
	KEXPECT_LE(st.free_blocks, 1);            /* everything merged into one block (or trimmed away) */
	expect_heap_clean();
}

KTEST(heap, coalesce_forward) { coalesce_case(0); }
KTEST(heap, coalesce_reverse) { coalesce_case(1); }
KTEST(heap, coalesce_random) { coalesce_case(2); }

KTEST(heap, trim_gives_frames_back)
{
	kheap_trim();
	uint64_t brk0 = kbrk_current(), free0 = pmm_free_frames();
	enum { N = 2000 };
	static void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = kmalloc(1000);
		KASSERT(p[i]);
	}
	printk("    # 2000 x 1000 B: break grew by %lu KiB, pmm lent %lu frames\n", (kbrk_current() - brk0) >> 10,
	       free0 - pmm_free_frames());
	KEXPECT_GT(kbrk_current(), brk0 + 1000 * 1000);
	for (int i = 0; i < N; i++)
		kfree(p[i]);
	kheap_flush_quarantine();       /* heap.debug=2 holds the last frees back */
	/* Freeing trims on its own down to the threshold ... */
	KEXPECT_LE(kbrk_current(), brk0 + HEAP_DEFAULT_TRIM_THRESHOLD + PAGE_SIZE);
	/* ... and an explicit trim brings both back exactly. */
	kheap_trim();
	KEXPECT_EQ(kbrk_current(), brk0);
	KEXPECT_EQ(pmm_free_frames(), free0);
	expect_heap_clean();
}

/* Three rounds of n blocks of 4000 bytes, allocated and freed: what teaches the heap to retain. */
static void drain_and_refill(void **p, int n)
{
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < n; i++) {
			p[i] = kmalloc(4000);
			KASSERT(p[i]);
		}
		for (int i = n - 1; i >= 0; i--)
			kfree(p[i]);
		kheap_flush_quarantine();   /* heap.debug=2 */
	}
}

/* Takes every frame the pmm will give, chained through the direct map; the chain's head. */
static uint64_t exhaust_pmm(uint64_t *count)
{
	uint64_t head = 0, pa;
	for (*count = 0; (pa = pmm_alloc(0)); (*count)++) {
		*(uint64_t *)phys_to_virt(pa) = head;
		head = pa;
	}
	return head;
}

static void give_frames_back(uint64_t head)
{
	while (head) {
		uint64_t next = *(uint64_t *)phys_to_virt(head);
		pmm_free(head, 0);
		head = next;
	}
}

/*
 * Trim retention (alloc/heap.h "trim"): a heap that drains and refills keeps
 * its pages mapped; when the pmm runs out, its reclaim hook takes them back.
 */
KTEST(heap, pmm_pressure_takes_retained_pages_back)
{
	enum { N = 256 };
	static void *p[N];
	kheap_trim();
	uint64_t brk0 = kbrk_current(), n;
	drain_and_refill(p, N);
	size_t retained = kheap()->retain;
	uint64_t brk1 = kbrk_current();
	printk("    # after 3 rounds of %d x 4000 B: retain %zu KiB, break %lu KiB above its start\n", N,
	       retained >> 10, (brk1 - brk0) >> 10);
	if (kheap_debug() == 0) {   /* the debug levels' records make the rounds differ */
		KEXPECT_GE(retained, N * 4000 / 2);
		KEXPECT_GE(brk1 - brk0, N * 4000 / 2);
	}

	ktest_output_reset();
	uint64_t head = exhaust_pmm(&n);
	printk("    # the pmm gave %lu frames before it ran out\n", n);
	if (brk1 > brk0) {
		KEXPECT_STR_CONTAINS(ktest_output(), "heap: the pmm ran short: gave back ");
		KEXPECT_EQ(kbrk_current(), brk0);
		KEXPECT_EQ(kheap()->retain, 0);
	}
	give_frames_back(head);
	expect_heap_clean();
	if (kheap_debug())
		return;   /* below: level 0, where the heap may be trimmed from inside a large map */

	/* Again, but the pmm runs out first and a large kmalloc is what needs the pages. */
	drain_and_refill(p, N);
	KEXPECT_GE(kheap()->retain, N * 4000 / 2);
	pmm_set_reclaim(NULL);
	head = exhaust_pmm(&n);
	pmm_set_reclaim(kheap_reclaim);
	ktest_output_reset();
	void *big = kmalloc(300 * 1024);   /* a large run: klarge asks the pmm, the pmm asks the heap */
	KEXPECT(big != NULL);
	KEXPECT_STR_CONTAINS(ktest_output(), "heap: the pmm ran short: gave back ");
	KEXPECT_EQ(kheap()->retain, 0);
	kfree(big);
	give_frames_back(head);
	expect_heap_clean();
}

KTEST(heap, large_path_and_guards)
{
	uint64_t free0 = pmm_free_frames();
	size_t size = 200 * 1024;
	uint8_t *p = kmalloc(size);
	KASSERT(p);
	KEXPECT_GE((uint64_t)p, LARGE_BASE);
	KEXPECT_LT((uint64_t)p, LARGE_BASE + LARGE_SIZE);
	struct heap_stats st = stats();
	KEXPECT_EQ(st.large_blocks, 1);
	memset(p, 0x11, size);
	uint64_t run_end = ((uint64_t)p + kmalloc_usable_size(p) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	KEXPECT_FAULT(VEC_PF, run_end, { (void)*(volatile uint8_t *)run_end; });       /* guard above */
	uint64_t run_start = (uint64_t)p & ~(PAGE_SIZE - 1);
	KEXPECT_FAULT(VEC_PF, run_start - 1, { (void)*(volatile uint8_t *)(run_start - 1); }); /* guard below */
	kfree(p);
	KEXPECT_EQ(pmm_free_frames(), free0);
	KEXPECT_FAULT(VEC_PF, (uint64_t)p, { (void)*(volatile uint8_t *)p; });         /* freed: unmapped */
	char region[160];
	vmm_describe_region(run_end, region, sizeof region);
	KEXPECT_STR_CONTAINS(region, "large-allocation window");
}

static uint64_t pa_of(const void *p)
{
	struct vmm_translation t;
	return vmm_translate((uint64_t)p, &t) ? 0 : t.pa;
}

/* krealloc of a large block moves its frames (klarge_remap), never its bytes. */
KTEST(heap, large_realloc_moves_frames_not_bytes)
{
	if (kheap_debug())
		ktest_skip("the debug levels copy: their records and canaries move with the bytes");
	uint64_t free0 = pmm_free_frames();
	uint8_t *a = kmalloc(200 * 1024), *b = kmalloc(300 * 1024), *c = kmalloc(200 * 1024);
	KASSERT(a && b && c);
	for (size_t i = 0; i < 300 * 1024; i++)
		b[i] = (uint8_t)(i * 7);
	uint64_t first = pa_of(b), last = pa_of(b + 300 * 1024 - 1);

	/* b is not the newest run: it moves to a new range, with the same frames. */
	uint8_t *b2 = krealloc(b, 900 * 1024);
	KASSERT(b2);
	KEXPECT_NE((uint64_t)b2, (uint64_t)b);
	KEXPECT_EQ(pa_of(b2), first);
	KEXPECT_EQ(pa_of(b2 + 300 * 1024 - 1), last);
	bool same = true;
	for (size_t i = 0; i < 300 * 1024; i++)
		same &= b2[i] == (uint8_t)(i * 7);
	KEXPECT(same);
	memset(b2 + 300 * 1024, 0x5a, 600 * 1024);
	KEXPECT_FAULT(VEC_PF, (uint64_t)b, { (void)*(volatile uint8_t *)b; });   /* the old range is gone */
	expect_heap_clean();

	/* Now b2 is the newest run: it grows where it is. */
	uint8_t *b3 = krealloc(b2, 2 * 1024 * 1024);
	KEXPECT_EQ((uint64_t)b3, (uint64_t)b2);
	KEXPECT_EQ(b3[300 * 1024], 0x5a);
	/* Shrinking to less than half unmaps the tail in place. */
	uint64_t before = pmm_free_frames();
	uint8_t *b4 = krealloc(b3, 200 * 1024);
	KEXPECT_EQ((uint64_t)b4, (uint64_t)b3);
	KEXPECT_GE(pmm_free_frames(), before + (1800 * 1024) / PAGE_SIZE - 1);
	KEXPECT_EQ(b4[1], 7);
	KEXPECT_EQ(b4[150 * 1024 + 1], (uint8_t)((150 * 1024 + 1) * 7));
	expect_heap_clean();
	kfree(a);
	kfree(b4);
	kfree(c);
	KEXPECT_EQ(pmm_free_frames(), free0);
}

/*
 * A pointer freed before a trim, freed again after the break has grown back
 * over it: whatever its page holds now (kbrk does not zero frames, and the
 * pmm may hand back the very same one), the free is refused and reported.
 * The heap marks every header it leaves inside free memory FREE, so no
 * stale header can pass for a live block's.
 */
KTEST(heap, stale_pointer_after_trim_and_regrow_is_refused)
{
	enum { N = 31 };                        /* the last one above the initial break, below 127 KiB */
	static void *p[N];
	kheap_trim();
	uint64_t brk0 = kbrk_current();
	for (int i = 0; i < N; i++) {
		p[i] = kmalloc(4000);
		KASSERT(p[i]);
	}
	uint8_t *q = p[N - 1];
	KEXPECT_GT((uint64_t)q, brk0);          /* its page goes back at the trim */
	for (int i = 0; i < N; i++)
		kfree(p[i]);
	kheap_trim();
	KEXPECT_EQ(kbrk_current(), brk0);
	uint8_t *big = kmalloc(127 * 1024);     /* brk memory again, over where q was */
	KASSERT(big);
	KEXPECT_LT((uint64_t)q, kbrk_current());
	uint64_t reports0 = kheap_reports();
	kfree(q);                               /* a double free, long after the fact */
	KEXPECT_EQ(kheap_reports(), reports0 + 1);
	expect_heap_clean();
	kfree(big);
}

KTEST(heap, page_above_break_faults)
{
	uint64_t above = (kbrk_current() + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	KEXPECT_FAULT(VEC_PF, above, { (void)*(volatile uint64_t *)above; });
	KEXPECT_EQ(ktest_last_fault.error & PF_PRESENT, 0);
	char region[160];
	vmm_describe_region(above, region, sizeof region);
	KEXPECT_STR_CONTAINS(region, "above the break");
	/* The last byte below the break is mapped and writable. */
	*(volatile uint8_t *)(kbrk_current() - 1) = *(volatile uint8_t *)(kbrk_current() - 1);
}

KTEST(heap, ksbrk_maps_and_unmaps)
{
	uint64_t b0 = kbrk_current(), f0 = pmm_free_frames(), frames0 = kbrk_frames();
	KASSERT(((b0 & (PAGE_SIZE - 1)) == 0));
	KEXPECT_EQ((uint64_t)ksbrk(1), b0);               /* one byte: one more page */
	KEXPECT_EQ(kbrk_frames(), frames0 + 1);
	*(volatile uint8_t *)b0 = 1;
	KEXPECT_EQ((uint64_t)ksbrk(PAGE_SIZE), b0 + 1);  /* crosses into a second page */
	KEXPECT_EQ(kbrk_frames(), frames0 + 2);
	KEXPECT_EQ(kbrk((void *)b0), 0);
	KEXPECT_EQ(kbrk_frames(), frames0);
	KEXPECT_EQ(pmm_free_frames(), f0);
	KEXPECT_FAULT(VEC_PF, b0, { (void)*(volatile uint8_t *)b0; });
	/* Failures leave nothing behind. */
	KEXPECT_EQ((uint64_t)ksbrk(-(intptr_t)(b0 - HEAP_BASE) - 1), (uint64_t)-1);
	KEXPECT_EQ(kbrk((void *)(HEAP_BASE + HEAP_SIZE + PAGE_SIZE)), -1);
	pmm_fail_nth(3);                                  /* the third of four frames fails */
	KEXPECT_EQ((uint64_t)ksbrk(4 * PAGE_SIZE), (uint64_t)-1);
	pmm_fail_nth(0);
	KEXPECT_EQ(kbrk_current(), b0);
	KEXPECT_EQ(kbrk_frames(), frames0);
	KEXPECT_EQ(pmm_free_frames(), f0);
	kbrk_fail_nth(1);
	KEXPECT_EQ((uint64_t)ksbrk(PAGE_SIZE), (uint64_t)-1);
	kbrk_fail_nth(0);
	KEXPECT_EQ(kbrk_current(), b0);
}

KTEST(heap, out_of_memory_and_back)
{
	/* 64 KiB blocks (below the large threshold) chained through themselves. */
	uint64_t counts[2];
	for (int round = 0; round < 2; round++) {
		void *head = NULL;
		uint64_t n = 0;
		for (void *p; (p = kmalloc(64 * 1024)) != NULL; n++) {
			*(void **)p = head;
			head = p;
		}
		counts[round] = n;
		KEXPECT_NULL(kmalloc(64 * 1024));
		expect_heap_clean();
		while (head) {
			void *next = *(void **)head;
			kfree(head);
			head = next;
		}
		kheap_trim();
	}
	printk("    # out of memory after %lu x 64 KiB, then again after %lu\n", counts[0], counts[1]);
	KEXPECT_GT(counts[0], 0);
	KEXPECT_EQ(counts[0], counts[1]);
	void *again = kmalloc(100);
	KEXPECT_NOT_NULL(again);        /* works again after the frees */
	kfree(again);
}

KTEST(heap, misuse_is_reported_and_harmless)
{
	/*
	 * keep holds p's slab run (heap.slabs=1) while stats() gives empty
	 * runs back, so that the second kfree(p) finds the run and says
	 * "double free" (of a block, the header says so either way).
	 */
	uint8_t *keep = kmalloc(48), *p = kmalloc(48);
	KASSERT(keep && p);
	kfree(p);
	struct heap_stats before = stats();
	uint64_t r0 = kheap_reports();
	char want[64];
	snprintf(want, sizeof want, "heap: double free of %p", (void *)p);
	ktest_output_reset();
	kfree(p);
	KEXPECT_STR_CONTAINS(ktest_output(), want);
	uint64_t local;
	kfree(&local);                  /* a stack address */
	KEXPECT_STR_CONTAINS(ktest_output(), "heap: invalid free of");
	uint8_t *q = kmalloc(64);
	KASSERT(q);
	kfree(q + 16);                  /* an interior pointer */
	kfree(q + 1);                   /* a misaligned one */
	KEXPECT_EQ(kheap_reports(), r0 + 4);
	kfree(q);
	struct heap_stats after = stats();
	KEXPECT_EQ(after.used_blocks, before.used_blocks);
	KEXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
	kfree(keep);
	expect_heap_clean();
}

/*
 * heap.slabs=1: small requests are objects without a header, side by side
 * in a run, and misuse of them is still caught exactly.
 */
KTEST(heap, slab_objects_have_no_header)
{
	if (!kheap()->slab_lim)
		ktest_skip("needs heap.slabs=1 at heap.debug=0");
	enum { N = 300 };
	static uint8_t *o[N];
	struct heap_stats before = stats();
	for (int i = 0; i < N; i++) {
		o[i] = kmalloc(16);
		KASSERT(o[i]);
		KEXPECT_EQ(kmalloc_usable_size(o[i]), 16);
		memset(o[i], i, 16);
	}
	/* A fresh run hands out its objects in order, 16 bytes apart: no header between them. */
	int adjacent = 0;
	for (int i = 1; i < N; i++)
		adjacent += o[i] == o[i - 1] + 16;
	KEXPECT_GT(adjacent, N / 2);
	struct heap_stats mid = stats();
	KEXPECT_EQ(mid.slab_objects, before.slab_objects + N);
	KEXPECT_GE(mid.slab_runs, before.slab_runs + 1);
	char want[80];
	kfree(o[7]);
	snprintf(want, sizeof want, "heap: double free of %p (size 16)", (void *)o[7]);
	ktest_output_reset();
	uint64_t r0 = kheap_reports();
	kfree(o[7]);
	KEXPECT_STR_CONTAINS(ktest_output(), want);
	kfree(o[8] + 8);                /* inside an object */
	KEXPECT_STR_CONTAINS(ktest_output(), "interior pointer into");
	KEXPECT_EQ(kheap_reports(), r0 + 2);
	for (int i = 0; i < N; i++) {
		if (i == 7)
			continue;
		for (int b = 0; b < 16; b++)
			KEXPECT_EQ(o[i][b], (uint8_t)i);
		kfree(o[i]);
	}
	struct heap_stats after = stats();
	KEXPECT_EQ(after.slab_objects, before.slab_objects);
	KEXPECT_EQ(after.used_blocks, before.used_blocks);
	expect_heap_clean();
}

/*
 * heap.slabs=auto (the default): small requests are blocks until
 * env.slab_after of them are in use, objects from then on; the blocks from
 * before stay blocks and free as such. The rest of the boot runs with
 * slabs on (the suites after this one, the random run included).
 */
KTEST(heap, slabs_turn_on_with_many_small_blocks)
{
	const struct heap *h = kheap();
	if (h->slab_lim || h->slab_auto_at == SIZE_MAX)
		ktest_skip("needs heap.slabs=auto (the default) at heap.debug=0, and slabs not on yet");
	size_t n = h->env.slab_after + 8192, on_at = 0;
	uint8_t **o = kmalloc(n * sizeof *o);
	KASSERT(o);
	struct heap_stats before = stats();
	for (size_t i = 0; i < n && !on_at; i++) {
		o[i] = kmalloc(24);
		KASSERT(o[i]);
		memset(o[i], (int)i, 24);
		if (h->slab_lim)
			on_at = i + 1;
	}
	if (!on_at) {
		ktest_fail_at(__FILE__, __LINE__, "%zu small blocks in use and slabs still off", n);
		for (size_t i = 0; i < n; i++)
			kfree(o[i]);
		kfree(o);
		ktest_abort();
	}
	printk("    # slabs on at small block %zu (%zu were in use before), break %lu KiB\n", on_at, before.small_blocks,
	       (kbrk_current() - kbrk_base()) >> 10);
	/* The block that made slab_after small blocks in use turned them on, and was a block itself. */
	KEXPECT_EQ(before.small_blocks + on_at, h->env.slab_after);
	KEXPECT_EQ(kmalloc_usable_size(o[on_at - 1]), 24);
	uint8_t *obj = kmalloc(24);
	KASSERT(obj);
	KEXPECT_EQ(kmalloc_usable_size(obj), 32);            /* the next one an object of class 32 */
	struct heap_stats mid = stats();
	KEXPECT_EQ(mid.slabs, 1);
	KEXPECT_EQ(mid.slab_objects, 1);
	KEXPECT_EQ(mid.small_blocks, before.small_blocks + on_at);
	kfree(obj);
	for (size_t i = 0; i < on_at; i++) {
		for (int b = 0; b < 24; b++)
			KEXPECT_EQ(o[i][b], (uint8_t)i);
		kfree(o[i]);
	}
	kfree(o);
	struct heap_stats after = stats();
	KEXPECT_EQ(after.small_blocks, before.small_blocks);
	KEXPECT_EQ(after.slab_objects, 0);
	expect_heap_clean();
}

/* --- the randomized run against a shadow model -------------------------------------- */

enum { SLOTS = 2048 };
static struct { uint8_t *p; size_t size; uint32_t id; } slot[SLOTS];

/* The pattern of block `id`: a word per 8 bytes (fast under TCG), bytes for the tail. */
static uint64_t wpat(uint32_t id, size_t i) { return (uint64_t)id * 0x9e3779b97f4a7c15ULL + i; }
static uint8_t bpat(uint32_t id, size_t i) { return (uint8_t)(id * 131 + i * 7); }

static void pattern_fill(uint8_t *p, size_t n, uint32_t id)
{
	uint64_t *w = (uint64_t *)p;            /* kmalloc pointers are 16-aligned */
	size_t words = n / 8;
	for (size_t i = 0; i < words; i++)
		w[i] = wpat(id, i);
	for (size_t i = words * 8; i < n; i++)
		p[i] = bpat(id, i);
}

/* How many of the first n bytes differ from the pattern (counted per word). */
static size_t pattern_bad(const uint8_t *p, size_t n, uint32_t id)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t words = n / 8, bad = 0;
	for (size_t i = 0; i < words; i++)
		bad += w[i] != wpat(id, i);
	for (size_t i = words * 8; i < n; i++)
		bad += p[i] != bpat(id, i);
	return bad;
}

static void shadow_fill(int s) { pattern_fill(slot[s].p, slot[s].size, slot[s].id); }

static void shadow_verify_and_free(int s)
{
	size_t bad = pattern_bad(slot[s].p, slot[s].size, slot[s].id);
	KEXPECT_MSG(bad == 0, "block %u at %p (%zu bytes): %zu words changed: an overlap or a stray write",
		    slot[s].id, slot[s].p, slot[s].size, bad);
	kfree(slot[s].p);
	slot[s].p = NULL;
}

static size_t random_size(struct rand *r)
{
	/* Log-uniform up to 64 KiB, and now and then a large block. */
	if (rand_below(r, 1000) == 0)
		return 128 * 1024 + rand_below(r, 256 * 1024);
	unsigned bits = (unsigned)rand_below(r, 17);
	return (size_t)rand_below(r, 1UL << bits) + 1;
}

KTEST(heap, random_against_shadow)
{
	uint64_t ops = 1000000;
	cmdline_get_u64("heap.ops", &ops);
	struct rand r = { ktest_seed() ^ 0x68656170 };
	uint32_t next_id = 1;
	uint64_t counts[5] = { 0 };
	memset(slot, 0, sizeof slot);
	for (uint64_t op = 0; op < ops; op++) {
		int s = (int)rand_below(&r, SLOTS);
		unsigned kind = (unsigned)rand_below(&r, 10);
		if (slot[s].p && kind < 5) {
			shadow_verify_and_free(s);
			counts[0]++;
			continue;
		}
		if (slot[s].p) {                /* realloc, keeping the old pattern prefix */
			size_t n = random_size(&r);
			uint8_t *q = krealloc(slot[s].p, n);
			if (!q)
				continue;       /* failure keeps the old block: still checked later */
			size_t keep = n < slot[s].size ? n : slot[s].size;
			size_t bad = pattern_bad(q, keep & ~(size_t)7, slot[s].id);
			KEXPECT_MSG(bad == 0, "krealloc lost %zu words of block %u", bad, slot[s].id);
			slot[s].p = q;
			slot[s].size = n;
			shadow_fill(s);
			counts[1]++;
			continue;
		}
		size_t n = random_size(&r);
		uint8_t *p;
		if (kind < 6) {
			p = kmalloc(n);
			counts[2]++;
		} else if (kind < 8) {
			p = kcalloc(1, n);
			counts[3]++;
			if (p)
				for (size_t i = 0; i < n; i += 61)
					KEXPECT_EQ(p[i], 0);
		} else {
			size_t a = 1UL << rand_below(&r, 13);
			p = kmemalign(a, n);
			counts[4]++;
			if (p)
				KEXPECT_EQ((uintptr_t)p % (a < 16 ? 16 : a), 0);
		}
		if (!p)
			continue;               /* out of memory on a small guest: allowed */
		KEXPECT_EQ((uintptr_t)p % 16, 0);
		KEXPECT_GE(kmalloc_usable_size(p), n);
		slot[s] = (typeof(slot[s])){ p, n, next_id++ };
		shadow_fill(s);
		if (op % 4096 == 0)
			expect_heap_clean();
	}
	for (int s = 0; s < SLOTS; s++)
		if (slot[s].p)
			shadow_verify_and_free(s);
	struct heap_stats st = stats();
	printk("    # %lu ops: %lu free, %lu realloc, %lu malloc, %lu calloc, %lu memalign; peak in use %zu KiB\n",
	       ops, counts[0], counts[1], counts[2], counts[3], counts[4], st.peak_in_use >> 10);
	expect_heap_clean();
}
