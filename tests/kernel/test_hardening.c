/*
 * tests/kernel/test_hardening.c - suite "hardening": every misuse of kmalloc
 * and the pmm that docs/hardening.md lists, provoked on purpose, its report
 * line matched, and the heap checked clean afterwards; and the fault
 * injection sweeps that prove heap growth and page-table building fail
 * cleanly wherever a frame runs out.
 *
 * Run it as `ktest=hardening heap.debug=2` to see every misuse caught: the
 * tests that need a debug level skip themselves below it (double and
 * invalid frees, header damage, freed pointers to realloc, pmm/heap mixups
 * and the sweeps are caught at every level).
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/layout.h"
#include "../../kernel/arch/x86_64/paging.h"
#include "../../kernel/kbrk.h"
#include "../../kernel/kheap.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/pmm.h"
#include "../../kernel/printk.h"
#include "../../kernel/vmm.h"

/* "allocated at" / "freed at" name the test function itself. */
#define SITE(test) "ktest_fn_hardening_" #test "+0x"

static void expect_heap_clean(void)
{
	char why[200];
	KEXPECT_MSG(kheap_check(why, sizeof why) == 0, "heap_check: %s", why);
}

/* heap_check must fail now, saying want. */
static void expect_check_finds(const char *want)
{
	char why[200];
	KEXPECT_MSG(kheap_check(why, sizeof why) != 0, "heap_check found nothing; expected \"%s\"", want);
	KEXPECT_STR_CONTAINS(why, want);
	printk("    # found: %s\n", why);
}

static void need_level(unsigned level)
{
	if (kheap_debug() < level)
		ktest_skip(level == 1 ? "needs heap.debug=1 or 2" : "needs heap.debug=2");
}

/* "<what>0x... (size N" as the reports write it. */
static const char *block(const char *what, const void *p, size_t size)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s%p (size %zu", what, p, size);
	return buf;
}

static const char *addr(const char *what, const void *p)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s%p", what, p);
	return buf;
}

/* --- double and invalid frees: caught at every level ------------------------- */

KTEST(hardening, double_free_at_once)
{
	uint8_t *p = kmalloc(48);
	KASSERT(p);
	kfree(p);
	uint64_t r0 = kheap_reports();
	ktest_output_reset();
	kfree(p);
	KEXPECT_EQ(kheap_reports(), r0 + 1);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: double free of ", p));
	if (kheap_debug()) {
		KEXPECT_STR_CONTAINS(ktest_output(), block("heap: double free of ", p, 48));
		KEXPECT_STR_CONTAINS(ktest_output(), ", allocated at " SITE(double_free_at_once));
		KEXPECT_STR_CONTAINS(ktest_output(), ", freed at " SITE(double_free_at_once));
	}
	expect_heap_clean();
}

KTEST(hardening, double_free_delayed)
{
	uint8_t *p = kmalloc(48), *q = kmalloc(48), *wall = kmalloc(16);
	KASSERT(p && q && wall);
	kfree(p);
	kfree(q);               /* merges with p below heap.debug=2 */
	ktest_output_reset();
	kfree(p);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: double free of ", p));
	if (kheap_debug())
		KEXPECT_STR_CONTAINS(ktest_output(), block("heap: double free of ", p, 48));
	kfree(wall);
	expect_heap_clean();
}

KTEST(hardening, invalid_free_interior_and_misaligned)
{
	uint8_t *p = kmalloc(64);
	KASSERT(p);
	char into[96];
	snprintf(into, sizeof into, "(interior pointer into %p size ", p);
	ktest_output_reset();
	kfree(p + 16);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", p + 16));
	KEXPECT_STR_CONTAINS(ktest_output(), into);
	kfree(p + 1);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", p + 1));
	if (kheap_debug())
		KEXPECT_STR_CONTAINS(ktest_output(), "size 64, allocated at " SITE(invalid_free_interior_and_misaligned));
	expect_heap_clean();
	kfree(p);
	expect_heap_clean();
}

