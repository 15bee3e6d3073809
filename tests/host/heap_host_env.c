/*
 * tests/host/heap_host_env.c - the host environment of the heap tests (see
 * heap_host_env.h). #included once by each tests/host/test_heap*.c.
 */
#include "heap_host_env.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct tenv E;
struct heap H;
uint64_t seed, rng_state;
static bool E_open;

static void *t_sbrk(void *ctx, intptr_t delta)
{
	struct tenv *e = ctx;
	char *old = e->base + e->brk;

	if (delta == 0)
		return old;
	if ((size_t)(delta < 0 ? -delta : delta) % e->page) {
		e->env_errors++;
		return (void *)-1;
	}
	if (delta > 0) {
		if ((size_t)delta > e->cap - e->brk)
			return (void *)-1;
		if (mprotect(old, (size_t)delta, PROT_READ | PROT_WRITE))
			return (void *)-1;
	} else {
		size_t d = (size_t)-delta;
		if (e->refuse_shrink)
			return (void *)-1;
		if (d > e->brk) {
			e->env_errors++;
			return (void *)-1;
		}
		madvise(old - d, d, MADV_DONTNEED);
		mprotect(old - d, d, PROT_NONE);
	}
	e->brk += (size_t)delta;
	e->sbrk_calls++;
	return old;
}

static void *t_map(void *ctx, size_t bytes)
{
	struct tenv *e = ctx;

	e->map_calls++;
	if (bytes % e->page || !bytes) {
		e->env_errors++;
		return NULL;
	}
	if (bytes > e->large_cap - e->mapped_bytes || e->nruns == sizeof e->runs / sizeof e->runs[0])
		return NULL;
	char *m = mmap(NULL, bytes + 2 * e->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + e->page, bytes, PROT_READ | PROT_WRITE)) {
		munmap(m, bytes + 2 * e->page);
		return NULL;
	}
	e->runs[e->nruns++] = (struct run){ m + e->page, bytes };
	e->mapped_bytes += bytes;
	return m + e->page;
}

static void t_unmap(void *ctx, void *p, size_t bytes)
{
	struct tenv *e = ctx;

	e->unmap_calls++;
	for (size_t i = 0; i < e->nruns; i++) {
		if (e->runs[i].p == p) {
			if (e->runs[i].bytes != bytes)
				e->env_errors++;
			munmap((char *)p - e->page, e->runs[i].bytes + 2 * e->page);
			e->mapped_bytes -= e->runs[i].bytes;
			e->runs[i] = e->runs[--e->nruns];
			return;
		}
	}
	e->env_errors++;
}

/* A new guarded run, the old one's first bytes copied in, the old one unmapped. */
static void *t_remap(void *ctx, void *p, size_t old_bytes, size_t new_bytes)
{
	struct tenv *e = ctx;

	e->remap_calls++;
	bool known = false;
	for (size_t i = 0; i < e->nruns; i++)
		known |= e->runs[i].p == p && e->runs[i].bytes == old_bytes;
	if (!known || new_bytes % e->page || !new_bytes) {
		e->env_errors++;
		return NULL;
	}
	size_t calls = e->map_calls, unmaps = e->unmap_calls;
	void *q = t_map(ctx, new_bytes);
	e->map_calls = calls;           /* counted as a remap, not a map and an unmap */
	if (!q)
		return NULL;
	memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
	t_unmap(ctx, p, old_bytes);
	e->unmap_calls = unmaps;
	return q;
}

static void t_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	struct tenv *e = ctx;

	e->reports++;
	e->last_kind = kind;
	e->last_addr = addr;
	snprintf(e->last_line, sizeof e->last_line, "%s", line);
	if (e->log_len < sizeof e->log - 1) {
		int n = snprintf(e->log + e->log_len, sizeof e->log - e->log_len, "%s\n", line);
		e->log_len += (size_t)n < sizeof e->log - e->log_len ? (size_t)n : sizeof e->log - 1 - e->log_len;
	}
	printf("# report: %s\n", line);
}

/* Names what an address outside the heap is, as the kernel does for pmm pages. */
static void t_describe(void *ctx, uintptr_t addr, char *buf, size_t size)
{
	struct tenv *e = ctx;
	if (addr >= (uintptr_t)e->base + e->brk && addr < (uintptr_t)e->base + RESERVE)
		snprintf(buf, size, "above the break");
}

void env_close(void)
{
	if (!E_open)
		return;
	while (E.nruns) {
		E.nruns--;
		munmap((char *)E.runs[E.nruns].p - E.page, E.runs[E.nruns].bytes + 2 * E.page);
	}
	munmap(E.base, RESERVE);
	E_open = false;
}

struct heap_env env_for(void)
{
	return (struct heap_env){
		.sbrk = t_sbrk, .map_pages = t_map, .unmap_pages = t_unmap, .remap_pages = t_remap,
		.report = t_report,
		.ctx = &E, .page_size = E.page, .describe_addr = t_describe,
	};
}

void env_open(void)
{
	env_close();
	memset(&E, 0, sizeof E);
	E.page = (size_t)sysconf(_SC_PAGESIZE);
	E.base = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	REQUIRE(E.base != MAP_FAILED);
	E.cap = RESERVE;
	E.large_cap = GiB;
	E_open = true;
}

void setup_level(unsigned level)
{
	env_open();
	struct heap_env env = env_for();
	env.debug = level;
	REQUIRE(heap_init(&H, &env) == 0);
}

void setup(void) { setup_level(0); }

struct heap_stats stats(void)
{
	struct heap_stats s;
	heap_get_stats(&H, &s);
	return s;
}

bool stats_equal(struct heap_stats a, struct heap_stats b) { return memcmp(&a, &b, sizeof a) == 0; }

bool in_brk(const void *p) { return (const char *)p >= E.base && (const char *)p < E.base + E.brk; }

bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

void expect_empty(void)
{
	struct heap_stats s = stats();
	HEAP_CLEAN();
	CHECK_EQ_U(s.used_blocks, 0);
	CHECK_EQ_U(s.in_use_bytes, 0);
	CHECK_EQ_U(s.large_blocks, 0);
	CHECK_EQ_U(s.large_bytes, 0);
	CHECK_EQ_U(E.nruns, 0);
	CHECK_EQ_U(E.env_errors, 0);
	CHECK_EQ_U(s.brk_bytes, E.brk);
}

uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void seed_from(int argc, char **argv, const char *prog)
{
	const char *s = argc > 1 ? argv[1] : getenv("HEAP_SEED");
	seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("# %s: seed %llu (rerun with: %s %llu)\n", prog, (unsigned long long)seed, prog,
	       (unsigned long long)seed);
}

void fill(void *p, size_t n, unsigned seed8)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(seed8 + i * 31);
}

bool filled(const void *p, size_t n, unsigned seed8)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed8 + i * 31))
			return false;
	return true;
}

const char *hex(const void *p)
{
	static char buf[32];
	snprintf(buf, sizeof buf, "0x%lx", (unsigned long)(uintptr_t)p);
	return buf;
}

size_t cached_blocks(void)
{
	size_t n = 0;

	for (unsigned c = 0; c < HEAP_CACHE_CLASSES; c++)
		n += H.cache_count[c];
	return n;
}

void walk_count(void *ctx, void *ptr, size_t size, int used)
{
	size_t *c = ctx;
	(void)ptr;
	(void)size;
	c[used]++;
}

bool logged(const char *s) { return strstr(E.log, s) != NULL; }

void log_reset(void)
{
	E.log_len = 0;
	E.log[0] = '\0';
}
