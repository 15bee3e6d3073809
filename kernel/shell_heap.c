/*
 * kernel/shell_heap.c - the prompt's kmalloc commands: alloc, free, realloc,
 * heap (statistics) and heapmap (every block, a character map of the break,
 * and the machine-readable dump for tools/memviz).
 *
 * The prompt remembers the blocks it handed out. free and realloc of one of
 * those, or of an address that is no live block at all (a bogus pointer, a
 * double free), go straight to the heap, whose misuse report is the answer.
 * A live block the prompt did not hand out belongs to the kernel: freeing it
 * would plant a use-after-free in the kernel, so the prompt refuses.
 */
#include "shell.h"

#include "kbrk.h"
#include "kheap.h"
#include "lib/string.h"
#include "pmm.h"
#include "printk.h"

#define TRACK_MAX   4096        /* blocks the prompt can have out at once */
#define ALLOC_COUNT_MAX 1024
#define HEAP_LIST_SHORT 8       /* blocks `heap` lists */
#define MAP_COLS    64
#define MAP_CELLS   (MAP_COLS * 16)

static uintptr_t tracked[TRACK_MAX];
static size_t ntracked;

static long track_find(uintptr_t p)
{
	for (size_t i = 0; i < ntracked; i++)
		if (tracked[i] == p)
			return (long)i;
	return -1;
}

static void untrack(long i) { tracked[i] = tracked[--ntracked]; }

size_t shell_live_blocks(void) { return ntracked; }

/* --- is p a live block? (heap_walk, which never faults) --------------------- */

struct find { uintptr_t p; bool live; };

static void find_cb(void *ctx, void *ptr, size_t size, int used)
{
	(void)size;
	struct find *f = ctx;
	if ((uintptr_t)ptr == f->p && (used == HEAP_WALK_USED || used == HEAP_WALK_LARGE))
		f->live = true;         /* free and quarantined blocks are not live */
}

static bool heap_live(uintptr_t p)
{
	struct find f = { p, false };
	heap_walk(kheap(), find_cb, &f);
	return f.live;
}

static bool kernel_owned(const char *cmd, uintptr_t p)
{
	if (track_find(p) >= 0 || !heap_live(p))
		return false;
	printk("%s: 0x%lx is a live block the kernel allocated, not one from alloc at this prompt: left alone\n",
	       cmd, (unsigned long)p);
	return true;
}

/* After a call that may have reported misuse: say that the report was the answer. */
static void note_reports(const char *cmd, uint64_t before)
{
	if (kheap_reports() != before)
		printk("%s: the heap refused (report above); nothing changed\n", cmd);
}

/* --- alloc, free, realloc ------------------------------------------------------ */

/*
 * No allocation of size can succeed when it exceeds every free frame plus
 * every free byte of the break. Asking anyway is not wrong, only slow: the
 * large path maps page after page until the frames run out and then gives
 * them all back, which takes many seconds of TCG on a big machine. So the
 * prompt answers NULL at once. Sizes above PTRDIFF_MAX still go to kmalloc,
 * whose own check answers them in O(1).
 */
static bool surely_too_big(const char *cmd, uint64_t size, uint64_t have)
{
	struct heap_stats st;
	kheap_stats(&st);
	uint64_t avail = (pmm_free_frames() << 12) + st.free_bytes + have;
	if (size > PTRDIFF_MAX || size <= avail)
		return false;
	printk("NULL (%s of %lu bytes not tried: only %lu KiB of frames and heap are free)\n", cmd, size, avail >> 10);
	return true;
}

void shell_cmd_alloc(int argc, char **argv)
{
	uint64_t size, count = 1;
	if (!shell_num(argv[0], "size", argv[1], &size))
		return;
	if (argc > 2 && !shell_num(argv[0], "count", argv[2], &count))
		return;
	if (count == 0 || count > ALLOC_COUNT_MAX) {
		printk("alloc: COUNT must be 1..%d\n", ALLOC_COUNT_MAX);
		return;
	}
	for (uint64_t i = 0; i < count; i++) {
		if (ntracked == TRACK_MAX) {
			printk("alloc: the prompt keeps track of at most %d blocks; free some first\n", TRACK_MAX);
			return;
		}
		if (surely_too_big("kmalloc", size, 0))
			return;
		void *p = kmalloc((size_t)size);
		if (!p) {
			printk("NULL (kmalloc(%lu) failed: out of memory, or too big)\n", size);
			return;
		}
		tracked[ntracked++] = (uintptr_t)p;
		printk("0x%lx (%lu bytes asked, %zu usable)\n", (unsigned long)p, size, kmalloc_usable_size(p));
	}
}

