/*
 * tools/bench/bench.c - the host benchmark: the memkern heap core
 * (alloc/heap.c) against glibc, jemalloc, tcmalloc and mimalloc, on the same
 * deterministic workloads (tools/bench/workloads.h), printed as one table.
 *
 *   bench [--quick] [--reps N] [--scale PERMILLE] [--alloc a,b,..] [--workload w,..]
 *         [--no-ir] [--traces DIR] [--out FILE]
 *   bench child ALLOC WORKLOAD MODE PERMILLE SEED [TRACE]    (what the driver runs)
 *   bench emit-c TRACE MAXOPS NAME                          (a trace as a C array)
 *
 * Every measurement runs in a child process of its own, with the allocator
 * under test as that process's malloc: nothing for glibc and memkern (memkern
 * is called directly), LD_PRELOAD of the library's .so for the others. Why
 * not dlopen all of them into one process: jemalloc and mimalloc use
 * initial-exec TLS and hook process-wide state (atfork handlers, their own
 * malloc zone), tcmalloc expects to be the malloc from the first call, and
 * one allocator that corrupts memory or crashes would take the others' runs
 * with it. A child per run costs a fork and an exec (about a millisecond),
 * starts every allocator from the same empty state, lets the parent report a
 * crash or a check failure as that allocator's result and go on, and lets
 * /proc/self report the peak resident set of exactly one allocator's run.
 * The child checks (dladdr) that malloc really resolves into the library
 * it was given, so a missing or ignored preload cannot pass as that allocator.
 *
 * For each workload the driver runs, per allocator: one WL_CHECK pass (every
 * byte of every block pattern-filled and verified, footprint sampled: the
 * memory overhead), then `reps` timed passes interleaved A B C A B C ... (the
 * median, min and max of ns per call), then one WL_LAT pass (rdtsc around
 * every call: p50, p99.9, p99.99 and max), then, unless --no-ir, one scaled
 * down pass under valgrind --tool=callgrind that counts instructions only
 * inside the bench_call_* wrappers (the allocator and its callees, plus the
 * wrapper's own few instructions).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../alloc/heap.h"

static inline uint64_t wl_tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

#include "workloads.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Anonymous memory the harness itself uses, touched now so it is in the baseline RSS. */
static void *harness_mem(size_t bytes)
{
	if (!bytes)
		bytes = 1;
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap %zu bytes: %s", bytes, strerror(errno));
	memset(m, 0, bytes);
	return m;
}

/* ======================================================================= */
/* The allocators                                                          */
/* ======================================================================= */

struct alloc_desc {
	const char *name;
	const char *lib;       /* LD_PRELOAD this .so (NULL: none) */
	const char *pkg;       /* the Debian package that has it */
	int debug;             /* memkern: heap debug level */
	int variant;           /* memkern: 0 as shipped, else an experiment (not in the default run) */
};

enum { MK_PLAIN, MK_KEEP, MK_FC };

static const struct alloc_desc ALLOCS[] = {
	{ "memkern", NULL, NULL, 0, 0 },
#ifdef BENCH_HEAP_DEBUG
	{ "memkern-d1", NULL, NULL, 1, 0 },
	{ "memkern-d2", NULL, NULL, 2, 0 },
#endif
	{ "glibc", NULL, "libc6", 0, 0 },
	{ "jemalloc", "libjemalloc.so.2", "libjemalloc2", 0, 0 },
	{ "tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4", 0, 0 },
	{ "mimalloc", "libmimalloc.so.2", "libmimalloc2.0", 0, 0 },
	/* Experiments for docs/performance.md, run only when named with --alloc. */
	{ "memkern-keep", NULL, NULL, 0, MK_KEEP },
	{ "memkern-fc", NULL, NULL, 0, MK_FC },
};
#define NALLOCS (sizeof ALLOCS / sizeof ALLOCS[0])

static const struct alloc_desc *find_alloc(const char *name)
{
	for (size_t i = 0; i < NALLOCS; i++)
		if (!strcmp(ALLOCS[i].name, name))
			return &ALLOCS[i];
	return NULL;
}

/* Full path of a shared library, or NULL. */
static const char *lib_path(const char *lib)
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

/* ----- memkern: the heap core over an mmap'd reservation, as the kernel binds it to kbrk ----- */

/*
 * The break lives in one big read-write MAP_NORESERVE reservation: growing it
 * only moves a pointer (pages fault in on first touch, as after brk(2)), and
 * shrinking it gives the pages back with MADV_DONTNEED, as glibc's trim
 * does. Large runs are plain mmap/munmap, as glibc's large chunks are (the
 * kernel adds guard pages; they cost address space, not memory).
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

/*
 * memkern-fc: a prototype of the front cache proposed in docs/performance.md,
 * built outside alloc/ over the public API so its effect can be measured
 * before anyone changes the core: freed blocks of up to FC_MAX bytes are kept
 * on a LIFO per 16-byte class (at most FC_DEPTH each) and handed out again
 * without touching the TLSF lists. Requests are rounded up to their class so
 * every block on a list fits every request of that class. The real thing
 * would live in heap.c, check the header with one tag compare instead of
 * heap_usable_size, mark cached blocks so a double free is still caught, and
 * flush the lists before the break grows and in heap_trim.
 */
#define FC_MAX 1024
#define FC_DEPTH 32
#define FC_CLASSES (FC_MAX / 16 + 1)
static struct { void *head[FC_CLASSES]; unsigned n[FC_CLASSES]; } fc;