static uint8_t static_bytes[64] __attribute__((aligned(16)));

KTEST(hardening, invalid_free_stack_static_and_unallocated)
{
	uint8_t stack_bytes[64] __attribute__((aligned(16)));
	uint64_t r0 = kheap_reports();
	ktest_output_reset();
	kfree(stack_bytes);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", stack_bytes));
	KEXPECT_STR_CONTAINS(ktest_output(), "(not a block the heap returned: outside the heap) (the boot stack");
	kfree(static_bytes);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", static_bytes));
	KEXPECT_STR_CONTAINS(ktest_output(), "(kernel bss");
	/* Inside the heap window but above the break: never handed out, and never read. */
	uint8_t *above = (uint8_t *)(kbrk_current() + 16 * PAGE_SIZE);
	kfree(above);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", above));
	KEXPECT_STR_CONTAINS(ktest_output(), "above the break");
	/* Below the break, in memory no block holds. */
	uint8_t *below = (uint8_t *)((kbrk_current() - 4 * 64) & ~(uint64_t)15);
	kfree(below);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", below));
	KEXPECT_EQ(kheap_reports(), r0 + 4);
	(void)stack_bytes[0];
	expect_heap_clean();
}

/* --- the pmm and the heap told apart ------------------------------------------ */

KTEST(hardening, kfree_of_a_pmm_page)
{
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	void *va = phys_to_virt(pa);
	ktest_output_reset();
	kfree(va);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: invalid free of ", va));
	KEXPECT_STR_CONTAINS(ktest_output(), "(a page from the pmm? use pmm_free)");
	pmm_free_page(pa);
	expect_heap_clean();
}

/* The frames of the page tables are tagged: a pmm_free of one is refused, naming them. */
KTEST(hardening, pmm_free_of_a_page_table)
{
	uint64_t root = vmm_root();
	KEXPECT_EQ(pmm_owner(root), PMM_OWNER_PAGETABLE);
	uint64_t free0 = pmm_free_frames(), tables0 = vmm_table_frames();
	KEXPECT_PANIC("belongs to the page tables", pmm_free_page(root));
	KEXPECT_STR_CONTAINS(ktest_last_panic, "pmm_free: frame ");
	/* The tables a mapping makes are tagged too, and refused the same way while they live. */
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	KASSERT(vmm_map(VMM_TEST_BASE, pa, 1, VMM_WRITE) == 0);   /* nothing else maps this window */
	uint64_t made = vmm_table_frames() - tables0;
	KEXPECT_GT(made, 0);
	KEXPECT_EQ(pmm_free_frames(), free0 - 1 - made);
	const pte_t *pml4 = phys_to_virt(root);
	uint64_t pdpt = pml4[PT_INDEX(VMM_TEST_BASE, LVL_PML4)] & PTE_ADDR;
	KEXPECT_EQ(pmm_owner(pdpt), PMM_OWNER_PAGETABLE);
	KEXPECT_PANIC("belongs to the page tables", pmm_free_page(pdpt));
	/* vmm_unmap gives them back as their owner: every frame returns. */
	KASSERT(vmm_unmap(VMM_TEST_BASE, 1) == 0);
	pmm_free_page(pa);
	KEXPECT_EQ(vmm_table_frames(), tables0);
	KEXPECT_EQ(pmm_free_frames(), free0);
	char why[160];
	KEXPECT_MSG(pmm_check(why, sizeof why) == 0, "pmm_check: %s", why);
}