void shell_cmd_free(int argc, char **argv)
{
	(void)argc;
	uint64_t a;
	if (!shell_num(argv[0], "address", argv[1], &a))
		return;
	if (a == 0) {
		printk("free: kfree(NULL) does nothing\n");
		return;
	}
	if (kernel_owned(argv[0], a))
		return;
	uint64_t before = kheap_reports();
	long i = track_find(a);
	kfree((void *)a);
	if (i >= 0 && kheap_reports() == before) {
		untrack(i);
		printk("freed 0x%lx\n", a);
	}
	note_reports(argv[0], before);
}

void shell_cmd_realloc(int argc, char **argv)
{
	(void)argc;
	uint64_t a, size;
	if (!shell_num(argv[0], "address", argv[1], &a) || !shell_num(argv[0], "size", argv[2], &size))
		return;
	if (kernel_owned(argv[0], a))
		return;
	long i = a ? track_find(a) : -1;
	if (!a && ntracked == TRACK_MAX) {
		printk("realloc: the prompt keeps track of at most %d blocks; free some first\n", TRACK_MAX);
		return;
	}
	/* A live block of ours may grow in place by what it already has. */
	if ((i >= 0 || !a) && surely_too_big("krealloc", size, i >= 0 ? kmalloc_usable_size((void *)a) : 0))
		return;
	uint64_t before = kheap_reports();
	void *q = krealloc((void *)a, (size_t)size);
	if (!q) {
		if (kheap_reports() != before)
			printk("NULL (see the heap's report above)\n");
		else
			printk("NULL (out of memory, or too big%s)\n", a ? "; the old block is still allocated" : "");
		return;
	}
	if (i >= 0)
		tracked[i] = (uintptr_t)q;
	else if (ntracked < TRACK_MAX)
		tracked[ntracked++] = (uintptr_t)q;
	const char *how = !a ? "" : (uintptr_t)q == a ? ", in place" : ", moved";
	printk("0x%lx (%zu usable)%s\n", (unsigned long)q, kmalloc_usable_size(q), how);
}

/* --- heap ------------------------------------------------------------------------- */

/* Quarantined blocks (heap.debug=2) are freed memory the heap holds back: drawn as free. */
static const char *kind_word(int used)
{
	return used == HEAP_WALK_USED ? "used" : used == HEAP_WALK_LARGE ? "large" : "free";
}

static const char *kind_note(int used)
{
	return used == HEAP_WALK_QUARANTINED ? "  (in quarantine)" : "";
}

struct list { size_t shown, more; };

static void list_cb(void *ctx, void *ptr, size_t size, int used)
{
	struct list *l = ctx;
	if (l->shown == HEAP_LIST_SHORT) {
		l->more++;
		return;
	}
	l->shown++;
	printk("  0x%016lx %10zu  %-5s%s%s\n", (unsigned long)(uintptr_t)ptr, size, kind_word(used),
	       track_find((uintptr_t)ptr) >= 0 ? "  (from this prompt)" : "", kind_note(used));
}

void shell_cmd_heap(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct heap_stats st;
	kheap_stats(&st);
	printk("break: %zu bytes from 0x%lx to 0x%lx\n", st.brk_bytes, kbrk_base(), kbrk_current());
	printk("used blocks: %zu (%zu bytes with headers)\n", st.used_blocks, st.in_use_bytes);
	printk("free blocks: %zu (%zu bytes; largest %zu)\n", st.free_blocks, st.free_bytes, st.largest_free);
	printk("large blocks: %zu (%zu bytes mapped)\n", st.large_blocks, st.large_bytes);
	if (st.slabs)
		printk("slab runs: %zu (%u bytes each, among the used blocks), holding %zu objects (%zu bytes) "
		       "of up to %u bytes with no header\n",
		       st.slab_runs, HEAP_SLAB_RUN, st.slab_objects, st.slab_bytes, HEAP_SLAB_MAX);
	else if (kheap()->slab_auto_at != SIZE_MAX)
		printk("slabs: auto, off: %zu blocks of up to %u bytes in use, on at %zu\n",
		       st.small_blocks, HEAP_SMALL_BLOCK, kheap()->env.slab_after);
	printk("peak in use: %zu bytes; misuse reports so far: %lu\n", st.peak_in_use, kheap_reports());
	if (st.free_bytes)
		printk("fragmentation: %zu%% of free bytes are outside the largest free block\n",
		       100 - st.largest_free * 100 / st.free_bytes);
	printk("blocks (payload address, usable bytes, state)%s:\n",
	       kheap_debug() ? "; at heap.debug>=1 each block also holds a 48-byte record before the payload" : "");
	struct list l = { 0, 0 };
	heap_walk(kheap(), list_cb, &l);
	if (l.more)
		printk("  ... and %zu more (heapmap lists them all)\n", l.more);
}

