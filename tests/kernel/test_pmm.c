/*
 * tests/kernel/test_pmm.c - suite "pmm": the buddy page-frame allocator on
 * the real machine: alignment and contiguity per order, zeroing, exhaustion
 * and merging back, the free count against the memory map, a randomized run,
 * and the death tests (each misuse panics with the address, changes nothing).
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/layout.h"
#include "../rand.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/pmm.h"
#include "../../kernel/printk.h"

static void expect_pmm_clean(void)
{
	char why[160];
	KEXPECT_MSG(pmm_check(why, sizeof why) == 0, "pmm_check: %s", why);
}

KTEST(pmm, alloc_free_page)
{
	uint64_t before = pmm_free_frames();
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa != 0);
	KEXPECT_EQ(pa & (PAGE_SIZE - 1), 0);
	KEXPECT_EQ(pmm_free_frames(), before - 1);
	unsigned state = 99, order = 99;
	KEXPECT_EQ(pmm_frame_info(pa, &state, &order, NULL), 0);
	KEXPECT_EQ(state, BUDDY_ALLOC_HEAD);
	KEXPECT_EQ(order, 0);
	pmm_free_page(pa);
	KEXPECT_EQ(pmm_free_frames(), before);
	expect_pmm_clean();
}

KTEST(pmm, every_order_aligned_and_contiguous)
{
	for (unsigned o = 0; o <= PMM_MAX_ORDER; o++) {
		uint64_t pa = pmm_alloc(o);
		KASSERT(pa != 0);
		KEXPECT_EQ(pa % (PAGE_SIZE << o), 0);
		/* Every frame of the block belongs to it, and is real memory we can fill. */
		for (uint64_t i = 0; i < (1UL << o); i++) {
			uint64_t head = 0;
			unsigned state = 0;
			pmm_frame_info(pa + i * PAGE_SIZE, &state, NULL, &head);
			KEXPECT_EQ(head, pa);
			KEXPECT_EQ(state, BUDDY_ALLOC_HEAD);
			*(volatile uint64_t *)phys_to_virt(pa + i * PAGE_SIZE) = pa + i;
		}
		for (uint64_t i = 0; i < (1UL << o); i++)
			KEXPECT_EQ(*(volatile uint64_t *)phys_to_virt(pa + i * PAGE_SIZE), pa + i);
		pmm_free(pa, o);
	}
	expect_pmm_clean();
}

KTEST(pmm, zeroed_is_zero)
{
	/* Dirty a block, give it back, and ask for zeroed ones until we see it again. */
	uint64_t dirty = pmm_alloc(2);
	KASSERT(dirty);
	memset(phys_to_virt(dirty), 0xa5, PAGE_SIZE << 2);
	pmm_free(dirty, 2);
	uint64_t pa = pmm_alloc_zeroed(2);
	KASSERT(pa);
	KEXPECT_EQ(pa, dirty);                  /* LIFO: the same block came back */
	const uint64_t *p = phys_to_virt(pa);
	uint64_t nonzero = 0;
	for (uint64_t i = 0; i < (PAGE_SIZE << 2) / 8; i++)
		nonzero += p[i] != 0;
	KEXPECT_EQ(nonzero, 0);
	pmm_free(pa, 2);
}

/* Allocate order-0 frames until none is left, chaining them through their own
 * first word (so no list has to be allocated), then free them all. */