KTEST(hardening, pmm_free_of_kmalloc_memory)
{
	uint8_t *p = kmalloc(100), *big = kmalloc(200 * 1024);
	KASSERT(p && big);
	struct vmm_translation t;
	KASSERT(vmm_translate((uint64_t)p, &t) == 0);
	uint64_t frame = t.pa & ~(PAGE_SIZE - 1);
	KEXPECT_EQ(pmm_owner(frame), PMM_OWNER_HEAP);
	uint64_t free0 = pmm_free_frames();
	KEXPECT_PANIC("belongs to the kernel heap (kmalloc memory? use kfree)", pmm_free_page(frame));
	KEXPECT_STR_CONTAINS(ktest_last_panic, "pmm_free: frame ");
	KASSERT(vmm_translate((uint64_t)big, &t) == 0);
	KEXPECT_PANIC("belongs to the kernel heap", pmm_free_page(t.pa & ~(PAGE_SIZE - 1)));
	/* The pointer itself where a physical address belongs. */
	KEXPECT_PANIC("is a kmalloc pointer", pmm_free_page((uint64_t)p & ~(PAGE_SIZE - 1)));
	KEXPECT_EQ(pmm_free_frames(), free0);   /* nothing was freed */
	memset(p, 1, 100);                      /* and the memory is still ours */
	kfree(p);
	kfree(big);
	expect_heap_clean();
	char why[160];
	KEXPECT_MSG(pmm_check(why, sizeof why) == 0, "pmm_check: %s", why);
}

/* --- overflow and underflow: the canaries (heap.debug >= 1) ------------------- */

static void overflow_case(uint8_t *p, size_t size, size_t by, const char *site)
{
	char at[48];
	KASSERT(p);
	snprintf(at, sizeof at, "): canary at +%zu overwritten (allocated at ", size);
	expect_heap_clean();
	memset(p + size, 0, by);
	expect_check_finds(block("heap_check: overflow past ", p, size));
	expect_check_finds(at);
	ktest_output_reset();
	uint64_t r0 = kheap_reports();
	kfree(p);               /* reported, and freed all the same */
	KEXPECT_EQ(kheap_reports(), r0 + 1);
	KEXPECT_STR_CONTAINS(ktest_output(), block("heap: overflow past ", p, size));
	KEXPECT_STR_CONTAINS(ktest_output(), at);
	KEXPECT_STR_CONTAINS(ktest_output(), site);
	expect_heap_clean();
}

KTEST(hardening, overflow_by_1)
{
	need_level(1);
	overflow_case(kmalloc(48), 48, 1, SITE(overflow_by_1));
	overflow_case(kmalloc(37), 37, 1, SITE(overflow_by_1));
}

KTEST(hardening, overflow_by_8)
{
	need_level(1);
	overflow_case(kmalloc(48), 48, 8, SITE(overflow_by_8));
	overflow_case(kmalloc(150000), 150000, 8, SITE(overflow_by_8));   /* a large block */
}

KTEST(hardening, underflow_into_the_canary)
{
	need_level(1);
	uint8_t *p = kmalloc(48);
	KASSERT(p);
	p[-1] ^= 0xff;   /* changed whatever the random canary held */
	expect_check_finds(block("heap_check: underflow below ", p, 48));
	expect_check_finds("canary at -1 overwritten");
	ktest_output_reset();
	kfree(p);
	KEXPECT_STR_CONTAINS(ktest_output(), block("heap: underflow below ", p, 48));
	KEXPECT_STR_CONTAINS(ktest_output(), "canary at -1 overwritten (allocated at " SITE(underflow_into_the_canary));
	expect_heap_clean();
}

/*
 * The header word itself (every level): its check tag no longer fits. 80
 * bytes: past HEAP_SLAB_MAX, so a block with a header with heap.slabs=1 too.
 */
KTEST(hardening, underflow_into_the_header)
{
	uint8_t *p = kmalloc(80), *q = kmalloc(80);
	KASSERT(p && q);
	uint64_t *hdr = (uint64_t *)(q - HEAP_OVERHEAD - (kheap_debug() ? HEAP_DBG_HEAD : 0));
	uint64_t saved = *hdr;
	*hdr ^= 0x4141000000000000ull;          /* what a string running backwards might do */
	expect_check_finds("bad check tag");
	ktest_output_reset();
	kfree(q);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: underflow into the header of ", q));
	*hdr = saved;                           /* undo, so the block can go */
	expect_heap_clean();
	kfree(q);
	kfree(p);
	expect_heap_clean();
}

