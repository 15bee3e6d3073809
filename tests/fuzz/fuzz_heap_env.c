/*
 * tests/fuzz/fuzz_heap_env.c - fuzz_heap's environment: the heap_env callbacks over a
 * private mmap region, with caps and injected failures, and the trace that a
 * MISMATCH prints.
 *
 * The break lives in a PROT_NONE reservation that sbrk opens page by page (so
 * touching above the break faults); fresh break memory is filled with junk;
 * large runs are separate mappings with guard pages. The callbacks also check
 * the heap's side of the contract (page multiples, exact runs, report lines).
 */
#include "fuzz_heap.h"

struct fenv E;
int verbose;
unsigned op_index;

/* ----- failing loudly, with the recent operations ----- */

#define TRACE_LINES 48
static char trace_ring[TRACE_LINES][160];
static unsigned trace_n;

void trace(const char *fmt, ...)
{
	va_list ap;
	char *line = trace_ring[trace_n++ % TRACE_LINES];

	va_start(ap, fmt);
	vsnprintf(line, sizeof trace_ring[0], fmt, ap);
	va_end(ap);
	if (verbose)
		fprintf(stderr, "  %s\n", line);
}

void trace_reset(void)
{
	trace_n = 0;
}

void fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	const char *base = strrchr(file, '/');

	fprintf(stderr, "\nfuzz_heap: MISMATCH at op %u (%s:%d): ", op_index, base ? base + 1 : file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz_heap: the last operations, oldest first:\n");
	unsigned first = trace_n > TRACE_LINES ? trace_n - TRACE_LINES : 0;
	for (unsigned i = first; i < trace_n; i++)
		fprintf(stderr, "  %s\n", trace_ring[i % TRACE_LINES]);
	fflush(stderr);
	abort();
}

/* ----- the environment ----- */

void *f_sbrk(void *ctx, intptr_t delta)
{
	struct fenv *e = ctx;
	char *old = e->base + e->brk;

	ENSURE(ctx == &E, "sbrk: wrong ctx %p", ctx);
	if (delta == 0)
		return old;
	size_t mag = delta < 0 ? (size_t)0 - (size_t)delta : (size_t)delta;
	ENSURE(mag % e->hpage == 0, "sbrk(%ld): not a multiple of page_size %zu", (long)delta, e->hpage);
	if (delta > 0) {
		if (e->fail_sbrk) {
			e->fail_sbrk = false;
			trace("    env: sbrk(+%zu) refused (injected)", mag);
			return (void *)-1;
		}
		if (mag > e->cap - e->brk) {
			trace("    env: sbrk(+%zu) refused (cap %zu, brk %zu)", mag, e->cap, e->brk);
			return (void *)-1;
		}
		size_t nb = e->brk + mag, need = round_up(nb, e->hostpage);
		if (need > e->rw) {
			if (mprotect(e->base + e->rw, need - e->rw, PROT_READ | PROT_WRITE))
				FAIL("sbrk: mprotect failed");
			e->rw = need;
		}
		memset(old, JUNK, mag);
		e->brk = nb;
	} else {
		ENSURE(mag <= e->brk, "sbrk(%ld): below the base (brk %zu)", (long)delta, e->brk);
		if (e->refuse_shrink) {
			trace("    env: sbrk(-%zu) refused (stubborn break)", mag);
			return (void *)-1;
		}
		size_t nb = e->brk - mag, keep = round_up(nb, e->hostpage);
		memset(e->base + nb, JUNK, (keep < e->brk ? keep : e->brk) - nb);
		if (keep < e->rw) {
			madvise(e->base + keep, e->rw - keep, MADV_DONTNEED);
			if (mprotect(e->base + keep, e->rw - keep, PROT_NONE))
				FAIL("sbrk: mprotect failed");
			e->rw = keep;
		}
		e->brk = nb;
	}
	trace("    env: sbrk(%+ld) -> brk %zu", (long)delta, e->brk);
	return old;
}

void *f_map(void *ctx, size_t bytes)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "map_pages: wrong ctx %p", ctx);
	ENSURE(bytes && bytes % e->hpage == 0, "map_pages(%zu): not a multiple of page_size %zu", bytes,
	       e->hpage);
	if (e->fail_map) {
		e->fail_map = false;
		trace("    env: map_pages(%zu) refused (injected)", bytes);
		return NULL;
	}
	if (bytes > e->large_cap - e->mapped || e->nruns == MAXRUNS) {
		trace("    env: map_pages(%zu) refused (cap %zu, mapped %zu)", bytes, e->large_cap, e->mapped);
		return NULL;
	}
	size_t align = e->hpage > e->hostpage ? e->hpage : e->hostpage;
	size_t body = round_up(bytes, e->hostpage);
	size_t mbytes = body + 2 * e->hostpage + align;
	char *m = mmap(NULL, mbytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ENSURE(m != MAP_FAILED, "map_pages: host mmap of %zu failed", mbytes);
	char *p = (char *)round_up((uintptr_t)m + e->hostpage, align);
	if (mprotect(p, body, PROT_READ | PROT_WRITE))
		FAIL("map_pages: mprotect failed");
	e->runs[e->nruns++] = (struct frun){ p, bytes, m, mbytes };
	e->mapped += bytes;
	trace("    env: map_pages(%zu) -> %p", bytes, (void *)p);
	return p;
}

