/*
 * tools/bench/memkern.c - the memkern heap core (alloc/heap.c) bound to this
 * process the way the kernel binds it to kbrk, for the `memkern*` rows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../alloc/heap.h"
#include "bench.h"

/*
 * The break lives in one big read-write MAP_NORESERVE reservation: growing it
 * only moves a pointer (pages fault in on first touch, as after brk(2)), and
 * shrinking it gives the pages back with MADV_DONTNEED, as glibc's trim
 * does. Large runs are plain mmap/munmap/mremap, as glibc's large chunks
 * are (the kernel adds guard pages; they cost address space, not memory,
 * and moves a run's page-table entries where mremap moves its pages).
 */
#define MK_RESERVE (16 * GiB)

static struct {
	char *base;
	size_t brk, large, foot, peak_foot;
} mk;
static struct heap mk_heap;

static void mk_note(void)
{
	mk.foot = mk.brk + mk.large;
	if (mk.foot > mk.peak_foot)
		mk.peak_foot = mk.foot;
}

static void *mk_sbrk(void *ctx, intptr_t delta)
{
	(void)ctx;
	char *old = mk.base + mk.brk;
	if (delta > 0 && (size_t)delta > MK_RESERVE - mk.brk)
		return (void *)-1;
	if (delta < 0) {
		if ((size_t)-delta > mk.brk)
			return (void *)-1;
		madvise(old + delta, (size_t)-delta, MADV_DONTNEED);
	}
	mk.brk += (size_t)delta;
	mk_note();
	return old;
}

static void *mk_map(void *ctx, size_t bytes)
{
	(void)ctx;
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	mk.large += bytes;
	mk_note();
	return m;
}

static void mk_unmap(void *ctx, void *p, size_t bytes)
{
	(void)ctx;
	munmap(p, bytes);
	mk.large -= bytes;
	mk_note();
}

/* Large reallocs move pages instead of copying them, as glibc's mremap of mmapped chunks does. */
static void *mk_remap(void *ctx, void *p, size_t old_bytes, size_t new_bytes)
{
	(void)ctx;
	void *m = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
	if (m == MAP_FAILED)
		return NULL;
	mk.large += new_bytes - old_bytes;
	mk_note();
	return m;
}

static void mk_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	(void)ctx, (void)kind, (void)addr;
	fprintf(stderr, "memkern report: %s\n", line);
	printf("fail=memkern_report:%d\n", kind);
	fflush(NULL);
	_exit(3);
}

static void *mk_malloc(size_t n) { return heap_malloc(&mk_heap, n); }
static void mk_free(void *p) { heap_free(&mk_heap, p); }
static void *mk_calloc(size_t n, size_t s) { return heap_calloc(&mk_heap, n, s); }
static void *mk_realloc(void *p, size_t n) { return heap_realloc(&mk_heap, p, n); }
static int mk_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = heap_memalign(&mk_heap, align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* Reserves the break, starts the heap at debug level `debug`, and returns the ops of `variant`. */
struct wl_ops mk_setup(int debug, int variant)
{
	mk.base = mmap(NULL, MK_RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (mk.base == MAP_FAILED)
		die("memkern: cannot reserve %llu GiB", (unsigned long long)(MK_RESERVE / GiB));
	struct heap_env env = {
		.sbrk = mk_sbrk, .map_pages = mk_map, .unmap_pages = mk_unmap, .remap_pages = mk_remap,
		.report = mk_report, .page_size = (size_t)sysconf(_SC_PAGESIZE),
	};
#ifdef BENCH_HEAP_DEBUG
	env.debug = (unsigned)debug;
#else
	(void)debug;
#endif
	if (variant == MK_KEEP)
		env.trim_threshold = 1ull << 40;     /* never trim: the footprint stays at its peak */
	env.slabs = variant == MK_SLAB ? HEAP_SLABS_ON : variant == MK_NOSLAB ? HEAP_SLABS_OFF : HEAP_SLABS_AUTO;
	if (heap_init(&mk_heap, &env))
		die("memkern: heap_init failed");
	return (struct wl_ops){ mk_malloc, mk_free, mk_calloc, mk_realloc, mk_memalign };
}

/* The break plus the large runs: what the heap holds from the "OS" now, and at its peak. */
uint64_t mk_footprint(void) { return mk.foot; }
uint64_t mk_peak_footprint(void) { return mk.peak_foot; }

/* Restarts the peak from now (after the warm-up; the whole break counts, initial chunk included). */
void mk_reset_peak(void) { mk.peak_foot = mk.foot; }

/* heap_check over the whole heap: 0 if consistent, else why says what is wrong. */
int mk_check(char *why, size_t len) { return heap_check(&mk_heap, why, len); }