/* --- heapmap -------------------------------------------------------------------- */

static void dump_cb(void *ctx, void *ptr, size_t size, int used)
{
	(void)ctx;
	printk("HEAP 0x%016lx %zu %s\n", (unsigned long)(uintptr_t)ptr, size, kind_word(used));
}

void shell_dump_heap(void)
{
	const struct heap *h = kheap();
	struct heap_stats st;
	kheap_stats(&st);
	printk("BEGIN HEAP base=0x%lx brk=0x%lx floor=0x%lx used=%zu free=%zu large=%zu\n", (unsigned long)h->base,
	       (unsigned long)h->brk, (unsigned long)h->floor_brk, st.used_blocks, st.free_blocks, st.large_blocks);
	heap_walk(kheap(), dump_cb, NULL);
	printk("END HEAP\n");
}

/* Bytes of each state in each character cell of the map. */
struct map {
	uintptr_t base;
	size_t per_cell, ncells;
	uint32_t used[MAP_CELLS], free[MAP_CELLS];
};
static struct map map;

static void map_cb(void *ctx, void *ptr, size_t size, int used)
{
	struct map *m = ctx;
	if (used == HEAP_WALK_LARGE)
		return;
	/* The whole block: its header word sits just below the payload. */
	uintptr_t s = (uintptr_t)ptr - HEAP_OVERHEAD, e = (uintptr_t)ptr + size;
	while (s < e) {
		size_t cell = (s - m->base) / m->per_cell;
		if (cell >= m->ncells)
			return;
		uintptr_t cell_end = m->base + (cell + 1) * m->per_cell;
		size_t n = (e < cell_end ? e : cell_end) - s;
		if (used == HEAP_WALK_FREE || used == HEAP_WALK_QUARANTINED)
			m->free[cell] += (uint32_t)n;
		else
			m->used[cell] += (uint32_t)n;
		s += n;
	}
}

static void print_map(void)
{
	const struct heap *h = kheap();
	size_t span = h->brk - h->base;
	map.base = h->base;
	map.per_cell = (span + MAP_CELLS - 1) / MAP_CELLS;
	map.per_cell = (map.per_cell + 15) & ~(size_t)15;
	if (map.per_cell < 16)
		map.per_cell = 16;
	map.ncells = (span + map.per_cell - 1) / map.per_cell;
	memset(map.used, 0, sizeof map.used);
	memset(map.free, 0, sizeof map.free);
	heap_walk(kheap(), map_cb, &map);
	printk("map of the break, %zu bytes a character: '#' used, '.' free, '+' both, ' ' pad/epilogue\n",
	       map.per_cell);
	for (size_t row = 0; row * MAP_COLS < map.ncells; row++) {
		char line[MAP_COLS + 1];
		size_t n = 0;
		for (size_t c = row * MAP_COLS; c < map.ncells && n < MAP_COLS; c++, n++)
			line[n] = map.used[c] && map.free[c] ? '+' : map.used[c] ? '#' : map.free[c] ? '.' : ' ';
		line[n] = 0;
		printk("  +0x%06zx %s\n", row * MAP_COLS * map.per_cell, line);
	}
}

static void all_cb(void *ctx, void *ptr, size_t size, int used)
{
	const struct heap *h = ctx;
	uintptr_t p = (uintptr_t)ptr;
	if (used == HEAP_WALK_LARGE)
		printk("  0x%016lx %-9s %10zu  large%s\n", (unsigned long)p, "", size,
		       track_find(p) >= 0 ? "  (from this prompt)" : "");
	else
		printk("  0x%016lx +0x%06lx %10zu  %-5s%s\n", (unsigned long)p, (unsigned long)(p - h->base), size,
		       kind_word(used), track_find(p) >= 0 ? "  (from this prompt)" : "");
}

void shell_cmd_heapmap(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "dump") != 0) {
			printk("heapmap: unknown argument \"%s\" (usage: heapmap [dump])\n", argv[1]);
			return;
		}
		shell_dump_heap();
		return;
	}
	printk("heap blocks in address order (payload, offset in the break, usable bytes, state):\n");
	heap_walk(kheap(), all_cb, kheap());
	print_map();
}
