/*
 * tests/kernel/test_gdbcheck.c - suite "gdbcheck": known state for the GDB
 * helpers to read (tests/gdb/run, docs/gdb-paging.md). Explicit only:
 * ktest=gdbcheck runs it, ktest=all leaves it out.
 *
 * Each test sets something up, prints over serial what the kernel itself
 * computes about it (vmm_translate, heap_walk and heap_get_stats, the pmm's
 * counters, vmm_dump), and then calls gdb_checkpoint(), where a GDB session
 * stops and runs ptwalk, ptdump, heap, heapblock and pmm. The host compares
 * the two afterwards, so nothing here waits for GDB: without one attached
 * the suite simply passes. Lines the host parses start with "gdbcheck: ".
 * small_objects (checkpoint 5) holds small requests live: with heap.slabs=1
 * they are objects in slab runs (tests/gdb/run boots that way once too).
 */
#include "ktest.h"

#include "../../kernel/arch/x86_64/layout.h"
#include "../../kernel/kbrk.h"
#include "../../kernel/kheap.h"
#include "../../kernel/lib/string.h"
#include "../../kernel/pmm.h"
#include "../../kernel/printk.h"
#include "../../kernel/vmm.h"

/* What the GDB side may read by name (`ptwalk gdbcheck.heap_ptr`). */
struct gdbcheck_vars {
	void *heap_ptr;         /* a used block in the brk region */
	void *free_ptr;         /* payload address of a block that was freed */
	void *large_ptr;        /* a page-mapped large block */
	uint64_t brk_before, brk_after;
	uint64_t fault_addr;
	void *slab_ptr;         /* a live small object (a slab object with heap.slabs=1) */
	void *slab_free_ptr;    /* a small object that was freed, beside live ones */
};
struct gdbcheck_vars gdbcheck;

/*
 * Where the batch GDB stops (break gdb_checkpoint). noipa: the compiler may
 * neither inline it nor drop the call, so the breakpoint always hits and
 * `up` lands in the test with its locals.
 */
__attribute__((noipa)) void gdb_checkpoint(int id, const char *what)
{
	printk("gdbcheck: checkpoint %d %s\n", id, what);
	__asm__ volatile("" ::: "memory");
}

static void print_translation(const char *name, uint64_t va)
{
	struct vmm_translation t;
	int r = vmm_translate(va, &t);
	KEXPECT_EQ(r, 0);
	if (r)
		return;
	printk("gdbcheck: translate %s va=0x%lx pa=0x%lx frame=0x%lx level=%d rights=r%c%c\n", name, va, t.pa,
	       t.pa & ~(t.page_size - 1), t.level, t.flags & VMM_WRITE ? 'w' : '-', t.flags & VMM_EXEC ? 'x' : '-');
}

static void print_heap_stats(void)
{
	struct heap_stats st;
	kheap_stats(&st);
	printk("gdbcheck: heap_stats brk_bytes=%lu in_use_bytes=%lu free_bytes=%lu largest_free=%lu used_blocks=%lu "
	       "free_blocks=%lu large_blocks=%lu large_bytes=%lu\n", st.brk_bytes, st.in_use_bytes, st.free_bytes,
	       st.largest_free, st.used_blocks, st.free_blocks, st.large_blocks, st.large_bytes);
}

static void print_pmm_stats(void)
{
	struct buddy_stats st;
	pmm_stats(&st);
	printk("gdbcheck: pmm_stats total_frames=%lu free_frames=%lu allocated_frames=%lu reserved_frames=%lu\n",
	       st.total_frames, st.free_frames, st.allocated_frames, st.reserved_frames);
	printk("gdbcheck: pmm_free_blocks");
	for (unsigned o = 0; o <= PMM_MAX_ORDER; o++)
		printk(" %lu", st.free_blocks[o]);
	printk("\n");
}

static const char *const walk_kind[] = { "free", "used", "large" };

static void print_block(void *ctx, void *p, size_t usable, int used)
{
	(void)ctx;
	printk("gdbcheck: block 0x%lx usable=%lu %s\n", (uint64_t)p, usable, walk_kind[used]);
}