static void *fc_malloc(size_t n)
{
	if (n <= FC_MAX - 8) {
		size_t c = (n + 8 + 15) >> 4;          /* block size / 16, header included */
		void *p = fc.head[c];
		if (p) {
			fc.head[c] = *(void **)p;
			fc.n[c]--;
			return p;
		}
		return heap_malloc(&mk_heap, (c << 4) - 8);
	}
	return heap_malloc(&mk_heap, n);
}

static void fc_free(void *p)
{
	if (!p)
		return;
	size_t u = heap_usable_size(&mk_heap, p);
	size_t c = (u + 8) >> 4;
	if (u && u <= FC_MAX - 8 && fc.n[c] < FC_DEPTH) {
		*(void **)p = fc.head[c];
		fc.head[c] = p;
		fc.n[c]++;
		return;
	}
	heap_free(&mk_heap, p);
}

static void *fc_calloc(size_t n, size_t s)
{
	if (s && n > SIZE_MAX / s)
		return NULL;
	void *p = fc_malloc(n * s);
	if (p)
		memset(p, 0, n * s);
	return p;
}

static void *fc_realloc(void *p, size_t n)
{
	if (!p)
		return fc_malloc(n);
	size_t u = heap_usable_size(&mk_heap, p);
	if (n <= u && n >= u / 2)
		return p;
	void *q = fc_malloc(n);
	if (q) {
		memcpy(q, p, u < n ? u : n);
		fc_free(p);
	}
	return q;
}

static void mk_setup(int debug, int variant)
{
	mk.base = mmap(NULL, MK_RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (mk.base == MAP_FAILED)
		die("memkern: cannot reserve %llu GiB", (unsigned long long)(MK_RESERVE / GiB));
	struct heap_env env = {
		.sbrk = mk_sbrk, .map_pages = mk_map, .unmap_pages = mk_unmap, .report = mk_report,
		.page_size = (size_t)sysconf(_SC_PAGESIZE),
	};
#ifdef BENCH_HEAP_DEBUG
	env.debug = (unsigned)debug;
#else
	(void)debug;
#endif
	if (variant == MK_KEEP)
		env.trim_threshold = 1ull << 40;     /* never trim: the footprint stays at its peak */
	if (heap_init(&mk_heap, &env))
		die("memkern: heap_init failed");
}

/* ----- the system allocators, as this process's malloc ----- */

static struct wl_ops sys_ops;

/* The allocator's own idea of the memory it holds from the OS (bytes), or 0 if unknown. */
static uint64_t (*own_footprint)(void);
static const char *own_method = "none";

static uint64_t foot_memkern(void) { return mk.foot; }

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

/* Sets up sys_ops for allocator a in this (child) process; returns an error text or NULL. */
static const char *bind_allocator(const struct alloc_desc *a)
{
	if (!strncmp(a->name, "memkern", 7)) {
		mk_setup(a->debug, a->variant);
		sys_ops = (struct wl_ops){ mk_malloc, mk_free, mk_calloc, mk_realloc, mk_memalign };
		if (a->variant == MK_FC)
			sys_ops = (struct wl_ops){ fc_malloc, fc_free, fc_calloc, fc_realloc, mk_memalign };
		own_footprint = foot_memkern;
		own_method = "break + large runs";
		return NULL;
	}
	sys_ops.malloc = dlsym(RTLD_DEFAULT, "malloc");
	sys_ops.free = dlsym(RTLD_DEFAULT, "free");
	sys_ops.calloc = dlsym(RTLD_DEFAULT, "calloc");
	sys_ops.realloc = dlsym(RTLD_DEFAULT, "realloc");
	sys_ops.memalign = dlsym(RTLD_DEFAULT, "posix_memalign");
	if (!sys_ops.malloc || !sys_ops.free || !sys_ops.calloc || !sys_ops.realloc || !sys_ops.memalign)
		return "malloc family not found";

	/* The preload must have taken: malloc has to live in the library we named. */
	Dl_info di;
	const char *want = a->lib ? a->lib : "libc.so";
	if (!dladdr((void *)sys_ops.malloc, &di) || !di.dli_fname || !strstr(di.dli_fname, want)) {
		static char msg[256];
		snprintf(msg, sizeof msg, "malloc resolves to %s, not %s", di.dli_fname ? di.dli_fname : "?", want);
		return msg;
	}
	if (!strcmp(a->name, "glibc")) {
		own_footprint = foot_glibc;
		own_method = "mallinfo2 arena + hblkhd";
	} else if (!strcmp(a->name, "jemalloc")) {
		je_mallctl = dlsym(RTLD_DEFAULT, "mallctl");
		if (!je_mallctl)
			je_mallctl = dlsym(RTLD_DEFAULT, "je_mallctl");
		if (je_mallctl) {
			own_footprint = foot_jemalloc;
			own_method = "mallctl stats.resident";
		}
	} else if (!strcmp(a->name, "tcmalloc")) {
		tc_prop = dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
		if (tc_prop) {
			own_footprint = foot_tcmalloc;
			own_method = "generic.heap_size - pageheap_unmapped_bytes";
		}
	} else if (!strcmp(a->name, "mimalloc")) {
		/*
		 * mi_process_info's commit counts whole segments, committed
		 * eagerly (32 MiB steps on Linux): not a footprint. Only rss then.
		 */
		own_method = "none";
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

/* ======================================================================= */
/* Workloads and their sizes                                               */
/* ======================================================================= */

struct trace {
	struct wl_op *ops;
	uint64_t nops, nids;
};

/* Parses a trace file (format in trace-record.c) into memory from harness_mem. */
static int load_trace(const char *path, struct trace *t, uint64_t max_ops)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	uint64_t lines = 0;
	int c;
	while ((c = getc(f)) != EOF)
		lines += c == '\n';
	rewind(f);
	if (max_ops && lines > max_ops)
		lines = max_ops;
	t->ops = harness_mem((lines + 1) * sizeof *t->ops);
	t->nops = t->nids = 0;
	char line[256];
	while (t->nops < lines && fgets(line, sizeof line, f)) {
		struct wl_op o = { 0 };
		unsigned long id = 0, a = 0, b = 0;
		int n;
		switch (line[0]) {
		case 'm': n = sscanf(line + 1, "%lu %lu", &id, &a); if (n != 2) goto bad; break;
		case 'r': n = sscanf(line + 1, "%lu %lu", &id, &a); if (n != 2) goto bad; break;
		case 'c': n = sscanf(line + 1, "%lu %lu %lu", &id, &a, &b); if (n != 3) goto bad; break;
		case 'a': n = sscanf(line + 1, "%lu %lu %lu", &id, &a, &b); if (n != 3) goto bad; break;
		case 'f': n = sscanf(line + 1, "%lu", &id); if (n != 1) goto bad; break;
		case '#': case '\n': continue;
		default: goto bad;
		}
		if (id > 10000000 || a > 1ul << 32 || b > 1ul << 32)
			goto bad;
		if (line[0] == 'a' && (a & (a - 1)))
			goto bad;
		o.kind = (uint32_t)line[0];
		o.id = (uint32_t)id;
		o.a = a;
		o.b = b;
		t->ops[t->nops++] = o;
		if (id + 1 > t->nids)
			t->nids = id + 1;
	}
	fclose(f);
	return 0;
bad:
	fprintf(stderr, "bench: %s: malformed line %llu: %s", path, (unsigned long long)t->nops + 1, line);
	fclose(f);
	return -1;
}

enum { W_PAIRS, W_CHURN, W_REALLOC, W_FRAG, W_ALIGNED, W_REPLAY };

struct workload {
	const char *name;
	int kind;
	const char *what;
};

static const struct workload WORKLOADS[] = {
	{ "pairs", W_PAIRS, "malloc+free at once, 16..256 B uniform" },
	{ "churn", W_CHURN, "10,000 live slots, free a random one and refill it, 8..4096 B log-uniform" },
	{ "realloc", W_REALLOC, "1,000 buffers doubling 16 B -> 64 KiB, round robin" },
	{ "frag", W_FRAG, "100k small (16..64 B), free every other, large (512..2048), free, mid (64..512)" },
	{ "aligned", W_ALIGNED, "posix_memalign, align 16..4096, size 8..4096, 1,000 live" },
};
#define NWORKLOADS (sizeof WORKLOADS / sizeof WORKLOADS[0])

/* Full-size parameters, scaled by permille (counts, not the live set, so the shape stays). */
struct params {
	uint64_t pairs, churn_live, churn_steps, rl_buf, rl_max, rl_rounds, frag_n, frag_rounds,
		al_live, al_steps, replay_ops;
};

static uint64_t scaled(uint64_t full, uint64_t permille, uint64_t min)
{
	uint64_t v = full * permille / 1000;
	return v < min ? min : v;
}

static struct params params_for(uint64_t permille)
{
	return (struct params){
		.pairs = scaled(10000000, permille, 1000),
		.churn_live = 10000,
		.churn_steps = scaled(5000000, permille, 20000),
		.rl_buf = 1000,
		.rl_max = 64 * KiB,
		.rl_rounds = scaled(20, permille, 1),
		.frag_n = 100000,
		.frag_rounds = scaled(20, permille, 1),
		.al_live = 1000,
		.al_steps = scaled(1000000, permille, 10000),
		.replay_ops = scaled(4000000, permille, 1),
	};
}

/* ======================================================================= */
/* The child: one allocator, one workload, one mode                        */
/* ======================================================================= */

static uint64_t own_base, own_peak;

static void sample(struct wl *w)
{
	(void)w;
	uint64_t f = own_footprint ? own_footprint() : 0;
	if (f > own_peak)
		own_peak = f;
}

/* VmRSS or VmHWM of this process in bytes. */
static uint64_t proc_status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t v = 0;
	size_t kl = strlen(key);
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 10);
	fclose(f);
	return v * 1024;
}