/* --- use after free: poison (heap.debug >= 1) ---------------------------------- */

KTEST(hardening, write_after_free)
{
	need_level(1);
	uint8_t *a = kmalloc(48), *b = kmalloc(48), *c = kmalloc(48);
	KASSERT(a && b && c);
	kfree(b);               /* between two used blocks: a block of its own */
	expect_heap_clean();
	b[8] = 'x';
	expect_check_finds(block("heap_check: write after free in ", b, 48));
	expect_check_finds("poison changed at +8");
	expect_check_finds(", freed at " SITE(write_after_free));
	ktest_output_reset();
	uint8_t *again = NULL;
	if (kheap_debug() == 1) {
		again = kmalloc(48);    /* b again: its poison is verified as it goes out */
		KEXPECT_EQ(again, b);
	} else {
		KEXPECT_EQ(kheap_flush_quarantine(), 1);   /* verified as it leaves the quarantine */
	}
	KEXPECT_STR_CONTAINS(ktest_output(), block("heap: write after free in ", b, 48));
	KEXPECT_STR_CONTAINS(ktest_output(), "poison changed at +8");
	expect_heap_clean();
	kfree(again);
	kfree(a);
	kfree(c);
	expect_heap_clean();
}

KTEST(hardening, read_after_free_sees_poison)
{
	need_level(1);
	uint8_t *p = kmalloc(100), *wall = kmalloc(16);
	KASSERT(p && wall);
	memset(p, 'A', 100);
	kfree(p);
	size_t poison = 0;
	for (int i = 0; i < 100; i++)
		poison += ((volatile uint8_t *)p)[i] == HEAP_POISON_BYTE;
	KEXPECT_EQ(poison, 100);
	kfree(wall);
}

KTEST(hardening, realloc_and_usable_size_of_freed)
{
	uint8_t *p = kmalloc(48), *wall = kmalloc(16);
	KASSERT(p && wall);
	kfree(p);
	ktest_output_reset();
	KEXPECT_NULL(krealloc(p, 100));
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: realloc of ", p));
	KEXPECT_STR_CONTAINS(ktest_output(), "(a freed block");
	KEXPECT_EQ(kmalloc_usable_size(p), 0);
	KEXPECT_STR_CONTAINS(ktest_output(), addr("heap: usable_size of ", p));
	if (kheap_debug()) {
		KEXPECT_STR_CONTAINS(ktest_output(), "(a freed block: size 48, allocated at " SITE(realloc_and_usable_size_of_freed));
		KEXPECT_STR_CONTAINS(ktest_output(), "); called at " SITE(realloc_and_usable_size_of_freed));
	}
	kfree(wall);
	expect_heap_clean();
}

/* --- the quarantine (heap.debug = 2) ------------------------------------------- */