KTEST_F(gdbcheck, heap_and_frames, KTEST_EXPLICIT)
{
	char *a = kmalloc(100), *b = kmalloc(2000), *c = kmalloc(300), *d = kmalloc(5000);
	char *big = kmalloc(200 * 1024);
	KASSERT(a && b && c && d && big);
	memset(c, 0x5a, 300);
	memset(big, 0xa5, 200 * 1024);
	kfree(b);                       /* a free block between two used ones */
	gdbcheck.heap_ptr = c;
	gdbcheck.free_ptr = b;
	gdbcheck.large_ptr = big;

	print_translation("heap", (uint64_t)c);
	print_translation("large", (uint64_t)big + 4096);
	print_translation("direct", DIRECT_MAP_BASE + 0x123456);
	print_translation("text", (uint64_t)gdb_checkpoint);
	print_translation("data", (uint64_t)&gdbcheck);
	print_heap_stats();
	heap_walk(kheap(), print_block, NULL);
	print_pmm_stats();
	printk("gdbcheck: vmm_dump begin\n");
	vmm_dump(DIRECT_MAP_BASE, UINT64_MAX);
	printk("gdbcheck: vmm_dump end\n");

	gdb_checkpoint(1, "heap_and_frames");

	kfree(a);
	kfree(c);
	kfree(d);
	kfree(big);
}

KTEST_F(gdbcheck, heap_grows, KTEST_EXPLICIT)
{
	gdbcheck.brk_before = kbrk_current();
	printk("gdbcheck: brk before=0x%lx\n", gdbcheck.brk_before);
	gdb_checkpoint(2, "before_grow");

	/* More than the free space of the initial break, less than the large threshold. */
	char *p = kmalloc(100 * 1024);
	KASSERT(p);
	p[100 * 1024 - 1] = 1;
	gdbcheck.brk_after = kbrk_current();
	KEXPECT_GT(gdbcheck.brk_after, gdbcheck.brk_before);
	printk("gdbcheck: brk after=0x%lx\n", gdbcheck.brk_after);
	printk("gdbcheck: vmm_dump begin\n");
	vmm_dump(HEAP_BASE, HEAP_BASE + HEAP_SIZE);
	printk("gdbcheck: vmm_dump end\n");
	gdb_checkpoint(3, "after_grow");

	kfree(p);
}

KTEST_F(gdbcheck, fault_above_break, KTEST_EXPLICIT)
{
	/* The first page above the break is never mapped (kbrk.c). */
	uint64_t top = (kbrk_current() + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	gdbcheck.fault_addr = top + 0x18;
	printk("gdbcheck: fault_addr=0x%lx\n", gdbcheck.fault_addr);
	print_heap_stats();
	/* A GDB stopped in trap_dispatch reads ptwalk $cr2 and heap here. */
	KEXPECT_FAULT(VEC_PF, gdbcheck.fault_addr, { (void)*(volatile uint64_t *)gdbcheck.fault_addr; });
	KEXPECT_EQ(ktest_last_fault.error & PF_PRESENT, 0);
	gdb_checkpoint(4, "after_fault");
}

KTEST_F(gdbcheck, small_objects, KTEST_EXPLICIT)
{
	/* With heap.slabs=1: objects in a run of 16-byte and one of 48-byte objects; else ordinary blocks. */
	enum { N16 = 40, N48 = 3 };
	char *o16[N16], *o48[N48];
	for (int i = 0; i < N16; i++) {
		o16[i] = kmalloc(10);
		KASSERT(o16[i]);
		memset(o16[i], 0x10 + i, 10);
	}
	for (int i = 0; i < N48; i++) {
		o48[i] = kmalloc(40);
		KASSERT(o48[i]);
		memset(o48[i], 0x30 + i, 40);
	}
	gdbcheck.slab_ptr = o16[5];
	gdbcheck.slab_free_ptr = o16[4];
	for (int i = 0; i < N16; i += 4) {     /* free objects between live ones */
		kfree(o16[i]);
		o16[i] = NULL;
	}

	struct heap_stats st;
	print_heap_stats();
	kheap_stats(&st);
	printk("gdbcheck: slab_stats runs=%lu objects=%lu bytes=%lu\n", st.slab_runs, st.slab_objects, st.slab_bytes);
	printk("gdbcheck: small slab_ptr=0x%lx slab_free_ptr=0x%lx\n", (uint64_t)gdbcheck.slab_ptr,
	       (uint64_t)gdbcheck.slab_free_ptr);
	gdb_checkpoint(5, "small_objects");

	for (int i = 0; i < N16; i++)
		kfree(o16[i]);
	for (int i = 0; i < N48; i++)
		kfree(o48[i]);
}