static void reset_hwm(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "5", 1) != 1) { /* older kernels: the peak then includes setup */ }
		close(fd);
	}
}

static uint64_t minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/* TSC ticks per second, against CLOCK_MONOTONIC over ~50 ms. */
static double tsc_hz(void)
{
	double t0 = now_ns();
	uint64_t c0 = wl_tsc();
	while (now_ns() - t0 < 50e6) {
	}
	double t1 = now_ns();
	uint64_t c1 = wl_tsc();
	return (double)(c1 - c0) / ((t1 - t0) / 1e9);
}

static int child_main(int argc, char **argv)
{
	if (argc < 7)
		die("usage: bench child ALLOC WORKLOAD MODE PERMILLE SEED [TRACE]");
	const struct alloc_desc *a = find_alloc(argv[2]);
	const char *wname = argv[3], *mode = argv[4];
	uint64_t permille = strtoull(argv[5], NULL, 10), seed = strtoull(argv[6], NULL, 10);
	const char *trace_path = argc > 7 ? argv[7] : NULL;
	if (!a)
		die("unknown allocator %s", argv[2]);

	/* A hung allocator must not hang the whole benchmark. */
	alarm(getenv("BENCH_CHILD_TIMEOUT") ? (unsigned)atoi(getenv("BENCH_CHILD_TIMEOUT")) : 600);

	/* Pin to the last CPU: no migrations in the middle of a timed run. */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &set);
	sched_setaffinity(0, sizeof set, &set);

	const char *err = bind_allocator(a);
	if (err) {
		printf("fail=%s\n", err);
		return 1;
	}

	struct wl w = { .seed = seed };
	if (!strcmp(mode, "time"))
		w.mode = WL_TIME;
	else if (!strcmp(mode, "check"))
		w.mode = WL_CHECK;
	else if (!strcmp(mode, "lat"))
		w.mode = WL_LAT;
	else if (!strcmp(mode, "ir"))
		w.mode = WL_TIME;
	else
		die("unknown mode %s", mode);
	if (!strcmp(mode, "ir"))
		w.ops = (struct wl_ops){ bench_call_malloc, bench_call_free, bench_call_calloc, bench_call_realloc,
					 bench_call_memalign };
	else
		w.ops = sys_ops;

	struct params P = params_for(permille);
	struct trace tr = { 0 };
	uint64_t nslots = 1;
	int kind = -1;
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (!strcmp(WORKLOADS[i].name, wname))
			kind = WORKLOADS[i].kind;
	if (!strncmp(wname, "replay", 6))
		kind = W_REPLAY;
	switch (kind) {
	case W_PAIRS: nslots = 1; break;
	case W_CHURN: nslots = P.churn_live; break;
	case W_REALLOC: nslots = P.rl_buf; break;
	case W_FRAG: nslots = P.frag_n * 7 / 4 + 8; break;
	case W_ALIGNED: nslots = P.al_live; break;
	case W_REPLAY:
		if (!trace_path || load_trace(trace_path, &tr, 0))
			die("replay needs a readable trace (got %s)", trace_path ? trace_path : "none");
		nslots = tr.nids;
		break;
	default: die("unknown workload %s", wname);
	}
	w.ring = harness_mem(WL_RING * sizeof *w.ring);
	w.slots = harness_mem(nslots * sizeof *w.slots);
	w.nslots = nslots;
	w.hist = harness_mem(WL_HIST_BUCKETS * sizeof *w.hist);
	double hz = w.mode == WL_LAT ? tsc_hz() : 0;
	uint64_t timer_cost = UINT64_MAX;
	if (w.mode == WL_LAT)
		for (int i = 0; i < 10000; i++) {
			uint64_t t0 = wl_tsc();
			uint64_t d = wl_tsc() - t0;
			if (d < timer_cost)
				timer_cost = d;
		}

	/* Warm up: the allocator's one-time setup is not the workload's footprint. */
	void *p = w.ops.malloc(64);
	w.ops.free(p);
	if (!w.ops.memalign(&p, 64, 64))
		w.ops.free(p);
	if (w.mode == WL_CHECK) {
		w.sample = sample;
		w.sample_every = w.until_sample = 1000;
	}
	own_base = own_footprint ? own_footprint() : 0;
	own_peak = own_base;
	if (!strncmp(a->name, "memkern", 7)) {
		own_base = 0;          /* the whole break counts, initial chunk included */
		mk.peak_foot = mk.foot;
	}
	fflush(NULL);
	reset_hwm();
	uint64_t rss0 = proc_status_kb("VmRSS"), flt0 = minflt();

	uint64_t rounds_replay = tr.nops ? (P.replay_ops + tr.nops - 1) / tr.nops : 1;
	double t0 = now_ns();
	switch (kind) {
	case W_PAIRS: wl_pairs(&w, P.pairs); break;
	case W_CHURN: wl_churn(&w, P.churn_live, P.churn_steps); break;
	case W_REALLOC: wl_realloc(&w, P.rl_buf, P.rl_max, P.rl_rounds); break;
	case W_FRAG: wl_frag(&w, P.frag_n, P.frag_rounds); break;
	case W_ALIGNED: wl_aligned(&w, P.al_live, P.al_steps); break;
	case W_REPLAY: wl_replay(&w, tr.ops, tr.nops, tr.nids, rounds_replay); break;
	}
	double t1 = now_ns();
	uint64_t flt = minflt() - flt0;
	uint64_t hwm = proc_status_kb("VmHWM");

	if (w.fail) {
		static const char *why[] = { "ok", "returned NULL", "misaligned", "corrupted a live block", "bad trace" };
		printf("fail=%s(size %llu", w.fail_op, (unsigned long long)w.fail_size);
		if (w.fail_align)
			printf(", align %llu", (unsigned long long)w.fail_align);
		printf(") %s %#lx at call %llu", why[w.fail], (unsigned long)w.fail_ptr,
		       (unsigned long long)w.fail_call);
		if (kind == W_REPLAY)
			printf(" (trace op %llu)", (unsigned long long)w.fail_step);
		printf("\n");
		return 1;
	}
	sample(&w);
	if (!strncmp(a->name, "memkern", 7)) {
		own_peak = mk.peak_foot;
		char why[200];
		if (heap_check(&mk_heap, why, sizeof why)) {
			printf("fail=heap_check: %s\n", why);
			return 1;
		}
	}

	printf("calls=%llu ns=%.0f peak_live=%llu minflt=%llu", (unsigned long long)w.calls, t1 - t0,
	       (unsigned long long)w.peak_live, (unsigned long long)flt);
	if (w.mode == WL_CHECK)
		printf(" own=%llu rss=%llu own_method=%s", (unsigned long long)(own_peak - own_base),
		       (unsigned long long)(hwm > rss0 ? hwm - rss0 : 0), own_method);
	if (w.mode == WL_LAT) {
		uint64_t q[4] = { 0 }, total = 0, seen = 0;
		static const double frac[4] = { 0.5, 0.99, 0.999, 0.9999 };
		for (unsigned b = 0; b < WL_HIST_BUCKETS; b++)
			total += w.hist[b];
		for (int k = 0; k < 4; k++) {
			uint64_t want = (uint64_t)(frac[k] * (double)total);
			seen = 0;
			for (unsigned b = 0; b < WL_HIST_BUCKETS; b++) {
				seen += w.hist[b];
				if (seen > want) {
					q[k] = wl_hist_floor(b);
					break;
				}
			}
		}
		printf(" tsc_hz=%.0f timer=%llu p50=%llu p99=%llu p999=%llu p9999=%llu max=%llu", hz,
		       (unsigned long long)timer_cost, (unsigned long long)q[0], (unsigned long long)q[1],
		       (unsigned long long)q[2], (unsigned long long)q[3], (unsigned long long)w.lat_max);
	}
	printf("\n");
	return 0;
}