KTEST(hardening, quarantine_delays_reuse)
{
	need_level(2);
	struct heap_stats st;
	uint8_t *first = kmalloc(100);
	KASSERT(first);
	kfree(first);
	size_t budget = kheap()->env.quarantine_bytes, reused = 0, rounds = 0;
	/* Blocks of 100 bytes take 176 with the record and canary: the budget holds this many. */
	size_t holds = budget / 176;
	/*
	 * Unless memory runs out first (heap.quarantine bigger than the RAM
	 * left): then an allocation empties the quarantine rather than fail,
	 * so the first block waits only while half the free memory lasts.
	 */
	size_t fits = (size_t)(pmm_free_frames() * 4096 / 2) / 176;
	if (fits < holds) {
		printk("    # heap.quarantine=%zu KiB is more than the memory left: checking %zu frees, not %zu\n",
		       budget >> 10, fits, holds);
		holds = fits;
	}
	for (; rounds < holds - 1; rounds++) {
		uint8_t *p = kmalloc(100);
		KASSERT(p);
		reused += p == first;
		kfree(p);
	}
	KEXPECT_EQ(reused, 0);
	kheap_stats(&st);
	KEXPECT_LE(st.quarantine_bytes, budget);
	KEXPECT_GT(st.quarantine_blocks, holds / 2);
	if (fits < budget / 176) {
		/* Past the memory there is: every kmalloc still succeeds, the quarantine given back as needed. */
		for (size_t i = 0; i < 3 * fits; i++) {
			uint8_t *p = kmalloc(100);
			KASSERT(p);
			kfree(p);
		}
	}
	printk("    # %zu frees later the first block still waits (%zu blocks, %zu KiB in the quarantine)\n", rounds,
	       st.quarantine_blocks, st.quarantine_bytes >> 10);
	/* A double free of a waiting block is still caught. */
	uint8_t *w = kmalloc(64);
	KASSERT(w);
	kfree(w);
	ktest_output_reset();
	kfree(w);
	KEXPECT_STR_CONTAINS(ktest_output(), block("heap: double free of ", w, 64));
	expect_heap_clean();
	kheap_flush_quarantine();
	kheap_stats(&st);
	KEXPECT_EQ(st.quarantine_blocks, 0);
	expect_heap_clean();
}

/* --- leaks (heap.debug >= 1) ------------------------------------------------------ */

KTEST(hardening, leaks_are_listed_with_their_site)
{
	need_level(1);
	uint64_t since = kheap()->alloc_seq;
	uint8_t *p = kmalloc(77);
	KASSERT(p);
	ktest_output_reset();
	KEXPECT_EQ(kheap_print_leaks(since, 4), 1);
	KEXPECT_STR_CONTAINS(ktest_output(), block("leak: ", p, 77));
	KEXPECT_STR_CONTAINS(ktest_output(), "allocated at " SITE(leaks_are_listed_with_their_site));
	kfree(p);
	KEXPECT_EQ(kheap_print_leaks(since, 4), 0);
}

/* --- fault injection: every frame that growth needs, failing in turn ------------- */

struct baseline {
	uint64_t free_frames, tables, brk, reports;
	struct heap_stats st;
};

static void take_baseline(struct baseline *b)
{
	kheap_trim();
	b->free_frames = pmm_free_frames();
	b->tables = vmm_table_frames();
	b->brk = kbrk_current();
	b->reports = kheap_reports();
	kheap_stats(&b->st);
}

/* After a failed call: nothing may have changed, anywhere. */
static bool same_as(const struct baseline *b, uint64_t n)
{
	struct heap_stats st;
	char why[200];
	kheap_stats(&st);
	bool ok = pmm_free_frames() == b->free_frames && vmm_table_frames() == b->tables &&
		  kbrk_current() == b->brk && kheap_reports() == b->reports &&
		  memcmp(&st, &b->st, sizeof st) == 0 && kheap_check(why, sizeof why) == 0;
	KEXPECT_MSG(ok, "failure %lu left a trace: free frames %lu (was %lu), tables %lu (was %lu), break 0x%lx "
		    "(was 0x%lx)", n, pmm_free_frames(), b->free_frames, vmm_table_frames(), b->tables,
		    kbrk_current(), b->brk);
	return ok;
}

/*
 * Runs alloc with the nth frame allocation failing, n = 1, 2, ... until a
 * run gets through: every failing run must return NULL and leave no trace.
 * Returns what the successful run gave; *fails is how many runs failed.
 */
static void *sweep(void *(*alloc)(void), uint64_t *fails)
{
	struct baseline b;
	take_baseline(&b);
	for (uint64_t n = 1; n < 100000; n++) {
		pmm_fail_nth(n);
		void *p = alloc();
		pmm_fail_nth(0);
		if (p) {
			*fails = n - 1;
			return p;
		}
		if (!same_as(&b, n))
			break;
	}
	*fails = 0;
	return NULL;
}

