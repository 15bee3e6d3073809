/*
 * kernel/kheap.c - binds the heap core to the kernel (see kheap.h): its
 * break is kbrk, its large runs come from klarge, its misuse reports go to
 * the console, and the addresses in them are named from the kernel's symbol
 * table ("allocated at foo+0x1c"): each wrapper hands the core its own
 * caller, so reports name the code that called kmalloc, not kmalloc.
 */
#include "kheap.h"

#include "arch/x86_64/layout.h"
#include "cmdline.h"
#include "kbrk.h"
#include "lib/string.h"
#include "klarge.h"
#include "panic.h"
#include "pmm.h"
#include "printk.h"
#include "vmm.h"

static struct heap heap;
static uint64_t reports;
/*
 * Non-zero while the pmm must not call back into the heap (kheap_reclaim):
 * inside ksbrk, which a trim would re-enter, and inside any environment
 * call at the debug levels, whose code may be in the middle of moving a
 * block. At level 0 the heap is consistent when it maps or remaps a large
 * run (alloc/heap.h), so a large kmalloc under pressure can get the pages
 * the heap retains.
 */
static unsigned no_reclaim;

static void *env_sbrk(void *ctx, intptr_t delta)
{
	(void)ctx;
	no_reclaim++;
	void *old = ksbrk(delta);
	no_reclaim--;
	return old;
}

static void *env_map(void *ctx, size_t bytes)
{
	(void)ctx;
	no_reclaim += heap.debug != 0;
	void *p = klarge_map(bytes);
	no_reclaim -= heap.debug != 0;
	return p;
}

static void env_unmap(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	klarge_unmap(p, bytes);         /* frees frames, never allocates */
}

static void *env_remap(void *ctx, void *p, size_t old_bytes, size_t new_bytes)
{
	(void)ctx;
	no_reclaim += heap.debug != 0;
	void *q = klarge_remap(p, old_bytes, new_bytes);
	no_reclaim -= heap.debug != 0;
	return q;
}

/*
 * The pmm's reclaim hook: when it runs out of frames, the heap gives back
 * the free pages at the top of its break, including those it keeps mapped
 * because it needed them again after a trim (heap.h "trim"). 0 when it may
 * not (see no_reclaim) or has nothing to give.
 */
size_t kheap_reclaim(void)
{
	if (no_reclaim || !HEAP_MAGIC_OK(heap.magic))
		return 0;
	size_t given = heap_trim(&heap);
	if (given)
		printk("heap: the pmm ran short: gave back %zu KiB of free heap pages\n", given >> 10);
	return given;
}

static void env_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	(void)ctx, (void)kind, (void)addr;
	reports++;
	printk("%s\n", line);
}

/* What a pointer outside the heap is, for "heap: invalid free of ..." lines. */
static void env_describe(void *ctx, uintptr_t addr, char *buf, size_t size)
{
	(void)ctx;
	if (addr >= DIRECT_MAP_BASE && addr < DIRECT_MAP_BASE + DIRECT_MAP_SIZE)
		snprintf(buf, size, "a page from the pmm? use pmm_free");
	else
		vmm_describe_region(addr, buf, size);
}

/*
 * heap.slabs: 0 (never), 1 (from boot) or auto (the default: once the heap
 * holds many small blocks). Anything else is reported and the default kept.
 */
static uint32_t slabs_from_cmdline(void)
{
	char word[24];
	uint64_t n;

	if (!cmdline_get("heap.slabs", word, sizeof word) || strcmp(word, "auto") == 0)
		return HEAP_SLABS_AUTO;
	/* A value that filled word was cut short: never read its prefix as 0 or 1. */
	if (strlen(word) < sizeof word - 1 && parse_u64(word, &n) && n <= 1)
		return n ? HEAP_SLABS_ON : HEAP_SLABS_OFF;
	printk("heap: heap.slabs=%s%s is not 0, 1 or auto: auto kept\n", word,
	       strlen(word) < sizeof word - 1 ? "" : "...");
	return HEAP_SLABS_AUTO;
}