void f_unmap(void *ctx, void *p, size_t bytes)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "unmap_pages: wrong ctx %p", ctx);
	for (unsigned i = 0; i < e->nruns; i++) {
		if (e->runs[i].p != p)
			continue;
		ENSURE(e->runs[i].bytes == bytes, "unmap_pages(%p, %zu): it was mapped with %zu bytes", p, bytes,
		       e->runs[i].bytes);
		munmap(e->runs[i].m, e->runs[i].mbytes);
		e->mapped -= bytes;
		e->runs[i] = e->runs[--e->nruns];
		trace("    env: unmap_pages(%p, %zu)", p, bytes);
		return;
	}
	FAIL("unmap_pages(%p, %zu): not a run map_pages returned", p, bytes);
}

/*
 * remap_pages: a shrink keeps the run where it is (the tail made
 * inaccessible, as the kernel unmaps it); a growth is a new run, a copy and
 * the old run unmapped, so a stale pointer into it faults. Caps and the
 * injected map failure apply as to map_pages.
 */
void *f_remap(void *ctx, void *p, size_t old_bytes, size_t new_bytes)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "remap_pages: wrong ctx %p", ctx);
	ENSURE(new_bytes && new_bytes % e->hpage == 0, "remap_pages(%zu): not a multiple of page_size %zu",
	       new_bytes, e->hpage);
	unsigned i;
	for (i = 0; i < e->nruns && e->runs[i].p != p; i++)
		;
	ENSURE(i < e->nruns, "remap_pages(%p): not a run map_pages returned", p);
	ENSURE(e->runs[i].bytes == old_bytes, "remap_pages(%p, %zu): it was mapped with %zu bytes", p, old_bytes,
	       e->runs[i].bytes);
	if (new_bytes <= old_bytes) {
		size_t keep = round_up(new_bytes, e->hostpage), had = round_up(old_bytes, e->hostpage);
		if (had > keep && mprotect((char *)p + keep, had - keep, PROT_NONE))
			FAIL("remap_pages: mprotect failed");
		e->runs[i].bytes = new_bytes;
		e->mapped -= old_bytes - new_bytes;
		trace("    env: remap_pages(%p, %zu -> %zu) in place", p, old_bytes, new_bytes);
		return p;
	}
	char *q = f_map(ctx, new_bytes);
	if (!q)
		return NULL;
	memcpy(q, p, old_bytes);
	f_unmap(ctx, p, old_bytes);
	trace("    env: remap_pages(%p, %zu -> %zu) -> %p", p, old_bytes, new_bytes, (void *)q);
	return q;
}

void f_report(void *ctx, int kind, uintptr_t addr, const char *line)
{
	struct fenv *e = ctx;

	ENSURE(ctx == &E, "report: wrong ctx %p", ctx);
	ENSURE(line && line[0], "report: empty line");
	ENSURE(!strchr(line, '\n'), "report: line holds a newline: %s", line);
	e->reports++;
	e->last_kind = kind;
	e->last_addr = addr;
	snprintf(e->last_line, sizeof e->last_line, "%s", line);
	trace("    report %d: %s", kind, line);
}

void env_close(void)
{
	while (E.nruns) {
		E.nruns--;
		munmap(E.runs[E.nruns].m, E.runs[E.nruns].mbytes);
	}
	if (E.map)
		munmap(E.map, E.map_bytes);
	E.map = NULL;
}

bool in_brk(const void *p)
{
	return (const char *)p >= E.base && (const char *)p < E.base + E.brk;
}

/* The reservation: a guard page, the region (aligned for the heap's page), a guard page. */
void env_open(void)
{
	size_t align = E.hpage > E.hostpage ? E.hpage : E.hostpage;
	E.map_bytes = E.cap + 2 * E.hostpage + align + 64 * KiB;
	E.map = mmap(NULL, E.map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ENSURE(E.map != MAP_FAILED, "host mmap failed");
	E.base = (char *)round_up((uintptr_t)E.map + E.hostpage, align);
}