KTEST(pmm, exhaustion_and_merge_back)
{
	struct buddy_stats base, empty, after;
	pmm_stats(&base);
	uint64_t head = 0, count = 0;
	for (uint64_t pa; (pa = pmm_alloc(0)) != 0; count++) {
		*(uint64_t *)phys_to_virt(pa) = head;
		head = pa;
	}
	pmm_stats(&empty);
	printk("    # allocated %lu frames (%lu MiB) until pmm_alloc returned 0\n", count, count >> 8);
	KEXPECT_EQ(count, base.free_frames);
	KEXPECT_EQ(empty.free_frames, 0);
	for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
		KEXPECT_EQ(pmm_alloc(o), 0);
	while (head) {
		uint64_t next = *(uint64_t *)phys_to_virt(head);
		pmm_free(head, 0);
		head = next;
	}
	pmm_stats(&after);
	KEXPECT_EQ(after.free_frames, base.free_frames);
	for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
		KEXPECT_MSG(after.free_blocks[o] == base.free_blocks[o],
			    "order %u: %lu free blocks after, %lu before", o, after.free_blocks[o],
			    base.free_blocks[o]);
	expect_pmm_clean();
}

KTEST(pmm, exhaustion_largest_first)
{
	/* Take the biggest blocks first: every order down to 0 must come out aligned. */
	struct buddy_stats base, after;
	pmm_stats(&base);
	uint64_t heads[PMM_MAX_ORDER + 1] = { 0 }, frames = 0;
	for (int o = PMM_MAX_ORDER; o >= 0; o--) {
		for (uint64_t pa; (pa = pmm_alloc((unsigned)o)) != 0;) {
			KEXPECT_EQ(pa % (PAGE_SIZE << o), 0);
			*(uint64_t *)phys_to_virt(pa) = heads[o];
			heads[o] = pa;
			frames += 1UL << o;
		}
	}
	KEXPECT_EQ(frames, base.free_frames);
	for (int o = 0; o <= PMM_MAX_ORDER; o++)
		while (heads[o]) {
			uint64_t next = *(uint64_t *)phys_to_virt(heads[o]);
			pmm_free(heads[o], (unsigned)o);
			heads[o] = next;
		}
	pmm_stats(&after);
	KEXPECT_EQ(after.free_frames, base.free_frames);
	for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
		KEXPECT_EQ(after.free_blocks[o], base.free_blocks[o]);
}

KTEST(pmm, free_count_matches_map)
{
	const struct pmm_info *in = pmm_info();
	struct buddy_stats st;
	pmm_stats(&st);
	printk("    # map usable %lu frames - kernel took %lu = %lu; pmm free %lu + allocated %lu = %lu\n",
	       in->usable_frames, in->taken_frames, in->usable_frames - in->taken_frames, st.free_frames,
	       st.allocated_frames, st.free_frames + st.allocated_frames);
	KEXPECT_EQ(st.free_frames + st.allocated_frames, in->usable_frames - in->taken_frames);
	KEXPECT_EQ(st.total_frames, st.free_frames + st.allocated_frames + st.reserved_frames);
}

KTEST(pmm, random_against_shadow)
{
	enum { SLOTS = 256, OPS = 20000 };
	static uint64_t pa[SLOTS];
	static unsigned ord[SLOTS];
	struct rand r = { ktest_seed() ^ 0x706d6d };
	uint64_t base = pmm_free_frames();
	memset(pa, 0, sizeof pa);
	for (int op = 0; op < OPS; op++) {
		int s = (int)rand_below(&r, SLOTS);
		if (pa[s]) {
			/* The tag written at allocation is intact: nobody else got this block. */
			for (uint64_t i = 0; i < (1UL << ord[s]); i++)
				KEXPECT_EQ(*(uint64_t *)phys_to_virt(pa[s] + i * PAGE_SIZE), pa[s] ^ i ^ 0x5a5a);
			pmm_free(pa[s], ord[s]);
			pa[s] = 0;
		} else {
			ord[s] = (unsigned)rand_below(&r, 6);
			pa[s] = pmm_alloc(ord[s]);
			KASSERT(pa[s] != 0);
			KEXPECT_EQ(pa[s] % (PAGE_SIZE << ord[s]), 0);
			for (uint64_t i = 0; i < (1UL << ord[s]); i++)
				*(uint64_t *)phys_to_virt(pa[s] + i * PAGE_SIZE) = pa[s] ^ i ^ 0x5a5a;
		}
		if (op % 5000 == 0)
			expect_pmm_clean();
	}
	for (int s = 0; s < SLOTS; s++)
		if (pa[s])
			pmm_free(pa[s], ord[s]);
	KEXPECT_EQ(pmm_free_frames(), base);
	expect_pmm_clean();
}