void kheap_init(void)
{
	uint64_t level = 0, quarantine = 0, sample = 0;
	uint32_t slabs = slabs_from_cmdline();
	cmdline_get_u64("heap.debug", &level);
	cmdline_get_u64("heap.quarantine", &quarantine);
	cmdline_get_u64("heap.sample", &sample);
	if (level > HEAP_DEBUG_MAX)
		panic("kheap_init: heap.debug=%lu, but the levels are 0 to %u", level, HEAP_DEBUG_MAX);
	struct heap_env env = {
		.sbrk = env_sbrk,
		.map_pages = env_map,
		.unmap_pages = env_unmap,
		.remap_pages = env_remap,
		.report = env_report,
		.page_size = PAGE_SIZE,
		.debug = (uint32_t)level,
		.quarantine_bytes = quarantine,
		.sample_every = sample,
		.describe_addr = env_describe,
		.slabs = slabs,
	};
	if (heap_init(&heap, &env))
		panic("kheap_init: the heap could not take its first %u KiB", HEAP_DEFAULT_GROW_BYTES >> 10);
	pmm_set_reclaim(kheap_reclaim);
	printk("heap: break at 0x%lx (+%lu KiB), large runs from 0x%lx; blocks >= %u KiB are page-mapped\n",
	       kbrk_base(), (kbrk_current() - kbrk_base()) >> 10, LARGE_BASE, HEAP_DEFAULT_LARGE_THRESHOLD >> 10);
	if (level)
		printk("heap: debug level %lu: canaries, poison (0x%x), records of who allocated and freed%s\n",
		       level, HEAP_POISON_BYTE, level >= 2 ? ", quarantine" : "");
	if (level >= 2)
		printk("heap: quarantine holds up to %zu KiB of freed blocks before they are reused\n",
		       heap.env.quarantine_bytes >> 10);
	if (heap.slab_lim)
		printk("heap: slabs: requests of up to %u bytes are objects without a header, in runs of %u KiB\n",
		       HEAP_SLAB_MAX, HEAP_SLAB_RUN >> 10);
	else if (heap.slab_auto_at != SIZE_MAX)
		printk("heap: slabs: auto, on once %zu blocks of up to %u bytes are in use\n",
		       heap.env.slab_after, HEAP_SMALL_BLOCK);
	else if (slabs == HEAP_SLABS_ON)
		printk("heap: heap.slabs=1 ignored: the debug levels give every block a header\n");
	if (heap.sample_left)
		printk("heap: sampling: 1 in %lu of the blocks the front cache does not serve gets a guarded page\n",
		       sample);
	else if (sample)
		printk("heap: heap.sample=%lu ignored: the debug levels guard every block their own way\n", sample);
}

void *kmalloc(size_t size) { return heap_malloc_at(&heap, size, HEAP_CALLER()); }
void kfree(void *p) { heap_free_at(&heap, p, HEAP_CALLER()); }
void *kcalloc(size_t n, size_t size) { return heap_calloc_at(&heap, n, size, HEAP_CALLER()); }
void *krealloc(void *p, size_t size) { return heap_realloc_at(&heap, p, size, HEAP_CALLER()); }
void *kmemalign(size_t align, size_t size) { return heap_memalign_at(&heap, align, size, HEAP_CALLER()); }
size_t kmalloc_usable_size(void *p) { return heap_usable_size_at(&heap, p, HEAP_CALLER()); }

struct heap *kheap(void) { return &heap; }
void kheap_stats(struct heap_stats *st) { heap_get_stats(&heap, st); }
int kheap_check(char *why, size_t len) { return heap_check(&heap, why, len); }
size_t kheap_trim(void) { return heap_trim(&heap); }
uint64_t kheap_reports(void) { return reports; }
unsigned kheap_debug(void) { return heap.debug; }
size_t kheap_flush_quarantine(void) { return heap_flush_quarantine(&heap); }

struct leak_print {
	uint64_t since;
	size_t found, max;
};

static void print_leak(void *ctx, const struct heap_block_info *b)
{
	struct leak_print *lp = ctx;
	char where[96];

	if (b->seq <= lp->since)
		return;
	if (lp->found++ < lp->max) {
		alloc_describe_pc(b->alloc_pc, where, sizeof where);
		printk("    # leak: %p (size %zu%s, allocated at %s)\n", b->ptr, b->size, b->large ? ", large" : "",
		       where);
	}
}

size_t kheap_print_leaks(uint64_t since, size_t max)
{
	struct leak_print lp = { since, 0, max };
	if (!heap.debug)
		return 0;
	heap_leaks(&heap, print_leak, &lp);
	if (lp.found > max)
		printk("    # ... and %zu more\n", lp.found - max);
	return lp.found;
}