/* ======================================================================= */
/* The driver                                                              */
/* ======================================================================= */

#define MAX_REPS 31
#define LAT_RUNS 3

struct result {
	int state;                 /* 0 not run, 1 ok, -1 failed, -2 unavailable */
	char why[256];
	double ns[MAX_REPS];       /* ns per call of each timed rep */
	int nns;
	double own_ovh, rss_ovh;
	uint64_t peak_live, own_bytes, rss_bytes;
	const char *own_method;
	double p50, p99, p999, p9999, lmax, lmax_max, timer;   /* ns */
	uint64_t lat_calls, lat_flt;
	double ir;                 /* instructions per call, 0 = not measured */
};

static char self_exe[4096];

/* Runs a child and captures its stdout (its stderr goes to ours). Returns its wait status. */
static int run_child(const char *const *argv, const char *preload, char *out, size_t outlen)
{
	int fds[2];
	if (pipe(fds))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return st;
}

static bool kv(const char *out, const char *key, double *v)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=", key);
	const char *s = strstr(out, pat);
	if (!s && !strncmp(out, pat + 1, strlen(pat + 1)))
		s = out - 1;
	if (!s)
		return false;
	*v = strtod(s + strlen(pat), NULL);
	return true;
}

static const char *kv_str(const char *out, const char *key, char *buf, size_t len)
{
	char pat[64];
	snprintf(pat, sizeof pat, "%s=", key);
	const char *s = strstr(out, pat);
	if (!s)
		return NULL;
	s += strlen(pat);
	size_t n = strcspn(s, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

struct opts {
	int reps;
	uint64_t permille, ir_permille;
	bool ir;
	const char *alloc_list, *workload_list, *traces_dir, *out;
	uint64_t seed;
};

struct job {
	const struct alloc_desc *a;
	const char *wname, *trace;
	struct result *r;
};

static const char *preload_for(const struct alloc_desc *a)
{
	return a->lib ? lib_path(a->lib) : NULL;
}

/* Runs one child in mode; on failure marks r failed. Returns the child's output or NULL. */
static const char *one_run(const struct opts *o, struct job *j, const char *mode, uint64_t permille)
{
	static char out[8192];
	char pm[32], seed[32];
	snprintf(pm, sizeof pm, "%llu", (unsigned long long)permille);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	const char *argv[] = { self_exe, "child", j->a->name, j->wname, mode, pm, seed, j->trace, NULL };
	int st = run_child(argv, preload_for(j->a), out, sizeof out);
	char buf[200];
	if (WIFSIGNALED(st)) {
		j->r->state = -1;
		snprintf(j->r->why, sizeof j->r->why, "%s run crashed: %s", mode, strsignal(WTERMSIG(st)));
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		j->r->state = -1;
		snprintf(j->r->why, sizeof j->r->why, "%s run: %s", mode,
			 kv_str(out, "fail", buf, sizeof buf) ? buf : "exited with an error");
		return NULL;
	}
	return out;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];
	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double vmin(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double vmax(const double *v, int n)
{
	double m = v[0];
	for (int i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* callgrind: instructions per allocator call, at ir_permille scale, two runs at a time. */
static void run_callgrind(const struct opts *o, struct job *jobs, int njobs)
{
	char pm[32], seed[32];
	snprintf(pm, sizeof pm, "%llu", (unsigned long long)o->ir_permille);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	char dir[] = "/tmp/memkern-bench-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	int parallel = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (parallel < 1)
		parallel = 1;
	struct running { pid_t pid; int job; int fd; char out[4096]; size_t len; } run[64];
	int nrun = 0, next = 0;
	if (parallel > 64)
		parallel = 64;
	while (next < njobs || nrun) {
		while (nrun < parallel && next < njobs) {
			struct job *j = &jobs[next];
			if (j->r->state != 1) {
				next++;
				continue;
			}
			char cgout[512];
			snprintf(cgout, sizeof cgout, "--callgrind-out-file=%s/cg.%d", dir, next);
			const char *argv[] = { "valgrind", "-q", "--tool=callgrind", cgout, "--collect-atstart=no",
					       "--toggle-collect=bench_call_*", self_exe, "child", j->a->name,
					       j->wname, "ir", pm, seed, j->trace, NULL };
			int fds[2];
			if (pipe(fds))
				die("pipe");
			fflush(NULL);
			pid_t pid = fork();
			if (pid == 0) {
				dup2(fds[1], 1);
				close(fds[0]);
				close(fds[1]);
				const char *pre = preload_for(j->a);
				if (pre)
					setenv("LD_PRELOAD", pre, 1);
				else
					unsetenv("LD_PRELOAD");
				setenv("BENCH_CHILD_TIMEOUT", "1800", 1);
				execvp("valgrind", (char *const *)argv);
				_exit(127);
			}
			close(fds[1]);
			run[nrun] = (struct running){ .pid = pid, .job = next, .fd = fds[0] };
			nrun++;
			next++;
		}
		if (!nrun)
			break;
		/* Wait for any one to finish, reading its output (small) first. */
		int st;
		pid_t done = wait(&st);
		for (int i = 0; i < nrun; i++) {
			if (run[i].pid != done)
				continue;
			ssize_t n;
			while ((n = read(run[i].fd, run[i].out + run[i].len, sizeof run[i].out - 1 - run[i].len)) > 0)
				run[i].len += (size_t)n;
			run[i].out[run[i].len] = 0;
			close(run[i].fd);
			struct job *j = &jobs[run[i].job];
			double calls = 0;
			char path[512], line[512];
			snprintf(path, sizeof path, "%s/cg.%d", dir, run[i].job);
			FILE *f = fopen(path, "r");
			double total = 0;
			if (f) {
				while (fgets(line, sizeof line, f))
					if (!strncmp(line, "totals:", 7) || (!total && !strncmp(line, "summary:", 8)))
						total = strtod(strchr(line, ':') + 1, NULL);
				fclose(f);
				unlink(path);
			}
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && kv(run[i].out, "calls", &calls) && calls > 0)
				j->r->ir = total / calls;
			else
				fprintf(stderr, "bench: callgrind run of %s/%s failed\n", j->a->name, j->wname);
			run[i] = run[--nrun];
			break;
		}
	}
	rmdir(dir);
}

static bool in_list(const char *list, const char *name)
{
	if (!list)
		return true;
	size_t n = strlen(name);
	for (const char *s = list; *s;) {
		size_t l = strcspn(s, ",");
		if (l == n && !strncmp(s, name, n))
			return true;
		s += l;
		if (*s)
			s++;
	}
	return false;
}

static FILE *outf;

static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (outf) {
		va_start(ap, fmt);
		vfprintf(outf, fmt, ap);
		va_end(ap);
	}
}

static void fmt_bytes(char *buf, size_t len, uint64_t b)
{
	if (b >= 10 * MiB)
		snprintf(buf, len, "%.1f MiB", (double)b / MiB);
	else
		snprintf(buf, len, "%.0f KiB", (double)b / KiB);
}

static int driver_main(int argc, char **argv)
{
	struct opts o = { .reps = 5, .permille = 1000, .ir_permille = 20, .ir = true, .seed = 42 };
	bool quick = getenv("BENCH_QUICK") && *getenv("BENCH_QUICK") && strcmp(getenv("BENCH_QUICK"), "0");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			quick = true;
		} else if (!strcmp(a, "--no-ir")) {
			o.ir = false;
		} else if (!strcmp(a, "--reps") && v) {
			o.reps = atoi(v), i++;
		} else if (!strcmp(a, "--scale") && v) {
			o.permille = strtoull(v, NULL, 10), i++;
		} else if (!strcmp(a, "--ir-scale") && v) {
			o.ir_permille = strtoull(v, NULL, 10), i++;
		} else if (!strcmp(a, "--alloc") && v) {
			o.alloc_list = v, i++;
		} else if (!strcmp(a, "--workload") && v) {
			o.workload_list = v, i++;
		} else if (!strcmp(a, "--traces") && v) {
			o.traces_dir = v, i++;
		} else if (!strcmp(a, "--out") && v) {
			o.out = v, i++;
		} else if (!strcmp(a, "--seed") && v) {
			o.seed = strtoull(v, NULL, 10), i++;
		} else {
			die("usage: bench [--quick] [--reps N] [--scale PERMILLE] [--ir-scale PERMILLE] "
			    "[--alloc a,b] [--workload w,x] [--traces DIR] [--no-ir] [--seed N] [--out FILE]");
		}
	}
	if (quick) {
		o.permille = o.permille == 1000 ? 50 : o.permille;
		o.ir_permille = 5;
	}
	if (o.reps < 1 || o.reps > MAX_REPS)
		die("--reps must be 1..%d", MAX_REPS);
	if (o.ir && system("valgrind --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "bench: valgrind not found: no instruction counts\n");
		o.ir = false;
	}
	if (o.out && !(outf = fopen(o.out, "w")))
		die("%s: %s", o.out, strerror(errno));

	/* The workload list: the synthetic ones, then one replay per trace. */
	struct { const char *name, *trace, *what; } wl[64];
	int nwl = 0;
	for (size_t i = 0; i < NWORKLOADS; i++)
		if (in_list(o.workload_list, WORKLOADS[i].name))
			wl[nwl++] = (typeof(wl[0])){ WORKLOADS[i].name, NULL, WORKLOADS[i].what };
	if (o.traces_dir) {
		DIR *d = opendir(o.traces_dir);
		struct dirent *de;
		char *names[32];
		int nn = 0;
		while (d && (de = readdir(d)) && nn < 32) {
			size_t l = strlen(de->d_name);
			if (l > 6 && !strcmp(de->d_name + l - 6, ".trace"))
				names[nn++] = strdup(de->d_name);
		}
		if (d)
			closedir(d);
		qsort(names, nn, sizeof *names, (int (*)(const void *, const void *))strcmp);
		for (int i = 0; i < nn && nwl < 64; i++) {
			char *name = malloc(64), *path = malloc(4096);
			snprintf(name, 64, "replay-%.*s", (int)(strlen(names[i]) - 6), names[i]);
			snprintf(path, 4096, "%s/%s", o.traces_dir, names[i]);
			if (!in_list(o.workload_list, name) && !in_list(o.workload_list, "replay"))
				continue;
			wl[nwl++] = (typeof(wl[0])){ name, path, "a recorded trace, replayed" };
		}
	}
	const struct alloc_desc *al[NALLOCS];
	int nal = 0;
	for (size_t i = 0; i < NALLOCS; i++)
		if (o.alloc_list ? in_list(o.alloc_list, ALLOCS[i].name) : !ALLOCS[i].variant)
			al[nal++] = &ALLOCS[i];
	if (!nwl || !nal)
		die("nothing to run");

	struct result *res = calloc((size_t)nwl * nal, sizeof *res);
	struct job *jobs = calloc((size_t)nwl * nal, sizeof *jobs);
	for (int w = 0; w < nwl; w++)
		for (int a = 0; a < nal; a++)
			jobs[w * nal + a] = (struct job){ al[a], wl[w].name, wl[w].trace, &res[w * nal + a] };

	fprintf(stderr, "bench: %d workloads x %d allocators, %d timed reps each, scale %llu/1000%s\n", nwl, nal,
		o.reps, (unsigned long long)o.permille, quick ? " (quick)" : "");
	uint64_t check_pm = o.permille / 5 ? o.permille / 5 : 1;
	for (int w = 0; w < nwl; w++) {
		fprintf(stderr, "bench: %-14s", wl[w].name);
		for (int a = 0; a < nal; a++) {
			struct job *j = &jobs[w * nal + a];
			if (j->a->lib && !lib_path(j->a->lib)) {
				j->r->state = -2;
				snprintf(j->r->why, sizeof j->r->why, "%s not found (Debian package %s)", j->a->lib,
					 j->a->pkg);
				continue;
			}
			j->r->state = 1;
			const char *out = one_run(&o, j, "check", check_pm);
			if (!out)
				continue;
			double v;
			kv(out, "peak_live", &v), j->r->peak_live = (uint64_t)v;
			kv(out, "own", &v), j->r->own_bytes = (uint64_t)v;
			kv(out, "rss", &v), j->r->rss_bytes = (uint64_t)v;
			char m[128];
			j->r->own_method = strdup(kv_str(out, "own_method", m, sizeof m) ? m : "?");
			/* Below 1 MiB live the ratio says more about page granularity than the allocator. */
			bool meaningful = j->r->peak_live >= MiB;
			j->r->own_ovh = meaningful && strcmp(j->r->own_method, "none") ?
					(double)j->r->own_bytes / j->r->peak_live : 0;
			j->r->rss_ovh = meaningful ? (double)j->r->rss_bytes / j->r->peak_live : 0;
		}
		fprintf(stderr, " checked;");
		for (int rep = 0; rep < o.reps; rep++) {
			for (int a = 0; a < nal; a++) {
				struct job *j = &jobs[w * nal + a];
				if (j->r->state != 1)
					continue;
				const char *out = one_run(&o, j, "time", o.permille);
				double calls, ns;
				if (out && kv(out, "calls", &calls) && kv(out, "ns", &ns) && calls > 0)
					j->r->ns[j->r->nns++] = ns / calls;
			}
			fprintf(stderr, " %d", rep + 1);
		}
		/* Latency: LAT_RUNS interleaved runs, the median of each figure (a one-off host hiccup
		 * in one run does not become the max). */
		double lat[NALLOCS][7][LAT_RUNS];
		int nlat[NALLOCS] = { 0 };
		for (int rep = 0; rep < LAT_RUNS; rep++) {
			for (int a = 0; a < nal; a++) {
				struct job *j = &jobs[w * nal + a];
				if (j->r->state != 1)
					continue;
				const char *out = one_run(&o, j, "lat", o.permille);
				double hz, v[7] = { 0 };
				if (!out || !kv(out, "tsc_hz", &hz) || hz <= 0)
					continue;
				static const char *keys[7] = { "p50", "p99", "p999", "p9999", "max", "timer", "minflt" };
				for (int k = 0; k < 7; k++) {
					kv(out, keys[k], &v[k]);
					lat[a][k][nlat[a]] = k < 6 ? v[k] * 1e9 / hz : v[k];
				}
				kv(out, "calls", &hz);
				j->r->lat_calls = (uint64_t)hz;
				nlat[a]++;
			}
		}
		for (int a = 0; a < nal; a++) {
			struct result *r = res + w * nal + a;
			if (!nlat[a])
				continue;
			r->p50 = median(lat[a][0], nlat[a]);
			r->p99 = median(lat[a][1], nlat[a]);
			r->p999 = median(lat[a][2], nlat[a]);
			r->p9999 = median(lat[a][3], nlat[a]);
			r->lmax = median(lat[a][4], nlat[a]);
			r->lmax_max = vmax(lat[a][4], nlat[a]);
			r->timer = median(lat[a][5], nlat[a]);
			r->lat_flt = (uint64_t)median(lat[a][6], nlat[a]);
		}
		fprintf(stderr, " latency;\n");
	}
	if (o.ir) {
		fprintf(stderr, "bench: callgrind (scale %llu/1000, %ld at a time)...\n",
			(unsigned long long)o.ir_permille, sysconf(_SC_NPROCESSORS_ONLN));
		run_callgrind(&o, jobs, nwl * nal);
	}

	/* ----- the table ----- */
	say("\n## Results\n\n");
	say("ns/call: median of %d interleaved runs [min .. max]; Ir/call: callgrind at %llu/1000 scale; "
	    "overhead: peak footprint / peak live requested bytes (own = the allocator's own count, "
	    "rss = peak RSS growth); latency: ns per call by rdtsc (timer cost included), median of %d runs; "
	    "faults: page faults in one latency run.\n",
	    o.reps, (unsigned long long)o.ir_permille, LAT_RUNS);
	for (int w = 0; w < nwl; w++) {
		say("\n### %s: %s\n\n", wl[w].name, wl[w].what);
		say("| allocator | ns/call | [min .. max] | Ir/call | overhead own | overhead rss | p50 | p99.9 | p99.99 | max | faults |\n");
		say("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		for (int a = 0; a < nal; a++) {
			struct result *r = &res[w * nal + a];
			if (r->state != 1 || !r->nns) {
				say("| %s | %s: %s | | | | | | | | | |\n", al[a]->name,
				    r->state == -2 ? "unavailable" : "**FAIL**", r->why[0] ? r->why : "no timed run");
				continue;
			}
			char ir[32] = "-";
			if (r->ir > 0)
				snprintf(ir, sizeof ir, "%.0f", r->ir);
			char peak[32];
			fmt_bytes(peak, sizeof peak, r->peak_live);
			char own[32] = "-", rss[32] = "-";
			if (r->own_ovh > 0)
				snprintf(own, sizeof own, "%.2f", r->own_ovh);
			if (r->rss_ovh > 0)
				snprintf(rss, sizeof rss, "%.2f", r->rss_ovh);
			say("| %s | %.1f | [%.1f .. %.1f] | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %llu |\n",
			    al[a]->name, median(r->ns, r->nns), vmin(r->ns, r->nns), vmax(r->ns, r->nns), ir, own,
			    rss, r->p50, r->p999, r->p9999, r->lmax, (unsigned long long)r->lat_flt);
		}
		/* peak live and the footprints, for the reader who wants the bytes */
		for (int a = 0; a < nal; a++) {
			struct result *r = &res[w * nal + a];
			if (r->state == 1 && r->peak_live && a == 0 && r->rss_ovh > 0) {
				char pl[32];
				fmt_bytes(pl, sizeof pl, r->peak_live);
				say("\npeak live %s;", pl);
			}
			if (r->state == 1 && r->rss_ovh > 0) {
				char ob[32], rb[32];
				if (r->own_ovh > 0)
					fmt_bytes(ob, sizeof ob, r->own_bytes);
				else
					snprintf(ob, sizeof ob, "-");
				fmt_bytes(rb, sizeof rb, r->rss_bytes);
				say(" %s %s own / %s rss;", al[a]->name, ob, rb);
			}
		}
		say("\n");
	}

	/* ----- the targets (issue 9) ----- */
	int mk = -1, gl = -1;
	for (int a = 0; a < nal; a++) {
		if (!strcmp(al[a]->name, "memkern"))
			mk = a;
		if (!strcmp(al[a]->name, "glibc"))
			gl = a;
	}
	if (mk >= 0) {
		say("\n## Targets\n\n");
		int met = 0, missed = 0;
		for (int w = 0; w < nwl; w++) {
			struct result *m = &res[w * nal + mk];
			bool speed = !strcmp(wl[w].name, "pairs") || !strcmp(wl[w].name, "churn") ||
				     !strcmp(wl[w].name, "realloc");
			if (speed && gl >= 0) {
				struct result *g = &res[w * nal + gl];
				if (m->nns && g->nns) {
					double x = median(m->ns, m->nns), y = median(g->ns, g->nns);
					bool ok = x <= y;
					ok ? met++ : missed++;
					say("- %s: memkern %.1f ns/call vs glibc %.1f: %s (never slower than glibc)\n",
					    wl[w].name, x, y, ok ? "met" : "**MISSED**");
				}
			}
			double lim = !strcmp(wl[w].name, "churn") ? 1.10 : !strcmp(wl[w].name, "frag") ? 1.20 : 0;
			if (lim > 0 && m->state == 1) {
				bool ok = m->own_ovh <= lim;
				ok ? met++ : missed++;
				say("- %s: memkern overhead %.2f (own), %.2f (rss) vs target <= %.2f: %s\n", wl[w].name,
				    m->own_ovh, m->rss_ovh, lim, ok ? "met" : "**MISSED**");
			}
			if (m->state == 1 && m->p50 > 0 && strncmp(wl[w].name, "realloc", 7))
				say("- %s: memkern latency p50 %.0f ns, p99.9 %.0f, p99.99 %.0f, max %.0f ns (worst run %.0f; "
				    "%llu page faults in %llu calls; timer cost %.0f ns included)\n",
				    wl[w].name, m->p50, m->p999, m->p9999, m->lmax, m->lmax_max,
				    (unsigned long long)m->lat_flt, (unsigned long long)m->lat_calls, m->timer);
		}
		say("\n%d targets met, %d missed\n", met, missed);
	}
	if (outf)
		fclose(outf);
	return 0;
}

/* ======================================================================= */
/* emit-c: the head of a trace as a C array, for the in-kernel bench        */
/* ======================================================================= */

static int emit_c_main(int argc, char **argv)
{
	if (argc < 5)
		die("usage: bench emit-c TRACE MAXOPS NAME");
	struct trace t;
	if (load_trace(argv[2], &t, strtoull(argv[3], NULL, 10)))
		die("%s: cannot load", argv[2]);
	const char *name = argv[4];
	printf("/* Generated by `bench emit-c %s %s %s` (tools/bench/bench.mk): do not edit. */\n", argv[2],
	       argv[3], name);
	printf("#define %s_NOPS %lluu\n#define %s_NIDS %lluu\n", name, (unsigned long long)t.nops, name,
	       (unsigned long long)t.nids);
	printf("static const struct wl_op %s[%llu] = {\n", name, (unsigned long long)t.nops);
	for (uint64_t i = 0; i < t.nops; i++)
		printf("{'%c',%u,%llu,%llu},%s", (char)t.ops[i].kind, t.ops[i].id, (unsigned long long)t.ops[i].a,
		       (unsigned long long)t.ops[i].b, i % 4 == 3 ? "\n" : "");
	printf("};\n");
	return 0;
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self_exe[n] = 0;
	if (argc > 1 && !strcmp(argv[1], "child"))
		return child_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "emit-c"))
		return emit_c_main(argc, argv);
	return driver_main(argc, argv);
}