/* --- death tests: each misuse panics with the address and changes nothing --- */

static struct buddy_stats death_before;

static void death_begin(void) { pmm_stats(&death_before); }
static void death_end(void)
{
	struct buddy_stats now;
	pmm_stats(&now);
	KEXPECT_EQ(now.free_frames, death_before.free_frames);
	KEXPECT_EQ(now.allocated_frames, death_before.allocated_frames);
	expect_pmm_clean();
}

static char hex[40];
static const char *hexs(uint64_t v) { snprintf(hex, sizeof hex, "0x%lx", v); return hex; }

KTEST(pmm, death_double_free)
{
	uint64_t pa = pmm_alloc_page();
	KASSERT(pa);
	pmm_free_page(pa);
	death_begin();
	KEXPECT_PANIC("double free of frame", pmm_free_page(pa));
	KEXPECT_STR_CONTAINS(ktest_last_panic, hexs(pa));
	death_end();
}

KTEST(pmm, death_double_free_inside_free_block)
{
	uint64_t pa = pmm_alloc(3);
	KASSERT(pa);
	pmm_free(pa, 3);
	death_begin();
	KEXPECT_PANIC("double free", pmm_free_page(pa + 2 * PAGE_SIZE));
	KEXPECT_STR_CONTAINS(ktest_last_panic, hexs(pa + 2 * PAGE_SIZE));
	death_end();
}

KTEST(pmm, death_reserved_frame)
{
	uint64_t kernel_pa = 0x100000;          /* the kernel image: reserved */
	death_begin();
	KEXPECT_PANIC("reserved frame", pmm_free_page(kernel_pa));
	KEXPECT_STR_CONTAINS(ktest_last_panic, hexs(kernel_pa));
	death_end();
}

KTEST(pmm, death_outside_ram)
{
	uint64_t far = 0x40000000000UL;         /* 4 TiB: no guest here has RAM there */
	death_begin();
	KEXPECT_PANIC("outside RAM", pmm_free_page(far));
	KEXPECT_STR_CONTAINS(ktest_last_panic, hexs(far));
	death_end();
}

KTEST(pmm, death_misaligned)
{
	uint64_t pa = pmm_alloc(1);
	KASSERT(pa);
	death_begin();
	KEXPECT_PANIC("misaligned", pmm_free(pa + 0x800, 0));
	KEXPECT_STR_CONTAINS(ktest_last_panic, hexs(pa + 0x800));
	KEXPECT_PANIC("misaligned", pmm_free(pa + PAGE_SIZE, 1));
	death_end();
	pmm_free(pa, 1);
}

KTEST(pmm, death_wrong_order)
{
	uint64_t pa = pmm_alloc(2);
	KASSERT(pa);
	death_begin();
	KEXPECT_PANIC("but it was allocated with order 2", pmm_free(pa, 0));
	KEXPECT_STR_CONTAINS(ktest_last_panic, hexs(pa));
	KEXPECT_PANIC("inside the order-2 block allocated at", pmm_free(pa + PAGE_SIZE, 0));
	death_end();
	pmm_free(pa, 2);
}

KTEST(pmm, dump_lists_every_order)
{
	ktest_output_reset();
	pmm_dump();
	const char *out = ktest_output();
	KEXPECT_STR_CONTAINS(out, "order  0 (   4 KiB):");
	KEXPECT_STR_CONTAINS(out, "order 10 (   4 MiB):");
	char want[64];
	struct buddy_stats st;
	pmm_stats(&st);
	snprintf(want, sizeof want, "%lu free", st.free_frames);
	KEXPECT_STR_CONTAINS(out, want);
}
