/*
 * tools/bench/allocators.c - the allocators under test, and binding one of
 * them as this (child) process's malloc: memkern called directly, the others
 * found with dlsym and checked (dladdr) to really be the library we named,
 * so a missing or ignored LD_PRELOAD cannot pass as that allocator.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

const struct alloc_desc ALLOCS[] = {
	{ "memkern", NULL, NULL, 0, 0 },
#ifdef BENCH_HEAP_DEBUG
	{ "memkern-d1", NULL, NULL, 1, 0 },
	{ "memkern-d2", NULL, NULL, 2, 0 },
#endif
	{ "glibc", NULL, "libc6", 0, 0 },
	{ "jemalloc", "libjemalloc.so.2", "libjemalloc2", 0, 0 },
	{ "tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4", 0, 0 },
	{ "mimalloc", "libmimalloc.so.2", "libmimalloc2.0", 0, 0 },
	/*
	 * memkern is the default heap (heap.slabs=auto: slabs once it holds many
	 * small blocks); these two fix the choice: header-less slabs for requests
	 * up to 64 bytes from the start (heap.slabs=1), or never (heap.slabs=0).
	 */
	{ "memkern-slab", NULL, NULL, 0, MK_SLAB },
	{ "memkern-noslab", NULL, NULL, 0, MK_NOSLAB },
	/* An experiment for docs/performance.md, run only when named with --alloc. */
	{ "memkern-keep", NULL, NULL, 0, MK_KEEP },
};
const size_t NALLOCS = sizeof ALLOCS / sizeof ALLOCS[0];
_Static_assert(sizeof ALLOCS / sizeof ALLOCS[0] <= MAX_ALLOCS, "raise MAX_ALLOCS in bench.h");

const struct alloc_desc *find_alloc(const char *name)
{
	for (size_t i = 0; i < NALLOCS; i++)
		if (!strcmp(ALLOCS[i].name, name))
			return &ALLOCS[i];
	return NULL;
}

/* Full path of a shared library, or NULL. */
const char *lib_path(const char *lib)
{
	static const char *dirs[] = { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64",
				      "/usr/lib", "/usr/local/lib" };
	static char path[512];
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dirs[i], lib);
		if (access(path, R_OK) == 0)
			return path;
	}
	return NULL;
}

/* What a child running allocator a gets as LD_PRELOAD (NULL: nothing). */
const char *preload_for(const struct alloc_desc *a)
{
	return a->lib ? lib_path(a->lib) : NULL;
}

/* ----- the system allocators, as this process's malloc ----- */

static struct wl_ops sys_ops;

static uint64_t foot_glibc(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.arena + mi.hblkhd;
}

static int (*je_mallctl)(const char *, void *, size_t *, void *, size_t);
static uint64_t foot_jemalloc(void)
{
	uint64_t epoch = 1;
	size_t resident = 0, len = sizeof epoch;
	je_mallctl("epoch", &epoch, &len, &epoch, sizeof epoch);
	len = sizeof resident;
	if (je_mallctl("stats.resident", &resident, &len, NULL, 0))
		return 0;
	return resident;
}

static int (*tc_prop)(const char *, size_t *);
static uint64_t foot_tcmalloc(void)
{
	size_t heap = 0, unmapped = 0;
	tc_prop("generic.heap_size", &heap);
	tc_prop("tcmalloc.pageheap_unmapped_bytes", &unmapped);
	return heap - unmapped;
}

/* Sets up b for allocator a in this (child) process; returns an error text or NULL. */
const char *bind_allocator(const struct alloc_desc *a, struct binding *b)
{
	b->footprint = NULL;
	b->method = "none";
	if (!strncmp(a->name, "memkern", 7)) {
		sys_ops = mk_setup(a->debug, a->variant);
		b->ops = sys_ops;
		b->footprint = mk_footprint;
		b->method = "break + large runs";
		return NULL;
	}
	sys_ops.malloc = dlsym(RTLD_DEFAULT, "malloc");
	sys_ops.free = dlsym(RTLD_DEFAULT, "free");
	sys_ops.calloc = dlsym(RTLD_DEFAULT, "calloc");
	sys_ops.realloc = dlsym(RTLD_DEFAULT, "realloc");
	sys_ops.memalign = dlsym(RTLD_DEFAULT, "posix_memalign");
	if (!sys_ops.malloc || !sys_ops.free || !sys_ops.calloc || !sys_ops.realloc || !sys_ops.memalign)
		return "malloc family not found";
	b->ops = sys_ops;

	/* The preload must have taken: malloc has to live in the library we named. */
	Dl_info di;
	const char *want = a->lib ? a->lib : "libc.so";
	if (!dladdr((void *)sys_ops.malloc, &di) || !di.dli_fname || !strstr(di.dli_fname, want)) {
		static char msg[256];
		snprintf(msg, sizeof msg, "malloc resolves to %s, not %s", di.dli_fname ? di.dli_fname : "?", want);
		return msg;
	}
	if (!strcmp(a->name, "glibc")) {
		b->footprint = foot_glibc;
		b->method = "mallinfo2 arena + hblkhd";
	} else if (!strcmp(a->name, "jemalloc")) {
		je_mallctl = dlsym(RTLD_DEFAULT, "mallctl");
		if (!je_mallctl)
			je_mallctl = dlsym(RTLD_DEFAULT, "je_mallctl");
		if (je_mallctl) {
			b->footprint = foot_jemalloc;
			b->method = "mallctl stats.resident";
		}
	} else if (!strcmp(a->name, "tcmalloc")) {
		tc_prop = dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
		if (tc_prop) {
			b->footprint = foot_tcmalloc;
			b->method = "generic.heap_size - pageheap_unmapped_bytes";
		}
	} else if (!strcmp(a->name, "mimalloc")) {
		/*
		 * mi_process_info's commit counts whole segments, committed
		 * eagerly (32 MiB steps on Linux): not a footprint. Only rss then.
		 */
		b->method = "none";
	}
	return NULL;
}

/* For callgrind: every allocator call goes through one of these, and only they are counted. */
__attribute__((noinline)) void *bench_call_malloc(size_t n)
{
	void *p = sys_ops.malloc(n);
	__asm__ volatile("" ::: "memory");
	return p;
}
__attribute__((noinline)) void bench_call_free(void *p)
{
	sys_ops.free(p);
	__asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) void *bench_call_calloc(size_t n, size_t s)
{
	void *p = sys_ops.calloc(n, s);
	__asm__ volatile("" ::: "memory");
	return p;
}
__attribute__((noinline)) void *bench_call_realloc(void *p, size_t n)
{
	void *q = sys_ops.realloc(p, n);
	__asm__ volatile("" ::: "memory");
	return q;
}
__attribute__((noinline)) int bench_call_memalign(void **out, size_t a, size_t n)
{
	int r = sys_ops.memalign(out, a, n);
	__asm__ volatile("" ::: "memory");
	return r;
}