/* 100 bytes aligned to 2 MiB: the break grows by 2 MiB and across a page table. */
static void *grow_across_a_table(void) { return kmemalign(2UL << 20, 100); }
static void *large_block(void) { return kmalloc(300 * 1024); }

KTEST(hardening, fault_sweep_heap_growth)
{
	uint64_t fails, tables0 = vmm_table_frames(), brk0 = kbrk_current();
	void *p = sweep(grow_across_a_table, &fails);
	KASSERT(p);
	printk("    # growing the break by %lu KiB failed cleanly at each of its %lu frame allocations\n",
	       (kbrk_current() - brk0) >> 10, fails);
	KEXPECT_GT(vmm_table_frames(), tables0);         /* the sweep went through building a table */
	KEXPECT_GT(fails, (2UL << 20) / PAGE_SIZE - 32);  /* ... and through every page of the growth */
	kfree(p);
	/* And the heap's own refusal to grow. */
	struct baseline b;
	take_baseline(&b);
	kbrk_fail_nth(1);
	KEXPECT_NULL(grow_across_a_table());
	kbrk_fail_nth(0);
	same_as(&b, 0);
}

KTEST(hardening, fault_sweep_large_block)
{
	uint64_t fails;
	void *p = sweep(large_block, &fails);
	KASSERT(p);
	printk("    # a 300 KiB block failed cleanly at each of its %lu frame allocations\n", fails);
	KEXPECT_GE(fails, 300 * 1024 / PAGE_SIZE);
	memset(p, 1, 300 * 1024);
	kfree(p);
}

/*
 * Leaks a block on purpose, so that the runner's leak check can be seen to
 * fail it. A suite of its own, run only when named
 * (ktest=hardening_selfcheck.leak_on_purpose heap.debug=1): the failure then
 * lists the block and this function.
 */
KTEST_F(hardening_selfcheck, leak_on_purpose, KTEST_EXPLICIT)
{
	void *p = kmalloc(40);
	KASSERT(p);
	memset(p, 0, 40);
}

/* --- sampled guard pages (heap.sample=N, level 0; alloc/heap.h "sample") ----- */

KTEST(hardening, sampled_block_meets_a_guard_page)
{
	if (!kheap()->sample_left)
		ktest_skip("needs heap.sample=N at heap.debug=0");
	enum { TRIES = 256 };
	static uint8_t *p[TRIES];
	uint8_t *s = NULL;
	int n = 0;
	/* With heap.slabs=1 a request of up to 64 bytes is a slab object, which is never sampled. */
	size_t ask = kheap()->slab_lim ? 100 : 40;
	/* Nothing freed in between, so none of these comes from the front cache. */
	for (; n < TRIES && !s; n++) {
		p[n] = kmalloc(ask);
		KASSERT(p[n]);
		if ((uint64_t)p[n] >= LARGE_BASE)
			s = p[n];
	}
	KASSERT(s);
	size_t u = kmalloc_usable_size(s);
	KEXPECT_EQ(u, (ask + 15) & ~(size_t)15);        /* rounded up to 16 */
	KEXPECT_EQ(((uint64_t)s + u) % PAGE_SIZE, 0);
	memset(s, 0x77, u);                             /* every usable byte is writable */
	KEXPECT_FAULT(VEC_PF, (uint64_t)s + u, { *(volatile uint8_t *)(s + u) = 1; });   /* one past: the guard */
	kfree(s);
	KEXPECT_FAULT(VEC_PF, (uint64_t)s, { (void)*(volatile uint8_t *)s; });         /* freed: unmapped */
	for (int i = 0; i < n; i++)
		if (p[i] != s)
			kfree(p[i]);
	expect_heap_clean();
}
